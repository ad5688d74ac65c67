"""``codemods/plan/scopes.py`` answers what LibCST's scope analysis answers, for every
name a planner asks about (qualified names, and whether the name is the function's
own): on a module full of binding forms, on every fixture input, and on flaskfix's own
source. Planners decide on it; LibCST is then only used to edit."""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider
from libcst.metadata.scope_provider import FunctionScope

from flaskfix.codemods.plan.cache_route import ModuleView
from flaskfix.codemods.plan.scopes import COMPREHENSIONS as COMPS

ROOT = Path(__file__).parents[1]

TRICKY = '''
import os
import os.path as osp
import flask
from flask import session as s, request
from . import helpers
from ..pkg.mod import thing as other
import random

try:
    import ujson as json
except ImportError:
    import json

counter = 0
CACHE = {}


def helper(a, *args, b=1, **kw):
    global counter
    counter += 1
    import datetime
    from time import time as now
    x = [i for i in range(3)]
    y = {k: v for k, v in kw.items()}
    with open("f") as fh, flask.app.app_context() as ctx:
        data = fh.read()
    try:
        pass
    except ValueError as err:
        print(err)
    for p, (q, r) in enumerate([]):
        pass
    if (z := len(x)) > 2:
        pass

    def inner(c):
        nonlocal x
        return a + c + x + s + request.args.get("q") + osp.join("a") + os.environ["X"]

    class Local:
        name = "n"
        size = len(name)

    lam = lambda v: v + a + random.random()
    return inner, Local, lam, json.dumps(CACHE), helpers.go(), other(), now(), datetime.date, data, ctx, err, p, q, r, z, y


class View:
    items = []

    def get(self):
        return s.get("user"), self.items, View.items, open("x").read()
'''


def _normalise(names: set[str]) -> list[str]:
    return sorted("LOCAL" if "<locals>" in q or q.startswith("<local>.") else q for q in names)


def _libcst_answers(text: str) -> dict[tuple[int, int], tuple[list[str], bool]]:
    """(line, column) of each name read in a function -> (qualified names, function's own)."""
    wrapper = MetadataWrapper(cst.parse_module(text))
    positions = wrapper.resolve(PositionProvider)
    scopes = wrapper.resolve(ScopeProvider)
    out = {}
    for node, scope in scopes.items():
        if not isinstance(node, cst.Name) or scope is None:
            continue
        try:
            names = _normalise({q.name for q in scope.get_qualified_names_for(node)})
        except Exception:
            continue
        assignments = list(scope[node.value]) if node.value in scope else []
        own = bool(assignments) and all(isinstance(getattr(a, "scope", None), FunctionScope) for a in assignments)
        if node not in positions:
            continue  # a name inside a string annotation
        pos = positions[node].start
        out[(pos.line, pos.column)] = (names, own)
    return out


def _disagreements(text: str) -> list[tuple[str, int, object, object]]:
    tree = ast.parse(text)
    view = ModuleView(tree, text, "m.py", False)
    expected = _libcst_answers(text)
    # a walrus in a comprehension binds in the enclosing function (PEP 572); LibCST keeps
    # it in the comprehension's scope: there the two differ, and Python agrees with ast
    walrus = {n.target.id for c in ast.walk(tree) if isinstance(c, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp))
              for n in ast.walk(c) if isinstance(n, ast.NamedExpr)}
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)) or view.scopes.enclosing_function(node) is None:
            continue
        key = (node.lineno, node.col_offset)  # ASCII sources: bytes are characters
        if key not in expected or node.id in walrus:
            continue
        found = view.bindings(node) or []
        mine = (_normalise(view.qualified_names(node)), bool(found) and all(k == "function" for _, k in found))
        if mine != expected[key] and not (expected[key] == ([], False) and mine == (["LOCAL"], False)
                                          and isinstance(view.scopes.resolve(node.id, view.scopes.scope_of(node)), COMPS)):
            # (LibCST names no variable of a comprehension with several `for`s)
            out.append((node.id, node.lineno, expected[key], mine))
    return out


def test_tricky_module_agrees() -> None:
    assert _disagreements(TRICKY) == []


@pytest.mark.parametrize("folder", ["cache-route", "error-handler", "global-to-g", "redis-counter", "bulk-query"])
def test_fixture_inputs_agree(folder: str) -> None:
    for path in sorted((ROOT / "tests" / "fixtures" / folder).glob("*/input.py")):
        text = path.read_text(encoding="utf-8")
        if text.isascii():
            assert _disagreements(text) == [], path


def test_flaskfix_own_source_agrees() -> None:
    for path in sorted((ROOT / "codemods").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.isascii():
            assert _disagreements(text) == [], path


def test_attribute_chains_are_qualified_from_their_root() -> None:
    text = "import flask\nfrom flask import request as r\n\ndef f():\n    return flask.session, r.args\n"
    tree = ast.parse(text)
    view = ModuleView(tree, text, "m.py", False)
    ret = tree.body[2].body[0].value
    first, second = ret.elts
    assert view.qualified_names(first) == {"flask.session"}
    assert view.qualified_names(second) == {"flask.request.args"}
