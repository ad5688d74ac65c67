"""Declared runtime dependencies (codemods/manifests.py), one manifest format at a time."""

from __future__ import annotations

import textwrap
from pathlib import Path

from flaskfix.codemods.manifests import declared


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def test_requirements_files_follow_includes_and_skip_dev(tmp_path: Path) -> None:
    m = declared(write(tmp_path, {
        "requirements.txt": "-r requirements/base.txt\nFlask>=2.3  # web\ngunicorn\n",
        "requirements/base.txt": "Flask_SQLAlchemy>=3.0.2,<4\n--index-url https://example.invalid/simple\n",
        "requirements-dev.txt": "pytest\nFlask-Caching\n",
        "requirements/test.txt": "coverage\n",
    }))
    assert {(r.name, r.specifier, r.file, r.line) for r in m.requirements} == {
        ("flask", ">=2.3", "requirements.txt", 2), ("gunicorn", "", "requirements.txt", 3),
        ("flask-sqlalchemy", "<4,>=3.0.2", "requirements/base.txt", 1),
    }
    assert not m.declares("flask-caching") and not m.declares("pytest")  # dev/test only
    assert m.get("Flask_SQLAlchemy")[0].minimum().public == "3.0.2"
    assert m.get("flask")[0].allows("3.0.0") and not m.get("flask-sqlalchemy")[0].allows("4.0")
    assert m.locks == []


def test_hashes_and_lock_files_are_reported(tmp_path: Path) -> None:
    m = declared(write(tmp_path, {
        "requirements.txt": "flask==3.0.0 \\\n    --hash=sha256:abc\n",
        "poetry.lock": "",
    }))
    assert set(m.locks) == {"poetry.lock", "requirements.txt"}


def test_pyproject_project_table(tmp_path: Path) -> None:
    m = declared(write(tmp_path, {"pyproject.toml": """\
        [project]
        name = "shop"
        dependencies = ["flask>=3", "redis[hiredis]>=5; python_version >= '3.8'"]
        [project.optional-dependencies]
        test = ["pytest"]
    """}))
    assert [(r.name, r.specifier, r.line) for r in m.requirements] == [("flask", ">=3", 3), ("redis", ">=5", 3)]
    assert m.files == ["pyproject.toml"] and not m.declares("pytest")


def test_poetry(tmp_path: Path) -> None:
    m = declared(write(tmp_path, {"pyproject.toml": """\
        [tool.poetry.dependencies]
        python = "^3.10"
        Flask = "^2.3"
        flask-caching = {version = "~2.1", extras = ["redis"]}
        sentry-sdk = {version = "*", optional = true}
        [tool.poetry.group.dev.dependencies]
        pytest = "*"
    """}))
    assert {(r.name, r.specifier) for r in m.requirements} == {("flask", ">=2.3,<3"), ("flask-caching", ">=2.1,<2.2")}


def test_setup_cfg_setup_py_and_pipfile(tmp_path: Path) -> None:
    m = declared(write(tmp_path, {
        "setup.cfg": "[options]\ninstall_requires =\n    flask>=2\n    click\n",
        "setup.py": "from setuptools import setup\nsetup(name='x', install_requires=['redis>=4'])\n",
        "Pipfile": "[packages]\nflask-caching = \"*\"\nrequests = \">=2\"\n[dev-packages]\npytest = \"*\"\n",
    }))
    assert {(r.name, r.specifier, r.file) for r in m.requirements} == {
        ("flask", ">=2", "setup.cfg"), ("click", "", "setup.cfg"), ("redis", ">=4", "setup.py"),
        ("flask-caching", "", "Pipfile"), ("requests", ">=2", "Pipfile"),
    }
    assert m.files == ["setup.cfg", "setup.py", "Pipfile"]


def test_a_setup_py_it_cannot_read_is_said_so(tmp_path: Path) -> None:
    m = declared(write(tmp_path, {"setup.py": "from setuptools import setup\nsetup(install_requires=open('r.txt').read().split())\n"}))
    assert m.requirements == [] and "not a literal list" in m.unreadable["setup.py"]


def test_no_manifest_at_all(tmp_path: Path) -> None:
    m = declared(write(tmp_path, {"app.py": "from flask import Flask\n"}))
    assert not m.any and m.requirements == [] and m.locks == []
