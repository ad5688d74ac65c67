"""cache-route, executed: real Flask apps with real Flask-Caching, before and after the rewrite.

Each test runs the codemod on a source at test time, executes both the original and the
rewritten module, and drives them with Flask's test client. The expensive function is
injected into the module's globals (it is not defined in the source, like the article's
``perform_expensive_calculation``), so the test can count how often the view really ran
without the codemod seeing the counter.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
import types
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.harness import run_codemod

_ids = itertools.count()
ROOT = Path(__file__).resolve().parents[2]


def load(text: str, inject: dict, tmp_path: Path) -> types.ModuleType:
    name = f"cache_route_case_{next(_ids)}"
    path = tmp_path / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    module = types.ModuleType(name)
    module.__file__ = str(path)
    module.__dict__.update(inject)
    sys.modules[name] = module
    try:
        exec(compile(text, str(path), "exec"), module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module


def rewrite(source: str, **siblings: str):
    result = run_codemod("cache-route", textwrap.dedent(source), siblings or None)
    assert result.error is None, result.error
    return result


class Counter:
    """Stands in for an expensive function; counts its calls."""

    def __init__(self, answers=None) -> None:
        self.calls = 0
        self.answers = answers

    def __call__(self, *args):
        self.calls += 1
        if self.answers is not None:
            return self.answers[self.calls - 1]
        return {"args": list(args), "call": self.calls}


ARTICLE = """
from flask import Flask

app = Flask(__name__)
cache = {}


@app.route("/expensive")
def expensive_operation():
    data = perform_expensive_calculation()
    return {"result": data}
"""


def test_three_identical_gets_run_the_expensive_function_once(tmp_path: Path) -> None:
    result = rewrite(ARTICLE)
    assert result.changed and "cached(timeout=60" in result.new_text
    before, after = Counter(), Counter()
    old = load(textwrap.dedent(ARTICLE), {"perform_expensive_calculation": before}, tmp_path)
    new = load(result.new_text, {"perform_expensive_calculation": after}, tmp_path)
    old_bodies = [old.app.test_client().get("/expensive").get_json() for _ in range(3)]
    new_bodies = [new.app.test_client().get("/expensive").get_json() for _ in range(3)]
    assert before.calls == 3
    assert after.calls == 1
    assert new_bodies == [new_bodies[0]] * 3 == [old_bodies[0]] * 3
    # the article's own dict named `cache` is untouched
    assert new.cache == {}


def test_different_query_strings_get_different_answers(tmp_path: Path) -> None:
    source = """
    from flask import Flask, request

    app = Flask(__name__)


    @app.route("/search")
    def search():
        return {"hits": compute_matches(request.args.get("q", ""))}
    """
    result = rewrite(source)
    assert "query_string=True" in result.new_text
    counter = Counter()
    client = load(result.new_text, {"compute_matches": counter}, tmp_path).app.test_client()
    a1 = client.get("/search?q=a").get_json()
    b = client.get("/search?q=b").get_json()
    a2 = client.get("/search?q=a").get_json()
    assert a1["hits"]["args"] == ["a"] and b["hits"]["args"] == ["b"]
    assert a1 == a2  # served from the cache
    assert counter.calls == 2


SESSION_SOURCE = """
from flask import Flask, session

app = Flask(__name__)
app.secret_key = "test"


@app.route("/login/<name>")
def login(name):
    session["user"] = name
    return "ok"


@app.route("/report")
def report():
    return {"report": compute_report(session["user"])}
"""


def _two_users(app: Flask) -> tuple[FlaskClient, FlaskClient]:
    alice, bob = app.test_client(), app.test_client()
    alice.get("/login/alice")
    bob.get("/login/bob")
    return alice, bob


def test_two_users_see_their_own_page_on_a_refused_route(tmp_path: Path) -> None:
    result = rewrite(SESSION_SOURCE)
    assert not result.changed
    assert [f.message for f in result.findings if "per-user state: it reads `session`" in f.message]
    counter = Counter()
    app = load(textwrap.dedent(SESSION_SOURCE), {"compute_report": counter}, tmp_path).app
    alice, bob = _two_users(app)
    for _ in range(2):
        assert alice.get("/report").get_json()["report"]["args"] == ["alice"]
        assert bob.get("/report").get_json()["report"]["args"] == ["bob"]
    assert counter.calls == 4  # stays uncached


def test_the_naive_rewrite_would_leak_between_users(tmp_path: Path) -> None:
    """Control for the test above: the scenario really catches a leaking cache."""
    naive = textwrap.dedent(SESSION_SOURCE).replace(
        "app.secret_key = \"test\"\n",
        "app.secret_key = \"test\"\ncache = Cache(app, config={\"CACHE_TYPE\": \"SimpleCache\"})\n",
    ).replace('@app.route("/report")\n', '@app.route("/report")\n@cache.cached(timeout=60)\n')
    naive = "from flask_caching import Cache\n" + naive
    app = load(naive, {"compute_report": Counter()}, tmp_path).app
    alice, bob = _two_users(app)
    alice.get("/report")
    assert bob.get("/report").get_json()["report"]["args"] == ["alice"]


@pytest.mark.parametrize(
    "failure",
    ['return {"error": "try again"}, 500', "abort(503)"],
    ids=["returned-500", "abort-503"],
)
def test_an_error_is_not_replayed(tmp_path: Path, failure: str) -> None:
    source = f"""
    from flask import Flask, abort

    app = Flask(__name__)


    @app.route("/report")
    def report():
        data = compute_report()
        if data is None:
            {failure}
        return {{"report": data}}
    """
    result = rewrite(source)
    assert "response_filter=" in result.new_text
    counter = Counter(answers=[None, "fresh", "never"])
    client = load(result.new_text, {"compute_report": counter}, tmp_path).app.test_client()
    first = client.get("/report")
    assert first.status_code in (500, 503)
    second = client.get("/report")
    third = client.get("/report")
    assert second.status_code == third.status_code == 200
    assert second.get_json() == third.get_json() == {"report": "fresh"}
    assert counter.calls == 2  # the error was recomputed, the success was cached


def test_head_and_get_share_one_entry(tmp_path: Path) -> None:
    result = rewrite(ARTICLE)
    counter = Counter()
    client = load(result.new_text, {"perform_expensive_calculation": counter}, tmp_path).app.test_client()
    head = client.head("/expensive")
    get = client.get("/expensive")
    assert head.status_code == get.status_code == 200
    assert head.data == b"" and get.get_json()["result"]["call"] == 1
    assert counter.calls == 1


def test_a_factory_app_works(tmp_path: Path) -> None:
    source = """
    from flask import Blueprint, Flask

    bp = Blueprint("main", __name__)


    @bp.route("/summary/<int:year>")
    def summary(year):
        return {"summary": summarise(year)}


    def create_app():
        app = Flask(__name__)
        app.register_blueprint(bp)

        @app.route("/report")
        def report():
            return {"report": compute_report()}

        return app
    """
    result = rewrite(source)
    assert "init_app(app)" in result.new_text and result.new_text.count(".cached(") == 2
    summarise, compute = Counter(), Counter()
    module = load(result.new_text, {"summarise": summarise, "compute_report": compute}, tmp_path)
    client = module.create_app().test_client()
    for _ in range(3):
        assert client.get("/report").status_code == 200
        assert client.get("/summary/2024").get_json()["summary"]["args"] == [2024]
    assert client.get("/summary/2025").get_json()["summary"]["args"] == [2025]
    assert compute.calls == 1
    assert summarise.calls == 2
    # a second app from the same factory gets its own cache
    assert module.create_app().test_client().get("/report").status_code == 200
    assert compute.calls == 2


FACTORY_WITH_SETTINGS = """
from flask import Flask


def create_app(settings=None):
    app = Flask(__name__)
    app.config.from_mapping(settings or {})

    @app.route("/report")
    def report():
        return {"report": compute_report()}

    return app
"""


@pytest.mark.parametrize(
    ("settings", "runs"),
    [(None, 1), ({"CACHE_TYPE": "NullCache"}, 3), ({"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 1}, 1)],
    ids=["no-setting-caches", "project-nullcache-kept", "project-simplecache"],
)
def test_the_projects_cache_settings_win(tmp_path: Path, settings: dict | None, runs: int) -> None:
    """The generated cache sets CACHE_TYPE only as a default: a project that configures
    NullCache (as test settings often do) keeps it, and the view runs on every request.
    (A generated `Cache(config={"CACHE_TYPE": "SimpleCache"})` would override it: Flask-
    Caching lays constructor config over app.config.)"""
    result = rewrite(FACTORY_WITH_SETTINGS)
    assert 'app.config.setdefault("CACHE_TYPE", "SimpleCache")' in result.new_text
    assert "config=" not in result.new_text
    compute = Counter()
    module = load(result.new_text, {"compute_report": compute}, tmp_path)
    client = module.create_app(settings).test_client()
    for _ in range(3):
        assert client.get("/report").status_code == 200
    assert compute.calls == runs


def test_a_method_view_is_cached_through_decorators(tmp_path: Path) -> None:
    source = """
    from flask import Flask
    from flask.views import MethodView

    app = Flask(__name__)


    class ReportView(MethodView):
        def get(self):
            return {"report": generate_report()}


    app.add_url_rule("/report", view_func=ReportView.as_view("report"))
    """
    result = rewrite(source)
    assert "decorators = [" in result.new_text
    counter = Counter()
    client = load(result.new_text, {"generate_report": counter}, tmp_path).app.test_client()
    bodies = [client.get("/report").get_json() for _ in range(3)]
    assert bodies == [bodies[0]] * 3 and counter.calls == 1
    assert client.post("/report").status_code == 405


def test_the_bundled_example_caches_its_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = ROOT / "examples" / "shop"
    source = (shop / "app.py").read_text(encoding="utf-8")
    models = (shop / "models.py").read_text(encoding="utf-8")
    result = run_codemod("cache-route", source, {"models.py": models})
    assert result.error is None and result.changed
    assert any("sales_report()" in c.message for c in result.changes)
    monkeypatch.syspath_prepend(str(shop))
    monkeypatch.delitem(sys.modules, "models", raising=False)
    counts = []
    for text in (source, result.new_text):
        module = load(text, {}, tmp_path)
        original = module.summarise_sales
        counter = Counter()

        def counted(original=original, counter=counter):
            counter()
            return original()

        module.summarise_sales = counted
        client = module.app.test_client()
        bodies = [client.get("/report").get_json() for _ in range(3)]
        assert bodies == [{"total": sum(range(10_000))}] * 3
        counts.append(counter.calls)
    assert counts == [3, 1]


# -- templates judged with Jinja's parser (tests/fixtures/projects/cache-route-templates) ------


def _load_shop(root: Path):  # type: ignore[no-untyped-def]
    """The fixture's `shop` app from ``root`` (a fresh import), with a counting compute_rows."""
    import importlib

    from tests.behaviour.shop import fresh_package

    with fresh_package(root, "shop") as shop:
        views = importlib.import_module("shop.views")
        app = shop.create_app({"CACHE_TYPE": "SimpleCache", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    counter = Counter(answers=[[{"name": f"item {i}", "cents": i * 150 + n} for i in range(3)] for n in range(10)])
    views.compute_rows = counter
    return app, counter


def test_a_view_whose_templates_read_nothing_per_user_is_cached_and_renders_the_same(tmp_path: Path) -> None:
    """report.html extends base.html (a context processor's shop_name from config),
    imports a macro and uses the project's `money` filter: nothing per-user, so the view
    is cached. The first page is byte-identical before and after; after, a second GET is
    answered from the cache (compute_rows ran once), where before it ran again."""
    import shutil

    from flaskfix.codemods.engine.run import execute, plan

    fixture = ROOT / "tests" / "fixtures" / "projects" / "cache-route-templates" / "before"
    before, after = tmp_path / "before", tmp_path / "after"
    shutil.copytree(fixture, before)
    shutil.copytree(fixture, after)
    results = [r for r in execute(plan([str(after)]), jobs=1, use_cache=False) if r.changed]
    assert [Path(r.path).name for r in results] == ["views.py"]
    Path(results[0].path).write_text(results[0].new_text or "", encoding="utf-8")

    app_b, count_b = _load_shop(before)
    app_a, count_a = _load_shop(after)
    client_b, client_a = app_b.test_client(), app_a.test_client()
    first_b, first_a = client_b.get("/report"), client_a.get("/report")
    assert first_b.status_code == first_a.status_code == 200
    assert first_b.get_data() == first_a.get_data()
    assert b"item 1: 1.50" in first_b.get_data() and b"<title>Shop</title>" in first_b.get_data()
    second_b, second_a = client_b.get("/report"), client_a.get("/report")
    assert second_b.get_data() != first_b.get_data()  # before: recomputed (the counter's next answer)
    assert second_a.get_data() == first_a.get_data()  # after: the cached page
    assert (count_b.calls, count_a.calls) == (2, 1)
    # the refused views still run every time after the rewrite
    client_a.get("/greeting")
    client_a.get("/greeting")
    assert count_a.calls == 3
