"""Which files a run looks at.

Paths given on the command line (default ``.``): a file is always taken (even if an
exclude pattern matches it, as ruff and black do for explicit files); a directory is
walked, honouring every ``.gitignore`` on the way (nested ones included) and
``[tool.flaskfix] exclude``. Hidden folders, virtual environments and caches are never
walked (recognised by name and by shape: ``is_environment``). The order is sorted and so
deterministic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

ALWAYS_SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", "node_modules", ".tox", ".nox", ".venv", "venv", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", ".flaskfix_cache", "site-packages", "build", "dist", ".eggs"}
)


def is_environment(folder: Path) -> bool:
    """A virtual environment or an installed interpreter, by its shape, whatever its name:
    ``pyvenv.cfg``, an ``activate`` script, or ``lib/python*/site-packages`` (a virtualenv
    committed without its ``pyvenv.cfg``, as ``env/`` often is)."""
    if (folder / "pyvenv.cfg").is_file() or (folder / "bin" / "activate").exists() or (folder / "Scripts" / "activate").exists():
        return True
    if (folder / "Lib" / "site-packages").is_dir():
        return True
    try:
        return any(p.name.startswith("python") and (p / "site-packages").is_dir() for p in (folder / "lib").iterdir())
    except OSError:
        return False


NOT_REGULAR = "not a regular file (a FIFO, socket or device); not read"


@dataclass(frozen=True)
class Discovered:
    path: str  # as it should be shown: relative to the cwd when below it
    error: str | None = None  # e.g. a path that does not exist


def _spec(lines: list[str]) -> pathspec.PathSpec:
    import pathspec  # here, not at start-up: only folders with a .gitignore or excludes need it

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _read_gitignore(folder: Path) -> pathspec.PathSpec | None:
    gi = folder / ".gitignore"
    try:
        lines = gi.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return _spec(lines) if lines else None


def _display(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def discover(paths: list[str], root: Path, exclude: list[str]) -> list[Discovered]:
    exclude_spec = _spec(exclude) if exclude else None
    root = root.resolve()
    out: dict[str, Discovered] = {}
    for given in paths or ["."]:
        p = Path(given)
        if p.is_symlink() and not p.exists():
            out[str(p)] = Discovered(str(p), "broken symlink or symlink loop")
            continue
        if not p.exists():
            out[str(p)] = Discovered(str(p), "no such file or directory")
            continue
        if not p.is_dir():
            out[_display(p)] = Discovered(_display(p), None if p.is_file() else NOT_REGULAR)
            continue
        for found in _walk(p, root, exclude_spec):
            out.setdefault(found.path, found)
    return [out[k] for k in sorted(out)]


def _ignore_stack_for(folder: Path, root: Path) -> list[tuple[Path, pathspec.PathSpec]]:
    """The .gitignore files of the folders from the root down to ``folder``'s parent."""
    try:
        rel = folder.relative_to(root)
    except ValueError:
        return []
    chain = [root] + [root.joinpath(*rel.parts[:i]) for i in range(1, len(rel.parts))]
    stack = []
    for cur in chain:
        spec = _read_gitignore(cur)
        if spec is not None:
            stack.append((cur, spec))
    return stack


def _ignored(path: Path, is_dir: bool, stack: list[tuple[Path, pathspec.PathSpec]]) -> bool:
    for base, spec in stack:
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            continue
        if spec.match_file(rel + "/" if is_dir else rel):
            return True
    return False


def _walk(top: Path, root: Path, exclude_spec: pathspec.PathSpec | None):
    top_resolved = top.resolve()
    stack_base = _ignore_stack_for(top_resolved, root) if top_resolved != root else []
    if exclude_spec is not None:
        stack_base = stack_base + [(root, exclude_spec)]
    # os.walk does not follow symlinked folders, so symlink loops cannot trap it.
    specs: dict[Path, list[tuple[Path, pathspec.PathSpec]]] = {}
    for dirpath, dirnames, filenames in os.walk(top_resolved):
        folder = Path(dirpath)
        parent_stack = specs.get(folder.parent, stack_base) if folder != top_resolved else stack_base
        own = _read_gitignore(folder)
        stack = parent_stack + [(folder, own)] if own is not None else parent_stack
        specs[folder] = stack
        keep = []
        for d in sorted(dirnames):
            if d in ALWAYS_SKIPPED_DIRS or d.startswith(".") or d.endswith(".egg-info"):
                continue
            if "{{" in d and "}}" in d:
                continue  # a project template's folder (cookiecutter, copier): Jinja, not Python yet
            if _ignored(folder / d, True, stack):
                continue
            if is_environment(folder / d):
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            full = folder / name
            if _ignored(full, False, stack):
                continue
            shown = _display(top / full.relative_to(top_resolved))
            if full.is_symlink() and not full.exists():
                yield Discovered(shown, "broken symlink or symlink loop")
            elif full.is_dir():
                continue
            elif not full.is_file():  # a FIFO would block the read forever
                yield Discovered(shown, NOT_REGULAR)
            else:
                yield Discovered(shown)
