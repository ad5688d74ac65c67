"""Run Python code as if only the project's declared dependencies were installed.

``python declared_only.py ROOT CODE``: reads ROOT's runtime manifests with flaskfix's own
reader, closes them over their installed requirements (importlib.metadata), and installs an
import hook that refuses any third-party top-level module outside that set, as a venv
holding only those distributions would. Then runs CODE with ROOT on sys.path.
"""

from __future__ import annotations

import importlib.abc
import importlib.metadata as md
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from flaskfix.codemods.manifests import declared


def closure(names: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for text in reqs:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(canonicalize_name(req.name))
    return seen


class Refuse(importlib.abc.MetaPathFinder):
    def __init__(self, allowed: set[str], project: str) -> None:
        self.allowed = allowed
        self.project = project
        self.owners = md.packages_distributions()

    def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
        top = name.split(".")[0]
        if path is not None or top in sys.stdlib_module_names or top in sys.builtin_module_names:
            return None
        owners = {canonicalize_name(d) for d in self.owners.get(top, [])}
        if not owners or owners & self.allowed:
            return None  # the project's own modules, or a declared distribution's
        raise ModuleNotFoundError(f"No module named {top!r} (not declared: {', '.join(sorted(owners))})")


def main() -> None:
    root, code = sys.argv[1], sys.argv[2]
    names = {r.name for r in declared(root).requirements}
    sys.meta_path.insert(0, Refuse(closure(names), root))
    sys.path.insert(0, root)
    exec(compile(code, "<declared-only>", "exec"), {"__name__": "__main__"})


if __name__ == "__main__":
    main()
