"""cache-route: cache the response of an expensive, cacheable GET route with Flask-Caching.

A route that recomputes the same expensive answer on every request (a report, an
aggregate, a whole-table query) can serve it from a cache instead. Done naively this is
one of the most dangerous rewrites there is: a cached page that reads ``session`` or
``current_user`` is served to the next user; ``@cache.cached`` placed above
``@app.route`` caches nothing; without ``query_string=True`` ``?q=a`` and ``?q=b`` share one
entry; a GET/POST route answers POSTs from the GET cache; a 500 is replayed for the whole
timeout.

So the codemod only touches routes it can prove both *expensive* (they call something
that the documented heuristics or the ``expensive`` setting name) and *cacheable* (GET
only, the response depends on nothing but the URL: no per-user state, no request data
outside the path and query string, no writes, no cookies, no flashes, no templates unless
declared safe, no randomness or clock). Functions the view calls are followed when they
are defined in this module or another module of the project, and checked by the same
rules. Every refused candidate gets a finding naming the rule that refused it.

The rewrite puts ``@<cache>.cached(...)`` innermost (directly above ``def``, beneath the
route and auth decorators, which keep running on every request), adds
``query_string=True`` when the view reads ``request.args`` and a ``response_filter`` that
stores 2xx responses only. It reuses an existing ``flask_caching.Cache`` (also one
imported from another project module) or creates one next to the app.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import libcst as cst
from libcst.metadata import PositionProvider, ScopeProvider
from libcst.metadata.scope_provider import (
    Assignment,
    BuiltinAssignment,
    ClassScope,
    FunctionScope,
    GlobalScope,
    ImportAssignment,
)

from flaskfix.codemods.ast_facts import HANDLER_TEXT, AstFacts, dotted
from flaskfix.codemods import detection
from flaskfix.codemods.base import FlaskfixCodemod, quote_style
from flaskfix.codemods.flask_model import FlaskObject, Handler, VIEW_BASES, call_arg, dotted_name, is_docstring, is_generator_function

CACHE_CLASSES = frozenset({"flask_caching.Cache"})
SESSION = frozenset({"flask.session", "flask.globals.session"})
G = frozenset({"flask.g", "flask.globals.g"})
REQUEST = frozenset({"flask.request", "flask.globals.request"})
#: request attributes that cannot make two requests with the same path and query string differ
REQUEST_SAFE_ATTRS = frozenset({"args", "path", "view_args", "endpoint", "url_rule", "blueprint", "blueprints"})
IDENTITY = frozenset(
    {
        "flask_login.current_user",
        "flask_login.utils.current_user",
        "flask_security.current_user",
        "flask_security.core.current_user",
    }
)
IDENTITY_PACKAGES = ("flask_jwt_extended.", "flask_principal.", "flask_httpauth.", "flask_security.")
FLASH = frozenset({"flask.flash", "flask.get_flashed_messages", "flask.helpers.flash", "flask.helpers.get_flashed_messages"})
TEMPLATES = frozenset({"flask.render_template", "flask.templating.render_template"})
TEMPLATE_ALWAYS = frozenset(
    {
        "flask.render_template_string",
        "flask.stream_template",
        "flask.stream_template_string",
        "flask.templating.render_template_string",
    }
)
STREAMS = frozenset(
    {
        "flask.send_file",
        "flask.send_from_directory",
        "flask.stream_with_context",
        "flask.helpers.send_file",
        "flask.helpers.send_from_directory",
        "flask.helpers.stream_with_context",
    }
)
CLOCK_OR_RANDOM = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.localtime",
        "time.gmtime",
        "time.ctime",
        "time.asctime",
        "time.strftime",
        "time.monotonic",
        "time.perf_counter",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
        "uuid.uuid1",
        "uuid.uuid4",
        "os.urandom",
    }
)
#: calls that read the state of the process, the machine or the file system
PROCESS_STATE = frozenset({"os.listdir", "os.scandir", "os.walk", "os.stat", "os.lstat", "os.getloadavg", "os.getpid",
                           "os.cpu_count", "shutil.disk_usage", "glob.glob", "glob.iglob", "resource.getrusage",
                           "threading.active_count", "threading.enumerate", "gc.get_count", "tracemalloc.get_traced_memory"})
PROCESS_STATE_PACKAGES = ("os.path.", "psutil.")
CLOCK_OR_RANDOM_PACKAGES = ("random.", "secrets.", "numpy.random.")
#: method calls that write wherever their receiver lives (databases, files, sockets)
ALWAYS_WRITES = frozenset(
    {
        "commit",
        "flush",
        "add_all",
        "bulk_save_objects",
        "bulk_insert_mappings",
        "bulk_update_mappings",
        "executemany",
        "write",
        "writelines",
        "write_text",
        "write_bytes",
        "unlink",
        "rmdir",
        "mkdir",
        "rename",
        "touch",
        "send",
        "sendall",
        "publish",
        "incr",
        "decr",
    }
)
#: method calls that write when their receiver is not a local variable of the function
NONLOCAL_WRITES = frozenset(
    {
        "add",
        "delete",
        "merge",
        "insert",
        "update",
        "upsert",
        "save",
        "create",
        "set",
        "put",
        "post",
        "patch",
        "append",
        "extend",
        "remove",
        "pop",
        "clear",
        "setdefault",
        "discard",
        "execute",
    }
)
COOKIE_METHODS = frozenset({"set_cookie", "delete_cookie"})
IDENTITY_NAMES = frozenset({"current_user", "current_identity"})
#: attributes such as Flask-HTTPAuth's ``auth.current_user()``
IDENTITY_ATTRS = frozenset({"current_user", "current_identity", "get_current_user"})
CACHE_DECORATOR_ATTRS = frozenset({"cached", "memoize"})
RULE_VAR = re.compile(r"<(?:[A-Za-z_]\w*(?:\([^)]*\))?:)?([A-Za-z_]\w*)>")

HELPER_BASE = "is_successful"
HELPER_TEMPLATE = '''\
def {name}(response):
    """Store only successful (2xx) responses in the cache."""
    return 200 <= {make_response}(response).status_code < 300
'''


@dataclass
class _ModuleInfo:
    """Scope facts of the module being rewritten (LibCST's scope analysis, which the
    codemod already has); other modules of the project use ``_LightModuleInfo``."""

    module: cst.Module
    scopes: dict
    parents: dict
    path: str
    is_current: bool

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        scope = self.scopes.get(node)
        if scope is None:
            return set()
        try:
            return {q.name for q in scope.get_qualified_names_for(node)}
        except Exception:
            return set()

    def top_function(self, name: str) -> cst.FunctionDef | None:
        found = [s for s in self.module.body if isinstance(s, cst.FunctionDef) and s.name.value == name]
        return found[0] if len(found) == 1 else None

    def prepare(self, func: cst.FunctionDef) -> None:
        """Called before ``func`` is scanned (the scope facts here cover the whole module)."""

    def bindings(self, name: cst.Name) -> list[tuple[cst.CSTNode | None, str]] | None:
        """What ``name`` may refer to: (binding node, "global" | "function" | "other"), a
        built-in as (None, "builtin"); None when it is not bound anywhere flaskfix sees."""
        scope = self.scopes.get(name)
        if scope is None or name.value not in scope:
            return None
        out: list[tuple[cst.CSTNode | None, str]] = []
        for a in scope[name.value]:
            if isinstance(a, BuiltinAssignment):
                out.append((None, "builtin"))
            elif isinstance(a, Assignment):
                kind = "global" if isinstance(a.scope, GlobalScope) else "function" if isinstance(a.scope, FunctionScope) else "other"
                out.append((a.node, kind))
            else:
                out.append((None, "other"))
        return out


class _LightModuleInfo(_ModuleInfo):
    """Another module of the project, for scanning the functions a view calls there:
    LibCST's tree without its scope analysis (which cost more than everything else the
    scan does). Names are resolved from the module's top-level bindings and the bindings
    of the functions around them, which is all the scan asks."""

    def __init__(self, module: cst.Module, path: str) -> None:
        super().__init__(module, {}, {}, path, False)
        self._top: dict[str, list[cst.CSTNode]] = {}
        self._local_cache: dict[int, tuple[set[str], set[str], set[str]]] = {}
        self._import_cache: dict[int, dict[str, list[cst.CSTNode]]] = {}
        self._prepared: set[int] = set()

        def bind(stmt: cst.CSTNode) -> None:
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                self._top.setdefault(stmt.name.value, []).append(stmt)
                return
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    for n in _bound_names(small):
                        self._top.setdefault(n, []).append(small)
                return
            if isinstance(stmt, cst.BaseCompoundStatement):  # if/try/for/with at module level
                for n in _compound_targets(stmt):
                    self._top.setdefault(n, []).append(stmt)
                for block in _blocks(stmt):
                    for inner in block.body:
                        bind(inner)

        for stmt in module.body:
            bind(stmt)
        self._module_parents(module)

    @classmethod
    def parse(cls, text: str, path: str) -> "_LightModuleInfo | None":  # type: ignore[override]
        try:
            return cls(cst.parse_module(text), path)
        except Exception:
            return None

    def _module_parents(self, module: cst.Module) -> None:
        """Parents of the module-level statements' own nodes (not of function bodies, which
        ``prepare`` adds for the functions that are scanned)."""
        for stmt in module.body:
            if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                self._parents_of(stmt, module)

    def _parents_of(self, root: cst.CSTNode, parent: cst.CSTNode | None) -> None:
        parents = self.parents
        if parent is not None:
            parents[root] = parent
        stack = [root]
        while stack:
            node = stack.pop()
            for child in node.children:
                parents[child] = node
                stack.append(child)

    def prepare(self, func: cst.FunctionDef) -> None:
        if id(func) not in self._prepared:
            self._prepared.add(id(func))
            self._parents_of(func, self.parents.get(func, self.module))

    def _class_names(self, cls: cst.ClassDef) -> set[str]:
        names: set[str] = set()
        for stmt in cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ():
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                names.add(stmt.name.value)
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    names |= set(_bound_names(small))
        return names

    def _in_import(self, name: cst.Name) -> bool:
        node: cst.CSTNode = name
        while (parent := self.parents.get(node)) is not None and isinstance(parent, (cst.Attribute, cst.ImportFrom, cst.Import, cst.ImportAlias)):
            if isinstance(parent, (cst.ImportFrom, cst.Import)):
                return True
            node = parent
        return False

    def _imports(self, func: cst.CSTNode) -> dict[str, list[cst.CSTNode]]:
        """name -> the import statements in ``func``'s own body that bind it."""
        self._locals(func)
        return self._import_cache.get(id(func), {})

    def _locals(self, func: cst.CSTNode) -> tuple[set[str], set[str], set[str]]:
        """(names the function binds, names it declares global, names it declares nonlocal)."""
        key = id(func)
        if key not in self._local_cache:
            bound: set[str] = set()
            declared: set[str] = set()
            outer: set[str] = set()
            if isinstance(func, (cst.FunctionDef, cst.Lambda)):
                params = func.params
                for p in [*params.posonly_params, *params.params, *params.kwonly_params]:
                    bound.add(p.name.value)
                for p in (params.star_arg, params.star_kwarg):
                    if isinstance(p, cst.Param):
                        bound.add(p.name.value)
            body = func.body
            stack: list[cst.CSTNode] = [body]
            while stack:
                node = stack.pop()
                if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                    bound.add(node.name.value)
                    continue  # its own scope
                if isinstance(node, cst.Lambda):
                    continue
                if isinstance(node, (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
                    continue  # its own scope (LibCST keeps a `:=` inside it there too: not the function's)
                if isinstance(node, cst.Global):
                    declared |= {n.name.value for n in node.names}
                elif isinstance(node, cst.Nonlocal):
                    outer |= {n.name.value for n in node.names}
                elif isinstance(node, cst.BaseSmallStatement):
                    names = _bound_names(node)
                    bound |= set(names)
                    if isinstance(node, (cst.Import, cst.ImportFrom)):
                        for n in names:
                            self._import_cache.setdefault(key, {}).setdefault(n, []).append(node)
                elif isinstance(node, cst.BaseCompoundStatement):
                    bound |= set(_compound_targets(node))
                elif isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
                    bound.add(node.target.value)
                stack.extend(node.children)
            self._local_cache[key] = (bound - declared - outer, declared, outer)
        return self._local_cache[key]

    def bindings(self, name: cst.Name) -> list[tuple[cst.CSTNode | None, str]] | None:
        word = name.value
        node: cst.CSTNode = name
        if isinstance(self.parents.get(name), cst.NameItem):
            return None  # the name in `global x` / `nonlocal x` itself refers to nothing yet
        outer_iter = False  # in a comprehension's first iterable: evaluated outside it
        while True:
            parent = self.parents.get(node)
            if parent is None or parent is self.module:
                break
            if isinstance(parent, (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)) and not outer_iter:
                comp = parent.for_in
                while comp is not None:
                    if word in _target_names(comp.target):
                        return [(comp, "other")]
                    comp = comp.inner_for_in
            if isinstance(parent, cst.ClassDef) and node is parent.body and word in self._class_names(parent):
                return [(parent, "other")]  # bound in the class body
            if isinstance(parent, (cst.FunctionDef, cst.Lambda)) and node is not getattr(parent, "name", None) \
                    and not any(node is getattr(d, "decorator", None) for d in getattr(parent, "decorators", ())):
                bound, declared, _outer = self._locals(parent)
                if word in declared:
                    break
                if word in bound:
                    return [(parent, "function")]
            outer_iter = isinstance(parent, cst.CompFor) and node is parent.iter and not isinstance(self.parents.get(parent), cst.CompFor)
            node = parent
        found = self._top.get(word)
        if found:
            return [(n, "global") for n in found]
        if word in _BUILTINS:
            return [(None, "builtin")]
        return None

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        if isinstance(node, cst.Name):
            if isinstance(self.parents.get(node), cst.NameItem) or self._in_import(node):
                return set()  # `global x` itself, or a module path in an import, as LibCST answers
            found = self.bindings(node)
            if not found:
                return set()
            out = set()
            for binding, kind in found:
                if kind == "builtin":
                    out.add(f"builtins.{node.value}")
                elif kind == "global":
                    out |= _imported_as(binding, node.value)
                elif isinstance(binding, (cst.FunctionDef, cst.Lambda)) and node.value in self._imports(binding):
                    for imp in self._imports(binding)[node.value]:
                        out |= _imported_as(imp, node.value)  # `import x` inside the function
                else:
                    out.add(f"<local>.{node.value}")
            return out
        if isinstance(node, cst.Attribute):
            return {f"{q}.{node.attr.value}" for q in self.qualified_names(node.value)}
        return set()


@dataclass
class _Problem:
    line: int
    rule: str


@dataclass
class _Facts:
    problems: list[_Problem] = field(default_factory=list)
    reads_args: bool = False
    expensive: list[str] = field(default_factory=list)
    #: functions still to scan, breadth first (a scan that stopped at the view's own body)
    pending: list[tuple[_ModuleInfo, cst.FunctionDef, int | None, str]] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)


class CacheRoute(FlaskfixCodemod):
    ID = "cache-route"
    ORDER = 50
    SUMMARY = "Expensive GET routes whose response depends only on the URL are cached with Flask-Caching"
    WHY = """
        A route that recomputes the same expensive answer on every request (a report, an
        aggregate, a whole-table query) spends CPU and database time on work whose result
        has not changed. Flask-Caching can store the response and serve it until it
        expires. It only helps when applied correctly: the cache decorator must sit
        beneath the route decorator, the cache key must include the query string when the
        view reads it, errors must not be stored, and a response that depends on who asks
        (session, logged-in user, cookies, headers) must never be cached at all.
    """
    BEHAVIOUR = """
        Responses of the rewritten routes are served from the cache for `timeout` seconds
        (default 60): during that time the route does not run, so it returns data up to
        that old, and side effects of the view (logging, metrics) happen once per expiry
        instead of once per request. Decorators above the cache decorator (route, auth)
        still run on every request. The cache key is the request path, plus the sorted
        query string when the view reads request.args; GET and HEAD share an entry. Only
        2xx responses are stored (a response_filter helper is added once per module);
        errors, redirects and aborts are recomputed every time. When flaskfix creates the
        cache it uses CACHE_TYPE "SimpleCache": a per-process, in-memory cache, so each
        worker process has its own copy and entries are lost on restart; switch the
        generated config to a shared backend (e.g. RedisCache) for multi-process
        deployments. An existing flask_caching.Cache is reused with its own backend.
        Functions the view calls from third-party packages, and methods called on
        objects, cannot be followed: flaskfix assumes they do not read per-user request
        state.
    """
    REFUSES = (
        "a new Cache would be needed but the project does not depend on Flask-Caching: its runtime manifests (requirements*.txt, pyproject, setup.cfg, setup.py, Pipfile) do not declare it and no runtime module imports flask_caching (the app would stop importing where it is deployed); a project with no manifest at all gets the change, which says what to install",
        "the route is not expensive: it calls nothing named in `expensive` and matches no heuristic "
        "(call names containing one of `heuristics`: expensive, calculat, compute, aggregate, report, "
        "summar, stats; whole-table queries `X.query.all()`, `X.query.count()`, `session.query(X).all()`); "
        "such routes are left alone without a finding",
        "methods: the route answers anything but GET/HEAD (a POST would be answered from the GET cache), "
        "or its methods cannot be read statically",
        "per-user state: it reads flask.session, current_user (Flask-Login, Flask-Security, JWT, Principal, "
        "HTTPAuth), or flask.g (auth hooks keep the user there)",
        "request data: it reads request attributes other than args, path, view_args, endpoint, url_rule, "
        "blueprint (cookies, headers, authorization, form, json, method, host, remote_addr...), uses "
        "`request` as a whole, or builds external URLs (url_for(_external=...))",
        "flash: it calls flash() or get_flashed_messages()",
        "cookies: it calls set_cookie()/delete_cookie()",
        "writes: it commits or writes (database session add/commit/delete, file writes, open() for writing, "
        "mutating module-level objects, `global`/`nonlocal`)",
        "templates: it renders a template not listed in `safe_templates` (templates can read session, g and "
        "current_user), or renders/streams a template string",
        "streaming: it streams or sends a file (send_file, send_from_directory, stream_with_context), "
        "or is a generator or async",
        "clock or randomness: it calls random/secrets/uuid1/uuid4/os.urandom or reads the current time",
        "shared state: it (or a function of the project it calls) reads a module-level container that some "
        "function changes (append, item assignment, update...), a module-level name some function rebinds with "
        "`global`, a class attribute some function or classmethod changes, or a queue/threading/deque/"
        "itertools.count object: a cached answer would freeze it (a name heuristic such as 'summar' never "
        "outweighs this)",
        "file or process state: it reads a file with open() (any mode), or calls os.listdir/scandir/walk/stat, "
        "os.path.*, glob, shutil.disk_usage, psutil.* and the like, whose answers change while the app runs "
        "(templates read through Jinja are judged by `safe_templates` instead)",
        "parameters: the view takes parameters that are not variables of its URL rule (or *args/**kwargs), "
        "or its URL rule is not a literal",
        "the view function is used elsewhere (called directly, or imported by another module)",
        "no cache to use: several Cache instances exist, an existing Cache is never initialised, or there is "
        "no app in this module to attach a new one to (e.g. a blueprint module: create the Cache in your "
        "extensions module and flaskfix will reuse it)",
        "MethodView: the class answers other methods than GET, overrides dispatch_request, inherits from "
        "another view class without its own `decorators` list, or its `decorators` is not a list/tuple literal",
        "a function the view calls (in this module or another project module) breaks one of these rules",
        "names: the module has a star import, which may rebind any name flaskfix would add",
        "invalid configuration (`timeout` not a positive integer, `expensive`/`heuristics`/`safe_templates` not "
        "lists of strings): the codemod reports it once and does nothing in the file",
    )
    EXAMPLE_BEFORE = '''\
from flask import Flask

app = Flask(__name__)
cache = {}


@app.route("/expensive")
def expensive_operation():
    data = perform_expensive_calculation()
    return {"result": data}
'''
    EXAMPLE_AFTER = '''\
from flask import Flask, make_response
from flask_caching import Cache

app = Flask(__name__)
flask_cache = Cache(app, config={"CACHE_TYPE": "SimpleCache"})
cache = {}


def is_successful(response):
    """Store only successful (2xx) responses in the cache."""
    return 200 <= make_response(response).status_code < 300


@app.route("/expensive")
@flask_cache.cached(timeout=60, response_filter=is_successful)
def expensive_operation():
    data = perform_expensive_calculation()
    return {"result": data}
'''
    PREFILTER = (HANDLER_TEXT,)
    DEFAULT_CONFIG = {
        "timeout": 60,
        "expensive": [],
        "heuristics": ["expensive", "calculat", "compute", "aggregate", "report", "summar", "stats"],
        "whole_table_queries": True,
        "safe_templates": [],
    }
    METADATA_DEPENDENCIES = (ScopeProvider, PositionProvider)

    # -- entry point ---------------------------------------------------------------------

    @classmethod
    def detect(cls, facts: AstFacts) -> bool:
        """``detection.cache_route`` (LibCST-free, so that a run needs no codemod import to ask it)."""
        return detection.cache_route(facts)

    @classmethod
    def detect_in_project(cls, path: str, text: str, facts: AstFacts, config: Mapping[str, Any], project: Any) -> bool:
        """``detection.cache_route_in_project``."""
        return detection.cache_route_in_project(path, text, facts, config, project)

    @classmethod
    def config_problems(cls, config: Mapping[str, Any]) -> list[str]:
        problems = []
        timeout = config.get("timeout")
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
            problems.append(f"timeout must be a positive number of seconds, not {timeout!r}")
        for key in ("expensive", "heuristics", "safe_templates"):
            value = config.get(key)
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems.append(f"{key} must be a list of non-empty strings, not {config.get(key)!r}")
        return problems

    def rewrite(self, tree: cst.Module) -> cst.Module:
        model = self.flask
        views = [h for h in model.handlers.values() if h.kind == "view"]
        if not views:
            return tree
        self._taken: set[str] = set()
        self._star = next(
            (s for s in _small_statements(tree) if isinstance(s, cst.ImportFrom) and isinstance(s.names, cst.ImportStar)),
            None,
        )
        self._current = _ModuleInfo(tree, model.scopes, model.parents, self.run.path, True)
        self._own_shared: dict[str, str] | None = None
        targets: list[tuple[Handler, _Facts]] = []
        for handler in sorted(views, key=lambda h: self.line_of(h.func)):
            if self._already_cached(handler):
                continue
            # the view's own body first: what it calls in other modules (parsed with LibCST)
            # is followed only when that decides something (see _scan)
            facts = self._scan(_Facts(pending=[(self._current, handler.func, None, "")]), follow=False)
            if not facts.expensive:
                if not self._may_reach_expensive(handler):
                    continue
                facts = self._scan(facts)
                if not facts.expensive:
                    continue
            if self._suppressed(handler):
                continue  # a `# flaskfix: ignore` comment holds it back (counted by the base)
            refusal = self._static_refusal(handler)
            if refusal is None:
                refusal = self._refusal(handler, self._scan(facts))
            if refusal is not None:
                line, rule = refusal
                self.add_finding(line, f"`{self._view_label(handler)}` not cached: {rule}; a candidate because it calls {facts.expensive[0]}")
                continue
            targets.append((handler, facts))
        if not targets:
            return tree
        if self._star is not None:
            star = cst.Module([]).code_for_node(self._star)
            for h, _ in targets:
                self.add_finding(h.func, f"`{self._view_label(h)}` not cached: names: the module has a star import (`{star}`), which may rebind any name flaskfix would add")
            return tree
        plan = self._plan(tree, targets)
        if plan is None:
            return tree
        if plan.app is not None and self.flask.expression_for("flask_caching.Cache") is None:
            missing = self.missing_dependency("flask_caching", "Flask-Caching")
            if missing is not None:
                for h, _ in plan.targets:
                    self.add_finding(h.func, f"`{self._view_label(h)}` not cached: {missing}")
                return tree
        return self._apply(tree, plan)

    # -- which views ---------------------------------------------------------------------

    def _view_label(self, handler: Handler) -> str:
        if handler.view_class is not None:
            return f"{handler.view_class.name.value}.{handler.name}()"
        return f"{handler.name}()"

    def _suppressed(self, handler: Handler) -> bool:
        """Held back by `# flaskfix: ignore`: on the view's def or decorator lines, on its
        class's header (a MethodView), or on the ``add_url_rule`` call registering it."""
        if not self.run.suppressions:
            return False
        nodes: list[cst.CSTNode] = []
        cls = handler.view_class
        if cls is not None:
            nodes += [cls.name, *cls.decorators]
            nodes += self._add_url_rule_calls(lambda vf: _as_view_of(vf) == cls.name.value)
        elif handler.via_add_url_rule:
            nodes += self._add_url_rule_calls(lambda vf: isinstance(vf, cst.Name) and vf.value == handler.name)
        if nodes and self.suppressed(*nodes):
            return True
        return self.suppressed(view=handler.func)

    def _already_cached(self, handler: Handler) -> bool:
        decorators: Iterable[cst.BaseExpression] = [d.decorator for d in handler.func.decorators]
        if handler.view_class is not None:
            lst = _class_decorators(handler.view_class)
            if lst is not None and isinstance(lst[1], (cst.List, cst.Tuple)):
                decorators = [*decorators, *(e.value for e in lst[1].elements)]
        for expr in decorators:
            func = expr.func if isinstance(expr, cst.Call) else expr
            if isinstance(func, cst.Attribute) and func.attr.value in CACHE_DECORATOR_ATTRS:
                return True
        return False

    def _scan(self, facts: _Facts, follow: bool = True) -> _Facts:
        """Scan ``facts.pending`` (at first the view), breadth first, into ``facts``.
        ``follow=False``: only what is pending now; the functions it calls stay pending, to
        be scanned by a later call (the whole scan's order and ``expensive`` list are the
        same either way)."""
        todo, facts.pending = facts.pending, []
        while todo:
            info, func, anchor, via = todo.pop(0)
            if id(func) in facts.seen or len(facts.seen) > 40:
                continue
            facts.seen.add(id(func))
            info.prepare(func)
            scan = _Scanner(self, info, func, anchor, via)
            func.visit(scan)
            facts.problems.extend(scan.problems)
            facts.reads_args |= scan.reads_args
            facts.expensive.extend(scan.expensive)
            (todo if follow else facts.pending).extend(scan.helpers)
        return facts

    def _may_reach_expensive(self, handler: Handler) -> bool:
        """The project index's answer, before any other module is parsed with LibCST: may
        the view, or what it calls, call something expensive? (Yes when it cannot tell.)"""
        indexed = self.project.indexed(self.run.path)
        if indexed is None:
            return True
        index, module = indexed
        expensive = detection.expensive_test(self.config)
        if any(expensive(c.callee) for c in module.module_calls):
            return True  # decorators' arguments and class bodies are not told apart here
        line, name = self.line_of(handler.func.name), handler.func.name.value
        fn = next((f for f in module.functions.values() if f.line == line and f.name == name), None)
        return fn is None or detection.reaches_expensive(index, module, fn, expensive)

    def _static_refusal(self, handler: Handler) -> tuple[int, str] | None:
        """Why the view cannot be cached, judged from its route and signature alone."""
        func = handler.func
        line = self.line_of(func)
        methods = handler.methods
        if methods is None:
            return line, "methods: its HTTP methods cannot be read statically (only GET/HEAD routes are cached)"
        if handler.view_class is not None:
            refusal = self._method_view_refusal(handler)
            if refusal is not None:
                return refusal
        elif not methods <= {"GET", "HEAD"}:
            other = ", ".join(sorted(methods - {"GET", "HEAD"}))
            return line, f"methods: it answers {other}, which would be answered from the GET cache (only GET/HEAD routes are cached)"
        if func.asynchronous is not None:
            return line, "streaming: async views are not cached"
        if is_generator_function(func):
            return line, "streaming: the view is a generator (a streamed response)"
        return self._parameter_refusal(handler)

    def _refusal(self, handler: Handler, facts: _Facts) -> tuple[int, str] | None:
        """Why the view cannot be cached, from what it and the functions it calls do
        (``facts`` from the whole scan), once ``_static_refusal`` found nothing."""
        if facts.problems:
            first = min(facts.problems, key=lambda p: p.line)
            return first.line, first.rule
        if handler.view_class is None:
            refusal = self._used_elsewhere(handler)
            if refusal is not None:
                return refusal
        return None

    def _method_view_refusal(self, handler: Handler) -> tuple[int, str] | None:
        cls = handler.view_class
        assert cls is not None
        line = self.line_of(cls)
        names = {s.name.value for s in cls.body.body if isinstance(s, cst.FunctionDef)}
        if "dispatch_request" in names:
            return line, "MethodView: the class overrides dispatch_request"
        if handler.name != "get":
            return line, f"methods: `{handler.name}()` answers {handler.name.upper()} (only GET/HEAD views are cached)"
        other = sorted(n for n in names & {"post", "put", "patch", "delete", "options"})
        if other:
            return line, f"methods: the class also answers {', '.join(o.upper() for o in other)}, which would be answered from the GET cache"
        if any(isinstance(s, (cst.SimpleStatementLine)) and _assigns(s, "methods") for s in cls.body.body):
            return line, "methods: the class sets `methods` itself"
        own = _class_decorators(cls)
        if own is None:
            if not all(self.flask.qualified_names(b.value) & VIEW_BASES for b in cls.bases) or not cls.bases:
                return line, "MethodView: it inherits from another view class and has no `decorators` list of its own (adding one would drop the inherited decorators)"
        elif not isinstance(own[1], (cst.List, cst.Tuple)):
            return line, "MethodView: its `decorators` is not a list or tuple literal"
        return None

    def _parameter_refusal(self, handler: Handler) -> tuple[int, str] | None:
        func = handler.func
        line = self.line_of(func)
        params = func.params
        if params.star_arg not in (None, cst.MaybeSentinel.DEFAULT) or params.star_kwarg is not None:
            return line, "parameters: the view takes *args/**kwargs, which may carry values that are not in the URL"
        names = [p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)]
        if handler.view_class is not None:
            names = names[1:]
            if not names:
                return None
            rules = self._method_view_rules(handler.view_class)
        else:
            rules = self._rules(handler)
        if rules is None:
            if not names:
                return None
            return line, "parameters: its URL rule is not a string literal, so flaskfix cannot check where its parameters come from"
        for name in names:
            if not all(name in rule_vars for rule_vars in rules):
                return line, f"parameters: `{name}` is not a variable of its URL rule (a decorator may pass it, and the cache key would not include it)"
        return None

    def _rules(self, handler: Handler) -> list[set[str]] | None:
        """The variable names of each URL rule the view is registered with (None: unknown)."""
        out: list[set[str]] = []
        calls: list[cst.Call] = []
        for dec in handler.route_decorators:
            if not isinstance(dec.decorator, cst.Call):
                return None
            calls.append(dec.decorator)
        if handler.via_add_url_rule:
            calls.extend(self._add_url_rule_calls(lambda vf: isinstance(vf, cst.Name) and vf.value == handler.name))
        if not calls:
            return None
        for call in calls:
            rule = call_arg(call, "rule", 0)
            if not isinstance(rule, cst.SimpleString):
                return None
            names = set(RULE_VAR.findall(str(rule.evaluated_value)))
            defaults = call_arg(call, "defaults")
            if defaults is not None:
                if not isinstance(defaults, cst.Dict):
                    return None
                for el in defaults.elements:
                    if not (isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString)):
                        return None
                    names.add(str(el.key.evaluated_value))
            out.append(names)
        return out

    def _method_view_rules(self, cls: cst.ClassDef) -> list[set[str]] | None:
        calls = self._add_url_rule_calls(lambda vf: _as_view_of(vf) == cls.name.value)
        if not calls:
            return None
        out = []
        for call in calls:
            rule = call_arg(call, "rule", 0)
            if not isinstance(rule, cst.SimpleString):
                return None
            out.append(set(RULE_VAR.findall(str(rule.evaluated_value))))
        return out

    def _add_url_rule_calls(self, matches) -> list[cst.Call]:  # type: ignore[no-untyped-def]
        found: list[cst.Call] = []

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value == "add_url_rule":
                    vf = call_arg(node, "view_func", 2)
                    if vf is not None and matches(vf):
                        found.append(node)

        self.flask.module.visit(V())
        return found

    def _used_elsewhere(self, handler: Handler) -> tuple[int, str] | None:
        func = handler.func
        scope = self.flask.scopes.get(func)
        if scope is None:
            return None
        allowed = set(self._add_url_rule_calls(lambda vf: isinstance(vf, cst.Name) and vf.value == handler.name))
        for assignment in scope.assignments[func.name.value]:
            if assignment.node is not func:
                return self.line_of(func), f"the view function is used elsewhere: `{handler.name}` is rebound"
            for access in assignment.references:
                parent = self.flask.parent(access.node)
                call = self.flask.parent(parent) if isinstance(parent, cst.Arg) else None
                if isinstance(call, cst.Call) and call in allowed:
                    continue
                return self.line_of(access.node), f"the view function is used elsewhere: `{handler.name}` is referenced here (a direct call would be cached under another path)"
        if isinstance(scope, GlobalScope):
            external = self.project.external_uses(self.run.path, handler.name)
            if external:
                e = external[0]
                return self.line_of(func), f"the view function is used elsewhere: {e.path}:{e.line}: {e.how}"
        return None

    # -- the cache instance --------------------------------------------------------------

    def _plan(self, tree: cst.Module, targets: list[tuple[Handler, _Facts]]) -> "_Plan | None":
        model = self.flask
        plan = _Plan(targets=targets)
        existing = self._existing_caches(tree)
        first_target = min(_top_index(tree, model, h.func) for h, _ in targets)
        if len(existing) > 1:
            for h, _ in targets:
                self.add_finding(h.func, f"`{self._view_label(h)}` not cached: no cache to use: several Cache instances ({', '.join(n for n, _ in existing)}); flaskfix cannot tell which one to use")
            return None
        if existing:
            name, index = existing[0]
            problem = self._existing_problem(tree, name)
            if problem is None and index >= first_target:
                problem = f"the Cache instance `{name}` is created after the view"
            if problem is not None:
                for h, _ in targets:
                    self.add_finding(h.func, f"`{self._view_label(h)}` not cached: no cache to use: {problem}")
                return None
            plan.cache_name = name
        else:
            kept = []
            for h, facts in targets:
                app = self._app_for(h)
                if isinstance(app, str):
                    self.add_finding(h.func, f"`{self._view_label(h)}` not cached: no cache to use: {app}")
                    continue
                if plan.app is not None and app is not plan.app:
                    self.add_finding(h.func, f"`{self._view_label(h)}` not cached: no cache to use: the module has several apps")
                    continue
                if isinstance(app.scope_node, cst.Module):
                    app_index = tree.body.index(app.statement)  # type: ignore[arg-type]
                    if _top_index(tree, model, h.func) <= app_index:
                        self.add_finding(h.func, f"`{self._view_label(h)}` not cached: no cache to use: the view is defined before the app `{app.name}`")
                        continue
                plan.app = app
                kept.append((h, facts))
            if not kept:
                return None
            plan.targets = kept
            plan.cache_name = next((n for n in ("cache", "flask_cache", "view_cache") if self._free(n)), None) or model.free_name("cache", self._taken)
        return plan

    def _existing_caches(self, tree: cst.Module) -> list[tuple[str, int]]:
        model = self.flask
        scope = model.module_scope()
        out: list[tuple[str, int]] = []
        for index, stmt in enumerate(tree.body):
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if isinstance(small, (cst.Assign, cst.AnnAssign)):
                    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                    value = small.value
                    if (
                        len(targets) == 1
                        and isinstance(targets[0], cst.Name)
                        and isinstance(value, cst.Call)
                        and model.qualified_names(value.func) & CACHE_CLASSES
                    ):
                        out.append((targets[0].value, index))
                elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar) and small.module is not None:
                    module = dotted_name(small.module)
                    if module is None or module.split(".")[0] == "flask_caching":
                        continue
                    for alias in small.names:
                        local = alias.evaluated_alias or alias.evaluated_name
                        if self._project_cache(module, alias.evaluated_name):
                            out.append((local, index))
        return [(n, i) for n, i in out if len(scope.assignments[n]) == 1]

    def _project_cache(self, module: str, name: str) -> bool:
        """Does project module ``module`` bind ``name`` to ``flask_caching.Cache(...)``?"""
        info = next(iter(self._other_modules_named(module, name)), None)
        if info is None:
            return False
        for stmt in info.module.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if (
                        isinstance(small, cst.Assign)
                        and len(small.targets) == 1
                        and isinstance(small.targets[0].target, cst.Name)
                        and small.targets[0].target.value == name
                        and isinstance(small.value, cst.Call)
                        and info.qualified_names(small.value.func) & CACHE_CLASSES
                    ):
                        return True
        return False

    def _shared_state(self, path: str) -> dict[str, str]:
        """``_shared_state`` of a module of the project (this one: as it is on disk)."""
        def compute(text: str) -> dict[str, str]:
            try:
                return _shared_state(ast.parse(text))
            except (SyntaxError, ValueError):
                return {}
        if os.path.abspath(path) == os.path.abspath(self.run.path):
            if self._own_shared is None:
                self._own_shared = compute(self.flask.module.code)
            return self._own_shared
        return self.project.derived("cache-route:shared-state", path, compute) or {}  # type: ignore[return-value]

    def _defined_in(self, path: str, key: str) -> tuple[str, str] | None:
        """Where an imported ``name`` (or ``name.attr``) of module ``path`` is defined: (path, key there)."""
        indexed = self.project.indexed(path)
        if indexed is None:
            return None
        index, module = indexed
        head, _, rest = key.partition(".")
        where, name = index.resolve(module.module, head)
        if where == module.module or where not in index.modules:
            return None
        return index.modules[where].path, f"{name}.{rest}" if rest else name

    def _other_modules_named(self, module: str, word: str, defines: str | None = None) -> Iterable[_ModuleInfo]:
        """Project modules that ``import module`` may mean and that mention ``word``: the
        file next to this one first, then the one at the dotted path from the project
        root; any other file with that name only when neither exists. With ``defines``,
        only modules with a top-level ``def <defines>`` (checked on the stdlib tree, so
        that only the module that matters is parsed with LibCST)."""
        stem = module.split(".")[-1]
        here = os.path.dirname(os.path.abspath(self.run.path))
        dotted = os.path.join(os.path.abspath(self.project.root), *module.split("."))
        exact = (dotted + ".py", os.path.join(dotted, "__init__.py"))
        candidates = []
        for path in self.project.files_mentioning(word, exclude=self.run.path):
            base = os.path.basename(path)
            package = base == "__init__.py"
            folder = os.path.dirname(path)
            if (os.path.basename(folder) if package else base[:-3]) != stem:
                continue  # string operations only: this runs for every file mentioning the word
            if package:
                folder = os.path.dirname(folder)
            rank = 0 if folder == here else 1 if os.path.abspath(path) in exact else 2
            candidates.append((rank, path))
        if any(rank < 2 for rank, _ in candidates):
            candidates = [(rank, path) for rank, path in candidates if rank < 2]
        for _rank, path in sorted(candidates):
            if defines is not None:
                tree = self.project.tree(path)
                if tree is None or not any(
                    isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == defines for n in tree.body
                ):
                    continue
            info = self.project.derived("cache-route:module", path, lambda text, path=path: _LightModuleInfo.parse(text, path))
            if info is not None:
                yield info  # type: ignore[misc]

    def _existing_problem(self, tree: cst.Module, name: str) -> str | None:
        """Why the existing Cache ``name`` cannot be used, if it cannot."""
        model = self.flask
        for a in model.module_scope().assignments[name]:
            if isinstance(a, ImportAssignment):
                return None  # created and initialised by another module
        for stmt in tree.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call) and any(
                        isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets
                    ):
                        call = small.value
                        if call_arg(call, "app", 0) is not None:
                            return None
        if re.search(rf"\b{re.escape(name)}\s*\.\s*init_app\s*\(", tree.code):
            return None
        if self.project.external_uses(self.run.path, name):
            return None  # another module imports it (and presumably initialises it)
        return f"the existing Cache `{name}` is never initialised with an app"

    def _app_for(self, handler: Handler) -> FlaskObject | str:
        """The app a new Cache attaches to, or why there is none."""
        model = self.flask
        owner = handler.owner
        if handler.view_class is not None:
            owner = self._method_view_owner(handler.view_class)
            if owner is None:
                return f"flaskfix cannot find where `{handler.view_class.name.value}` is registered"
        if owner is None:
            return "flaskfix cannot tell which app serves the view"
        if owner.kind == "blueprint":
            apps = [a for a in model.apps if a.imported_from is None and a.call is not None and self._registers(a, owner)]
            if len(apps) != 1:
                return (
                    f"the blueprint `{owner.name}` is not registered on an app created in this module "
                    "(create the Cache in your extensions module and flaskfix will reuse it)"
                )
            owner = apps[0]
        if owner.imported_from is not None or owner.call is None:
            return f"the app `{owner.name}` is created in another module (create the Cache there or in an extensions module and flaskfix will reuse it)"
        if isinstance(owner.scope_node, cst.Module):
            if not isinstance(owner.statement, cst.SimpleStatementLine) or owner.statement not in model.module.body:
                return f"the app `{owner.name}` is not created by a plain module-level statement"
            return owner
        if isinstance(owner.scope_node, cst.FunctionDef) and owner.scope_node in model.module.body:
            if not isinstance(owner.statement, cst.SimpleStatementLine) or owner.statement not in _body(owner.scope_node):
                return f"the app `{owner.name}` is not created by a plain statement of `{owner.scope_node.name.value}()`"
            return owner
        return f"flaskfix cannot tell where to initialise a cache for the app `{owner.name}`"

    def _registers(self, app: FlaskObject, bp: FlaskObject) -> bool:
        found = False

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                nonlocal found
                f = node.func
                if (
                    isinstance(f, cst.Attribute)
                    and f.attr.value == "register_blueprint"
                    and isinstance(f.value, cst.Name)
                    and f.value.value == app.name
                    and node.args
                    and isinstance(node.args[0].value, cst.Name)
                    and node.args[0].value.value == bp.name
                ):
                    found = True

        (app.scope_node if isinstance(app.scope_node, cst.FunctionDef) else self.flask.module).visit(V())
        return found

    def _method_view_owner(self, cls: cst.ClassDef) -> FlaskObject | None:
        calls = self._add_url_rule_calls(lambda vf: _as_view_of(vf) == cls.name.value)
        owners = set()
        for call in calls:
            base = call.func.value if isinstance(call.func, cst.Attribute) else None
            named = [o for o in self.flask.objects if isinstance(base, cst.Name) and o.name == base.value]
            if len(named) != 1:
                return None
            owners.add(named[0])
        return owners.pop() if len(owners) == 1 else None

    # -- the rewrite ---------------------------------------------------------------------

    def _apply(self, tree: cst.Module, plan: "_Plan") -> cst.Module:
        model = self.flask
        quote = quote_style(tree)
        cache = plan.cache_name
        assert cache is not None
        make_response = model.expression_for("flask.make_response")
        helper = self._existing_helper(tree, make_response)
        new_helper: cst.FunctionDef | None = None
        if helper is None:
            if make_response is None:
                make_response = "make_response" if self._free("make_response") else model.free_name("flask_make_response", self._taken)
                self.add_import("flask", "make_response", None if make_response == "make_response" else make_response)
            helper = model.free_name(HELPER_BASE, {cache} | self._taken)
            new_helper = cst.parse_statement(HELPER_TEMPLATE.format(name=helper, make_response=make_response))  # type: ignore[assignment]
        decorated: dict[cst.FunctionDef, cst.Decorator] = {}
        class_decorators: dict[cst.ClassDef, cst.BaseExpression] = {}
        for handler, facts in plan.targets:
            args = f"timeout={self.config['timeout']}"
            if facts.reads_args:
                args += ", query_string=True"
            args += f", response_filter={helper}"
            expr = cst.parse_expression(f"{cache}.cached({args})")
            what = "query string in the key, " if facts.reads_args else ""
            self.add_change(
                handler.func,
                f"cached `{self._view_label(handler)}` with `{cache}.cached` ({what}timeout {self.config['timeout']}s, 2xx only): "
                f"it calls {facts.expensive[0]}",
            )
            if handler.view_class is not None:
                class_decorators[handler.view_class] = expr
            else:
                decorated[handler.func] = cst.Decorator(decorator=expr)
        new_cache: cst.SimpleStatementLine | None = None
        cache_import_slot: tuple[str, cst.CSTNode] | None = None
        cache_import: cst.BaseStatement | None = None
        init_after: cst.CSTNode | None = None
        init_stmt: cst.SimpleStatementLine | None = None
        cache_after: cst.CSTNode | None = None
        if plan.app is not None:
            cache_cls = model.expression_for("flask_caching.Cache")
            if cache_cls is None:
                cache_cls = "Cache" if self._free("Cache") else model.free_name("FlaskCache", self._taken)
                asname = None if cache_cls == "Cache" else cache_cls
                cache_import_slot = _flask_import_slot(tree)
                if cache_import_slot is None:
                    self.add_import("flask_caching", "Cache", asname)
                else:
                    cache_import = cst.parse_statement(f"from flask_caching import Cache{f' as {asname}' if asname else ''}\n")
            config = f"{{{quote}CACHE_TYPE{quote}: {quote}SimpleCache{quote}}}"
            app = plan.app
            if isinstance(app.scope_node, cst.Module):
                new_cache = cst.parse_statement(f"{cache} = {cache_cls}({app.name}, config={config})\n")  # type: ignore[assignment]
                cache_after = app.statement
                self.add_change(app.statement, f"created `{cache}` (Flask-Caching, SimpleCache) for the app `{app.name}`"
                                + self.install_note("flask_caching", "Flask-Caching"))  # type: ignore[arg-type]
            else:
                factory = app.scope_node
                assert isinstance(factory, cst.FunctionDef)
                new_cache = cst.parse_statement(f"{cache} = {cache_cls}(config={config})\n")  # type: ignore[assignment]
                new_cache = new_cache.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
                body = _body(factory)
                last = body[-1] if body else None
                init_stmt = cst.parse_statement(f"{cache}.init_app({app.name})\n")  # type: ignore[assignment]
                if (
                    isinstance(last, cst.SimpleStatementLine)
                    and isinstance(last.body[0], cst.Return)
                    and isinstance(last.body[0].value, cst.Name)
                    and last.body[0].value.value == app.name
                ):
                    init_after = ("before", last)  # type: ignore[assignment]
                else:
                    init_after = ("after", app.statement)  # type: ignore[assignment]
                self.add_change(app.statement, f"created `{cache}` (Flask-Caching, SimpleCache), initialised in `{factory.name.value}()`"
                                + self.install_note("flask_caching", "Flask-Caching"))  # type: ignore[arg-type]
        helper_before = None
        if new_helper is not None:
            first = min(plan.targets, key=lambda t: _top_index(tree, model, t[0].func))[0]
            helper_before = tree.body[_top_index(tree, model, first.func)]
        import_end = _import_block_end(tree) if (new_cache is not None and cache_after is None) else None
        rewriter = _Rewriter(decorated, class_decorators, init_stmt, init_after)
        original = list(tree.body)
        tree = tree.visit(rewriter)
        out: list[cst.BaseStatement] = []
        if new_cache is not None and import_end == 0:
            out.append(new_cache)
        for index, (orig, new) in enumerate(zip(original, tree.body)):
            if cache_import is not None and cache_import_slot == ("before", orig):
                out.append(cache_import.with_changes(leading_lines=new.leading_lines))
                new = new.with_changes(leading_lines=[])
            if new_helper is not None and orig is helper_before:
                out.append(new_helper.with_changes(leading_lines=[cst.EmptyLine(indent=False), cst.EmptyLine(indent=False)]) if out else new_helper)
                new = new.with_changes(leading_lines=_at_least_two_blank_lines(new.leading_lines))
            out.append(new)
            if cache_import is not None and cache_import_slot == ("after", orig):
                out.append(cache_import)
            if new_cache is not None and cache_after is not None and orig is cache_after:
                out.append(new_cache)
            if new_cache is not None and import_end and index == import_end - 1:
                out.append(new_cache)
        return tree.with_changes(body=out)

    def _free(self, name: str) -> bool:
        return name not in self.flask.bound_names() and name not in self._taken

    def _existing_helper(self, tree: cst.Module, make_response: str | None) -> str | None:
        if make_response is None:
            return None
        for stmt in tree.body:
            if isinstance(stmt, cst.FunctionDef) and not stmt.decorators:
                text = cst.Module([]).code_for_node(stmt.with_changes(leading_lines=[]))
                if text == HELPER_TEMPLATE.format(name=stmt.name.value, make_response=make_response):
                    return stmt.name.value
        return None


#: a class-based view (``class Items(MethodView)``): followed only by the LibCST path

#: calls that make an object other code changes in place
_MUTABLE_CALLS = frozenset({"list", "dict", "set", "deque", "defaultdict", "OrderedDict", "Counter", "bytearray", "WeakValueDictionary",
                            "WeakKeyDictionary", "WeakSet", "ChainMap"})
#: objects that exist to be changed by other requests or threads
_ALWAYS_SHARED = ("queue.", "threading.", "multiprocessing.", "asyncio.Queue", "itertools.count", "collections.deque")
_MUTATING_METHODS = frozenset({"append", "appendleft", "extend", "extendleft", "insert", "pop", "popleft", "popitem", "remove",
                               "clear", "update", "setdefault", "add", "discard", "sort", "reverse", "rotate", "put",
                               "put_nowait", "__setitem__", "__delitem__", "__iadd__"})


def _shared_state(tree: ast.Module) -> dict[str, str]:
    """Module-level names (and ``Class.attr``) whose value other code of the module
    changes while the app runs: a container some function mutates, a name some function
    rebinds with ``global``, a ``Class.attr`` some function sets, and queue/threading
    objects. Name -> what it is, for the finding."""
    imports: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                imports[(a.asname or a.name).split(".")[0]] = a.name.split(".")[0] if not a.asname else a.name
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            for a in stmt.names:
                imports[a.asname or a.name] = f"{stmt.module}.{a.name}"
    containers: dict[str, str] = {}
    shared: dict[str, str] = {}
    classes = {s.name for s in tree.body if isinstance(s, ast.ClassDef)}
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value else []
        value = getattr(stmt, "value", None)
        for t in targets:
            if not isinstance(t, ast.Name) or value is None:
                continue
            if isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
                containers[t.id] = f"a module-level {type(value).__name__.lower().replace('comp', '')}"
            elif isinstance(value, ast.Call):
                callee = dotted(value.func) or ""
                head, _, rest = callee.partition(".")
                full = f"{imports.get(head, head)}{'.' + rest if rest else ''}"
                if full.startswith(_ALWAYS_SHARED) or callee.rsplit(".", 1)[-1] in ("Queue", "LifoQueue", "PriorityQueue", "SimpleQueue", "Lock", "RLock", "Event"):
                    shared[t.id] = f"a module-level `{callee}()`, which exists to be changed by other requests"
                elif callee.rsplit(".", 1)[-1] in _MUTABLE_CALLS:
                    containers[t.id] = f"a module-level `{callee}()`"
    # in a classmethod, ``cls.attr`` is the class's attribute
    cls_params: dict[ast.AST, tuple[str, str]] = {}
    for cdef in tree.body:
        if isinstance(cdef, ast.ClassDef):
            for m in cdef.body:
                if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.args.args and any(
                    dotted(d) == "classmethod" for d in m.decorator_list
                ):
                    cls_params[m] = (m.args.args[0].arg, cdef.name)
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        alias = cls_params.get(func)
        rebinds = {n for g in ast.walk(func) if isinstance(g, ast.Global) for n in g.names}
        for node in ast.walk(func):
            target = None
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                for t in (node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]):
                    if isinstance(t, ast.Name) and t.id in rebinds:
                        shared.setdefault(t.id, f"a module-level name that `{func.name}()` rebinds (`global`)")
                    elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                        target = t.value.id
                    elif isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and (owner := _class_of(t.value.id, classes, alias)):
                        shared.setdefault(f"{owner}.{t.attr}", f"a class attribute that `{func.name}()` sets")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATING_METHODS:
                receiver = node.func.value
                if isinstance(receiver, ast.Name):
                    target = receiver.id
                elif isinstance(receiver, ast.Attribute) and isinstance(receiver.value, ast.Name) and (owner := _class_of(receiver.value.id, classes, alias)):
                    shared.setdefault(f"{owner}.{receiver.attr}", f"a class attribute that `{func.name}()` changes")
            if target is not None and target in containers:
                shared.setdefault(target, f"{containers[target]} that `{func.name}()` changes")
    return shared


_BUILTINS = frozenset(dir(builtins))



def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for el in target.elements for n in _target_names(el.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def _bound_names(small: cst.CSTNode) -> list[str]:
    """Names a simple statement binds."""
    if isinstance(small, cst.Assign):
        return [n for t in small.targets for n in _target_names(t.target)]
    if isinstance(small, (cst.AnnAssign, cst.AugAssign)):
        return _target_names(small.target)
    if isinstance(small, cst.Import):
        return [(a.asname.name.value if a.asname else (dotted_name(a.name) or "").split(".")[0])  # type: ignore[union-attr]
                for a in small.names]
    if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
        return [(a.asname.name.value if a.asname else (dotted_name(a.name) or "")) for a in small.names]  # type: ignore[union-attr]
    if isinstance(small, cst.Del):
        return _target_names(small.target)
    return []


def _compound_targets(stmt: cst.CSTNode) -> list[str]:
    """Names a compound statement's header binds (for/with/except targets)."""
    out: list[str] = []
    if isinstance(stmt, cst.For):
        out += _target_names(stmt.target)
    elif isinstance(stmt, cst.With):
        for item in stmt.items:
            if item.asname is not None:
                out += _target_names(item.asname.name)
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        for h in stmt.handlers:
            if h.name is not None and isinstance(h.name.name, cst.Name):
                out.append(h.name.name.value)
    return out


def _blocks(stmt: cst.BaseCompoundStatement) -> list[cst.BaseSuite]:
    """The indented blocks of a module-level compound statement (not a def or class)."""
    out: list = []
    for attr in ("body", "orelse", "finalbody"):
        part = getattr(stmt, attr, None)
        if isinstance(part, (cst.Else, cst.Finally, cst.If)):
            if isinstance(part, cst.If):
                out += _blocks(part)
                continue
            part = part.body
        if isinstance(part, cst.IndentedBlock):
            out.append(part)
    for h in getattr(stmt, "handlers", ()):
        if isinstance(h.body, cst.IndentedBlock):
            out.append(h.body)
    return out


def _imported_as(binding: cst.CSTNode | None, name: str) -> set[str]:
    """The qualified name(s) a module-level binding gives ``name`` (as LibCST names them)."""
    if isinstance(binding, cst.Import):
        out = set()
        for a in binding.names:
            full = dotted_name(a.name) or ""
            if a.asname is not None and isinstance(a.asname.name, cst.Name) and a.asname.name.value == name:
                out.add(full)
            elif a.asname is None and full.split(".")[0] == name:
                out.add(name)
        return out
    if isinstance(binding, cst.ImportFrom) and not isinstance(binding.names, cst.ImportStar):
        base = "." * len(binding.relative) + (dotted_name(binding.module) or "" if binding.module is not None else "")
        out = set()
        for a in binding.names:
            real = dotted_name(a.name) or ""
            local = a.asname.name.value if a.asname is not None and isinstance(a.asname.name, cst.Name) else real
            if local == name:
                out.add(f"{base}.{real}" if base and not base.endswith(".") else f"{base}{real}")
        return out
    return {name}


def _class_of(name: str, classes: set[str], alias: tuple[str, str] | None) -> str | None:
    if name in classes:
        return name
    return alias[1] if alias is not None and alias[0] == name else None


@dataclass
class _Plan:
    targets: list[tuple[Handler, _Facts]]
    cache_name: str | None = None
    #: the app to attach a new Cache to (None: reuse an existing Cache)
    app: FlaskObject | None = None


class _Scanner(cst.CSTVisitor):
    """Collects what one function (a view or a function it calls) does that matters."""

    def __init__(self, codemod: CacheRoute, info: _ModuleInfo, func: cst.FunctionDef, anchor: int | None, via: str) -> None:
        self.codemod = codemod
        self.info = info
        self.func = func
        self.anchor = anchor
        self.via = via
        self.problems: list[_Problem] = []
        self.reads_args = False
        self.expensive: list[str] = []
        self.helpers: list[tuple[_ModuleInfo, cst.FunctionDef, int | None, str]] = []
        cfg = codemod.config
        self.names = [str(n) for n in cfg.get("expensive", [])]
        self.heuristics = [str(h).lower() for h in cfg.get("heuristics", [])]
        self.whole_table = bool(cfg.get("whole_table_queries", True))
        self.safe_templates = {str(t) for t in cfg.get("safe_templates", [])}

    # -- helpers -------------------------------------------------------------------------

    def _line(self, node: cst.CSTNode) -> int:
        """The view's own line: its statement, or the call in it that leads to a helper."""
        if self.info.is_current and not self.via:
            return self.codemod.line_of(node)
        return self.anchor or 0

    def problem(self, node: cst.CSTNode, rule: str) -> None:
        where = ""
        if self.via:
            where = f", in `{self.via}()`"
            if not self.info.is_current:
                where += f" ({self.codemod.project.relpath(self.info.path)})"
        self.problems.append(_Problem(self._line(node), rule + where))

    def _is_local(self, name: cst.Name) -> bool:
        found = self.info.bindings(name)
        return bool(found) and all(kind == "function" for _node, kind in found)  # type: ignore[union-attr]

    # -- visits --------------------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if node is not self.func and (node.asynchronous is not None):
            self.problem(node, "streaming: it defines an async function")
        return True

    def visit_Global(self, node: cst.Global) -> None:
        self.problem(node, "writes: it rebinds a module-level name (`global`)")

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.problem(node, "writes: it rebinds an outer name (`nonlocal`)")

    def visit_Yield(self, node: cst.Yield) -> None:
        if self.via:
            return  # a helper generator is consumed inside the view
        self.problem(node, "streaming: the view is a generator (a streamed response)")

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._check_store(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._check_store(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._check_store(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._check_store(node.target)

    def _check_store(self, target: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._check_store(el.value)
            return
        if isinstance(target, (cst.Subscript, cst.Attribute)):
            root = _root(target)
            if root is None or not self._is_local(root):
                self.problem(target, "writes: it changes state that outlives the request (a module-level object)")

    def visit_Name(self, node: cst.Name) -> None:
        parent = self.info.parents.get(node)
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            return
        if isinstance(parent, (cst.Param, cst.FunctionDef, cst.ClassDef, cst.ImportAlias, cst.AsName)):
            return
        if isinstance(parent, cst.Arg) and parent.value is not node:
            return  # the keyword of a keyword argument
        self._check_reference(node, node.value)
        self._check_shared(node, node.value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._check_reference(node, node.attr.value)
        if isinstance(node.value, cst.Name):
            self._check_shared(node.value, f"{node.value.value}.{node.attr.value}")

    def _check_shared(self, name: cst.Name, key: str) -> None:
        """A module-level object that other code changes while the app runs: a cached
        answer would keep what it held when it was cached."""
        if self._is_local(name):
            return
        bindings = [(node, kind) for node, kind in (self.info.bindings(name) or []) if node is not None]
        if not bindings or not all(kind == "global" for _node, kind in bindings):
            return
        path, key_there = self.info.path, key
        if all(isinstance(node, cst.ImportFrom) for node, _kind in bindings):
            resolved = self.codemod._defined_in(self.info.path, key)
            if resolved is None:
                return
            path, key_there = resolved
        what = self.codemod._shared_state(path).get(key_there)
        if what is not None:
            where = "" if path == self.info.path else f" ({self.codemod.project.relpath(path)})"
            self.problem(name, f"shared state: it reads `{key}` ({what}{where}), which a cached answer would freeze")

    def _check_reference(self, node: cst.BaseExpression, name: str) -> None:
        """Flag what a name or dotted name refers to: ``session``, ``flask.request``..."""
        parent = self.info.parents.get(node)
        qn = self.info.qualified_names(node)
        if qn & SESSION:
            self.problem(node, "per-user state: it reads `session`")
        elif qn & G:
            self.problem(node, "per-user state: it reads `g` (auth hooks keep the user there)")
        elif qn & IDENTITY or any(q.startswith(IDENTITY_PACKAGES) for q in qn):
            self.problem(node, f"per-user state: it uses `{name}` (the logged-in user)")
        elif isinstance(node, cst.Name) and name in IDENTITY_NAMES and not self._is_local(node):
            self.problem(node, f"per-user state: it uses `{name}` (the logged-in user)")
        elif isinstance(node, cst.Attribute) and name in IDENTITY_ATTRS:
            self.problem(node, f"per-user state: it uses `.{name}` (the logged-in user)")
        elif qn & REQUEST:
            if isinstance(parent, cst.Attribute) and parent.value is node:
                attr = parent.attr.value
                if attr == "args":
                    self.reads_args = True
                elif attr not in REQUEST_SAFE_ATTRS:
                    self.problem(node, f"request data: it reads `request.{attr}`, which the cache key does not include")
            else:
                self.problem(node, "request data: it uses `request` as a whole, which the cache key does not include")
        elif qn & FLASH:
            self.problem(node, f"flash: it uses `{name}`")

    def visit_Call(self, node: cst.Call) -> None:
        qn = self.info.qualified_names(node.func)
        func = node.func
        attr = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None
        if qn & TEMPLATES:
            first = node.args[0].value if node.args else None
            if not (isinstance(first, cst.SimpleString) and first.evaluated_value in self.safe_templates):
                self.problem(node, "templates: it renders a template that is not listed in `safe_templates` (templates can read session, g and current_user)")
        elif qn & TEMPLATE_ALWAYS:
            self.problem(node, "templates: it renders or streams a template string")
        elif qn & STREAMS:
            self.problem(node, f"streaming: it calls `{attr}()` (a file or stream cannot be stored)")
        elif qn & CLOCK_OR_RANDOM or any(q.startswith(CLOCK_OR_RANDOM_PACKAGES) for q in qn):
            self.problem(node, f"clock or randomness: it calls `{dotted_name(func) or attr}()`")
        elif "builtins.open" in qn or (isinstance(func, cst.Name) and func.value == "open" and not qn):
            mode = call_arg(node, "mode", 1)
            if mode is not None and not (isinstance(mode, cst.SimpleString) and not set(str(mode.evaluated_value)) & set("wax+")):
                self.problem(node, "writes: it opens a file for writing")
            else:
                self.problem(node, "file state: it reads a file with `open()`, which other code or processes may change; a cached answer would keep the old content")
        elif qn & PROCESS_STATE or any(q.startswith(PROCESS_STATE_PACKAGES) for q in qn):
            self.problem(node, f"process or file state: it calls `{dotted_name(func) or attr}()`, whose answer changes while the app runs")
        elif any(q in ("flask.url_for", "flask.helpers.url_for") for q in qn) and call_arg(node, "_external") is not None:
            self.problem(node, "request data: it builds an external URL, which depends on the request's host")
        elif isinstance(func, cst.Attribute):
            name = func.attr.value
            if name in COOKIE_METHODS:
                self.problem(node, f"cookies: it calls `{name}()`")
            elif name in ALWAYS_WRITES:
                self.problem(node, f"writes: it calls `{dotted_name(func) or name}()`")
            elif name in NONLOCAL_WRITES:
                root = _root(func.value)
                if (root is None or not self._is_local(root)) and not self._read_only_receiver(func.value):
                    if root is not None and root is func.value and self._is_module(root):
                        self.problem(node, f"writes: it calls `{dotted_name(func) or name}()`, a side effect that a cached answer would skip")
                    else:
                        self.problem(node, f"writes: it calls `{dotted_name(func) or name}()` on an object that outlives the request")
        self._expensive(node, qn)
        if isinstance(func, cst.Name):
            self._follow(node, func)

    def _is_module(self, name: cst.Name) -> bool:
        """``requests`` in ``requests.post()``: a name bound by ``import requests``."""
        found = self.info.bindings(name)
        return bool(found) and all(isinstance(node, cst.Import) for node, _kind in found)  # type: ignore[union-attr]

    def _read_only_receiver(self, value: cst.BaseExpression) -> bool:
        """``request.args.get``-like receivers that cannot be written through."""
        qn = self.info.qualified_names(value)
        return any(q.startswith(("flask.request.args", "flask.globals.request.args")) for q in qn)

    def _expensive(self, node: cst.Call, qn: set[str]) -> None:
        func = node.func
        dotted = dotted_name(func)
        last = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None
        if last is None:
            return
        for name in self.names:
            if name == last or name == dotted or name in qn or any(q.endswith("." + name) for q in qn):
                self.expensive.append(f"`{dotted or last}()` (configured as expensive)")
                return
        low = last.lower()
        for h in self.heuristics:
            if h and h in low:
                self.expensive.append(f"`{dotted or last}()` (name contains {h!r})")
                return
        if self.whole_table and isinstance(func, cst.Attribute) and last in ("all", "count") and not node.args:
            inner = func.value
            if isinstance(inner, cst.Attribute) and inner.attr.value == "query":
                self.expensive.append(f"`{cst.Module([]).code_for_node(node)}` (a whole-table query)")
            elif isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value == "query":
                self.expensive.append(f"`{cst.Module([]).code_for_node(node)}` (a whole-table query)")

    def _follow(self, node: cst.Call, func: cst.Name) -> None:
        assignments = [(n, kind) for n, kind in (self.info.bindings(func) or []) if n is not None]
        if len(assignments) != 1:
            return
        target, kind = assignments[0]
        anchor = self.anchor if not self.info.is_current else self.codemod.line_of(node)
        if isinstance(target, cst.FunctionDef) and kind == "global":
            self.helpers.append((self.info, target, anchor, target.name.value))
        elif isinstance(target, cst.ImportFrom) and not isinstance(target.names, cst.ImportStar) and target.module is not None:
            module = dotted_name(target.module)
            if module is None:
                return
            for alias in target.names:
                if (alias.evaluated_alias or alias.evaluated_name) == func.value:
                    for other in self.codemod._other_modules_named(module, alias.evaluated_name, defines=alias.evaluated_name):
                        fdef = other.top_function(alias.evaluated_name)
                        if fdef is not None:
                            self.helpers.append((other, fdef, anchor, alias.evaluated_name))
                            break


class _Rewriter(cst.CSTTransformer):
    def __init__(self, decorated, class_decorators, init_stmt, init_where) -> None:  # type: ignore[no-untyped-def]
        self.decorated = decorated
        self.class_decorators = class_decorators
        self.init_stmt = init_stmt
        self.init_where = init_where

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        if original_node in self.decorated:
            updated_node = updated_node.with_changes(decorators=[*updated_node.decorators, self.decorated[original_node]])
        return updated_node

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        if self.init_stmt is None or self.init_where is None:
            return updated_node
        where, anchor = self.init_where
        if anchor not in original_node.body:
            return updated_node
        body = list(updated_node.body)
        i = list(original_node.body).index(anchor)
        if where == "before":
            body[i] = body[i].with_changes(leading_lines=[])
            body.insert(i, self.init_stmt.with_changes(leading_lines=anchor.leading_lines))
        else:
            body.insert(i + 1, self.init_stmt)
        return updated_node.with_changes(body=body)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        expr = self.class_decorators.get(original_node)
        if expr is None:
            return updated_node
        body = list(updated_node.body.body)
        found = _class_decorators(updated_node)
        if found is not None:
            stmt, value = found
            assert isinstance(value, (cst.List, cst.Tuple))
            elements = list(value.elements)
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            if elements and isinstance(elements[0].comma, cst.Comma):
                comma = elements[0].comma
            new_value = value.with_changes(elements=[cst.Element(expr, comma=comma), *elements] if elements else [cst.Element(expr)])
            if isinstance(value, cst.Tuple) and not elements:
                new_value = value.with_changes(elements=[cst.Element(expr, comma=cst.Comma())])
            new_stmt = stmt.with_changes(body=[_replace_value(s, value, new_value) for s in stmt.body])
            body = [new_stmt if s is stmt else s for s in body]
        else:
            new_stmt = cst.parse_statement(f"decorators = [{cst.Module([]).code_for_node(expr)}]\n")
            at = 1 if body and is_docstring(body[0]) else 0
            if at:
                new_stmt = new_stmt.with_changes(leading_lines=[cst.EmptyLine(indent=False)])  # type: ignore[union-attr]
            if len(body) > at and not any(_blank(ln) for ln in body[at].leading_lines):
                body[at] = body[at].with_changes(leading_lines=[cst.EmptyLine(indent=False), *body[at].leading_lines])
            body.insert(at, new_stmt)
        return updated_node.with_changes(body=updated_node.body.with_changes(body=body))


def _at_least_two_blank_lines(lines: Iterable[cst.EmptyLine]) -> list[cst.EmptyLine]:
    lines = list(lines)
    blank = 0
    while blank < len(lines) and _blank(lines[blank]):
        blank += 1
    return [cst.EmptyLine(indent=False)] * max(0, 2 - blank) + lines


def _replace_value(small: cst.BaseSmallStatement, old: cst.BaseExpression, new: cst.BaseExpression) -> cst.BaseSmallStatement:
    if isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is old:
        return small.with_changes(value=new)
    return small


def _class_decorators(cls: cst.ClassDef) -> tuple[cst.SimpleStatementLine, cst.BaseExpression] | None:
    for stmt in cls.body.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and any(isinstance(t.target, cst.Name) and t.target.value == "decorators" for t in small.targets):
                    return stmt, small.value
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and small.target.value == "decorators" and small.value is not None:
                    return stmt, small.value
    return None


def _assigns(stmt: cst.SimpleStatementLine, name: str) -> bool:
    for small in stmt.body:
        if isinstance(small, cst.Assign) and any(isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets):
            return True
        if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and small.target.value == name:
            return True
    return False


def _as_view_of(vf: cst.BaseExpression) -> str | None:
    if isinstance(vf, cst.Call) and isinstance(vf.func, cst.Attribute) and vf.func.attr.value == "as_view":
        return dotted_name(vf.func.value)
    return None


def _root(node: cst.BaseExpression) -> cst.Name | None:
    while True:
        if isinstance(node, cst.Name):
            return node
        if isinstance(node, cst.Attribute):
            node = node.value
        elif isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Call):
            node = node.func
        else:
            return None


def _body(func: cst.FunctionDef) -> list[cst.BaseStatement]:
    return list(func.body.body) if isinstance(func.body, cst.IndentedBlock) else []


def _top_index(tree: cst.Module, model, node: cst.CSTNode) -> int:  # type: ignore[no-untyped-def]
    cur = node
    while cur is not None and cur not in tree.body:
        cur = model.parent(cur)
    return list(tree.body).index(cur) if cur is not None else len(tree.body)


def _import_block_end(tree: cst.Module) -> int:
    """Index just past the leading block of imports (after a docstring), like LibCST's
    ``AddImportsVisitor`` uses."""
    body = list(tree.body)
    i = 1 if body and is_docstring(body[0]) else 0
    end = i
    for j in range(i, len(body)):
        stmt = body[j]
        if isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
            end = j + 1
        else:
            break
    return end


def _blank(line: cst.EmptyLine) -> bool:
    return line.comment is None


def _flask_import_slot(tree: cst.Module) -> tuple[str, cst.CSTNode] | None:
    """Where ``from flask_caching import Cache`` goes among the leading ``flask*`` imports,
    in alphabetical order as isort would put it; None when there is no such import (or a
    ``flask_caching`` import exists, which ``add_import`` extends)."""
    body = list(tree.body)
    family: list[tuple[str, cst.CSTNode]] = []
    for stmt in body[: _import_block_end(tree)]:
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            continue
        small = stmt.body[0]
        if isinstance(small, cst.ImportFrom) and small.module is not None and not small.relative:
            module = dotted_name(small.module) or ""
        elif isinstance(small, cst.Import) and len(small.names) == 1:
            module = dotted_name(small.names[0].name) or ""
        else:
            continue
        if module.split(".")[0] == "flask_caching":
            return None
        if module.split(".")[0].startswith("flask"):
            family.append((module, stmt))
    if not family:
        return None
    before = [stmt for module, stmt in family if module < "flask_caching"]
    if before:
        return "after", before[-1]
    return "before", family[0][1]


def _small_statements(tree: cst.Module) -> Iterable[cst.BaseSmallStatement]:
    for stmt in tree.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            yield from stmt.body


