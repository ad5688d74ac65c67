"""cache-route scans the functions a view calls in other modules without LibCST's scope
analysis (``_LightModuleInfo``): it must answer what that analysis answers for every name
the scan asks about (qualified names, and whether the name is the function's own)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ScopeProvider

from flaskfix.codemods.cache_route import _LightModuleInfo, _ModuleInfo

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


def _disagreements(text: str) -> list[tuple[str, list[str], list[str], bool, bool]]:
    wrapper = MetadataWrapper(cst.parse_module(text))
    module = wrapper.module
    parents: dict = {}

    class Parents(cst.CSTVisitor):
        def __init__(self) -> None:
            self.stack: list[cst.CSTNode] = []

        def on_visit(self, node: cst.CSTNode) -> bool:
            if self.stack:
                parents[node] = self.stack[-1]
            self.stack.append(node)
            return True

        def on_leave(self, original_node: cst.CSTNode) -> None:
            self.stack.pop()

    module.visit(Parents())
    full = _ModuleInfo(module, wrapper.resolve(ScopeProvider), parents, "m.py", False)
    light = _LightModuleInfo(module, "m.py")
    functions = [s for s in module.body if isinstance(s, cst.FunctionDef)]
    functions += [m for c in module.body if isinstance(c, cst.ClassDef) for m in c.body.body if isinstance(m, cst.FunctionDef)]
    out = []
    for func in functions:
        light.prepare(func)
        names: list[cst.Name] = []

        class Names(cst.CSTVisitor):
            def visit_Name(self, node: cst.Name) -> None:
                names.append(node)

        func.body.visit(Names())
        for name in names:
            parent = parents.get(name)
            if isinstance(parent, cst.Attribute) and parent.attr is name:
                continue
            if isinstance(parent, (cst.Param, cst.FunctionDef, cst.ClassDef, cst.ImportAlias, cst.AsName, cst.Arg)):
                continue
            a, b = _normalise(full.qualified_names(name)), _normalise(light.qualified_names(name))
            fb, lb = full.bindings(name) or [], light.bindings(name) or []
            la = bool(fb) and all(k == "function" for _, k in fb)
            lo = bool(lb) and all(k == "function" for _, k in lb)
            if a != b or la != lo:
                out.append((name.value, a, b, la, lo))
    return out


def test_tricky_module_agrees() -> None:
    assert _disagreements(TRICKY) == []


@pytest.mark.parametrize("folder", ["cache-route", "error-handler", "global-to-g", "redis-counter", "bulk-query"])
def test_fixture_inputs_agree(folder: str) -> None:
    for path in sorted((ROOT / "tests" / "fixtures" / folder).glob("*/input.py")):
        assert _disagreements(path.read_text(encoding="utf-8")) == [], path


def test_attribute_chains_are_qualified_from_their_root() -> None:
    module = cst.parse_module("import flask\nfrom flask import request as r\n\ndef f():\n    return flask.session, r.args\n")
    light = _LightModuleInfo(module, "m.py")
    func = module.body[2]
    light.prepare(func)
    ret = func.body.body[0].body[0].value
    first, second = (el.value for el in ret.elements)
    assert light.qualified_names(first) == {"flask.session"}
    assert light.qualified_names(second) == {"flask.request.args"}
