"""cache-route in a factory + blueprint app: the project's one Cache is reused (imported
into the view module) only when it provably serves the blueprint's app and caches;
otherwise a finding that says which condition fails."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flaskfix.codemods.engine.run import execute, plan

FACTORY = """
    from flask import Flask

    from shop.extensions import cache


    def create_app():
        app = Flask(__name__)
        app.config.from_mapping(CACHE_TYPE="SimpleCache")
        cache.init_app(app)

        from shop.views import bp

        app.register_blueprint(bp)
        return app
"""
EXTENSIONS = "from flask_caching import Cache\n\ncache = Cache()\n"
VIEWS = """
    from flask import Blueprint

    bp = Blueprint("shop", __name__)


    @bp.route("/report")
    def report():
        return {"total": compute_report()}


    def compute_report():
        return sum(range(10))
"""


def run(tmp_path: Path, changes: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    files = {"requirements.txt": "flask\nflask-caching\n", "shop/__init__.py": FACTORY,
             "shop/extensions.py": EXTENSIONS, "shop/views.py": VIEWS}
    files.update(changes or {})
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    (tmp_path / "pyproject.toml").write_text('[tool.flaskfix]\nselect = ["cache-route"]\n')
    results = {Path(r.path).relative_to(tmp_path).as_posix(): r for r in execute(plan([str(tmp_path)]), jobs=1, use_cache=False)}
    return results["shop/views.py"]


def test_the_projects_cache_is_imported_and_used(tmp_path: Path) -> None:
    r = run(tmp_path)
    assert r.error is None and r.findings == []
    assert "from .extensions import cache\n" in r.new_text and "@cache.cached(timeout=60" in r.new_text
    assert "the project's Cache `cache` from shop/extensions.py, CACHE_TYPE SimpleCache" in r.changes[0].message


def test_helpers_that_receive_the_factorys_app_count(tmp_path: Path) -> None:
    factory = """
        from flask import Flask
        from shop.extensions import cache
        from shop import views


        def create_app():
            app = Flask(__name__)
            app.config.from_mapping(CACHE_TYPE="SimpleCache")
            register_extensions(app)
            register_blueprints(app)
            return app


        def register_extensions(app):
            cache.init_app(app)


        def register_blueprints(app):
            app.register_blueprint(views.bp)
    """
    r = run(tmp_path, {"shop/__init__.py": factory})
    assert r.findings == [] and "from .extensions import cache" in r.new_text


@pytest.mark.parametrize(("change", "says"), [
    ({"shop/__init__.py": FACTORY.replace('CACHE_TYPE="SimpleCache"', 'CACHE_TYPE="NullCache"')},
     "would cache nothing: the project sets only NullCache, and Flask-Caching's default is NullCache"),
    ({"shop/__init__.py": FACTORY.replace('app.config.from_mapping(CACHE_TYPE="SimpleCache")', "pass")},
     "would cache nothing: the project sets no CACHE_TYPE in its code"),
    ({"shop/__init__.py": FACTORY.replace("        cache.init_app(app)\n", "")
      + "\n\n    def other_app():\n        app = Flask(__name__)\n        cache.init_app(app)\n        return app\n"},
     "cannot tell that the project's Cache `cache` (shop/extensions.py) is initialised on the app the blueprint `bp` is registered on"),
    ({"shop/extensions.py": EXTENSIONS + "other = Cache()\n"},
     "the project has several Cache instances (shop.extensions.cache, shop.extensions.other)"),
    ({"shop/extensions.py": "x = 1\n",
      "shop/__init__.py": FACTORY.replace("from shop.extensions import cache\n", "").replace("        cache.init_app(app)\n", "")},
     "the project has no Cache to reuse: create one in your extensions module"),
    ({"shop/extensions.py": EXTENSIONS + "from shop import views\n"},
     "shop/extensions.py imports shop/views.py: importing its Cache there would be a cycle"),
], ids=["null-cache", "no-cache-type", "initialised-on-another-app", "two-caches", "no-cache", "cycle"])
def test_refusals_say_which_condition_fails(tmp_path: Path, change: dict, says: str) -> None:
    r = run(tmp_path, change)
    assert not r.changed
    [finding] = r.findings
    assert says in finding.message, finding.message
