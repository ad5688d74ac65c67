"""The remembered walk (discovery.WalkMemo): reused only while nothing it depends on changed.

Every test first ages the tree (``os.utime`` into the past): a walk of folders changed in
the last two seconds is not remembered (see ``WalkMemo.RACY_NS``), and each change the test
then makes stamps the folder it touches with the present time, as a real edit does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from flaskfix.codemods.engine import discovery
from flaskfix.codemods.engine.discovery import WalkMemo, discover

HOUR_AGO = time.time() - 3600


def age(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(folder, name), (HOUR_AGO, HOUR_AGO))
        os.utime(folder, (HOUR_AGO, HOUR_AGO))


def paths(found) -> list[str]:
    return [d.path for d in found]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / "app" / "views").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "views" / "a.py").write_text("")
    (root / "scripts").mkdir()
    (root / "scripts" / "tool.py").write_text("")
    (root / ".gitignore").write_text("scripts/\n")
    age(root)
    monkeypatch.chdir(root)
    monkeypatch.setenv("FLASKFIX_CACHE_DIR", str(tmp_path / "cache"))
    return root


def walk_not_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise AssertionError("walked although the remembered walk was still valid")

    monkeypatch.setattr(discovery, "_walk", boom)


def test_an_unchanged_tree_is_not_walked_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = discover(["."], project, [], memo=True)
    assert paths(first) == ["app/__init__.py", "app/views/a.py"]
    assert WalkMemo(["."], project.resolve(), []).path.exists()
    walk_not_allowed(monkeypatch)
    assert discover(["."], project, [], memo=True) == first


def test_without_memo_nothing_is_remembered(project: Path, tmp_path: Path) -> None:
    discover(["."], project, [])
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "change, expected",
    [
        # an entry added to a folder changes that folder's time
        (lambda r: (r / "app" / "views" / "b.py").write_text(""), ["app/__init__.py", "app/views/a.py", "app/views/b.py"]),
        # removed
        (lambda r: (r / "app" / "views" / "a.py").unlink(), ["app/__init__.py"]),
        # a new folder, deep below
        (lambda r: (r / "app" / "views" / "more").mkdir() or (r / "app" / "views" / "more" / "c.py").write_text(""),
         ["app/__init__.py", "app/views/a.py", "app/views/more/c.py"]),
        # the .gitignore edited (same folder, no entry added)
        (lambda r: (r / ".gitignore").write_text("app/views/\n"), ["app/__init__.py", "scripts/tool.py"]),
        # a .gitignore created in a folder below
        (lambda r: (r / "app" / ".gitignore").write_text("views\n"), ["app/__init__.py"]),
        # a virtualenv's activate script created in an existing bin/ makes app/views an environment
        (lambda r: (r / "app" / "views" / "bin").mkdir() or (r / "app" / "views" / "bin" / "activate").write_text(""),
         ["app/__init__.py"]),
    ],
    ids=["added", "removed", "new-folder", "gitignore-edited", "gitignore-created", "became-a-virtualenv"],
)
def test_a_change_the_walk_depends_on_is_seen(project: Path, change, expected) -> None:
    discover(["."], project, [], memo=True)
    change(project)
    assert paths(discover(["."], project, [], memo=True)) == expected
    assert paths(discover(["."], project, [])) == expected


def test_activate_created_inside_an_existing_bin_folder(project: Path) -> None:
    """is_environment looks two levels down: bin/ existed (aged) when the walk was made."""
    (project / "app" / "views" / "bin").mkdir()
    age(project)
    assert paths(discover(["."], project, [], memo=True)) == ["app/__init__.py", "app/views/a.py"]
    (project / "app" / "views" / "bin" / "activate").write_text("")
    assert paths(discover(["."], project, [], memo=True)) == ["app/__init__.py"]


def test_a_recently_changed_tree_is_not_remembered(project: Path) -> None:
    (project / "app" / "new.py").write_text("")  # app/ changed now: within the racy window
    discover(["."], project, [], memo=True)
    assert not WalkMemo(["."], project.resolve(), []).path.exists()


def test_a_symlinked_module_is_not_remembered(project: Path) -> None:
    (project / "app" / "link.py").symlink_to(project / "app" / "views" / "a.py")
    age(project)
    assert "app/link.py" in paths(discover(["."], project, [], memo=True))
    assert not WalkMemo(["."], project.resolve(), []).path.exists()


def test_other_arguments_are_other_walks(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    discover(["."], project, [], memo=True)
    assert paths(discover(["."], project, ["app/views/"], memo=True)) == ["app/__init__.py"]
    assert paths(discover(["app"], project, [], memo=True)) == ["app/__init__.py", "app/views/a.py"]


def test_a_corrupt_memo_is_a_walk(project: Path) -> None:
    first = discover(["."], project, [], memo=True)
    WalkMemo(["."], project.resolve(), []).path.write_text("{not json")
    assert discover(["."], project, [], memo=True) == first


def test_a_virtualenv_that_stops_being_one_is_walked(project: Path) -> None:
    """A skipped environment is never listed by the walk: what made it one is remembered."""
    env = project / "env"
    (env / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    (env / "tool.py").write_text("")
    age(project)
    assert paths(discover(["."], project, [], memo=True)) == ["app/__init__.py", "app/views/a.py"]
    (env / "lib" / "python3.11" / "site-packages").rmdir()
    assert paths(discover(["."], project, [], memo=True)) == ["app/__init__.py", "app/views/a.py", "env/tool.py"]
