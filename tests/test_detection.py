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
    files = {
        "helpers.py": "def build():\n    return compute_totals()\n\ndef compute_totals():\n    return 1\n\ndef plain():\n    return 2\n",
        "views.py": "from flask import Flask\nfrom helpers import build\napp = Flask(__name__)\n\n\n"
                    "@app.route('/a')\ndef a():\n    return {'n': build()}\n",
        "nested.py": "from flask import Flask\napp = Flask(__name__)\n\n\n@app.route('/b')\ndef b():\n"
                     "    def inner():\n        return make_report()\n    return {'n': inner()}\n",
        "plain.py": "from flask import Flask\nfrom helpers import plain\napp = Flask(__name__)\n\n\n"
                    "@app.route('/c')\ndef c():\n    return {'n': plain()}\n",
    }
    skipped = _skipped(tmp_path, "cache-route", files, ["views.py", "nested.py", "plain.py"])
    assert skipped == {"views.py": False, "nested.py": False, "plain.py": True}


def _skipped(tmp_path: Path, codemod_id: str, files: dict[str, str], names: list[str]) -> dict[str, bool]:
    """Which of ``names`` the fast pass skips; each with the outcome of the full codemod."""
    from flaskfix.codemods.engine.config import load_config
    from flaskfix.codemods.engine.pipeline import project_files

    for name, text in {"pyproject.toml": "", **files}.items():
        (tmp_path / name).write_text(text)
    cfg = load_config([str(tmp_path)], {c.ID: c.DEFAULT_CONFIG for c in codemods.all_codemods()})
    paths = project_files(cfg)
    fast = Engine([codemods.get(codemod_id)], cfg, Project(cfg.root, paths))
    full = Engine([codemods.get(codemod_id)], cfg, Project(cfg.root, paths))
    full.detection = False
    skipped = {}
    for name in names:
        a, b = fast.process_path(str(tmp_path / name)), full.process_path(str(tmp_path / name))
        assert outcome(a) == outcome(b), name
        skipped[name] = a.prefiltered_out
    return skipped


def test_cache_route_add_url_rule_modules_are_judged_by_their_functions(tmp_path: Path) -> None:
    """A module registering views with ``add_url_rule`` (or a MethodView) may make any of its
    functions a view: it is kept when one of them reaches something expensive, skipped when
    none does."""
    head = "from flask import Flask\nfrom flask.views import MethodView\napp = Flask(__name__)\n\n\n"
    files = {
        "rule.py": head + "def report():\n    return {'n': build_summary()}\n\n\napp.add_url_rule('/r', 'report', report)\n",
        "method.py": head + "class Report(MethodView):\n    def get(self):\n        return {'n': build_summary()}\n\n\n"
                     "app.add_url_rule('/m', view_func=Report.as_view('report'))\n",
        "cheap.py": head + "def ping():\n    return {'ok': True}\n\n\nclass Echo(MethodView):\n    def get(self):\n"
                    "        return {'n': 1}\n\n\napp.add_url_rule('/p', 'ping', ping)\n"
                    "app.add_url_rule('/e', view_func=Echo.as_view('echo'))\n",
    }
    assert _skipped(tmp_path, "cache-route", files, ["rule.py", "method.py", "cheap.py"]) == {
        "rule.py": False, "method.py": False, "cheap.py": True}


def test_error_handler_asks_the_origins_and_needs_libcst_only_to_edit(tmp_path: Path) -> None:
    """error-handler's planner asks the origins: an operation whose operand may come from
    the client (a divisor or an ``int()`` argument from the request or the URL, a subscript
    of the JSON body, through a helper's call sites) is fixed, a division by the literal 0
    is reported; a module dividing only by configuration or constants, or indexing only form
    data, gets nothing, and only the fixed modules are parsed with LibCST."""
    head = "from flask import Flask, request, current_app\napp = Flask(__name__)\n\n\n"
    files = {
        "client.py": head + "@app.route('/a')\ndef a():\n    return {'n': 100 / int(request.args['n'])}\n",
        "url.py": head + "@app.route('/b/<n>')\ndef b(n):\n    return {'n': 100 // int(n)}\n",
        "json.py": head + "@app.route('/c', methods=['POST'])\ndef c():\n    return {'n': request.get_json()['n']}\n",
        "helper.py": head + "def share(total, parts):\n    return total / parts\n\n\n"
                     "@app.route('/d')\ndef d():\n    return {'n': share(10, request.args.get('parts', type=int))}\n",
        "zero.py": head + "@app.route('/z')\ndef z():\n    return {'n': 1 / 0}\n",
        "server.py": head + "PAGE = 20\n\n\n@app.route('/s')\ndef s():\n"
                     "    per = current_app.config['PER_PAGE']\n    total = request.form['total']\n"
                     "    return {'pages': 100 // per, 'k': 1000 // PAGE, 'mb': 5 // (1024 * 1024), 'total': total}\n",
    }
    names = ["client.py", "url.py", "json.py", "helper.py", "zero.py", "server.py"]
    from flaskfix.codemods.engine.config import load_config
    from flaskfix.codemods.engine.pipeline import project_files

    for name, text in {"pyproject.toml": "", **files}.items():
        (tmp_path / name).write_text(text)
    cfg = load_config([str(tmp_path)], {c.ID: c.DEFAULT_CONFIG for c in codemods.all_codemods()})
    engine = Engine([codemods.get("error-handler")], cfg, Project(cfg.root, project_files(cfg)))
    results = {name: engine.process_path(str(tmp_path / name)) for name in names}
    assert {n: (r.changed, r.libcst_parsed, len(r.findings)) for n, r in results.items()} == {
        "client.py": (True, True, 0), "url.py": (True, True, 0), "json.py": (True, True, 0),
        "helper.py": (False, False, 1), "zero.py": (False, False, 1), "server.py": (False, False, 0)}
    assert "divides by the literal 0" in results["zero.py"].findings[0].message
