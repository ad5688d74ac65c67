"""Which files a run looks at.

Paths given on the command line (default ``.``): a file is always taken (even if an
exclude pattern matches it, as ruff and black do for explicit files); a directory is
walked, honouring every ``.gitignore`` on the way (nested ones included) and
``[tool.flaskfix] exclude``. Hidden folders, virtual environments and caches are never
walked (recognised by name and by shape: ``is_environment``). The order is sorted and so
deterministic.

A walk is remembered (``WalkMemo``) the way git's untracked cache does it: with the
modification time of every folder it listed or looked into and of every ``.gitignore`` it
read. Adding, removing or renaming an entry changes its folder's time, so while every one
of those is unchanged the walk would find the same files; a re-run then stats those
folders instead of listing them and matching each path against the ignore patterns (the
walk was more than half of a cached re-run over 17 apps: 0.41 s, most of it compiling the
regexes of 945 ``.gitignore`` patterns).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

ALWAYS_SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", "node_modules", ".tox", ".nox", ".venv", "venv", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", ".flaskfix_cache", "site-packages", "build", "dist", ".eggs"}
)


def is_environment(folder: Path | str, seen: "_Seen | None" = None) -> bool:
    """A virtual environment or an installed interpreter, by its shape, whatever its name:
    ``pyvenv.cfg``, an ``activate`` script, or ``lib/python*/site-packages`` (a virtualenv
    committed without its ``pyvenv.cfg``, as ``env/`` often is). ``seen`` records the
    folders whose entries the answer depends on."""
    j = os.path.join
    folder = os.fspath(folder)
    if seen is not None:
        seen.environment(folder)
    if (os.path.isfile(j(folder, "pyvenv.cfg")) or os.path.exists(j(folder, "bin", "activate"))
            or os.path.exists(j(folder, "Scripts", "activate"))):
        return True
    if os.path.isdir(j(folder, "Lib", "site-packages")):
        return True
    try:
        with os.scandir(j(folder, "lib")) as entries:
            return any(e.name.startswith("python") and os.path.isdir(j(e.path, "site-packages")) for e in entries)
    except OSError:
        return False


NOT_REGULAR = "not a regular file (a FIFO, socket or device); not read"


@dataclass(frozen=True)
class Discovered:
    path: str  # as it should be shown: relative to the cwd when below it
    error: str | None = None  # e.g. a path that does not exist


class _Spec:
    """A ``pathspec.GitIgnoreSpec`` with a prefilter: one regex, the alternation of all its
    patterns, answers "no pattern matches" (most paths) in one search instead of one per
    pattern; only a path some pattern matches is asked of the spec itself, whose order
    and negations decide. Compiling that union costs about what matching the patterns one
    by one costs for as many paths as there are patterns, so it is built only once the spec
    has answered that many (pattern by pattern was a third of a cached re-run; compiling
    every union up front cost as much again)."""

    def __init__(self, lines: list[str], prefilter_after: int | None = None) -> None:
        import pathspec  # here, not at start-up: only folders with a .gitignore or excludes need it

        self.spec = pathspec.GitIgnoreSpec.from_lines(lines)
        self._sources = [p.regex.pattern for p in self.spec.patterns if p.include is not None and p.regex is not None]
        self._countdown = len(self._sources) if prefilter_after is None else prefilter_after
        self._any: re.Pattern[str] | None = None

    def match_file(self, path: str) -> bool:
        if not self._sources:
            return False
        if self._any is None:
            self._countdown -= 1
            if self._countdown >= 0:
                return self.spec.match_file(path)
            try:
                # each pattern names its group ``ps_d``; a name may occur once in one regex
                self._any = re.compile("|".join(f"(?:{_GROUP.sub('(?:', s)})" for s in self._sources))
            except re.error:
                self._any = _EVERYTHING
        if self._any.search(path) is None:
            return False
        return self.spec.match_file(path)


_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")
_EVERYTHING = re.compile("")


def _read_gitignore(folder: Path | str, seen: "_Seen | None" = None) -> _Spec | None:
    path = os.path.join(folder, ".gitignore")
    if seen is not None:
        seen.file(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    return _Spec(lines) if lines else None


class _Seen:
    """What a walk's answer depends on: folders by modification and change time (an entry
    added, removed or renamed changes them), files by those, size and inode; ``None`` for
    a path that did not exist. ``usable`` turns false for what no time can vouch for: a
    symlink (its target may change), a folder that could not be listed."""

    def __init__(self) -> None:
        self.folders: dict[str, list[int] | None] = {}
        self.files: dict[str, list[int] | None] = {}
        self.usable = True

    @staticmethod
    def stat(path: str, folder: bool) -> list[int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return [st.st_mtime_ns, st.st_ctime_ns] if folder else [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]

    def folder(self, path: str) -> None:
        if path not in self.folders:
            self.folders[path] = self.stat(path, True)

    def file(self, path: str) -> None:
        if path not in self.files:
            self.files[path] = self.stat(path, False)

    def environment(self, folder: str) -> None:
        """``is_environment`` looks into these folders."""
        j = os.path.join
        for sub in (folder, j(folder, "bin"), j(folder, "Scripts"), j(folder, "Lib"), j(folder, "lib")):
            self.folder(sub)
        try:
            with os.scandir(j(folder, "lib")) as entries:
                for e in entries:
                    if e.name.startswith("python"):
                        self.folder(e.path)
        except OSError:
            pass

    def unchanged(self) -> bool:
        return (all(self.stat(p, True) == v for p, v in self.folders.items())
                and all(self.stat(p, False) == v for p, v in self.files.items()))


class WalkMemo:
    """A remembered walk (see the module's docstring), one small JSON file per set of
    arguments in the cache folder. Like the result cache it is an optimisation only: any
    problem reading or writing it is a walk, never a failure; ``--no-cache`` skips it."""

    #: a folder changed this recently may change again within the same tick of the
    #: file system's clock without its time changing (git's "racy" entries): such a walk
    #: is not remembered
    RACY_NS = 2_000_000_000
    VERSION = 1

    def __init__(self, paths: list[str], root: Path, exclude: list[str], folder: Path | None = None) -> None:
        from flaskfix.codemods.engine.cache import cache_dir

        here = Path(__file__).read_bytes()
        key = json.dumps([self.VERSION, hashlib.sha256(here).hexdigest(), os.getcwd(), paths,
                          [os.path.abspath(p) for p in paths], str(root), exclude])
        self.path = (folder or cache_dir()) / f"walk-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"

    def load(self) -> list[Discovered] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            seen = _Seen()
            seen.folders, seen.files = data["folders"], data["files"]
            if data.get("version") != self.VERSION or not seen.unchanged():
                return None
            return [Discovered(p, e) for p, e in data["found"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, found: list[Discovered], seen: _Seen) -> None:
        if not seen.usable:
            return
        newest = max((v[0] for v in seen.folders.values() if v), default=0)
        newest = max([newest, *(v[0] for v in seen.files.values() if v)])
        if newest >= time.time_ns() - self.RACY_NS:
            return
        data = {"version": self.VERSION, "folders": seen.folders, "files": seen.files,
                "found": [[d.path, d.error] for d in found]}
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass


def display(path: Path | str) -> str:
    """A path as runs show it: relative to the working folder when below it, else as given."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def discover(paths: list[str], root: Path, exclude: list[str], memo: bool = False) -> list[Discovered]:
    """The files to look at, sorted. ``memo``: reuse a remembered walk while nothing it
    depends on changed (only when every path given is a folder), and remember this one."""
    paths = paths or ["."]
    root = root.resolve()
    remembered = None
    if memo and all(os.path.isdir(p) and not os.path.islink(p) for p in paths):
        remembered = WalkMemo(paths, root, exclude)
        found = remembered.load()
        if found is not None:
            return found
    seen = _Seen()
    exclude_spec = _Spec(exclude) if exclude else None
    out: dict[str, Discovered] = {}
    for given in paths:
        p = Path(given)
        if p.is_symlink() and not p.exists():
            out[str(p)] = Discovered(str(p), "broken symlink or symlink loop")
            continue
        if not p.exists():
            out[str(p)] = Discovered(str(p), "no such file or directory")
            continue
        if not p.is_dir():
            out[display(p)] = Discovered(display(p), None if p.is_file() else NOT_REGULAR)
            continue
        for one in _walk(p, root, exclude_spec, seen):
            out.setdefault(one.path, one)
    result = [out[k] for k in sorted(out)]
    if remembered is not None:
        remembered.save(result, seen)
    return result


#: a stack of .gitignore (and exclude) specs, each with the folder its patterns are relative to
Stack = list[tuple[str, _Spec]]


def _ignore_stack_for(folder: Path, root: Path, seen: _Seen) -> Stack:
    """The .gitignore files of the folders from the root down to ``folder``'s parent."""
    try:
        rel = folder.relative_to(root)
    except ValueError:
        return []
    chain = [root] + [root.joinpath(*rel.parts[:i]) for i in range(1, len(rel.parts))]
    stack = []
    for cur in chain:
        spec = _read_gitignore(cur, seen)
        if spec is not None:
            stack.append((str(cur), spec))
    return stack


def _ignored(path: str, is_dir: bool, stack: Stack) -> bool:
    for base, spec in stack:
        if not path.startswith(base + os.sep):
            continue
        rel = path[len(base) + 1:]
        if os.sep != "/":
            rel = rel.replace(os.sep, "/")
        if spec.match_file(rel + "/" if is_dir else rel):
            return True
    return False


def _walk(top: Path, root: Path, exclude_spec: _Spec | None, seen: _Seen):
    """Strings and ``os.scandir`` (its entries know their type without a ``stat``): the
    walk was a fifth of a cached re-run's time with ``pathlib``."""
    top_resolved = top.resolve()
    stack_base = _ignore_stack_for(top_resolved, root, seen) if top_resolved != root else []
    if exclude_spec is not None:
        stack_base = stack_base + [(str(root), exclude_spec)]
    shown_top = display(top)
    pending = [(str(top_resolved), "", stack_base)]  # (folder, its path below top, the specs above it)
    while pending:
        folder, below, parent_stack = pending.pop()
        seen.folder(folder)  # before listing it: a change while it is listed shows next time
        own = _read_gitignore(folder, seen)
        stack = parent_stack + [(folder, own)] if own is not None else parent_stack
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            seen.usable = False
            continue
        subfolders = []
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if name.endswith(".py") and entry.is_symlink():
                    seen.usable = False  # (a symlinked folder is never walked)
            except OSError:
                is_dir = False
                seen.usable = False
            if is_dir:
                if name in ALWAYS_SKIPPED_DIRS or name.startswith(".") or name.endswith(".egg-info"):
                    continue
                if "{{" in name and "}}" in name:
                    continue  # a project template's folder (cookiecutter, copier): Jinja, not Python yet
                if _ignored(entry.path, True, stack) or is_environment(entry.path, seen):
                    continue
                subfolders.append((entry.path, os.path.join(below, name) if below else name, stack))
                continue
            if not name.endswith(".py") or _ignored(entry.path, False, stack):
                continue
            rel = os.path.join(below, name) if below else name
            shown = rel if shown_top == "." else os.path.join(shown_top, rel)
            try:
                if entry.is_file():  # (follows a symlink)
                    yield Discovered(shown)
                elif entry.is_dir():
                    continue
                elif entry.is_symlink() and not os.path.exists(entry.path):
                    yield Discovered(shown, "broken symlink or symlink loop")
                else:  # a FIFO would block the read forever
                    yield Discovered(shown, NOT_REGULAR)
            except OSError:
                yield Discovered(shown, "broken symlink or symlink loop")
        pending.extend(reversed(subfolders))
