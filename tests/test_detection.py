"""The fast detection pass never changes a result: it only skips work.

Every fixture, and a corpus of real code from the Flask ecosystem (the installed flask,
werkzeug, Flask-SQLAlchemy, Flask-Caching packages and the bundled example), gives the
same output, changes and findings with detection on and off.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from flaskfix import codemods
from flaskfix.codemods.engine import Engine
from flaskfix.codemods.engine.config import Config
from flaskfix.codemods.project import Project
from tests.harness import all_cases, run_case

CASES = all_cases()


def outcome(result):
    return (result.new_text, result.changes, result.findings, result.error)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fixture_detected(case) -> None:
    assert outcome(run_case(case, detection=True)) == outcome(run_case(case, detection=False))


def _corpus() -> list[Path]:
    files = sorted((Path(__file__).resolve().parents[1] / "examples").rglob("*.py"))
    for package in ("flask", "werkzeug", "flask_sqlalchemy", "flask_caching"):
        spec = importlib.util.find_spec(package)
        if spec and spec.origin:
            files += sorted(Path(spec.origin).parent.rglob("*.py"))
    return files


def test_detection_agrees_with_the_codemods_on_a_corpus() -> None:
    files = _corpus()
    assert len(files) > 100
    root = files[0].parent
    fast = Engine(codemods.all_codemods(), Config(root=root), Project(root, ()))
    full = Engine(codemods.all_codemods(), Config(root=root), Project(root, ()))
    full.detection = False
    parsed_fast = parsed_full = 0
    for path in files:
        a, b = fast.process_path(str(path)), full.process_path(str(path))
        assert outcome(a) == outcome(b), path
        parsed_fast += not a.prefiltered_out
        parsed_full += not b.prefiltered_out
    # and it does skip work: most of these files are not Flask apps
    assert parsed_fast < parsed_full / 2, (parsed_fast, parsed_full)


def test_cache_route_follows_the_call_graph_before_libcst(tmp_path: Path) -> None:
    """cache-route's project-level detection: a view reaching an expensive call through a
    helper in another module (or a nested function, or a decorator) is kept; a file whose
    views reach nothing expensive is skipped, with the same outcome as the full codemod."""
    from flaskfix.codemods.engine.config import load_config
    from flaskfix.codemods.engine.pipeline import project_files

    files = {
        "pyproject.toml": "",
        "helpers.py": "def build():\n    return compute_totals()\n\ndef compute_totals():\n    return 1\n\ndef plain():\n    return 2\n",
        "views.py": "from flask import Flask\nfrom helpers import build\napp = Flask(__name__)\n\n\n"
                    "@app.route('/a')\ndef a():\n    return {'n': build()}\n",
        "nested.py": "from flask import Flask\napp = Flask(__name__)\n\n\n@app.route('/b')\ndef b():\n"
                     "    def inner():\n        return make_report()\n    return {'n': inner()}\n",
        "plain.py": "from flask import Flask\nfrom helpers import plain\napp = Flask(__name__)\n\n\n"
                    "@app.route('/c')\ndef c():\n    return {'n': plain()}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    cfg = load_config([str(tmp_path)], {c.ID: c.DEFAULT_CONFIG for c in codemods.all_codemods()})
    project_paths = project_files(cfg)
    fast = Engine([codemods.get("cache-route")], cfg, Project(cfg.root, project_paths))
    full = Engine([codemods.get("cache-route")], cfg, Project(cfg.root, project_paths))
    full.detection = False
    skipped = {}
    for name in ("views.py", "nested.py", "plain.py"):
        a, b = fast.process_path(str(tmp_path / name)), full.process_path(str(tmp_path / name))
        assert outcome(a) == outcome(b), name
        skipped[name] = a.prefiltered_out
    assert skipped == {"views.py": False, "nested.py": False, "plain.py": True}
