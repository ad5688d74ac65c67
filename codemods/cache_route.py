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
outside the path and query string, no writes, no cookies, no flashes, no per-user
templates, no randomness or clock). Functions the view calls are followed when they
are defined in this module or another module of the project, and checked by the same
rules. Every refused candidate gets a finding naming the rule that refused it.

Templates are read with Jinja2's own parser (``codemods/templates.py``), found as Flask's
loader finds them (the app's template folder, then each blueprint's), following
``extends``, ``include``, ``import`` and ``from ... import``. A template is per-user when
it, or one it reaches, reads ``session``, ``g``, ``current_user``, ``request``, flashed
messages, ``csrf_token()``, translations (``_``/``gettext``: the locale may follow the
request), ``lipsum()`` or an external ``url_for``; when it includes a template chosen at
run time; or when flaskfix cannot find or parse it. A name the view does not pass is
looked up among the project's context processors and Jinja globals, and a filter or test
that is not Jinja's own among the project's ``template_filter``s: the function that
provides it is checked like a function the view calls (a context processor returning
``current_user`` makes every template that reads its name per-user). A name or filter
nobody in the project provides (an extension's, such as Flask-Moment's ``moment``) is
refused: flaskfix cannot tell what it reads. A name read only inside macros imported
without context is still counted (conservative). ``safe_templates`` lists templates to
take as safe without reading them.

The rewrite puts ``@<cache>.cached(...)`` innermost (directly above ``def``, beneath the
route and auth decorators, which keep running on every request), adds
``query_string=True`` when the view reads ``request.args`` and a ``response_filter`` that
stores 2xx responses only. It reuses an existing ``flask_caching.Cache`` (also one
imported from another project module), imports the project's one Cache into a blueprint
module whose blueprint is registered elsewhere (``plan/cache_route.reusable_cache``), or
creates one next to the app.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import libcst as cst
from libcst.metadata import PositionProvider, ScopeProvider
from libcst.metadata.scope_provider import ImportAssignment

from flaskfix.codemods.ast_facts import HANDLER_TEXT, AstFacts
from flaskfix.codemods import detection
from flaskfix.codemods.base import FlaskfixCodemod, quote_style
from flaskfix.codemods.changes import CodeSupport
from flaskfix.codemods.edits import EditError
from flaskfix.codemods.flask_model import FlaskObject, Handler, call_arg, dotted_name, is_docstring
from flaskfix.codemods.plan.cache_route import CACHE_CLASSES, Create, Reuse, creatable_cache, project_cache, reusable_cache

HELPER_BASE = "is_successful"

HELPER_TEMPLATE = '''\
def {name}(response):
    """Store only successful (2xx) responses in the cache."""
    return 200 <= {make_response}(response).status_code < 300
'''




@dataclass
class _Facts:
    """What the plan found about a view it accepted: does it read the query string, and
    the expensive calls that made it a candidate."""

    reads_args: bool = False
    expensive: list[str] = field(default_factory=list)
    #: other views that may change what it shows (plan/cache_route.writers)
    writers: tuple[str, ...] = ()


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
        that old. The change names the project's views that may make it stale: routed
        functions that (themselves or through project functions they call) use a model the
        cached view uses and commit; writes through raw SQL, other processes or code
        outside the project are not seen, so a change naming none still serves data up to
        `timeout` seconds old. Side effects of the view (logging, metrics) happen once per expiry
        instead of once per request. Decorators above the cache decorator (route, auth)
        still run on every request. The cache key is the request path, plus the sorted
        query string when the view reads request.args; GET and HEAD share an entry. Only
        2xx responses are stored (a response_filter helper is added once per module);
        errors, redirects and aborts are recomputed every time. When flaskfix creates the
        cache it sets a default, `app.config.setdefault("CACHE_TYPE", "SimpleCache")`, never
        a constructor `config` (Flask-Caching lays that over app.config, so it would replace
        the project's own CACHE_TYPE). SimpleCache is a per-process, in-memory cache: each
        worker process has its own copy and entries are lost on restart; set CACHE_TYPE in
        the app's config (e.g. RedisCache) for multi-process deployments. An existing
        flask_caching.Cache is reused with its own backend.
        Functions the view calls from third-party packages, and methods called on
        objects, cannot be followed: flaskfix assumes they do not read per-user request
        state.
    """
    REFUSES = (
        "a new Cache would be needed, the project does not depend on Flask-Caching (its runtime manifests do not declare it and no runtime module imports flask_caching), and flaskfix cannot add `Flask-Caching>=2.0` to the manifest that declares Flask: a lock or hash file would go stale (the finding names the command: poetry add, pdm add, uv add, pipenv install, pip-compile --generate-hashes), the manifest is setup.py, or [tool.flaskfix] edit-manifests = false. Otherwise the change adds the requirement itself; a project with no manifest at all gets the change, which says what to install",
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
        "templates: a template it renders (or one that template extends, includes or imports) reads per-user "
        "or request state (session, g, current_user, request, flashed messages, csrf_token, translations, "
        "lipsum, an external url_for), or a name or filter that a project context processor, Jinja global or "
        "template filter provides and that reads such state, or one nobody in the project provides; or "
        "flaskfix cannot find, parse or name it (a computed template name, a dynamic include); or it "
        "renders/streams a template string. `safe_templates` lists templates taken as safe unread",
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
        "(templates are judged with Jinja's parser instead: see `templates`)",
        "parameters: the view takes parameters that are not variables of its URL rule (or *args/**kwargs), "
        "or its URL rule is not a literal",
        "the view function is used elsewhere (called directly, or imported by another module)",
        "no cache to use: several Cache instances exist, an existing Cache is never initialised, or there is "
        "no app in this module to attach a new one to; for a blueprint registered in another module, the "
        "project's Cache is reused only when it is the only one, is initialised on the app the blueprint is "
        "registered on (followed through helpers such as register_extensions(app)), has a CACHE_TYPE set in "
        "the project's code that caches (the default, NullCache, caches nothing), and can be imported "
        "without a cycle; with no Cache in the project, one is created in the module holding the other "
        "extensions (else the factory's) and initialised before the factory's `return app`, unless the "
        "blueprint's app is not one factory flaskfix can follow, the factory does not end with "
        "`return app`, the name `cache` is taken there, an import would be a cycle, or this run also "
        "rewrites that module",
        "unknown code: the view calls a function imported from a project module where flaskfix cannot find its "
        "definition (a re-export is followed to its definition)",
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
app.config.setdefault("CACHE_TYPE", "SimpleCache")
flask_cache = Cache(app)
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
        """Cache the views the plan accepted (``codemods/plan/cache_route.py`` decided on
        stdlib ``ast``, and reported every refusal): pick the Cache to use or create one,
        and edit the module."""
        plan = self.decided(tree)
        if not plan.edits:
            return tree
        model = self.flask
        views = {(self.line_of(h.func), h.func.name.value): h for h in model.handlers.values() if h.kind == "view"}
        targets: list[tuple[Handler, _Facts]] = []
        for t in plan.edits[0].data:
            handler = views.get((t.line, t.name))
            if handler is None:
                raise EditError(f"planned view {t.name}() at line {t.line} not found")
            targets.append((handler, _Facts(t.reads_args, list(t.expensive), t.writers)))
        self._taken: set[str] = set()
        cache_plan = self._plan(tree, targets)
        if cache_plan is None:
            return tree
        creates = cache_plan.app is not None or isinstance(cache_plan.reuse, Create)
        if creates and self.flask.expression_for("flask_caching.Cache") is None:
            missing = self.missing_dependency("flask_caching", "Flask-Caching")
            if missing is not None:
                for h, _ in cache_plan.targets:
                    self.add_finding(h.func, f"`{self._view_label(h)}` not cached: {missing}")
                return tree
        return self._apply(tree, cache_plan)


    # -- which views ---------------------------------------------------------------------

    def _view_label(self, handler: Handler) -> str:
        if handler.view_class is not None:
            return f"{handler.view_class.name.value}.{handler.name}()"
        return f"{handler.name}()"

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
                if isinstance(app, (Reuse, Create)):
                    if plan.app is not None or (plan.reuse is not None and plan.reuse != app):
                        self.add_finding(h.func, f"`{self._view_label(h)}` not cached: no cache to use: the module's views are served by different apps")
                        continue
                    plan.reuse = app
                    kept.append((h, facts))
                    continue
                if isinstance(app, str):
                    self.add_finding(h.func, f"`{self._view_label(h)}` not cached: no cache to use: {app}")
                    continue
                if plan.reuse is not None:
                    self.add_finding(h.func, f"`{self._view_label(h)}` not cached: no cache to use: the module's views are served by different apps")
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
            if plan.reuse is not None and self._free(plan.reuse.name):
                plan.cache_name = plan.reuse.name
            else:
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
        return project_cache(self.project, self.run.path, module, name)


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
                # registered elsewhere (a factory in another module): the project's own Cache,
                # or a new one in its extensions module, initialised in the factory
                reuse = reusable_cache(self.project, self.run.path, owner.name)
                if isinstance(reuse, str):
                    return creatable_cache(self.project, self.run.path, owner.name, reuse)  # type: ignore[return-value]
                return reuse  # type: ignore[return-value]
            owner = apps[0]
        if owner.imported_from is not None or owner.call is None:
            return (f"the app `{owner.name}` is created in another module: flaskfix creates a Cache only in the module "
                    "that creates the app, and reuses the project's Cache only for blueprint views")
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
        reused = ""
        if isinstance(plan.reuse, Reuse):
            r = plan.reuse
            self.add_import(r.module, r.name, None if cache == r.name else cache)
            reused = f"the project's Cache `{r.name}` from {r.path}, CACHE_TYPE {r.backend}; "
        elif isinstance(plan.reuse, Create):
            c = plan.reuse
            self.add_import(c.module, c.name, None if cache == c.name else cache)
            self.code_supports.append(CodeSupport(c.define, "cache-define", (c.name,), self.ID))
            self.code_supports.append(CodeSupport(c.factory_path, "cache-init", (c.factory, c.app, c.name, c.factory_import), self.ID))
            first = min(plan.targets, key=lambda t: self.line_of(t[0].func))[0]
            self.add_change(first.func, f"created `{c.name}` (Flask-Caching, SimpleCache unless the app's config sets CACHE_TYPE) "
                            f"in {c.define}, initialised in `{c.factory}()` ({c.factory_path}), for the views of this module"
                            + self.dependency_note("flask_caching", "Flask-Caching"), role="support")
            reused = f"the new Cache `{c.name}` from {c.define}; "
        for handler, facts in plan.targets:
            args = f"timeout={self.config['timeout']}"
            if facts.reads_args:
                args += ", query_string=True"
            args += f", response_filter={helper}"
            expr = cst.parse_expression(f"{cache}.cached({args})")
            what = "query string in the key, " if facts.reads_args else ""
            self.add_change(
                handler.func,
                f"cached `{self._view_label(handler)}` with `{cache}.cached` ({reused}{what}timeout {self.config['timeout']}s, 2xx only): "
                f"it calls {facts.expensive[0]}"
                + (f"; it may answer with data up to {self.config['timeout']}s old after a request to "
                   + ", ".join(facts.writers) if facts.writers else ""),
            )
            if handler.view_class is not None:
                class_decorators[handler.view_class] = expr
            else:
                decorated[handler.func] = cst.Decorator(decorator=expr)
        new_cache: list[cst.SimpleStatementLine] | None = None
        cache_import_slot: tuple[str, cst.CSTNode] | None = None
        cache_import: cst.BaseStatement | None = None
        init_after: cst.CSTNode | None = None
        init_stmt: list[cst.SimpleStatementLine] | None = None
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
            # a default, never Cache(config=...): Flask-Caching lays a constructor's config over
            # app.config, which would replace a CACHE_TYPE the project sets (NullCache in tests,
            # Redis in production); setdefault keeps it
            app = plan.app
            default = (f"{app.name}.config.setdefault({quote}CACHE_TYPE{quote}, {quote}SimpleCache{quote})\n")
            backend = "SimpleCache unless the app's config sets CACHE_TYPE"
            if isinstance(app.scope_node, cst.Module):
                new_cache = [cst.parse_statement(default), cst.parse_statement(f"{cache} = {cache_cls}({app.name})\n")]  # type: ignore[assignment]
                cache_after = _after_config(tree, model, app, [t[0].func for t in plan.targets])
                self.add_change(app.statement, f"created `{cache}` (Flask-Caching, {backend}) for the app `{app.name}`"
                                + self.dependency_note("flask_caching", "Flask-Caching"), role="support")  # type: ignore[arg-type]
            else:
                factory = app.scope_node
                assert isinstance(factory, cst.FunctionDef)
                new_cache = [cst.parse_statement(f"{cache} = {cache_cls}()\n").with_changes(  # type: ignore[assignment]
                    leading_lines=[cst.EmptyLine(indent=False)])]
                body = _body(factory)
                last = body[-1] if body else None
                init_stmt = [cst.parse_statement(default), cst.parse_statement(f"{cache}.init_app({app.name})\n")]  # type: ignore[assignment]
                if (
                    isinstance(last, cst.SimpleStatementLine)
                    and isinstance(last.body[0], cst.Return)
                    and isinstance(last.body[0].value, cst.Name)
                    and last.body[0].value.value == app.name
                ):
                    init_after = ("before", last)  # type: ignore[assignment]
                else:
                    init_after = ("after", app.statement)  # type: ignore[assignment]
                self.add_change(app.statement, f"created `{cache}` (Flask-Caching, {backend}), initialised in `{factory.name.value}()`"
                                + self.dependency_note("flask_caching", "Flask-Caching"), role="support")  # type: ignore[arg-type]
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
            out.extend(new_cache)
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
                out.extend(new_cache)
            if new_cache is not None and import_end and index == import_end - 1:
                out.extend(new_cache)
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

@dataclass
class _Plan:
    targets: list[tuple[Handler, _Facts]]
    cache_name: str | None = None
    #: the app to attach a new Cache to (None: reuse an existing Cache)
    app: FlaskObject | None = None
    #: the project's Cache, imported from another module (a blueprint registered elsewhere),
    #: or a Cache to create in another module (``Create``: supporting edits of two modules)
    reuse: "Reuse | Create | None" = None


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
        stmts = list(self.init_stmt)
        if where == "before":
            body[i] = body[i].with_changes(leading_lines=[])
            stmts[0] = stmts[0].with_changes(leading_lines=anchor.leading_lines)
            body[i:i] = stmts
        else:
            body[i + 1:i + 1] = stmts
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


def _after_config(tree: cst.Module, model, app: FlaskObject, views: list[cst.CSTNode]) -> cst.CSTNode:  # type: ignore[no-untyped-def]
    """Where a module-level ``Cache(app)`` goes: after the last module statement that sets
    ``app.config`` before the first cached view (``Cache(app)`` reads the config when it
    runs, so CACHE_TYPE set below it would be ignored), else after the app's creation."""
    body = list(tree.body)
    start = body.index(app.statement) if app.statement in body else None
    if start is None:
        return app.statement
    end = min(_top_index(tree, model, v) for v in views)
    anchor = app.statement
    needle = f"{app.name}.config"
    for stmt in body[start + 1:end]:
        if needle in tree.code_for_node(stmt):
            anchor = stmt
    return anchor


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
