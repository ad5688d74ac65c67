"""flaskfix codemods: the registry.

Every module of this package that defines a ``FlaskfixCodemod`` subclass with an ``ID``
is a codemod; its module name is its id with ``_`` for ``-`` (``bulk_query`` is
``bulk-query``). They run on a file in a fixed order (``ORDER``, then id).

Start-up is cheap: what a run needs before it looks at any file (ids, summaries, text
pre-filters, configuration defaults) comes from ``catalog.py``, a table generated from the
classes (``python -m flaskfix.codemods.docs --catalog``; a test keeps it in step). A
codemod's module, and LibCST with it, is imported only when a file needs it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Mapping

from flaskfix.codemods.changes import Change, Finding

if TYPE_CHECKING:
    from flaskfix.codemods.base import FlaskfixCodemod, RunContext

__all__ = ["Change", "Finding", "FlaskfixCodemod", "RunContext", "Spec", "all_codemods", "get", "ids", "select", "specs"]

_NOT_CODEMODS = {"base", "catalog", "changes", "detection", "docs", "flask_model", "project", "ast_facts", "engine", "index", "manifests", "origins", "plan", "edits"}


def __getattr__(name: str) -> Any:  # FlaskfixCodemod and RunContext without loading LibCST up front
    if name in ("FlaskfixCodemod", "RunContext"):
        from flaskfix.codemods import base

        return getattr(base, name)
    raise AttributeError(name)


class Spec:
    """A codemod as a run sees it before its module is imported: id, order, summary,
    pre-filter and defaults from the catalog. ``prefilter``, ``detect``,
    ``detect_in_project`` and ``settings`` need nothing more (``detection.py``); anything
    else (docs, creating the codemod) loads the class."""

    def __init__(self, cid: str, order: int, module: str, summary: str, prefilter: tuple[str, ...],
                 default_config: Mapping[str, Any], runtime: str = "") -> None:
        self.ID, self.ORDER, self.SUMMARY = cid, order, summary
        self.PREFILTER, self.DEFAULT_CONFIG, self.RUNTIME = prefilter, default_config, runtime
        self._module = module

    def __repr__(self) -> str:
        return f"<codemod {self.ID}>"

    @cached_property
    def _patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, re.MULTILINE) for p in self.PREFILTER)

    def prefilter(self, text: str) -> bool:
        """The class's own test (``FlaskfixCodemod.prefilter``), without loading it."""
        return all(p.search(text) for p in self._patterns)

    def load(self) -> type[FlaskfixCodemod]:
        return _load(self.ID, self._module)

    # the fast passes, without importing the codemod's module (which imports LibCST)

    def detect(self, facts: Any) -> bool:
        from flaskfix.codemods import detection

        found = detection.DETECT.get(self.ID)
        return found(facts) if found is not None else self.load().detect(facts)

    def detect_in_project(self, path: str, text: str, facts: Any, config: Mapping[str, Any], project: Any) -> bool:
        from flaskfix.codemods import detection

        found = detection.DETECT_IN_PROJECT.get(self.ID)
        if found is None:
            return self.load().detect_in_project(path, text, facts, config, project)
        return found(path, text, facts, config, project)

    def settings(self, table: Mapping[str, Any]) -> dict[str, Any]:
        """``FlaskfixCodemod.settings`` from the catalog's defaults."""
        return {**self.DEFAULT_CONFIG, **dict(table)}

    def __getattr__(self, name: str) -> Any:  # detect, WHY, BEHAVIOUR, explain, ...
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> FlaskfixCodemod:
        return self.load()(*args, **kwargs)


@lru_cache(maxsize=None)
def specs() -> tuple[Spec, ...]:
    """Every codemod, in the fixed order, from the catalog (imports no codemod)."""
    from flaskfix.codemods.catalog import CATALOG

    return tuple(sorted((Spec(*row) for row in CATALOG), key=lambda s: (s.ORDER, s.ID)))


@lru_cache(maxsize=None)
def _load(cid: str, module_name: str) -> type[FlaskfixCodemod]:
    from flaskfix.codemods.base import FlaskfixCodemod

    module = importlib.import_module(f"{__name__}.{module_name}")
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, FlaskfixCodemod) and obj.ID == cid and obj.__module__ == module.__name__:
            return obj
    raise RuntimeError(f"codemod {cid!r} is in the catalog but not in codemods/{module_name}.py: regenerate the catalog")


@lru_cache(maxsize=None)
def all_codemods() -> tuple[type[FlaskfixCodemod], ...]:
    """Every codemod class, found by importing every module of this package (slow: loads
    LibCST). The catalog is generated from this, and tests compare the two."""
    from flaskfix.codemods.base import FlaskfixCodemod

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
    return [s.ID for s in specs()]


def unknown_id(codemod_id: str) -> str:
    """The error for an id no codemod has, suggesting the nearest (``bulk_query``: ``bulk-query``)."""
    import difflib

    near = difflib.get_close_matches(codemod_id.replace("_", "-").lower(), ids(), n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}? " if near else ""
    return f"unknown codemod id {codemod_id!r}; {hint}`flaskfix list` shows them"


def config_problems(codemod_id: str, table: dict[str, Any]) -> list[str]:
    """What is wrong with the values of a codemod's configuration table (its class says)."""
    return spec(codemod_id).load().config_problems(table)


def spec(codemod_id: str) -> Spec:
    for s in specs():
        if s.ID == codemod_id:
            return s
    raise KeyError(codemod_id)


def get(codemod_id: str) -> type[FlaskfixCodemod]:
    """The codemod's class (imports its module)."""
    return spec(codemod_id).load()


def select(select: list[str] | None = None, ignore: list[str] | None = None) -> list[Spec]:
    """The codemods to run, in their fixed order. Unknown ids raise ``KeyError``."""
    known = set(ids())
    for cid in (select or []) + (ignore or []):
        if cid not in known:
            raise KeyError(cid)
    return [s for s in specs() if (not select or s.ID in select) and s.ID not in (ignore or [])]
