"""The fast passes of every codemod, importable without LibCST.

A run asks each codemod, for each file that passed its text pre-filter, ``detect(facts)``
(facts from one stdlib-ast walk) and ``detect_in_project(...)`` (the project index and the
origin analysis). Both live here, not in the codemod modules, because importing a codemod
module imports ``libcst.codemod`` (0.9 s, most of it ``libcst.matchers``): a project whose
files all end in these passes never pays it. The registry's ``Spec`` calls them by id; each
codemod class's ``detect``/``detect_in_project`` delegate here, so there is one answer.

Each may say yes too often, never no for a file the codemod would rewrite or report on
(tests compare every fixture, an installed-packages corpus and real apps with detection off).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

from flaskfix.codemods.ast_facts import LOOP_LOOKUPS, AstFacts


# -- global-to-g ------------------------------------------------------------------------


def global_to_g(facts: AstFacts) -> bool:
    """A request handler, and a module-level container that some function uses."""
    if not facts.has_handlers:
        return False
    return any(
        name in facts.names_in_functions and any(is_container(v) for v in values)
        for name, values in facts.module_assigns.items()
    )


# -- redis-counter ----------------------------------------------------------------------


def redis_counter(facts: AstFacts) -> bool:
    """A request handler, and a module-level name that some function declares global."""
    return facts.has_handlers and any(name in facts.module_assigns for name in facts.global_names)


# -- bulk-query -------------------------------------------------------------------------


def bulk_query(facts: AstFacts) -> bool:
    """A loop or comprehension calling a lookup method (``LOOP_LOOKUPS``: get, first,
    one...) on something that looks like a query, a session or a select (or db.get_or_404,
    or ``get(Model, x)`` on any name: a plain session may be called anything)."""
    return any(
        attr in LOOP_LOOKUPS
        and ("query" in receiver or "session" in receiver or "select(" in receiver or attr == "get_or_404")
        for attr, receiver in facts.loop_calls
    )


# -- cache-route ------------------------------------------------------------------------


def cache_route(facts: AstFacts) -> bool:
    """Any request handler (what counts as expensive is configurable, so no more)."""
    return facts.has_handlers


def cache_route_in_project(path: str, text: str, facts: AstFacts, config: Mapping[str, Any], project: Any) -> bool:
    """A view is only a candidate when it, or a function it reaches, calls something
    expensive (a configured name, a heuristic word, a whole-table query): the project
    index's call graph over-approximates what cache-route's scan follows, so a file whose
    decorated views reach no such call is skipped before LibCST. Class-based views and
    ``add_url_rule`` registrations make any function or method of the module a possible
    view (which one is registered is the codemod's question): there every function, and
    every call made at import time (decorators, class bodies), is checked."""
    indexed = project.indexed(path)
    if indexed is None:
        return True
    index, module = indexed
    any_function = "add_url_rule" in text or "as_view" in text or bool(VIEW_CLASS.search(text))
    expensive = expensive_test(config)
    if any_function and any(expensive(c.callee) for c in module.module_calls):
        return True
    return any(reaches_expensive(index, module, fn, expensive) for fn in module.functions.values()
               if any_function or any(d.rsplit(".", 1)[-1] in VIEW_DECORATORS for d in fn.decorators))


VIEW_CLASS = re.compile(r"^\s*class\s+\w+\s*\([^)]*View\b", re.M)
#: decorators that make a function a view (``@app.route``, ``@bp.get``...)
VIEW_DECORATORS = frozenset({"route", "get", "post", "put", "patch", "delete"})


def expensive_test(config: Mapping[str, Any]) -> Callable[[str], bool]:
    """``_may_be_expensive`` with the codemod's configuration."""
    names = [str(n) for n in config.get("expensive", [])]
    heuristics = [str(h).lower() for h in config.get("heuristics", []) if h]
    whole_table = bool(config.get("whole_table_queries", True))
    return lambda callee: _may_be_expensive(callee, names, heuristics, whole_table)


def reaches_expensive(index: Any, module: Any, fn: Any, expensive: Callable[[str], bool]) -> bool:
    """May function ``fn`` of ``module`` (index facts), or a project function it reaches
    through the index's call graph, call something ``expensive`` (decorators included)?
    The call graph over-approximates what ``_Scanner`` follows: no means no."""
    if any(expensive(d) for d in fn.decorators):
        return True
    reached_functions = index.reachable(module.module, fn.qualname)
    if len(reached_functions) >= 400:
        return True  # cut short: not proven either way
    return any(expensive(call.callee) for _, reached in reached_functions for call in reached.calls)


def _may_be_expensive(callee: str, names: list[str], heuristics: list[str], whole_table: bool) -> bool:
    """What ``_Scanner._expensive`` could count, judged from the dotted callee alone (yes too often, never no)."""
    last = callee.rsplit(".", 1)[-1]
    if not last:
        return False
    for name in names:
        if name in (last, callee) or name.rsplit(".", 1)[-1] == last:
            return True
    low = last.lower()
    if any(h in low for h in heuristics):
        return True
    # what _Scanner counts: ``X.query.all()`` and ``....query(...).all()``, no arguments
    receiver = callee.rsplit(".", 2)[-2] if callee.count(".") >= 1 else ""
    return whole_table and last in ("all", "count") and receiver in ("query", "(query)")


# -- error-handler ----------------------------------------------------------------------


#: the last names of error-handler's parsers (``PARSERS``: strptime, json.loads ...), called
#: as a function or a method
PARSER_NAMES = frozenset({"strptime", "fromisoformat", "UUID", "loads", "ip_address", "ip_network"})


def error_handler(facts: AstFacts) -> bool:
    """A request handler, and a division, an int()/float() call, a parser or a JSON body access."""
    if not facts.has_handlers:
        return False
    return bool(
        facts.operators & {ast.Div, ast.FloorDiv, ast.Mod}
        or (facts.called_names | facts.called_attrs) & {"int", "float", "divmod", *PARSER_NAMES}
        or facts.attribute_names & {"json", "get_json"}
    )


# -- shared ------------------------------------------------------------------------------


def is_container(value: ast.expr) -> bool:
    if isinstance(value, (ast.Dict, ast.List, ast.Set)):
        return True
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("dict", "list", "set")


# -- eager-load -------------------------------------------------------------------------


def eager_load(facts: AstFacts) -> bool:
    """A model queried (``X.query``, ``select(X)``) and a loop, asked of the text (the
    planner then asks the queried classes for relationships read here)."""
    if facts.text is None:
        return "query" in facts.attribute_names or "select" in facts.called_names or "select" in facts.called_attrs
    from flaskfix.codemods.plan.eager_load import _queried_names

    return bool(_queried_names(facts.text))


def _yes(*_args: Any) -> bool:
    return True


#: codemod id -> its ``detect(facts)``
DETECT: dict[str, Callable[[AstFacts], bool]] = {
    "global-to-g": global_to_g,
    "redis-counter": redis_counter,
    "bulk-query": bulk_query,
    "cache-route": cache_route,
    "error-handler": error_handler,
    "eager-load": eager_load,
}
#: codemod id -> its ``detect_in_project(path, text, facts, config, project)``
DETECT_IN_PROJECT: dict[str, Callable[..., bool]] = {
    "global-to-g": _yes,
    "redis-counter": _yes,
    "bulk-query": _yes,
    "cache-route": cache_route_in_project,
    "error-handler": _yes,  # its planner (stdlib ast, views only) costs less than asking the origins of every function
    "eager-load": _yes,
}
