"""No rewrite adds an import of a package the project does not depend on (on one real
app, an added `from flask_caching import Cache` stopped it importing and failed all 59 of
its tests). Declared (any runtime manifest), already imported by a runtime module, or no
manifest at all (the change then says what to install): the rewrite goes ahead. Otherwise
the change adds the requirement to the manifest the project uses (a supporting edit,
written only with it), or is refused, naming the package and the command to run, when
that manifest cannot be edited safely."""

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


def test_undeclared_packages_are_added_to_the_manifest_with_the_change(project: Path) -> None:
    (project / "requirements.txt").write_text("flask>=3\n")
    out = flaskfix(project, "--exit-zero")
    assert "+from flask_caching import Cache" in out.stdout and "+from redis import Redis" in out.stdout, out.stderr
    assert out.stdout.count("--- a/requirements.txt") == 1  # one manifest diff for both changes
    assert " flask>=3\n+Flask-Caching>=2.0\n+redis>=4.0\n" in out.stdout
    assert "adds `Flask-Caching>=2.0` to requirements.txt (the project did not declare Flask-Caching)" in out.stderr
    assert "adds `redis>=4.0` to requirements.txt (the project did not declare redis)" in out.stderr
    # and the summary says plainly what the rewritten project needs that it did not have
    assert ("new requirements: `Flask-Caching>=2.0` (added to requirements.txt); `redis>=4.0` (added to "
            "requirements.txt); a running Redis server for the counters") in out.stderr


@pytest.mark.parametrize(("files", "says"), [
    ({"requirements.txt": "flask>=3\n", "pyproject.toml": '[tool.flaskfix]\nedit-manifests = false\n'
      '[tool.flaskfix.cache-route]\nexpensive = ["compute_report"]\n'},
     "[tool.flaskfix] edit-manifests is false: add `Flask-Caching>=2.0` to requirements.txt yourself"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\nflask = "*"\n[tool.flaskfix.cache-route]\n'
      'expensive = ["compute_report"]\n', "poetry.lock": ""},
     "adding `Flask-Caching>=2.0` to pyproject.toml would leave poetry.lock stale: run `poetry add 'Flask-Caching>=2.0'`"),
], ids=["edit-manifests-off", "poetry-lock"])
def test_a_manifest_flaskfix_cannot_edit_is_a_refusal_naming_the_package(project: Path, files: dict, says: str) -> None:
    for name, text in files.items():
        (project / name).write_text(text)
    out = flaskfix(project)
    assert out.returncode == 0 and out.stdout == "", out.stderr  # nothing rewritten, no manifest touched
    assert ("app.py:7: cache-route: not fixed: `report()` not cached: the project does not depend on Flask-Caching "
            "(") in out.stderr
    assert says in out.stderr and "then run flaskfix again" in out.stderr
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
    assert "+from redis import Redis" in out.stdout and "+redis>=" not in out.stdout  # imported: a dependency already
    # a test module's import is no dependency: Flask-Caching is added to the manifest
    assert "+Flask-Caching>=2.0" in out.stdout


def test_no_manifest_at_all_says_what_to_install(project: Path) -> None:
    out = flaskfix(project, "--exit-zero")
    assert "+from flask_caching import Cache" in out.stdout
    assert "needs Flask-Caching (pip install Flask-Caching), which the project does not declare anywhere" in out.stderr
    assert "needs redis (pip install redis)" in out.stderr
    assert ("new requirements: `Flask-Caching` (pip install Flask-Caching: the project declares no dependencies to "
            "add it to); `redis` (pip install redis: the project declares no dependencies to add it to); a running "
            "Redis server") in out.stderr


def test_declaring_the_package_later_is_seen_by_a_cached_run(project: Path, tmp_path_factory, monkeypatch) -> None:
    """The change read requirements.txt: a cached result must not outlive its edit."""
    monkeypatch.setenv("FLASKFIX_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    (project / "requirements.txt").write_text("flask>=3\n")
    assert "+Flask-Caching>=2.0" in flaskfix(project, "--exit-zero").stdout
    (project / "requirements.txt").write_text("flask>=3\nflask-caching\nredis\n")
    again = flaskfix(project, "--exit-zero")
    assert "+from flask_caching import Cache" in again.stdout and "requirements.txt" not in again.stdout
    assert "adds `" not in again.stderr
