"""No rewrite adds an import of a package the project does not depend on (on one real
app, an added `from flask_caching import Cache` stopped it importing and failed all 59 of
its tests). Declared (any runtime manifest), already imported by a runtime module, or no
manifest at all (the change then says what to install): the rewrite goes ahead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CACHED = '''\
from flask import Flask

app = Flask(__name__)


@app.route("/report")
def report():
    return {"total": compute_report()}


def compute_report():
    return sum(range(10))
'''
COUNTER = '''\
from flask import Flask

app = Flask(__name__)
hits = 0


@app.route("/")
def index():
    global hits
    hits += 1
    return str(hits)
'''


def flaskfix(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flaskfix", "diff", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.flaskfix.cache-route]\nexpensive = ["compute_report"]\n')
    (tmp_path / "app.py").write_text(CACHED)
    (tmp_path / "counter.py").write_text(COUNTER)
    return tmp_path


def test_undeclared_packages_are_refused_with_the_package_named(project: Path) -> None:
    (project / "requirements.txt").write_text("flask>=3\n")
    out = flaskfix(project)
    assert out.returncode == 0 and out.stdout == "", out.stderr  # nothing rewritten
    assert ("app.py:7: cache-route: not fixed: `report()` not cached: the project does not depend on Flask-Caching "
            "(requirements.txt does not declare it, and no module imports flask_caching); add `Flask-Caching` to "
            "requirements.txt") in out.stderr
    assert "counter.py:4: redis-counter: not fixed: `hits` not moved to Redis: the project does not depend on redis" in out.stderr


@pytest.mark.parametrize("manifest, text", [
    ("requirements.txt", "flask>=3\nFlask-Caching>=2\nredis>=5\n"),
    ("pyproject.toml", '[project]\nname = "x"\ndependencies = ["flask", "flask_caching", "redis"]\n'
                       '[tool.flaskfix.cache-route]\nexpensive = ["compute_report"]\n'),
])
def test_declared_packages_are_used(project: Path, manifest: str, text: str) -> None:
    (project / manifest).write_text(text)
    out = flaskfix(project, "--exit-zero")
    assert "+from flask_caching import Cache" in out.stdout and "+from redis import Redis" in out.stdout, out.stderr
    assert "pip install" not in out.stderr


def test_a_package_some_runtime_module_imports_counts_as_a_dependency(project: Path) -> None:
    (project / "requirements.txt").write_text("flask>=3\n")
    (project / "extensions.py").write_text("import redis\n")
    (project / "tests").mkdir()
    (project / "tests" / "test_x.py").write_text("import flask_caching\n")  # a test's import does not count
    out = flaskfix(project, "--exit-zero")
    assert "+from redis import Redis" in out.stdout
    assert "flask_caching" not in out.stdout and "does not depend on Flask-Caching" in out.stderr


def test_no_manifest_at_all_says_what_to_install(project: Path) -> None:
    out = flaskfix(project, "--exit-zero")
    assert "+from flask_caching import Cache" in out.stdout
    assert "needs Flask-Caching (pip install Flask-Caching), which the project does not declare anywhere" in out.stderr
    assert "needs redis (pip install redis)" in out.stderr


def test_declaring_the_package_later_is_seen_by_a_cached_run(project: Path, tmp_path_factory, monkeypatch) -> None:
    """The refusal read requirements.txt: a cached result must not outlive its edit."""
    monkeypatch.setenv("FLASKFIX_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    (project / "requirements.txt").write_text("flask>=3\n")
    assert flaskfix(project).stdout == ""
    (project / "requirements.txt").write_text("flask>=3\nflask-caching\nredis\n")
    assert "+from flask_caching import Cache" in flaskfix(project, "--exit-zero").stdout
