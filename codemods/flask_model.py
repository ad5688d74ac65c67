"""The Flask model of one module: apps, blueprints, factories, request handlers, aliases.

Every codemod asks this model rather than matching strings, so that
``from flask import g as G``, ``import flask`` and ``flask.g`` are all the same
``flask.g``, and a function is a request handler only when its decorator really
belongs to a Flask app or blueprint (FastAPI's ``@app.get`` is not one).

Built from a LibCST ``MetadataWrapper`` with ``ScopeProvider`` data; qualified names
are resolved lazily from scopes, only for the nodes that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Literal

import libcst as cst
from libcst.metadata import MetadataWrapper, ScopeProvider
from libcst.metadata.scope_provider import Assignment, Scope

from flaskfix.codemods.plan.base import unused_name

APP_CLASSES = frozenset({"flask.Flask", "flask.app.Flask", "apiflask.APIFlask", "apiflask.app.APIFlask"})
BLUEPRINT_CLASSES = frozenset(
    {
        "flask.Blueprint",
        "flask.blueprints.Blueprint",
        "apiflask.APIBlueprint",
        "flask_smorest.Blueprint",
    }
)
VIEW_BASES = frozenset({"flask.views.MethodView", "flask.views.View"})

#: decorator attribute -> the HTTP methods it implies (None: read ``methods=``)
ROUTE_DECORATORS: dict[str, frozenset[str] | None] = {
    "route": None,
    "get": frozenset({"GET"}),
    "post": frozenset({"POST"}),
    "put": frozenset({"PUT"}),
    "patch": frozenset({"PATCH"}),
    "delete": frozenset({"DELETE"}),
}
#: decorators that register functions which run inside a request context
REQUEST_HOOKS = frozenset(
    {
        "before_request",
        "after_request",
        "teardown_request",
        "before_app_request",
        "after_app_request",
        "teardown_app_request",
        "errorhandler",
        "app_errorhandler",
        "context_processor",
        "app_context_processor",
        "url_value_preprocessor",
        "app_url_value_preprocessor",
        "url_defaults",
        "app_url_defaults",
    }
)
HTTP_METHOD_NAMES = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})

ObjectKind = Literal["app", "blueprint"]


@dataclass(eq=False)
class FlaskObject:
    """A Flask app or blueprint bound to a name."""

    name: str
    kind: ObjectKind
    #: where the name is bound: the module, or the factory function that creates it
    scope_node: cst.CSTNode = field(repr=False)
    #: the statement that binds it (None when it is imported from another module)
    statement: cst.CSTNode | None = field(default=None, repr=False)
    #: the ``Flask(...)``/``Blueprint(...)`` call
    call: cst.Call | None = field(default=None, repr=False)
    imported_from: str | None = None


@dataclass(eq=False)
class Handler:
    """A function that Flask runs inside a request context."""

    func: cst.FunctionDef = field(repr=False)
    kind: Literal["view", "hook"]
    #: for hooks: the decorator attribute, e.g. ``"before_request"``
    hook: str | None = None
    owner: FlaskObject | None = None
    #: HTTP methods the view answers; None when they cannot be read statically
    methods: frozenset[str] | None = frozenset({"GET"})
    route_decorators: list[cst.Decorator] = field(default_factory=list, repr=False)
    #: for ``MethodView``/``View`` methods: the class
    view_class: cst.ClassDef | None = field(default=None, repr=False)
    #: registered with ``add_url_rule`` rather than a decorator
    via_add_url_rule: bool = False

    @property
    def name(self) -> str:
        return self.func.name.value


class FlaskModel:
    def __init__(self, wrapper: MetadataWrapper, project: object | None = None, path: str = "") -> None:
        self.wrapper = wrapper
        self.module = wrapper.module
        self.project = project
        self.path = path
        self.scopes = wrapper.resolve(ScopeProvider)
        self.objects: list[FlaskObject] = []
        self.factories: list[cst.FunctionDef] = []
        self.handlers: dict[cst.FunctionDef, Handler] = {}
        self.view_classes: list[cst.ClassDef] = []
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        builder = _Builder(self)
        self.module.visit(builder)
        builder.finish()

    # -- lookups -----------------------------------------------------------------------

    @property
    def apps(self) -> list[FlaskObject]:
        return [o for o in self.objects if o.kind == "app"]

    @property
    def blueprints(self) -> list[FlaskObject]:
        return [o for o in self.objects if o.kind == "blueprint"]

    def handler(self, func: cst.CSTNode) -> Handler | None:
        return self.handlers.get(func)  # type: ignore[arg-type]

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterable[cst.CSTNode]:
        cur = self.parents.get(node)
        while cur is not None:
            yield cur
            cur = self.parents.get(cur)

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """The simple statement line holding ``node`` (a comment at its end is on its last
        line), or ``node`` itself in a compound statement's header."""
        for anc in self.ancestors(node):
            if isinstance(anc, cst.SimpleStatementLine):
                return anc
            if isinstance(anc, (cst.BaseCompoundStatement, cst.SimpleStatementSuite)):
                return node
        return node

    def enclosing_function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        for anc in self.ancestors(node):
            if isinstance(anc, cst.FunctionDef):
                return anc
        return None

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        scope = self.scopes.get(node)
        if scope is None:
            return set()
        try:
            return {q.name for q in scope.get_qualified_names_for(node)}
        except Exception:  # libcst raises on some exotic nodes; treat as unknown
            return set()

    def refers_to(self, node: cst.CSTNode, qualname: str) -> bool:
        return qualname in self.qualified_names(node)

    def module_scope(self) -> Scope:
        return self.scopes[self.module]

    def expression_for(self, qualname: str) -> str | None:
        """Text that names ``qualname`` (e.g. ``"flask.g"``) at module level, if an import
        already makes it reachable: ``"g"``, ``"G"`` (alias) or ``"flask.g"``."""
        module_scope = self.module_scope()
        package, _, attr = qualname.rpartition(".")
        for name, assignments in _assignments_by_name(module_scope):
            for a in assignments:
                if not isinstance(a.node, (cst.Import, cst.ImportFrom)):
                    continue
                for q in module_scope.get_qualified_names_for(name):
                    if q.name == qualname and _single_binding(module_scope, name):
                        return name
                    if q.name == package and _single_binding(module_scope, name):
                        return f"{name}.{attr}"
        return None

    def bound_names(self) -> set[str]:
        """Every name bound anywhere in the module (any scope): for collision-free naming."""
        names: set[str] = set()
        for scope in set(self.scopes.values()):
            if scope is None:
                continue
            for a in scope.assignments:
                names.add(a.name)
        return names

    def free_name(self, base: str, taken: set[str] | None = None) -> str:
        return unused_name(base, self.bound_names() | (taken or set()))


def _assignments_by_name(scope: Scope) -> list[tuple[str, list[Assignment]]]:
    by_name: dict[str, list[Assignment]] = {}
    for a in scope.assignments:
        if isinstance(a, Assignment):
            by_name.setdefault(a.name, []).append(a)
    return sorted(by_name.items())


def _single_binding(scope: Scope, name: str) -> bool:
    return len([a for a in scope.assignments[name]]) == 1


def dotted_name(node: cst.CSTNode) -> str | None:
    """``a.b.c`` for Name/Attribute chains, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def literal_strings(node: cst.BaseExpression) -> list[str] | None:
    """``["GET", "POST"]`` or ``("GET",)`` -> their strings; anything else -> None."""
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        out = []
        for el in node.elements:
            if isinstance(el.value, cst.SimpleString):
                out.append(el.value.evaluated_value)
            else:
                return None
        return [s if isinstance(s, str) else s.decode() for s in out]
    return None


def call_arg(call: cst.Call, keyword: str, position: int | None = None) -> cst.BaseExpression | None:
    for i, arg in enumerate(call.args):
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
        if arg.keyword is None and arg.star == "" and position is not None and i == position:
            return arg.value
    return None


class _Builder(cst.CSTVisitor):
    """One walk: record parents, Flask objects, and candidate handlers; resolve at the end."""

    def __init__(self, model: FlaskModel) -> None:
        self.m = model
        self.stack: list[cst.CSTNode] = []
        self.decorated: list[tuple[cst.FunctionDef, cst.Decorator, str, cst.Name]] = []
        self.url_rules: list[tuple[cst.Call, cst.Name]] = []
        self.classes: list[cst.ClassDef] = []
        self.bindings: dict[cst.Name, tuple[cst.CSTNode, cst.Call]] = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.stack:
            self.m.parents[node] = self.stack[-1]
        self.stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()
        super().on_leave(original_node)

    # bindings of Flask(...) / Blueprint(...) / factory() calls
    def visit_Assign(self, node: cst.Assign) -> None:
        if isinstance(node.value, cst.Call) and len(node.targets) == 1:
            target = node.targets[0].target
            if isinstance(target, cst.Name):
                self.bindings[target] = (node, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.value, cst.Call) and isinstance(node.target, cst.Name):
            self.bindings[node.target] = (node, node.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for dec in node.decorators:
            expr = dec.decorator
            func = expr.func if isinstance(expr, cst.Call) else expr
            if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
                attr = func.attr.value
                if attr in ROUTE_DECORATORS or attr in REQUEST_HOOKS:
                    self.decorated.append((node, dec, attr, func.value))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node)

    def visit_Call(self, node: cst.Call) -> None:
        f = node.func
        if isinstance(f, cst.Attribute) and f.attr.value == "add_url_rule" and isinstance(f.value, cst.Name):
            self.url_rules.append((node, f.value))

    # -- resolution --------------------------------------------------------------------

    def _scope_node(self, node: cst.CSTNode) -> cst.CSTNode:
        for anc in self.m.ancestors(node):
            if isinstance(anc, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return anc
        return self.m.module

    def finish(self) -> None:
        m = self.m
        factories: set[cst.FunctionDef] = set()
        # 1. Flask objects created here
        by_target: dict[cst.Name, FlaskObject] = {}
        for target, (stmt, call) in self.bindings.items():
            kind = self._kind_of_call(call)
            if kind is None:
                continue
            obj = FlaskObject(target.value, kind, self._scope_node(stmt), m.parent(stmt), call)
            by_target[target] = obj
            m.objects.append(obj)
            if kind == "app" and isinstance(obj.scope_node, cst.FunctionDef):
                factories.add(obj.scope_node)
        # a module-level "app = create_app()" where create_app is a factory found above
        for target, (stmt, call) in self.bindings.items():
            if target in by_target:
                continue
            if isinstance(call.func, cst.Name) and any(f.name.value == call.func.value for f in factories):
                obj = FlaskObject(target.value, "app", self._scope_node(stmt), m.parent(stmt), call)
                by_target[target] = obj
                m.objects.append(obj)
        m.factories = sorted(factories, key=lambda f: _order(m, f))
        # 2. decorated handlers
        for func, dec, attr, base in self.decorated:
            owner = self._resolve_object(base, by_target)
            if owner is None:
                continue
            h = m.handlers.get(func)
            if attr in ROUTE_DECORATORS:
                methods = self._methods(dec, attr)
                if h is None or h.kind != "view":
                    h = Handler(func, "view", owner=owner, methods=methods)
                    m.handlers[func] = h
                elif h.methods is not None:
                    h.methods = None if methods is None else h.methods | methods
                h.route_decorators.append(dec)
            elif h is None:
                m.handlers[func] = Handler(func, "hook", hook=attr, owner=owner, methods=None)
        # 3. view classes
        class_names = {c.name.value: c for c in self.classes}
        view_classes: set[cst.ClassDef] = set()
        changed = True
        while changed:
            changed = False
            for cls in self.classes:
                if cls in view_classes:
                    continue
                for base in cls.bases:
                    qn = m.qualified_names(base.value)
                    local = dotted_name(base.value)
                    if qn & VIEW_BASES or (local in class_names and class_names[local] in view_classes):
                        view_classes.add(cls)
                        changed = True
                        break
        m.view_classes = [c for c in self.classes if c in view_classes]
        for cls in m.view_classes:
            for stmt in cls.body.body:
                if isinstance(stmt, cst.FunctionDef):
                    name = stmt.name.value
                    if name in HTTP_METHOD_NAMES or name == "dispatch_request":
                        methods = frozenset({name.upper()}) if name in HTTP_METHOD_NAMES else None
                        m.handlers[stmt] = Handler(stmt, "view", methods=methods, view_class=cls)
        # 4. add_url_rule(..., view_func=f)
        funcs_by_name: dict[str, list[cst.FunctionDef]] = {}
        for func in _functions(m.module):
            funcs_by_name.setdefault(func.name.value, []).append(func)
        for call, base in self.url_rules:
            owner = self._resolve_object(base, by_target)
            if owner is None:
                continue
            vf = call_arg(call, "view_func", 2)
            if isinstance(vf, cst.Name) and len(funcs_by_name.get(vf.value, [])) == 1:
                func = funcs_by_name[vf.value][0]
                if func not in m.handlers:
                    methods_node = call_arg(call, "methods")
                    methods: frozenset[str] | None = frozenset({"GET"})
                    if methods_node is not None:
                        lit = literal_strings(methods_node)
                        methods = frozenset(s.upper() for s in lit) if lit is not None else None
                    m.handlers[func] = Handler(func, "view", owner=owner, methods=methods, via_add_url_rule=True)

    def _kind_of_call(self, call: cst.Call) -> ObjectKind | None:
        names = self.m.qualified_names(call.func)
        if names & APP_CLASSES:
            return "app"
        if names & BLUEPRINT_CLASSES:
            return "blueprint"
        return None

    def _resolve_object(self, base: cst.Name, by_target: dict[cst.Name, FlaskObject]) -> FlaskObject | None:
        scope = self.m.scopes.get(base)
        if scope is None or base.value not in scope:
            return None
        assignments = [a for a in scope[base.value] if isinstance(a, Assignment)]
        if len(assignments) != 1:
            return None  # rebound or unknown: not provably a Flask object
        node = assignments[0].node
        if isinstance(node, cst.Name) and node in by_target:
            return by_target[node]
        if isinstance(node, cst.ImportFrom) and self.m.project is not None:
            return self._resolve_imported(base.value, node)
        return None

    def _resolve_imported(self, local: str, node: cst.ImportFrom) -> FlaskObject | None:
        if isinstance(node.names, cst.ImportStar):
            return None
        for alias in node.names:
            bound = alias.evaluated_alias or alias.evaluated_name
            if bound != local:
                continue
            original = alias.evaluated_name
            module = dotted_name(node.module) if node.module is not None else None
            if module is not None:
                stem = module.split(".")[-1]
            elif node.relative and self.m.path:  # "from . import bp": the package's __init__
                stem = Path(self.m.path).parent.name
            else:
                return None
            project = self.m.project
            if project.assigned_from_call(stem, original, ("Flask", "APIFlask")):  # type: ignore[attr-defined]
                return FlaskObject(local, "app", self.m.module, None, None, imported_from=stem)
            if project.assigned_from_call(stem, original, ("Blueprint", "APIBlueprint")):  # type: ignore[attr-defined]
                return FlaskObject(local, "blueprint", self.m.module, None, None, imported_from=stem)
        return None

    def _methods(self, dec: cst.Decorator, attr: str) -> frozenset[str] | None:
        implied = ROUTE_DECORATORS[attr]
        if implied is not None:
            return implied
        expr = dec.decorator
        if not isinstance(expr, cst.Call):
            return None
        methods = call_arg(expr, "methods")
        if methods is None:
            return frozenset({"GET"})
        lit = literal_strings(methods)
        return frozenset(s.upper() for s in lit) if lit is not None else None


def _functions(module: cst.Module) -> list[cst.FunctionDef]:
    out: list[cst.FunctionDef] = []

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            out.append(node)

    module.visit(V())
    return out


def _order(model: FlaskModel, node: cst.CSTNode) -> int:
    return list(model.parents).index(node) if node in model.parents else 0


def is_generator_function(func: cst.FunctionDef) -> bool:
    """Does ``func`` itself yield (not a nested function, lambda or class)? A generator
    view streams its response, possibly after the request context is gone."""
    found = False

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is func

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Yield(self, node: cst.Yield) -> None:
            nonlocal found
            found = True

    func.visit(V())
    return found


def is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def module_assignments(
    tree: cst.Module,
) -> Iterator[tuple[cst.SimpleStatementLine, cst.BaseSmallStatement, cst.Name, cst.BaseExpression]]:
    """``(line, statement, name, value)`` for every module-level ``name = value`` and
    ``name: T = value`` with a single plain name target."""
    for stmt in tree.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            target = value = None
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value = small.targets[0].target, small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                target, value = small.target, small.value
            if isinstance(target, cst.Name) and value is not None:
                yield stmt, small, target, value
