"""error-handler: an operation on bad request input answers 400, exactly there.

A view that divides by a number the client chose, converts a query parameter with
``int()`` or indexes the JSON body answers a malformed request with a 500 Internal
Server Error: the client is told the server is broken, monitoring counts a server
failure, and the operator gets paged for what is the client's mistake.

The fix is exact at the site. The statement holding the operation goes in ``try``; its
``except <Class>`` re-raises the exception as a client-input class that is both a werkzeug
``BadRequest`` and still the built-in class (``class ClientValueError(ClientInputError,
ValueError)``, the shape of werkzeug's own ``BadRequestKeyError``), chained ``from`` the
original. One handler per app or blueprint is registered for ``ClientInputError`` only:
no other exception can reach it, so the same class raised anywhere else (server code in
another view, a helper, elsewhere in the same view) keeps exactly its old outcome: the
app's own 500 or ``Exception`` handler, ``got_request_exception``, propagation under
``TESTING``. Callers that catch ``ValueError`` still catch the new class.

A statement is wrapped only when nothing else in it may raise the class (any other call
but the request's accessors and a few built-ins, another division, subscript, format
spec...): otherwise a finding says which expression, and to move the operation to its own
statement. Sites in the header of ``if``/``for``/``while``/``with``, in generator
expressions that run later, or in helpers other modules also use are refused the same way.

A site is a candidate only when the shared origin analysis (``origins.py``) says its
operand comes from the request or the URL (possibly mixed with literals) and from nothing
else; an enclosing ``try`` that catches it, a handler the app registered for the class or
a base class (other than ``Exception``), an unidentifiable registration, or code that
observes unhandled exceptions (signals, Sentry and similar integrations, teardown
functions reading the exception) make it refuse with a finding or leave it alone.

A site held back by ``# flaskfix: ignore`` (on its line, on the line of the call that leads
to it from the view, or on the view's def/decorator lines) is neither wrapped nor reported.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

import libcst as cst
from libcst.metadata import PositionProvider, ScopeProvider
from libcst.metadata.scope_provider import Assignment

from flaskfix.codemods.ast_facts import HANDLER_TEXT, AstFacts
from flaskfix.codemods import detection
from flaskfix.codemods.base import FlaskfixCodemod, quote_style, string_literal
from flaskfix.codemods.flask_model import FlaskObject, Handler, call_arg, is_generator_function
from flaskfix.codemods.origins import CLIENT, ModuleOrigins, from_client, only_client

#: the exception classes this codemod may write a handler for, in the order handlers are written
EXCEPTIONS = ("ZeroDivisionError", "ValueError", "KeyError", "TypeError")
#: class -> the names of the class and its built-in bases (a handler for any of them catches it)
COVERING: dict[str, frozenset[str]] = {
    name: frozenset(c.__name__ for c in getattr(builtins, name).__mro__ if c is not object) for name in EXCEPTIONS
}
ALL_COVERING = frozenset().union(*COVERING.values())
#: a registered handler for one of these answers the class its own way (Exception and
#: BaseException handlers are catch-alls, like a 500 page: the client-input handler is found first)
ANSWERING: dict[str, frozenset[str]] = {name: names - {"Exception", "BaseException"} for name, names in COVERING.items()}
DEFAULT_MESSAGES = {
    "ZeroDivisionError": "Division by zero is not allowed.",
    "ValueError": "A value in the request is not valid.",
    "KeyError": "A required field is missing from the request.",
    "TypeError": "The request data does not have the expected shape.",
}
#: request attributes holding MultiDicts of strings
STRING_MULTIDICTS = frozenset({"args", "form", "values", "headers", "cookies"})
#: URL converters whose value reaches the view as a str
STRING_CONVERTERS = frozenset({"string", "path", "default"})
REGISTER_METHODS = frozenset({"errorhandler", "app_errorhandler", "register_error_handler"})
TEARDOWN_HOOKS = frozenset({"teardown_request", "teardown_app_request", "teardown_appcontext"})
#: signals whose subscribers see an exception only while it is unhandled
EXCEPTION_SIGNALS = frozenset({"got_request_exception", "request_tearing_down", "appcontext_tearing_down"})
SERVER_ERROR_NAMES = frozenset({"werkzeug.exceptions.InternalServerError", "werkzeug.InternalServerError"})

#: built-ins that cannot raise the class (given arguments evaluated before them)
_NO_RAISE = frozenset({"len", "str", "bool", "abs", "sum", "list", "tuple", "set", "isinstance", "enumerate", "zip",
                       "repr", "any", "all", "reversed", "sorted"})
SAFE_BUILTINS: dict[str, frozenset[str]] = {
    "ZeroDivisionError": _NO_RAISE | {"dict", "range", "round", "min", "max", "int", "float"},
    "KeyError": _NO_RAISE | {"range", "round", "min", "max", "int", "float"},
    "ValueError": _NO_RAISE,
    "TypeError": frozenset(),
}
COMPOUND_WORDS = {"If": "if", "For": "for", "While": "while", "With": "with", "Try": "try", "TryStar": "try",
                  "Match": "match", "FunctionDef": "def", "ClassDef": "class"}
#: built-ins that run a generator given to them at once
CONSUMERS = frozenset({"sum", "list", "tuple", "set", "sorted", "any", "all", "min", "max", "dict", "frozenset"})
#: methods of the request and its MultiDicts that raise none of these classes
REQUEST_ACCESSORS = frozenset({"get", "getlist", "get_json", "to_dict", "items", "keys", "values", "lists"})
#: the client-input class raised at each wrapped site: (name, docstring)
CLIENT_CLASSES = {
    "ZeroDivisionError": ("ClientZeroDivisionError", "A division by a number from the request that is zero."),
    "ValueError": ("ClientValueError", "A value from the request that cannot be converted."),
    "KeyError": ("ClientKeyError", "A key missing from the request's JSON body."),
    "TypeError": ("ClientTypeError", "The request's JSON body does not have the expected shape."),
}

#: longest line the generated code may have (black's default)
MAX_LINE = 88
_RULE_PARAM = re.compile(r"<(?:(?P<conv>[A-Za-z_]\w*)(?:\([^)]*\))?:)?(?P<name>[A-Za-z_]\w*)>")


@dataclass
class Site:
    """One operation reached by a view that raises ``exc`` on bad input."""

    exc: str
    node: cst.CSTNode = field(repr=False)
    what: str
    view: Handler = field(repr=False)
    #: (node, function) pairs from the view down to the operation: each may sit in a try
    path: tuple[tuple[cst.CSTNode, cst.FunctionDef], ...] = field(repr=False, default=())


@dataclass
class Registration:
    """An error handler registered in this module."""

    line: int
    method: str
    #: the app/blueprint it is registered on; None when flaskfix cannot tell
    target: FlaskObject | None = field(repr=False)
    target_text: str
    #: "class" (a built-in exception class: ``name``), "500", "other" or "unknown"
    kind: str
    name: str = ""


class ErrorHandler(FlaskfixCodemod):
    ID = "error-handler"
    ORDER = 40
    SUMMARY = "Bad request input that crashes a view (division, int() of request data, JSON keys) answers 400, exactly at that statement"
    WHY = """
        A view that divides by a number the client sent, converts a query parameter with
        int() or float(), or indexes the JSON body, turns a malformed request into an
        unhandled exception. Flask answers it with 500 Internal Server Error: the client
        is told the server failed, error rates and alerts count the client's mistake as
        an outage, and the answer says nothing about what to fix. The statement holding
        the operation now re-raises that exception as a 400 Bad Request of its own class,
        which one error handler per app or blueprint answers with a short JSON message.
    """
    BEHAVIOUR = """
        Only the wrapped statements change. When one of them raises ZeroDivisionError,
        ValueError, KeyError or TypeError, it re-raises it as ClientZeroDivisionError,
        ClientValueError, ClientKeyError or ClientTypeError (each a subclass of the module's
        ClientInputError, a werkzeug BadRequest, and of the built-in class, chained from
        the original). The handler registered for ClientInputError answers 400 with the
        JSON body {"error": "<fixed message>"} (never the exception text) and logs one line
        at WARNING through current_app.logger naming the method, path, view and the
        original exception, instead of an ERROR with a traceback.
        Everything else keeps its outcome: the same classes raised by other statements,
        other views or other helpers still reach the app's 500 or Exception handler and
        got_request_exception, and still propagate under TESTING; werkzeug's own 400s
        (request.args[...]) are untouched; code that catches ValueError (or the other
        classes) around a wrapped helper still catches it. For the wrapped sites
        themselves the change is the point: they no longer count as unhandled errors
        (Sentry, got_request_exception and teardown functions no longer see them), and a
        test that expected the exception to propagate must now expect the 400.
        A 500 handler or an Exception handler no longer makes flaskfix refuse: the
        client-input handler is found first (Flask looks for a handler for the 400 code
        before class handlers, and the blueprint's before the app's), and no other error
        can reach it. A handler the app registered for the class itself or a base class
        (ArithmeticError, LookupError...) means the app already answers it: left alone.
    """
    REFUSES = (
        "another expression in the same statement may raise the class (a call other than the request's accessors, jsonify and a few built-ins; another division, subscript or format spec): `try` around the statement would answer it 400 too",
        "the operation is in the header of an if/for/while/with statement, on a line with other statements, or in a generator expression that runs after the statement",
        "the operation is in a helper that other modules of the project also use",
        "a handler for the class or a base class other than Exception is registered in another module of the project (it may already answer these views)",
        "a handler is registered on an object flaskfix cannot identify, or for a class it cannot read",
        "the project subscribes to got_request_exception / request_tearing_down / appcontext_tearing_down, uses an integration that does (Sentry and the like), or a teardown function reads the exception it is given (it would get None for the wrapped sites and treat the request as successful)",
        "an enclosing `except` names something flaskfix cannot resolve",
        "a division by the literal 0 (it always raises: a bug to fix, not bad input)",
        "a divisor that may come from the request but also from the server side (the app's config, a settings object, the environment, the database, or code flaskfix cannot follow), e.g. a helper called with a request value from one view and a config value from another: a zero from the server would be answered as the client's fault",
        "the view is a generator (streamed responses never reach error handlers) or a class-based view",
        "the view's app or blueprint is created somewhere flaskfix cannot place a handler (inside a non-factory function, or a factory that is not a module-level def)",
    )
    EXAMPLE_BEFORE = '''\
from flask import Flask, request

app = Flask(__name__)


@app.route("/split")
def split_bill():
    total = float(request.args.get("total", "0"))
    people = int(request.args.get("people", "1"))
    return {"each": total / people}
'''
    EXAMPLE_AFTER = '''\
from flask import Flask, request, current_app
from werkzeug.exceptions import BadRequest


class ClientInputError(BadRequest):
    """Bad input in the request, at an operation flaskfix wrapped: answered 400 below."""


class ClientZeroDivisionError(ClientInputError, ZeroDivisionError):
    """A division by a number from the request that is zero."""


class ClientValueError(ClientInputError, ValueError):
    """A value from the request that cannot be converted."""


app = Flask(__name__)


@app.route("/split")
def split_bill():
    try:
        total = float(request.args.get("total", "0"))
        people = int(request.args.get("people", "1"))
    except ValueError as exc:
        raise ClientValueError("A value in the request is not valid.") from exc
    try:
        return {"each": total / people}
    except ZeroDivisionError as exc:
        raise ClientZeroDivisionError("Division by zero is not allowed.") from exc


@app.errorhandler(ClientInputError)
def handle_client_input_error(error):
    current_app.logger.warning(
        "%s %s (view %s): %r, answered 400",
        request.method,
        request.path,
        request.endpoint,
        error.__cause__,
    )
    return {"error": error.description}, 400
'''
    PREFILTER = (
        HANDLER_TEXT,
        r"[/%]|\bdivmod\b|\bint\b|\bfloat\b|json",
    )
    DEFAULT_CONFIG = {
        "status": 400,
        "exceptions": list(EXCEPTIONS),
        "messages": dict(DEFAULT_MESSAGES),
    }
    METADATA_DEPENDENCIES = (ScopeProvider, PositionProvider)

    # -- the rewrite ---------------------------------------------------------------------

    @classmethod
    def detect(cls, facts: AstFacts) -> bool:
        """``detection.error_handler`` (LibCST-free, so that a run needs no codemod import to ask it)."""
        return detection.error_handler(facts)

    @classmethod
    def detect_in_project(cls, path: str, text: str, facts: AstFacts, config: Mapping[str, Any], project: Any) -> bool:
        """``detection.error_handler_in_project``."""
        return detection.error_handler_in_project(path, text, facts, config, project)

    def rewrite(self, tree: cst.Module) -> cst.Module:
        model = self.flask
        views = [h for h in model.handlers.values() if h.kind == "view"]
        if not views:
            return tree
        settings = self._settings()
        if settings is None:
            return tree
        status, enabled, messages = settings
        sites = self._all_sites(views, enabled)
        if not sites:
            return tree
        groups: dict[tuple[object, str], list[Site]] = {}
        owners: dict[object, FlaskObject] = {}
        for site in sites:
            owner = site.view.owner
            assert owner is not None
            owners.setdefault(_owner_key(owner), owner)
            groups.setdefault((_owner_key(owner), site.exc), []).append(site)
        registrations = self._registrations()
        plans: list[tuple[FlaskObject, str, list[Site]]] = []
        hazard: tuple[int, str] | None | bool = False
        owner_line = {}
        for (owner_id, _exc), group in groups.items():
            owner_line[owner_id] = min(owner_line.get(owner_id, 10**9), self._first_line(group))
        for (owner_id, exc), group in sorted(groups.items(), key=lambda kv: (owner_line[kv[0][0]], EXCEPTIONS.index(kv[0][1]))):
            owner = owners[owner_id]
            first = min(group, key=lambda s: self.line_of(s.node))
            line = self.line_of(first.node)
            where = self._placement(owner)
            if isinstance(where, str):
                self.add_finding(line, f"{exc} from {first.what} not handled: {where}")
                continue
            verdict = self._registered_verdict(owner, exc, registrations)
            if verdict is True:
                continue  # already handled: nothing to do, nothing to report
            if isinstance(verdict, str):
                self.add_finding(line, f"{exc} from {first.what} not handled: {verdict}")
                continue
            if hazard is False:
                hazard = self._exception_observers()
            if hazard is not None:
                self.add_finding(line, f"{exc} from {first.what} not handled: {hazard[1]}")
                continue
            plans.append((owner, exc, group))
        plans, wraps = self._wraps(plans, sites)
        if not plans:
            return tree
        return self._apply(tree, plans, wraps, status, messages)

    @classmethod
    def config_problems(cls, config: Mapping[str, Any]) -> list[str]:
        status = config.get("status", 400)
        exceptions = config.get("exceptions", list(EXCEPTIONS))
        messages = dict(config.get("messages") or {})
        problems = []
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            problems.append(f"status must be an HTTP error status (400-599), not {status!r}")
        if not isinstance(exceptions, list) or any(e not in EXCEPTIONS for e in exceptions):
            problems.append(f"exceptions must be a list drawn from {list(EXCEPTIONS)}, not {exceptions!r}")
        if any(not isinstance(m, str) for m in messages.values()) or any(k not in EXCEPTIONS for k in messages):
            problems.append(f"messages must map exception class names ({', '.join(EXCEPTIONS)}) to strings")
        return problems

    def _settings(self) -> tuple[int, list[str], dict[str, str]] | None:
        """The configuration, checked when it was loaded (``config_problems``)."""
        status = self.config.get("status", 400)
        exceptions = self.config.get("exceptions", list(EXCEPTIONS))
        messages = {**DEFAULT_MESSAGES, **dict(self.config.get("messages") or {})}
        return status, list(exceptions), messages

    def _first_line(self, sites: list[Site]) -> int:
        return min(self.line_of(s.node) for s in sites)

    # -- finding the operations ----------------------------------------------------------

    def _all_sites(self, views: list[Handler], enabled: list[str]) -> list[Site]:
        out: list[Site] = []
        for view in sorted(views, key=lambda h: self.line_of(h.func)):
            found = [s for s in self._sites(view.func, view, (), set()) if s.exc in enabled]
            if not found:
                continue
            kept = []
            for site in found:
                covered = self._covered(site)
                if covered is True:
                    continue
                if self._held_back(site.node, site.path, view):
                    continue  # a `# flaskfix: ignore` comment holds it back (counted by the base)
                if isinstance(covered, str):
                    self.add_finding(site.node, f"{site.exc} from {site.what} not handled: {covered}")
                    continue
                kept.append(site)
            if not kept:
                continue
            first = min(kept, key=lambda s: self.line_of(s.node))
            excs = ", ".join(sorted({s.exc for s in kept}, key=EXCEPTIONS.index))
            if view.view_class is not None or view.owner is None:
                self.add_finding(
                    first.node,
                    f"{excs} from {first.what} not handled: `{view.name}()` is a class-based view; "
                    "flaskfix does not follow which app or blueprint serves it (add the handler by hand)",
                )
                continue
            if is_generator_function(view.func):
                self.add_finding(
                    first.node,
                    f"{excs} from {first.what} not handled: `{view.name}()` is a generator; exceptions raised "
                    "while a response streams never reach error handlers",
                )
                continue
            out.extend(kept)
        return out

    def _sites(
        self,
        func: cst.FunctionDef,
        view: Handler,
        path: tuple[tuple[cst.CSTNode, cst.FunctionDef], ...],
        seen: set[cst.FunctionDef],
    ) -> list[Site]:
        seen = seen | {func}
        out: list[Site] = []
        for node in _body_nodes(func):
            here = (*path, (node, func))
            if isinstance(node, (cst.BinaryOperation, cst.AugAssign)):
                op = node.operator
                if isinstance(op, (cst.Divide, cst.FloorDivide, cst.Modulo, cst.DivideAssign, cst.FloorDivideAssign, cst.ModuloAssign)):
                    divisor = node.right if isinstance(node, cst.BinaryOperation) else node.value
                    dividend = node.left if isinstance(node, cst.BinaryOperation) else node.target
                    verdict = self._division(node, dividend, divisor, op, func)
                    if verdict == "site":
                        out.append(Site("ZeroDivisionError", node, f"`{_code(node)}`", view, here))
                    elif verdict and verdict.startswith("mixed:") and not self._held_back(node, here, view):
                        self._mixed_finding(node, func, verdict)
                    elif verdict == "zero" and not self._held_back(node, here, view):
                        self.add_finding(
                            node,
                            f"`{_code(node)}` in `{func.name.value}()` divides by the literal 0: it always raises; "
                            "fix the code rather than turning the crash into a 400",
                        )
            elif isinstance(node, cst.Call):
                out.extend(self._call_sites(node, func, view, here, seen))
            elif isinstance(node, cst.Subscript):
                if self._json_index(node, func):
                    what = f"`{_code(node)}`"
                    checked = self._key_checked(node, func)
                    if checked is None:
                        out.append(Site("KeyError", node, what, view, here))
                    if checked != "get":  # after data.get("k") worked, data is a mapping
                        out.append(Site("TypeError", node, what, view, here))
        return out

    def _held_back(self, node: cst.CSTNode, path: tuple[tuple[cst.CSTNode, cst.FunctionDef], ...], view: Handler) -> bool:
        """Held back by `# flaskfix: ignore`: on the raising operation's statement, on the
        statement of a call that leads to it from the view (``helper(x)``), or on the
        def/decorator lines of the view, its class, or a helper on the way."""
        model = self.flask
        nodes: list[cst.CSTNode] = []
        funcs: dict[cst.FunctionDef, None] = {view.func: None}
        for step, func in (*path, (node, view.func)):
            nodes += [step, model.statement_of(step)]
            funcs[func] = None
        if view.view_class is not None:
            nodes += [view.view_class.name, *view.view_class.decorators]
        if self.suppressed(*nodes):
            return True
        return any(self.suppressed(view=f) for f in funcs)

    def _call_sites(self, call, func, view, here, seen) -> list[Site]:  # type: ignore[no-untyped-def]
        model = self.flask
        out: list[Site] = []
        if isinstance(call.func, cst.Name):
            name = call.func.value
            if name in ("int", "float") and model.refers_to(call.func, f"builtins.{name}") and call.args:
                arg = call.args[0]
                if arg.keyword is None and not arg.star:
                    for exc in self._conversion_raises(arg.value, func):
                        out.append(Site(exc, call, f"`{_code(call)}`", view, here))
            elif name == "divmod" and model.refers_to(call.func, "builtins.divmod") and len(call.args) == 2:
                dividend, divisor = call.args[0].value, call.args[1].value
                verdict = self._division(call, dividend, divisor, cst.FloorDivide(), func)
                if verdict == "site":
                    out.append(Site("ZeroDivisionError", call, f"`{_code(call)}`", view, here))
                elif verdict and verdict.startswith("mixed:") and not self._held_back(call, here, view):
                    self._mixed_finding(call, func, verdict)
                elif verdict == "zero" and not self._held_back(call, here, view):
                    self.add_finding(call, f"`{_code(call)}` in `{func.name.value}()` divides by the literal 0: it always raises")
            else:
                helper = self._helper(call.func)
                if helper is not None and helper not in seen:
                    out.extend(self._sites(helper, view, here, seen))
        return out

    def _sole_binding(self, name: cst.Name) -> cst.CSTNode | None:
        """The node that binds ``name`` when exactly one assignment does."""
        scope = self.flask.scopes.get(name)
        if scope is None or name.value not in scope:
            return None
        assignments = list(scope[name.value])
        if len(assignments) != 1 or not isinstance(assignments[0], Assignment):
            return None
        return assignments[0].node

    def _helper(self, name: cst.Name) -> cst.FunctionDef | None:
        """The module-level function ``name`` calls, when it is one (and not itself a handler)."""
        model = self.flask
        node = self._sole_binding(name)
        if isinstance(node, cst.FunctionDef) and model.parent(node) is model.module and not node.decorators:
            return node
        return None

    # division ---------------------------------------------------------------------------

    def _division(self, node, dividend, divisor, op, func) -> str | None:  # type: ignore[no-untyped-def]
        """"site": may raise ZeroDivisionError; "zero": divides by literal 0; None: cannot raise it."""
        value = _numeric_literal(divisor)
        if value is not None:
            return "zero" if value == 0 else None
        if _non_numeric_literal(divisor):
            return None  # "%" formatting, path joins, or a TypeError: not a division by zero
        if isinstance(op, (cst.Modulo, cst.ModuloAssign)) and self._stringish(dividend):
            return None  # string formatting
        if isinstance(op, (cst.Divide, cst.DivideAssign)) and self._pathish(dividend):
            return None  # pathlib join
        if self._never_zero(divisor) or self._server_side(divisor):
            return None
        if isinstance(divisor, cst.Name) and self._guarded(node, divisor, func):
            return None
        origins = self._origins(divisor, func)
        if not from_client(origins):
            return None  # config, constants, the database, unknown code: a zero there is not bad input
        if not only_client(origins):
            return "mixed:" + ", ".join(sorted(_origin_words(origins - CLIENT - {"constant"})))
        return "site"

    # where values come from (codemods/origins.py) -------------------------------------------

    def _origins(self, expr: cst.BaseExpression, func: cst.FunctionDef) -> frozenset[str]:
        """Where ``expr`` (inside ``func``) may come from, by the shared origin analysis:
        the request, the URL, or the server side; ``unknown`` when it cannot be followed."""
        if not hasattr(self, "_mo"):
            code = self.flask.module.code
            self._ast_tree = ast.parse(code)
            index = self.project.index() if self.project.files else None
            self._mo = ModuleOrigins(self._ast_tree, self.run.module_name, index)
        a_func = self._ast_function(func)
        node = self._ast_expr(expr, a_func)
        if a_func is None or node is None:
            return frozenset({"unknown"})
        handler = self.flask.handler(func)
        url: list[str] = []
        if handler is not None and handler.kind == "view":
            url = [a.arg for a in [*a_func.args.posonlyargs, *a_func.args.args, *a_func.args.kwonlyargs] if a.arg != "self"]
        return self._mo.of(node, a_func, url)

    def _ast_function(self, func: cst.FunctionDef) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        pos = self.get_metadata(PositionProvider, func)
        for n in ast.walk(self._ast_tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == func.name.value \
                    and pos.start.line <= n.lineno <= pos.end.line:
                return n
        return None

    def _ast_expr(self, expr: cst.BaseExpression, a_func: ast.AST | None) -> ast.expr | None:
        if a_func is None:
            return None
        try:
            wanted = ast.unparse(ast.parse("(" + self.flask.module.code_for_node(expr) + ")", mode="eval").body)
        except SyntaxError:
            return None
        pos = self.get_metadata(PositionProvider, expr)
        # only the expressions on the site's lines are unparsed (every expression of the
        # function, for every site, made long views quadratic)
        found = [n for n in ast.walk(a_func) if isinstance(n, ast.expr) and pos.start.line <= n.lineno <= pos.end.line
                 and ast.unparse(n) == wanted]
        return min(found, key=lambda n: abs(n.lineno - pos.start.line)) if found else None

    def _mixed_finding(self, node: cst.CSTNode, func: cst.FunctionDef, verdict: str) -> None:
        self.add_finding(
            node,
            f"`{_code(node)}` in `{func.name.value}()`: the divisor may come from the request, but also from "
            f"{verdict[len('mixed:'):]}; not answered 400, since a zero from there would be reported as the "
            "client's fault",
        )

    def _stringish(self, expr: cst.BaseExpression) -> bool:
        if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            return True
        values = self._single_values(expr)
        return bool(values) and all(isinstance(v, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)) for v in values)

    def _pathish(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        if depth > 4:
            return False
        if isinstance(expr, cst.Call):
            return any(q.startswith(("pathlib.", "os.PathLike")) for q in self.flask.qualified_names(expr.func))
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Divide):
            return self._pathish(expr.left, depth + 1)
        if isinstance(expr, cst.Attribute) and expr.attr.value in ("parent", "parents"):
            return self._pathish(expr.value, depth + 1)
        values = self._single_values(expr)
        return bool(values) and all(self._pathish(v, depth + 1) for v in values)

    def _single_values(self, expr: cst.BaseExpression) -> list[cst.BaseExpression]:
        """The values a Name is bound to by plain ``name = value`` statements (all of its bindings), else []."""
        if not isinstance(expr, cst.Name):
            return []
        scope = self.flask.scopes.get(expr)
        if scope is None or expr.value not in scope:
            return []
        values = []
        for a in scope[expr.value]:
            if not isinstance(a, Assignment) or not isinstance(a.node, cst.Name):
                return []
            parent = self.flask.parent(a.node)
            if isinstance(parent, cst.AssignTarget):
                assign = self.flask.parent(parent)
                if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
                    return []
                values.append(assign.value)
            elif isinstance(parent, cst.AnnAssign) and parent.value is not None and parent.target is a.node:
                values.append(parent.value)
            else:
                return []
        return values

    def _server_side(self, divisor: cst.BaseExpression) -> bool:
        """A divisor the client cannot make zero: the app's configuration
        (``current_app.config["PER_PAGE"]``, ``app.config.get(...)`` of this module's app),
        or a name bound only
        to such reads or to non-zero number literals (``per_page = 9``). A zero there is a
        server bug, which a 400 "bad input" answer would misreport."""
        values = self._single_values(divisor) if isinstance(divisor, cst.Name) else [divisor]
        if not values:
            return False
        for value in values:
            number = _numeric_literal(value)
            if number is not None:
                if number == 0:
                    return False
                continue
            if isinstance(value, cst.Subscript):
                holder: cst.BaseExpression = value.value
            elif isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "get":
                holder = value.func.value
            else:
                return False
            if not (isinstance(holder, cst.Attribute) and holder.attr.value == "config" and self._is_app(holder.value)):
                return False
        return True

    def _is_app(self, expr: cst.BaseExpression) -> bool:
        """``current_app``, or a name bound to one of this module's Flask apps."""
        if self.flask.refers_to(expr, "flask.current_app"):
            return True
        return isinstance(expr, cst.Name) and any(a.name == expr.value for a in self.flask.apps)

    def _never_zero(self, divisor: cst.BaseExpression) -> bool:
        """``x or 1``, ``max(1, x)``, ``len(x) + 1``-like forms that cannot be zero."""
        if isinstance(divisor, cst.BooleanOperation) and isinstance(divisor.operator, cst.Or):
            value = _numeric_literal(divisor.right)
            return value is not None and value != 0
        if isinstance(divisor, cst.Call) and isinstance(divisor.func, cst.Name) and divisor.func.value == "max":
            if self.flask.refers_to(divisor.func, "builtins.max"):
                return any((_numeric_literal(a.value) or 0) > 0 for a in divisor.args if a.keyword is None and not a.star)
        return False

    def _guarded(self, node: cst.CSTNode, divisor: cst.Name, func: cst.FunctionDef) -> bool:
        """Is ``node`` only reached when ``divisor`` is non-zero (an ``if`` around it, or an early exit before it)?"""
        model = self.flask
        name = divisor.value
        scope = model.scopes.get(divisor)
        if scope is None or name not in scope or len(list(scope[name])) != 1:
            return False  # rebound: a guard on one binding says nothing of another
        child: cst.CSTNode = node
        for anc in model.ancestors(node):
            if isinstance(anc, cst.If) and child is anc.body and _implies_nonzero(anc.test, name):
                return True
            if isinstance(anc, cst.IfExp) and child is anc.body and _implies_nonzero(anc.test, name):
                return True
            if isinstance(anc, cst.IfExp) and child is anc.orelse and _implies_zero(anc.test, name):
                return True
            if isinstance(anc, cst.BooleanOperation) and isinstance(anc.operator, cst.And) and child is anc.right:
                if _implies_nonzero(anc.left, name):
                    return True
            if isinstance(anc, cst.IndentedBlock) or isinstance(anc, cst.Module):
                stmts = list(anc.body)
                if child in stmts:
                    for stmt in stmts[: stmts.index(child)]:
                        if isinstance(stmt, cst.If) and stmt.orelse is None and _implies_zero(stmt.test, name) and self._exits(stmt.body):
                            return True
            if anc is func:
                break
            child = anc
        return False

    def _exits(self, body: cst.BaseSuite) -> bool:
        stmts = list(body.body) if isinstance(body, cst.IndentedBlock) else [body]
        if not stmts:
            return False
        last = stmts[-1]
        smalls = list(last.body) if isinstance(last, cst.SimpleStatementLine) else list(getattr(last, "body", []) or [])
        if isinstance(last, cst.SimpleStatementLine):
            for small in smalls:
                if isinstance(small, (cst.Return, cst.Raise)):
                    return True
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                    if self.flask.refers_to(small.value.func, "flask.abort"):
                        return True
        return False

    # conversions of request data ------------------------------------------------------

    def _conversion_raises(self, arg: cst.BaseExpression, func: cst.FunctionDef, depth: int = 0) -> list[str]:
        """The exceptions ``int(arg)``/``float(arg)`` raises because of what the request holds."""
        model = self.flask
        if isinstance(arg, cst.Call) and isinstance(arg.func, cst.Attribute) and arg.func.attr.value == "get":
            container = arg.func.value
            if call_arg(arg, "type") is not None or not arg.args:
                return []
            if self._request_attr(container) in STRING_MULTIDICTS:
                default = call_arg(arg, "default", 1)
                if default is None or (isinstance(default, cst.Name) and default.value == "None"):
                    return ["ValueError", "TypeError"]  # int(None) when the key is absent
                return ["ValueError"]
            if self._is_json_body(container, func):
                return ["ValueError", "TypeError"]
            return []
        if isinstance(arg, cst.Subscript):
            if self._request_attr(arg.value) in STRING_MULTIDICTS:
                return ["ValueError"]  # a missing key is already werkzeug's 400
            if self._is_json_body(arg.value, func) or self._json_index(arg, func):
                return ["ValueError", "TypeError"]
            return []
        if isinstance(arg, cst.Name) and depth == 0:
            if self._string_view_arg(arg, func) or self._iterates_request_strings(arg):
                return ["ValueError"]
            values = self._local_values(arg, func)
            if values:
                found: list[str] = []
                for v in values:
                    for exc in self._conversion_raises(v, func, depth + 1):
                        if exc not in found:
                            found.append(exc)
                return found
        return []

    def _iterates_request_strings(self, name: cst.Name) -> bool:
        """``v`` in ``for v in request.args.getlist("v")`` (a loop or a comprehension), bound nowhere else."""
        model = self.flask
        scope = model.scopes.get(name)
        if scope is None or name.value not in scope:
            return False
        bindings = list(scope[name.value])
        if len(bindings) != 1 or not isinstance(bindings[0], Assignment) or not isinstance(bindings[0].node, cst.Name):
            return False
        loop = model.parent(bindings[0].node)
        if not isinstance(loop, (cst.For, cst.CompFor)) or loop.target is not bindings[0].node:
            return False
        it = loop.iter
        return (
            isinstance(it, cst.Call)
            and isinstance(it.func, cst.Attribute)
            and it.func.attr.value == "getlist"
            and call_arg(it, "type") is None
            and self._request_attr(it.func.value) in STRING_MULTIDICTS
        )

    def _request_attr(self, expr: cst.BaseExpression) -> str | None:
        """``"args"`` for ``request.args`` (through any alias of flask.request), else None."""
        if isinstance(expr, cst.Attribute) and self._is_request(expr.value):
            return expr.attr.value
        return None

    def _is_request(self, expr: cst.BaseExpression) -> bool:
        return isinstance(expr, (cst.Name, cst.Attribute)) and self.flask.refers_to(expr, "flask.request")

    def _is_json_body(self, expr: cst.BaseExpression, func: cst.FunctionDef, depth: int = 0) -> bool:
        """``request.json``, ``request.get_json(...)``, or a local bound only to one of them."""
        if self._request_attr(expr) == "json":
            return True
        if isinstance(expr, cst.Call) and self._request_attr(expr.func) == "get_json":
            return True
        if isinstance(expr, cst.Name) and depth == 0:
            values = self._local_values(expr, func)
            return bool(values) and all(self._is_json_body(v, func, depth + 1) for v in values)
        return False

    def _json_index(self, node: cst.Subscript, func: cst.FunctionDef) -> bool:
        """A load of ``body[k]`` (or ``body[a][b]``) where body is the request's JSON."""
        parent = self.flask.parent(node)
        if isinstance(parent, (cst.AssignTarget, cst.Del)) or (isinstance(parent, cst.AugAssign) and parent.target is node):
            return False
        if isinstance(parent, (cst.AnnAssign, cst.For, cst.CompFor, cst.AsName)):
            if getattr(parent, "target", None) is node or getattr(parent, "name", None) is node:
                return False
        if isinstance(parent, (cst.Element, cst.StarredElement, cst.Tuple, cst.List)):
            return False  # possibly an unpacking target: not followed
        value = node.value
        while isinstance(value, cst.Subscript):
            value = value.value
        return self._is_json_body(value, func)

    def _key_checked(self, node: cst.Subscript, func: cst.FunctionDef) -> str | None:
        """``data["k"]`` only reached when ``"k" in data`` ("in": it can still raise TypeError
        if data is a list) or ``data.get("k")`` ("get": data is a mapping that holds k):
        an enclosing ``if``/conditional expression on it, the right side of ``... and``, or an
        earlier ``if "k" not in data`` / ``if not data.get("k")`` that returns, raises or
        aborts (``data`` bound once)."""
        found: list[str] = []
        return "get" if (hit := self._key_guard(node, func, found)) and "get" in found else "in" if hit else None

    def _key_guard(self, node: cst.Subscript, func: cst.FunctionDef, found: list[str]) -> bool:
        model = self.flask
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return False
        key = node.slice[0].slice.value
        if not isinstance(key, cst.SimpleString):
            return False
        wanted = key.evaluated_value
        container = node.value
        code = cst.Module([]).code_for_node
        if isinstance(container, cst.Name):
            name = container.value
            scope = model.scopes.get(container)
            if scope is None or name not in scope or len(list(scope[name])) != 1:
                return False

            def same(expr: cst.BaseExpression) -> bool:
                return _is_name(expr, name)

        elif self._request_json(container):
            text = code(container)  # request.json / request.get_json(): the same parsed body all request long

            def same(expr: cst.BaseExpression) -> bool:
                return code(expr) == text and self._request_json(expr)

        else:
            return False

        def got(test: cst.BaseExpression) -> bool:
            """``data.get("k")`` (truthy) or ``data.get("k") is not None``."""
            if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.comparisons[0].operator, cst.IsNot):
                if isinstance(test.comparisons[0].comparator, cst.Name) and test.comparisons[0].comparator.value == "None":
                    test = test.left
            return (
                isinstance(test, cst.Call)
                and isinstance(test.func, cst.Attribute)
                and test.func.attr.value == "get"
                and same(test.func.value)
                and len(test.args) >= 1
                and isinstance(test.args[0].value, cst.SimpleString)
                and test.args[0].value.evaluated_value == wanted
            )

        def membership(test: cst.BaseExpression, positive: bool) -> bool:
            if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And if positive else cst.Or):
                return membership(test.left, positive) or membership(test.right, positive)
            if positive and got(test):
                found.append("get")
                return True
            if not positive and isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not) and got(test.expression):
                found.append("get")
                return True
            if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
                return False
            comp = test.comparisons[0]
            op = cst.In if positive else cst.NotIn
            return (
                isinstance(comp.operator, op)
                and isinstance(test.left, cst.SimpleString)
                and test.left.evaluated_value == wanted
                and same(comp.comparator)
            )

        child: cst.CSTNode = node
        for anc in model.ancestors(node):
            if isinstance(anc, (cst.If, cst.IfExp)) and child is anc.body and membership(anc.test, True):
                return True
            if isinstance(anc, cst.BooleanOperation) and isinstance(anc.operator, cst.And) and child is anc.right and membership(anc.left, True):
                return True  # "k" in data and data["k"] ...
            if isinstance(anc, cst.IndentedBlock):
                stmts = list(anc.body)
                if child in stmts:
                    for stmt in stmts[: stmts.index(child)]:
                        if isinstance(stmt, cst.If) and stmt.orelse is None and membership(stmt.test, False) and self._exits(stmt.body):
                            return True
            if anc is func:
                break
            child = anc
        return False

    def _request_json(self, expr: cst.BaseExpression) -> bool:
        """``request.json`` or ``request.get_json()`` (flask.request, no arguments)."""
        if isinstance(expr, cst.Call) and not expr.args:
            expr = expr.func
            attr = "get_json"
        else:
            attr = "json"
        return isinstance(expr, cst.Attribute) and expr.attr.value == attr and self.flask.refers_to(expr.value, "flask.request")

    def _local_values(self, name: cst.Name, func: cst.FunctionDef) -> list[cst.BaseExpression]:
        """What a local of ``func`` is bound to, when every binding is a plain assignment in ``func``."""
        scope = self.flask.scopes.get(name)
        func_scope = self.flask.scopes.get(func.body)
        if scope is None or scope is not func_scope or name.value not in scope:
            return []
        if any(a.scope is not func_scope for a in scope[name.value]):
            return []
        return self._single_values(name)

    def _string_view_arg(self, name: cst.Name, func: cst.FunctionDef) -> bool:
        """Is ``name`` a view parameter, never rebound, that some route rule passes as a str?"""
        handler = self.flask.handler(func)
        if handler is None or handler.kind != "view":
            return False
        scope = self.flask.scopes.get(name)
        if scope is None or name.value not in scope:
            return False
        bindings = list(scope[name.value])
        if len(bindings) != 1 or not isinstance(bindings[0], Assignment) or not isinstance(bindings[0].node, cst.Param):
            return False
        if bindings[0].node not in (*func.params.params, *func.params.posonly_params, *func.params.kwonly_params):
            return False
        for dec in handler.route_decorators:
            expr = dec.decorator
            if not isinstance(expr, cst.Call):
                continue
            rule = call_arg(expr, "rule", 0)
            if not isinstance(rule, cst.SimpleString):
                continue
            text = rule.evaluated_value
            text = text.decode() if isinstance(text, bytes) else text
            for m in _RULE_PARAM.finditer(text):
                if m.group("name") == name.value and (m.group("conv") or "default") in STRING_CONVERTERS:
                    return True
        return False

    # is it handled already? ---------------------------------------------------------------

    def _covered(self, site: Site) -> bool | str:
        """True: an enclosing try (or suppress) handles it; a string: cannot tell (why); False: escapes."""
        for node, func in site.path:
            verdict = self._try_covers(node, func, site.exc)
            if verdict is not False:
                return verdict
        return False

    def _try_covers(self, node: cst.CSTNode, func: cst.FunctionDef, exc: str) -> bool | str:
        unknown: str | None = None
        child = node
        for anc in self.flask.ancestors(node):
            if anc is func:
                break
            if isinstance(anc, (cst.Try, cst.TryStar)) and child is anc.body:
                for handler in anc.handlers:
                    verdict = self._class_covers(handler.type, exc)
                    if verdict is True:
                        return True
                    if verdict is None and unknown is None:
                        unknown = (
                            f"the `except {_code(handler.type)}` at line {self.line_of(handler)} names something "
                            "flaskfix cannot resolve; it may already catch it"
                        )
            elif isinstance(anc, cst.With) and child is anc.body:
                for item in anc.items:
                    call = item.item
                    if isinstance(call, cst.Call) and self.flask.refers_to(call.func, "contextlib.suppress"):
                        for arg in call.args:
                            verdict = self._class_covers(arg.value, exc)
                            if verdict is True:
                                return True
                            if verdict is None and unknown is None:
                                unknown = f"`{_code(call)}` at line {self.line_of(call)} may suppress it"
            child = anc
        return unknown if unknown is not None else False

    def _class_covers(self, expr: cst.BaseExpression | None, exc: str) -> bool | None:
        """Does an except clause naming ``expr`` catch ``exc``? None: cannot tell."""
        if expr is None:
            return True  # bare except
        if isinstance(expr, cst.Tuple):
            verdicts = [self._class_covers(el.value, exc) for el in expr.elements]
            if True in verdicts:
                return True
            return None if None in verdicts else False
        kind, name = self._exception_name(expr)
        if kind == "class":
            return name in COVERING[exc]
        if kind in ("500", "other"):
            return False
        return None

    def _exception_name(self, expr: cst.BaseExpression) -> tuple[str, str]:
        """Classify an exception expression: ("class", builtin name), ("500", ""), ("other", ""), ("unknown", "")."""
        if isinstance(expr, cst.Integer):
            return ("500", "") if expr.evaluated_value == 500 else ("other", "")
        if not isinstance(expr, (cst.Name, cst.Attribute)):
            return ("unknown", "")
        names = self.flask.qualified_names(expr)
        for q in names:
            if q.startswith("builtins.") and q[len("builtins."):] in ALL_COVERING:
                return ("class", q[len("builtins."):])
        if names & SERVER_ERROR_NAMES:
            return ("500", "")
        if isinstance(expr, cst.Name):
            scope = self.flask.scopes.get(expr)
            if scope is not None and expr.value in scope:
                bindings = list(scope[expr.value])
                if bindings and all(
                    isinstance(b, Assignment) and isinstance(b.node, (cst.ClassDef, cst.Import, cst.ImportFrom)) for b in bindings
                ):
                    return ("other", "")  # a class of this module, or one imported from a non-builtin module
                return ("unknown", "")
            if names and all(q.startswith("builtins.") for q in names):
                return ("other", "")  # another built-in class (OSError, ...)
            return ("unknown", "")
        if any(q.startswith(("werkzeug.", "flask.", "sqlalchemy.", "builtins.")) for q in names):
            return ("other", "")
        return ("unknown", "")

    def _registrations(self) -> list[Registration]:
        regs: list[Registration] = []
        model = self.flask

        class V(cst.CSTVisitor):
            def visit_Call(self_inner, node: cst.Call) -> None:
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value in REGISTER_METHODS:
                    target = self._object_for(f.value)
                    arg = call_arg(node, "code_or_exception", 0)
                    kind, name = self._exception_name(arg) if arg is not None else ("unknown", "")
                    regs.append(Registration(self.line_of(node), f.attr.value, target, _code(f.value), kind, name))

        model.module.visit(V())
        return regs

    def _object_for(self, expr: cst.BaseExpression) -> FlaskObject | None:
        if not isinstance(expr, cst.Name):
            return None
        model = self.flask
        scope = model.scopes.get(expr)
        if scope is None or expr.value not in scope:
            return None
        bindings = list(scope[expr.value])
        if len(bindings) != 1 or not isinstance(bindings[0], Assignment):
            return None
        node = bindings[0].node
        for obj in model.objects:
            if obj.call is not None and isinstance(node, cst.Name):
                parent = model.parent(node)
                assign = model.parent(parent) if isinstance(parent, cst.AssignTarget) else parent
                if isinstance(assign, (cst.Assign, cst.AnnAssign)) and assign.value is obj.call:
                    return obj
            elif obj.imported_from is not None and isinstance(node, (cst.Import, cst.ImportFrom)) and obj.name == expr.value:
                return obj
        if isinstance(node, cst.ImportFrom):  # an app/blueprint of another module, as the views' owner
            for handler in model.handlers.values():
                owner = handler.owner
                if owner is not None and owner.imported_from is not None and owner.name == expr.value:
                    return owner
        return None

    def _family(self, obj: FlaskObject) -> object:
        """Apps that are the same app at run time: the factory's local app and ``app = create_app()``."""
        if obj.kind != "app":
            return obj
        if isinstance(obj.scope_node, cst.FunctionDef) and obj.scope_node in self.flask.factories:
            return obj.scope_node.name.value
        if obj.call is not None and isinstance(obj.call.func, cst.Name):
            if any(f.name.value == obj.call.func.value for f in self.flask.factories):
                return obj.call.func.value
        return obj

    def _registered_verdict(self, owner: FlaskObject, exc: str, regs: list[Registration]) -> bool | str | None:
        """True: a registered handler covers it; a string: refuse (why); None: nothing covers it."""
        for reg in regs:
            if reg.target is None:
                if reg.kind in ("class", "unknown") and (reg.kind != "class" or reg.name in ANSWERING[exc]):
                    return (
                        f"an error handler is registered at line {reg.line} on `{reg.target_text}`, which flaskfix "
                        "cannot identify as a known app or blueprint; it may already cover this view"
                    )
                continue
            if not self._reaches(reg, owner):
                continue
            if reg.kind == "class" and reg.name in ANSWERING[exc]:
                return True  # the app answers this class its own way: leave it
            if reg.kind == "unknown":
                return f"the error handler registered at line {reg.line} is for a class flaskfix cannot read; it may cover {exc}"
        return self._registered_elsewhere(exc)

    def _reaches(self, reg: Registration, owner: FlaskObject) -> bool:
        """Can a handler registered this way run for requests served by ``owner``'s views?"""
        target = reg.target
        assert target is not None
        if reg.method == "app_errorhandler":
            return True  # app-wide, on whichever app registers that blueprint
        if target.kind == "app":
            return owner.kind == "blueprint" or self._family(target) == self._family(owner)
        if _owner_key(target) == _owner_key(owner):
            return True
        # a parent blueprint's handlers also run for the blueprints nested in it
        return owner.kind == "blueprint" and _owner_key(target) in self._parent_blueprints()

    def _parent_blueprints(self) -> set[object]:
        """Blueprints of this module that other blueprints are registered on (nesting)."""
        parents: set[object] = set()
        model = self.flask

        class V(cst.CSTVisitor):
            def visit_Call(self_inner, node: cst.Call) -> None:
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value == "register_blueprint":
                    obj = self._object_for(f.value)
                    if obj is None or obj.kind == "blueprint":
                        parents.add(_owner_key(obj) if obj is not None else None)

        model.module.visit(V())
        if None in parents:  # registered on something flaskfix cannot identify: any blueprint may be a parent
            parents |= {_owner_key(o) for o in model.blueprints}
        return parents

    def _registered_elsewhere(self, exc: str) -> str | None:
        wanted = ANSWERING[exc]
        paths = {p for word in sorted(REGISTER_METHODS) for p in self.project.files_mentioning(word, exclude=self.run.path)}
        for path in sorted(paths):
            tree = self.project.tree(path)
            if tree is None:
                continue
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in REGISTER_METHODS):
                    continue
                arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "code_or_exception"), None)
                last = _ast_last_name(arg)
                if last in wanted:
                    return f"a handler for {last} is registered in {self.project.relpath(path)}:{node.lineno}; it may already answer these views' {exc}"
        return self._registered_in_index(exc)

    def _registered_in_index(self, exc: str) -> str | None:
        """Registrations in other modules that only the project index sees: in a loop over
        ``default_exceptions`` or a tuple of codes, for a variable, a ``handle_exception``
        override on a Flask subclass, a Flask-RESTful ``Api`` (which answers its resources'
        errors itself)."""
        if not self.project.files:
            return None
        index = self.project.index()
        here = index.module_of(self.run.path)
        for h in index.error_handlers():
            if here is not None and h.module == here.module:
                continue  # this module's own registrations are judged with their owners
            where = f"{self.project.relpath(index.modules[h.module].path)}:{h.registration.line}"
            for kind, value in h.registration.keys:
                # handlers for 500, InternalServerError, Exception or every HTTP error do not
                # matter: the client-input class is answered by its own handler, found first
                if kind == "class" and str(value).rsplit(".", 1)[-1] in ANSWERING[exc]:
                    return f"a handler for {value} is registered in {where}; it may already answer these views' {exc}"
                if kind == "unknown":
                    return f"an error handler for {value} is registered in {where}, which flaskfix cannot read; it may cover {exc}"
        return None

    def _exception_observers(self) -> tuple[int, str] | None:
        """Code that sees unhandled exceptions and would stop seeing handled ones (first one found)."""
        model = self.flask
        found: list[tuple[int, str]] = []

        class V(cst.CSTVisitor):
            def visit_Name(self_inner, node: cst.Name) -> None:
                if node.value in EXCEPTION_SIGNALS and not found:
                    if any(q.startswith(("flask.", "blinker")) for q in model.qualified_names(node)):
                        found.append((self.line_of(node), f"this module uses the `{node.value}` signal (line {self.line_of(node)}), whose subscribers would stop seeing these exceptions"))

            def visit_Attribute(self_inner, node: cst.Attribute) -> None:
                if node.attr.value in EXCEPTION_SIGNALS and not found:
                    found.append((self.line_of(node), f"this module uses the `{node.attr.value}` signal (line {self.line_of(node)}), whose subscribers would stop seeing these exceptions"))

        model.module.visit(V())
        if found:
            return found[0]
        for func in _teardown_functions(model):
            param = _first_param(func)
            if param is None:
                continue
            scope = model.scopes.get(func.body)
            if scope is not None and param in scope and any(a.references for a in scope[param] if isinstance(a, Assignment)):
                line = self.line_of(func)
                return (line, f"teardown function `{func.name.value}()` (line {line}) reads the exception it is given; "
                        "with a handler it would receive None and treat the request as successful")
        if self.project.files:
            for module, line, what in self.project.index().exception_observers():
                path = self.project.relpath(self.project.index().modules[module].path)
                if _test_code(path):
                    continue  # a test that subscribes to see what happens does not run in production
                return (0, f"{path}:{line}: {what}, which would stop seeing these exceptions (instrumentation added "
                        "outside the code, such as ddtrace-run or opentelemetry-instrument, cannot be seen)")
        for word in sorted(EXCEPTION_SIGNALS | TEARDOWN_HOOKS):
            for path in self.project.files_mentioning(word, exclude=self.run.path):
                tree = self.project.tree(path)
                if tree is None or _test_code(self.project.relpath(path)):
                    continue
                hit = _ast_observer(tree, word)
                if hit:
                    return (0, f"{self.project.relpath(path)}:{hit[0]} {hit[1]}")
        return None

    # -- wrapping the sites ----------------------------------------------------------------

    def _wraps(
        self, plans: list[tuple[FlaskObject, str, list[Site]]], sites: list[Site]
    ) -> tuple[list[tuple[FlaskObject, str, list[Site]]], dict[cst.SimpleStatementLine, dict[str, list[Site]]]]:
        """The statement each planned site is wrapped in (``try`` ... ``except <class>``,
        re-raised as the client-input class), grouped by statement. A site is left alone,
        with one finding naming its classes and why, when its statement cannot be wrapped
        exactly, when a view of an app or blueprint that gets no handler also reaches it,
        or when the same expression earlier in the function was left alone (it would raise
        there first: wrapping the later one would fix nothing)."""
        planned = {(id(s.node), _owner_key(owner), exc) for owner, exc, group in plans for s in group}
        reaching: dict[int, set[tuple[object, str]]] = {}
        for site in sites:
            reaching.setdefault(id(site.node), set()).add((_owner_key(site.view.owner), site.exc))  # type: ignore[arg-type]
        why: dict[int, str] = {}  # site node -> the reason it is left alone
        targets: dict[int, cst.SimpleStatementLine] = {}  # site node -> the statement to wrap
        candidates: dict[int, list[Site]] = {}
        for _owner, _exc, group in plans:
            for site in group:
                candidates.setdefault(id(site.node), []).append(site)
        for key, group in candidates.items():
            site = group[0]
            missing = [exc for owner, exc in reaching[key] if (key, owner, exc) not in planned]
            if missing:
                other = next(s for s in sites if id(s.node) == key and (id(s.node), _owner_key(s.view.owner), s.exc) not in planned)  # type: ignore[arg-type]
                why[key] = (f"`{other.view.name}()` also reaches it, and flaskfix leaves that view's {other.exc} as it is "
                            "(its app or blueprint already answers it, or a finding there says why); wrapping it would "
                            "change what that view answers")
                continue
            target = self._wrap_target(site)
            if isinstance(target, str):
                why[key] = target
            else:
                targets[key] = target
        wraps: dict[cst.SimpleStatementLine, dict[str, list[Site]]] = {}
        for key, group in candidates.items():
            if key in why:
                continue
            target = targets[key]
            for site in group:
                if site not in wraps.setdefault(target, {}).setdefault(site.exc, []):
                    wraps[target][site.exc].append(site)
        for stmt, by_exc in list(wraps.items()):
            nodes = {exc: {id(s.node) for s in group} for exc, group in by_exc.items()}
            reason = next((r for exc in by_exc if (r := self._inexact(stmt, exc, nodes[exc])) is not None), None)
            if reason is not None:
                for group in by_exc.values():
                    for site in group:
                        why.setdefault(id(site.node), reason)
                del wraps[stmt]  # one try per statement: all of its sites or none
        # an expression left alone raises first: the same expression after it never will
        left: list[tuple[cst.FunctionDef, str, int, int]] = []
        for key in why:
            site = candidates[key][0]
            left.append((_holder(site), _code(site.node), self.line_of(site.node), key))
        for stmt, by_exc in list(wraps.items()):
            for group in by_exc.values():
                for site in group:
                    earlier = next((line for func, code, line, _ in left
                                    if func is _holder(site) and code == _code(site.node) and line < self.line_of(site.node)), None)
                    if earlier is not None and stmt in wraps:
                        del wraps[stmt]
                        for group2 in by_exc.values():
                            for s2 in group2:
                                why.setdefault(id(s2.node), f"the same `{_code(site.node)}` runs first at line {earlier}, "
                                               "where flaskfix leaves it alone; wrapping only this one would fix nothing")
        for key, reason in why.items():
            group = candidates[key]
            classes = ", ".join(sorted({s.exc for s in group}, key=EXCEPTIONS.index))
            self.add_finding(group[0].node, f"{classes} from {group[0].what} not handled: {reason}")
        kept = []
        for owner, exc, group in plans:
            group = [s for s in group if id(s.node) not in why]
            if group:
                kept.append((owner, exc, group))
        return kept, wraps

    def _wrap_target(self, site: Site) -> cst.SimpleStatementLine | str:
        """The simple statement to put in ``try``, or why there is none."""
        model = self.flask
        func = _holder(site)
        stmt = model.statement_of(site.node)
        if not isinstance(stmt, cst.SimpleStatementLine):
            compound = next((a for a in model.ancestors(site.node) if isinstance(a, (cst.BaseCompoundStatement, cst.SimpleStatementSuite))), None)
            if isinstance(compound, cst.SimpleStatementSuite) or compound is None:
                return "it is in a block written on one line; flaskfix puts only a statement on a line of its own in `try`"
            kind = COMPOUND_WORDS.get(type(compound).__name__, type(compound).__name__.lower())
            article = "an" if kind[0] in "aeiou" else "a"
            return (f"it is in the header of {article} `{kind}` statement; flaskfix puts only a whole simple statement in "
                    f"`try`, and wrapping the `{kind}` would also catch its body (move the operation to a statement of its own)")
        if len(stmt.body) != 1:
            return "its line holds several statements (`;`); put it on a line of its own"
        if not isinstance(model.parent(stmt), cst.IndentedBlock):
            return "it is not in an indented block"
        for anc in model.ancestors(site.node):
            if anc is stmt:
                break
            if isinstance(anc, cst.GeneratorExp) and not self._consumed_at_once(anc):
                return "it is in a generator expression, which runs later, outside the statement that creates it"
        if func is not site.view.func and self.project.external_uses(self.run.path, func.name.value):
            return (f"it is in `{func.name.value}()`, which other modules of the project also use; flaskfix would change "
                    "the exception they see")
        return stmt

    def _consumed_at_once(self, gen: cst.GeneratorExp) -> bool:
        """``sum(x for x in ...)`` and the like: the generator runs inside the call."""
        arg = self.flask.parent(gen)
        call = self.flask.parent(arg) if isinstance(arg, cst.Arg) else arg if isinstance(arg, cst.Call) else None
        if not isinstance(call, cst.Call) or len(call.args) != 1 or not isinstance(call.func, cst.Name):
            return False
        return call.func.value in CONSUMERS and self.flask.refers_to(call.func, f"builtins.{call.func.value}")

    def _inexact(self, stmt: cst.SimpleStatementLine, exc: str, sites: set[int]) -> str | None:
        """Why ``except <exc>`` around ``stmt`` would also catch an exception that is not
        one of ``sites``' (None: it would not)."""
        for node in _all_nodes(stmt):
            if id(node) in sites:
                continue
            if self._may_raise(node, exc):
                return (f"`{_code(node)}` in the same statement may also raise {exc} for reasons flaskfix cannot tie "
                        "to the request; `try` around the statement would answer those 400 too (move the operation "
                        "to its own statement)")
        return None

    def _may_raise(self, node: cst.CSTNode, exc: str) -> bool:
        """May evaluating ``node`` (not its children) raise ``exc``? Attribute reads are
        taken not to (a property raising one of these classes is not modelled)."""
        if isinstance(node, cst.Call):
            return not self._safe_call(node, exc)
        if isinstance(node, (cst.BinaryOperation, cst.AugAssign)):
            if exc == "TypeError":
                return True
            op = node.operator
            if isinstance(op, (cst.Divide, cst.FloorDivide, cst.Modulo, cst.DivideAssign, cst.FloorDivideAssign, cst.ModuloAssign)):
                divisor = node.right if isinstance(node, cst.BinaryOperation) else node.value
                value = _numeric_literal(divisor)
                if exc == "ZeroDivisionError" and (value is None or value == 0):
                    return True
                if exc == "ValueError" and isinstance(op, (cst.Modulo, cst.ModuloAssign)):
                    left = node.left if isinstance(node, cst.BinaryOperation) else node.target
                    return not _numeric(left, self.flask)  # %-formatting of a string may raise it
            return False
        if isinstance(node, cst.Subscript):
            if exc == "KeyError" and self._stored(node):
                return False  # ``d[k] = v`` sets a key, it never looks one up
            return exc in ("KeyError", "TypeError")
        if isinstance(node, (cst.UnaryOperation, cst.Comparison, cst.StarredDictElement, cst.StarredElement)):
            return exc == "TypeError"
        if isinstance(node, cst.DictElement) and exc == "TypeError":
            return not isinstance(node.key, (cst.SimpleString, cst.Integer, cst.Float))  # an unhashable key
        if isinstance(node, cst.Set) and exc == "TypeError":
            return True
        if isinstance(node, (cst.Await, cst.Yield)):
            return True
        if isinstance(node, cst.FormattedStringExpression) and node.format_spec:
            return exc in ("ValueError", "TypeError")
        return False

    def _stored(self, node: cst.Subscript) -> bool:
        parent = self.flask.parent(node)
        while isinstance(parent, (cst.Element, cst.Tuple, cst.List)):
            parent = self.flask.parent(parent)
        return isinstance(parent, cst.AssignTarget) or (isinstance(parent, cst.AnnAssign) and parent.target is node)

    def _safe_call(self, call: cst.Call, exc: str) -> bool:
        """Calls that cannot raise ``exc``: the request's accessors, a few built-ins, jsonify."""
        names = self.flask.qualified_names(call.func)
        for q in names:
            if q.startswith("builtins.") and q[len("builtins."):] in SAFE_BUILTINS[exc]:
                return True
            if q in ("flask.jsonify", "flask.json.jsonify") and exc != "TypeError":
                return True
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in REQUEST_ACCESSORS:
            receiver = func.value
            if isinstance(receiver, cst.Attribute):
                receiver = receiver.value
            if self._is_request(receiver):
                return True
            if func.attr.value == "get" and exc != "TypeError" and self._request_json(func.value):
                return True  # the JSON body's dict.get: returns a default, never raises these
        if (isinstance(func, cst.Attribute) and func.attr.value == "get" and exc != "TypeError"
                and isinstance(func.value, cst.Name) and self._json_name(func.value)):
            return True
        return False

    def _json_name(self, name: cst.Name) -> bool:
        """A name bound once, in this function, to the request's JSON body."""
        target = self._sole_binding(name)
        if target is None:
            return False
        assign = self.flask.parent(self.flask.parent(target)) if isinstance(self.flask.parent(target), cst.AssignTarget) else None
        return isinstance(assign, cst.Assign) and self._request_json(assign.value)

    # -- placing the handlers --------------------------------------------------------------

    def _placement(self, owner: FlaskObject) -> str | tuple[cst.CSTNode, cst.CSTNode | None]:
        """Where handlers for ``owner`` go: (statement to insert after, factory def or None), or why not."""
        model = self.flask
        scope_node = owner.scope_node
        if scope_node is model.module:
            container: cst.CSTNode = model.module
            factory = None
        elif isinstance(scope_node, cst.FunctionDef) and owner.kind == "app" and scope_node in model.factories:
            if model.parent(scope_node) is not model.module:
                return f"the factory `{scope_node.name.value}()` is not a module-level function"
            if not isinstance(scope_node.body, cst.IndentedBlock):
                return f"the factory `{scope_node.name.value}()` is written on one line"
            container = scope_node.body
            factory = scope_node
        else:
            return f"`{owner.name}` is created inside a function that is not an app factory; flaskfix cannot place a handler"
        stmts = list(container.body)  # type: ignore[attr-defined]
        last = None
        for h in model.handlers.values():
            if h.kind != "view" or h.owner is None or _owner_key(h.owner) != _owner_key(owner):
                continue
            top = _top_statement(model, h.func, container)
            if top is not None and (last is None or stmts.index(top) > stmts.index(last)):
                last = top
        if last is None:
            return f"the views of `{owner.name}` are not in the body that creates it"
        return (last, factory)

    def _apply(
        self,
        tree: cst.Module,
        plans: list[tuple[FlaskObject, str, list[Site]]],
        wraps: dict[cst.SimpleStatementLine, dict[str, list[Site]]],
        status: int,
        messages: dict[str, str],
    ) -> cst.Module:
        model = self.flask
        q = quote_style(tree)
        indent = tree.default_indent
        current_app = self._flask_name("current_app")
        request = self._flask_name("request")
        bad_request = self._import_name("werkzeug.exceptions", "BadRequest")
        taken: set[str] = set()
        base = model.free_name("ClientInputError", taken)
        taken.add(base)
        classes: dict[str, str] = {}
        for exc in EXCEPTIONS:
            if any(exc in by_exc for by_exc in wraps.values()):
                classes[exc] = model.free_name(CLIENT_CLASSES[exc][0], taken)
                taken.add(classes[exc])
        # the classes, after the imports: one base every handler is registered for, and a
        # subclass per built-in class that still is one (``except ValueError`` keeps catching it)
        doc = "Bad input in the request, at an operation flaskfix wrapped: answered 400 below."
        defs = [f'class {base}({bad_request}):\n{indent}"""{doc}"""\n']
        for exc, name in classes.items():
            defs.append(f'class {name}({base}, {exc}):\n{indent}"""{CLIENT_CLASSES[exc][1]}"""\n')
        class_nodes = []
        for text in defs:
            node = cst.parse_statement(text, config=tree.config_for_parsing)
            class_nodes.append(node.with_changes(leading_lines=[cst.EmptyLine(indent=False)] * 2))
        after: dict[cst.CSTNode, list[cst.BaseStatement]] = {}
        before: dict[cst.CSTNode, list[cst.BaseStatement]] = {}
        end = _import_block_end(tree)
        if end:
            after.setdefault(tree.body[end - 1], []).extend(class_nodes)
        else:
            before.setdefault(tree.body[0], []).extend(class_nodes)
        # the handlers: one per app or blueprint, registered for the base class only
        handler_for: dict[object, str] = {}
        for owner, exc, group in plans:
            key = _owner_key(owner)
            where = self._placement(owner)
            assert not isinstance(where, str)
            anchor, factory = where
            if key not in handler_for:
                name = model.free_name("handle_client_input_error", taken)
                taken.add(name)
                handler_for[key] = name
                lines = []
                if factory is None:
                    lines.append(f"@{owner.name}.errorhandler({base})")
                lines.append(f"def {name}(error):")
                # bad client input is not a server error: one WARNING line, no traceback
                log = string_literal(f"%s %s (view %s): %r, answered {status}", q)
                args = [log, f"{request}.method", f"{request}.path", f"{request}.endpoint", "error.__cause__"]
                lines += _wrapped(indent, f"{current_app}.logger.warning(", args, ")")
                body = f"{{{string_literal('error', q)}: error.description}}"
                lines.append(f"{indent}return {body}, {status}")
                func = cst.parse_statement("\n".join(lines) + "\n", config=tree.config_for_parsing)
                func = func.with_changes(leading_lines=[cst.EmptyLine(indent=False), cst.EmptyLine(indent=False)])
                if factory is None:
                    after.setdefault(anchor, []).append(func)
                else:
                    before.setdefault(factory, []).append(func)
                    reg = cst.parse_statement(f"{owner.name}.register_error_handler({base}, {name})\n", config=tree.config_for_parsing)
                    if not after.get(anchor):
                        reg = reg.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
                    after.setdefault(anchor, []).append(reg)
            name = handler_for[key]
            how = (f"`@{owner.name}.errorhandler({base})` `{name}()`" if factory is None else
                   f"`{owner.name}.register_error_handler({base}, {name})` in `{factory.name.value}()`")  # type: ignore[union-attr]
            first = min(group, key=lambda s: self.line_of(s.node))
            views = sorted({s.view.name for s in group})
            count = len({id(self.flask.statement_of(s.node)) for s in group})
            where = "its statement now re-raises it" if count == 1 else f"the {count} statements holding such operations now re-raise it"
            self.add_change(
                first.node,
                f"{first.what} in `{'()`, `'.join(views)}()` can raise {exc}, answered 500: {where} as {classes[exc]} "
                f"(a 400 Bad Request that is still a {exc}), answered {status} by {how}; "
                f"{exc} raised anywhere else keeps its outcome",
            )
        # the sites: each statement in try/except, re-raising the client-input class; next
        # statements of one block that need the same except clauses share one try
        replace: dict[cst.CSTNode, cst.BaseStatement] = {}
        removed: set[cst.CSTNode] = set()
        runs: list[list[cst.SimpleStatementLine]] = []
        for stmt in sorted(wraps, key=lambda st: self.line_of(st)):
            if runs and _next_statement(model, runs[-1][-1]) is stmt and set(wraps[runs[-1][-1]]) == set(wraps[stmt]):
                runs[-1].append(stmt)
            else:
                runs.append([stmt])
        for run in runs:
            by_exc = wraps[run[0]]
            site = next(iter(by_exc.values()))[0]
            holder = _holder(site)
            var = _free_local("exc", holder)
            column = self.get_metadata(PositionProvider, run[0]).start.column
            raises = []
            for exc in EXCEPTIONS:
                if exc in by_exc:
                    raises.append((exc, _raise_text(classes[exc], string_literal(messages[exc], q), var, column + len(indent), indent)))
            replace[run[0]] = _try_statement(run, raises, var, tree.config_for_parsing)
            removed.update(run[1:])
        return tree.visit(_Inserter(after, before, replace, removed))

    def _flask_name(self, attr: str) -> str:
        existing = self.flask.expression_for(f"flask.{attr}")
        if existing is not None:
            return existing
        return self._import_name("flask", attr)

    def _import_name(self, module: str, attr: str) -> str:
        existing = self.flask.expression_for(f"{module}.{attr}")
        if existing is not None:
            return existing
        module_names = {a.name for a in self.flask.module_scope().assignments}
        if attr in module_names:
            alias = self.flask.free_name(attr)
            self.add_import(module, attr, alias)
            return alias
        self.add_import(module, attr)
        return attr


class _Inserter(cst.CSTTransformer):
    """Insert statements after/before given original statements, wherever they sit."""

    def __init__(
        self,
        after: dict[cst.CSTNode, list[cst.BaseStatement]],
        before: dict[cst.CSTNode, list[cst.BaseStatement]],
        replace: dict[cst.CSTNode, cst.BaseStatement] | None = None,
        removed: set[cst.CSTNode] | None = None,
    ) -> None:
        self.after = after
        self.before = before
        self.replace = replace or {}
        self.removed = removed or set()

    def leave_SimpleStatementLine(  # type: ignore[override]
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.RemovalSentinel:
        if original_node in self.removed:
            return cst.RemovalSentinel.REMOVE  # moved into the try of the statement before it
        return self.replace.get(original_node, updated_node)

    def _splice(self, original_body: Iterable[cst.CSTNode], updated_body: Iterable[cst.CSTNode]) -> list[cst.CSTNode]:
        out: list[cst.CSTNode] = []
        pending_blank = False
        for orig, new in zip([o for o in original_body if o not in self.removed], updated_body):
            if orig in self.before:
                out.extend(self.before[orig])
                new = _with_blank_lines(new, 2)
            elif pending_blank:
                new = _with_blank_lines(new, 2)
            pending_blank = False
            out.append(new)
            if orig in self.after:
                out.extend(self.after[orig])
                pending_blank = isinstance(self.after[orig][-1], (cst.FunctionDef, cst.ClassDef))
        return out

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return updated_node.with_changes(body=self._splice(original_node.body, updated_node.body))

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        if not any(s in self.after or s in self.before for s in original_node.body):
            return updated_node
        return updated_node.with_changes(body=self._splice(original_node.body, updated_node.body))


def _owner_key(obj: FlaskObject) -> object:
    """Identity of an app/blueprint: the model makes a new object per use of an imported one."""
    if obj.imported_from is not None:
        return ("imported", obj.imported_from, obj.name)
    return obj


def _with_blank_lines(stmt: cst.CSTNode, n: int) -> cst.CSTNode:
    lines = list(getattr(stmt, "leading_lines", []))
    blanks = 0
    for line in lines:
        if line.comment is None:
            blanks += 1
        else:
            break
    if blanks >= n:
        return stmt
    return stmt.with_changes(leading_lines=[cst.EmptyLine(indent=False)] * (n - blanks) + lines)


# -- small helpers -------------------------------------------------------------------------


def _body_nodes(func: cst.FunctionDef) -> Iterator[cst.CSTNode]:
    """Every node that runs when ``func`` runs: not nested defs, lambdas or classes."""
    out: list[cst.CSTNode] = []

    class V(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if node is not func and isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return False
            if node is not func:
                out.append(node)
            return True

    func.body.visit(V())
    return iter(out)


def _test_code(relpath: str) -> bool:
    """A test module (pytest's and unittest's naming): it never runs in production."""
    parts = relpath.replace("\\", "/").split("/")
    name = parts[-1]
    return (any(p in ("tests", "test", "testing") for p in parts[:-1]) or name.startswith("test_")
            or name.endswith("_test.py") or name == "conftest.py")


def _numeric(expr: cst.BaseExpression, model) -> bool:  # type: ignore[no-untyped-def]
    """A number for sure: a numeric literal, or ``int()``/``float()``/``len()`` of anything."""
    if _numeric_literal(expr) is not None:
        return True
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value in ("int", "float", "len"):
        return model.refers_to(expr.func, f"builtins.{expr.func.value}")
    return False


def _free_local(base: str, func: cst.FunctionDef) -> str:
    """``base`` or ``base_2``...: a name ``func`` does not mention (binding it in an except
    clause must not shadow a global the function reads)."""
    used = {n.value for n in _all_nodes(func) if isinstance(n, cst.Name)}
    if base not in used:
        return base
    i = 2
    while f"{base}_{i}" in used:
        i += 1
    return f"{base}_{i}"


def _raise_text(cls: str, message: str, var: str, column: int, indent: str) -> str:
    """``raise Cls("message") from exc``, split the way black splits it when it is too long."""
    one = f"raise {cls}({message}) from {var}"
    if column + len(one) <= MAX_LINE:
        return one + "\n"
    return f"raise {cls}(\n{indent}{message}\n) from {var}\n"  # LibCST indents the lines to the block


def _holder(site: Site) -> cst.FunctionDef:
    """The function whose body holds the site (the view, or a helper it calls)."""
    return site.path[-1][1] if site.path else site.view.func


def _next_statement(model, stmt: cst.CSTNode) -> cst.CSTNode | None:  # type: ignore[no-untyped-def]
    block = model.parent(stmt)
    body = list(getattr(block, "body", ()))
    i = next((k for k, s in enumerate(body) if s is stmt), None)
    return body[i + 1] if i is not None and i + 1 < len(body) else None


def _try_statement(run: list[cst.SimpleStatementLine], raises: list[tuple[str, str]], var: str, config: cst.PartialParserConfig) -> cst.Try:
    handlers = [
        cst.ExceptHandler(
            body=cst.IndentedBlock(body=[cst.parse_statement(text, config=config)]),
            type=cst.Name(exc),
            name=cst.AsName(name=cst.Name(var)),
        )
        for exc, text in raises
    ]
    return cst.Try(
        body=cst.IndentedBlock(body=[run[0].with_changes(leading_lines=[]), *run[1:]]),
        handlers=handlers,
        leading_lines=run[0].leading_lines,
    )


def _import_block_end(tree: cst.Module) -> int:
    """Index just past the module's leading docstring and imports."""
    end = 0
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
            end = i + 1
        elif i == 0 and isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, cst.SimpleString):
            end = 1
        else:
            break
    return end


def _all_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []

    class V(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            out.append(n)
            return True

    node.visit(V())
    return out


def _origin_words(labels: Iterable[str]) -> list[str]:
    words = {"config": "the app's configuration", "env": "the environment", "database": "the database",
             "unknown": "code flaskfix cannot follow", "constant": "a literal"}
    return [words.get(label, label) for label in labels]


def _numeric_literal(expr: cst.BaseExpression) -> float | complex | None:
    if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary)):
        return expr.evaluated_value
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        inner = _numeric_literal(expr.expression)
        return None if inner is None else (-inner if isinstance(expr.operator, cst.Minus) else inner)
    return None


def _non_numeric_literal(expr: cst.BaseExpression) -> bool:
    return isinstance(
        expr,
        (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Tuple, cst.List, cst.Dict, cst.Set,
         cst.ListComp, cst.DictComp, cst.SetComp),
    )


def _is_name(expr: cst.BaseExpression, name: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == name


def _implies_nonzero(test: cst.BaseExpression, name: str) -> bool:
    """Does ``test`` being true prove ``name`` is non-zero?"""
    if _is_name(test, name):
        return True
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _implies_nonzero(test.left, name) or _implies_nonzero(test.right, name)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        comp = test.comparisons[0]
        op, left, right = comp.operator, test.left, comp.comparator
        if _is_name(left, name) and _numeric_literal(right) == 0 and isinstance(op, (cst.NotEqual, cst.GreaterThan, cst.LessThan)):
            return True
        if _is_name(right, name) and _numeric_literal(left) == 0 and isinstance(op, (cst.NotEqual, cst.GreaterThan, cst.LessThan)):
            return True
        lit = _numeric_literal(right) if _is_name(left, name) else None
        if lit is not None and not isinstance(lit, complex) and lit > 0 and isinstance(op, cst.GreaterThanEqual):
            return True
    return False


def _implies_zero(test: cst.BaseExpression, name: str) -> bool:
    """Does ``test`` being false prove ``name`` is non-zero?"""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _implies_nonzero(test.expression, name)
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
        return _implies_zero(test.left, name) or _implies_zero(test.right, name)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        comp = test.comparisons[0]
        op, left, right = comp.operator, test.left, comp.comparator
        if _is_name(left, name) and _numeric_literal(right) == 0 and isinstance(op, (cst.Equal, cst.LessThanEqual)):
            return True
        if _is_name(right, name) and _numeric_literal(left) == 0 and isinstance(op, (cst.Equal, cst.GreaterThanEqual)):
            return True
        lit = _numeric_literal(right) if _is_name(left, name) else None
        if lit is not None and not isinstance(lit, complex) and lit > 0 and isinstance(op, cst.LessThan):
            return True
    return False


def _top_statement(model, node: cst.CSTNode, container: cst.CSTNode) -> cst.CSTNode | None:  # type: ignore[no-untyped-def]
    body = getattr(container, "body", ())
    for cand in (node, *model.ancestors(node)):
        if cand in body:
            return cand
    return None


def _teardown_functions(model) -> list[cst.FunctionDef]:  # type: ignore[no-untyped-def]
    out: list[cst.FunctionDef] = []
    by_name: dict[str, list[cst.FunctionDef]] = {}

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            by_name.setdefault(node.name.value, []).append(node)
            for dec in node.decorators:
                expr = dec.decorator
                f = expr.func if isinstance(expr, cst.Call) else expr
                if isinstance(f, cst.Attribute) and f.attr.value in TEARDOWN_HOOKS:
                    out.append(node)

        def visit_Call(self, node: cst.Call) -> None:
            f = node.func
            if isinstance(f, cst.Attribute) and f.attr.value in TEARDOWN_HOOKS and node.args:
                arg = node.args[0].value
                if isinstance(arg, cst.Name):
                    names.append(arg.value)

    names: list[str] = []
    model.module.visit(V())
    for n in names:
        out.extend(by_name.get(n, []))
    return out


def _first_param(func: cst.FunctionDef) -> str | None:
    params = [*func.params.posonly_params, *func.params.params]
    if params:
        return params[0].name.value
    if isinstance(func.params.star_arg, cst.Param):
        return func.params.star_arg.name.value
    return None


def _ast_last_name(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _ast_observer(tree: ast.Module, word: str) -> tuple[int, str] | None:
    for node in ast.walk(tree):
        if word in EXCEPTION_SIGNALS and _ast_last_name(node) == word and isinstance(node, (ast.Name, ast.Attribute)):
            return (node.lineno, f"uses the `{word}` signal, whose subscribers would stop seeing these exceptions")
        if word in TEARDOWN_HOOKS and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            hooked = any(_ast_last_name(d.func if isinstance(d, ast.Call) else d) == word for d in node.decorator_list)
            args = [*node.args.posonlyargs, *node.args.args]
            if hooked and args:
                param = args[0].arg
                if any(isinstance(n, ast.Name) and n.id == param for b in node.body for n in ast.walk(b)):
                    return (node.lineno, f"teardown function `{node.name}()` reads the exception it is given; with a handler it would receive None")
    return None


def _wrapped(indent: str, head: str, args: list[str], tail: str, explode: bool = False) -> list[str]:
    """``head + args + tail`` laid out the way black lays out a call: one line, args on one
    indented line, or one argument per line with a trailing comma."""
    one = f"{indent}{head}{', '.join(args)}{tail}"
    if len(one) <= MAX_LINE and not explode:
        return [one]
    inner = f"{indent * 2}{', '.join(args)}"
    if len(inner) <= MAX_LINE and not explode:
        return [f"{indent}{head}", inner, f"{indent}{tail}"]
    return [f"{indent}{head}", *(f"{indent * 2}{a}," for a in args), f"{indent}{tail}"]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _code(node: cst.CSTNode | None) -> str:
    if node is None:
        return ""
    text = cst.Module([]).code_for_node(node).strip()
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


