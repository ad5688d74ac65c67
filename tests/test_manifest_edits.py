"""Adding a requirement to a manifest (codemods/manifest_edits.py): each format in its own
style, every other byte kept, checked by reading it back; refusals name the package and the
command to run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flaskfix.codemods.manifest_edits import ManifestEditError, Target, add, target
from flaskfix.codemods.manifests import declared


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), newline="")
    return root


def added(root: Path, distributions: list[str] = ["Flask-Caching"]) -> tuple[str, list[int], Target]:
    t = target(declared(root), distributions[0])
    assert isinstance(t, Target), t
    old, new, lines = add(root, t, distributions)
    assert old.encode() == (root / t.file).read_bytes()  # (add writes nothing)
    return new, lines, t


CASES = {
    "requirements": (
        {"requirements.txt": "Flask>=2.3  # web\ngunicorn"},
        "requirements.txt",
        "Flask>=2.3  # web\ngunicorn\nFlask-Caching>=2.0\n",
        [3],
    ),
    "requirements-crlf": (
        {"requirements.txt": "flask\r\nredis\r\n"},
        "requirements.txt",
        "flask\r\nredis\r\nFlask-Caching>=2.0\r\n",
        [3],
    ),
    "requirements-folder-declaring-flask": (
        {"requirements/base.txt": "flask\n", "requirements/prod.txt": "-r base.txt\ngunicorn\n",
         "requirements.txt": "-r requirements/prod.txt\n"},
        "requirements/base.txt",
        "flask\nFlask-Caching>=2.0\n",
        [2],
    ),
    "pyproject-multiline": (
        {"pyproject.toml": '[project]\nname = "shop"\ndependencies = [\n    "flask>=3",\n    "sqlalchemy"  # orm\n]\n\n[tool.black]\n'},
        "pyproject.toml",
        '[project]\nname = "shop"\ndependencies = [\n    "flask>=3",\n    "sqlalchemy", # orm\n    "Flask-Caching>=2.0",\n]\n\n[tool.black]\n',
        [6],
    ),
    "pyproject-one-line-single-quotes": (
        {"pyproject.toml": "[project]\nname = 'shop'\ndependencies = ['flask']\n"},
        "pyproject.toml",
        "[project]\nname = 'shop'\ndependencies = ['flask', 'Flask-Caching>=2.0']\n",
        [3],
    ),
    "pyproject-empty": (
        {"pyproject.toml": "[project]\nname = 'shop'\ndependencies = []\n", "app.py": ""},
        "pyproject.toml",
        "[project]\nname = 'shop'\ndependencies = ['Flask-Caching>=2.0']\n",
        [3],
    ),
    "poetry": (
        {"pyproject.toml": '[tool.poetry]\nname = "shop"\n\n[tool.poetry.dependencies]\npython = "^3.10"\nflask = "^3.0"\n\n[build-system]\n'},
        "pyproject.toml",
        '[tool.poetry]\nname = "shop"\n\n[tool.poetry.dependencies]\npython = "^3.10"\nflask = "^3.0"\nFlask-Caching = ">=2.0"\n\n[build-system]\n',
        [7],
    ),
    "setup-cfg": (
        {"setup.cfg": "[metadata]\nname = shop\n\n[options]\ninstall_requires =\n    flask\n    redis>=4\npackages = find:\n"},
        "setup.cfg",
        "[metadata]\nname = shop\n\n[options]\ninstall_requires =\n    flask\n    redis>=4\n    Flask-Caching>=2.0\npackages = find:\n",
        [8],
    ),
    "pipfile": (
        {"Pipfile": '[packages]\nflask = "*"\n\n[dev-packages]\npytest = "*"\n'},
        "Pipfile",
        '[packages]\nflask = "*"\nFlask-Caching = ">=2.0"\n\n[dev-packages]\npytest = "*"\n',
        [3],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_format_gets_the_requirement_in_its_own_style(tmp_path: Path, case: str) -> None:
    files, file, expected, lines = CASES[case]
    root = project(tmp_path, files)
    new, got_lines, t = added(root)
    assert t.file == file
    assert new == expected
    assert got_lines == lines
    (root / file).write_text(new, newline="")
    assert declared(root).get("flask-caching")[0].specifier == ">=2.0"


def test_two_packages_at_once(tmp_path: Path) -> None:
    root = project(tmp_path, {"requirements.txt": "flask\n"})
    new, lines, _ = added(root, ["Flask-Caching", "redis"])
    assert new == "flask\nFlask-Caching>=2.0\nredis>=4.0\n" and lines == [2, 3]


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({"pyproject.toml": '[tool.poetry.dependencies]\nflask = "*"\n', "poetry.lock": ""},
         "would leave poetry.lock stale: run `poetry add 'Flask-Caching>=2.0'`"),
        ({"pyproject.toml": '[project]\nname = "x"\ndependencies = ["flask"]\n', "uv.lock": ""},
         "would leave uv.lock stale: run `uv add 'Flask-Caching>=2.0'`"),
        ({"Pipfile": '[packages]\nflask = "*"\n', "Pipfile.lock": "{}"},
         "would leave Pipfile.lock stale: run `pipenv install 'Flask-Caching>=2.0'`"),
        ({"requirements.txt": "flask==3.0.0 \\\n    --hash=sha256:abc\n", "requirements.in": "flask\n"},
         "requirements.txt pins hashes, which flaskfix cannot compute: add `Flask-Caching>=2.0` to requirements.in "
         "and run `pip-compile --generate-hashes requirements.in`"),
        ({"setup.py": "from setuptools import setup\nsetup(install_requires=['flask'])\n"},
         "flaskfix does not edit setup.py: add `Flask-Caching>=2.0` to its install_requires"),
    ],
    ids=["poetry-lock", "uv-lock", "pipfile-lock", "hashes", "setup-py"],
)
def test_refusals_name_the_package_and_the_command(tmp_path: Path, files: dict[str, str], says: str) -> None:
    got = target(declared(project(tmp_path, files)), "Flask-Caching")
    assert isinstance(got, str) and says in got and got.endswith("then run flaskfix again")


def test_a_lock_of_another_manifest_does_not_block(tmp_path: Path) -> None:
    """uv.lock locks pyproject's [project]; the requirements file that declares Flask is free."""
    root = project(tmp_path, {"requirements.txt": "flask\n", "uv.lock": "",
                              "pyproject.toml": '[project]\nname = "x"\ndependencies = []\n'})
    new, _, t = added(root)
    assert t.file == "requirements.txt" and new.endswith("Flask-Caching>=2.0\n")


def test_edit_manifests_off_is_a_refusal(tmp_path: Path) -> None:
    got = target(declared(project(tmp_path, {"requirements.txt": "flask\n"})), "redis", allowed=False)
    assert got == "[tool.flaskfix] edit-manifests is false: add `redis>=4.0` to requirements.txt yourself, then run flaskfix again"


def test_an_edit_that_does_not_read_back_is_refused(tmp_path: Path) -> None:
    """A `]` in a comment after a one-line array: the text edit would land in the comment;
    reading the result back shows it, and the edit is refused, never written wrong."""
    root = project(tmp_path, {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["flask"]  # see [docs]\n'})
    t = target(declared(root), "Flask-Caching")
    assert isinstance(t, Target)
    with pytest.raises(ManifestEditError, match="would not declare exactly"):
        add(root, t, ["Flask-Caching"])
