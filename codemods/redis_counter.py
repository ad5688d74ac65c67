"""redis-counter: a module-level counter that request handlers bump becomes a Redis INCR.

``global hits; hits += 1`` in a view is a read, an add and a write of a variable that
every thread of the worker shares: two threads that interleave between the read and the
write lose one update, and a handler that reads ``hits`` after bumping it may answer with
another request's value. With several worker processes each has its own copy, so the
count is simply wrong. Redis ``INCR`` adds atomically on a server that every worker
shares and returns the new value, which is all a counter needs.

The rewrite:

* ``X += n`` / ``X = X + n`` / ``X -= n`` / ``X = X - n`` in a request handler becomes
  ``X = <initial> + redis_client.incr("<namespace>:X", n)`` (``decr`` for ``-``). The
  handler's ``global X`` is dropped, so ``X`` becomes a local holding exactly the value
  INCR returned for this request: a later read in the same handler cannot see another
  thread's value (keeping ``global X`` would leave that race in place). Reads of ``X`` in
  that handler are therefore only allowed where an increment has certainly run before
  them (same block, earlier statement); a read before the increment is compound logic.
* Reads of ``X`` in other handlers become ``<initial> + int(redis_client.get(key) or 0)``.
* The module-level ``X = <initial>`` goes away; the initial value is added to Redis's count.

Everything else is refused with a finding: resets and other assignments, compound logic,
floats, increments that are not provably ints, uses outside request handlers or by other
modules, nested functions, locks, async handlers.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from typing import Any, Literal

import libcst as cst
from libcst.metadata import PositionProvider

from flaskfix.codemods.ast_facts import HANDLER_TEXT, AstFacts, dotted
from flaskfix.codemods import detection
from flaskfix.codemods.base import FlaskfixCodemod, quote_style, string_literal
from flaskfix.codemods.edits import NodeIndex, line_holding
from flaskfix.codemods.flask_model import dotted_name, is_docstring
from flaskfix.codemods.plan import Span


UseKind = Literal["increment", "part", "write", "read"]

#: callables whose result is a synchronous Redis client flaskfix can reuse
REDIS_CLIENT_FACTORIES = frozenset(
    {
        "redis.Redis",
        "redis.StrictRedis",
        "redis.client.Redis",
        "redis.client.StrictRedis",
        "redis.Redis.from_url",
        "redis.StrictRedis.from_url",
        "redis.client.Redis.from_url",
        "redis.client.StrictRedis.from_url",
        "redis.from_url",
        "redis.utils.from_url",
        "flask_redis.FlaskRedis",
        "flask_redis.client.FlaskRedis",
    }
)
DEFAULT_URL = "redis://localhost:6379/0"


@dataclass
class Use:
    node: cst.Name = field(repr=False)
    kind: UseKind
    func: cst.FunctionDef | None = field(default=None, repr=False)
    #: for increments: the small statement, the Redis method and the amount (None: 1)
    small: cst.BaseSmallStatement | None = field(default=None, repr=False)
    method: str = "incr"
    amount: cst.BaseExpression | None = field(default=None, repr=False)


@dataclass
class Counter:
    name: str
    statement: cst.SimpleStatementLine = field(repr=False)
    small: cst.BaseSmallStatement = field(repr=False)
    target: cst.Name = field(repr=False)
    value: cst.BaseExpression = field(repr=False)
    initial: int | float = 0
    uses: list[Use] = field(default_factory=list)

    @property
    def increments(self) -> list[Use]:
        return [u for u in self.uses if u.kind == "increment"]


class RedisCounter(FlaskfixCodemod):
    ID = "redis-counter"
    ORDER = 20
    SUMMARY = "Module-level counters bumped by request handlers become atomic Redis INCR/DECR"
    RUNTIME = "a running Redis server for the counters (the client flaskfix adds reads REDIS_URL, default redis://localhost:6379/0)"
    WHY = """
        `global hits; hits += 1` in a request handler reads the shared variable, adds
        and writes it back. Two threads that interleave between the read and the write
        lose an update, and a handler that reads the counter after bumping it can answer
        with another request's value. With several worker processes every process counts
        on its own, and a restart starts again from zero. Redis INCR adds atomically on a
        server that all workers share and returns the new value in the same round trip.
    """
    BEHAVIOUR = """
        The count now lives in Redis: it survives restarts and deploys and is shared by
        all threads, workers and processes (and by every copy of the app pointed at the
        same Redis database), and no update is lost. A handler that bumps the counter
        uses the value INCR returned for its own request. Reads of the counter in other
        handlers ask Redis for the current value. The initial value in the code is not
        stored: it is added to Redis's count (a fresh key counts from 0). The key is
        "<namespace>:<module>:<name>" (the namespace is the `namespace` setting, else the
        project's name from pyproject.toml), so two counters cannot collide, nor two apps
        with their own namespaces. A project with neither gets keys without one
        ("app:hits"), and the change says so: two such apps sharing a Redis database
        would share the count.

        Every bump and read is now a network round trip. Requests fail (the Redis client
        raises ConnectionError, so Flask answers 500) when Redis is unreachable: there is
        no silent in-memory fallback, which would bring back the wrong counts. The new
        client reads the REDIS_URL environment variable (default
        redis://localhost:6379/0); an existing Redis client of the project is reused
        instead when there is one (make sure its database does not evict keys, as a
        cache with an LRU maxmemory-policy would). Redis counters are signed 64-bit
        integers: a count beyond that range raises an error instead of growing.
    """
    REFUSES = (
        "a Redis client would be needed, the project does not depend on redis (its runtime manifests do not declare it and no runtime module imports it), and flaskfix cannot add `redis>=4.0` to the manifest that declares Flask (a lock or hash file would go stale, setup.py, or edit-manifests = false; the finding names the command). Otherwise the change adds the requirement itself; a project with no manifest at all gets the change, which says what to install",
        "the counter is reset, deleted or assigned anything but itself plus or minus an amount (`hits = 0`)",
        "compound logic: a handler reads the counter before bumping it (`if hits > 10: ...`), or where "
        "its bump may not have run (another branch, after a loop, in except/finally)",
        "floats (Redis INCRBYFLOAT computes in long double and returns decimal text, so results would differ)",
        "the amount is not provably an int (a name, an attribute, a call other than int()/len())",
        "the counter is used outside request handlers (module level, helpers, CLI commands) or in a "
        "nested function, lambda, comprehension or class body",
        "another module imports it, it is listed in __all__, or the module calls globals()/vars()",
        "it is rebound at module level (assigned twice, imported, defined as a function)",
        "it is already guarded by a lock (`with lock:` or `.acquire()`): the lock may keep it consistent "
        "with other state",
        "the handler is async (a blocking Redis call would stall its event loop) or calls locals()",
        "the names the client needs are taken or may come from a star import, or the reused client's "
        "name is bound locally in a handler",
    )
    EXAMPLE_BEFORE = '''\
from flask import Flask

app = Flask(__name__)
counter = 0


@app.route("/increment")
def increment():
    global counter
    counter += 1
    return {"count": counter}


@app.route("/count")
def count():
    return {"count": counter}
'''
    EXAMPLE_AFTER = '''\
import os

from flask import Flask
from redis import Redis

app = Flask(__name__)
redis_client = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"))


@app.route("/increment")
def increment():
    counter = redis_client.incr("app:counter")
    return {"count": counter}


@app.route("/count")
def count():
    return {"count": int(redis_client.get("app:counter") or 0)}
'''
    PREFILTER = (
        r"\bglobal\s",
        HANDLER_TEXT,
        r"(?:^|;)[ \t]*[A-Za-z_]\w*[ \t]*(?::[^=\n]+)?=[\s\\]*[-+]?[\s\\]*\.?\d",
    )
    #: namespace: the first part of every key; "" means the project's name (pyproject.toml)
    DEFAULT_CONFIG = {"namespace": ""}
    METADATA_DEPENDENCIES = (PositionProvider,)

    # -- the plan ------------------------------------------------------------------------

    @classmethod
    def detect(cls, facts: AstFacts) -> bool:
        """``detection.redis_counter`` (LibCST-free, so that a run needs no codemod import to ask it)."""
        return detection.redis_counter(facts)

    def rewrite(self, tree: cst.Module) -> cst.Module:
        """Move the counters the plan accepted (``codemods/plan/redis_counter.py`` decided
        on stdlib ``ast``, and reported every refusal): find or create the Redis client,
        then rewrite each use."""
        plan = self.decided(tree)
        if not plan.edits:
            return tree
        counters = self._counters(tree, plan.edits[0].data)
        self._keys = {c.name: p.key for c, p in zip(counters, plan.edits[0].data)}
        self._namespaced = any(p.namespaced for p in plan.edits[0].data)
        self._new_imports: list[tuple[str, str | None]] = []
        client = self._client(counters)
        if client is None:
            return tree
        client_expr, creation = client
        quote = quote_style(tree)
        edits = _Edits()
        for counter in counters:
            key = self._key(counter)
            incrementing = {u.func for u in counter.increments}
            for use in counter.uses:
                if use.kind == "increment":
                    used = any(u.kind == "read" and u.func is use.func for u in counter.uses)
                    edits.replace[use.small] = self._increment(counter, use, client_expr, key, quote, used)
                    sign = "+" if use.method == "incr" else "-"
                    amount = _code(use.amount) if use.amount is not None else "1"
                    self.add_change(use.node, f"`{counter.name} {sign}= {amount}` is now an atomic Redis "
                                    f"{use.method.upper()} of key {key!r}")
            reads: dict[cst.FunctionDef, list[Use]] = {}
            for use in counter.uses:
                if use.kind == "read" and use.func not in incrementing:
                    assert use.func is not None
                    reads.setdefault(use.func, []).append(use)
            for func, func_reads in reads.items():
                first = self._hoist_before(func, func_reads)
                if first is not None:
                    # read once, into a local of the same name, just before the first statement
                    # that reads it: one round trip and one consistent value for the handler
                    value = self._read(counter, None, client_expr, key, quote)
                    stmt = cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(counter.name))], value)])
                    edits.before.setdefault(first, []).append(stmt)
                    self.add_change(first, f"`{counter.name}` is now read once from Redis key {key!r}", role="support")
                    continue
                for use in func_reads:
                    edits.replace[use.node] = self._read(counter, use, client_expr, key, quote)
                    self.add_change(use.node, f"`{counter.name}` is now read from Redis key {key!r}", role="support")
            for func in {u.func for u in counter.uses if u.func is not None}:
                for glob in _global_statements(func):
                    if any(n.name.value == counter.name for n in glob.names):
                        edits.drop_global.setdefault(glob, set()).add(counter.name)
            edits.remove.setdefault(counter.statement, set()).add(counter.small)
            unscoped = "" if self._namespaced else (
                " (no namespace: set [tool.flaskfix.redis-counter] namespace, or [project] name, if other apps share this Redis)"
            )
            self.add_change(counter.statement, f"module-level counter `{counter.name}` moved to Redis key {key!r}{unscoped}",
                            role="support")
        tree = tree.visit(_Rewriter(edits))
        return self._finish_module(tree, counters, edits.remove, creation)

    # -- finding candidates --------------------------------------------------------------


    # -- proving it safe -----------------------------------------------------------------


    # -- the client ----------------------------------------------------------------------

    def _client(self, counters: list[Counter]) -> tuple[str, cst.SimpleStatementLine | None] | None:
        """The expression naming the client, and the statement creating it (None: reused)."""
        model = self.flask
        existing = self._existing_client()
        functions = {u.func for c in counters for u in c.uses if u.func is not None and u.kind != "part"}
        if existing is not None:
            for func in functions:
                scope = model.scopes.get(func.body)
                if scope is not None and existing in scope.assignments:
                    self.add_finding(func.name, f"{_names_of(counters)} not moved to Redis: `{existing}` (the Redis client) is bound locally in `{func.name.value}()`")
                    return None
            return existing, None
        if _has_star_import(model.module):
            self.add_finding(counters[0].statement, f"{_names_of(counters)} not moved to Redis: a star import may already bind the names the Redis client needs")
            return None
        environ = model.expression_for("os.environ")
        if environ is None:
            if "os" in model.bound_names():
                self.add_finding(counters[0].statement, f"{_names_of(counters)} not moved to Redis: the name `os` is taken")
                return None
            environ = "os.environ"
            self._new_imports.append(("os", None))
        redis_cls = model.expression_for("redis.Redis") or model.expression_for("redis.client.Redis")
        if redis_cls is None:
            missing = self.missing_dependency("redis", "redis")
            if missing is not None:
                self.add_finding(counters[0].statement, f"{_names_of(counters)} not moved to Redis: {missing}")
                return None
            if "Redis" not in model.bound_names():
                redis_cls = "Redis"
                self._new_imports.append(("redis", "Redis"))
            elif "redis" not in model.bound_names():
                redis_cls = "redis.Redis"
                self._new_imports.append(("redis", None))
            else:
                self.add_finding(counters[0].statement, f"{_names_of(counters)} not moved to Redis: the names `Redis` and `redis` are taken")
                return None
        name = model.free_name("redis_client")
        q = quote_style(model.module)
        text = f"{name} = {redis_cls}.from_url({environ}.get({q}REDIS_URL{q}, {q}{DEFAULT_URL}{q}))"
        if len(text) > 88:
            text = f"{name} = {redis_cls}.from_url(\n    {environ}.get({q}REDIS_URL{q}, {q}{DEFAULT_URL}{q})\n)"
        stmt = cst.parse_statement(text + "\n")
        assert isinstance(stmt, cst.SimpleStatementLine)
        self.add_change(counters[0].statement, f"added a module-level Redis client `{name}` (REDIS_URL, default {DEFAULT_URL})"
                        + self.dependency_note("redis", "redis"), role="support")
        return name, stmt

    def _existing_client(self) -> str | None:
        model = self.flask
        module_scope = model.module_scope()
        for stmt in model.module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                names: list[str] = []
                if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.value, cst.Call):
                    target = small.targets[0].target
                    if isinstance(target, cst.Name) and model.qualified_names(small.value.func) & REDIS_CLIENT_FACTORIES:
                        names.append(target.value)
                elif isinstance(small, cst.AnnAssign) and isinstance(small.value, cst.Call) and isinstance(small.target, cst.Name):
                    if model.qualified_names(small.value.func) & REDIS_CLIENT_FACTORIES:
                        names.append(small.target.value)
                elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                    module = dotted_name(small.module) if small.module is not None else None
                    for alias in small.names:
                        local = alias.evaluated_alias or alias.evaluated_name
                        if module and self._project_client(module.split(".")[-1], alias.evaluated_name):
                            names.append(local)
                for name in names:
                    if len(module_scope.assignments[name]) == 1:
                        return name
        return None

    def _project_client(self, stem: str, name: str) -> bool:
        """Does project module ``stem`` bind ``name`` to a Redis client at module level?"""
        for path in self.project.files_mentioning(name, exclude=self.run.path):
            if path.replace("\\", "/").rsplit("/", 1)[-1] not in (f"{stem}.py", "__init__.py"):
                continue
            if path.endswith("__init__.py") and path.replace("\\", "/").rsplit("/", 2)[-2] != stem:
                continue
            tree = self.project.tree(path)
            if tree is None:
                continue
            imported: dict[str, str] = {}
            bindings = 0
            client = False
            for stmt in tree.body:
                if isinstance(stmt, ast.Import):
                    for alias in stmt.names:
                        imported[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
                elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
                    for alias in stmt.names:
                        imported[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"
                elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                        bindings += 1
                        if isinstance(stmt.value, ast.Call):
                            callee = dotted(stmt.value.func)
                            if callee:
                                head, _, rest = callee.partition(".")
                                full = imported.get(head, "") + (f".{rest}" if rest else "")
                                client = full in REDIS_CLIENT_FACTORIES
            if bindings == 1 and client:
                return True
        return False

    # -- building the new code -----------------------------------------------------------

    def _key(self, counter: Counter) -> str:
        """``<namespace>:<module>:<name>``, as the plan computed it."""
        return self._keys[counter.name]

    def _counters(self, tree: cst.Module, planned: tuple) -> list[Counter]:  # type: ignore[type-arg]
        """The plan's counters, with the LibCST nodes of their statements and uses."""
        index = NodeIndex(self.context.wrapper)  # type: ignore[arg-type]

        def find(span: Span | None, kinds: tuple[type, ...]) -> Any:
            return None if span is None else index.find(span, kinds)

        out = []
        for pc in planned:
            small = find(pc.statement, (cst.Assign, cst.AnnAssign))
            counter = Counter(pc.name, line_holding(tree, small), small, find(pc.target, (cst.Name,)), find(pc.value, (cst.BaseExpression,)), pc.initial)
            for pu in pc.uses:
                func = index.function(*pu.func) if pu.func is not None else None
                counter.uses.append(Use(find(pu.span, (cst.Name,)), pu.kind, func,  # type: ignore[arg-type]
                                        find(pu.small, (cst.AugAssign, cst.Assign)), pu.method,
                                        find(pu.amount, (cst.BaseExpression,))))
            out.append(counter)
        return out

    def _increment(
        self, counter: Counter, use: Use, client: str, key: str, quote: str, used: bool
    ) -> cst.BaseSmallStatement:
        """``X = <initial> + client.incr(key[, n])``, or just ``client.incr(key[, n])`` when
        the handler does not read ``X`` afterwards."""
        args = [cst.Arg(cst.SimpleString(string_literal(key, quote)))]
        if use.amount is not None:
            args.append(cst.Arg(use.amount))
        call = cst.Call(
            func=cst.Attribute(cst.parse_expression(client), cst.Name(use.method)),
            args=args,
        )
        small = use.small
        assert small is not None
        if not used:
            return cst.Expr(call, semicolon=small.semicolon)
        value: cst.BaseExpression = call
        if counter.initial:
            value = cst.BinaryOperation(counter.value, cst.Add(), call)
        if isinstance(small, cst.AugAssign):
            return cst.Assign(
                targets=[cst.AssignTarget(cst.Name(counter.name))],
                value=value,
                semicolon=small.semicolon,
            )
        assert isinstance(small, cst.Assign)
        return small.with_changes(value=value)

    def _hoist_before(self, func: cst.FunctionDef, reads: list[Use]) -> cst.SimpleStatementLine | None:
        """When a handler reads the counter more than once and the first read is in a simple
        statement of its body, that statement (the counter is then read once before it)."""
        if len(reads) < 2 or not isinstance(func.body, cst.IndentedBlock):
            return None
        model = self.flask
        tops = {
            next((a for a in [use.node, *model.ancestors(use.node)] if model.parent(a) is func.body), None)
            for use in reads
        }
        if len(tops) != 1:
            return None  # code between two reads might bump the counter: read each time instead
        (stmt,) = tops
        if not isinstance(stmt, cst.SimpleStatementLine):
            return None
        # every call of the statement must run after every read (the call contains the read,
        # or comes after it in the source): else it might bump the counter between two reads
        calls: list[cst.Call] = []

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                calls.append(node)

        stmt.visit(V())
        def where(node: cst.CSTNode, edge: str) -> tuple[int, int]:
            pos = getattr(self.get_metadata(PositionProvider, node), edge)
            return (pos.line, pos.column)

        for call in calls:
            for use in reads:
                inside = any(a is call for a in model.ancestors(use.node))
                if not inside and where(use.node, "end") > where(call, "start"):
                    return None
        return stmt

    def _read(self, counter: Counter, use: Use | None, client: str, key: str, quote: str) -> cst.BaseExpression:
        """``<initial> + int(client.get(key) or 0)``; for ``use``, fitted to where it stands."""
        model = self.flask
        for anc in model.ancestors(use.node) if use is not None else ():
            if isinstance(anc, cst.FormattedString):  # _check_formatted made sure this is possible
                quote = "'" if '"' in anc.start else '"'
        get = cst.Call(
            func=cst.Attribute(cst.parse_expression(client), cst.Name("get")),
            args=[cst.Arg(cst.SimpleString(string_literal(key, quote)))],
        )
        value: cst.BaseExpression = cst.Call(
            func=cst.Name("int"),
            args=[cst.Arg(cst.BooleanOperation(get, cst.Or(), cst.Integer("0")))],
        )
        if use is None:
            return cst.BinaryOperation(counter.value, cst.Add(), value) if counter.initial else value
        if counter.initial:
            value = cst.BinaryOperation(counter.value, cst.Add(), value)
            if use.node.lpar:
                value = value.with_changes(lpar=use.node.lpar, rpar=use.node.rpar)
            elif not _safe_parent(model, use.node):
                value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        elif use.node.lpar:
            value = value.with_changes(lpar=use.node.lpar, rpar=use.node.rpar)
        return value

    # -- the module body -----------------------------------------------------------------

    def _finish_module(
        self,
        tree: cst.Module,
        counters: list[Counter],
        remove: dict[cst.SimpleStatementLine, set[cst.BaseSmallStatement]],
        creation: cst.SimpleStatementLine | None,
    ) -> cst.Module:
        """Remove the counters' definitions, add the client and its imports."""
        original = list(self.flask.module.body)
        body = list(tree.body)
        assert len(original) == len(body), "top-level statements are only changed here"
        client_at = -1
        if creation is not None:
            anchor = min(i for i, s in enumerate(original) if s in remove)
            client_at = max(anchor, self._client_lower_bound(original))
        items: list[cst.BaseStatement] = []
        pending: list[cst.EmptyLine] | None = None  # blank lines of a removed line, for the next one
        for i, (orig, upd) in enumerate(zip(original, body)):
            smalls = remove.get(orig)  # type: ignore[arg-type]
            rest = None
            if smalls is not None:
                assert isinstance(orig, cst.SimpleStatementLine) and isinstance(upd, cst.SimpleStatementLine)
                rest = [s for s, o in zip(upd.body, orig.body) if o not in smalls]
            client_after = False
            if i == client_at:
                assert creation is not None
                if rest == []:  # the counter's line becomes the client's line
                    items.append(creation.with_changes(leading_lines=_section_lines(upd.leading_lines)))
                    continue
                if rest is not None:  # the line keeps other statements: the client follows it
                    client_after = True
                else:
                    items.append(creation.with_changes(leading_lines=_gap_after(items[-1] if items else None)))
            if rest == []:
                pending = _section_lines(upd.leading_lines)
                continue
            if rest is not None:
                rest[-1] = rest[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
                upd = upd.with_changes(body=rest)
            if pending is not None:
                upd = upd.with_changes(leading_lines=_merge_blank_lines(pending, list(upd.leading_lines)))
                pending = None
            items.append(upd)
            if client_after:
                assert creation is not None
                items.append(creation.with_changes(leading_lines=[]))
        if creation is not None and client_at >= len(original):
            items.append(creation.with_changes(leading_lines=_gap_after(items[-1] if items else None)))
        items = _insert_imports(items, self._new_imports, self._local_modules())
        return tree.with_changes(body=items)

    def _client_lower_bound(self, body: list[cst.BaseStatement]) -> int:
        """The client statement goes after the leading imports and after every statement that
        binds a name it uses (``os``, ``environ``, ``Redis``, ``redis``)."""
        bound = _leading_imports_end(body)
        wanted = {"os", "environ", "Redis", "redis"}
        for i, stmt in enumerate(body):
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            for node in _imports_in(stmt):
                if isinstance(node.names, cst.ImportStar):
                    continue
                for alias in node.names:
                    local = alias.evaluated_alias or alias.evaluated_name.split(".")[0]
                    if local in wanted:
                        bound = max(bound, i + 1)
        return bound

    def _local_modules(self) -> set[str]:
        names = set()
        for path in self.project.files:
            parts = path.replace("\\", "/").split("/")
            if parts[-1] == "__init__.py" and len(parts) > 1:
                names.add(parts[-2])
            elif parts[-1].endswith(".py"):
                names.add(parts[-1][:-3])
        return names


class _Edits:
    def __init__(self) -> None:
        self.replace: dict[cst.CSTNode, cst.CSTNode] = {}
        self.drop_global: dict[cst.Global, set[str]] = {}
        self.remove: dict[cst.SimpleStatementLine, set[cst.BaseSmallStatement]] = {}
        #: statements to insert before a statement of a handler's body
        self.before: dict[cst.BaseStatement, list[cst.SimpleStatementLine]] = {}


class _Rewriter(cst.CSTTransformer):
    def __init__(self, edits: _Edits) -> None:
        self.edits = edits

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        if original_node in self.edits.replace:
            return self.edits.replace[original_node]
        if original_node in self.edits.before:
            new = list(self.edits.before[original_node])
            new[0] = new[0].with_changes(leading_lines=updated_node.leading_lines)
            return cst.FlattenSentinel([*new, updated_node.with_changes(leading_lines=[])])
        if isinstance(original_node, cst.Global) and original_node in self.edits.drop_global:
            drop = self.edits.drop_global[original_node]
            names = [n for n in updated_node.names if n.name.value not in drop]
            if not names:
                return cst.RemoveFromParent()
            names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            return updated_node.with_changes(names=names)
        return updated_node


# -- helpers -----------------------------------------------------------------------------


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _global_statements(func: cst.FunctionDef) -> list[cst.Global]:
    found: list[cst.Global] = []

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is func

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_Global(self, node: cst.Global) -> None:
            found.append(node)

    func.visit(V())
    return found


def _has_star_import(module: cst.Module) -> bool:
    return any(isinstance(n.names, cst.ImportStar) for s in module.body for n in _imports_in(s))


def _imports_in(stmt: cst.CSTNode) -> list[cst.Import | cst.ImportFrom]:
    found: list[cst.Import | cst.ImportFrom] = []

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Import(self, node: cst.Import) -> None:
            found.append(node)

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            found.append(node)

    stmt.visit(V())
    return found


def _names_of(counters: list[Counter]) -> str:
    return ", ".join(f"`{c.name}`" for c in counters)


_SAFE_PARENTS = (
    cst.Arg,
    cst.Element,
    cst.DictElement,
    cst.Return,
    cst.Assign,
    cst.AnnAssign,
    cst.Index,
    cst.FormattedStringExpression,
    cst.Expr,
)


def _safe_parent(model, node: cst.CSTNode) -> bool:  # type: ignore[no-untyped-def]
    parent = model.parent(node)
    if isinstance(parent, cst.DictElement):
        return True
    if isinstance(parent, cst.FormattedStringExpression):
        return parent.expression is node
    if isinstance(parent, _SAFE_PARENTS):
        return getattr(parent, "value", None) is node
    return False


def _section_lines(lines) -> list[cst.EmptyLine]:  # type: ignore[no-untyped-def]
    """The leading lines of a removed statement minus the comment block right above it
    (which described it): everything up to the last blank line."""
    lines = list(lines)
    last_blank = max((i for i, line in enumerate(lines) if line.comment is None), default=-1)
    return lines[: last_blank + 1]


def _merge_blank_lines(pending: list[cst.EmptyLine], lines: list[cst.EmptyLine]) -> list[cst.EmptyLine]:
    def leading_blanks(seq: list[cst.EmptyLine]) -> int:
        n = 0
        for line in seq:
            if line.comment is not None:
                break
            n += 1
        return n

    pend_blank = leading_blanks(list(reversed(pending)))
    own_blank = leading_blanks(lines)
    head = pending[: len(pending) - pend_blank]
    return [*head, *([cst.EmptyLine()] * max(pend_blank, own_blank)), *lines[own_blank:]]


def _gap_after(prev: cst.CSTNode | None) -> list[cst.EmptyLine]:
    if prev is None:
        return []
    if isinstance(prev, cst.SimpleStatementLine) and not _is_import_line(prev):
        return []
    if isinstance(prev, (cst.FunctionDef, cst.ClassDef)):
        return [cst.EmptyLine(), cst.EmptyLine()]
    return [cst.EmptyLine()]


def _is_import_line(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def _leading_imports_end(body: list[cst.BaseStatement]) -> int:
    i = 1 if body and is_docstring(body[0]) else 0
    while i < len(body) and _is_import_line(body[i]):
        i += 1
    return i


def _sort_key(stmt: cst.SimpleStatementLine) -> tuple[int, str]:
    """isort's default order within a section: ``import x`` lines, then ``from x import``."""
    return (0 if isinstance(stmt.body[0], cst.Import) else 1, _import_module(stmt)[0].lower())


def _import_module(stmt: cst.SimpleStatementLine) -> tuple[str, int]:
    """(dotted module, relative level) of an import line's first import."""
    small = stmt.body[0]
    if isinstance(small, cst.Import):
        return dotted_name(small.names[0].name) or "", 0
    assert isinstance(small, cst.ImportFrom)
    return (dotted_name(small.module) or "") if small.module is not None else "", len(small.relative)


def _section(stmt: cst.SimpleStatementLine, local: set[str]) -> int:
    """isort's sections: 0 future, 1 standard library, 2 third party, 3 local."""
    module, level = _import_module(stmt)
    top = module.split(".")[0]
    if module == "__future__":
        return 0
    if level or top in local:
        return 3
    if top in sys.stdlib_module_names:
        return 1
    return 2


def _insert_imports(
    body: list[cst.BaseStatement], imports: list[tuple[str, str | None]], local: set[str]
) -> list[cst.BaseStatement]:
    """Add ``import module`` / ``from module import name`` lines to the leading import
    block, in isort's section and alphabetical place."""
    body = list(body)
    for module, name in imports:
        text = f"from {module} import {name}" if name else f"import {module}"
        new = cst.parse_statement(text + "\n")
        assert isinstance(new, cst.SimpleStatementLine)
        start = 1 if body and is_docstring(body[0]) else 0
        end = _leading_imports_end(body)
        section = 1 if module in sys.stdlib_module_names else 2
        lines = list(range(start, end))
        same = [i for i in lines if _section(body[i], local) == section]  # type: ignore[arg-type]
        if same:
            key = _sort_key(new)
            after = [i for i in same if _sort_key(body[i]) > key]  # type: ignore[arg-type]
            if after and after[0] == same[0]:  # first of its section: takes the section's leading lines
                at = after[0]
                new = new.with_changes(leading_lines=body[at].leading_lines)
                body[at] = body[at].with_changes(leading_lines=[])
            elif after:
                at = after[0]
            else:
                at = same[-1] + 1
            body.insert(at, new)
            continue
        # a new section: before the first line of a later section, after the earlier ones
        later = [i for i in lines if _section(body[i], local) > section]  # type: ignore[arg-type]
        if later:
            at = later[0]
            new = new.with_changes(leading_lines=body[at].leading_lines if at == start else [cst.EmptyLine()])
            body[at] = body[at].with_changes(leading_lines=[cst.EmptyLine()])
        else:
            at = end
            # after the earlier sections, or the first import of the module (after its docstring)
            new = new.with_changes(leading_lines=[cst.EmptyLine()] if at > 0 else [])
            if at < len(body):
                following = list(body[at].leading_lines)
                if not following or following[0].comment is not None:
                    body[at] = body[at].with_changes(leading_lines=[cst.EmptyLine(), *following])
        body.insert(at, new)
    return body


