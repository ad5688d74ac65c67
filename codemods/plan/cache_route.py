"""cache-route's decisions, on stdlib ``ast``: which GET views are expensive and provably
cacheable, and why each other candidate is refused.

What the codemod does and why each rule holds is in ``codemods/cache_route.py``'s
docstring (``flaskfix explain cache-route``). This module scans each view and the
functions it calls (here or in other project modules, each read with ``ast`` and
``Scopes``) and reports every refusal. The views it accepts go to the codemod's LibCST
transform, which picks the cache to use (or creates one) and edits the file.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from flaskfix.codemods import detection
from flaskfix.codemods.ast_facts import dotted
from flaskfix.codemods.index import absolute_module
from flaskfix.codemods.plan import CodemodEdit, FilePlan, Lines, PlanInput
from flaskfix.codemods.plan.flask import VIEW_BASES, Handler, call_arg
from flaskfix.codemods.plan.base import Planner, def_lines, node_lines
from flaskfix.codemods.project import is_test_module
from flaskfix.codemods.templates import Templates
from flaskfix.codemods.plan.scopes import FUNCTIONS, Scopes, is_generator_function, source_children

ID = "cache-route"

CACHE_CLASSES = frozenset({"flask_caching.Cache"})
SESSION = frozenset({"flask.session", "flask.globals.session"})
G = frozenset({"flask.g", "flask.globals.g"})
REQUEST = frozenset({"flask.request", "flask.globals.request"})
#: request attributes that cannot make two requests with the same path and query string differ
REQUEST_SAFE_ATTRS = frozenset({"args", "path", "view_args", "endpoint", "url_rule", "blueprint", "blueprints"})
IDENTITY = frozenset({"flask_login.current_user", "flask_login.utils.current_user", "flask_security.current_user",
                      "flask_security.core.current_user"})
IDENTITY_PACKAGES = ("flask_jwt_extended.", "flask_principal.", "flask_httpauth.", "flask_security.")
FLASH = frozenset({"flask.flash", "flask.get_flashed_messages", "flask.helpers.flash", "flask.helpers.get_flashed_messages"})
TEMPLATES = frozenset({"flask.render_template", "flask.templating.render_template"})
TEMPLATE_ALWAYS = frozenset({"flask.render_template_string", "flask.stream_template", "flask.stream_template_string",
                             "flask.templating.render_template_string"})
STREAMS = frozenset({"flask.send_file", "flask.send_from_directory", "flask.stream_with_context", "flask.helpers.send_file",
                     "flask.helpers.send_from_directory", "flask.helpers.stream_with_context"})
CLOCK_OR_RANDOM = frozenset({
    "time.time", "time.time_ns", "time.localtime", "time.gmtime", "time.ctime", "time.asctime", "time.strftime",
    "time.monotonic", "time.perf_counter", "datetime.datetime.now", "datetime.datetime.utcnow",
    "datetime.datetime.today", "datetime.date.today", "uuid.uuid1", "uuid.uuid4", "os.urandom",
})
#: calls that read the state of the process, the machine or the file system
PROCESS_STATE = frozenset({"os.listdir", "os.scandir", "os.walk", "os.stat", "os.lstat", "os.getloadavg", "os.getpid",
                           "os.cpu_count", "shutil.disk_usage", "glob.glob", "glob.iglob", "resource.getrusage",
                           "threading.active_count", "threading.enumerate", "gc.get_count", "tracemalloc.get_traced_memory"})
PROCESS_STATE_PACKAGES = ("os.path.", "psutil.")
CLOCK_OR_RANDOM_PACKAGES = ("random.", "secrets.", "numpy.random.")
#: method calls that write wherever their receiver lives (databases, files, sockets)
ALWAYS_WRITES = frozenset({"commit", "flush", "add_all", "bulk_save_objects", "bulk_insert_mappings",
                           "bulk_update_mappings", "executemany", "write", "writelines", "write_text", "write_bytes",
                           "unlink", "rmdir", "mkdir", "rename", "touch", "send", "sendall", "publish", "incr", "decr"})
#: method calls that write when their receiver is not a local variable of the function
NONLOCAL_WRITES = frozenset({"add", "delete", "merge", "insert", "update", "upsert", "save", "create", "set", "put",
                             "post", "patch", "append", "extend", "remove", "pop", "clear", "setdefault", "discard",
                             "execute"})
COOKIE_METHODS = frozenset({"set_cookie", "delete_cookie"})
IDENTITY_NAMES = frozenset({"current_user", "current_identity"})
#: attributes such as Flask-HTTPAuth's ``auth.current_user()``
IDENTITY_ATTRS = frozenset({"current_user", "current_identity", "get_current_user"})
CACHE_DECORATOR_ATTRS = frozenset({"cached", "memoize"})
RULE_VAR = re.compile(r"<(?:[A-Za-z_]\w*(?:\([^)]*\))?:)?([A-Za-z_]\w*)>")
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class Target:
    """A view the plan accepts: the LibCST transform finds it by its ``def`` line and name."""

    line: int
    name: str
    reads_args: bool
    expensive: tuple[str, ...]
    #: project views that may change what this view shows (``writers``), for the change's message
    writers: tuple[str, ...] = ()


# -- one module, as the scan reads it ---------------------------------------------------------


class ModuleView:
    """A module of the project with its scopes: the one being planned, or one whose
    functions a view calls."""

    def __init__(self, tree: ast.Module, text: str, path: str, is_current: bool, scopes: Scopes | None = None) -> None:
        self.tree = tree
        self.text = text
        self.path = path
        self.is_current = is_current
        self.scopes = scopes or Scopes(tree)
        self._lines: Lines | None = None

    def code(self, node: ast.AST) -> str:
        if self._lines is None:
            self._lines = Lines(self.text)
        return _one_line(self._lines.segment(node) or "")

    def top_function(self, name: str) -> ast.AST | None:
        found = [s for s in self.tree.body if isinstance(s, FUNCTIONS) and s.name == name]
        return found[0] if len(found) == 1 else None

    def bindings(self, name: ast.Name) -> list[tuple[ast.AST | None, str]] | None:
        """What ``name`` may refer to: (binding node, "global" | "function" | "other"), a
        built-in as (None, "builtin"); None when it is not bound anywhere flaskfix sees."""
        scopes = self.scopes
        found = scopes.resolve(name.id, scopes.scope_of(name))
        if found is None:
            return [(None, "builtin")] if name.id in _BUILTINS else None
        kind = "global" if found is self.tree else "function" if isinstance(found, (*FUNCTIONS, ast.Lambda)) else "other"
        return [(node, kind) for node in scopes.bindings[found].get(name.id, [])]

    def qualified_names(self, node: ast.AST) -> set[str]:
        return self.scopes.qualified_names(node)


def _is_import_from(node: ast.AST | None, scopes: Scopes) -> bool:
    return isinstance(node, ast.alias) and isinstance(scopes.parent(node), ast.ImportFrom)


def _is_import(node: ast.AST | None, scopes: Scopes) -> bool:
    return isinstance(node, ast.alias) and isinstance(scopes.parent(node), ast.Import)


def module_view(project: Any, path: str) -> ModuleView | None:
    """Another project module, read once per run (its tree is the project's)."""
    def compute(text: str) -> ModuleView | None:
        tree = project.tree(path)
        return ModuleView(tree, text, path, False) if tree is not None else None
    return project.derived("cache-route:view", path, compute)  # type: ignore[no-any-return]


def other_modules_named(project: Any, importer: str, module: str, word: str, defines: str | None = None) -> Iterable[ModuleView]:
    """Project modules that ``import module`` may mean and that mention ``word``: the file
    next to ``importer`` first, then the one at the dotted path from the project root; any
    other file with that name only when neither exists. With ``defines``, only modules
    with a top-level ``def <defines>``."""
    stem = module.split(".")[-1]
    here = os.path.dirname(os.path.abspath(importer))
    dotted_path = os.path.join(os.path.abspath(project.root), *module.split("."))
    exact = (dotted_path + ".py", os.path.join(dotted_path, "__init__.py"))
    candidates = []
    for path in project.files_mentioning(word, exclude=importer):
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
            tree = project.tree(path)
            if tree is None or not any(isinstance(n, FUNCTIONS) and n.name == defines for n in tree.body):
                continue
        view = module_view(project, path)
        if view is not None:
            yield view


def project_cache(project: Any, importer: str, module: str, name: str) -> bool:
    """Does project module ``module`` bind ``name`` to ``flask_caching.Cache(...)``?"""
    view = next(iter(other_modules_named(project, importer, module, name)), None)
    if view is None:
        return False
    for stmt in view.tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == name
            and isinstance(stmt.value, ast.Call)
            and view.qualified_names(stmt.value.func) & CACHE_CLASSES
        ):
            return True
    return False


# -- the plan -------------------------------------------------------------------------------


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
    pending: list[tuple[ModuleView, ast.AST, int | None, str]] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)


def plan(inp: PlanInput) -> FilePlan:
    return _Planner(inp).run()


class _Planner(Planner):
    ID = ID

    def __init__(self, inp: PlanInput) -> None:
        super().__init__(inp)
        self.current = ModuleView(inp.tree, inp.text, inp.path, True, self.scopes)
        self._own_shared: dict[str, str] | None = None
        self._templates: Templates | None = None

    def run(self) -> FilePlan:
        views = [h for h in self.flask.handlers.values() if h.kind == "view"]
        if not views:
            return self.out
        star = next((s for s in self.inp.tree.body if isinstance(s, ast.ImportFrom) and any(a.name == "*" for a in s.names)), None)
        targets: list[tuple[Handler, _Facts]] = []
        for handler in sorted(views, key=lambda h: h.func.lineno):
            if self._already_cached(handler):
                continue
            # the view's own body first: what it calls in other modules is followed only
            # when that decides something
            facts = self._scan(_Facts(pending=[(self.current, handler.func, None, "")]), follow=False)
            if not facts.expensive:
                if not self._may_reach_expensive(handler):
                    continue
                facts = self._scan(facts)
                if not facts.expensive:
                    continue
            if self._suppressed(handler):
                continue  # a `# flaskfix: ignore` comment holds it back (counted)
            refusal = self._static_refusal(handler)
            if refusal is None:
                refusal = self._refusal(handler, self._scan(facts))
            if refusal is not None:
                line, rule = refusal
                self.add_finding(line, f"`{_view_label(handler)}` not cached: {rule}; a candidate because it calls {facts.expensive[0]}")
                continue
            targets.append((handler, facts))
        if not targets:
            return self.out
        if star is not None:
            text = self.current.code(star)
            for h, _ in targets:
                self.add_finding(h.func.lineno, f"`{_view_label(h)}` not cached: names: the module has a star import (`{text}`), which may rebind any name flaskfix would add")
            return self.out
        self.out.edits.append(CodemodEdit(tuple(
            Target(h.func.lineno, h.func.name, f.reads_args, tuple(f.expensive), self._writers(h)) for h, f in targets
        )))
        return self.out

    # -- which views ---------------------------------------------------------------------

    def _suppressed(self, handler: Handler) -> bool:
        """Held back by `# flaskfix: ignore`: on the view's def or decorator lines, on its
        class's header (a MethodView), or on the ``add_url_rule`` call registering it."""
        spans: list[tuple[int, int]] = []
        cls = handler.view_class
        if cls is not None:
            spans.append((cls.lineno, cls.lineno))
            spans += [node_lines(d) for d in cls.decorator_list]
            spans += [node_lines(c) for c in self._add_url_rule_calls(lambda vf: _as_view_of(vf) == cls.name)]
        elif handler.via_add_url_rule:
            spans += [node_lines(c) for c in self._add_url_rule_calls(lambda vf: isinstance(vf, ast.Name) and vf.id == handler.name)]
        return self.held_back(*([spans] if spans else []), [def_lines(handler.func)])

    def _already_cached(self, handler: Handler) -> bool:
        decorators = list(handler.func.decorator_list)
        if handler.view_class is not None:
            value = _class_decorators(handler.view_class)
            if isinstance(value, (ast.List, ast.Tuple)):
                decorators += value.elts
        for expr in decorators:
            func = expr.func if isinstance(expr, ast.Call) else expr
            if isinstance(func, ast.Attribute) and func.attr in CACHE_DECORATOR_ATTRS:
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
            scan = _Scanner(self, info, func, anchor, via)
            scan.run()
            facts.problems.extend(scan.problems)
            facts.reads_args |= scan.reads_args
            facts.expensive.extend(scan.expensive)
            (todo if follow else facts.pending).extend(scan.helpers)
        return facts

    def _may_reach_expensive(self, handler: Handler) -> bool:
        """The project index's answer, before any other module is read: may the view, or
        what it calls, call something expensive? (Yes when it cannot tell.)"""
        indexed = self.project.indexed(self.inp.path)
        if indexed is None:
            return True
        index, module = indexed
        expensive = detection.expensive_test(self.config)
        if any(expensive(c.callee) for c in module.module_calls):
            return True  # decorators' arguments and class bodies are not told apart here
        fn = _indexed_function(module, handler)
        return fn is None or detection.reaches_expensive(index, module, fn, expensive)

    def _writers(self, handler: Handler) -> tuple[str, ...]:
        """The project's other views that may change what ``handler`` shows (see ``writers``)."""
        indexed = self.project.indexed(self.inp.path)
        if indexed is None:
            return ()
        index, module = indexed
        fn = _indexed_function(module, handler)
        if fn is None:
            return ()
        return writers(index, module.module, fn.qualname, self.project.relpath, is_test_module)

    def _static_refusal(self, handler: Handler) -> tuple[int, str] | None:
        """Why the view cannot be cached, judged from its route and signature alone."""
        func = handler.func
        line = func.lineno
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
        if isinstance(func, ast.AsyncFunctionDef):
            return line, "streaming: async views are not cached"
        if is_generator_function(func):
            return line, "streaming: the view is a generator (a streamed response)"
        return self._parameter_refusal(handler)

    def _refusal(self, handler: Handler, facts: _Facts) -> tuple[int, str] | None:
        if facts.problems:
            first = min(facts.problems, key=lambda p: p.line)
            return first.line, first.rule
        if handler.view_class is None:
            return self._used_elsewhere(handler)
        return None

    def _method_view_refusal(self, handler: Handler) -> tuple[int, str] | None:
        cls = handler.view_class
        assert cls is not None
        line = cls.lineno
        names = {s.name for s in cls.body if isinstance(s, FUNCTIONS)}
        if "dispatch_request" in names:
            return line, "MethodView: the class overrides dispatch_request"
        if handler.name != "get":
            return line, f"methods: `{handler.name}()` answers {handler.name.upper()} (only GET/HEAD views are cached)"
        other = sorted(n for n in names & {"post", "put", "patch", "delete", "options"})
        if other:
            return line, f"methods: the class also answers {', '.join(o.upper() for o in other)}, which would be answered from the GET cache"
        if any(_assigns(s, "methods") for s in cls.body):
            return line, "methods: the class sets `methods` itself"
        own = _class_decorators(cls)
        if own is None:
            if not cls.bases or not all(self.scopes.qualified_names(b) & VIEW_BASES for b in cls.bases):
                return line, "MethodView: it inherits from another view class and has no `decorators` list of its own (adding one would drop the inherited decorators)"
        elif not isinstance(own, (ast.List, ast.Tuple)):
            return line, "MethodView: its `decorators` is not a list or tuple literal"
        return None

    def _parameter_refusal(self, handler: Handler) -> tuple[int, str] | None:
        func = handler.func
        line = func.lineno
        args = func.args
        if args.vararg is not None or args.kwarg is not None or args.kwonlyargs:  # (a bare `*` too, as before)
            return line, "parameters: the view takes *args/**kwargs, which may carry values that are not in the URL"
        names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
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
        calls: list[ast.Call] = []
        for dec in handler.route_decorators:
            if not isinstance(dec, ast.Call):
                return None
            calls.append(dec)
        if handler.via_add_url_rule:
            calls.extend(self._add_url_rule_calls(lambda vf: isinstance(vf, ast.Name) and vf.id == handler.name))
        if not calls:
            return None
        for call in calls:
            rule = call_arg(call, "rule", 0)
            if not (isinstance(rule, ast.Constant) and isinstance(rule.value, str)):
                return None
            names = set(RULE_VAR.findall(rule.value))
            defaults = call_arg(call, "defaults")
            if defaults is not None:
                if not isinstance(defaults, ast.Dict):
                    return None
                for key in defaults.keys:
                    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                        return None
                    names.add(key.value)
            out.append(names)
        return out

    def _method_view_rules(self, cls: ast.ClassDef) -> list[set[str]] | None:
        calls = self._add_url_rule_calls(lambda vf: _as_view_of(vf) == cls.name)
        if not calls:
            return None
        out = []
        for call in calls:
            rule = call_arg(call, "rule", 0)
            if not (isinstance(rule, ast.Constant) and isinstance(rule.value, str)):
                return None
            out.append(set(RULE_VAR.findall(rule.value)))
        return out

    def _add_url_rule_calls(self, matches: Callable[[ast.AST], bool]) -> list[ast.Call]:
        found = []
        for call in sorted(self.flask.add_url_rule_calls(), key=lambda c: (c.lineno, c.col_offset)):
            vf = call_arg(call, "view_func", 2)
            if vf is not None and matches(vf):
                found.append(call)
        return found

    def _used_elsewhere(self, handler: Handler) -> tuple[int, str] | None:
        func = handler.func
        scopes = self.scopes
        scope = scopes.scope_of(func)
        allowed = {id(c) for c in self._add_url_rule_calls(lambda vf: isinstance(vf, ast.Name) and vf.id == handler.name)}
        for node in scopes.bindings.get(scope, {}).get(func.name, []):
            if node is not func:
                return func.lineno, f"the view function is used elsewhere: `{handler.name}` is rebound"
        for ref in sorted(scopes.references(func.name, scope), key=lambda n: (n.lineno, n.col_offset)):
            parent = scopes.parent(ref)
            call = scopes.parent(parent) if isinstance(parent, ast.keyword) else parent
            if isinstance(call, ast.Call) and ref is not call.func and id(call) in allowed:
                continue
            return ref.lineno, f"the view function is used elsewhere: `{handler.name}` is referenced here (a direct call would be cached under another path)"
        if scope is self.inp.tree:
            external = self.project.external_uses(self.inp.path, handler.name)
            if external:
                e = external[0]
                return func.lineno, f"the view function is used elsewhere: {e.path}:{e.line}: {e.how}"
        return None

    # -- what other modules hold ---------------------------------------------------------

    def templates(self) -> Templates:
        """This file's template judge. One per planned file, not per run: every template
        it reads is then read through the project while this file's result is recorded,
        so the result cache knows the result depends on it."""
        if self._templates is None:
            folders: list[str] = []
            if self.project.files:
                folders = [f for _o, f in self.project.index().template_folders()]
            self._templates = Templates(self.project, list(dict.fromkeys(folders)))
        return self._templates

    def shared_state(self, path: str) -> dict[str, str]:
        """``_shared_state`` of a module of the project (this one: as it is being planned)."""
        if os.path.abspath(path) == os.path.abspath(self.inp.path):
            if self._own_shared is None:
                self._own_shared = _shared_state(self.inp.tree)
            return self._own_shared

        def compute(text: str) -> dict[str, str]:
            tree = self.project.tree(path)
            return _shared_state(tree) if tree is not None else {}
        return self.project.derived("cache-route:shared-state", path, compute) or {}  # type: ignore[return-value]

    def defined_in(self, path: str, key: str) -> tuple[str, str] | None:
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


class _Scanner:
    """Collects what one function (a view or a function it calls) does that matters."""

    def __init__(self, planner: _Planner, info: ModuleView, func: ast.AST, anchor: int | None, via: str) -> None:
        self.planner = planner
        self.info = info
        self.func = func
        self.anchor = anchor
        self.via = via
        self.problems: list[_Problem] = []
        self.reads_args = False
        self.expensive: list[str] = []
        self.helpers: list[tuple[ModuleView, ast.AST, int | None, str]] = []
        cfg = planner.config
        self.names = [str(n) for n in cfg.get("expensive", [])]
        self.heuristics = [str(h).lower() for h in cfg.get("heuristics", [])]
        self.whole_table = bool(cfg.get("whole_table_queries", True))
        self.safe_templates = {str(t) for t in cfg.get("safe_templates", [])}

    def run(self) -> None:
        """Visit the function (decorators, parameters and body) in source order."""
        stack: list[ast.AST] = [self.func]
        while stack:
            node = stack.pop()
            self.visit(node)
            stack.extend(reversed(source_children(node)))

    def visit(self, node: ast.AST) -> None:  # noqa: C901 (one dispatch)
        if isinstance(node, FUNCTIONS):
            if node is not self.func and isinstance(node, ast.AsyncFunctionDef):
                self.problem(node, "streaming: it defines an async function")
        elif isinstance(node, ast.Global):
            self.problem(node, "writes: it rebinds a module-level name (`global`)")
        elif isinstance(node, ast.Nonlocal):
            self.problem(node, "writes: it rebinds an outer name (`nonlocal`)")
        elif isinstance(node, (ast.Yield, ast.YieldFrom)):
            if not self.via:  # a helper generator is consumed inside the view
                self.problem(node, "streaming: the view is a generator (a streamed response)")
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                self._check_store(t)
        elif isinstance(node, ast.AugAssign):
            self._check_store(node.target)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._check_store(node.target)
        elif isinstance(node, ast.Delete):
            for t in node.targets:
                self._check_store(t)
        elif isinstance(node, ast.Name):
            self._check_reference(node, node.id)
            self._check_shared(node, node.id)
        elif isinstance(node, ast.Attribute):
            self._check_reference(node, node.attr)
            if isinstance(node.value, ast.Name):
                self._check_shared(node.value, f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Call):
            self._call(node)

    # -- helpers -------------------------------------------------------------------------

    def _line(self, node: ast.AST) -> int:
        """The view's own line: its statement, or the call in it that leads to a helper."""
        if self.info.is_current and not self.via:
            return node.lineno  # type: ignore[attr-defined,no-any-return]
        return self.anchor or 0

    def problem(self, node: ast.AST, rule: str) -> None:
        where = ""
        if self.via:
            where = f", in `{self.via}()`"
            if not self.info.is_current:
                where += f" ({self.planner.project.relpath(self.info.path)})"
        self.problems.append(_Problem(self._line(node), rule + where))

    def _is_local(self, name: ast.Name) -> bool:
        found = self.info.bindings(name)
        return bool(found) and all(kind == "function" for _node, kind in found)  # type: ignore[union-attr]

    def _check_store(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for el in target.elts:
                self._check_store(el.value if isinstance(el, ast.Starred) else el)
            return
        if isinstance(target, (ast.Subscript, ast.Attribute)):
            root = _root(target)
            if root is None or not self._is_local(root):
                self.problem(target, "writes: it changes state that outlives the request (a module-level object)")

    def _check_shared(self, name: ast.Name, key: str) -> None:
        """A module-level object that other code changes while the app runs: a cached
        answer would keep what it held when it was cached."""
        if self._is_local(name):
            return
        bindings = [(node, kind) for node, kind in (self.info.bindings(name) or []) if node is not None]
        if not bindings or not all(kind == "global" for _node, kind in bindings):
            return
        path, key_there = self.info.path, key
        if all(_is_import_from(node, self.info.scopes) for node, _kind in bindings):
            resolved = self.planner.defined_in(self.info.path, key)
            if resolved is None:
                return
            path, key_there = resolved
        what = self.planner.shared_state(path).get(key_there)
        if what is not None:
            where = "" if path == self.info.path else f" ({self.planner.project.relpath(path)})"
            self.problem(name, f"shared state: it reads `{key}` ({what}{where}), which a cached answer would freeze")

    def _check_reference(self, node: ast.AST, name: str) -> None:
        """Flag what a name or dotted name refers to: ``session``, ``flask.request``..."""
        parent = self.info.scopes.parent(node)
        qn = self.info.qualified_names(node)
        if qn & SESSION:
            self.problem(node, "per-user state: it reads `session`")
        elif qn & G:
            self.problem(node, "per-user state: it reads `g` (auth hooks keep the user there)")
        elif qn & IDENTITY or any(q.startswith(IDENTITY_PACKAGES) for q in qn):
            self.problem(node, f"per-user state: it uses `{name}` (the logged-in user)")
        elif isinstance(node, ast.Name) and name in IDENTITY_NAMES and not self._is_local(node):
            self.problem(node, f"per-user state: it uses `{name}` (the logged-in user)")
        elif isinstance(node, ast.Attribute) and name in IDENTITY_ATTRS:
            self.problem(node, f"per-user state: it uses `.{name}` (the logged-in user)")
        elif qn & REQUEST:
            if isinstance(parent, ast.Attribute) and parent.value is node:
                attr = parent.attr
                if attr == "args":
                    self.reads_args = True
                elif attr not in REQUEST_SAFE_ATTRS:
                    self.problem(node, f"request data: it reads `request.{attr}`, which the cache key does not include")
            else:
                self.problem(node, "request data: it uses `request` as a whole, which the cache key does not include")
        elif qn & FLASH:
            self.problem(node, f"flash: it uses `{name}`")

    def _call(self, node: ast.Call) -> None:
        qn = self.info.qualified_names(node.func)
        func = node.func
        attr = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if qn & TEMPLATES:
            self._template(node)
        elif qn & TEMPLATE_ALWAYS:
            self.problem(node, "templates: it renders or streams a template string")
        elif qn & STREAMS:
            self.problem(node, f"streaming: it calls `{attr}()` (a file or stream cannot be stored)")
        elif qn & CLOCK_OR_RANDOM or any(q.startswith(CLOCK_OR_RANDOM_PACKAGES) for q in qn):
            self.problem(node, f"clock or randomness: it calls `{dotted(func) or attr}()`")
        elif "builtins.open" in qn or (isinstance(func, ast.Name) and func.id == "open" and not qn):
            mode = call_arg(node, "mode", 1)
            if mode is not None and not (isinstance(mode, ast.Constant) and isinstance(mode.value, str) and not set(mode.value) & set("wax+")):
                self.problem(node, "writes: it opens a file for writing")
            else:
                self.problem(node, "file state: it reads a file with `open()`, which other code or processes may change; a cached answer would keep the old content")
        elif qn & PROCESS_STATE or any(q.startswith(PROCESS_STATE_PACKAGES) for q in qn):
            self.problem(node, f"process or file state: it calls `{dotted(func) or attr}()`, whose answer changes while the app runs")
        elif any(q in ("flask.url_for", "flask.helpers.url_for") for q in qn) and call_arg(node, "_external") is not None:
            self.problem(node, "request data: it builds an external URL, which depends on the request's host")
        elif isinstance(func, ast.Attribute):
            name = func.attr
            if name in COOKIE_METHODS:
                self.problem(node, f"cookies: it calls `{name}()`")
            elif name in ALWAYS_WRITES:
                self.problem(node, f"writes: it calls `{dotted(func) or name}()`")
            elif name in NONLOCAL_WRITES:
                root = _root(func.value)
                if root is not None and self.info.qualified_names(root) & G:
                    pass  # flask.g lives for one request: reading it is the problem, reported as such
                elif (root is None or not self._is_local(root)) and not self._read_only_receiver(func.value):
                    if root is not None and root is func.value and self._is_module(root):
                        self.problem(node, f"writes: it calls `{dotted(func) or name}()`, a side effect that a cached answer would skip")
                    else:
                        self.problem(node, f"writes: it calls `{dotted(func) or name}()` on an object that outlives the request")
        self._expensive(node, qn)
        if isinstance(func, ast.Name):
            self._follow(node, func)

    def _template(self, node: ast.Call) -> None:
        """``render_template(name, **context)``: the template is judged with Jinja's parser
        (``codemods/templates.py``); what it reads from context processors, filters and
        Jinja globals the project registers is scanned like a function the view calls.
        ``safe_templates`` lists templates to take as safe without reading them."""
        first = node.args[0] if node.args else call_arg(node, "template_name_or_list")
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            self.problem(node, "templates: it renders a template whose name is computed at run time")
            return
        name = first.value
        if name in self.safe_templates:
            return
        judged = self.planner.templates().judge(name)
        for reason in judged.problems:
            self.problem(node, reason)
        passed_all = any(k.arg is None for k in node.keywords) or len(node.args) > 1
        free = set() if passed_all else judged.free - {k.arg for k in node.keywords if k.arg}
        wanted = [("context processor", n) for n in sorted(free)] + [("filter", f) for f in sorted(judged.filters)]
        # (searched only when asked: the search makes the result depend on every file)
        providers = self.planner.templates().providers() if wanted else []
        anchor = self.anchor if not self.info.is_current else node.lineno
        for kind, what in wanted:
            matching = [p for p in providers if (p.names is None or what in p.names)
                        and (p.kind in ("filter", "test") if kind == "filter" else p.kind in ("context processor", "global"))]
            known = [p for p in matching if p.names is not None]
            if not matching:
                noun = "filter or test" if kind == "filter" else "name"
                source = ("no project `template_filter` registers" if kind == "filter"
                          else "the view does not pass, and no project context processor or Jinja global provides")
                self.problem(node, f"templates: `{name}` uses the {noun} `{what}`, which {source}: an extension may "
                                   "(flaskfix cannot tell what it reads)")
                continue
            for p in (known or matching):
                if p.func is None:
                    self.problem(node, f"templates: `{name}` reads `{what}`, which a {p.kind} registered at "
                                       f"{self.planner.project.relpath(p.path)}:{p.line} may provide, and flaskfix cannot tell what runs")
                    continue
                view = self.info if p.path == self.info.path else module_view(self.planner.project, p.path)
                if view is not None:
                    self.helpers.append((view, p.func, anchor, p.func.name))

    def _is_module(self, name: ast.Name) -> bool:
        """``requests`` in ``requests.post()``: a name bound by ``import requests``."""
        found = self.info.bindings(name)
        return bool(found) and all(_is_import(node, self.info.scopes) for node, _kind in found)  # type: ignore[union-attr]

    def _read_only_receiver(self, value: ast.AST) -> bool:
        """``request.args.get``-like receivers that cannot be written through."""
        qn = self.info.qualified_names(value)
        return any(q.startswith(("flask.request.args", "flask.globals.request.args")) for q in qn)

    def _expensive(self, node: ast.Call, qn: set[str]) -> None:
        func = node.func
        name_dotted = dotted(func)
        last = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if last is None:
            return
        for name in self.names:
            if name == last or name == name_dotted or name in qn or any(q.endswith("." + name) for q in qn):
                self.expensive.append(f"`{name_dotted or last}()` (configured as expensive)")
                return
        low = last.lower()
        for h in self.heuristics:
            if h and h in low:
                self.expensive.append(f"`{name_dotted or last}()` (name contains {h!r})")
                return
        if self.whole_table and isinstance(func, ast.Attribute) and last in ("all", "count") and not node.args and not node.keywords:
            inner = func.value
            if isinstance(inner, ast.Attribute) and inner.attr == "query":
                self.expensive.append(f"`{self.info.code(node)}` (a whole-table query)")
            elif isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr == "query":
                self.expensive.append(f"`{self.info.code(node)}` (a whole-table query)")

    def _follow(self, node: ast.Call, func: ast.Name) -> None:
        assignments = [(n, kind) for n, kind in (self.info.bindings(func) or []) if n is not None]
        if len(assignments) != 1:
            return
        target, kind = assignments[0]
        anchor = self.anchor if not self.info.is_current else node.lineno
        if isinstance(target, FUNCTIONS) and kind == "global":
            self.helpers.append((self.info, target, anchor, target.name))
        elif _is_import_from(target, self.info.scopes):
            imp = self.info.scopes.parent(target)
            assert isinstance(imp, ast.ImportFrom) and isinstance(target, ast.alias)
            if imp.module is None:
                return
            for other in other_modules_named(self.planner.project, self.info.path, imp.module, target.name, defines=target.name):
                fdef = other.top_function(target.name)
                if fdef is not None:
                    self.helpers.append((other, fdef, anchor, target.name))
                    break
            else:
                self._follow_reexport(node, imp, target, anchor)

    def _follow_reexport(self, node: ast.Call, imp: ast.ImportFrom, target: ast.alias, anchor: int | None) -> None:
        """A function imported from a project module that does not define it: re-exported
        (``from .constants import f`` in a package's ``__init__``): followed through the
        index to its definition; one that cannot be found is not assumed harmless."""
        project = self.planner.project
        indexed = project.indexed(self.info.path)
        if indexed is None:
            return
        index, facts = indexed
        # from the import statement itself, not from the index's view of this module: the
        # text planned may be another codemod's output, with imports the index never saw
        module, name = index.resolve(absolute_module(facts.module, facts.is_package, imp.module, imp.level), target.name)
        if module not in index.modules or not name:
            return  # not the project's: a third-party function (documented as not followed)
        path = index.path_of(module)
        other = module_view(project, path) if path else None
        fdef = other.top_function(name) if other is not None else None
        if fdef is not None and other is not None:
            self.helpers.append((other, fdef, anchor, name))
            return
        facts_there = index.modules[module]
        if name in facts_there.classes or name in facts_there.globals or name in facts_there.functions:
            return  # a class (a model, an exception) or another binding: not followed, as before
        self.problem(node, f"unknown code: it calls `{target.asname or target.name}()`, imported from the project's "
                           f"module `{module}`, where flaskfix cannot find its definition")


# -- small helpers ----------------------------------------------------------------------------


def _indexed_function(module: Any, handler: Handler) -> Any:
    """The index's facts of the handler's function: by line and name, else (an earlier codemod
    of the run moved the lines: the index read the file before any rewrite) the one function
    of that name."""
    line, name = handler.func.lineno, handler.func.name
    fn = next((f for f in module.functions.values() if f.line == line and f.name == name), None)
    if fn is None:
        named = [f for f in module.functions.values() if f.name == name]
        fn = named[0] if len(named) == 1 else None
    return fn


def _view_label(handler: Handler) -> str:
    if handler.view_class is not None:
        return f"{handler.view_class.name}.{handler.name}()"
    return f"{handler.name}()"


def _class_decorators(cls: ast.ClassDef) -> ast.expr | None:
    """The value of the class's own ``decorators = ...``, or None."""
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "decorators" for t in stmt.targets):
            return stmt.value
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == "decorators" and stmt.value is not None:
            return stmt.value
    return None


def _assigns(stmt: ast.stmt, name: str) -> bool:
    if isinstance(stmt, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)
    return isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name


def _as_view_of(vf: ast.AST) -> str | None:
    if isinstance(vf, ast.Call) and isinstance(vf.func, ast.Attribute) and vf.func.attr == "as_view":
        return dotted(vf.func.value)
    return None


def _root(node: ast.AST) -> ast.Name | None:
    while True:
        if isinstance(node, ast.Name):
            return node
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def _one_line(code: str) -> str:
    out = ""
    for piece in (p.strip() for p in code.splitlines()):
        if out and not out.endswith(("(", "[", "{")) and not piece.startswith((")", "]", "}")):
            out += " "
        out += piece
    return out


# -- module state that requests share ------------------------------------------------------------

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


def _class_of(name: str, classes: set[str], alias: tuple[str, str] | None) -> str | None:
    if name in classes:
        return name
    return alias[1] if alias is not None and alias[0] == name else None


# -- a Cache the project already has, for a blueprint view -------------------------------------

#: CACHE_TYPE values that cache nothing
NULL_CACHES = frozenset({"null", "NullCache", "flask_caching.backends.NullCache", "flask_caching.backends.nullcache.NullCache"})


@dataclass(frozen=True)
class Reuse:
    """The project's one Cache, to import into a view module: ``from <module> import <name>``."""

    module: str  # as the view module should spell it: ``..extensions`` or ``shop.extensions``
    name: str
    path: str  # the module that creates it (relative to the root, for messages)
    backend: str  # the CACHE_TYPE the project sets


def _runtime(project: Any, path: str) -> bool:
    return not is_test_module(project.relpath(path))


def cache_backends(project: Any) -> list[str]:
    """The CACHE_TYPE values runtime modules of the project set, as string literals
    (``CACHE_TYPE = "x"``, ``config["CACHE_TYPE"] = "x"``, ``{"CACHE_TYPE": "x"}``,
    ``CACHE_TYPE="x"``, ``setdefault("CACHE_TYPE", "x")``, ``environ.get("CACHE_TYPE", "x")``)."""
    values = []
    for path in project.files_mentioning("CACHE_TYPE"):
        tree = project.tree(path) if _runtime(project, path) else None
        for node in ast.walk(tree) if tree is not None else ():
            pairs: list[tuple[ast.AST, ast.AST]] = []
            if isinstance(node, ast.Assign):
                pairs += [(t, node.value) for t in node.targets]
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                pairs.append((node.target, node.value))
            elif isinstance(node, ast.Dict):
                pairs += [(k, v) for k, v in zip(node.keys, node.values) if k is not None]
            elif isinstance(node, ast.Call):
                pairs += [(ast.Name(k.arg), k.value) for k in node.keywords if k.arg]
                if len(node.args) >= 2:
                    pairs.append((node.args[0], node.args[1]))
            for key, value in pairs:
                if isinstance(key, ast.Subscript):
                    key = key.slice
                named = (isinstance(key, ast.Name) and key.id == "CACHE_TYPE") or (
                    isinstance(key, ast.Constant) and key.value == "CACHE_TYPE")
                if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    values.append(value.value)
    return values


def reusable_cache(project: Any, view_path: str, blueprint: str) -> Reuse | str:
    """The project's Cache that serves ``blueprint`` (a module-level name of ``view_path``),
    or why there is none to use: exactly one module-level ``Cache()`` in a runtime module,
    initialised (``init_app``) in the function or module that registers the blueprint, on
    the app it registers it on, with a CACHE_TYPE set somewhere that caches (the default,
    NullCache, caches nothing), in a module the view module can import without a cycle."""
    indexed = project.indexed(view_path)
    if indexed is None:
        return "flaskfix cannot read the project's modules"
    index, facts = indexed
    caches = [e for e in index.extensions("cache") if e.scope == "" and _runtime(project, index.path_of(e.module))]
    where = f"the blueprint `{blueprint}` is not registered on an app created in this module"
    if not caches:
        return (f"{where} and the project has no Cache to reuse: create one in your extensions module "
                "(`cache = Cache()`, and `cache.init_app(app)` where the app is created) and flaskfix will use it")
    if len(caches) > 1:
        return f"{where} and the project has several Cache instances ({', '.join(f'{e.module}.{e.name}' for e in caches)}); flaskfix cannot tell which one serves it"
    ext = caches[0]
    ext_path = index.path_of(ext.module)
    shown = project.relpath(ext_path).replace(os.sep, "/")
    inits = [(m, s, c) for m, s, c in index.init_app_calls(ext)]
    regs = [r for r in index.blueprint_registrations() if r.blueprint == (facts.module, blueprint)]
    if not regs:
        return f"{where}, and flaskfix cannot find where it is registered"
    # the apps the Cache is initialised on, and those the blueprint is registered on, each
    # followed through helper functions' parameters (``register_extensions(app)``)
    initialised: set[tuple[str, str, str]] = set()
    for m, sc, c in inits:
        arg = c.args[0] if c.args else c.kwarg("app")
        if isinstance(arg, str) and arg.startswith("name:") and "." not in arg[5:]:
            initialised |= index.app_sites(m, sc, arg[5:])
    if not ext.call.args and ext.call.kwarg("app") is None and not inits:
        return f"the project's Cache `{ext.name}` ({shown}) is never initialised with an app (`{ext.name}.init_app(app)`)"
    if isinstance(ext.call.args[:1] and ext.call.args[0], str) and str(ext.call.args[0]).startswith("name:"):
        initialised |= index.app_sites(ext.module, ext.scope, str(ext.call.args[0])[5:])
    initialised.discard(("?", "", ""))
    for r in regs:
        served = index.app_sites(r.module, r.scope, r.receiver) if "." not in r.receiver else {("?", "", "")}
        if not served or not served <= initialised:
            return (f"flaskfix cannot tell that the project's Cache `{ext.name}` ({shown}) is initialised on the app "
                    f"the blueprint `{blueprint}` is registered on (`{r.receiver}.register_blueprint`, {r.module} line {r.line})")
    backends = cache_backends(project)
    real = [b for b in backends if b not in NULL_CACHES]
    if not real:
        said = f"sets only {', '.join(sorted(set(backends)))}" if backends else "sets no CACHE_TYPE in its code"
        return (f"the project's Cache `{ext.name}` ({shown}) would cache nothing: the project {said}, and Flask-Caching's "
                "default is NullCache; set CACHE_TYPE (e.g. SimpleCache or RedisCache) in the app's config and flaskfix will use it")
    spelled = _import_spelling(project, view_path, ext_path)
    if spelled is None:
        return f"flaskfix cannot tell how {project.relpath(view_path)} would import {shown} (it is not in the same package)"
    if _imports_at_load(project, index, ext.module, facts.module):
        return f"{shown} imports {project.relpath(view_path)}: importing its Cache there would be a cycle"
    return Reuse(spelled, ext.name, shown, real[0])


def _imports_at_load(project: Any, index: Any, module: str, target: str) -> bool:
    """Does ``module`` import ``target`` when it is loaded (an import outside functions)?"""
    facts = index.modules.get(module) if module in index.modules else None
    tree = project.tree(index.path_of(module)) if facts is not None else None
    if tree is None:
        return True  # cannot tell: say yes (a refusal, never a cycle)
    parts = module.split(".")
    package = parts if facts.is_package else parts[:-1]
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import) and any(a.name == target or target.startswith(a.name + ".") or
                                                 a.name.startswith(target + ".") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - (node.level - 1)] if node.level else [])
            full = ".".join(p for p in (base, node.module or "") if p) if node.level else (node.module or "")
            if full == target or any(f"{full}.{a.name}" == target for a in node.names):
                return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def _import_spelling(project: Any, importer: str, target: str) -> str | None:
    """How module ``importer`` imports module ``target``: relative within one package tree
    (``..extensions``), absolute from the root when both sit at the root, else None."""
    imp_dir = os.path.dirname(os.path.abspath(importer))
    tgt = os.path.abspath(target)
    tgt_parts = ([] if os.path.basename(tgt) == "__init__.py" else [os.path.basename(tgt)[:-3]])
    tgt_dir = os.path.dirname(tgt)
    root = os.path.abspath(project.root)
    if imp_dir == root and tgt_dir == root and tgt_parts:
        return tgt_parts[0]
    if not os.path.isfile(os.path.join(imp_dir, "__init__.py")):
        return None
    # walk up from the importer's package to the target's folder, every step a package
    up, here = 1, imp_dir
    while not (tgt_dir == here or tgt_dir.startswith(here + os.sep)):
        parent = os.path.dirname(here)
        if parent == here or not os.path.isfile(os.path.join(parent, "__init__.py")):
            return None
        here, up = parent, up + 1
    below = os.path.relpath(tgt_dir, here).split(os.sep) if tgt_dir != here else []
    folder = here
    for part in below:
        folder = os.path.join(folder, part)
        if not os.path.isfile(os.path.join(folder, "__init__.py")) or not part.isidentifier():
            return None
    return "." * up + ".".join(below + tgt_parts)  # (``.`` alone: the package's own __init__)


# -- no Cache yet: create one in the extensions module, initialise it in the factory ----------


@dataclass(frozen=True)
class Create:
    """A new Cache for a blueprint registered by a factory in another module: defined as
    ``<name> = Cache()`` in ``define`` (the extensions module, else the factory's module),
    initialised in ``factory()`` of ``factory_path`` (``<app>.config.setdefault("CACHE_TYPE",
    "SimpleCache")``, ``<name>.init_app(<app>)`` before its ``return <app>``), imported
    into the view module as ``from <module> import <name>``."""

    module: str  # the view module's spelling of ``define``
    name: str
    define: str  # relative to the root
    factory_path: str  # relative to the root
    factory: str  # the factory function's name
    app: str
    factory_import: str  # the factory module's spelling of ``define`` ("" when it is that module)


def creatable_cache(project: Any, view_path: str, blueprint: str, why_not_reuse: str) -> Create | str:
    """Where a new Cache for ``blueprint`` goes, or why flaskfix cannot place one (the
    reason says what the project lacks). Only when the project has no Cache at all, the
    blueprint is registered in exactly one factory (followed through helpers) that ends
    with ``return <app>``, and every import it needs is spelled without a cycle."""
    indexed = project.indexed(view_path)
    if indexed is None:
        return why_not_reuse
    index, facts = indexed
    if index.extensions("cache"):
        return why_not_reuse  # there is a Cache: reuse it or say why not, never a second one
    regs = [r for r in index.blueprint_registrations() if r.blueprint == (facts.module, blueprint)]
    sites: set[tuple[str, str, str]] = set()
    for r in regs:
        sites |= index.app_sites(r.module, r.scope, r.receiver) if "." not in r.receiver else {("?", "", "")}
    if not regs:
        return (f"the blueprint `{blueprint}` is not registered on an app created in this module, nor on any app "
                "flaskfix can find in the project")
    where = f"the blueprint `{blueprint}` is registered in another module"
    if len(sites) != 1 or ("?", "", "") in sites:
        return f"{where}, and flaskfix cannot tell which one app (factory) it is registered on"
    module, factory, app = next(iter(sites))
    ffacts = index.modules.get(module)
    func = ffacts.functions.get(factory) if ffacts is not None and factory and "." not in factory else None
    factory_path = index.path_of(module)
    tree = project.tree(factory_path) if func is not None else None
    node = next((n for n in (tree.body if tree is not None else []) if isinstance(n, FUNCTIONS) and n.name == factory), None)
    if node is None:
        return f"{where} on `{app}`, which is not created by a module-level factory function flaskfix can edit"
    last = node.body[-1]
    if not (isinstance(last, ast.Return) and isinstance(last.value, ast.Name) and last.value.id == app):
        return f"{where}: its factory `{factory}()` does not end with `return {app}`, where flaskfix would initialise a Cache"
    if not any(isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == app for t in n.targets)
               and isinstance(n.value, ast.Call) for n in node.body):
        return f"{where}: `{app}` is not created in `{factory}()` itself"
    # the module that holds the project's other extensions (db = SQLAlchemy()...), if one does
    holders = sorted({e.module for e in index.extensions() if e.scope == ""})
    define_module = holders[0] if len(holders) == 1 else module
    define_path = index.path_of(define_module)
    dfacts = index.modules.get(define_module)
    name = "cache"
    if dfacts is None or name in dfacts.globals or name in dfacts.imports or (
            define_module != module and (name in ffacts.globals or name in ffacts.imports)):
        return f"{where}: the name `{name}` is taken in {project.relpath(define_path)}, where flaskfix would create the Cache"
    spelled = _import_spelling(project, view_path, define_path)
    if spelled is None:
        return f"{where}: flaskfix cannot tell how {project.relpath(view_path)} would import {project.relpath(define_path)}"
    factory_import = ""
    if define_module != module:
        factory_import = _existing_spelling(project, factory_path, define_module) or _import_spelling(project, factory_path, define_path) or ""
        if not factory_import:
            return f"{where}: flaskfix cannot tell how {project.relpath(factory_path)} would import {project.relpath(define_path)}"
        if _imports_at_load(project, index, define_module, module):
            return f"{project.relpath(define_path)} imports {project.relpath(factory_path)}: importing its Cache there would be a cycle"
    if _imports_at_load(project, index, define_module, facts.module):
        return f"{project.relpath(define_path)} imports {project.relpath(view_path)}: importing its Cache there would be a cycle"
    rel = lambda p: project.relpath(p).replace(os.sep, "/")  # noqa: E731
    busy = [p for p in (define_path, factory_path) if os.path.realpath(p) in getattr(project, "blocked", ())]
    if busy:
        return (f"{where}; a Cache would be created in {', '.join(sorted({rel(p) for p in busy}))}, which this run also "
                "rewrites: apply that first, then run flaskfix again")
    return Create(spelled, name, rel(define_path), rel(factory_path), factory, app, factory_import)


def _existing_spelling(project: Any, importer: str, module: str) -> str | None:
    """How ``importer`` already writes an import from ``module`` (``from shop.extensions
    import db``): the same spelling for one more name."""
    tree = project.tree(importer)
    for node in tree.body if tree is not None else []:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == module:
            return module
    return None


# -- who else changes what a cached view shows -------------------------------------------

#: decorators (last name) that make a function a view
ROUTE_DECORATORS = frozenset({"route", "get", "post", "put", "patch", "delete"})
#: calls (last name) after which the database holds what a request changed
COMMITS = frozenset({"commit", "flush"})


def models_used(index: Any, reach: Iterable[tuple[str, Any]]) -> set[tuple[str, str]]:
    """(module, class) of each project model that the functions ``reach`` ((module,
    index Function) pairs) name in a call: ``Post.query...``, ``Post(...)``, or as an
    argument (``db.session.query(Post)``, ``select(Post)``)."""
    models = index.models()
    out: set[tuple[str, str]] = set()
    for mod, fn in reach:
        for call in fn.calls:
            heads = [call.callee.split(".", 1)[0]] if call.callee else []
            heads += [a[5:].split(".", 1)[0] for a in call.args if isinstance(a, str) and a.startswith("name:")]
            for head in heads:
                if head not in models:
                    continue
                where, name = index.resolve(mod, head)
                if any(m == where for m, _ in models.get(name, [])):
                    out.add((where, name))
    return out


def writers(index: Any, module: str, qualname: str, relpath: Callable[[str], str],
            is_test: Callable[[str], bool], limit: int = 3) -> tuple[str, ...]:
    """The project's other views that may change what the view ``module.qualname`` shows:
    each is a routed function that, itself or through the project functions it calls,
    names a model the view's code names and commits (or flushes) a session. Rendered
    ``create_post() (blog/views.py:30), which uses `Post` and commits``; at most ``limit``,
    then "and N more". What the cached view may answer stale after; a note, not a
    decision (views that change the rows through raw SQL or other processes are not seen)."""
    read = models_used(index, index.reachable(module, qualname))
    if not read:
        return ()
    found = []
    for mod, name, label, how, models in _committing_views(index, relpath, is_test):
        shared = sorted(n for _, n in models & read)
        if (mod, name) != (module, qualname) and shared:
            found.append(f"{label}, which uses {', '.join(f'`{n}`' for n in shared)} and {how}")
    if len(found) > limit:
        found = found[:limit] + [f"and {len(found) - limit} more"]
    return tuple(found)


def _committing_views(index: Any, relpath: Callable[[str], str], is_test: Callable[[str], bool]) -> list:
    """(module, qualname, label, how it commits, the models it uses) of every routed
    function outside test modules that commits: computed once per index (every cached view
    of the run asks), kept in ``index.derived``."""
    key = ("cache-route", "committing views")
    if key in index.derived:
        return index.derived[key]  # type: ignore[no-any-return]
    # methods of project classes that commit (``CRUDMixin.save``): a call ``obj.save()`` on
    # an object of unknown class is taken to be one of them (what the note then says)
    committing: set[str] = set()
    for mod, fn in index.functions():
        if "." in fn.qualname and any(c.callee.rsplit(".", 1)[-1] in COMMITS
                                      for _, f in index.reachable(mod, fn.qualname, limit=50) for c in f.calls if c.callee):
            committing.add(fn.name)
    out = []
    for mod, fn in index.functions():
        if not any(d.rsplit(".", 1)[-1] in ROUTE_DECORATORS for d in fn.decorators):
            continue
        path = index.path_of(mod)
        if not path or is_test(relpath(path)):
            continue
        reach = index.reachable(mod, fn.qualname, limit=100)
        lasts = {c.callee.rsplit(".", 1)[-1] for _, f in reach for c in f.calls if c.callee and "." in c.callee}
        if lasts & COMMITS:
            how = "commits"
        elif lasts & committing:
            how = "calls " + ", ".join(f"`.{m}()`" for m in sorted(lasts & committing)) + ", which commits in a project class"
        else:
            continue
        out.append((mod, fn.qualname, f"`{fn.qualname}()` ({relpath(path)}:{fn.line})", how, models_used(index, reach)))
    index.derived[key] = out
    return out
