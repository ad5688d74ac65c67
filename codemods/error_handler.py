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

A function of another project module that divides by a parameter it is given
(``unit_price(total, quantity=parts)``, ``shop/helpers.py: return total / quantity``) is
fixed at the view's call: the call is the site, and the view's statement gets the ``try``,
so the helper's module is not edited and its other callers keep their outcome. Only when
every ZeroDivisionError the helper can raise is a division by one of its parameters (no
other call but a few built-ins, no power, no other divisor) and each such argument at this
call comes from the request or is a nonzero number: a zero of the server's own (the
configuration's) never becomes the client's 400. Otherwise a finding says which.

The operations: a division (``/``, ``//``, ``%``, ``divmod``) by a request value;
``int()``/``float()`` of one, also of the pieces of a request string
(``[int(v) for v in request.args["ids"].split(",")]``) and in a ``map`` that the
statement consumes (``list(map(int, request.args.getlist("id")))``); the parsers that raise ValueError
for a bad string (``datetime.strptime``, ``fromisoformat``, ``uuid.UUID``,
``ipaddress.ip_address``, ``json.loads``, also of ``request.data``); ``int()`` of each
element of a list in the JSON body (``[int(x) for x in body["ids"]]``); a subscript of the
JSON body or of a value read out of it, also kept in a local (``data = body["data"];
data["enable_otp"]``). A request part may be reached through a local alias (``form =
request.form``). A site is a candidate only when the shared origin analysis
(``origins.py``) says its operand comes from the request or the URL (possibly mixed with
literals) and from nothing else; an enclosing ``try`` that catches it, a handler the app registered for the class or
a base class (other than ``Exception``), an unidentifiable registration, or code that
observes unhandled exceptions (signals, Sentry and similar integrations, teardown
functions reading the exception) make it refuse with a finding or leave it alone.

A site held back by ``# flaskfix: ignore`` (on its line, on the line of the call that leads
to it from the view, or on the view's def/decorator lines) is neither wrapped nor reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import libcst as cst
from libcst.metadata import PositionProvider

from flaskfix.codemods.ast_facts import HANDLER_TEXT, AstFacts
from flaskfix.codemods import detection
from flaskfix.codemods.base import FlaskfixCodemod, quote_style, string_literal
from flaskfix.codemods.changes import CodeSupport
from flaskfix.codemods.edits import EditError, NodeIndex
from flaskfix.codemods.flask_model import FlaskObject, Handler
from flaskfix.codemods.plan.error_handler import (
    BASE_CLASS,
    CLIENT_CLASSES,
    DEFAULT_MESSAGES,
    EXCEPTIONS,
    HANDLER,
    MAX_LINE,
    Shared,
    WrapSite,
    Wrapping,
    class_texts,
    handler_text,
)


@dataclass
class Site:
    """One operation the plan wraps, as the transform finds it again."""

    exc: str
    node: cst.CSTNode = field(repr=False)
    what: str
    view: Handler = field(repr=False)
    #: (node, function) pairs from the view down to the operation (here: the holder)
    path: tuple[tuple[cst.CSTNode, cst.FunctionDef], ...] = field(repr=False, default=())


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
        An app that registers its own handler for 400 (or BadRequest) gets no handler
        from flaskfix: the client-input classes are BadRequest subclasses, so its 400
        page answers them like every other 400 of the app. A blueprint whose views live
        in other modules than the one creating it gets its classes and one handler right
        after its creation there, and the view modules import the classes (when a name is
        taken there, or the same run rewrites that module: classes and handler per module).
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
        r"[/%]|\bdivmod\b|\bint\b|\bfloat\b|json|strptime|fromisoformat|UUID|ip_address|ip_network",
    )
    DEFAULT_CONFIG = {
        "status": 400,
        "exceptions": list(EXCEPTIONS),
        "messages": dict(DEFAULT_MESSAGES),
    }
    METADATA_DEPENDENCIES = (PositionProvider,)

    # -- the rewrite ---------------------------------------------------------------------

    @classmethod
    def detect(cls, facts: AstFacts) -> bool:
        """``detection.error_handler`` (LibCST-free, so that a run needs no codemod import to ask it)."""
        return detection.error_handler(facts)

    def rewrite(self, tree: cst.Module) -> cst.Module:
        """Write what the plan decided (``codemods/plan/error_handler.py``, on stdlib
        ``ast``, which also reported every site it leaves alone): the client-input classes,
        one handler per app or blueprint, and the ``try`` around each wrapped statement."""
        plan = self.decided(tree)
        if not plan.edits:
            return tree
        wrapping: Wrapping = plan.edits[0].data
        model = self.flask
        index = NodeIndex(self.context.wrapper)  # type: ignore[arg-type]
        kinds = {"binop": cst.BinaryOperation, "augassign": cst.AugAssign, "call": cst.Call, "subscript": cst.Subscript}
        made: dict[WrapSite, Site] = {}

        def site(ws: WrapSite) -> Site:
            if ws not in made:
                node = index.find(ws.span, (kinds[ws.kind],))
                view = model.handler(index.function(*ws.view))
                if view is None:
                    raise EditError(f"planned edit not found: view {ws.view[1]}() at line {ws.view[0]}")
                made[ws] = Site(ws.exc, node, ws.what, view, ((node, index.function(*ws.holder)),))
            return made[ws]

        plans = []
        for exc, group in wrapping.groups:
            sites = [site(ws) for ws in group]
            owner = sites[0].view.owner
            assert owner is not None
            plans.append((owner, exc, sites))
        wraps: dict[cst.SimpleStatementLine, dict[str, list[Site]]] = {}
        for span, by_exc in wrapping.statements:
            stmt = index.starting(span, (cst.SimpleStatementLine,))
            wraps[stmt] = {exc: [site(ws) for ws in group] for exc, group in by_exc}
        messages = {**DEFAULT_MESSAGES, **dict(wrapping.messages)}
        return self._apply(tree, plans, wraps, wrapping.status, messages, wrapping.project_400, wrapping.shared)

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
        project_400: str | None = None,
        shared: Shared | None = None,
    ) -> cst.Module:
        model = self.flask
        q = quote_style(tree)
        indent = tree.default_indent
        current_app = request = ""  # imported only when a handler is written
        if shared is not None:
            # the classes and the handler are written once, in the module that creates the
            # blueprint (a supporting edit every view module of it shares); imported here
            used = [exc for exc in EXCEPTIONS if any(exc in by_exc for by_exc in wraps.values())]
            classes = {exc: CLIENT_CLASSES[exc][0] for exc in used}
            for name in classes.values():
                self.add_import(shared.module, name)
            self.code_supports.append(CodeSupport(shared.path, "client-input-handler",
                                                  (shared.blueprint, str(status), *used), self.ID))
            how = (f"`@{shared.blueprint}.errorhandler({BASE_CLASS})` `{HANDLER}()` in {shared.path}, shared by the "
                   "blueprint's view modules")
            hows = {_owner_key(owner): how for owner, _exc, _group in plans}
            return self._wrap_and_report(tree, plans, wraps, classes, messages, hows, status, q, indent, {}, {})
        bad_request = self._import_name("werkzeug.exceptions", "BadRequest")
        taken: set[str] = set()
        base = model.free_name("ClientInputError", taken)
        taken.add(base)
        classes: dict[str, str] = {}  # type: ignore[no-redef]
        for exc in EXCEPTIONS:
            if any(exc in by_exc for by_exc in wraps.values()):
                classes[exc] = model.free_name(CLIENT_CLASSES[exc][0], taken)
                taken.add(classes[exc])
        # the classes, after the imports: one base every handler is registered for, and a
        # subclass per built-in class that still is one (``except ValueError`` keeps catching it)
        doc = ("Bad input in the request, at an operation flaskfix wrapped: a 400 the app's own 400 handler answers."
               if project_400 is not None else "Bad input in the request, at an operation flaskfix wrapped: answered 400 below.")
        defs = class_texts(base, bad_request, classes, indent, doc)
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
        hows: dict[object, str] = {}
        for owner, exc, group in plans:
            key = _owner_key(owner)
            where = self._placement(owner)
            assert not isinstance(where, str)
            anchor, factory = where
            if project_400 is not None:
                handler_for[key] = ""  # the project's own 400 handler answers the classes
            if key not in handler_for:
                if not request:
                    current_app, request = self._flask_name("current_app"), self._flask_name("request")
                name = model.free_name("handle_client_input_error", taken)
                taken.add(name)
                handler_for[key] = name
                text = handler_text(owner.name if factory is None else None, name, base, current_app, request, status, indent, q)
                func = cst.parse_statement(text, config=tree.config_for_parsing)
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
            if project_400 is not None:
                hows[key] = project_400
            else:
                hows[key] = (f"`@{owner.name}.errorhandler({base})` `{name}()`" if factory is None else
                             f"`{owner.name}.register_error_handler({base}, {name})` in `{factory.name.value}()`")  # type: ignore[union-attr]
        return self._wrap_and_report(tree, plans, wraps, classes, messages, hows, status, q, indent, after, before)

    def _wrap_and_report(self, tree, plans, wraps, classes, messages, hows, status, q, indent, after, before):  # type: ignore[no-untyped-def]
        """Report each planned group's change, and put each wrapped statement in
        ``try``/``except`` re-raising its client-input class (``classes``: exc -> name);
        ``after``/``before``: statements to insert (the classes, the handlers)."""
        model = self.flask
        for owner, exc, group in plans:
            how = hows[_owner_key(owner)]
            # one change per site (an operation and the class it raises): what the counts count
            for site in sorted(group, key=lambda s: (self.line_of(s.node), s.what)):
                self.add_change(
                    site.node,
                    f"{site.what} in `{site.view.name}()` can raise {exc}, answered 500: its statement now re-raises it "
                    f"as {classes[exc]} (a 400 Bad Request that is still a {exc}), answered {status} by {how}; "
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



# -- small helpers -------------------------------------------------------------------------


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


def _top_statement(model, node: cst.CSTNode, container: cst.CSTNode) -> cst.CSTNode | None:  # type: ignore[no-untyped-def]
    body = getattr(container, "body", ())
    for cand in (node, *model.ancestors(node)):
        if cand in body:
            return cand
    return None


