"""The result cache: reused when nothing relevant changed, never when something did."""

from __future__ import annotations

from pathlib import Path

import pytest

from flaskfix.codemods.engine.run import execute, plan

ARTICLE = '''\
from flask import Flask

app = Flask(__name__)
registry = {}


@app.route("/register/<name>")
def register(name):
    registry["last"] = name
    return "ok"
'''


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLASKFIX_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("")
    (root / "app.py").write_text(ARTICLE)
    for i in range(5):
        (root / f"util{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    return root


def run(root: Path, **kw) -> tuple[list, dict]:
    stats: dict = {}
    results = list(execute(plan([str(root)]), jobs=1, stats=stats, **kw))
    return [(r.path, r.new_text, r.changes, r.findings, r.error) for r in results], stats


def test_unchanged_rerun_is_served_from_the_cache(project: Path) -> None:
    first, s1 = run(project)
    second, s2 = run(project)
    assert s1 == {"cache_hits": 0, "cache_misses": 6}
    assert s2 == {"cache_hits": 6, "cache_misses": 0}
    assert first == second
    assert any(new for _, new, *_ in second)  # the rewrite itself comes back from the cache


def test_an_edited_file_is_recomputed(project: Path) -> None:
    run(project)
    (project / "util0.py").write_text("def f0():\n    return 'changed'\n")
    (project / "app.py").write_text(ARTICLE.replace('"last"', '"newest"'))
    results, stats = run(project)
    assert stats["cache_misses"] == 2
    app = next(r for r in results if r[0].endswith("app.py"))
    assert "g.newest = name" in app[1]


def test_a_result_that_read_other_files_is_recomputed_when_they_change(project: Path) -> None:
    first, _ = run(project)
    assert next(r for r in first if r[0].endswith("app.py"))[1] is not None  # rewritten
    # another module now imports the global: the rewrite would break it
    (project / "admin.py").write_text("from app import registry\n")
    second, stats = run(project)
    app = next(r for r in second if r[0].endswith("app.py"))
    assert app[1] is None and "used by another module" in app[3][0].message
    assert stats["cache_misses"] >= 2


def test_same_content_at_another_path_is_not_confused(project: Path) -> None:
    (project / "pkg").mkdir()
    (project / "pkg" / "views.py").write_text(ARTICLE.replace('"last"', '"x-y"'))
    (project / "app.py").write_text(ARTICLE.replace('"last"', '"x-y"'))  # same bytes, other module
    run(project)
    results, _ = run(project)
    texts = {Path(p).name: new for p, new, *_ in results if new}
    assert 'g.setdefault("app.registry", {})' in texts["app.py"]
    assert 'g.setdefault("pkg.views.registry", {})' in texts["views.py"]


def test_config_change_invalidates(project: Path) -> None:
    run(project)
    (project / "pyproject.toml").write_text("[tool.flaskfix]\nignore = ['redis-counter']\n")
    _, stats = run(project)
    assert stats["cache_hits"] == 0


def test_no_cache_and_a_corrupt_cache_are_harmless(project: Path, tmp_path: Path) -> None:
    results, stats = run(project, use_cache=False)
    assert stats == {} and not (tmp_path / "cache").exists()
    (tmp_path / "cache").mkdir()
    for name in ("results-x.sqlite",):
        (tmp_path / "cache" / name).write_bytes(b"garbage")
    first, _ = run(project)
    db = next((tmp_path / "cache").glob("results-*.sqlite"))
    db.write_bytes(b"not a database at all" * 100)
    again, _ = run(project)
    assert again == first == results


def test_dependencies_are_by_content_not_mtime(project: Path) -> None:
    """`apply` then `git checkout .` (or a fresh clone) changes every mtime and no content:
    every result is still served from the cache."""
    import os
    import time

    run(project)
    later = time.time() + 100
    for path in project.glob("*.py"):
        os.utime(path, (later, later))
    _, stats = run(project)
    assert stats == {"cache_hits": 6, "cache_misses": 0}


def test_content_changed_and_changed_back_is_cached_again(project: Path) -> None:
    run(project)
    original = (project / "util1.py").read_text()
    (project / "util1.py").write_text("def f1():\n    return 'edited'\n")
    _, edited = run(project)
    # util1 itself, and app.py, whose result searched every project file
    assert edited == {"cache_hits": 4, "cache_misses": 2}
    (project / "util1.py").write_text(original)
    _, restored = run(project)
    assert restored == {"cache_hits": 6, "cache_misses": 0}


MODELS = '''from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
'''
VIEWS = '''from flask import Blueprint

from models import User

bp = Blueprint("{name}", __name__)


@bp.route("/")
def names():
    return [User.query.get(uid).id for uid in range(3)]
'''


def test_a_module_every_result_reads_is_a_dependency_of_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two views read models.py (the first parses it, the second finds its tree kept):
    both results depend on it, so changing its primary key's type recomputes both."""
    monkeypatch.setenv("FLASKFIX_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("")
    (root / "models.py").write_text(MODELS)
    for name in ("a", "b"):
        (root / f"views_{name}.py").write_text(VIEWS.format(name=name))
    first, _ = run(root)
    assert [bool(r[1]) for r in first if "views_" in r[0]] == [True, True]  # both rewritten
    (root / "models.py").write_text(MODELS.replace("db.Integer, primary_key", "db.String(20), primary_key"))
    second, stats = run(root)
    views = [r for r in second if "views_" in r[0]]
    assert [r[1] for r in views] == [None, None]  # int ids against a string key: refused now
    assert all("holds strings" in r[3][0].message for r in views)


def test_entries_are_committed_in_batches_and_all_kept(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Filling the cache commits every BATCH entries and at the end: with a batch of 4 and
    6 files, the second run is served entirely from the cache."""
    from flaskfix.codemods.engine import cache

    monkeypatch.setattr(cache, "BATCH", 4)
    first, s1 = run(project)
    second, s2 = run(project)
    assert s2 == {"cache_hits": 6, "cache_misses": 0} and first == second


def test_a_run_killed_before_its_last_commit_leaves_a_usable_cache(project: Path, tmp_path: Path) -> None:
    """A process that dies mid-batch (SIGKILL: no close, no commit) loses only that batch's
    entries; the next run reads the cache without error and recomputes the rest."""
    import subprocess
    import sys
    import textwrap

    run(project)
    (project / "util1.py").write_text("def f1():\n    return 'new'\n")
    killed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""
            import os, signal
            from flaskfix.codemods.engine import cache
            from flaskfix.codemods.engine.run import execute, plan
            cache.BATCH = 100
            it = execute(plan([{str(project)!r}]), jobs=1)
            for r in it:
                if r.path.endswith("util4.py"):
                    os.kill(os.getpid(), signal.SIGKILL)
        """)],
        check=False, env={**__import__("os").environ},
    )
    assert killed.returncode == -9
    results, stats = run(project)
    # the killed run's new entries (util1, changed, and app.py, whose result depends on
    # every file of the project) were never committed: recomputed now
    assert stats == {"cache_hits": 4, "cache_misses": 2}
    again, stats = run(project)
    assert stats == {"cache_hits": 6, "cache_misses": 0} and again == results


def test_a_template_edit_invalidates_a_cached_cache_route_result(tmp_path: Path) -> None:
    """cache-route reads templates through the project: a result depends on them, so a
    template that starts reading `session` makes the cached "cache it" answer stale."""
    import shutil

    fixture = Path(__file__).parent / "fixtures" / "projects" / "cache-route-templates" / "before"
    root = tmp_path / "proj"
    shutil.copytree(fixture, root)

    def report_changed() -> tuple[bool, bool]:
        stats: dict = {}
        results = list(execute(plan([str(root)]), jobs=1, stats=stats))
        views = next(r for r in results if r.path.endswith("views.py"))
        return views.changed, views.cached

    assert report_changed() == (True, False)
    assert report_changed() == (True, True)  # served from the cache
    macros = root / "shop" / "templates" / "partials" / "macros.html"
    macros.write_text(macros.read_text() + "{{ session.get('basket') }}\n")
    assert report_changed() == (False, False)  # re-planned: report.html imports macros.html
