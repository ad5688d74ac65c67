"""The project index (codemods/index.py) on small projects written for each question."""

from __future__ import annotations

import textwrap
from pathlib import Path

from flaskfix.codemods.index import Index, module_facts


def project(tmp_path: Path, files: dict[str, str]) -> Index:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return Index.build(tmp_path, sorted(str(p) for p in tmp_path.rglob("*.py")))


def test_imports_through_packages_aliases_and_re_exports(tmp_path: Path) -> None:
    idx = project(tmp_path, {
        "pkg/__init__.py": "from .ext import cache as the_cache\n",
        "pkg/ext.py": "from flask_caching import Cache as C\ncache = C()\n",
        "pkg/views/__init__.py": "",
        "pkg/views/main.py": """\
            from .. import the_cache
            from ..ext import cache as c2
            import pkg.ext as E
            from pkg import ext
            from flask import Flask as F
        """,
    })
    m = "pkg.views.main"
    assert idx.resolve(m, "the_cache") == ("pkg.ext", "cache")
    assert idx.resolve(m, "c2") == ("pkg.ext", "cache")
    assert idx.qualify(m, "E.cache") == "pkg.ext.cache"
    assert idx.qualify(m, "ext.cache") == "pkg.ext.cache"
    assert idx.qualify(m, "F") == "flask.Flask"
    assert idx.qualify("pkg.ext", "C") == "flask_caching.Cache"
    (cache,) = idx.extensions("cache")
    assert (cache.module, cache.name, cache.qualname) == ("pkg.ext", "cache", "flask_caching.Cache")


def test_factory_blueprints_registrations_and_init_app(tmp_path: Path) -> None:
    idx = project(tmp_path, {
        "app/__init__.py": """\
            from flask import Flask
            from .extensions import cache as kv, db
            from .views import bp as main_bp
            from . import api

            def create_app(config=None):
                app = Flask(__name__, template_folder="tpl")
                kv.init_app(app)
                db.init_app(app)
                app.register_blueprint(main_bp, url_prefix="/main")
                app.register_blueprint(api.bp)
                return app
        """,
        "app/extensions.py": "from flask_caching import Cache\nfrom flask_sqlalchemy import SQLAlchemy\ncache = Cache()\ndb = SQLAlchemy()\n",
        "app/views.py": "from flask import Blueprint\nbp = Blueprint('main', __name__, url_prefix='/m')\n",
        "app/api.py": "import flask\nbp = flask.Blueprint('api', __name__, template_folder='templates')\n",
    })
    (app,) = idx.apps()
    assert (app.module, app.name, app.scope, app.template_folder) == ("app", "app", "create_app", "tpl")
    assert [(m, f.name) for m, f in idx.factories()] == [("app", "create_app")]
    assert sorted((b.module, b.name, b.url_prefix) for b in idx.blueprints()) == [("app.api", "bp", None), ("app.views", "bp", "/m")]
    regs = {r.blueprint: r.url_prefix for r in idx.blueprint_registrations()}
    assert regs == {("app.views", "bp"): "/main", ("app.api", "bp"): None}
    cache = next(e for e in idx.extensions() if e.kind == "cache")
    (init,) = idx.init_app_calls(cache)
    assert init[0:2] == ("app", "create_app")
    folders = {o.name if o.kind == "app" else o.module: Path(p).relative_to(tmp_path).as_posix() for o, p in idx.template_folders()}
    assert folders == {"app": "app/tpl", "app.api": "app/templates"}


ERRORS = """\
    from flask import Blueprint, Flask
    from flask_restful import Api
    from werkzeug.exceptions import default_exceptions

    def internal_error(e):
        return "oops", 500

    def init(app):
        for ex in default_exceptions:
            app.register_error_handler(ex, internal_error)
        for code in (404, 500):
            app.register_error_handler(code, internal_error)
        handler = internal_error
        app.register_error_handler(ZeroDivisionError, handler)

    bp = Blueprint("x", __name__)

    @bp.app_errorhandler(500)
    def e500(e):
        return "bad", 500

    @bp.errorhandler(KeyError)
    def key_error(e):
        return "missing", 400

    class MyFlask(Flask):
        def handle_exception(self, e):
            return super().handle_exception(e)

    class NotFlask:
        def handle_exception(self, e):
            pass

    app = MyFlask(__name__)

    @app.errorhandler(Exception)
    def everything(e):
        return "no", 500

    api = Api(app)
"""


def test_error_handlers_in_every_registration_form(tmp_path: Path) -> None:
    idx = project(tmp_path, {"errors.py": ERRORS})
    found = {(h.registration.method, h.registration.keys, h.registration.handler, h.app_wide) for h in idx.error_handlers()}
    loop = (("all", "a loop over default_exceptions (every HTTP error code, 500 included)"),)
    assert ("register_error_handler", loop, "internal_error", True) in found
    assert ("register_error_handler", (("code", 404), ("code", 500)), "internal_error", True) in found
    assert ("register_error_handler", (("class", "ZeroDivisionError"),), "handler", True) in found
    assert ("app_errorhandler", (("code", 500),), "e500", True) in found
    assert ("errorhandler", (("class", "KeyError"),), "key_error", False) in found
    assert ("override", (("all", "MyFlask.handle_exception() is overridden"),), "MyFlask.handle_exception", True) in found
    assert ("errorhandler", (("all", "a handler for Exception"),), "everything", True) in found
    assert any(m == "api" for m, *_ in found)
    assert not any("NotFlask" in str(h.registration.handler) for h in idx.error_handlers())
    bp_handler = next(h for h in idx.error_handlers() if h.registration.handler == "key_error")
    assert bp_handler.owner is not None and bp_handler.owner.kind == "blueprint"


def test_handlers_registered_in_another_module_on_an_imported_app(tmp_path: Path) -> None:
    idx = project(tmp_path, {
        "main.py": "from flask import Flask\napp = Flask(__name__)\n",
        "handlers.py": "from main import app as application\n\n@application.errorhandler(500)\ndef oops(e):\n    return 'x', 500\n",
    })
    (h,) = idx.error_handlers()
    assert h.owner is not None and (h.owner.module, h.owner.name) == ("main", "app") and h.app_wide


def test_exception_observers(tmp_path: Path) -> None:
    idx = project(tmp_path, {
        "obs.py": """\
            import sentry_sdk
            from flask import got_request_exception
            sentry_sdk.init(dsn="x")

            def log(sender, exception, **extra):
                pass

            def setup(app):
                got_request_exception.connect(log, app)
        """,
        "quiet.py": "import logging\nlogging.basicConfig()\n",
    })
    whats = sorted(w for _, _, w in idx.exception_observers())
    assert len(whats) == 2
    assert whats[0].startswith("Sentry's Flask integration") and "got_request_exception.connect" in whats[1]


def test_models_keys_relationships_and_query_classes(tmp_path: Path) -> None:
    idx = project(tmp_path, {
        "models.py": """\
            from flask_sqlalchemy import SQLAlchemy
            db = SQLAlchemy()
            tags = db.Table("tags", db.Column("post_id", db.Integer))

            class User(db.Model):
                id = db.Column(db.Integer, primary_key=True)
                posts = db.relationship("Post", back_populates="author", order_by="Post.id")
                feed = db.relationship("Post", lazy="dynamic")

            class Tag(db.Model):
                query_class = MyQuery
                id = db.Column(db.Integer, primary_key=True)

            class Post(db.Model):
                sku = db.Column(db.String(20), primary_key=True)
                author_id = db.Column(db.Integer, db.ForeignKey("user.id"))
                author = db.relationship("User", back_populates="posts", lazy="joined")
                tags = db.relationship("Tag", secondary=tags)
        """,
    })
    models = idx.models()
    user = models["User"][0][1]
    post = models["Post"][0][1]
    assert (user.primary_key, user.pk_type, post.primary_key, post.pk_type) == ("id", "int", "sku", "str")
    rels = {r.attr: (r.target, r.lazy, r.secondary, r.order_by) for r in [*user.relationships, *post.relationships]}
    assert rels == {"posts": ("Post", "select", False, True), "feed": ("Post", "dynamic", False, False),
                    "author": ("User", "joined", False, False), "tags": ("Tag", "select", True, False)}
    tag = models["Tag"][0][1]
    assert tag.query_class == "MyQuery" and user.query_class is None
    assert tag.problem is not None and "query_class" in tag.problem  # bulk-query's reason to refuse it


def test_call_graph_across_modules(tmp_path: Path) -> None:
    idx = project(tmp_path, {
        "helpers.py": "def ratio(a, b):\n    return a / b\n",
        "views.py": "from helpers import ratio\nimport helpers as h\n\ndef v():\n    return ratio(1, 2)\n\ndef w():\n    return h.ratio(3, 4)\n",
    })
    callers = sorted((m, s, c.line) for m, s, c in idx.callers("helpers", "ratio"))
    assert callers == [("views", "v", 5), ("views", "w", 8)]


def test_a_file_that_does_not_parse_contributes_nothing() -> None:
    facts = module_facts("bad.py", "bad", "def (:\n")
    assert not facts.parsed and facts.functions == {} and facts.handlers == []


def test_blueprints_through_submodule_chains_and_apps_through_helpers(tmp_path: Path) -> None:
    """``app.register_blueprint(user.views.blueprint)`` in ``register_blueprints(app)`` and
    ``cache.init_app(app)`` in ``register_extensions(app)``, both called by the factory
    with its app: one app site, the factory's."""
    idx = project(tmp_path, {
        "conduit/__init__.py": "",
        "conduit/user/__init__.py": "from . import views\n",
        "conduit/user/views.py": "from flask import Blueprint\nblueprint = Blueprint('user', __name__)\n",
        "conduit/extensions.py": "from flask_caching import Cache\ncache = Cache()\n",
        "conduit/app.py": """
            from flask import Flask
            from conduit import user
            from conduit.extensions import cache

            def create_app():
                app = Flask(__name__)
                register_extensions(app)
                register_blueprints(app)
                return app

            def other():
                register_blueprints(make())

            def register_extensions(app):
                cache.init_app(app)

            def register_blueprints(app):
                app.register_blueprint(user.views.blueprint)
        """,
    })
    [reg] = idx.blueprint_registrations()
    assert reg.blueprint == ("conduit.user.views", "blueprint") and reg.scope == "register_blueprints"
    [ext] = idx.extensions("cache")
    [(module, scope, call)] = idx.init_app_calls(ext)
    assert idx.app_sites(module, scope, "app") == {("conduit.app", "create_app", "app")}
    # register_blueprints is also given something that is not a name: not one known app
    assert idx.app_sites("conduit.app", "register_blueprints", "app") == {("?", "", "")}
    assert idx.app_sites("conduit.app", "create_app", "app") == {("conduit.app", "create_app", "app")}
