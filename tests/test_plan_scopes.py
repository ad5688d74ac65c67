"""``codemods/plan/scopes.py``: Python's name binding on stdlib ast, as planners ask it."""

from __future__ import annotations

import ast
import textwrap

from flaskfix.codemods.plan.scopes import Scopes, is_generator_function


def scopes(src: str) -> tuple[Scopes, ast.Module]:
    tree = ast.parse(textwrap.dedent(src))
    return Scopes(tree), tree


def name_at(tree: ast.Module, ident: str, nth: int = 0) -> ast.Name:
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == ident and isinstance(n.ctx, ast.Load)]
    found.sort(key=lambda n: (n.lineno, n.col_offset))
    return found[nth]


def func(tree: ast.Module, name: str) -> ast.AST:
    return next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name)


def test_class_body_names_are_not_seen_by_its_methods() -> None:
    s, tree = scopes("""
        x = 1
        class C:
            x = 2
            y = x
            def m(self):
                return x
    """)
    in_class = name_at(tree, "x", 0)
    in_method = name_at(tree, "x", 1)
    assert isinstance(s.resolve("x", s.scope_of(in_class)), ast.ClassDef)
    assert s.resolve("x", s.scope_of(in_method)) is tree


def test_comprehension_first_iterable_is_read_outside_and_walrus_binds_in_the_function() -> None:
    s, tree = scopes("""
        def f(items):
            out = [y := i for i in items if i]
            return y
    """)
    f = func(tree, "f")
    items = name_at(tree, "items")
    assert s.scope_of(items) is f
    i_read = name_at(tree, "i")
    assert isinstance(s.scope_of(i_read), ast.ListComp)
    assert "y" in s.bindings[f] and "i" not in s.bindings[f]
    assert s.resolve("y", s.scope_of(name_at(tree, "y"))) is f


def test_global_and_nonlocal_send_bindings_outward() -> None:
    s, tree = scopes("""
        counter = 0
        def bump():
            global counter
            counter = counter + 1
        def outer():
            n = 0
            def inner():
                nonlocal n
                n = 5
            return n
    """)
    assert len(s.bindings[tree]["counter"]) == 2
    assert "counter" not in s.bindings[func(tree, "bump")]
    assert len(s.bindings[func(tree, "outer")]["n"]) == 2
    assert s.resolve("counter", s.scope_of(name_at(tree, "counter"))) is tree


def test_qualified_names_through_imports_builtins_and_locals() -> None:
    s, tree = scopes("""
        import os.path
        import numpy as np
        from flask import request as req, abort
        from .models import User
        def len(x):
            return x
        print(os, np, req.args, abort, User, len, sorted)
    """)
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "print")
    got = [s.qualified_names(a) for a in call.args]
    assert got == [{"os"}, {"numpy"}, {"flask.request.args"}, {"flask.abort"}, {".models.User"}, {"len"},
                   {"builtins.sorted"}]
    assert s.is_builtin(call.args[-1], "sorted") and not s.is_builtin(call.args[-2], "len")
    assert s.refers_to(call.args[2].value, "flask.request")


def test_references_include_nested_reads_and_del() -> None:
    s, tree = scopes("""
        def f():
            ids = [1, 2]
            def g():
                return ids
            total = len(ids)
            del ids
    """)
    f = func(tree, "f")
    refs = s.references("ids", f)
    assert [r.lineno for r in refs] == [5, 6, 7]
    assert isinstance(s.parent(refs[-1]), ast.Delete)


def test_expression_for_finds_an_import_already_there() -> None:
    assert scopes("from flask import abort as stop\n")[0].expression_for("flask.abort") == "stop"
    assert scopes("import flask\n")[0].expression_for("flask.abort") == "flask.abort"
    assert scopes("from werkzeug import abort\n")[0].expression_for("flask.abort") is None
    # bound twice: not a reliable name for it
    assert scopes("from flask import abort\nabort = None\n")[0].expression_for("flask.abort") is None


def test_generator_functions_own_yields_only() -> None:
    _, tree = scopes("""
        def gen():
            yield 1
        def plain():
            def inner():
                yield 2
            return [x for x in range(3)]
    """)
    assert is_generator_function(func(tree, "gen"))
    assert not is_generator_function(func(tree, "plain"))


def test_decorators_and_defaults_belong_to_the_enclosing_scope() -> None:
    s, tree = scopes("""
        def outer(app, limit):
            @app.route("/")
            def view(n=limit):
                return n
    """)
    outer = func(tree, "outer")
    assert s.scope_of(name_at(tree, "app")) is outer
    assert s.scope_of(name_at(tree, "limit")) is outer
    assert s.resolve("n", s.scope_of(name_at(tree, "n"))) is func(tree, "view")
