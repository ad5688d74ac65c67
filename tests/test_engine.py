"""Engine behaviour that no single codemod owns."""

from __future__ import annotations

import re
from pathlib import Path

import libcst as cst
import pytest

from flaskfix import codemods
from flaskfix.codemods.base import FlaskfixCodemod
from flaskfix.codemods.engine import Engine
from flaskfix.codemods.engine.config import Config
from flaskfix.codemods.engine.run import execute, plan
from tests.harness import run_codemod

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop"


def test_reported_lines_are_lines_of_the_file_on_disk() -> None:
    """Codemods run in sequence on one tree; what a later one reports is mapped back."""
    [result] = [r for r in execute(plan([str(EXAMPLE / "app.py")]), jobs=1, use_cache=False)]
    original = (EXAMPLE / "app.py").read_text().splitlines()
    by_codemod = {c.codemod for c in result.changes}
    assert by_codemod == set(codemods.ids()), by_codemod  # all five fire on the example
    # each site-level message quotes code in backticks; that code is on the reported line
    checked = 0
    for change in result.changes:
        quoted = re.findall(r"`([^`]+)`", change.message)
        code = next((q for q in quoted if any(ch in q for ch in "(/+=")), None)
        if code and change.codemod in ("error-handler", "redis-counter"):
            assert code.split("(")[0].strip() in original[change.line - 1], (change, original[change.line - 1])
            checked += 1
    assert checked >= 3


class _SilentRewrite(FlaskfixCodemod):
    """A broken codemod: rewrites without reporting a change."""

    ID = "silent-test"
    PREFILTER = ()

    def rewrite(self, tree: cst.Module) -> cst.Module:
        return tree.with_changes(body=[*tree.body, cst.parse_statement("x = 1\n")])


def test_an_unreported_rewrite_is_never_kept() -> None:
    engine = Engine([_SilentRewrite], Config(root=Path(".")))
    result = engine.process_text("y = 2\n", "m.py")
    assert not result.changed and result.error is None


def test_the_project_is_walked_once_when_the_root_is_the_path(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from flaskfix.codemods.engine.pipeline import project_files

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "views.py").write_text("y = 2\n")
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    (tmp_path / "ignored.py").write_text("z = 3\n")
    whole = plan([str(tmp_path)])
    assert whole.project_files == project_files(whole.config)
    assert sorted(Path(f).name for f in whole.project_files) == ["app.py", "views.py"]
    monkeypatch.chdir(tmp_path)
    assert plan(["."]).project_files == whole.project_files
    # a sub-folder or a file is only part of the project: the project is walked separately
    assert plan([str(tmp_path / "pkg")]).project_files is None
    assert plan([str(tmp_path / "app.py")]).project_files is None


@pytest.mark.parametrize(
    "before, after",
    [
        ("from flask import (\n    Flask,\n    request,\n)\n", "from flask import (\n    Flask,\n    request,\n    g,\n)\n"),
        ("from flask import (\n    Flask,\n)\n", "from flask import (\n    Flask,\n    g,\n)\n"),
        ("from flask import (\n    Flask,\n    request\n)\n", "from flask import (\n    Flask,\n    request,\n    g\n)\n"),
        ("from flask import (Flask,\n                   request)\n", "from flask import (Flask,\n                   request,\n                   g)\n"),
        ("from flask import Flask, request\n", "from flask import Flask, request, g\n"),
        ("from flask import Flask\n", "from flask import Flask, g\n"),
        ("from flask import (Flask, request,)\n", "from flask import (Flask, request, g,)\n"),
    ],
)
def test_a_name_added_to_an_import_keeps_its_layout(before: str, after: str) -> None:
    """Found on a real project: a parenthesised import got `g,` at column 0."""
    from flaskfix.codemods.base import extend_from_import

    new = extend_from_import(cst.parse_module(before), "flask", "g", None)
    assert new is not None and new.code == after


def test_project_template_folders_are_not_walked(tmp_path: Path) -> None:
    """Found on a real project: a cookiecutter template's .py files are Jinja, and each
    was reported as a syntax error (exit 2)."""
    from flaskfix.codemods.engine.discovery import discover

    (tmp_path / "{{cookiecutter.app_name}}").mkdir()
    (tmp_path / "{{cookiecutter.app_name}}" / "app.py").write_text("{% if x %}import os{% endif %}\n")
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "post_gen_project.py").write_text("x = 1\n")
    found = [Path(d.path).name for d in discover([str(tmp_path)], tmp_path, [])]
    assert found == ["post_gen_project.py"]
    # named explicitly, a file inside is still processed
    explicit = tmp_path / "{{cookiecutter.app_name}}" / "app.py"
    assert [Path(d.path).name for d in discover([str(explicit)], tmp_path, [])] == ["app.py"]


def test_small_projects_stay_in_one_process(tmp_path, monkeypatch) -> None:
    """Below POOL_MIN_FILES files no worker is started (each would import LibCST first)."""
    from concurrent import futures

    from flaskfix.codemods.engine import pipeline
    from flaskfix.codemods.engine.config import Config

    started: list[int] = []
    real = futures.ProcessPoolExecutor

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *a, **kw):  # type: ignore[no-untyped-def]
            started.append(1)
            super().__init__(*a, **kw)

    monkeypatch.setattr(futures, "ProcessPoolExecutor", Counting)
    files = []
    for i in range(pipeline.POOL_MIN_FILES + 1):
        (tmp_path / f"m{i}.py").write_text(f"x = {i}\n")
        files.append(str(tmp_path / f"m{i}.py"))
    engine = pipeline.Engine([], Config(root=tmp_path))
    monkeypatch.delenv("FLASKFIX_POOL_MIN_FILES", raising=False)
    assert len(list(engine._map(files[:-2], jobs=2))) == pipeline.POOL_MIN_FILES - 1 and started == []
    assert len(list(engine._map(files, jobs=2))) == pipeline.POOL_MIN_FILES + 1 and started == [1]


def test_a_finished_pooled_run_shuts_its_pool_down_normally(tmp_path, monkeypatch) -> None:
    """Found by CI: every run with a pool ended through the Ctrl-C path (shutdown without
    waiting), because run() left _map suspended after its last result; at interpreter exit
    concurrent.futures could then print "Bad file descriptor" from the manager thread."""
    import gc

    from flaskfix.codemods.engine import pipeline
    from flaskfix.codemods.engine.config import Config
    from flaskfix.codemods.engine.discovery import discover

    teardowns: list[int] = []
    real = pipeline._quiet_pool_teardown
    monkeypatch.setattr(pipeline, "_quiet_pool_teardown", lambda: (teardowns.append(1), real()))
    monkeypatch.setenv("FLASKFIX_POOL_MIN_FILES", "0")
    for i in range(5):
        (tmp_path / f"m{i}.py").write_text(f"x = {i}\n")
    files = discover([str(tmp_path)], tmp_path, [])
    results = list(pipeline.Engine([], Config(root=tmp_path)).run(files, jobs=2))
    gc.collect()
    assert len(results) == 5 and teardowns == []


PLANNED = '''\
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
db = SQLAlchemy(app)


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)


@app.route("/a")
def a():
    return [User.query.get(uid + 1) for uid in range(3)]
'''


def test_a_file_with_findings_only_is_never_parsed_by_libcst(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """bulk-query decides on stdlib ast (codemods/plan): its refusals need no LibCST tree."""
    from flaskfix.codemods.engine.pipeline import Engine

    parsed: list[str] = []
    real = Engine._libcst
    monkeypatch.setattr(Engine, "_libcst", staticmethod(lambda text, result: parsed.append(text) or real(text, result)))
    refused = run_codemod("bulk-query", PLANNED)
    assert [f.message for f in refused.findings] == [
        "the id `uid + 1` is an expression: flaskfix follows a name the loop binds (`for uid in ...`), `int()` of one, or a column of the loop's rows (`o.customer_id`); not rewritten"
    ]
    assert refused.new_text is None and parsed == []
    fixed = run_codemod("bulk-query", PLANNED.replace("uid + 1", "uid"))
    assert [c.line for c in fixed.changes] == [14] and len(parsed) == 1
    assert "user_by_id = {user.id: user for user in User.query.filter(User.id.in_(uids))}" in fixed.new_text


def test_an_edit_not_where_the_plan_says_leaves_the_file_unchanged(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A planner/edit mismatch is an internal error with nothing written, never a partial rewrite."""
    from dataclasses import replace as dc_replace

    from flaskfix.codemods.plan import bulk_query as planned

    real = planned.plan

    def shifted(inp):  # type: ignore[no-untyped-def]
        out = real(inp)
        out.edits = [dc_replace(e, span=dc_replace(e.span, line=e.span.line + 100)) for e in out.edits]
        return out

    monkeypatch.setattr(planned, "plan", shifted)
    result = run_codemod("bulk-query", PLANNED.replace("uid + 1", "uid"))
    assert result.new_text is None and result.changes == []
    assert result.error is not None and "planned edit not found" in result.error


def test_a_refused_view_is_never_parsed_by_libcst(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """cache-route decides on stdlib ast too: a refused candidate costs no LibCST parse,
    an accepted one does (to edit)."""
    from flaskfix.codemods.engine.pipeline import Engine

    parsed: list[str] = []
    real = Engine._libcst
    monkeypatch.setattr(Engine, "_libcst", staticmethod(lambda text, result: parsed.append(text) or real(text, result)))
    source = (
        "from flask import Flask, session\n\napp = Flask(__name__)\n\n\ndef compute_stats():\n    return 42\n\n\n"
        '@app.route("/stats")\ndef stats():\n    return {"n": compute_stats(), "user": session.get("u")}\n'
    )
    refused = run_codemod("cache-route", source)
    assert [f.message.split(";")[0] for f in refused.findings] == ["`stats()` not cached: per-user state: it reads `session`"]
    assert parsed == []
    fixed = run_codemod("cache-route", source.replace(', "user": session.get("u")', ""))
    assert len(parsed) == 1 and fixed.new_text is not None and "@cache.cached(" in fixed.new_text


def test_an_error_handler_finding_needs_no_libcst(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """error-handler decides on stdlib ast: a site it leaves alone costs no LibCST parse."""
    from flaskfix.codemods.engine.pipeline import Engine

    parsed: list[str] = []
    real = Engine._libcst
    monkeypatch.setattr(Engine, "_libcst", staticmethod(lambda text, result: parsed.append(text) or real(text, result)))
    source = (
        "from flask import Flask, request\n\napp = Flask(__name__)\n\n\n"
        '@app.route("/split")\ndef split():\n    n = int(request.args["n"]); return {"each": 100 // n}\n'
    )
    refused = run_codemod("error-handler", source)
    assert refused.findings and all("its line holds several statements" in f.message for f in refused.findings)
    assert parsed == [] and refused.new_text is None
    fixed = run_codemod("error-handler", source.replace('; return', '\n    return'))
    assert len(parsed) == 1 and fixed.new_text is not None and "class ClientInputError(BadRequest)" in fixed.new_text


def test_shared_prefilter_patterns_answer_as_each_codemod_does() -> None:
    """The engine searches a pattern several codemods share once per file; the answer is
    each codemod's own ``prefilter``, on every fixture input."""
    from flaskfix.codemods.engine.pipeline import _prefiltered

    every = list(codemods.all_codemods())
    for path in sorted((EXAMPLE.parents[1] / "tests" / "fixtures").glob("*/*/input.py")):
        text = path.read_text(encoding="utf-8")
        assert _prefiltered(every, text) == [c for c in every if c.prefilter(text)], path


def test_a_later_codemod_reads_the_index_for_a_function_an_earlier_one_moved(tmp_path: Path) -> None:
    """bulk-query adds lines above `orders()`; cache-route, planning on that text, still finds
    the index's facts of `orders()` (read before any rewrite, at other lines) and says which
    view may leave the cached answer stale. It used to lose that note."""
    models = (Path(__file__).parent / "fixtures" / "bulk-query" / "ids-from-rows" / "models.py").read_text()
    (tmp_path / "models.py").write_text(models)
    (tmp_path / "app.py").write_text(
        "from flask import Flask, jsonify, request\n\nfrom models import Customer, Order, db\n\n"
        "app = Flask(__name__)\n\n\n"
        '@app.route("/names")\ndef names():\n    out = []\n    for cid in request.args.getlist("id", type=int):\n'
        "        c = Customer.query.get(cid)\n        out.append(c.name if c else None)\n    return jsonify(out)\n\n\n"
        '@app.route("/orders")\ndef orders():\n    return jsonify([o.id for o in Order.query.all()])\n\n\n'
        '@app.route("/orders", methods=["POST"])\ndef add_order():\n    db.session.add(Order(paid=False))\n'
        '    db.session.commit()\n    return "", 201\n')
    results = [r for r in execute(plan([str(tmp_path)]), jobs=1, use_cache=False) if r.path.endswith("app.py")]
    changes = {c.codemod: c for c in results[0].changes if c.role == "site"}
    assert set(changes) == {"bulk-query", "cache-route"}
    assert changes["cache-route"].line == 18
    assert "after a request to `add_order()` (app.py:23), which uses `Order` and commits" in changes["cache-route"].message
