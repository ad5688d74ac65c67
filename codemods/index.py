"""The project index: what every module of the project says, from one stdlib-``ast`` walk
per file, and the project-wide questions codemods ask of it.

``module_facts(path, module, text)`` reads one file into a ``ModuleFacts`` (plain data:
picklable, so it can be cached by the file's content and built in worker processes).
``Index`` holds the facts of every module and answers, each in one place:

* ``resolve(module, name)``: what a name in a module is, following imports (relative,
  packages' ``__init__``, aliases, re-exports) to the module that defines it;
* ``qualify(module, dotted)``: the qualified name of an expression (``Flask`` ->
  ``flask.Flask``, ``db.Model`` -> ``app.extensions.db.Model``);
* ``apps()``, ``blueprints()``, ``factories()``: Flask objects, and where each blueprint is
  registered (with its ``url_prefix``);
* ``error_handlers()``: handlers in every registration form: ``@x.errorhandler(E)``,
  ``@bp.app_errorhandler(E)``, ``x.register_error_handler(E, f)`` with variables, loops over
  ``default_exceptions`` or tuples, ``handle_exception``/``handle_user_exception``
  overrides on Flask subclasses, Flask-RESTful/RESTX ``Api`` objects (which answer errors
  themselves);
* ``exception_observers()``: ``got_request_exception`` subscribers and error-reporting
  integrations that subscribe without naming it (``sentry_sdk.init`` and the like);
* ``extensions(kind)``: Flask-Caching ``Cache``, Redis clients, SQLAlchemy objects, and
  where ``init_app`` is called on them;
* ``models()``: SQLAlchemy models: primary key, relationships (target, ``lazy``,
  ``secondary``, ``order_by``), custom query classes;
* ``template_folders()``; and ``callers(module, function)``: the call graph.

Declared dependencies live beside it, in ``manifests.py``. The index never fails: a file
it cannot parse contributes no facts (the engine reports it where it is processed).
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import Iterable, Iterator

from flaskfix.codemods.ast_facts import dotted

#: how a Flask object is made
FLASK_CLASSES = {"flask.Flask": "app", "flask.app.Flask": "app", "flask.Blueprint": "blueprint",
                 "flask.blueprints.Blueprint": "blueprint", "apiflask.APIFlask": "app", "apiflask.APIBlueprint": "blueprint",
                 "quart.Quart": "app", "flask_smorest.Blueprint": "blueprint"}
#: extension classes (and client factories) the codemods use or must see
EXTENSIONS = {
    "flask_caching.Cache": "cache",
    "redis.Redis": "redis", "redis.StrictRedis": "redis", "redis.from_url": "redis", "redis.Redis.from_url": "redis",
    "redis.StrictRedis.from_url": "redis", "flask_redis.FlaskRedis": "redis",
    "flask_sqlalchemy.SQLAlchemy": "sqlalchemy",
    "flask_restful.Api": "restful", "flask_restx.Api": "restful", "flask_restplus.Api": "restful",
}
#: calls that subscribe to Flask's ``got_request_exception`` without naming it
OBSERVING_CALLS = {
    "sentry_sdk.init": "Sentry's Flask integration (sentry_sdk.init enables it and listens to got_request_exception)",
    "raven.contrib.flask.Sentry": "raven's Flask client (listens to got_request_exception)",
    "rollbar.contrib.flask.report_exception": "Rollbar's Flask integration",
    "bugsnag.flask.handle_exceptions": "Bugsnag's Flask integration (listens to got_request_exception)",
    "airbrake.Notifier": "Airbrake",
    "newrelic.agent.initialize": "New Relic's agent",
    "ddtrace.patch_all": "Datadog's tracer (ddtrace.patch_all)",
    "elasticapm.contrib.flask.ElasticAPM": "Elastic APM's Flask integration (listens to got_request_exception)",
    "opentelemetry.instrumentation.flask.FlaskInstrumentor": "OpenTelemetry's Flask instrumentation",
}
_FLASK_LAST = frozenset(q.rsplit(".", 1)[-1] for q in FLASK_CLASSES)
_EXTENSION_LAST = frozenset(q.rsplit(".", 1)[-1] for q in EXTENSIONS)
_OBSERVING_LAST = frozenset(q.rsplit(".", 1)[-1] for q in OBSERVING_CALLS) | {"connect", "connect_via"}
_ARGUMENTS_READ = frozenset({"register_blueprint", "init_app", "register_error_handler", "errorhandler",
                             "app_errorhandler", "connect", "connect_via", "init"}) | _FLASK_LAST | _EXTENSION_LAST
REGISTER_METHODS = frozenset({"errorhandler", "app_errorhandler", "register_error_handler"})
RELATIONSHIP_CALLS = frozenset({"relationship", "relation", "db.relationship", "orm.relationship"})


# -- the facts of one module -----------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A call in a function (or at module level): what is called, where, and the
    positional/keyword arguments as dotted names or literals (``None`` otherwise)."""

    callee: str  # dotted, as written (``bp.register_error_handler``)
    line: int
    args: tuple[object, ...] = ()
    kwargs: tuple[tuple[str, object], ...] = ()

    def kwarg(self, name: str) -> object:
        return dict(self.kwargs).get(name)


@dataclass(frozen=True)
class Function:
    name: str
    qualname: str  # ``create_app`` or ``Cls.method`` or ``outer.inner``
    line: int
    params: tuple[str, ...]
    decorators: tuple[str, ...]  # dotted callee of each decorator (``app.route``)
    calls: tuple[Call, ...]
    is_async: bool = False
    #: names this function returns (``return app``)
    returns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Relationship:
    attr: str
    target: str | None  # the class name given, e.g. "User"
    lazy: str  # "select" (the default) unless given as a literal; "?" when not literal
    secondary: bool = False
    order_by: bool = False
    uselist: bool | None = None
    line: int = 0
    #: one positional argument and only keywords that change neither which rows are related
    #: nor how they are joined (no ``primaryjoin``, ``foreign_keys``, ``secondary``...)
    plain: bool = False

#: relationship() keywords that leave the join to the one foreign key between the two tables
PLAIN_RELATIONSHIP_KEYWORDS = frozenset({"back_populates", "backref", "lazy", "viewonly", "cascade", "passive_deletes",
                                         "overlaps", "doc", "info", "single_parent", "uselist", "order_by"})


@dataclass(frozen=True)
class Model:
    name: str
    line: int
    bases: tuple[str, ...]
    primary_key: str = ""
    pk_type: str | None = None
    problem: str | None = None
    relationships: tuple[Relationship, ...] = ()
    query_class: str | None = None


@dataclass(frozen=True)
class Binding:
    """``name = callee(...)`` in a module or function: the objects the index tracks."""

    name: str
    callee: str  # dotted, as written
    line: int
    scope: str  # "" for module level, else the function's qualname
    call: Call


@dataclass(frozen=True)
class HandlerRegistration:
    """One error-handler registration, as written.

    ``keys`` are the exceptions or codes it covers: ``("class", "ZeroDivisionError")``,
    ``("code", 500)``, ``("all", "<why>")`` when it covers every exception (a loop over
    ``default_exceptions``, an ``Exception`` handler, ``handle_exception`` overridden),
    ``("unknown", "<source>")`` when flaskfix cannot tell."""

    receiver: str  # ``app``, ``bp``, ``self`` ... (dotted, as written); "" for overrides
    method: str  # errorhandler | app_errorhandler | register_error_handler | override | api
    keys: tuple[tuple[str, object], ...]
    handler: str | None
    line: int
    scope: str


@dataclass
class ModuleFacts:
    path: str
    module: str  # dotted module name from the project root ("" when not importable)
    is_package: bool
    parsed: bool = True
    #: local name -> (absolute module, attribute or None): ``from .x import y as z`` ->
    #: z: ("pkg.x", "y"); ``import a.b as c`` -> c: ("a.b", None); ``import a.b`` -> a: ("a", None)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    functions: dict[str, Function] = field(default_factory=dict)
    classes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> bases (dotted)
    methods: dict[str, tuple[str, ...]] = field(default_factory=dict)  # class -> method names
    #: module-level names and what they are bound to: a literal's type name ("int",
    #: "dict"...), "call:<dotted callee>", "def", "class", "import" or "other"
    globals: dict[str, list[str]] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)  # every ``name = call(...)``
    module_calls: tuple[Call, ...] = ()  # calls made at import time (module level)
    handlers: list[HandlerRegistration] = field(default_factory=list)
    models: dict[str, Model] = field(default_factory=dict)

    def all_calls(self) -> list[tuple[str, Call]]:
        """(calling function's qualname, "" at module level; call) of every call in the module."""
        return [(fn.qualname, c) for fn in self.functions.values() for c in fn.calls] + [("", c) for c in self.module_calls]


def module_name(root: str | Path, path: str) -> tuple[str, bool]:
    """The dotted module name of ``path`` below ``root``, and whether it is a package."""
    try:
        rel = Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(root)))
    except ValueError:
        rel = Path(os.path.basename(path))
    parts = list(rel.with_suffix("").parts)
    package = bool(parts) and parts[-1] == "__init__"
    if package:
        parts.pop()
    return ".".join(p for p in parts if p.isidentifier()), package


def module_facts(path: str, module: str, text: str | None, is_package: bool = False,
                 tree: ast.Module | None = None) -> ModuleFacts:
    """Everything the index needs from one file, in one walk of its stdlib tree (``tree``
    when the caller has parsed ``text`` already)."""
    facts = ModuleFacts(path, module, is_package)
    if tree is None:
        try:
            tree = ast.parse(text or "", filename=path) if text is not None else None
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
    if tree is None:
        facts.parsed = False
        return facts
    _Walker(facts).run(tree)
    return facts


def _literal(node: ast.AST | None) -> object:
    """A literal's value, a dotted name as ``"name:<dotted>"``, a tuple/list of those, or None."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e) for e in node.elts)
    name = dotted(node)
    return f"name:{name}" if name else None


def _call(node: ast.Call) -> Call:
    return Call(
        dotted(node.func) or "",
        node.lineno,
        tuple(_literal(a) for a in node.args),
        tuple((k.arg, _literal(k.value)) for k in node.keywords if k.arg),
    )


_LEAVES = frozenset({ast.Constant, ast.Name, ast.Load, ast.Store, ast.Del, ast.alias, ast.Pass, ast.Break,
                     ast.Continue, *(c for c in ast.operator.__subclasses__()), *(c for c in ast.cmpop.__subclasses__()),
                     *(c for c in ast.unaryop.__subclasses__()), *(c for c in ast.boolop.__subclasses__())})


class _Walker:
    """One walk: imports, functions and their calls, bindings, handler registrations,
    models. Scopes are tracked so that a fact knows the function it stands in."""

    def __init__(self, facts: ModuleFacts) -> None:
        self.f = facts
        self.scope: list[str] = []  # qualname parts of enclosing functions and classes
        self.func_stack: list[dict] = []  # per function being walked: calls, returns
        self.loops: list[ast.For] = []
        self.module_calls: list[Call] = []

    def run(self, tree: ast.Module) -> None:
        for stmt in tree.body:
            self._global_binding(stmt)
        self._dispatch = {
            ast.Import: self.visit_Import, ast.ImportFrom: self.visit_ImportFrom,
            ast.FunctionDef: self._function, ast.AsyncFunctionDef: self._function, ast.ClassDef: self.visit_ClassDef,
            ast.Return: self.visit_Return, ast.For: self.visit_For, ast.AsyncFor: self.visit_For,
            ast.Call: self.visit_Call, ast.Assign: self.visit_Assign, ast.AnnAssign: self.visit_AnnAssign,
        }
        self.visit(tree)
        self.f.module_calls = tuple(self.module_calls)

    # A walk of every node, dispatching by type (ast.NodeVisitor's lookup of a method
    # name per node, and its visit_Constant shim, cost more than the parse itself).
    def visit(self, node: ast.AST) -> None:
        handler = self._dispatch.get(type(node))
        if handler is not None:
            handler(node)
        else:
            self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST) and type(item) not in _LEAVES:
                        self.visit(item)
            elif isinstance(value, ast.AST) and type(value) not in _LEAVES:
                self.visit(value)

    # -- module-level names -------------------------------------------------------------

    def _global_binding(self, stmt: ast.stmt) -> None:
        def bind(name: str, what: str) -> None:
            self.f.globals.setdefault(name, []).append(what)

        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = stmt.value
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        if isinstance(value, ast.Constant) and len(targets) == 1 and t is n:
                            bind(n.id, type(value.value).__name__)
                        elif isinstance(value, (ast.Dict, ast.List, ast.Set, ast.Tuple)) and t is n:
                            bind(n.id, type(value).__name__.lower())
                        elif isinstance(value, ast.Call) and t is n:
                            bind(n.id, f"call:{dotted(value.func) or ''}")
                        else:
                            bind(n.id, "other")
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bind(stmt.name, "def")
        elif isinstance(stmt, ast.ClassDef):
            bind(stmt.name, "class")
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for a in stmt.names:
                bind((a.asname or a.name).split(".")[0], "import")
        elif isinstance(stmt, (ast.If, ast.Try)):  # names bound under `if`/`try` at module level
            for body in (getattr(stmt, "body", []), getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])):
                for s in body:
                    self._global_binding(s)
            for h in getattr(stmt, "handlers", []):
                for s in h.body:
                    self._global_binding(s)

    # -- imports ---------------------------------------------------------------------------

    def _absolute(self, module: str | None, level: int) -> str:
        return absolute_module(self.f.module, self.f.is_package, module, level)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.asname:
                self.f.imports.setdefault(a.asname, (a.name, None))
            else:
                head = a.name.split(".")[0]
                self.f.imports.setdefault(head, (head, None))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node.module, node.level)
        for a in node.names:
            if a.name == "*":
                self.f.star_imports.append(base)
            else:
                self.f.imports.setdefault(a.asname or a.name, (base, a.name))

    # -- functions, classes, calls ----------------------------------------------------------

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        qual = ".".join([*self.scope, node.name])
        for dec in node.decorator_list:
            self.visit(dec)
        self._decorator_registrations(node, qual)
        args = node.args
        params = tuple(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs])
        self.scope.append(node.name)
        self.func_stack.append({"calls": [], "returns": []})
        saved_loops, self.loops = self.loops, []
        self.visit(node.args)  # calls in defaults count as the function's (a LibCST walk of it sees them)
        if node.returns is not None:
            self.visit(node.returns)
        for stmt in node.body:
            self.visit(stmt)
        self.loops = saved_loops
        info = self.func_stack.pop()
        self.scope.pop()
        decorators = tuple(dotted(d.func if isinstance(d, ast.Call) else d) or "" for d in node.decorator_list)
        self.f.functions[qual] = Function(node.name, qual, node.lineno, params, decorators, tuple(info["calls"]),
                                          isinstance(node, ast.AsyncFunctionDef), tuple(info["returns"]))


    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = tuple(dotted(b) or "" for b in node.bases)
        qual = ".".join([*self.scope, node.name])
        self.f.classes[qual] = bases
        self.f.methods[qual] = tuple(s.name for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)))
        for name in ("handle_exception", "handle_user_exception"):
            if name in self.f.methods[qual]:
                line = next(s.lineno for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == name)
                self.f.handlers.append(HandlerRegistration("", "override", (("all", f"{qual}.{name}() is overridden"),),
                                                           f"{qual}.{name}", line, qual))
        if not self.scope:
            model = _model(node)
            if model is not None:
                self.f.models[node.name] = model
        for dec in node.decorator_list:
            self.visit(dec)
        self.scope.append(node.name)
        saved = self.func_stack
        self.func_stack = []  # class body statements are not calls of the enclosing function
        for stmt in node.body:
            self.visit(stmt)
        self.func_stack = saved
        self.scope.pop()

    def visit_Return(self, node: ast.Return) -> None:
        if self.func_stack and isinstance(node.value, ast.Name):
            self.func_stack[-1]["returns"].append(node.value.id)
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        self.loops.append(node)
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)
        self.loops.pop()


    def visit_Call(self, node: ast.Call) -> None:
        callee = dotted(node.func) or ""
        if not callee and isinstance(node.func, ast.Attribute):
            # a method of a call's result: only the method is known, and whether the
            # receiver is a ``.query(...)`` call (``db.session.query(X).all()``)
            inner = node.func.value
            is_query = isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr == "query"
            callee = ("(query)." if is_query else "(...).") + node.func.attr
        # arguments are kept only where a question reads them (the call graph needs only
        # the callee and the line; origins re-reads the caller's arguments from its tree)
        if callee.rsplit(".", 1)[-1] in _ARGUMENTS_READ:
            call = _call(node)
        elif node.args and callee and "." not in callee and any(isinstance(a, ast.Name) for a in node.args):
            # a call of a plain function with names: which app a helper is given (app_sites)
            call = Call(callee, node.lineno, tuple(f"name:{a.id}" if isinstance(a, ast.Name) else None for a in node.args))
        else:
            call = Call(callee, node.lineno)
        (self.func_stack[-1]["calls"] if self.func_stack else self.module_calls).append(call)
        method = call.callee.rsplit(".", 1)[-1]
        if method == "register_error_handler" and "." in call.callee and node.args:
            keys = self._keys(node.args[0])
            handler = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "f"), None)
            self.f.handlers.append(HandlerRegistration(call.callee.rsplit(".", 1)[0], method, keys,
                                                       dotted(handler) if handler is not None else None,
                                                       node.lineno, ".".join(self.scope)))
        self.generic_visit(node)

    # -- bindings ---------------------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Call):
            for t in node.targets:
                name = dotted(t)
                if name:
                    self.f.bindings.append(Binding(name, dotted(node.value.func) or "", node.lineno, ".".join(self.scope),
                                                   _call(node.value)))
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.value, ast.Call):
            name = dotted(node.target)
            if name:
                self.f.bindings.append(Binding(name, dotted(node.value.func) or "", node.lineno, ".".join(self.scope),
                                               _call(node.value)))
        self.generic_visit(node)

    # -- error-handler registrations --------------------------------------------------------

    def _decorator_registrations(self, node: ast.FunctionDef | ast.AsyncFunctionDef, qual: str) -> None:
        for dec in node.decorator_list:
            if not isinstance(dec, ast.Call):
                continue
            callee = dotted(dec.func) or ""
            receiver, _, method = callee.rpartition(".")
            if method in ("errorhandler", "app_errorhandler") and receiver and dec.args:
                self.f.handlers.append(HandlerRegistration(receiver, method, self._keys(dec.args[0]), qual,
                                                           dec.lineno, ".".join(self.scope)))

    def _keys(self, expr: ast.expr) -> tuple[tuple[str, object], ...]:
        """What an exception argument covers, following an enclosing ``for`` loop's variable."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, int):
            return (("code", expr.value),)
        if isinstance(expr, ast.Name):
            for loop in reversed(self.loops):
                if isinstance(loop.target, ast.Name) and loop.target.id == expr.id:
                    return self._iterable_keys(loop.iter)
                if isinstance(loop.target, ast.Tuple) and any(isinstance(e, ast.Name) and e.id == expr.id for e in loop.target.elts):
                    return self._iterable_keys(loop.iter, unpacked=True)
        name = dotted(expr)
        if name:
            if name.split(".")[-1] in ("Exception", "BaseException"):
                return (("all", f"a handler for {name}"),)
            return (("class", name),)
        if isinstance(expr, (ast.Tuple, ast.List)):
            return tuple(k for e in expr.elts for k in self._keys(e))
        return (("unknown", ast.unparse(expr)[:80]),)

    def _iterable_keys(self, it: ast.expr, unpacked: bool = False) -> tuple[tuple[str, object], ...]:
        if isinstance(it, (ast.Tuple, ast.List, ast.Set)) and not unpacked:
            return tuple(k for e in it.elts for k in self._keys(e))
        text = ast.unparse(it)
        if "default_exceptions" in text:
            return (("all", f"a loop over {text} (every HTTP error code, 500 included)"),)
        return (("unknown", f"a loop over {text[:80]}"),)


def _model(node: ast.ClassDef) -> Model | None:
    """A SQLAlchemy model class: a base ending in ``Model``/``Base`` or a ``__tablename__``."""
    from flaskfix.codemods.project import sqlalchemy_model

    bases = tuple(dotted(b) or "" for b in node.bases)
    body_names = {t.id for s in node.body if isinstance(s, (ast.Assign, ast.AnnAssign))
                  for t in (s.targets if isinstance(s, ast.Assign) else [s.target]) if isinstance(t, ast.Name)}
    if not (any(b.split(".")[-1] in ("Model", "Base", "DeclarativeBase") for b in bases) or "__tablename__" in body_names):
        return None
    info = sqlalchemy_model(ast.Module(body=[node], type_ignores=[]), node.name)
    rels: list[Relationship] = []
    query_class = None
    for stmt in node.body:
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or not isinstance(stmt.value, ast.Call):
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "query_class" for t in stmt.targets):
                query_class = dotted(stmt.value) or "?"
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        call = stmt.value
        callee = dotted(call.func) or ""
        if names == ["query_class"]:
            query_class = callee
        if len(names) != 1 or callee.split(".")[-1] not in ("relationship", "relation"):
            continue
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        target = call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) else (
            dotted(call.args[0]) if call.args else None)
        lazy = relationship_lazy(kw.get("lazy"))
        uselist = kw["uselist"].value if "uselist" in kw and isinstance(kw["uselist"], ast.Constant) else None
        rels.append(Relationship(names[0], str(target) if target is not None else None, lazy, "secondary" in kw,
                                 "order_by" in kw, uselist, stmt.lineno,
                                 len(call.args) == 1 and all(k.arg in PLAIN_RELATIONSHIP_KEYWORDS for k in call.keywords)))
    return Model(node.name, node.lineno, bases, info.primary_key if info else "", info.pk_type if info else None,
                 info.problem if info else None, tuple(rels), query_class)


def relationship_lazy(value: ast.expr | None) -> str:
    """The loader strategy ``lazy=<value>`` names: "select" when not given (or True), "joined"
    for False, the string given, "?" when it is not a literal."""
    if value is None or isinstance(value, ast.Constant) and value.value is True:
        return "select"
    if isinstance(value, ast.Constant) and value.value is False:
        return "joined"
    return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else "?"


def absolute_module(importer: str, is_package: bool, module: str | None, level: int) -> str:
    """The absolute name of ``from <level dots><module> import ...`` in module ``importer``."""
    if not level:
        return module or ""
    parts = importer.split(".") if importer else []
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
    return ".".join([*parts, *([module] if module else [])])


# -- the project ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FlaskObject:
    kind: str  # "app" | "blueprint"
    module: str
    name: str  # the name it is bound to (in ``scope``)
    scope: str  # "" at module level, else the factory's qualname
    line: int
    url_prefix: object = None
    template_folder: object = None


@dataclass(frozen=True)
class BlueprintRegistration:
    module: str
    receiver: str  # the app expression, as written
    blueprint: tuple[str, str] | None  # (module, name) the blueprint resolves to
    url_prefix: object
    line: int
    scope: str


@dataclass(frozen=True)
class Extension:
    kind: str  # cache | redis | sqlalchemy | restful
    qualname: str  # ``flask_caching.Cache``
    module: str
    name: str
    scope: str
    line: int
    call: Call


@dataclass(frozen=True)
class ResolvedHandler:
    module: str
    registration: HandlerRegistration
    #: the Flask object it is registered on, when the receiver resolves to one
    owner: FlaskObject | None
    #: app-wide: on an app, ``app_errorhandler`` on a blueprint, or an override
    app_wide: bool


class _LazyModules(Mapping[str, ModuleFacts]):
    """Module name -> facts, each file read and walked on first access. Questions about
    one call path (``reachable``, ``resolve``) read only the modules on it; questions
    about the whole project (``apps()``...) read every module, once."""

    def __init__(self, paths: dict[str, str], load: Callable[[str], ModuleFacts]) -> None:
        self._paths = paths  # module name -> path
        self._load = load
        self._facts: dict[str, ModuleFacts] = {}

    def __getitem__(self, name: str) -> ModuleFacts:
        if name not in self._facts:
            self._facts[name] = self._load(self._paths[name])  # KeyError for unknown names
        return self._facts[name]

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


class Index:
    """The facts of every module of a project, and the questions asked of them."""

    def __init__(self, root: str | Path, facts: Iterable[ModuleFacts]) -> None:
        self.root = Path(root)
        self.modules: Mapping[str, ModuleFacts] = {}
        by_name: dict[str, ModuleFacts] = {}
        self._path_module: dict[str, str] = {}
        for f in facts:
            self._path_module[os.path.abspath(f.path)] = f.module
            if f.module:
                by_name.setdefault(f.module, f)
        self.modules = by_name
        #: analyses built on the index keep per-module state here (origins.py: one
        #: ModuleOrigins per module, so a caller's module is parsed once per run)
        self.derived: dict[tuple[str, str], object] = {}
        self._objects: list[FlaskObject] | None = None
        self._extensions: list[Extension] | None = None
        #: word -> the project files whose text holds it (a lazy index's text search)
        self._files_mentioning: Callable[[str], Iterable[str]] | None = None
        self._module_path: dict[str, str] = {}
        self._callers_of: dict[tuple[str, str], list[tuple[str, str, Call]]] = {}

    @classmethod
    def lazy(cls, root: str | Path, paths: Iterable[str], read: Callable[[str], str | None],
             mentioning: Callable[[str], Iterable[str]] | None = None,
             parse: Callable[[str], ast.Module | None] | None = None) -> "Index":
        """An index whose modules are read (``read(path)`` -> text, None if unreadable)
        and walked when a question first needs them. With ``mentioning`` (word -> the
        files whose text holds it), a question about the whole project walks only the
        modules that mention a word its answer needs (``Flask``/``Blueprint`` for the
        apps): a module that never names it cannot add to the answer."""
        index = cls(root, [])
        index._files_mentioning = mentioning
        names: dict[str, str] = {}
        for path in paths:
            module, _ = module_name(root, path)
            index._path_module[os.path.abspath(path)] = module
            if module:
                names.setdefault(module, path)
        index._module_path = {m: os.path.abspath(p) for m, p in names.items()}

        def load(path: str) -> ModuleFacts:
            module, package = module_name(root, path)
            if parse is not None:  # the tree other questions about the file share (Project.tree)
                return module_facts(path, module, None, package, tree=parse(path))
            text = read(path)
            return module_facts(path, module, text, package) if text is not None else ModuleFacts(path, module, package, parsed=False)

        index.modules = _LazyModules(names, load)
        return index

    @classmethod
    def build(cls, root: str | Path, paths: Iterable[str]) -> "Index":
        """Read and walk every file (serially; ``module_facts`` is what workers call)."""
        from flaskfix.codemods.engine.source import SourceError, read_source

        facts = []
        for path in paths:
            module, package = module_name(root, path)
            try:
                text = read_source(path).text
            except SourceError:
                facts.append(ModuleFacts(path, module, package, parsed=False))
                continue
            facts.append(module_facts(path, module, text, package))
        return cls(root, facts)

    def _mentioning(self, words: Iterable[str]) -> list[tuple[str, ModuleFacts]]:
        """(name, facts) of the modules whose text holds one of ``words``, sorted; every
        module when the index cannot search texts."""
        if self._files_mentioning is None:
            return sorted(self.modules.items())
        paths = {os.path.abspath(p) for w in words for p in self._files_mentioning(w)}
        return [(m, self.modules[m]) for m in sorted(self._module_path) if self._module_path[m] in paths]

    def path_of(self, module: str) -> str:
        """The file of project module ``module`` ("" when it is not one)."""
        found = self._module_path.get(module)
        if found:
            return found
        return next((path for path, name in self._path_module.items() if name == module), "")

    def module_of(self, path: str) -> ModuleFacts | None:
        name = self._path_module.get(os.path.abspath(path))
        return self.modules[name] if name is not None and name in self.modules else None

    # -- names --------------------------------------------------------------------------

    def resolve(self, module: str, name: str, _depth: int = 0) -> tuple[str, str]:
        """(defining module, name) for ``name`` as seen in ``module``: follows ``from x
        import name`` (and re-exports of it) into project modules; a name imported from
        outside the project resolves to that module (``("flask", "Flask")``); a local
        name resolves to itself."""
        facts = self.modules.get(module)
        if facts is None or _depth > 10:
            return module, name
        if name in facts.imports:
            target, attr = facts.imports[name]
            if attr is None:
                return target, ""  # a module object
            if target in self.modules:
                if f"{target}.{attr}" in self.modules:
                    return f"{target}.{attr}", ""  # a submodule (``from . import views``)
                if attr in self.modules[target].globals or attr in self.modules[target].imports:
                    return self.resolve(target, attr, _depth + 1)
                return target, attr
            return target, attr
        if name in facts.globals:
            return module, name
        for star in facts.star_imports:
            if star in self.modules and (name in self.modules[star].globals or name in self.modules[star].imports):
                return self.resolve(star, name, _depth + 1)
        return module, name

    def qualify(self, module: str, expr: str) -> str:
        """The qualified name of a dotted expression as written in ``module``."""
        head, _, rest = expr.partition(".")
        target, attr = self.resolve(module, head)
        base = ".".join(p for p in (target, attr) if p)
        if not rest:
            return base
        # ``mod.sub.Name`` where ``mod`` is a project package: resolve through it
        if not attr and target in self.modules:
            first, _, more = rest.partition(".")
            if f"{target}.{first}" in self.modules:
                return self.qualify(f"{target}.{first}", more) if more else f"{target}.{first}"
            if first in self.modules[target].globals or first in self.modules[target].imports:
                inner = self.qualify(target, first)
                return f"{inner}.{more}" if more else inner
        return f"{base}.{rest}"

    # -- Flask objects --------------------------------------------------------------------

    def flask_objects(self) -> list[FlaskObject]:
        if self._objects is not None:
            return self._objects
        out = []
        for mod, f in self._mentioning(_FLASK_LAST):
            for b in f.bindings:
                if not _may_be(f, b.callee, _FLASK_LAST):
                    continue  # (qualifying every binding of the project would cost more than the walk)
                kind = FLASK_CLASSES.get(self.qualify(mod, b.callee))
                if kind:
                    out.append(FlaskObject(kind, mod, b.name, b.scope, b.line, b.call.kwarg("url_prefix"),
                                           b.call.kwarg("template_folder")))
        self._objects = out
        return out

    def apps(self) -> list[FlaskObject]:
        return [o for o in self.flask_objects() if o.kind == "app"]

    def blueprints(self) -> list[FlaskObject]:
        return [o for o in self.flask_objects() if o.kind == "blueprint"]

    def factories(self) -> list[tuple[str, Function]]:
        """Functions that make a Flask app and return it (``create_app``)."""
        out = []
        for app in self.apps():
            if app.scope:
                fn = self.modules[app.module].functions.get(app.scope)
                if fn is not None and app.name in fn.returns:
                    out.append((app.module, fn))
        return out

    def object_named(self, module: str, expr: str, scope: str = "") -> FlaskObject | None:
        """The Flask object an expression in ``module`` (inside ``scope``) refers to."""
        objects = self.flask_objects()
        for o in objects:  # a local of the same function first
            if o.module == module and o.scope == scope and o.name == expr and scope:
                return o
        target, attr = self.resolve(module, expr.split(".")[0])
        if "." in expr:
            return None
        for o in objects:
            if o.scope == "" and o.module == target and o.name == (attr or expr):
                return o
        return None

    def blueprint_registrations(self) -> list[BlueprintRegistration]:
        out = []
        for mod, f in self._mentioning(["register_blueprint"]):
            calls = f.all_calls()
            for scope, c in calls:
                receiver, _, method = c.callee.rpartition(".")
                if method != "register_blueprint" or not c.args:
                    continue
                arg = c.args[0]
                bp = None
                if isinstance(arg, str) and arg.startswith("name:"):
                    name = arg[5:]
                    head, _, rest = name.partition(".")
                    target, attr = self.resolve(mod, head)
                    if rest and not attr:  # ``views.bp``, ``user.views.blueprint``: submodules first
                        while "." in rest and f"{target}.{rest.split('.')[0]}" in self.modules:
                            step, _, rest = rest.partition(".")
                            target = f"{target}.{step}"
                        target, attr = self.resolve(target, rest) if target in self.modules else (target, rest)
                    bp = (target, attr or head)
                out.append(BlueprintRegistration(mod, receiver, bp, c.kwarg("url_prefix"), c.line, scope))
        return out

    # -- error handlers -------------------------------------------------------------------

    def error_handlers(self) -> list[ResolvedHandler]:
        """Every registration in the project, with the Flask object it is on."""
        out = []
        restful = self.extensions("restful")
        for mod, f in self._mentioning(_HANDLER_WORDS):
            for reg in f.handlers:
                if reg.method == "override":
                    bases = self.modules[mod].classes.get(reg.scope, ())
                    if any(FLASK_CLASSES.get(self.qualify(mod, b)) == "app" for b in bases):
                        out.append(ResolvedHandler(mod, reg, None, True))
                    continue
                owner = self.object_named(mod, reg.receiver, reg.scope)  # None: e.g. a factory's parameter
                app_wide = reg.method == "app_errorhandler" or (owner is not None and owner.kind == "app") or (
                    owner is None and reg.method != "app_errorhandler" and _looks_like_app(reg.receiver))
                out.append(ResolvedHandler(mod, reg, owner, app_wide))
        for ext in restful:
            out.append(ResolvedHandler(ext.module, HandlerRegistration(ext.name, "api", (("all", f"a {ext.qualname} object answers "
                                                                                             "errors of its resources itself"),),
                                                                       None, ext.line, ext.scope), None, True))
        return out

    def exception_observers(self) -> list[tuple[str, int, str]]:
        """(module, line, what) for code that observes ``got_request_exception``: direct
        subscribers, and integrations that subscribe without naming it. Instrumentation
        added outside the code (``ddtrace-run``, ``opentelemetry-instrument``) cannot be seen."""
        out = []
        for mod, f in self._mentioning(_OBSERVING_LAST | {"got_request_exception"}):
            calls = [c for _, c in f.all_calls()]
            decorators = [(fn.line, d) for fn in f.functions.values() for d in fn.decorators]
            for c in calls:
                if not _may_be(f, c.callee, _OBSERVING_LAST):
                    continue
                q = self.qualify(mod, c.callee)
                if q in OBSERVING_CALLS:
                    out.append((mod, c.line, OBSERVING_CALLS[q]))
                elif c.callee.endswith(("got_request_exception.connect", "got_request_exception.connect_via")) or (
                        q.endswith(".connect") and "got_request_exception" in q):
                    out.append((mod, c.line, f"a got_request_exception subscriber ({c.callee})"))
            for line, d in decorators:
                if "got_request_exception" in d:
                    out.append((mod, line, f"a got_request_exception subscriber (@{d})"))
        return out

    # -- extensions, models, templates -----------------------------------------------------

    def extensions(self, kind: str | None = None) -> list[Extension]:
        if self._extensions is None:
            self._extensions = []
            for mod, f in self._mentioning(_EXTENSION_LAST):
                for b in f.bindings:
                    if not _may_be(f, b.callee, _EXTENSION_LAST):
                        continue
                    q = self.qualify(mod, b.callee)
                    k = EXTENSIONS.get(q)
                    if k:
                        self._extensions.append(Extension(k, q, mod, b.name, b.scope, b.line, b.call))
        return [e for e in self._extensions if kind is None or e.kind == kind]

    def init_app_calls(self, ext: Extension) -> list[tuple[str, str, Call]]:
        """(module, scope, call) of every ``<ext>.init_app(app)``, the extension reached
        by its name in its own module or imported under any alias elsewhere."""
        out = []
        for mod, f in self._mentioning(["init_app"]):
            calls = f.all_calls()
            for scope, c in calls:
                receiver, _, method = c.callee.rpartition(".")
                if method != "init_app" or not receiver:
                    continue
                if mod == ext.module and receiver == ext.name and ext.scope in ("", scope):
                    out.append((mod, scope, c))
                elif "." not in receiver and self.resolve(mod, receiver) == (ext.module, ext.name):
                    out.append((mod, scope, c))
        return out

    def app_sites(self, module: str, scope: str, name: str, _depth: int = 0) -> set[tuple[str, str, str]]:
        """Where the app that ``name`` holds in function ``scope`` of ``module`` is bound:
        (module, scope, name) itself, or, when ``name`` is a parameter of that function
        (``register_blueprints(app)``), the sites of the argument each caller passes, in
        every caller; ``{("?", "", "")}`` when a caller passes something else."""
        facts = self.modules.get(module)
        func = facts.functions.get(scope) if facts is not None and scope else None
        if func is None or name not in func.params or _depth > 5:
            return {(module, scope, name)}
        position = func.params.index(name)
        out: set[tuple[str, str, str]] = set()
        callers = self.callers(module, scope) if "." not in scope else []
        if not callers:
            return {("?", "", "")}
        for mod, caller_scope, call in callers:
            arg = call.args[position] if position < len(call.args) else call.kwarg(name)
            if not (isinstance(arg, str) and arg.startswith("name:") and "." not in arg[5:]):
                return {("?", "", "")}
            out |= self.app_sites(mod, caller_scope, arg[5:], _depth + 1)
        return out

    def models(self) -> dict[str, list[tuple[str, Model]]]:
        """Class name -> [(module, model)] (a name may be defined in several modules)."""
        out: dict[str, list[tuple[str, Model]]] = {}
        for mod, f in self._mentioning(_MODEL_WORDS):
            for name, m in f.models.items():
                out.setdefault(name, []).append((mod, m))
        return out

    def template_folders(self) -> list[tuple[FlaskObject, str]]:
        """(object, folder path) for each app and blueprint: ``template_folder`` when a
        literal, else ``templates`` for apps (Flask's default); blueprints have none by default."""
        out = []
        for o in self.flask_objects():
            folder = o.template_folder if isinstance(o.template_folder, str) else ("templates" if o.kind == "app" else None)
            if folder is None:
                continue
            base = os.path.dirname(self.modules[o.module].path)
            out.append((o, os.path.normpath(os.path.join(base, folder))))
        return out

    # -- the call graph ---------------------------------------------------------------------

    def callers(self, module: str, function: str) -> list[tuple[str, str, Call]]:
        """(module, calling function's qualname or "", call) of every call in the project
        that resolves to ``module.function`` (a module-level function)."""
        key = (module, function)
        if key not in self._callers_of:
            # a call that resolves to it names it: by its name, an alias imported by its
            # name, or ``module.function``
            found = []
            for mod, f in self._mentioning([function]):
                for scope, c in f.all_calls():
                    if not c.callee:
                        continue
                    head, _, rest = c.callee.partition(".")
                    target, attr = self.resolve(mod, head)
                    if rest:
                        if attr or target not in self.modules:
                            continue
                        target, attr = self.resolve(target, rest) if "." not in rest else (target, rest)
                    if (target, attr) == key:
                        found.append((mod, scope, c))
            self._callers_of[key] = found
        return self._callers_of[key]

    def reachable(self, module: str, qualname: str, limit: int = 400) -> list[tuple[str, Function]]:
        """The function and every project function it may call, directly or through others
        (calls by name or ``module.function``, resolved through imports). An
        over-approximation: a call it cannot resolve is simply not followed."""
        start = self.modules.get(module)
        if start is None or qualname not in start.functions:
            return []
        out: list[tuple[str, Function]] = []
        seen = {(module, qualname)}
        todo = [(module, start.functions[qualname])]
        while todo and len(out) < limit:
            mod, fn = todo.pop()
            out.append((mod, fn))
            for inner, nested in self.modules[mod].functions.items():  # functions defined inside it
                if inner.startswith(fn.qualname + ".") and (mod, inner) not in seen:
                    seen.add((mod, inner))
                    todo.append((mod, nested))
            for call in fn.calls:
                if not call.callee or call.callee.startswith("("):
                    continue
                head, _, rest = call.callee.partition(".")
                target, attr = self.resolve(mod, head)
                if rest:
                    if attr or target not in self.modules or "." in rest:
                        continue
                    target, attr = self.resolve(target, rest)
                facts = self.modules.get(target)
                if facts is not None and attr in facts.functions and (target, attr) not in seen:
                    seen.add((target, attr))
                    todo.append((target, facts.functions[attr]))
        return out

    def functions(self) -> Iterator[tuple[str, Function]]:
        for mod, f in sorted(self.modules.items()):
            for fn in f.functions.values():
                yield mod, fn


#: words a module's text holds when it registers an error handler (or overrides Flask's)
_HANDLER_WORDS = frozenset({"errorhandler", "app_errorhandler", "register_error_handler", "handle_exception",
                            "handle_user_exception"})
#: words a module's text holds when it defines a model (``_model``)
_MODEL_WORDS = frozenset({"Model", "Base", "DeclarativeBase", "__tablename__"})


def _may_be(facts: ModuleFacts, callee: str, lasts: frozenset[str]) -> bool:
    """A cheap test before qualifying: the callee's last name, or the name an alias
    (``from flask_caching import Cache as C``) stands for, is one of ``lasts``."""
    if callee.rsplit(".", 1)[-1] in lasts:
        return True
    imported = facts.imports.get(callee.split(".", 1)[0])
    return imported is not None and (imported[1] or "") in lasts


def _looks_like_app(receiver: str) -> bool:
    """A receiver that is not a known object: ``app`` (a factory's parameter, ``current_app``)."""
    return receiver.split(".")[-1] in ("app", "current_app", "application", "self.app", "flask_app")
