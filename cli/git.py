"""The little git the CLI needs: which files have uncommitted changes."""

from __future__ import annotations

import os
import subprocess


def _git(cwd: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)


def work_tree_root(path: str) -> str | None:
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    try:
        out = _git(folder, "rev-parse", "--show-toplevel")
    except FileNotFoundError:  # no git installed: not a work tree as far as we can tell
        return None
    if out.returncode != 0:
        return None
    return out.stdout.decode().strip() or None


def dirty_files(paths: list[str]) -> set[str]:
    """Those of ``paths`` (as given) that have uncommitted changes or are untracked,
    inside a git work tree. Files outside any work tree are never dirty."""
    dirty: set[str] = set()
    by_root: dict[str, list[str]] = {}
    for p in paths:
        root = work_tree_root(p)
        if root is not None:
            by_root.setdefault(root, []).append(p)
    for root, files in by_root.items():
        rel = {os.path.relpath(os.path.realpath(f), os.path.realpath(root)): f for f in files}
        out = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *rel)
        if out.returncode != 0:
            dirty.update(files)  # cannot tell: be safe
            continue
        for entry in out.stdout.decode("utf-8", "surrogateescape").split("\0"):
            if len(entry) > 3:
                name = entry[3:]
                if name in rel:
                    dirty.add(rel[name])
    return dirty
