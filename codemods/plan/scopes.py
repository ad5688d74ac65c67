"""Python's name binding on a stdlib ``ast`` tree: which scope a name resolves to, what
binds it there, and what an expression's qualified names are.

It answers what codemods asked LibCST's ``ScopeProvider`` and ``QualifiedNameProvider``
for, at a fraction of the cost (one walk, no metadata wrapper), so that a codemod can
decide on a file without LibCST and parse it with LibCST only to edit it.

The rules are the language's: a function, lambda, comprehension and class body are
scopes; a class body's names are not visible to functions inside it; a comprehension's
first iterable is evaluated in the enclosing scope and a walrus inside a comprehension
binds in the enclosing function; ``global``/``nonlocal`` send a name to the module or
the enclosing function; decorators, defaults and annotations belong to the enclosing
scope. A name bound nowhere is a builtin (``builtins.<name>``).
"""

from __future__ import annotations

import ast
import builtins
from typing import Iterator

_BUILTINS = frozenset(dir(builtins))

Scope = ast.AST  # Module, FunctionDef, AsyncFunctionDef, Lambda, ClassDef or a comprehension
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, *COMPREHENSIONS)


class Scopes:
    """Parents, scopes and bindings of one module, built in one walk.

    A *binding* is the node that binds a name: the ``ast.Name`` target of an assignment,
    ``for``, ``with`` or walrus; an ``ast.arg``; an ``ast.alias`` of an import; a
    ``def``/``class``; an ``except ... as`` handler; a ``match`` capture pattern."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.parents: dict[ast.AST, ast.AST] = {}
        #: scope -> name -> binding nodes, in source order
        self.bindings: dict[Scope, dict[str, list[ast.AST]]] = {tree: {}}
        #: scope -> name -> "global" | "nonlocal"
        self.declared: dict[Scope, dict[str, str]] = {}
        #: scope -> the scope it is nested in
        self.outer: dict[Scope, Scope] = {}
        #: every read (or ``del``) of a name: (Name node, the scope it is read in)
        self.loads: list[tuple[ast.Name, Scope]] = []
        self._scope_of: dict[ast.AST, Scope] = {}
        self._walk(tree, tree)

    # -- building ----------------------------------------------------------------------

    def _bind(self, scope: Scope, name: str, node: ast.AST) -> None:
        declared = self.declared.get(scope, {}).get(name)
        if declared == "global":
            scope = self.tree
        elif declared == "nonlocal":
            outer = self.outer.get(scope)
            while outer is not None and (isinstance(outer, ast.ClassDef) or name not in self.bindings.get(outer, {})):
                outer = self.outer.get(outer)
            scope = outer if outer is not None else scope
        self.bindings.setdefault(scope, {}).setdefault(name, []).append(node)

    def _new_scope(self, node: Scope, outer: Scope) -> None:
        self.outer[node] = outer
        self.bindings.setdefault(node, {})

    def _child(self, node: ast.AST, parent: ast.AST, scope: Scope) -> None:
        self.parents[node] = parent
        self._walk(node, scope)

    def _walk(self, node: ast.AST, scope: Scope) -> None:  # noqa: C901 (one dispatch)
        self._scope_of[node] = scope
        if isinstance(node, FUNCTIONS + (ast.Lambda,)):
            args = node.args
            for d in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
                self._child(d, args, scope)
            if isinstance(node, FUNCTIONS):
                self._bind(scope, node.name, node)
                for dec in node.decorator_list:
                    self._child(dec, node, scope)
                if node.returns is not None:
                    self._child(node.returns, node, scope)
            self._new_scope(node, scope)
            self.parents[args] = node
            for a in [*args.posonlyargs, *args.args, *([args.vararg] if args.vararg else []), *args.kwonlyargs,
                      *([args.kwarg] if args.kwarg else [])]:
                self.parents[a] = args
                self._scope_of[a] = node
                self._bind(node, a.arg, a)
                if a.annotation is not None:
                    self._child(a.annotation, a, scope)
            body = node.body if isinstance(node.body, list) else [node.body]
            for stmt in body:
                self._child(stmt, node, node)
            return
        if isinstance(node, ast.ClassDef):
            self._bind(scope, node.name, node)
            for part in [*node.decorator_list, *node.bases, *node.keywords]:
                self._child(part, node, scope)
            self._new_scope(node, scope)
            for stmt in node.body:
                self._child(stmt, node, node)
            return
        if isinstance(node, COMPREHENSIONS):
            gens = node.generators
            self._child(gens[0].iter, gens[0], scope)
            self._new_scope(node, scope)
            for i, gen in enumerate(gens):
                self.parents[gen] = node
                self._scope_of[gen] = node
                self._child(gen.target, gen, node)
                if i:
                    self._child(gen.iter, gen, node)
                for cond in gen.ifs:
                    self._child(cond, gen, node)
            for part in ([node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]):  # type: ignore[attr-defined]
                self._child(part, node, node)
            return
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                self._bind(scope, node.id, node)
            else:  # a read, or a `del` (which changes what later reads see)
                self.loads.append((node, scope))
            return
        if isinstance(node, ast.NamedExpr):
            target_scope = scope
            while isinstance(target_scope, COMPREHENSIONS):
                target_scope = self.outer[target_scope]
            self.parents[node.target] = node
            self._scope_of[node.target] = scope
            self._bind(target_scope, node.target.id, node.target)
            self._child(node.value, node, scope)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                self.parents[alias] = node
                self._scope_of[alias] = scope
                if alias.name != "*":
                    self._bind(scope, alias.asname or alias.name.split(".")[0], alias)
            return
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            kind = "global" if isinstance(node, ast.Global) else "nonlocal"
            for name in node.names:
                self.declared.setdefault(scope, {})[name] = kind
            return
        if isinstance(node, ast.ExceptHandler) and node.name:
            self._bind(scope, node.name, node)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            self._bind(scope, node.name, node)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self._bind(scope, node.rest, node)
        for child in ast.iter_child_nodes(node):
            self._child(child, node, scope)

    # -- questions ---------------------------------------------------------------------

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self.parents.get(node)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        cur = self.parents.get(node)
        while cur is not None:
            yield cur
            cur = self.parents.get(cur)

    def scope_of(self, node: ast.AST) -> Scope:
        """The scope ``node`` is evaluated in (a function's decorators: the outer one)."""
        return self._scope_of.get(node, self.tree)

    def enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        for anc in self.ancestors(node):
            if isinstance(anc, FUNCTIONS):
                return anc
        return None

    def resolve(self, name: str, scope: Scope) -> Scope | None:
        """The scope whose binding of ``name`` a read in ``scope`` sees; None for a
        builtin (bound nowhere)."""
        declared = self.declared.get(scope, {}).get(name)
        if declared == "global":
            return self.tree if name in self.bindings[self.tree] else None
        cur: Scope | None = self.outer.get(scope) if declared == "nonlocal" else scope
        while cur is not None:
            if (cur is scope or not isinstance(cur, ast.ClassDef)) and name in self.bindings.get(cur, {}):
                return cur
            if self.declared.get(cur, {}).get(name) == "global":
                return self.tree if name in self.bindings[self.tree] else None
            cur = self.outer.get(cur)
        return None

    def binders(self, name: str, scope: Scope) -> list[ast.AST]:
        """What binds ``name`` as read in ``scope`` (every binding in the scope it resolves
        to, in source order); [] for a builtin."""
        found = self.resolve(name, scope)
        return [] if found is None else list(self.bindings[found].get(name, []))

    def references(self, name: str, scope: Scope) -> list[ast.Name]:
        """Every read of ``name`` (in any scope) that resolves to ``scope``'s binding."""
        return [n for n, s in self.loads if n.id == name and self.resolve(name, s) is scope]

    def is_builtin(self, node: ast.AST, name: str) -> bool:
        """``node`` is the name ``name`` and nothing in the module binds it there."""
        return isinstance(node, ast.Name) and node.id == name and self.resolve(name, self.scope_of(node)) is None

    def qualified_names(self, node: ast.AST) -> set[str]:
        """What ``node`` (a name or a dotted attribute chain) may refer to:
        ``builtins.len``, ``flask.request``, ``.models.User`` (a relative import),
        ``helper`` (bound at module level by something other than an import),
        ``<local>.x`` (bound in a function, class or comprehension); nothing for a name
        bound nowhere that is not a builtin."""
        if isinstance(node, ast.Attribute):
            return {f"{q}.{node.attr}" for q in self.qualified_names(node.value)}
        if not isinstance(node, ast.Name):
            return set()
        found = self.resolve(node.id, self.scope_of(node))
        if found is None:
            return {f"builtins.{node.id}"} if node.id in _BUILTINS else set()
        out: set[str] = set()
        for b in self.bindings[found].get(node.id, []):
            if isinstance(b, ast.alias):
                imp = self.parents[b]
                if isinstance(imp, ast.ImportFrom):
                    out.add(f"{'.' * imp.level}{imp.module + '.' if imp.module else ''}{b.name}")
                else:
                    out.add(b.name if b.asname else b.name.split(".")[0])
            else:
                out.add(node.id if found is self.tree else f"<local>.{node.id}")
        return out

    def refers_to(self, node: ast.AST, qualname: str) -> bool:
        return qualname in self.qualified_names(node)

    def bound_names(self) -> set[str]:
        """Every name bound anywhere in the module (for collision-free new names)."""
        return {name for names in self.bindings.values() for name in names}

    def expression_for(self, qualname: str) -> str | None:
        """Text naming ``qualname`` (``"flask.abort"``) at module level through an import
        already there: ``abort``, an alias, or ``flask.abort``; None when there is none."""
        package, _, attr = qualname.rpartition(".")
        module_names = self.bindings[self.tree]
        for name in sorted(module_names):
            nodes = module_names[name]
            if len(nodes) != 1 or not isinstance(nodes[0], ast.alias):
                continue
            imp = self.parents[nodes[0]]
            alias = nodes[0]
            if isinstance(imp, ast.ImportFrom):
                full = f"{'.' * imp.level}{imp.module + '.' if imp.module else ''}{alias.name}"
            else:
                full = alias.name if alias.asname else alias.name.split(".")[0]
            if full == qualname:
                return name
            if full == package:
                return f"{name}.{attr}"
        return None


def is_generator_function(func: ast.AST) -> bool:
    """Does ``func``'s own body (not a nested def, lambda or class) yield?"""
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _start(node: ast.AST) -> tuple[int, int]:
    if hasattr(node, "lineno"):
        return node.lineno, node.col_offset  # type: ignore[attr-defined]
    for child in ast.iter_child_nodes(node):
        return _start(child)
    return (1 << 30, 0)


def source_children(node: ast.AST) -> list[ast.AST]:
    """Child nodes in the order they are written (a def's decorators first, a
    comprehension's element before its ``for``)."""
    if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
        head: list[ast.AST] = list(node.decorator_list)
        if isinstance(node, ast.ClassDef):
            head += [*node.bases, *node.keywords]
        else:
            head += [node.args] + ([node.returns] if node.returns is not None else [])
        return head + list(node.body)
    if isinstance(node, COMPREHENSIONS):
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]  # type: ignore[attr-defined]
        return [*parts, *node.generators]  # type: ignore[attr-defined]
    children = list(ast.iter_child_nodes(node))
    if len(children) > 1:
        children.sort(key=_start)
    return children


def source_order(root: ast.AST) -> list[ast.AST]:
    """``root`` and every node under it, pre-order, in the order they are written."""
    out: list[ast.AST] = []
    stack = [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(source_children(node)))
    return out
