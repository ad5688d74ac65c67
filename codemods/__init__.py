"""flaskfix codemods: the registry.

Every module of this package that defines a ``FlaskfixCodemod`` subclass with an ``ID``
is a codemod; its module name is its id with ``_`` for ``-`` (``bulk_query`` is
``bulk-query``). They run on a file in a fixed order (``ORDER``, then id).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from flaskfix.codemods.base import Change, Finding, FlaskfixCodemod, RunContext

__all__ = ["Change", "Finding", "FlaskfixCodemod", "RunContext", "all_codemods", "get", "ids", "select"]

_NOT_CODEMODS = {"base", "flask_model", "project", "engine"}


@lru_cache(maxsize=None)
def all_codemods() -> tuple[type[FlaskfixCodemod], ...]:
    found: list[type[FlaskfixCodemod]] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in _NOT_CODEMODS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, FlaskfixCodemod) and obj.ID and obj.__module__ == module.__name__:
                if obj.module_name() != info.name:
                    raise RuntimeError(f"codemod {obj.ID!r} must live in codemods/{obj.module_name()}.py")
                found.append(obj)
    return tuple(sorted(found, key=lambda c: (c.ORDER, c.ID)))


def ids() -> list[str]:
    return [c.ID for c in all_codemods()]


def get(codemod_id: str) -> type[FlaskfixCodemod]:
    for c in all_codemods():
        if c.ID == codemod_id:
            return c
    raise KeyError(codemod_id)


def select(select: list[str] | None = None, ignore: list[str] | None = None) -> list[type[FlaskfixCodemod]]:
    """The codemods to run, in their fixed order. Unknown ids raise ``KeyError``."""
    known = set(ids())
    for cid in (select or []) + (ignore or []):
        if cid not in known:
            raise KeyError(cid)
    chosen = [c for c in all_codemods() if (not select or c.ID in select) and c.ID not in (ignore or [])]
    return chosen
