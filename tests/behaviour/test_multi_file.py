"""Changes that reach beyond one file, executed: the app is run before and after `flaskfix
apply`, in a subprocess where only the project's declared dependencies can be imported
(``declared_only.py``), as in a venv built from its manifest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).parent
COUNT_REQUESTS = """
from {module} import create_app
import {views} as views
calls = []
real = views.compute_report
views.compute_report = lambda: calls.append(1) or real()  # counts the view's real work
client = create_app().test_client()
bodies = [client.get("/report").get_json() for _ in range(3)]
assert bodies[0] == bodies[1] == bodies[2] == {{"total": 499500}}, bodies
print(len(calls))
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def declared_only(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(HERE / "declared_only.py"), str(root), code], cwd=root,
                          capture_output=True, text=True, timeout=120)


def apply(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flaskfix", "apply", "--yes", "--no-cache", "--allow-dirty", "."],
                          cwd=root, capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})


FACTORY = {
    "requirements.txt": "flask>=3\nflask-caching>=2\n",
    "shop/__init__.py": """
        from flask import Flask

        from shop.extensions import cache


        def create_app(settings=None):
            app = Flask(__name__)
            app.config.from_mapping(CACHE_TYPE="SimpleCache")
            app.config.from_mapping(settings or {})
            cache.init_app(app)

            from shop.views import bp

            app.register_blueprint(bp)
            return app
    """,
    "shop/extensions.py": """
        from flask_caching import Cache

        cache = Cache()
    """,
    "shop/views.py": """
        from flask import Blueprint

        bp = Blueprint("shop", __name__)


        def compute_report():
            return {"total": sum(range(1000))}


        @bp.route("/report")
        def report():
            return compute_report()
    """,
}


def test_a_factory_blueprint_app_reuses_its_cache_and_runs_the_view_once(tmp_path: Path) -> None:
    root = write(tmp_path, FACTORY)
    code = COUNT_REQUESTS.format(module="shop", views="shop.views")
    before = declared_only(root, code)
    assert before.returncode == 0 and before.stdout.strip() == "3", before.stderr
    out = apply(root)
    assert out.returncode == 0, out.stderr
    views = (root / "shop" / "views.py").read_text()
    assert "from .extensions import cache" in views and "@cache.cached(" in views
    assert (root / "shop" / "extensions.py").read_text() == textwrap.dedent(FACTORY["shop/extensions.py"])
    after = declared_only(root, code)
    assert after.returncode == 0 and after.stdout.strip() == "1", after.stderr


SINGLE = {
    "requirements.txt": "flask>=3\n",
    "app.py": """
        from flask import Flask

        app = Flask(__name__)


        def compute_report():
            return {"total": sum(range(1000))}


        @app.route("/report")
        def report():
            return compute_report()


        def create_app():
            return app
    """,
}


def test_a_new_cache_comes_with_its_requirement_and_the_app_still_imports(tmp_path: Path) -> None:
    root = write(tmp_path, SINGLE)
    code = COUNT_REQUESTS.format(module="app", views="app")
    assert declared_only(root, code).stdout.strip() == "3"
    out = apply(root)
    assert out.returncode == 0, out.stderr
    assert (root / "requirements.txt").read_text() == "flask>=3\nFlask-Caching>=2.0\n"
    after = declared_only(root, code)
    assert after.returncode == 0 and after.stdout.strip() == "1", after.stderr
    # control: without the added requirement the rewritten app would not import (the
    # failure one real app had: all 59 of its passing tests failed)
    (root / "requirements.txt").write_text("flask>=3\n")
    broken = declared_only(root, code)
    assert broken.returncode != 0 and "No module named 'flask_caching'" in broken.stderr


NO_CACHE = {
    **FACTORY,
    "requirements.txt": "flask>=3\nflask-sqlalchemy>=3\n",
    "shop/__init__.py": FACTORY["shop/__init__.py"].replace("from shop.extensions import cache", "from shop.extensions import db")
    .replace('app.config.from_mapping(CACHE_TYPE="SimpleCache")', 'app.config.from_mapping(SQLALCHEMY_DATABASE_URI="sqlite://")')
    .replace("cache.init_app(app)", "db.init_app(app)"),
    "shop/extensions.py": """
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()
    """,
}


def test_a_factory_blueprint_app_without_a_cache_gets_one_across_four_files(tmp_path: Path) -> None:
    """The standard layout with no Cache: `apply` creates it in the extensions module,
    initialises it in the factory, imports it in the view module and declares Flask-Caching;
    the app, run with only its declared dependencies, runs the view once for three GETs."""
    root = write(tmp_path, NO_CACHE)
    code = COUNT_REQUESTS.format(module="shop", views="shop.views")
    assert declared_only(root, code).stdout.strip() == "3"
    out = apply(root)
    assert out.returncode == 0, out.stderr
    assert "wrote 4 of 4 file(s)" in out.stderr
    assert (root / "requirements.txt").read_text() == "flask>=3\nflask-sqlalchemy>=3\nFlask-Caching>=2.0\n"
    assert "cache = Cache()" in (root / "shop" / "extensions.py").read_text()
    assert "cache.init_app(app)" in (root / "shop" / "__init__.py").read_text()
    after = declared_only(root, code)
    assert after.returncode == 0 and after.stdout.strip() == "1", after.stderr
    # a second run changes nothing
    again = subprocess.run([sys.executable, "-m", "flaskfix", "diff", "--no-cache", "."], cwd=root, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0 and again.stdout == "", again.stdout


def test_views_on_an_app_a_factory_call_made_in_another_module(tmp_path: Path) -> None:
    """``app = create_app()`` in the package, ``from server import app`` in the views: the
    views are seen (they used to get neither a rewrite nor a finding) and the rewritten app
    answers bad input 400 and good input as before."""
    import shutil

    root = tmp_path / "project"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "projects" / "app-created-by-factory-call-elsewhere" / "before", root)
    (root / "requirements.txt").write_text("flask>=3\n")
    code = """
from server import app
client = app.test_client()
print(client.get("/api/x?n=abc").status_code, client.get("/api/x?n=5").get_json())
"""
    before = declared_only(root, code)
    assert before.returncode == 0 and before.stdout.split()[0] == "500", before.stderr
    out = apply(root)
    assert out.returncode == 0 and "wrote 1 of 1 file(s)" in out.stderr, out.stderr
    after = declared_only(root, code)
    assert after.returncode == 0 and after.stdout.strip() == "400 {'n': 5}", after.stderr


def test_one_handler_for_a_blueprint_whose_views_span_modules(tmp_path: Path) -> None:
    """The blueprint is created in shop/__init__.py, its views live in orders.py and
    reports.py: `apply` writes the classes and one handler next to the blueprint and the view
    modules import the classes. Bad input answers 400 in both modules; a server fault of the
    same class (a setting of 0) keeps its 500; good input is unchanged."""
    import shutil

    root = tmp_path / "project"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "projects" / "error-handler-one-handler-per-blueprint" / "before", root)
    (root / "requirements.txt").write_text("flask>=3\n")
    code = """
from shop import create_app
c = create_app().test_client()
print(c.get("/orders?page=x").status_code, c.get("/split?people=0").status_code, c.post("/share", json={}).status_code,
      c.post("/share", json=[1]).status_code, c.get("/shards").status_code, c.get("/orders?page=3").get_json(),
      c.get("/split?people=4").get_json(), c.post("/share", json={"name": "a"}).get_json())
"""
    before = declared_only(root, code)
    assert before.returncode == 0 and before.stdout.split()[:5] == ["500"] * 5, before.stderr
    out = apply(root)
    assert out.returncode == 0 and "wrote 3 of 3 file(s)" in out.stderr, out.stderr
    assert (root / "shop" / "__init__.py").read_text().count("def handle_client_input_error") == 1
    assert "class Client" not in (root / "shop" / "orders.py").read_text() + (root / "shop" / "reports.py").read_text()
    after = declared_only(root, code)
    assert after.returncode == 0, after.stderr
    assert after.stdout.split()[:5] == ["400", "400", "400", "400", "500"]
    assert after.stdout.split(maxsplit=5)[5] == before.stdout.split(maxsplit=5)[5]  # good input: the same answers
