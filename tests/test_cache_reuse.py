"""cache-route in a factory + blueprint app: the project's one Cache is reused (imported
into the view module) only when it provably serves the blueprint's app and caches; with no
Cache at all, one is created in the extensions module (else the factory's) and initialised
in the factory; otherwise a finding that says which condition fails."""

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


def run(tmp_path: Path, changes: dict[str, str] | None = None, select: str = '"cache-route"'):  # type: ignore[no-untyped-def]
    files = {"requirements.txt": "flask\nflask-caching\n", "shop/__init__.py": FACTORY,
             "shop/extensions.py": EXTENSIONS, "shop/views.py": VIEWS}
    files.update(changes or {})
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    (tmp_path / "pyproject.toml").write_text(f'[tool.flaskfix]\nselect = [{select}]\n')
    return run_all(tmp_path)["shop/views.py"]


def run_all(tmp_path: Path):  # type: ignore[no-untyped-def]
    out = {}
    for r in execute(plan([str(tmp_path)]), jobs=1, use_cache=False):
        out[Path(r.path).resolve().relative_to(tmp_path.resolve()).as_posix() + ("+" if r.supports is not None else "")] = r
    return out


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
    ({"shop/extensions.py": EXTENSIONS + "from shop import views\n"},
     "shop/extensions.py imports shop/views.py: importing its Cache there would be a cycle"),
], ids=["null-cache", "no-cache-type", "initialised-on-another-app", "two-caches", "cycle"])
def test_refusals_say_which_condition_fails(tmp_path: Path, change: dict, says: str) -> None:
    r = run(tmp_path, change)
    assert not r.changed
    [finding] = r.findings
    assert says in finding.message, finding.message


NO_CACHE_FACTORY = FACTORY.replace("from shop.extensions import cache\n", "from shop.extensions import db\n").replace(
    "        cache.init_app(app)\n", "        db.init_app(app)\n")
SQLA = "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n"


def test_no_cache_anywhere_one_is_created_in_the_extensions_module(tmp_path: Path) -> None:
    r = run(tmp_path, {"shop/__init__.py": NO_CACHE_FACTORY, "shop/extensions.py": SQLA})
    assert r.findings == [] and "from .extensions import cache\n" in r.new_text
    assert sorted(s.kind for s in r.code_supports) == ["cache-define", "cache-init"]
    every = run_all(tmp_path)
    ext, factory = every["shop/extensions.py+"], every["shop/__init__.py+"]
    # the added import sorted among the module's own (they were sorted): isort order
    assert ext.new_text == "from flask_caching import Cache\nfrom flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\ncache = Cache()\n"
    assert ext.supports == factory.supports == [r.path]
    assert "from shop.extensions import cache, db\n" in factory.new_text  # merged into its import, sorted
    assert '    app.config.setdefault("CACHE_TYPE", "SimpleCache")\n    cache.init_app(app)\n    return app\n' in factory.new_text


def test_no_extensions_module_the_cache_goes_in_the_factorys_module(tmp_path: Path) -> None:
    factory = NO_CACHE_FACTORY.replace("from shop.extensions import db\n", "").replace("        db.init_app(app)\n", "")
    r = run(tmp_path, {"shop/__init__.py": factory, "shop/extensions.py": "x = 1\n"})
    assert r.findings == [] and "from . import cache\n" in r.new_text
    made = run_all(tmp_path)["shop/__init__.py+"].new_text
    assert "from flask_caching import Cache\n" in made and "\ncache = Cache()\n" in made and "cache.init_app(app)" in made


def test_a_module_this_run_rewrites_is_not_edited_again(tmp_path: Path) -> None:
    """The factory's module has a rewrite of its own (a global used as request scratch):
    the Cache is not created there in the same run; the view is left alone and says why."""
    factory = NO_CACHE_FACTORY.replace("from flask import Flask", "from flask import Blueprint, Flask") + (
        "\n\n    admin = Blueprint('admin', __name__)\n    scratch = {}\n\n\n    @admin.route('/r/<k>')\n"
        "    def remember(k):\n        scratch['k'] = k\n        return scratch['k']\n")
    r = run(tmp_path, {"shop/__init__.py": factory, "shop/extensions.py": SQLA}, select='"cache-route", "global-to-g"')
    every = run_all(tmp_path)
    assert every["shop/__init__.py"].changed and "shop/__init__.py+" not in every  # its own rewrite, nothing more
    assert not r.changed
    [finding] = r.findings
    assert "which this run also rewrites: apply that first, then run flaskfix again" in finding.message


# -- the change names the views that may make the cached answer stale ---------------------

MODELS = """
    from flask_sqlalchemy import SQLAlchemy

    db = SQLAlchemy()


    class Post(db.Model):
        id = db.Column(db.Integer, primary_key=True)
        title = db.Column(db.String)


    class Comment(db.Model):
        id = db.Column(db.Integer, primary_key=True)
        body = db.Column(db.String)
"""
BLOG = """
    from flask import Blueprint, request

    from shop.models import Comment, Post, db

    bp = Blueprint("shop", __name__)


    @bp.route("/report")
    def report():
        return {"titles": [p.title for p in Post.query.all()]}


    @bp.route("/posts", methods=["POST"])
    def create_post():
        save(Post(title=request.form["title"]))
        return "", 201


    def save(obj):
        db.session.add(obj)
        db.session.commit()


    @bp.route("/comments", methods=["POST"])
    def create_comment():
        db.session.add(Comment(body=request.form["body"]))
        db.session.commit()
        return "", 201


    @bp.route("/posts/count")
    def count_posts():
        return {"n": len(Post.query.all())}
"""
TEST_VIEWS = """
    from shop.models import Post, db
    from shop.views import bp


    @bp.route("/seed", methods=["POST"])
    def seed():
        db.session.add(Post(title="x"))
        db.session.commit()
        return ""
"""


def test_change_names_the_views_that_write_what_it_reads(tmp_path: Path) -> None:
    r = run(tmp_path, {"shop/models.py": MODELS, "shop/views.py": BLOG, "tests/test_seed.py": TEST_VIEWS})
    messages = {c.line: c.message for c in r.changes}
    report = messages[10]
    # create_post commits a Post through its helper; create_comment commits only Comments;
    # count_posts reads Post without committing; a test module's route is not the app's
    assert report.endswith("; it may answer with data up to 60s old after a request to "
                           "`create_post()` (shop/views.py:15), which uses `Post` and commits"), report
    assert "create_comment" not in report and "count_posts" not in report and "seed" not in report


def test_change_without_models_names_no_writer(tmp_path: Path) -> None:
    r = run(tmp_path)  # compute_report() reads no model
    assert r.changes and all("may answer with data" not in c.message for c in r.changes)


def test_a_writer_that_commits_through_a_model_method_is_named(tmp_path: Path) -> None:
    models = MODELS.replace("class Post(db.Model):", """class CRUDMixin:
        def save(self):
            db.session.add(self)
            db.session.commit()
            return self


    class Post(CRUDMixin, db.Model):""")
    views = BLOG.replace("save(Post(title=request.form[\"title\"]))", "Post(title=request.form[\"title\"]).save()")
    r = run(tmp_path, {"shop/models.py": models, "shop/views.py": views})
    report = next(c.message for c in r.changes if "`report()`" in c.message)
    assert report.endswith("after a request to `create_post()` (shop/views.py:15), which uses `Post` and calls "
                           "`.save()`, which commits in a project class"), report
