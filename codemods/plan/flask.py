"""The Flask facts of one module, on stdlib ``ast``: apps, blueprints, factories, request
handlers (views and hooks), class-based views.

The same answers as ``codemods/flask_model.py`` (which LibCST transforms still use to
edit), for planners: a function is a request handler only when its decorator, or the
``add_url_rule`` call naming it, belongs to an object provably created by ``Flask(...)``
or ``Blueprint(...)`` (here, by a factory here, or in the project module it is imported
from), so FastAPI's ``@app.get`` is not one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from flaskfix.codemods.ast_facts import dotted
from flaskfix.codemods.plan.scopes import FUNCTIONS, Scopes

APP_CLASSES = frozenset({"flask.Flask", "flask.app.Flask", "apiflask.APIFlask", "apiflask.app.APIFlask"})
BLUEPRINT_CLASSES = frozenset({"flask.Blueprint", "flask.blueprints.Blueprint", "apiflask.APIBlueprint", "flask_smorest.Blueprint"})
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
REQUEST_HOOKS = frozenset({
    "before_request", "after_request", "teardown_request", "before_app_request", "after_app_request",
    "teardown_app_request", "errorhandler", "app_errorhandler", "context_processor", "app_context_processor",
    "url_value_preprocessor", "app_url_value_preprocessor", "url_defaults", "app_url_defaults",
})
HTTP_METHOD_NAMES = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})

Function = Any  # ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(eq=False)
class FlaskObject:
    """A Flask app or blueprint bound to a name."""

    name: str
    kind: Literal["app", "blueprint"]
    #: where the name is bound: the module, or the factory function that creates it
    scope_node: ast.AST = field(repr=False)
    #: the statement that binds it (None when it is imported from another module)
    statement: ast.stmt | None = field(default=None, repr=False)
    call: ast.Call | None = field(default=None, repr=False)
    imported_from: str | None = None


@dataclass(eq=False)
class Handler:
    """A function that Flask runs inside a request context."""

    func: Function = field(repr=False)
    kind: Literal["view", "hook"]
    hook: str | None = None
    owner: FlaskObject | None = None
    #: HTTP methods the view answers; None when they cannot be read statically
    methods: frozenset[str] | None = frozenset({"GET"})
    #: the route decorators' expressions (``app.route("/x")``)
    route_decorators: list[ast.expr] = field(default_factory=list, repr=False)
    view_class: ast.ClassDef | None = field(default=None, repr=False)
    via_add_url_rule: bool = False

    @property
    def name(self) -> str:
        return str(self.func.name)


class FlaskFacts:
    def __init__(self, tree: ast.Module, scopes: Scopes, project: Any = None, path: str = "") -> None:
        self.tree = tree
        self.scopes = scopes
        self.project = project
        self.path = path
        self.objects: list[FlaskObject] = []
        self.factories: list[Function] = []
        self.handlers: dict[ast.AST, Handler] = {}
        self.view_classes: list[ast.ClassDef] = []
        self._build()

    def handler(self, func: ast.AST) -> Handler | None:
        return self.handlers.get(func)

    def add_url_rule_calls(self) -> list[ast.Call]:
        return [n for n in ast.walk(self.tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr == "add_url_rule"]

    # -- building ----------------------------------------------------------------------

    def _scope_node(self, node: ast.AST) -> ast.AST:
        for anc in self.scopes.ancestors(node):
            if isinstance(anc, (*FUNCTIONS, ast.ClassDef, ast.Lambda)):
                return anc
        return self.tree

    def _build(self) -> None:  # noqa: C901 (the four steps of flask_model._Builder.finish)
        bindings: list[tuple[ast.Name, ast.stmt, ast.Call]] = []
        decorated: list[tuple[Function, ast.expr, str, ast.Name]] = []
        url_rules: list[tuple[ast.Call, ast.Name]] = []
        classes: list[ast.ClassDef] = []
        functions: list[Function] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                bindings.append((node.targets[0], node, node.value))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Call) and isinstance(node.target, ast.Name):
                bindings.append((node.target, node, node.value))
            elif isinstance(node, FUNCTIONS):
                functions.append(node)
                for dec in node.decorator_list:
                    func = dec.func if isinstance(dec, ast.Call) else dec
                    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                        if func.attr in ROUTE_DECORATORS or func.attr in REQUEST_HOOKS:
                            decorated.append((node, dec, func.attr, func.value))
            elif isinstance(node, ast.ClassDef):
                classes.append(node)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_url_rule" \
                    and isinstance(node.func.value, ast.Name):
                url_rules.append((node, node.func.value))
        order = {id(n): (n.lineno, n.col_offset) for n, *_ in bindings}
        bindings.sort(key=lambda b: order[id(b[0])])
        functions.sort(key=lambda f: (f.lineno, f.col_offset))
        decorated.sort(key=lambda d: (d[0].lineno, d[0].col_offset))
        classes.sort(key=lambda c: (c.lineno, c.col_offset))
        url_rules.sort(key=lambda u: (u[0].lineno, u[0].col_offset))
        factories: list[Function] = []
        # 1. Flask objects created here
        by_target: dict[ast.Name, FlaskObject] = {}
        for target, stmt, call in bindings:
            kind = self._kind_of_call(call)
            if kind is None:
                continue
            obj = FlaskObject(target.id, kind, self._scope_node(stmt), stmt, call)
            by_target[target] = obj
            self.objects.append(obj)
            if kind == "app" and isinstance(obj.scope_node, FUNCTIONS) and obj.scope_node not in factories:
                factories.append(obj.scope_node)
        # a module-level "app = create_app()" where create_app is a factory found above
        for target, stmt, call in bindings:
            if target in by_target:
                continue
            if isinstance(call.func, ast.Name) and any(f.name == call.func.id for f in factories):
                obj = FlaskObject(target.id, "app", self._scope_node(stmt), stmt, call)
                by_target[target] = obj
                self.objects.append(obj)
        self.factories = factories
        # 2. decorated handlers
        for func, dec, attr, base in decorated:
            owner = self._resolve_object(base, by_target)
            if owner is None:
                continue
            h = self.handlers.get(func)
            if attr in ROUTE_DECORATORS:
                methods = _methods(dec, attr)
                if h is None or h.kind != "view":
                    h = Handler(func, "view", owner=owner, methods=methods)
                    self.handlers[func] = h
                elif h.methods is not None:
                    h.methods = None if methods is None else h.methods | methods
                h.route_decorators.append(dec)
            elif h is None:
                self.handlers[func] = Handler(func, "hook", hook=attr, owner=owner, methods=None)
        # 3. view classes
        class_names = {c.name: c for c in classes}
        view_classes: list[ast.ClassDef] = []
        changed = True
        while changed:
            changed = False
            for cls in classes:
                if cls in view_classes:
                    continue
                for base_expr in cls.bases:
                    local = dotted(base_expr)
                    if self.scopes.qualified_names(base_expr) & VIEW_BASES or (local in class_names and class_names[local] in view_classes):
                        view_classes.append(cls)
                        changed = True
                        break
        self.view_classes = [c for c in classes if c in view_classes]
        for cls in self.view_classes:
            for stmt in cls.body:
                if isinstance(stmt, FUNCTIONS):
                    name = stmt.name
                    if name in HTTP_METHOD_NAMES or name == "dispatch_request":
                        methods = frozenset({name.upper()}) if name in HTTP_METHOD_NAMES else None
                        self.handlers[stmt] = Handler(stmt, "view", methods=methods, view_class=cls)
        # 4. add_url_rule(..., view_func=f)
        funcs_by_name: dict[str, list[Function]] = {}
        for func in functions:
            funcs_by_name.setdefault(func.name, []).append(func)
        for call, base in url_rules:
            owner = self._resolve_object(base, by_target)
            if owner is None:
                continue
            vf = call_arg(call, "view_func", 2)
            if isinstance(vf, ast.Name) and len(funcs_by_name.get(vf.id, [])) == 1:
                func = funcs_by_name[vf.id][0]
                if func not in self.handlers:
                    methods_node = call_arg(call, "methods")
                    methods: frozenset[str] | None = frozenset({"GET"})
                    if methods_node is not None:
                        lit = literal_strings(methods_node)
                        methods = frozenset(s.upper() for s in lit) if lit is not None else None
                    self.handlers[func] = Handler(func, "view", owner=owner, methods=methods, via_add_url_rule=True)

    def _kind_of_call(self, call: ast.Call) -> Literal["app", "blueprint"] | None:
        names = self.scopes.qualified_names(call.func)
        if names & APP_CLASSES:
            return "app"
        if names & BLUEPRINT_CLASSES:
            return "blueprint"
        return None

    def _resolve_object(self, base: ast.Name, by_target: dict[ast.Name, FlaskObject]) -> FlaskObject | None:
        binders = self.scopes.binders(base.id, self.scopes.scope_of(base))
        if len(binders) != 1:
            return None  # rebound or unknown: not provably a Flask object
        node = binders[0]
        if isinstance(node, ast.Name) and node in by_target:
            return by_target[node]
        if isinstance(node, ast.alias) and isinstance(self.scopes.parent(node), ast.ImportFrom) and self.project is not None:
            return self._resolve_imported(base.id, node)
        return None

    def _resolve_imported(self, local: str, alias: ast.alias) -> FlaskObject | None:
        imp = self.scopes.parent(alias)
        assert isinstance(imp, ast.ImportFrom)
        if imp.module is not None:
            stem = imp.module.split(".")[-1]
        elif imp.level and self.path:  # "from . import bp": the package's __init__
            stem = Path(self.path).parent.name
        else:
            return None
        if self.project.assigned_from_call(stem, alias.name, ("Flask", "APIFlask")):
            return FlaskObject(local, "app", self.tree, None, None, imported_from=stem)
        if self.project.assigned_from_call(stem, alias.name, ("Blueprint", "APIBlueprint")):
            return FlaskObject(local, "blueprint", self.tree, None, None, imported_from=stem)
        return None


def call_arg(call: ast.Call, keyword: str, position: int | None = None) -> ast.expr | None:
    """The argument passed as ``keyword=`` or, when given, at ``position``."""
    for k in call.keywords:
        if k.arg == keyword:
            return k.value
    if position is not None and position < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return None


def literal_strings(node: ast.AST) -> list[str] | None:
    """``["GET", "POST"]`` or ``("GET",)`` -> their strings; anything else -> None."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        out = []
        for el in node.elts:
            if isinstance(el, ast.Constant) and isinstance(el.value, (str, bytes)):
                out.append(el.value if isinstance(el.value, str) else el.value.decode())
            else:
                return None
        return out
    return None


def _methods(dec: ast.expr, attr: str) -> frozenset[str] | None:
    implied = ROUTE_DECORATORS[attr]
    if implied is not None:
        return implied
    if not isinstance(dec, ast.Call):
        return None
    methods = call_arg(dec, "methods")
    if methods is None:
        return frozenset({"GET"})
    lit = literal_strings(methods)
    return frozenset(s.upper() for s in lit) if lit is not None else None
