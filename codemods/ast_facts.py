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

#: the lookup methods whose calls in loops bulk-query's detection asks about
#: the lookup methods bulk-query recognises (plan/bulk_query.py uses this very set)
LOOP_LOOKUPS = frozenset({"get", "get_or_404", "first", "one_or_none", "scalar", "one", "scalar_one_or_none", "scalar_one"})

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
    """Lazily computed, in two tiers: what only statements tell (imports, decorators,
    class bases, ``global``, module-level assignments: a walk over statements only) and
    what needs every node (calls, attributes, operators, names in functions, lookups in
    loops: one walk over the whole tree, made only when a detector asks for one of them).
    ``text``, when given, lets ``has_handlers`` skip the whole-tree walk for a module that
    never names ``add_url_rule``."""

    def __init__(self, tree: ast.Module, text: str | None = None) -> None:
        self.tree = tree
        self.text = text

    # -- statements ------------------------------------------------------------------------

    @cached_property
    def module_assigns(self) -> dict[str, list[ast.expr]]:
        """module-level ``name = value`` / ``name: T = value``"""
        out: dict[str, list[ast.expr]] = {}
        for stmt in self.tree.body:
            if isinstance(stmt, ast.Assign):
                for t in stmt.targets:
                    if isinstance(t, ast.Name):
                        out.setdefault(t.id, []).append(stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                out.setdefault(stmt.target.id, []).append(stmt.value)
        return out

    @cached_property
    def _statement_facts(self) -> tuple[set[str], set[tuple[str, str]], dict[str, str], set[str], set[str]]:
        decorator_attrs: set[str] = set()
        decorators: set[tuple[str, str]] = set()
        imported_from: dict[str, str] = {}
        base_names: set[str] = set()
        global_names: set[str] = set()
        stack: list[ast.stmt] = list(self.tree.body)
        while stack:
            stmt = stack.pop()
            cls = type(stmt)
            if cls is ast.FunctionDef or cls is ast.AsyncFunctionDef:
                for dec in stmt.decorator_list:  # type: ignore[attr-defined]
                    target = dec.func if isinstance(dec, ast.Call) else dec
                    if isinstance(target, ast.Attribute):
                        decorator_attrs.add(target.attr)
                        root = target.value
                        while isinstance(root, ast.Attribute):
                            root = root.value
                        if isinstance(root, ast.Name):
                            decorators.add((target.attr, root.id))
            elif cls is ast.ClassDef:
                for base in stmt.bases:  # type: ignore[attr-defined]
                    name = dotted(base)
                    if name:
                        base_names.add(name.rsplit(".", 1)[-1])
            elif cls is ast.Import:
                for alias in stmt.names:  # type: ignore[attr-defined]
                    local = alias.asname or alias.name.split(".")[0]
                    imported_from[local] = alias.name.split(".")[0]
                continue
            elif cls is ast.ImportFrom:
                if not stmt.level and stmt.module:  # type: ignore[attr-defined]
                    for alias in stmt.names:  # type: ignore[attr-defined]
                        imported_from[alias.asname or alias.name] = stmt.module.split(".")[0]  # type: ignore[attr-defined]
                continue
            elif cls is ast.Global:
                global_names.update(stmt.names)  # type: ignore[attr-defined]
                continue
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                block = getattr(stmt, field, None)
                if block:
                    for item in block:
                        if isinstance(item, (ast.ExceptHandler, ast.match_case)):
                            stack.extend(item.body)
                        elif isinstance(item, ast.stmt):
                            stack.append(item)
        return decorator_attrs, decorators, imported_from, base_names, global_names

    @property
    def decorator_attrs(self) -> set[str]:
        """attribute names used as decorators (``@x.route(...)`` -> "route")"""
        return self._statement_facts[0]

    @property
    def decorators(self) -> set[tuple[str, str]]:
        """(attribute, root name of the receiver) of those decorators (``@x.y.route`` -> ("route", "x"))"""
        return self._statement_facts[1]

    @property
    def imported_from(self) -> dict[str, str]:
        """local name -> the top-level module it was imported from (any scope)"""
        return self._statement_facts[2]

    @property
    def base_names(self) -> set[str]:
        """last names of class bases (``class V(views.MethodView)`` -> "MethodView")"""
        return self._statement_facts[3]

    @property
    def global_names(self) -> set[str]:
        """names declared ``global`` anywhere"""
        return self._statement_facts[4]

    # -- every node ------------------------------------------------------------------------

    @cached_property
    def _node_facts(self) -> tuple[set[str], set[str], set[str], set[type], set[str], list[tuple[str, str]]]:
        called_attrs: set[str] = set()
        called_names: set[str] = set()
        names_in_functions: set[str] = set()
        operators: set[type] = set()
        attribute_names: set[str] = set()
        loop_calls: list[tuple[str, str]] = []
        functions = (ast.FunctionDef, ast.AsyncFunctionDef)
        loops = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
        lookups = LOOP_LOOKUPS
        iter_children = ast.iter_child_nodes
        stack: list[tuple[ast.AST, bool, bool]] = [(self.tree, False, False)]
        pop, push = stack.pop, stack.append
        while stack:
            node, in_function, in_loop = pop()
            for child in iter_children(node):
                cls = type(child)
                f, lp = in_function, in_loop
                if cls is ast.Name:
                    if in_function:
                        names_in_functions.add(child.id)  # type: ignore[attr-defined]
                    continue  # (a Name has only its context below it)
                if cls is ast.Attribute:
                    attribute_names.add(child.attr)  # type: ignore[attr-defined]
                elif cls is ast.Call:
                    func = child.func  # type: ignore[attr-defined]
                    if isinstance(func, ast.Attribute):
                        called_attrs.add(func.attr)
                        if in_loop and func.attr in lookups:
                            args = child.args  # type: ignore[attr-defined]
                            receiver = ast.unparse(func.value)
                            if func.attr == "get" and len(args) == 2 and isinstance(args[0], ast.Name) and args[0].id[:1].isupper():
                                receiver = f"session? {receiver}"  # ``s.get(Model, x)``: maybe a plain session's
                            loop_calls.append((func.attr, receiver))
                    elif isinstance(func, ast.Name):
                        called_names.add(func.id)
                elif cls is ast.BinOp or cls is ast.AugAssign:
                    operators.add(type(child.op))  # type: ignore[attr-defined]
                elif cls in functions:
                    f, lp = True, False
                elif cls is ast.Lambda:
                    f = True
                elif cls in loops:
                    lp = True
                push((child, f, lp))
        return called_attrs, called_names, names_in_functions, operators, attribute_names, loop_calls

    @property
    def called_attrs(self) -> set[str]:
        """attribute names of called methods (``a.b.get(...)`` -> "get")"""
        return self._node_facts[0]

    @property
    def called_names(self) -> set[str]:
        """names called directly (``int(...)`` -> "int")"""
        return self._node_facts[1]

    @property
    def names_in_functions(self) -> set[str]:
        """names read or written inside function bodies"""
        return self._node_facts[2]

    @property
    def operators(self) -> set[type]:
        """binary operators used anywhere (``ast.Div`` ...), including augmented assignment"""
        return self._node_facts[3]

    @property
    def attribute_names(self) -> set[str]:
        """every attribute name read or written (``request.json`` -> "json")"""
        return self._node_facts[4]

    @property
    def loop_calls(self) -> list[tuple[str, str]]:
        """calls of a lookup method (``LOOP_LOOKUPS``) made inside loops and comprehensions:
        (method attribute, the receiver's source)"""
        return self._node_facts[5]

    @cached_property
    def has_handlers(self) -> bool:
        """Could any function here be a Flask request handler (decorated, a view class,
        or registered with ``add_url_rule``)?"""
        decorated = any(
            attr in HANDLER_DECORATORS and self.imported_from.get(root) not in NOT_FLASK_MODULES
            for attr, root in self.decorators
        )
        if decorated or self.base_names & {"MethodView", "View"}:
            return True
        if self.text is not None and "add_url_rule" not in self.text:
            return False  # (no need to walk every node to find a call of it)
        return "add_url_rule" in self.called_attrs
