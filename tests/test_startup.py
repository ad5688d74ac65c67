"""Start-up stays cheap: a command that needs no rewrite loads neither LibCST, black, httpx,
rich nor pydantic, nor any codemod's module (the registry's catalog answers instead).

Not a timing test: it checks which modules a real run imported, which is what start-up
time is made of (0.5 s per run before; `python bench/startup.py` prints the times).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flaskfix import codemods

HEAVY = ("libcst", "black", "httpx", "rich", "pydantic")

PROBE = """
import json, sys
out = sys.argv.pop(1)
sys.argv[0] = "flaskfix"
try:
    from flaskfix.cli.main import main
    main()
except SystemExit:
    pass
finally:
    with open(out, "w") as fh:
        json.dump(sorted(sys.modules), fh)
"""


def loaded(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert out.exists(), proc.stderr
    return set(json.loads(out.read_text()))


def heavy(modules: set[str]) -> set[str]:
    mine = {f"flaskfix.codemods.{s._module}" for s in codemods.specs()}
    return {m for m in modules if m.split(".")[0] in HEAVY} | (modules & mine)


@pytest.mark.parametrize("args", [["list"], ["--version"], ["--help"], ["diff", "--help"], ["diff", "plain.py"],
                                  ["diff", "--no-cache", "plain.py"], ["diff", "--select", "nope"]])
def test_commands_without_a_rewrite_load_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    assert heavy(loaded(tmp_path, *args)) == set()


def test_a_file_with_a_candidate_loads_the_codemods_it_needs(tmp_path: Path) -> None:
    """The other side: the probe does see LibCST when a rewrite needs it."""
    (tmp_path / "app.py").write_text(
        "from flask import Flask\napp = Flask(__name__)\nhits = 0\n\n\n@app.route('/')\ndef index():\n"
        "    global hits\n    hits += 1\n    return str(hits)\n"
    )
    found = heavy(loaded(tmp_path, "diff", "--no-cache", "app.py"))
    assert "libcst" in found and "flaskfix.codemods.redis_counter" in found


def test_files_the_fast_passes_finish_load_no_codemod(tmp_path: Path) -> None:
    """A view module that passes every pre-filter but holds no candidate (what most files
    of a real app are): detection answers from ``detection.py``; neither LibCST (0.9 s to
    import) nor any codemod module is loaded."""
    (tmp_path / "views.py").write_text(
        "from flask import Flask, jsonify, request\napp = Flask(__name__)\nLIMITS = ('a', 1)\n\n\n"
        "@app.route('/half')\ndef half():\n    return jsonify(n=int('4') // 2, limits=LIMITS)\n"
    )
    from flaskfix.codemods.ast_facts import AstFacts
    import ast

    facts = AstFacts(ast.parse((tmp_path / "views.py").read_text()))
    text = (tmp_path / "views.py").read_text()
    assert [s.ID for s in codemods.specs() if s.prefilter(text) and s.detect(facts)]  # the fast passes are asked
    assert heavy(loaded(tmp_path, "diff", "--no-cache", "views.py")) == set()


def test_every_codemods_detection_is_the_registrys(tmp_path: Path) -> None:
    """The classes' detect/detect_in_project/settings are what the registry calls without
    loading them (one answer): every codemod is in detection.py's tables, delegates to
    them, and keeps the base class's settings."""
    from flaskfix.codemods import detection
    from flaskfix.codemods.base import FlaskfixCodemod

    for cls in codemods.all_codemods():
        assert cls.ID in detection.DETECT and cls.ID in detection.DETECT_IN_PROJECT, cls.ID
        assert cls.settings.__func__ is FlaskfixCodemod.settings.__func__, cls.ID  # type: ignore[attr-defined]
        own = cls.__dict__.get("detect_in_project")
        assert (own is None) == (detection.DETECT_IN_PROJECT[cls.ID] is detection._yes), cls.ID


def test_catalog_is_generated_from_the_classes() -> None:
    """catalog.py answers start-up's questions; it must say what the classes say."""
    from flaskfix.codemods import docs

    assert docs.CATALOG_PATH.read_text(encoding="utf-8") == docs.catalog_source(), (
        "codemods/catalog.py is out of date: run `python -m flaskfix.codemods.docs --catalog`"
    )
    for spec, cls in zip(codemods.specs(), codemods.all_codemods()):
        assert spec.load() is cls
        assert (spec.ID, spec.ORDER, spec.SUMMARY, spec.PREFILTER) == (cls.ID, cls.ORDER, cls.SUMMARY, cls.PREFILTER)


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_a_cached_rerun_loads_no_codemod(tmp_path: Path, fmt: str) -> None:
    """A re-run whose results all come from the cache never imports LibCST (it used to,
    through --format json's import of the codemod base class)."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(
        "from flask import Flask\napp = Flask(__name__)\nhits = 0\n\n\n@app.route('/')\ndef index():\n"
        "    global hits\n    hits += 1\n    return str(hits)\n"
    )
    assert "libcst" in heavy(loaded(tmp_path, "diff", "--format", fmt, "app.py"))  # the first run rewrites
    assert heavy(loaded(tmp_path, "diff", "--format", fmt, "app.py")) == set()
