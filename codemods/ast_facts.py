"""Facts about a module from the standard library ``ast``, gathered in one walk.

The fast detection pass: LibCST parsing plus metadata costs 10-170x a stdlib parse, so
each codemod's ``detect(facts)`` decides from these facts, cheaply, whether a file may hold
a candidate at all. Facts are deliberately coarse (names, not meanings): a detector may
say yes too often (the codemod then finds nothing), never no for a file the codemod would
rewrite. The test suite checks that on every fixture and on a corpus.
"""

from __future__ import annotations

import ast
import sys
from functools import cached_property

#: decorator attributes that make a function a Flask request handler (see flask_model)
HANDLER_DECORATORS = frozenset(
    {
        "route", "get", "post", "put", "patch", "delete",
        "before_request", "after_request", "teardown_request",
        "before_app_request", "after_app_request", "teardown_app_request",
        "errorhandler", "app_errorhandler", "context_processor", "app_context_processor",
        "url_value_preprocessor", "app_url_value_preprocessor", "url_defaults", "app_url_defaults",
    }
)  # fmt: skip


#: text pre-filter matching every file whose stdlib facts can satisfy ``has_handlers``:
#: a decorator ``@<name>.<handler attribute>`` (dots may carry spaces), ``add_url_rule``
#: or a ``View`` base class. Codemods that need a request handler start their PREFILTER
#: with it, so the fast pass does not even walk files without one.
HANDLER_TEXT = (
    r"@\s*\(?\s*\w+(?:\s*\.\s*\w+)*\s*\.\s*(?:" + "|".join(sorted(HANDLER_DECORATORS)) + r")\b"
    r"|\badd_url_rule\b|View\b"
)

#: decorator receivers imported from these are never Flask apps or blueprints
#: (``@mock.patch`` looks like an HTTP-method decorator)
NOT_FLASK_MODULES = frozenset(sys.stdlib_module_names) | {"mock", "pytest", "fastapi", "starlette", "django"}


def dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class AstFacts:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        #: module-level ``name = value`` / ``name: T = value``
        self.module_assigns: dict[str, list[ast.expr]] = {}
        #: attribute names used as decorators (``@x.route(...)`` -> "route")
        self.decorator_attrs: set[str] = set()
        #: (attribute, root name of the receiver) of those decorators (``@x.y.route`` -> ("route", "x"))
        self.decorators: set[tuple[str, str]] = set()
        #: local name -> the top-level module it was imported from (any scope)
        self.imported_from: dict[str, str] = {}
        #: last names of class bases (``class V(views.MethodView)`` -> "MethodView")
        self.base_names: set[str] = set()
        #: attribute names of called methods (``a.b.get(...)`` -> "get")
        self.called_attrs: set[str] = set()
        #: names called directly (``int(...)`` -> "int")
        self.called_names: set[str] = set()
        #: names read or written inside function bodies
        self.names_in_functions: set[str] = set()
        #: names declared ``global`` anywhere
        self.global_names: set[str] = set()
        #: binary operators used anywhere (``ast.Div`` ...), including augmented assignment
        self.operators: set[type] = set()
        #: every attribute name read or written (``request.json`` -> "json")
        self.attribute_names: set[str] = set()
        #: calls made inside loops and comprehensions: (method attribute, dotted receiver)
        self.loop_calls: list[tuple[str, str]] = []
        self._walk()

    def _walk(self) -> None:
        for stmt in self.tree.body:
            if isinstance(stmt, ast.Assign):
                for t in stmt.targets:
                    if isinstance(t, ast.Name):
                        self.module_assigns.setdefault(t.id, []).append(stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                self.module_assigns.setdefault(stmt.target.id, []).append(stmt.value)
        self._visit(self.tree, in_function=False, in_loop=False)

    def _visit(self, node: ast.AST, in_function: bool, in_loop: bool) -> None:
        # an explicit stack would be faster, but this runs only on prefiltered files
        for child in ast.iter_child_nodes(node):
            cls = type(child)
            f, lp = in_function, in_loop
            if cls in (ast.FunctionDef, ast.AsyncFunctionDef):
                for dec in child.decorator_list:  # type: ignore[attr-defined]
                    target = dec.func if isinstance(dec, ast.Call) else dec
                    if isinstance(target, ast.Attribute):
                        self.decorator_attrs.add(target.attr)
                        root = target.value
                        while isinstance(root, ast.Attribute):
                            root = root.value
                        if isinstance(root, ast.Name):
                            self.decorators.add((target.attr, root.id))
                f, lp = True, False
            elif cls is ast.Lambda:
                f = True
            elif cls is ast.ClassDef:
                for base in child.bases:  # type: ignore[attr-defined]
                    name = dotted(base)
                    if name:
                        self.base_names.add(name.rsplit(".", 1)[-1])
            elif cls in (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp):
                lp = True
            elif cls is ast.Call:
                func = child.func  # type: ignore[attr-defined]
                if isinstance(func, ast.Attribute):
                    self.called_attrs.add(func.attr)
                    if in_loop:
                        self.loop_calls.append((func.attr, ast.unparse(func.value)))
                elif isinstance(func, ast.Name):
                    self.called_names.add(func.id)
            elif cls is ast.Attribute:
                self.attribute_names.add(child.attr)  # type: ignore[attr-defined]
            elif cls is ast.Name and in_function:
                self.names_in_functions.add(child.id)  # type: ignore[attr-defined]
            elif cls is ast.Import:
                for alias in child.names:  # type: ignore[attr-defined]
                    local = alias.asname or alias.name.split(".")[0]
                    self.imported_from[local] = alias.name.split(".")[0]
            elif cls is ast.ImportFrom:
                if not child.level and child.module:  # type: ignore[attr-defined]
                    for alias in child.names:  # type: ignore[attr-defined]
                        self.imported_from[alias.asname or alias.name] = child.module.split(".")[0]  # type: ignore[attr-defined]
            elif cls is ast.Global:
                self.global_names.update(child.names)  # type: ignore[attr-defined]
            elif cls is ast.BinOp or cls is ast.AugAssign:
                self.operators.add(type(child.op))  # type: ignore[attr-defined]
            self._visit(child, f, lp)

    @cached_property
    def has_handlers(self) -> bool:
        """Could any function here be a Flask request handler (decorated, a view class,
        or registered with ``add_url_rule``)?"""
        decorated = any(
            attr in HANDLER_DECORATORS and self.imported_from.get(root) not in NOT_FLASK_MODULES
            for attr, root in self.decorators
        )
        return bool(decorated or "add_url_rule" in self.called_attrs or self.base_names & {"MethodView", "View"})
