"""error-handler's decisions, on stdlib ``ast``: which operations reached by a view raise
on bad request input, which of them get a site-exact 400, and why each other one is
left alone.

What the codemod does and why each rule holds is in ``codemods/error_handler.py``'s
docstring (``flaskfix explain error-handler``). The plan names, by source position, the
sites to wrap and the statements holding them; the codemod's LibCST transform writes the
client-input classes, the handlers and the ``try`` statements.
"""

from __future__ import annotations

import ast
import os
import builtins
import re
from dataclasses import dataclass, field
from typing import Any


from flaskfix.codemods.origins import CLIENT, ModuleOrigins, from_client, only_client
from flaskfix.codemods.plan import CodemodEdit, FilePlan, PlanInput, Span
from flaskfix.codemods.plan.flask import FlaskObject, Handler, call_arg
from flaskfix.codemods.ast_facts import dotted
from flaskfix.codemods.plan.base import Planner, string_literal, def_lines
from flaskfix.codemods.project import is_test_module
from flaskfix.codemods.plan.scopes import FUNCTIONS, is_generator_function, source_children, source_order

ID = "error-handler"

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
#: request attributes holding MultiDicts of strings
STRING_MULTIDICTS = frozenset({"args", "form", "values", "headers", "cookies"})
#: parsers that raise ValueError for a bad string (TypeError for None), like int() and float()
PARSERS = frozenset({
    "datetime.datetime.strptime", "datetime.datetime.fromisoformat", "datetime.date.fromisoformat",
    "datetime.time.fromisoformat", "uuid.UUID", "json.loads", "ipaddress.ip_address", "ipaddress.ip_network",
})
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
    # map/filter/zip only make a lazy iterator: what they run, runs where it is consumed
    "ZeroDivisionError": _NO_RAISE | {"dict", "range", "round", "min", "max", "int", "float", "map", "filter", "zip"},
    "KeyError": _NO_RAISE | {"range", "round", "min", "max", "int", "float", "map", "filter", "zip"},
    "ValueError": _NO_RAISE | {"map", "filter", "zip"},
    "TypeError": frozenset(),
}
COMPOUND_WORDS = {"If": "if", "For": "for", "AsyncFor": "for", "While": "while", "With": "with", "AsyncWith": "with",
                  "Try": "try", "TryStar": "try", "Match": "match", "FunctionDef": "def", "AsyncFunctionDef": "def",
                  "ClassDef": "class"}
#: built-ins that run a generator given to them at once
CONSUMERS = frozenset({"sum", "list", "tuple", "set", "sorted", "any", "all", "min", "max", "dict", "frozenset"})
#: methods of the request and its MultiDicts that raise none of these classes
REQUEST_ACCESSORS = frozenset({"get", "getlist", "get_json", "get_data", "to_dict", "items", "keys", "values", "lists"})
_RULE_PARAM = re.compile(r"<(?:(?P<conv>[A-Za-z_]\w*)(?:\([^)]*\))?:)?(?P<name>[A-Za-z_]\w*)>")
_TRY = tuple(t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t is not None)
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, *_TRY, ast.Match, *FUNCTIONS, ast.ClassDef)
_DIVISIONS = (ast.Div, ast.FloorDiv, ast.Mod)


@dataclass(frozen=True)
class WrapSite:
    """A site the transform wraps, found again by its span: the node's kind ("binop",
    "augassign", "call", "subscript"), the message's ``what``, the view and the function
    holding it (by ``def`` line and name)."""

    span: Span
    kind: str
    exc: str
    what: str
    view: tuple[int, str]
    holder: tuple[int, str]


@dataclass(frozen=True)
class Wrapping:
    """What the transform writes: per planned (owner, class) group, its sites; per wrapped
    statement (by span), its sites by class."""

    groups: tuple[tuple[str, tuple[WrapSite, ...]], ...]
    statements: tuple[tuple[Span, tuple[tuple[str, tuple[WrapSite, ...]], ...]], ...]
    status: int
    messages: tuple[tuple[str, str], ...]
    #: the project's own handler for 400 (``routes/__init__.py:27 handle_bad_request()``):
    #: it answers the client-input classes (BadRequest subclasses), so none is added
    project_400: str | None = None
    #: the classes and handler live in the module that creates the blueprint (a supporting
    #: edit shared by every module with views of it); this module imports the classes
    shared: "Shared | None" = None


@dataclass(frozen=True)
class Shared:
    """One set of client-input classes and one handler for a blueprint whose views span
    several modules: written into ``path`` (the module that creates ``blueprint``) right
    after the blueprint, imported by each view module as ``from <module> import ...``."""

    module: str  # how this view module spells that module (its import of the blueprint)
    path: str  # relative to the root, "/"-separated
    blueprint: str  # the blueprint's name there


@dataclass(eq=False)
class Site:
    """One operation reached by a view that raises ``exc`` on bad input."""

    exc: str
    node: ast.AST = field(repr=False)
    what: str
    view: Handler = field(repr=False)
    #: (node, function) pairs from the view down to the operation: each may sit in a try
    path: tuple[tuple[ast.AST, Any], ...] = field(repr=False, default=())


@dataclass
class Registration:
    """An error handler registered in this module."""

    line: int
    method: str
    target: FlaskObject | None = field(repr=False)
    target_text: str
    kind: str  # "class" (a built-in exception class: ``name``), "500", "other" or "unknown"
    name: str = ""


def plan(inp: PlanInput) -> FilePlan:
    return _Planner(inp).run()


class _Planner(Planner):  # noqa: PLR0904 (the codemod's rules, one method each)
    ID = ID

    def __init__(self, inp: PlanInput) -> None:
        super().__init__(inp)
        self._mo: ModuleOrigins | None = None

    # -- reporting -----------------------------------------------------------------------

    def code(self, node: ast.AST | None) -> str:
        """The node's source on one line, shortened to 60 characters, for a message."""
        if node is None:
            return ""
        text = " ".join(self._segment(node).split())
        return text if len(text) <= 60 else text[:57] + "..."

    def _segment(self, node: ast.AST) -> str:
        """Source of ``node`` with the parentheses that belong to it (``(a / b)``)."""
        text = self.lines.segment(node) or ""
        if not hasattr(node, "lineno") or not text:
            return text
        start = self.lines.span(node)
        before = self.lines.line(start.line)[: start.col]
        after = self.lines.line(start.end_line)[start.end_col:]
        parent = self.scopes.parent(node)
        own_call_paren = isinstance(parent, ast.Call) and node is not parent.func
        while before.rstrip().endswith("(") and after.lstrip().startswith(")") and not own_call_paren:
            before = before.rstrip()[:-1]
            after = after.lstrip()[1:]
            text = f"({text})"
        return text

    # -- the file ------------------------------------------------------------------------

    def run(self) -> FilePlan:
        views = [h for h in self.flask.handlers.values() if h.kind == "view"]
        if not views:
            return self.out
        status = self.config.get("status", 400)
        enabled = list(self.config.get("exceptions", list(EXCEPTIONS)))
        messages = dict(self.config.get("messages") or {})
        sites = self._all_sites(views, enabled)
        if not sites:
            return self.out
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
        owner_line: dict[object, int] = {}
        for (owner_id, _exc), group in groups.items():
            owner_line[owner_id] = min(owner_line.get(owner_id, 10**9), min(s.node.lineno for s in group))  # type: ignore[attr-defined]
        for (owner_id, exc), group in sorted(groups.items(), key=lambda kv: (owner_line[kv[0][0]], EXCEPTIONS.index(kv[0][1]))):
            owner = owners[owner_id]
            first = min(group, key=lambda s: s.node.lineno)  # type: ignore[attr-defined]
            line = first.node.lineno  # type: ignore[attr-defined]
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
                self.add_finding(line, f"{exc} from {first.what} not handled: {hazard[1]}")  # type: ignore[index]
                continue
            plans.append((owner, exc, group))
        plans, wraps = self._wraps(plans, sites)
        if plans:
            self.out.edits.append(CodemodEdit(Wrapping(
                tuple((exc, tuple(self._wrap_site(s) for s in group)) for _owner, exc, group in plans),
                tuple((self.lines.span(stmt), tuple((exc, tuple(self._wrap_site(s) for s in group)) for exc, group in by_exc.items()))
                      for stmt, by_exc in wraps.items()),
                status,
                tuple(sorted(messages.items())),
                project_400 := (self._project_400() if status == 400 else None),
                self._shared([owner for owner, _exc, _group in plans]) if project_400 is None else None,
            )))
        return self.out

    def _shared(self, owners: list[FlaskObject]) -> Shared | None:
        """Where one handler for the blueprint of these views goes, when the blueprint is
        imported from the project module that creates it (else None: the classes and the
        handler are written in this module, as for an app or a blueprint created here).
        Only when every name the shared code needs is free there and here, and that module
        is not rewritten by this run."""
        keys = {_owner_key(o) for o in owners}
        owner = owners[0] if owners else None
        if len(keys) != 1 or owner is None or owner.kind != "blueprint" or owner.imported_from is None:
            return None
        spelled = None
        for node in self.tree.body:  # this module's own import of the blueprint
            if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == owner.name for a in node.names):
                spelled = "." * node.level + (node.module or "")
        indexed = self.project.indexed(self.inp.path) if spelled else None
        if indexed is None:
            return None
        index, facts = indexed
        module, name = index.resolve(facts.module, owner.name)
        path = index.path_of(module)
        if not path or module == facts.module or not name or os.path.realpath(path) in getattr(self.project, "blocked", ()):
            return None
        tree = self.project.tree(path)
        created = [n for n in (tree.body if tree is not None else []) if isinstance(n, ast.Assign) and len(n.targets) == 1
                   and isinstance(n.targets[0], ast.Name) and n.targets[0].id == name and isinstance(n.value, ast.Call)
                   and (dotted(n.value.func) or "").rsplit(".", 1)[-1] in ("Blueprint", "APIBlueprint")]
        if len(created) != 1 or tree is None:
            return None
        wanted = {BASE_CLASS, HANDLER, *(c for c, _ in CLIENT_CLASSES.values())}
        bound_there = _module_names(tree)
        if wanted & set(bound_there) or wanted & set(_module_names(self.tree)):
            return None
        # the imports the shared code adds go at module level: only module-level bindings clash
        # (``from .views import request`` inside a function shadows nothing the handler reads)
        top_there = _module_names(tree, top_only=True)
        for needed, source in (("BadRequest", "werkzeug.exceptions"), ("current_app", "flask"), ("request", "flask")):
            if needed in top_there and top_there[needed] != source:
                return None
        return Shared(spelled, self.project.relpath(path).replace(os.sep, "/"), name)

    def _project_400(self) -> str | None:
        """An app-wide handler the project registers for 400 or BadRequest: it answers the
        client-input classes (BadRequest subclasses) as it answers every 400, so flaskfix
        adds none of its own (which would bypass the project's 400 page). A handler for
        every HTTPException is not taken for one: flaskfix keeps answering with its own."""
        if not self.project.files:
            return None
        index = self.project.index()
        for h in index.error_handlers():
            if not h.app_wide:
                continue
            for kind, value in h.registration.keys:
                last = str(value).rsplit(".", 1)[-1]
                if (kind == "code" and value == 400) or (kind == "class" and last == "BadRequest"):
                    path = self.project.relpath(index.modules[h.module].path).replace(os.sep, "/")
                    name = h.registration.handler.rsplit(".", 1)[-1] if h.registration.handler else "its handler"
                    return f"the project's own handler for {last if kind == 'class' else 400}, `{name}()` ({path}:{h.registration.line})"
        return None

    def _wrap_site(self, site: Site) -> WrapSite:
        node = site.node
        kind = {ast.BinOp: "binop", ast.AugAssign: "augassign", ast.Call: "call", ast.Subscript: "subscript"}[type(node)]
        holder = _holder(site)
        return WrapSite(self.lines.span(node), kind, site.exc, site.what, (site.view.func.lineno, site.view.name),
                        (holder.lineno, holder.name))

    # -- finding the operations ----------------------------------------------------------

    def _all_sites(self, views: list[Handler], enabled: list[str]) -> list[Site]:
        out: list[Site] = []
        for view in sorted(views, key=lambda h: h.func.lineno):
            found = [s for s in self._sites(view.func, view, (), set()) if s.exc in enabled]
            if not found:
                continue
            kept = []
            for site in found:
                covered = self._covered(site)
                if covered is True:
                    continue
                if self._held_back(site.node, site.path, view):
                    continue  # a `# flaskfix: ignore` comment holds it back (counted)
                if isinstance(covered, str):
                    self.add_finding(site.node, f"{site.exc} from {site.what} not handled: {covered}")
                    continue
                kept.append(site)
            if not kept:
                continue
            first = min(kept, key=lambda s: s.node.lineno)  # type: ignore[attr-defined]
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

    def _sites(self, func: Any, view: Handler, path: tuple[tuple[ast.AST, Any], ...], seen: set[int]) -> list[Site]:
        seen = seen | {id(func)}
        out: list[Site] = []
        for node in _body_nodes(func):
            here = (*path, (node, func))
            if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, _DIVISIONS):
                divisor = node.right if isinstance(node, ast.BinOp) else node.value
                dividend = node.left if isinstance(node, ast.BinOp) else node.target
                verdict = self._division(node, dividend, divisor, node.op, func)
                if verdict == "site":
                    out.append(Site("ZeroDivisionError", node, f"`{self.code(node)}`", view, here))
                elif verdict and verdict.startswith("mixed:") and not self._held_back(node, here, view):
                    self._mixed_finding(node, func, verdict)
                elif verdict == "zero" and not self._held_back(node, here, view):
                    self.add_finding(
                        node,
                        f"`{self.code(node)}` in `{func.name}()` divides by the literal 0: it always raises; "
                        "fix the code rather than turning the crash into a 400",
                    )
            elif isinstance(node, ast.Call):
                out.extend(self._call_sites(node, func, view, here, seen))
            elif isinstance(node, ast.Subscript):
                if self._json_index(node, func):
                    what = f"`{self.code(node)}`"
                    checked = self._key_checked(node, func)
                    if checked is None:
                        out.append(Site("KeyError", node, what, view, here))
                    if checked != "get":  # after data.get("k") worked, data is a mapping
                        out.append(Site("TypeError", node, what, view, here))
        return out

    def _held_back(self, node: ast.AST, path: tuple[tuple[ast.AST, Any], ...], view: Handler) -> bool:
        """Held back by `# flaskfix: ignore`: on the raising operation's statement, on the
        statement of a call that leads to it from the view (``helper(x)``), or on the
        def/decorator lines of the view, its class, or a helper on the way."""
        spans: list[tuple[int, int]] = []
        funcs: dict[int, Any] = {id(view.func): view.func}
        for step, func in (*path, (node, view.func)):
            spans.append((step.lineno, step.end_lineno or step.lineno))  # type: ignore[attr-defined]
            stmt = self._statement_of(step)
            spans.append((stmt.lineno, stmt.end_lineno or stmt.lineno))  # type: ignore[attr-defined]
            funcs.setdefault(id(func), func)
        if view.view_class is not None:
            cls = view.view_class
            spans.append((cls.lineno, cls.lineno))
            spans += [(d.lineno, d.end_lineno or d.lineno) for d in cls.decorator_list]
        return self.held_back(spans, *([def_lines(f)] for f in funcs.values()))

    def _statement_of(self, node: ast.AST) -> ast.AST:
        """The simple statement holding ``node``, or ``node`` itself in a compound
        statement's header."""
        for anc in [node, *self.scopes.ancestors(node)]:
            if isinstance(anc, _COMPOUND):
                return node
            if isinstance(anc, ast.stmt):
                return anc
        return node

    def _call_sites(self, call: ast.Call, func: Any, view: Handler, here: tuple, seen: set[int]) -> list[Site]:
        out: list[Site] = []
        if isinstance(call.func, ast.Name):
            name = call.func.id
            if name in ("int", "float") and self.scopes.is_builtin(call.func, name) and (call.args or call.keywords):
                if call.args and not isinstance(call.args[0], ast.Starred):
                    for exc in self._conversion_raises(call.args[0], func):
                        out.append(Site(exc, call, f"`{self.code(call)}`", view, here))
            elif name == "divmod" and self.scopes.is_builtin(call.func, "divmod") and len(call.args) + len(call.keywords) == 2 and len(call.args) == 2:
                dividend, divisor = call.args
                verdict = self._division(call, dividend, divisor, ast.FloorDiv(), func)
                if verdict == "site":
                    out.append(Site("ZeroDivisionError", call, f"`{self.code(call)}`", view, here))
                elif verdict and verdict.startswith("mixed:") and not self._held_back(call, here, view):
                    self._mixed_finding(call, func, verdict)
                elif verdict == "zero" and not self._held_back(call, here, view):
                    self.add_finding(call, f"`{self.code(call)}` in `{func.name}()` divides by the literal 0: it always raises")
            else:
                helper = self._helper(call.func)
                if helper is not None and id(helper) not in seen:
                    out.extend(self._sites(helper, view, here, seen))
                elif helper is None:
                    what = self._divides_by_argument(call, func, view, here)
                    if what is not None:
                        out.append(Site("ZeroDivisionError", call, what, view, here))
        if isinstance(call.func, ast.Name) and len(call.args) == 1 and not call.keywords and any(
                self.scopes.is_builtin(call.func, n) for n in CONSUMERS):
            # ``list(map(int, request.args["ids"].split(",")))``: map converts lazily, so the
            # ValueError comes out of the call that consumes it, in this statement
            m = call.args[0]
            if (isinstance(m, ast.Call) and isinstance(m.func, ast.Name) and self.scopes.is_builtin(m.func, "map")
                    and len(m.args) == 2 and not m.keywords and isinstance(m.args[0], ast.Name)
                    and any(self.scopes.is_builtin(m.args[0], n) for n in ("int", "float"))
                    and self._request_strings(m.args[1])):
                out.append(Site("ValueError", call, f"`{self.code(call)}`", view, here))
        if isinstance(call.func, (ast.Name, ast.Attribute)) and call.args and not isinstance(call.args[0], ast.Starred):
            parser = sorted(self.scopes.qualified_names(call.func) & PARSERS)
            if parser:
                arg = call.args[0]
                if parser[0] == "json.loads" and self._raw_body(arg):
                    raises = ["ValueError"]  # not JSON (or not UTF-8): JSONDecodeError, UnicodeDecodeError
                else:
                    raises = self._conversion_raises(arg, func)
                out += [Site(exc, call, f"`{self.code(call)}`", view, here) for exc in raises]
        return out

    def _raw_body(self, expr: ast.AST) -> bool:
        """``request.data`` or ``request.get_data()`` (bytes, whatever the client sent)."""
        if self._request_attr(expr) == "data":
            return True
        return (isinstance(expr, ast.Call) and self._request_attr(expr.func) == "get_data"
                and not expr.args and not expr.keywords)

    #: builtins a helper may call: none of them raises ZeroDivisionError
    HELPER_SAFE_CALLS = frozenset({"len", "abs", "round", "min", "max", "int", "float", "str", "bool", "list", "tuple",
                                   "dict", "set", "sorted", "isinstance", "repr", "format"})

    def _divides_by_argument(self, call: ast.Call, func: Any, view: Handler, here: tuple) -> str | None:
        """``unit_price(total, parts)``, a function of another project module that
        divides by its parameter: the call is the site (its statement gets the fix, in the
        view's module) when every ZeroDivisionError the helper can raise is a division by
        a parameter, and each such argument here comes from the request or is a nonzero
        literal, so no zero of the server's own reaches the 400. The text for the site,
        or None."""
        assert isinstance(call.func, ast.Name)
        alias = self._sole_binding(call.func)
        imp = self.scopes.parent(alias) if alias is not None else None
        if not (isinstance(alias, ast.alias) and isinstance(imp, ast.ImportFrom) and alias.name != "*"):
            return None
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return None
        args = [*call.args, *(k.value for k in call.keywords)]
        if not any(from_client(self._origins(a, func)) for a in args):
            return None  # no request value goes in (most calls): nothing of this codemod's to find
        indexed = self.project.indexed(self.inp.path)
        if indexed is None:
            return None
        index, facts = indexed
        module, name = index.resolve(facts.module, call.func.id)  # (the index's resolution, cached per module)
        path = index.path_of(module) if module in index.modules and name else ""
        tree = self.project.tree(path) if path else None
        fdef = next((st for st in (tree.body if tree is not None else []) if isinstance(st, ast.FunctionDef)
                     and st.name == name), None)
        if fdef is None or fdef.decorator_list or fdef.args.vararg or fdef.args.kwarg:
            return None
        params = [a.arg for a in [*fdef.args.posonlyargs, *fdef.args.args, *fdef.args.kwonlyargs]]
        rebound = {t.id for n in ast.walk(fdef) for t in ([*n.targets] if isinstance(n, ast.Assign) else
                   [n.target] if isinstance(n, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr)) else [])
                   if isinstance(t, ast.Name)}
        stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}  # type: ignore[arg-type]
        divisors: list[str] = []
        obstacle: str | None = None  # why the helper may raise ZeroDivisionError of its own
        for node in ast.walk(fdef):
            if node is fdef:
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                obstacle = obstacle or "defines a function that flaskfix does not follow"
            elif isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in self.HELPER_SAFE_CALLS
                                                     and node.func.id not in stored):
                obstacle = obstacle or f"calls `{dotted(node.func) or 'a function'}()`, which may raise ZeroDivisionError of its own"
            op = node.op if isinstance(node, (ast.BinOp, ast.AugAssign)) else None
            if isinstance(op, ast.Pow):
                obstacle = obstacle or "raises to a power (0 ** -1 raises ZeroDivisionError)"
            if isinstance(op, (ast.Div, ast.FloorDiv, ast.Mod)):
                divisor = node.right if isinstance(node, ast.BinOp) else node.value  # type: ignore[union-attr]
                if _numeric_literal(divisor) not in (None, 0):
                    continue
                if isinstance(divisor, ast.Name) and divisor.id in params and divisor.id not in rebound and not isinstance(op, ast.Mod):
                    divisors.append(divisor.id)
                else:
                    obstacle = obstacle or f"also divides by `{ast.unparse(divisor)}`, not a parameter it is given"
        if not divisors:
            return None
        positional = [a.arg for a in [*fdef.args.posonlyargs, *fdef.args.args]]
        defaults = dict(zip(positional[len(positional) - len(fdef.args.defaults):], fdef.args.defaults))
        defaults.update({a.arg: d for a, d in zip(fdef.args.kwonlyargs, fdef.args.kw_defaults) if d is not None})
        passed: dict[str, ast.expr] = dict(zip(positional, call.args))
        passed.update({k.arg: k.value for k in call.keywords if k.arg})
        from_request: list[str] = []
        for name in dict.fromkeys(divisors):
            arg = passed.get(name)
            if arg is None:
                value = _numeric_literal(defaults[name]) if name in defaults else 0
                if value in (None, 0):
                    obstacle = obstacle or f"divides by `{name}`, whose default is not a nonzero number"
                continue
            verdict = self._division(call, ast.Constant(1), arg, ast.Div(), func)
            if verdict == "site":
                from_request.append(name)
            elif verdict is None and _numeric_literal(arg) in (None, 0) and not self._never_zero(arg):
                obstacle = obstacle or f"divides by `{name}`, given `{self.code(arg)}`, which does not come from the request"
            elif verdict is not None:
                obstacle = obstacle or f"divides by `{name}`, given `{self.code(arg)}`, which may also come from {verdict[len('mixed:'):]}"
        if not from_request:
            return None  # no request value reaches a division: not this codemod's pattern
        where = os.path.relpath(path, self.project.root) if path else "?"  # type: ignore[arg-type]
        if obstacle is not None:
            if not self._held_back(call, here, view):
                self.add_finding(call, f"`{self.code(call)}` in `{func.name}()` passes a request value that `{fdef.name}()` "
                                       f"({where}) divides by, but `{fdef.name}()` {obstacle}: not answered 400, since "
                                       "a zero from there would be reported as the client's fault")
            return None
        return f"`{self.code(call)}` (it divides by `{from_request[0]}` in `{fdef.name}()`, {where})"

    def _sole_binding(self, name: ast.Name) -> ast.AST | None:
        """The node that binds ``name`` when exactly one does."""
        binders = self.scopes.binders(name.id, self.scopes.scope_of(name))
        return binders[0] if len(binders) == 1 else None

    def _helper(self, name: ast.Name) -> Any:
        """The module-level function ``name`` calls, when it is one (and not itself a handler)."""
        node = self._sole_binding(name)
        if isinstance(node, FUNCTIONS) and self.scopes.parent(node) is self.tree and not node.decorator_list:
            return node
        return None

    # division ---------------------------------------------------------------------------

    def _division(self, node: ast.AST, dividend: ast.AST, divisor: ast.AST, op: ast.AST, func: Any) -> str | None:
        """"site": may raise ZeroDivisionError; "zero": divides by literal 0; None: cannot raise it."""
        value = _numeric_literal(divisor)
        if value is not None:
            return "zero" if value == 0 else None
        if _non_numeric_literal(divisor):
            return None  # "%" formatting, path joins, or a TypeError: not a division by zero
        if isinstance(op, ast.Mod) and self._stringish(dividend):
            return None  # string formatting
        if isinstance(op, ast.Div) and self._pathish(dividend):
            return None  # pathlib join
        if self._never_zero(divisor) or self._server_side(divisor):
            return None
        if isinstance(divisor, ast.Name) and self._guarded(node, divisor, func):
            return None
        origins = self._origins(divisor, func)
        if not from_client(origins):
            return None  # config, constants, the database, unknown code: a zero there is not bad input
        if not only_client(origins):
            return "mixed:" + ", ".join(sorted(_origin_words(origins - CLIENT - {"constant"})))
        return "site"

    def _origins(self, expr: ast.expr, func: Any) -> frozenset[str]:
        """Where ``expr`` (inside ``func``) may come from, by the shared origin analysis."""
        if self._mo is None:
            index = self.project.index() if self.project.files else None
            self._mo = ModuleOrigins(self.tree, self.inp.module_name, index)
        handler = self.flask.handler(func)
        url: list[str] = []
        if handler is not None and handler.kind == "view":
            url = [a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs] if a.arg != "self"]
        return self._mo.of(expr, func, url)

    def _mixed_finding(self, node: ast.AST, func: Any, verdict: str) -> None:
        self.add_finding(
            node,
            f"`{self.code(node)}` in `{func.name}()`: the divisor may come from the request, but also from "
            f"{verdict[len('mixed:'):]}; not answered 400, since a zero from there would be reported as the "
            "client's fault",
        )

    def _stringish(self, expr: ast.AST) -> bool:
        if _string_literal(expr):
            return True
        values = self._single_values(expr)
        return bool(values) and all(_string_literal(v) for v in values)

    def _pathish(self, expr: ast.AST, depth: int = 0) -> bool:
        if depth > 4:
            return False
        if isinstance(expr, ast.Call):
            return any(q.startswith(("pathlib.", "os.PathLike")) for q in self.scopes.qualified_names(expr.func))
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
            return self._pathish(expr.left, depth + 1)
        if isinstance(expr, ast.Attribute) and expr.attr in ("parent", "parents"):
            return self._pathish(expr.value, depth + 1)
        values = self._single_values(expr)
        return bool(values) and all(self._pathish(v, depth + 1) for v in values)

    def _single_values(self, expr: ast.AST) -> list[ast.expr]:
        """The values a Name is bound to by plain ``name = value`` statements (all of its bindings), else []."""
        if not isinstance(expr, ast.Name):
            return []
        binders = self.scopes.binders(expr.id, self.scopes.scope_of(expr))
        if not binders:
            return []
        values = []
        for b in binders:
            if not isinstance(b, ast.Name):
                return []
            parent = self.scopes.parent(b)
            if isinstance(parent, ast.Assign) and any(t is b for t in parent.targets):
                if len(parent.targets) != 1:
                    return []
                values.append(parent.value)
            elif isinstance(parent, ast.AnnAssign) and parent.value is not None and parent.target is b:
                values.append(parent.value)
            else:
                return []
        return values

    def _server_side(self, divisor: ast.AST) -> bool:
        """A divisor the client cannot make zero: the app's configuration, or a name bound
        only to such reads or to non-zero number literals."""
        values = self._single_values(divisor) if isinstance(divisor, ast.Name) else [divisor]
        if not values:
            return False
        for value in values:
            number = _numeric_literal(value)
            if number is not None:
                if number == 0:
                    return False
                continue
            if isinstance(value, ast.Subscript):
                holder: ast.AST = value.value
            elif isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "get":
                holder = value.func.value
            else:
                return False
            if not (isinstance(holder, ast.Attribute) and holder.attr == "config" and self._is_app(holder.value)):
                return False
        return True

    def _is_app(self, expr: ast.AST) -> bool:
        """``current_app``, or a name bound to one of this module's Flask apps."""
        if self.scopes.refers_to(expr, "flask.current_app"):
            return True
        return isinstance(expr, ast.Name) and any(o.kind == "app" and o.name == expr.id for o in self.flask.objects)

    def _never_zero(self, divisor: ast.AST) -> bool:
        """``x or 1``, ``max(1, x)``-like forms that cannot be zero."""
        if isinstance(divisor, ast.BoolOp) and isinstance(divisor.op, ast.Or):
            value = _numeric_literal(divisor.values[-1])
            return value is not None and value != 0
        if isinstance(divisor, ast.Call) and isinstance(divisor.func, ast.Name) and divisor.func.id == "max":
            if self.scopes.is_builtin(divisor.func, "max"):
                return any(_positive(_numeric_literal(a)) for a in divisor.args if not isinstance(a, ast.Starred))
        return False

    def _guarded(self, node: ast.AST, divisor: ast.Name, func: Any) -> bool:
        """Is ``node`` only reached when ``divisor`` is non-zero (an ``if`` around it, or an early exit before it)?"""
        name = divisor.id
        if len(self.scopes.binders(name, self.scopes.scope_of(divisor))) != 1:
            return False  # rebound: a guard on one binding says nothing of another
        return self._reached_only_when(node, func, lambda t: _implies_nonzero(t, name), lambda t: _implies_zero(t, name),
                                       else_branch=True)

    def _reached_only_when(self, node: ast.AST, func: Any, proves: Any, disproves: Any, else_branch: bool = False) -> bool:
        """Is ``node`` (inside ``func``) reached only when some condition holds? ``proves(test)``:
        ``test`` being true proves it (an ``if`` or conditional expression around ``node``,
        the left of an ``and``); ``disproves(test)``: ``test`` being false proves it (an
        earlier ``if test:`` in the same block that returns, raises or aborts; with
        ``else_branch``, the ``else`` of a conditional expression)."""
        child: ast.AST = node
        for anc in self.scopes.ancestors(node):
            if isinstance(anc, ast.If) and _in(child, anc.body) and proves(anc.test):
                return True
            if isinstance(anc, ast.IfExp) and child is anc.body and proves(anc.test):
                return True
            if else_branch and isinstance(anc, ast.IfExp) and child is anc.orelse and disproves(anc.test):
                return True
            if isinstance(anc, ast.BoolOp) and isinstance(anc.op, ast.And) and child is not anc.values[0]:
                i = next(k for k, v in enumerate(anc.values) if v is child)
                if any(proves(v) for v in anc.values[:i]):
                    return True  # `n and total / n`, `"k" in data and data["k"]`
            for stmts in _blocks(anc):
                if _in(child, stmts):
                    for stmt in stmts[: _index(child, stmts)]:
                        if isinstance(stmt, ast.If) and not stmt.orelse and disproves(stmt.test) and self._exits(stmt):
                            return True
            if anc is func:
                break
            child = anc
        return False

    def _exits(self, stmt: ast.If) -> bool:
        """Does the ``if`` body end by leaving (return, raise, abort)? A body written on the
        ``if`` line itself is not followed."""
        body = stmt.body
        if not body or body[0].lineno == stmt.lineno:
            return False
        last_line = body[-1].lineno
        for small in [s for s in body if s.lineno == last_line]:
            if isinstance(small, (ast.Return, ast.Raise)):
                return True
            if isinstance(small, ast.Expr) and isinstance(small.value, ast.Call) and self.scopes.refers_to(small.value.func, "flask.abort"):
                return True
        return False

    # conversions of request data ------------------------------------------------------

    def _conversion_raises(self, arg: ast.AST, func: Any, depth: int = 0) -> list[str]:
        """The exceptions ``int(arg)``/``float(arg)`` raises because of what the request holds."""
        if (isinstance(arg, ast.BoolOp) and isinstance(arg.op, ast.Or) and len(arg.values) == 2
                and _numeric_text(arg.values[1])):
            # ``request.args.get("page") or 1``: an absent or empty value becomes the number,
            # so only a present, non-numeric one raises (ValueError)
            first = arg.values[0]
            if (isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute) and first.func.attr == "get"
                    and len(first.args) == 1 and not first.keywords
                    and self._request_part(first.func.value, func) in STRING_MULTIDICTS):
                return ["ValueError"]
            return []
        if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "get":
            container = arg.func.value
            if call_arg(arg, "type") is not None or not (arg.args or arg.keywords):
                return []
            if self._request_part(container, func) in STRING_MULTIDICTS:
                default = call_arg(arg, "default", 1)
                if default is None or (isinstance(default, ast.Constant) and default.value is None):
                    return ["ValueError", "TypeError"]  # int(None) when the key is absent
                return ["ValueError"]
            if self._is_json_value(container, func):
                return ["ValueError", "TypeError"]
            return []
        if isinstance(arg, ast.Subscript):
            if self._request_part(arg.value, func) in STRING_MULTIDICTS:
                return ["ValueError"]  # a missing key is already werkzeug's 400
            if self._json_index(arg, func):  # the body's value, or one read out of it
                return ["ValueError", "TypeError"]
            return []
        if isinstance(arg, ast.Name) and depth == 0:
            if self._string_view_arg(arg, func) or self._iterates_request_strings(arg):
                return ["ValueError"]
            if self._iterates_json_values(arg, func):
                return ["ValueError", "TypeError"]  # an element the client sent: "x", null, a list
            values = self._local_values(arg, func)
            if values:
                found: list[str] = []
                for v in values:
                    for exc in self._conversion_raises(v, func, depth + 1):
                        if exc not in found:
                            found.append(exc)
                return found
        return []

    def _loop_iterable(self, name: ast.Name) -> ast.expr | None:
        """What ``name`` iterates, when a for loop or comprehension target (and nothing else) binds it."""
        binders = self.scopes.binders(name.id, self.scopes.scope_of(name))
        if len(binders) != 1 or not isinstance(binders[0], ast.Name):
            return None
        loop = self.scopes.parent(binders[0])
        if not isinstance(loop, (ast.For, ast.AsyncFor, ast.comprehension)) or loop.target is not binders[0]:
            return None
        return loop.iter

    def _iterates_request_strings(self, name: ast.Name) -> bool:
        """``v`` in ``for v in request.args.getlist("v")`` (a loop or a comprehension), bound nowhere else."""
        it = self._loop_iterable(name)
        return it is not None and self._request_strings(it)

    def _iterates_json_values(self, name: ast.Name, func: Any) -> bool:
        """``x`` in ``[int(x) for x in body["ids"]]`` (a loop or a comprehension over a
        value of the JSON body), bound nowhere else: each element is whatever the client
        sent."""
        it = self._loop_iterable(name)
        return it is not None and self._is_json_value(it, func)

    def _request_strings(self, it: ast.AST) -> bool:
        """Strings the client sent, one by one: ``request.args.getlist("v")`` (no ``type``),
        or the pieces of a request string (``request.args["ids"].split(",")``)."""
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute)):
            return False
        if it.func.attr == "getlist":
            return call_arg(it, "type") is None and self._request_attr(it.func.value) in STRING_MULTIDICTS
        return self._splits_request_string(it)

    def _splits_request_string(self, call: ast.Call) -> bool:
        """``request.args["ids"].split(...)`` (or ``rsplit``): the pieces of a request string."""
        func = call.func
        return (isinstance(func, ast.Attribute) and func.attr in ("split", "rsplit") and isinstance(func.value, ast.Subscript)
                and self._request_attr(func.value.value) in STRING_MULTIDICTS)

    def _request_attr(self, expr: ast.AST) -> str | None:
        """``"args"`` for ``request.args`` (through any alias of flask.request), else None."""
        if isinstance(expr, ast.Attribute) and self._is_request(expr.value):
            return expr.attr
        return None

    def _request_part(self, expr: ast.AST, func: Any) -> str | None:
        """``_request_attr``, also through a local bound only to that part of the request
        (``form = request.form``; the request's multidicts are immutable)."""
        attr = self._request_attr(expr)
        if attr is None and isinstance(expr, ast.Name) and func is not None:
            values = self._local_values(expr, func)
            parts = {self._request_attr(v) for v in values}
            if values and len(parts) == 1:
                attr = parts.pop()
        return attr

    def _is_request(self, expr: ast.AST) -> bool:
        return isinstance(expr, (ast.Name, ast.Attribute)) and self.scopes.refers_to(expr, "flask.request")

    def _is_json_body(self, expr: ast.AST, func: Any, depth: int = 0) -> bool:
        """``request.json``, ``request.get_json(...)``, ``json.loads(request.data)``, or a
        local bound only to one of them."""
        if self._request_attr(expr) == "json":
            return True
        if isinstance(expr, ast.Call) and self._request_attr(expr.func) == "get_json":
            return True
        if (isinstance(expr, ast.Call) and len(expr.args) == 1 and not expr.keywords
                and "json.loads" in self.scopes.qualified_names(expr.func) and self._raw_body(expr.args[0])):
            return True  # json.loads(request.data): the body the client sent, decoded
        if isinstance(expr, ast.Name) and depth == 0:
            values = self._local_values(expr, func)
            return bool(values) and all(self._is_json_body(v, func, depth + 1) for v in values)
        return False

    def _is_json_value(self, expr: ast.AST, func: Any, depth: int = 0) -> bool:
        """The request's JSON body or a value read out of it by subscripts (``body["data"]``),
        or a local bound only to such values (``data = body["data"]``): whatever the client
        sent there (a mapping, a list, a string, a number, null)."""
        if self._is_json_body(expr, func):
            return True
        if isinstance(expr, ast.Subscript):
            return self._is_json_value(expr.value, func, depth)
        if isinstance(expr, ast.Name) and depth < 3 and func is not None:
            values = self._local_values(expr, func)
            return bool(values) and all(self._is_json_value(v, func, depth + 1) for v in values)
        return False

    def _json_index(self, node: ast.Subscript, func: Any) -> bool:
        """A load of ``body[k]`` (or ``body[a][b]``) where body is the request's JSON, or a
        value read out of it and kept in a local (``_is_json_value``)."""
        if not isinstance(node.ctx, ast.Load):
            return False
        parent = self.scopes.parent(node)
        if isinstance(parent, (ast.Tuple, ast.List, ast.Starred)):
            return False  # possibly an unpacking target: not followed
        return self._is_json_value(node.value, func)

    def _key_checked(self, node: ast.Subscript, func: Any) -> str | None:
        """``data["k"]`` only reached when ``"k" in data`` ("in") or ``data.get("k")`` ("get")."""
        found: list[str] = []
        return "get" if (hit := self._key_guard(node, func, found)) and "get" in found else "in" if hit else None

    def _key_guard(self, node: ast.Subscript, func: Any, found: list[str]) -> bool:
        key = node.slice
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return False
        wanted = key.value
        container = node.value
        if isinstance(container, ast.Name):
            name = container.id
            if len(self.scopes.binders(name, self.scopes.scope_of(container))) != 1:
                return False

            def same(expr: ast.AST) -> bool:
                return isinstance(expr, ast.Name) and expr.id == name

        elif self._request_json(container):
            text = self._segment(container)  # request.json / request.get_json(): the same parsed body all request long

            def same(expr: ast.AST) -> bool:
                return self._segment(expr) == text and self._request_json(expr)

        else:
            return False

        def got(test: ast.AST) -> bool:
            """``data.get("k")`` (truthy) or ``data.get("k") is not None``."""
            if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.IsNot):
                if isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None:
                    test = test.left
            return (
                isinstance(test, ast.Call)
                and isinstance(test.func, ast.Attribute)
                and test.func.attr == "get"
                and same(test.func.value)
                and len(test.args) >= 1
                and isinstance(test.args[0], ast.Constant)
                and test.args[0].value == wanted
            )

        def membership(test: ast.AST, positive: bool) -> bool:
            if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And if positive else ast.Or):
                return any(membership(v, positive) for v in test.values)
            if positive and got(test):
                found.append("get")
                return True
            if not positive and isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and got(test.operand):
                found.append("get")
                return True
            if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
                return False
            op = ast.In if positive else ast.NotIn
            return (
                isinstance(test.ops[0], op)
                and isinstance(test.left, ast.Constant)
                and test.left.value == wanted
                and same(test.comparators[0])
            )

        # (a block written on its header's line cannot hold the earlier `if` an exit needs)
        return self._reached_only_when(node, func, lambda t: membership(t, True), lambda t: membership(t, False))

    def _request_json(self, expr: ast.AST) -> bool:
        """``request.json`` or ``request.get_json()`` (flask.request, no arguments), or
        ``json.loads()`` of the raw body (``request.data``, ``request.get_data()``, either
        ``.decode()``d): the body the client sent, decoded."""
        if (isinstance(expr, ast.Call) and len(expr.args) == 1 and not expr.keywords
                and self.scopes.qualified_names(expr.func) & {"json.loads"} and self._raw_body(expr.args[0])):
            return True
        if isinstance(expr, ast.Call) and not expr.args and not expr.keywords:
            expr = expr.func
            attr = "get_json"
        else:
            attr = "json"
        return isinstance(expr, ast.Attribute) and expr.attr == attr and self.scopes.refers_to(expr.value, "flask.request")

    def _raw_body(self, expr: ast.AST) -> bool:
        """``request.data``, ``request.get_data()`` (any arguments), or ``.decode(...)`` of one."""
        if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "decode"
                and not any(isinstance(a, ast.Starred) for a in expr.args)):
            expr = expr.func.value
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "get_data":
            return self.scopes.refers_to(expr.func.value, "flask.request")
        return isinstance(expr, ast.Attribute) and expr.attr == "data" and self.scopes.refers_to(expr.value, "flask.request")

    def _local_values(self, name: ast.Name, func: Any) -> list[ast.expr]:
        """What a local of ``func`` is bound to, when every binding is a plain assignment in ``func``."""
        scope = self.scopes.scope_of(name)
        if scope is not func or self.scopes.resolve(name.id, scope) is not func:
            return []
        return self._single_values(name)

    def _string_view_arg(self, name: ast.Name, func: Any) -> bool:
        """Is ``name`` a view parameter that some route rule passes as a str, read where it
        still holds what the URL gave: never rebound, or read in the value of the one
        statement that rebinds it (``per_page = int(per_page)``, at the top of the body)?"""
        handler = self.flask.handler(func)
        if handler is None or handler.kind != "view":
            return False
        binders = self.scopes.binders(name.id, self.scopes.scope_of(name))
        if len(binders) == 2 and self._reads_before_its_rebinding(name, binders, func):
            binders = [b for b in binders if isinstance(b, ast.arg)]
        if len(binders) != 1 or not isinstance(binders[0], ast.arg):
            return False
        if not any(binders[0] is a for a in (*func.args.args, *func.args.posonlyargs, *func.args.kwonlyargs)):
            return False
        for dec in handler.route_decorators:
            if not isinstance(dec, ast.Call):
                continue
            rule = call_arg(dec, "rule", 0)
            if not (isinstance(rule, ast.Constant) and isinstance(rule.value, (str, bytes))):
                continue
            text = rule.value.decode() if isinstance(rule.value, bytes) else rule.value
            for m in _RULE_PARAM.finditer(text):
                if m.group("name") == name.id and (m.group("conv") or "default") in STRING_CONVERTERS:
                    return True
        return False

    def _reads_before_its_rebinding(self, name: ast.Name, binders: list[ast.AST], func: Any) -> bool:
        """``name`` is read in the value of the top-level ``name = ...`` of ``func`` that is
        its only binding besides the parameter: it still holds the parameter there."""
        params = [b for b in binders if isinstance(b, ast.arg)]
        targets = [b for b in binders if isinstance(b, ast.Name)]
        if len(params) != 1 or len(targets) != 1:
            return False
        stmt = self.scopes.parent(targets[0])
        if not (isinstance(stmt, ast.Assign) and any(t is targets[0] for t in stmt.targets) and stmt in func.body):
            return False
        return any(n is name for n in ast.walk(stmt.value))

    # is it handled already? ---------------------------------------------------------------

    def _covered(self, site: Site) -> bool | str:
        """True: an enclosing try (or suppress) handles it; a string: cannot tell (why); False: escapes."""
        for node, func in site.path:
            verdict = self._try_covers(node, func, site.exc)
            if verdict is not False:
                return verdict
        return False

    def _try_covers(self, node: ast.AST, func: Any, exc: str) -> bool | str:
        unknown: str | None = None
        child = node
        for anc in self.scopes.ancestors(node):
            if anc is func:
                break
            if isinstance(anc, _TRY) and _in(child, anc.body):
                for handler in anc.handlers:
                    verdict = self._class_covers(handler.type, exc)
                    if verdict is True:
                        return True
                    if verdict is None and unknown is None:
                        unknown = (
                            f"the `except {self.code(handler.type)}` at line {handler.lineno} names something "
                            "flaskfix cannot resolve; it may already catch it"
                        )
            elif isinstance(anc, (ast.With, ast.AsyncWith)) and _in(child, anc.body):
                for item in anc.items:
                    call = item.context_expr
                    if isinstance(call, ast.Call) and self.scopes.refers_to(call.func, "contextlib.suppress"):
                        for arg in [*call.args, *(k.value for k in call.keywords)]:
                            verdict = self._class_covers(arg, exc)
                            if verdict is True:
                                return True
                            if verdict is None and unknown is None:
                                unknown = f"`{self.code(call)}` at line {call.lineno} may suppress it"
            child = anc
        return unknown if unknown is not None else False

    def _class_covers(self, expr: ast.AST | None, exc: str) -> bool | None:
        """Does an except clause naming ``expr`` catch ``exc``? None: cannot tell."""
        if expr is None:
            return True  # bare except
        if isinstance(expr, ast.Tuple):
            verdicts = [self._class_covers(el, exc) for el in expr.elts]
            if True in verdicts:
                return True
            return None if None in verdicts else False
        kind, name = self._exception_name(expr)
        if kind == "class":
            return name in COVERING[exc]
        if kind in ("500", "other"):
            return False
        return None

    def _exception_name(self, expr: ast.AST) -> tuple[str, str]:
        """Classify an exception expression: ("class", builtin name), ("500", ""), ("other", ""), ("unknown", "")."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, int) and not isinstance(expr.value, bool):
            return ("500", "") if expr.value == 500 else ("other", "")
        if not isinstance(expr, (ast.Name, ast.Attribute)):
            return ("unknown", "")
        names = self.scopes.qualified_names(expr)
        for q in names:
            if q.startswith("builtins.") and q[len("builtins."):] in ALL_COVERING:
                return ("class", q[len("builtins."):])
        if names & SERVER_ERROR_NAMES:
            return ("500", "")
        if isinstance(expr, ast.Name):
            binders = self.scopes.binders(expr.id, self.scopes.scope_of(expr))
            if binders and all(isinstance(b, (ast.ClassDef, ast.alias)) for b in binders):
                return ("other", "")  # a class of this module, or one imported from a non-builtin module
            return ("unknown", "")
        if any(q.startswith(("werkzeug.", "flask.", "sqlalchemy.", "builtins.")) for q in names):
            return ("other", "")
        return ("unknown", "")

    def _registrations(self) -> list[Registration]:
        regs: list[Registration] = []
        calls = [n for n in ast.walk(self.tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr in REGISTER_METHODS]
        for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
            f = node.func
            assert isinstance(f, ast.Attribute)
            target = self._object_for(f.value)
            arg = call_arg(node, "code_or_exception", 0)
            kind, name = self._exception_name(arg) if arg is not None else ("unknown", "")
            regs.append(Registration(node.lineno, f.attr, target, self.code(f.value), kind, name))
        return regs

    def _object_for(self, expr: ast.AST) -> FlaskObject | None:
        if not isinstance(expr, ast.Name):
            return None
        binders = self.scopes.binders(expr.id, self.scopes.scope_of(expr))
        if len(binders) != 1:
            return None
        node = binders[0]
        for obj in self.flask.objects:
            if obj.call is not None and isinstance(node, ast.Name):
                assign = self.scopes.parent(node)
                if isinstance(assign, (ast.Assign, ast.AnnAssign)) and assign.value is obj.call:
                    return obj
            elif obj.imported_from is not None and isinstance(node, ast.alias) and obj.name == expr.id:
                return obj
        if isinstance(node, ast.alias) and isinstance(self.scopes.parent(node), ast.ImportFrom):
            for handler in self.flask.handlers.values():
                owner = handler.owner
                if owner is not None and owner.imported_from is not None and owner.name == expr.id:
                    return owner
        return None

    def _family(self, obj: FlaskObject) -> object:
        """Apps that are the same app at run time: the factory's local app and ``app = create_app()``."""
        if obj.kind != "app":
            return obj
        if isinstance(obj.scope_node, FUNCTIONS) and obj.scope_node in self.flask.factories:
            return obj.scope_node.name
        if obj.call is not None and isinstance(obj.call.func, ast.Name):
            if any(f.name == obj.call.func.id for f in self.flask.factories):
                return obj.call.func.id
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
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "register_blueprint":
                obj = self._object_for(node.func.value)
                if obj is None or obj.kind == "blueprint":
                    parents.add(_owner_key(obj) if obj is not None else None)
        if None in parents:  # registered on something flaskfix cannot identify: any blueprint may be a parent
            parents |= {_owner_key(o) for o in self.flask.objects if o.kind == "blueprint"}
        return parents

    def _registered_elsewhere(self, exc: str) -> str | None:
        wanted = ANSWERING[exc]
        paths = {p for word in sorted(REGISTER_METHODS) for p in self.project.files_mentioning(word, exclude=self.inp.path)}
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
        """Registrations in other modules that only the project index sees."""
        if not self.project.files:
            return None
        index = self.project.index()
        here = index.module_of(self.inp.path)
        for h in index.error_handlers():
            if here is not None and h.module == here.module:
                continue  # this module's own registrations are judged with their owners
            where = f"{self.project.relpath(index.modules[h.module].path)}:{h.registration.line}"
            for kind, value in h.registration.keys:
                if kind == "class" and str(value).rsplit(".", 1)[-1] in ANSWERING[exc]:
                    return f"a handler for {value} is registered in {where}; it may already answer these views' {exc}"
                if kind == "unknown":
                    return f"an error handler for {value} is registered in {where}, which flaskfix cannot read; it may cover {exc}"
        return None

    def _exception_observers(self) -> tuple[int, str] | None:
        """Code that sees unhandled exceptions and would stop seeing handled ones (first one found)."""
        for node in source_order(self.tree):
            word = None
            if isinstance(node, ast.Name) and node.id in EXCEPTION_SIGNALS:
                if any(q.startswith(("flask.", "blinker")) for q in self.scopes.qualified_names(node)):
                    word = node.id
            elif isinstance(node, ast.Attribute) and node.attr in EXCEPTION_SIGNALS:
                word = node.attr
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("flask", "blinker")):
                word = next((a.name for a in node.names if a.name in EXCEPTION_SIGNALS), None)
            if word is not None:
                line = node.lineno  # type: ignore[attr-defined]
                return (line, f"this module uses the `{word}` signal (line {line}), whose subscribers would stop seeing these exceptions")
        for func in self._teardown_functions():
            param = _first_param(func)
            if param is None:
                continue
            if self.scopes.references(param, func):
                line = func.lineno
                return (line, f"teardown function `{func.name}()` (line {line}) reads the exception it is given; "
                        "with a handler it would receive None and treat the request as successful")
        if self.project.files:
            index = self.project.index()
            for module, line, what in index.exception_observers():
                path = self.project.relpath(index.modules[module].path)
                if is_test_module(path):
                    continue  # a test that subscribes to see what happens does not run in production
                return (0, f"{path}:{line}: {what}, which would stop seeing these exceptions (instrumentation added "
                        "outside the code, such as ddtrace-run or opentelemetry-instrument, cannot be seen)")
        for word in sorted(EXCEPTION_SIGNALS | TEARDOWN_HOOKS):
            for path in self.project.files_mentioning(word, exclude=self.inp.path):
                tree = self.project.tree(path)
                if tree is None or is_test_module(self.project.relpath(path)):
                    continue
                hit = _ast_observer(tree, word)
                if hit:
                    return (0, f"{self.project.relpath(path)}:{hit[0]} {hit[1]}")
        return None

    def _teardown_functions(self) -> list[Any]:
        out: list[Any] = []
        by_name: dict[str, list[Any]] = {}
        names: list[str] = []
        for node in source_order(self.tree):
            if isinstance(node, FUNCTIONS):
                by_name.setdefault(node.name, []).append(node)
                for dec in node.decorator_list:
                    f = dec.func if isinstance(dec, ast.Call) else dec
                    if isinstance(f, ast.Attribute) and f.attr in TEARDOWN_HOOKS:
                        out.append(node)
            elif isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Attribute) and f.attr in TEARDOWN_HOOKS and node.args and isinstance(node.args[0], ast.Name):
                    names.append(node.args[0].id)
        for n in names:
            out.extend(by_name.get(n, []))
        return out

    # -- wrapping the sites ----------------------------------------------------------------

    def _wraps(
        self, plans: list[tuple[FlaskObject, str, list[Site]]], sites: list[Site]
    ) -> tuple[list[tuple[FlaskObject, str, list[Site]]], dict[ast.stmt, dict[str, list[Site]]]]:
        """The statement each planned site is wrapped in, grouped by statement; a site that
        cannot be wrapped exactly is left alone with one finding naming its classes and why
        (see ``codemods/error_handler.py``)."""
        planned = {(id(s.node), _owner_key(owner), exc) for owner, exc, group in plans for s in group}
        reaching: dict[int, set[tuple[object, str]]] = {}
        for site in sites:
            reaching.setdefault(id(site.node), set()).add((_owner_key(site.view.owner), site.exc))  # type: ignore[arg-type]
        why: dict[int, str] = {}
        targets: dict[int, ast.stmt] = {}
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
        wraps: dict[ast.stmt, dict[str, list[Site]]] = {}
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
        left: list[tuple[Any, str, int, int]] = []
        for key in why:
            site = candidates[key][0]
            left.append((_holder(site), self.code(site.node), site.node.lineno, key))  # type: ignore[attr-defined]
        for stmt, by_exc in list(wraps.items()):
            for group in by_exc.values():
                for site in group:
                    earlier = next((line for func, code, line, _ in left
                                    if func is _holder(site) and code == self.code(site.node) and line < site.node.lineno), None)  # type: ignore[attr-defined]
                    if earlier is not None and stmt in wraps:
                        del wraps[stmt]
                        for group2 in by_exc.values():
                            for s2 in group2:
                                why.setdefault(id(s2.node), f"the same `{self.code(site.node)}` runs first at line {earlier}, "
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

    def _wrap_target(self, site: Site) -> ast.stmt | str:
        """The simple statement to put in ``try``, or why there is none."""
        func = _holder(site)
        stmt = next((a for a in [site.node, *self.scopes.ancestors(site.node)] if isinstance(a, ast.stmt)), None)
        if stmt is None or isinstance(stmt, _COMPOUND):
            if stmt is None:
                return "it is in a block written on one line; flaskfix puts only a statement on a line of its own in `try`"
            kind = COMPOUND_WORDS.get(type(stmt).__name__, type(stmt).__name__.lower())
            article = "an" if kind[0] in "aeiou" else "a"
            return (f"it is in the header of {article} `{kind}` statement; flaskfix puts only a whole simple statement in "
                    f"`try`, and wrapping the `{kind}` would also catch its body (move the operation to a statement of its own)")
        holder = self.scopes.parent(stmt)
        col = self.lines.col(stmt.lineno, stmt.col_offset)
        if self.lines.line(stmt.lineno)[:col].strip():
            if isinstance(holder, _COMPOUND) and stmt.lineno == holder.lineno:
                return "it is in a block written on one line; flaskfix puts only a statement on a line of its own in `try`"
            return "its line holds several statements (`;`); put it on a line of its own"
        siblings = [s for block in _blocks(holder) for s in block] if holder is not None else []
        if any(s is not stmt and s.lineno <= (stmt.end_lineno or stmt.lineno) and (s.end_lineno or s.lineno) >= stmt.lineno
               for s in siblings):
            return "its line holds several statements (`;`); put it on a line of its own"
        if isinstance(holder, ast.Module):
            return "it is not in an indented block"
        for anc in self.scopes.ancestors(site.node):
            if anc is stmt:
                break
            if isinstance(anc, ast.GeneratorExp) and not self._consumed_at_once(anc):
                return "it is in a generator expression, which runs later, outside the statement that creates it"
        if func is not site.view.func and self.project.external_uses(self.inp.path, func.name):
            return (f"it is in `{func.name}()`, which other modules of the project also use; flaskfix would change "
                    "the exception they see")
        return stmt

    def _consumed_at_once(self, gen: ast.GeneratorExp) -> bool:
        """``sum(x for x in ...)`` and the like: the generator runs inside the call."""
        call = self.scopes.parent(gen)
        if not isinstance(call, ast.Call) or len(call.args) + len(call.keywords) != 1 or not isinstance(call.func, ast.Name):
            return False
        return call.func.id in CONSUMERS and self.scopes.is_builtin(call.func, call.func.id)

    def _inexact(self, stmt: ast.stmt, exc: str, sites: set[int]) -> str | None:
        """Why ``except <exc>`` around ``stmt`` would also catch an exception that is not
        one of ``sites``' (None: it would not)."""
        for node in source_order(stmt):
            if id(node) in sites:
                continue
            culprit = self._may_raise(node, exc)
            if culprit is not None:
                return (f"`{self.code(culprit)}` in the same statement may also raise {exc}, and flaskfix does not take "
                        "it for a request-input site; `try` around the statement would answer that 400 too (move the "
                        "operation to its own statement)")
        return None

    def _may_raise(self, node: ast.AST, exc: str) -> ast.AST | None:
        """The node (``node`` or one of its dict entries) whose own evaluation may raise
        ``exc``, or None. Attribute reads are taken not to."""
        if isinstance(node, ast.Call):
            return None if self._safe_call(node, exc) else node
        if isinstance(node, (ast.BinOp, ast.AugAssign)):
            if exc == "TypeError":
                return None if self._numeric_arithmetic(node) else node
            op = node.op
            if isinstance(op, _DIVISIONS):
                divisor = node.right if isinstance(node, ast.BinOp) else node.value
                value = _numeric_literal(divisor)
                if exc == "ZeroDivisionError" and (value is None or value == 0):
                    return node
                if exc == "ValueError" and isinstance(op, ast.Mod):
                    left = node.left if isinstance(node, ast.BinOp) else node.target
                    return None if self._numeric(left) else node  # %-formatting of a string may raise it
            return None
        if isinstance(node, ast.Subscript):
            if exc == "KeyError" and self._stored(node):
                return None  # ``d[k] = v`` sets a key, it never looks one up
            if exc == "KeyError" and self._key_checked(node, self.scopes.enclosing_function(node)):
                return None  # only reached when ``"k" in d`` (or ``d.get("k")``): the key is there
            return node if exc in ("KeyError", "TypeError") else None
        if isinstance(node, (ast.UnaryOp, ast.Compare)):
            return node if exc == "TypeError" else None
        if isinstance(node, ast.Starred) and isinstance(self.scopes.parent(node), (ast.List, ast.Tuple, ast.Set)):
            return node if exc == "TypeError" else None
        if isinstance(node, ast.Dict) and exc == "TypeError":
            for key in node.keys:  # `**x`, or a key that may be unhashable
                if key is None or not (isinstance(key, ast.Constant) and isinstance(key.value, (str, bytes, int, float)) and not isinstance(key.value, bool)):
                    return node
            return None
        if isinstance(node, ast.Set) and exc == "TypeError":
            return node
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom)):
            return node
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            return node if exc in ("ValueError", "TypeError") else None
        return None

    def _numeric_arithmetic(self, node: ast.BinOp | ast.AugAssign) -> bool:
        """``+``, ``-`` or ``*`` of two numbers (``total += int(v)`` with ``total = 0``):
        cannot raise TypeError."""
        if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
            return False
        left = node.left if isinstance(node, ast.BinOp) else node.target
        right = node.right if isinstance(node, ast.BinOp) else node.value
        return self._number(left) and self._number(right)

    def _number(self, expr: ast.AST, _seen: frozenset[str] = frozenset()) -> bool:
        """A number for sure: ``_numeric``, or a local name every binding of which (in its
        function) binds a number: ``total = 0`` and ``total += int(v)``."""
        if self._numeric(expr):
            return True
        if not isinstance(expr, ast.Name) or expr.id in _seen:
            return False
        scope = self.scopes.scope_of(expr)
        if self.scopes.resolve(expr.id, scope) is not scope or scope is self.tree:
            return False  # a function's own local only (a global may be rebound anywhere)
        binders = self.scopes.binders(expr.id, scope)
        seen = _seen | {expr.id}
        for target in binders:
            stmt = self.scopes.parent(target)
            if isinstance(stmt, ast.Assign) and stmt.targets == [target]:
                if not self._number(stmt.value, seen):
                    return False
            elif isinstance(stmt, ast.AugAssign) and stmt.target is target:
                if not (isinstance(stmt.op, (ast.Add, ast.Sub, ast.Mult)) and self._number(stmt.value, seen)):
                    return False
            else:
                return False
        return bool(binders)

    def _numeric(self, expr: ast.AST) -> bool:
        """A number for sure: a numeric literal, or ``int()``/``float()``/``len()`` of anything."""
        if _numeric_literal(expr) is not None:
            return True
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in ("int", "float", "len"):
            return self.scopes.is_builtin(expr.func, expr.func.id)
        return False

    def _stored(self, node: ast.Subscript) -> bool:
        if not isinstance(node.ctx, ast.Store):
            return False
        parent = self.scopes.parent(node)
        while isinstance(parent, (ast.Tuple, ast.List, ast.Starred)):
            parent = self.scopes.parent(parent)
        return isinstance(parent, ast.Assign) or (isinstance(parent, ast.AnnAssign) and parent.target is node)

    def _safe_call(self, call: ast.Call, exc: str) -> bool:
        """Calls that cannot raise ``exc``: the request's accessors, a few built-ins, jsonify."""
        names = self.scopes.qualified_names(call.func)
        for q in names:
            if q.startswith("builtins.") and q[len("builtins."):] in SAFE_BUILTINS[exc]:
                return True
            if q in ("flask.jsonify", "flask.json.jsonify") and exc != "TypeError":
                return True
        func = call.func
        if (isinstance(func, ast.Attribute) and func.attr == "append" and len(call.args) == 1 and not call.keywords
                and not isinstance(call.args[0], ast.Starred) and self._known_list(func.value)):
            return True  # list.append of one value raises none of these
        if isinstance(func, ast.Attribute) and func.attr in REQUEST_ACCESSORS:
            receiver = func.value
            if isinstance(receiver, ast.Attribute):
                receiver = receiver.value
            if self._is_request(receiver):
                return True
            if func.attr == "get" and exc != "TypeError" and self._request_json(func.value):
                return True  # the JSON body's dict.get: returns a default, never raises these
        if (isinstance(func, ast.Attribute) and func.attr == "get" and exc != "TypeError"
                and isinstance(func.value, ast.Name) and self._json_name(func.value)):
            return True
        # a request string split on a non-empty literal separator (``request.args["ids"].split(",")``):
        # a str method that raises none of these (a missing key is werkzeug's own 400)
        if (self._splits_request_string(call) and not call.keywords and len(call.args) <= 1
                and all(isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value for a in call.args)):
            return exc != "KeyError"
        return False

    def _known_list(self, expr: ast.AST) -> bool:
        """A name bound exactly once, to a list display or list comprehension (a module's
        ``audit = []`` that no function rebinds, or a local)."""
        if not isinstance(expr, ast.Name):
            return False
        target = self._sole_binding(expr)
        stmt = self.scopes.parent(target) if target is not None else None
        if not (isinstance(stmt, ast.Assign) and stmt.targets == [target]):
            return False
        value = stmt.value
        if isinstance(value, (ast.List, ast.ListComp)):
            return True
        # ``audit = g.setdefault("pkg.views.audit", [])``, global-to-g's form of a module list
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "setdefault"
                and self.scopes.refers_to(value.func.value, "flask.g") and len(value.args) == 2 and not value.keywords
                and isinstance(value.args[1], ast.List) and isinstance(value.args[0], ast.Constant)
                and isinstance(value.args[0].value, str)):
            return self._g_key_holds_lists(value.args[0].value)
        return False

    def _g_key_holds_lists(self, key: str) -> bool:
        """Every mention of ``key`` in the project is ``g.setdefault(key, [...])``, ``g.get(key)``,
        ``g.pop(key)`` or ``key in g``: what ``g`` holds under it is a list. (A key with a dot
        cannot be written as an attribute, ``g.x = ...``.)"""
        if "." not in key:
            return False
        for path in self.project.files_mentioning(key):
            tree = self.project.tree(path)
            if tree is None:
                return False
            parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Constant) and node.value == key):
                    continue
                parent = parents.get(node)
                if isinstance(parent, ast.Compare) and parent.left is node:
                    continue
                if not (isinstance(parent, ast.Call) and parent.args and parent.args[0] is node
                        and isinstance(parent.func, ast.Attribute) and isinstance(parent.func.value, ast.Name)
                        and parent.func.value.id == "g"):
                    return False
                if parent.func.attr == "setdefault" and len(parent.args) == 2 and isinstance(parent.args[1], ast.List):
                    continue
                if parent.func.attr not in ("get", "pop") or len(parent.args) > 1:
                    return False
        return True

    def _json_name(self, name: ast.Name) -> bool:
        """A name bound once, in this function, to the request's JSON body."""
        target = self._sole_binding(name)
        if not isinstance(target, ast.Name):
            return False
        assign = self.scopes.parent(target)
        return isinstance(assign, ast.Assign) and any(t is target for t in assign.targets) and self._request_json(assign.value)

    # -- placing the handlers --------------------------------------------------------------

    def _placement(self, owner: FlaskObject) -> str | None:
        """Why handlers for ``owner`` cannot be placed, or None (the transform places them)."""
        scope_node = owner.scope_node
        if scope_node is self.tree:
            stmts = self.tree.body
        elif isinstance(scope_node, FUNCTIONS) and owner.kind == "app" and scope_node in self.flask.factories:
            if self.scopes.parent(scope_node) is not self.tree:
                return f"the factory `{scope_node.name}()` is not a module-level function"
            if scope_node.body[0].lineno == scope_node.lineno:
                return f"the factory `{scope_node.name}()` is written on one line"
            stmts = scope_node.body
        else:
            return f"`{owner.name}` is created inside a function that is not an app factory; flaskfix cannot place a handler"
        for h in self.flask.handlers.values():
            if h.kind != "view" or h.owner is None or _owner_key(h.owner) != _owner_key(owner):
                continue
            if any(_in(cand, stmts) for cand in (h.func, *self.scopes.ancestors(h.func))):
                return None
        return f"the views of `{owner.name}` are not in the body that creates it"


# -- small helpers -------------------------------------------------------------------------


def _numeric_text(node: ast.AST) -> bool:
    """A literal int()/float() accepts: a number (not a bool), or a string of digits."""
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return False
    if isinstance(node.value, (int, float)):
        return True
    return isinstance(node.value, str) and node.value.strip().lstrip("+-").isdigit()


def _module_names(tree: ast.Module, top_only: bool = False) -> dict[str, str]:
    """Names bound anywhere in the module (``top_only``: outside functions and classes):
    name -> the module it is imported from; "" when it is bound otherwise, or imported
    from more than one module."""
    out: dict[str, str] = {}

    def bind(name: str, source: str) -> None:
        out[name] = source if out.get(name, source) == source else ""

    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                bind(a.asname or a.name, node.module or "")
        elif isinstance(node, ast.Import):
            for a in node.names:
                bind((a.asname or a.name).split(".")[0], "")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(node.name, "")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bind(node.id, "")
        if top_only and node is not tree and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return out


def _owner_key(obj: FlaskObject | None) -> object:
    """Identity of an app/blueprint: the facts make a new object per use of an imported one."""
    if obj is not None and obj.imported_from is not None:
        return ("imported", obj.imported_from, obj.name)
    return obj


def _holder(site: Site) -> Any:
    """The function whose body holds the site (the view, or a helper it calls)."""
    return site.path[-1][1] if site.path else site.view.func


def _in(node: ast.AST, stmts: list) -> bool:
    return any(node is s for s in stmts)


def _index(node: ast.AST, stmts: list) -> int:
    return next(i for i, s in enumerate(stmts) if s is node)


def _blocks(node: ast.AST | None) -> list[list[ast.stmt]]:
    """The statement lists directly in ``node`` (a module, function or compound statement)."""
    if node is None:
        return []
    out = [getattr(node, name) for name in ("body", "orelse", "finalbody")
           if isinstance(getattr(node, name, None), list) and getattr(node, name) and isinstance(getattr(node, name)[0], ast.stmt)]
    out += [h.body for h in getattr(node, "handlers", [])]
    out += [c.body for c in getattr(node, "cases", [])]
    return out


def _body_nodes(func: Any) -> list[ast.AST]:
    """Every node that runs when ``func`` runs, in source order: not nested defs, lambdas or classes."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = list(reversed(func.body))
    while stack:
        node = stack.pop()
        if isinstance(node, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
            continue
        out.append(node)
        stack.extend(reversed(source_children(node)))
    return out


def _origin_words(labels: Any) -> list[str]:
    words = {"config": "the app's configuration", "env": "the environment", "database": "the database",
             "unknown": "code flaskfix cannot follow", "constant": "a literal"}
    return [words.get(label, label) for label in labels]


def _numeric_literal(expr: ast.AST) -> Any:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, (int, float, complex)) and not isinstance(expr.value, bool):
        return expr.value
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
        inner = _numeric_literal(expr.operand)
        return None if inner is None else (-inner if isinstance(expr.op, ast.USub) else inner)
    return None


def _positive(value: Any) -> bool:
    return value is not None and not isinstance(value, complex) and value > 0


def _string_literal(expr: ast.AST) -> bool:
    return (isinstance(expr, ast.Constant) and isinstance(expr.value, (str, bytes))) or isinstance(expr, ast.JoinedStr)


def _non_numeric_literal(expr: ast.AST) -> bool:
    return _string_literal(expr) or isinstance(
        expr, (ast.Tuple, ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp))


def _is_name(expr: ast.AST, name: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == name


def _implies_nonzero(test: ast.AST, name: str) -> bool:
    """Does ``test`` being true prove ``name`` is non-zero?"""
    if _is_name(test, name):
        return True
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_implies_nonzero(v, name) for v in test.values)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op, left, right = test.ops[0], test.left, test.comparators[0]
        if _is_name(left, name) and _numeric_literal(right) == 0 and isinstance(op, (ast.NotEq, ast.Gt, ast.Lt)):
            return True
        if _is_name(right, name) and _numeric_literal(left) == 0 and isinstance(op, (ast.NotEq, ast.Gt, ast.Lt)):
            return True
        lit = _numeric_literal(right) if _is_name(left, name) else None
        if _positive(lit) and isinstance(op, ast.GtE):
            return True
    return False


def _implies_zero(test: ast.AST, name: str) -> bool:
    """Does ``test`` being false prove ``name`` is non-zero?"""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _implies_nonzero(test.operand, name)
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return any(_implies_zero(v, name) for v in test.values)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op, left, right = test.ops[0], test.left, test.comparators[0]
        if _is_name(left, name) and _numeric_literal(right) == 0 and isinstance(op, (ast.Eq, ast.LtE)):
            return True
        if _is_name(right, name) and _numeric_literal(left) == 0 and isinstance(op, (ast.Eq, ast.GtE)):
            return True
        lit = _numeric_literal(right) if _is_name(left, name) else None
        if _positive(lit) and isinstance(op, ast.Lt):
            return True
    return False


def _first_param(func: Any) -> str | None:
    params = [*func.args.posonlyargs, *func.args.args]
    if params:
        return str(params[0].arg)
    if func.args.vararg is not None:
        return str(func.args.vararg.arg)
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


# -- the generated code, as text (the transform and the shared handler's supporting edit) --

DEFAULT_MESSAGES = {
    "ZeroDivisionError": "Division by zero is not allowed.",
    "ValueError": "A value in the request is not valid.",
    "KeyError": "A required field is missing from the request.",
    "TypeError": "The request data does not have the expected shape.",
}

#: the client-input class raised at each wrapped site: (name, docstring)
CLIENT_CLASSES = {
    "ZeroDivisionError": ("ClientZeroDivisionError", "A division by a number from the request that is zero."),
    "ValueError": ("ClientValueError", "A value from the request that cannot be converted."),
    "KeyError": ("ClientKeyError", "A key missing from the request's JSON body."),
    "TypeError": ("ClientTypeError", "The request's JSON body does not have the expected shape."),
}

#: longest line the generated code may have (black's default)
MAX_LINE = 88
BASE_CLASS = "ClientInputError"
HANDLER = "handle_client_input_error"


def class_texts(base: str, bad_request: str, classes: dict[str, str], indent: str, doc: str) -> list[str]:
    """The client-input base class and one subclass per built-in class (exc -> name)."""
    defs = [f'class {base}({bad_request}):\n{indent}"""{doc}"""\n']
    for exc, name in classes.items():
        defs.append(f'class {name}({base}, {exc}):\n{indent}"""{CLIENT_CLASSES[exc][1]}"""\n')
    return defs


def handler_text(owner: str | None, name: str, base: str, current_app: str, request: str, status: int, indent: str,
                 q: str) -> str:
    """The handler for ``base``: decorated with ``@<owner>.errorhandler(base)`` unless
    ``owner`` is None (registered by a call in the factory). Bad client input is not a
    server error: one WARNING line, no traceback."""
    lines = []
    if owner is not None:
        lines.append(f"@{owner}.errorhandler({base})")
    lines.append(f"def {name}(error):")
    log = string_literal(f"%s %s (view %s): %r, answered {status}", q)
    args = [log, f"{request}.method", f"{request}.path", f"{request}.endpoint", "error.__cause__"]
    lines += _wrapped(indent, f"{current_app}.logger.warning(", args, ")")
    body = f"{{{string_literal('error', q)}: error.description}}"
    lines.append(f"{indent}return {body}, {status}")
    return "\n".join(lines) + "\n"


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
