"""redis-counter's decisions, on stdlib ``ast``: which module-level counters bumped by
request handlers can become atomic Redis INCR/DECR, and why each other one stays.

What the codemod does and why each rule holds is in ``codemods/redis_counter.py``'s
docstring (``flaskfix explain redis-counter``). The plan names each accepted counter and
its uses by source position; the codemod's LibCST transform finds or creates the Redis
client (which may still refuse: a name it needs is taken, the project does not depend on
``redis``) and writes the edits.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from typing import Any, Literal


from flaskfix.codemods.plan import CodemodEdit, FilePlan, PlanInput, Span
from flaskfix.codemods.plan.base import Planner, def_lines, node_lines
from flaskfix.codemods.plan.scopes import COMPREHENSIONS, FUNCTIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ID = "redis-counter"

UseKind = Literal["increment", "part", "write", "read"]

#: callables that make a lock-like object
LOCK_FACTORIES = frozenset(
    {
        f"{mod}.{cls}"
        for mod in ("threading", "multiprocessing", "multiprocessing.synchronize", "gevent.lock")
        for cls in ("Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition")
    }
)
LOCK_WORDS = ("lock", "mutex", "semaphore", "condition")


@dataclass(frozen=True)
class PlannedUse:
    """A use of an accepted counter, found again by the span of its name."""

    span: Span
    kind: str
    func: tuple[int, str] | None
    #: for increments: the statement's span, the Redis method, the amount's span (None: 1)
    small: Span | None = None
    method: str = "incr"
    amount: Span | None = None


@dataclass(frozen=True)
class PlannedCounter:
    name: str
    statement: Span  # the ``name = <number>`` statement
    target: Span
    value: Span
    initial: int
    uses: tuple[PlannedUse, ...]
    key: str
    namespaced: bool


@dataclass
class Use:
    node: ast.Name = field(repr=False)
    kind: UseKind
    func: Any = field(default=None, repr=False)
    problem: str | None = None
    small: ast.stmt | None = field(default=None, repr=False)
    method: str = "incr"
    amount: ast.expr | None = field(default=None, repr=False)


@dataclass
class Counter:
    name: str
    statement: ast.stmt = field(repr=False)
    target: ast.Name = field(repr=False)
    value: ast.expr = field(repr=False)
    initial: int | float = 0
    uses: list[Use] = field(default_factory=list)

    @property
    def increments(self) -> list[Use]:
        return [u for u in self.uses if u.kind == "increment"]


class Refused(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def plan(inp: PlanInput) -> FilePlan:
    return _Planner(inp).run()


class _Planner(Planner):
    ID = ID

    def run(self) -> FilePlan:
        if not self.flask.handlers:
            return self.out
        counters: list[Counter] = []
        for cand in self._candidates():
            try:
                if self._check(cand):
                    counters.append(cand)
            except Refused as refusal:
                self.add_finding(refusal.line, f"`{cand.name}` not moved to Redis: {refusal.reason}")
        if counters:
            self.out.edits.append(CodemodEdit(tuple(self._planned(c) for c in counters)))
        return self.out

    def _planned(self, c: Counter) -> PlannedCounter:
        span = self.lines.span
        uses = tuple(
            PlannedUse(span(u.node), u.kind, (u.func.lineno, u.func.name) if u.func is not None else None,
                       span(u.small) if u.small is not None else None, u.method,
                       span(u.amount) if u.amount is not None else None)
            for u in c.uses
        )
        return PlannedCounter(c.name, span(c.statement), span(c.target), span(c.value), int(c.initial), uses,
                              self._key(c), bool(self._namespace()))

    # -- finding candidates --------------------------------------------------------------

    def _candidates(self) -> list[Counter]:
        out: list[Counter] = []
        for stmt, target, value in self.module_assignments():
            initial = self._number(value)
            if initial is not None and all(c.name != target.id for c in out):
                out.append(Counter(target.id, stmt, target, value, initial))
        return out

    def _parenthesized(self, node: ast.AST) -> bool:
        """Is ``node`` written in parentheses of its own (``(5)``, not ``f(5)``)?"""
        s = self.lines.span(node)
        before = self.lines.line(s.line)[: s.col].rstrip()
        parent = self.scopes.parent(node)
        return before.endswith("(") and not (isinstance(parent, ast.Call) and node is not parent.func)

    def _number(self, value: ast.AST) -> int | float | None:
        """The value of an unparenthesised int/float literal, optionally signed."""
        sign = 1
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd)) and not self._parenthesized(value):
            sign = -1 if isinstance(value.op, ast.USub) else 1
            value = value.operand
        if self._parenthesized(value):
            return None
        if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)) and not isinstance(value.value, bool):
            return sign * value.value
        return None

    # -- proving it safe -----------------------------------------------------------------

    def _check(self, cand: Counter) -> bool:
        """False: not the anti-pattern (no handler writes it). True: safe. Raises Refused."""
        scopes = self.scopes
        cand.uses = self._uses(cand)
        if not any(
            u.kind in ("increment", "write") and u.func is not None
            and (self.flask.handler(u.func) is not None or self._enclosing_handler(u.func) is not None)
            for u in cand.uses
        ):
            return False  # not the anti-pattern: no request handler changes it
        if self._suppressed(cand):
            return False  # a `# flaskfix: ignore` comment holds it back (counted)
        if isinstance(cand.initial, float):
            raise Refused(cand.statement.lineno, "it is a float; Redis INCRBYFLOAT computes in long double and returns "
                          "decimal text, so the values would differ from Python's float arithmetic")
        bindings = scopes.bindings[self.tree].get(cand.name, [])
        module_level = [b for b in bindings if scopes.scope_of(b) is self.tree]
        if len(module_level) != 1 or module_level[0] is not cand.target:
            others = [b for b in module_level if b is not cand.target]
            raise Refused(others[0].lineno if others else cand.statement.lineno, "it is rebound at module level")  # type: ignore[attr-defined]
        for use in cand.uses:
            if use.problem:
                raise Refused(use.node.lineno, use.problem)
        increment_targets = {id(u.node) for u in cand.uses if u.kind == "increment"}
        for b in bindings:
            if b is cand.target or id(b) in increment_targets:
                continue
            raise Refused(b.lineno, "it is reset or assigned something other than itself plus or minus an amount")  # type: ignore[attr-defined]
        for use in cand.uses:
            if use.kind == "write":
                raise Refused(use.node.lineno, "it is reset, deleted or assigned something other than itself plus or minus an amount")
        for use in cand.increments:
            self._check_amount(cand, use)
        if self.in_dunder_all(cand.name):
            raise Refused(cand.statement.lineno, "listed in __all__, so other modules may use it")
        if self._calls_builtin(self.tree, ("globals", "vars")):
            raise Refused(cand.statement.lineno, "the module calls globals()/vars(), which may reach it by name")
        external = self.project.external_uses(self.inp.path, cand.name)
        if external:
            e = external[0]
            raise Refused(cand.statement.lineno, f"used by another module ({e.path}:{e.line}: {e.how})")
        by_func: dict[int, tuple[Any, list[Use]]] = {}
        for use in cand.uses:
            assert use.func is not None
            by_func.setdefault(id(use.func), (use.func, []))[1].append(use)
        for func, uses in by_func.values():
            self._check_handler(cand, func, uses)
        self._check_reentry(cand, by_func)
        if any(u.kind == "read" and all(u.func is not i.func for i in cand.increments) for u in cand.uses):
            if "int" in scopes.bound_names():
                raise Refused(cand.statement.lineno, "the module binds the name `int`, which the rewritten reads need")
        return True

    def _enclosing_handler(self, func: Any) -> Any:
        outer = self.scopes.enclosing_function(func)
        return self.flask.handler(outer) if outer is not None else None

    def _statement_of(self, node: ast.AST) -> ast.AST:
        for anc in [node, *self.scopes.ancestors(node)]:
            if isinstance(anc, ast.stmt):
                return anc if not isinstance(anc, _COMPOUND) or anc is node else node
        return node

    def _suppressed(self, cand: Counter) -> bool:
        """Held back by `# flaskfix: ignore`: on the counter's definition, on any statement
        that uses it, or on the def/decorator lines of any function that uses it."""
        spans = [node_lines(cand.statement)]
        funcs: dict[int, Any] = {}
        for use in cand.uses:
            spans.append(node_lines(self._statement_of(use.node)))
            for anc in self.scopes.ancestors(use.node):
                if isinstance(anc, FUNCTIONS):
                    funcs.setdefault(id(anc), anc)
        return self.held_back(spans, *([def_lines(f)] for f in funcs.values()))

    def _uses(self, cand: Counter) -> list[Use]:
        """Every Name that refers to the module-level counter, classified."""
        scopes = self.scopes
        bindings = {id(b) for b in scopes.bindings[self.tree].get(cand.name, [])}
        uses: list[Use] = []
        parts: set[int] = set()
        names = [n for n in ast.walk(self.tree) if isinstance(n, ast.Name) and n.id == cand.name]
        for node in sorted(names, key=lambda n: (n.lineno, n.col_offset)):
            scope = scopes.scope_of(node)
            if scopes.resolve(cand.name, scope) is not self.tree:
                continue  # a local (or closure) variable of the same name
            if node is cand.target:
                continue
            use = Use(node, "read")
            if id(node) in bindings:
                use.kind = "write"
                self._classify_binding(cand, use, parts)
            elif self._is_deleted(node):
                use.kind = "write"
            uses.append(use)
            if scope is self.tree:
                use.problem = "used outside request handlers, at module level"
            elif isinstance(scope, FUNCTIONS):
                use.func = scope
                if self.flask.handler(scope) is None:
                    if self._enclosing_handler(scope) is not None:
                        use.problem = f"used in nested function `{scope.name}()`, which may run after the request"
                    else:
                        use.problem = f"used outside request handlers, in `{scope.name}()`"
            elif isinstance(scope, COMPREHENSIONS):
                use.problem = "used in a comprehension or generator expression; flaskfix does not follow it"
            elif isinstance(scope, ast.Lambda):
                use.problem = "used in a lambda, which may run after the request"
            else:
                use.problem = "used in a class body; flaskfix does not follow it"
        for use in uses:
            if id(use.node) in parts and use.kind == "read":
                use.kind = "part"
        return uses

    def _is_deleted(self, node: ast.Name) -> bool:
        for anc in self.scopes.ancestors(node):
            if isinstance(anc, ast.Delete):
                return True
            if not isinstance(anc, (ast.Tuple, ast.List)):
                return False
        return False

    def _classify_binding(self, cand: Counter, use: Use, parts: set[int]) -> None:
        parent = self.scopes.parent(use.node)
        if isinstance(parent, ast.AugAssign) and parent.target is use.node:
            if isinstance(parent.op, (ast.Add, ast.Sub)):
                use.kind = "increment"
                use.small = parent
                use.method = "incr" if isinstance(parent.op, ast.Add) else "decr"
                use.amount = parent.value
            return
        if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and parent.targets[0] is use.node):
            return
        value = parent.value
        if not isinstance(value, ast.BinOp) or self._parenthesized(value) or not isinstance(value.op, (ast.Add, ast.Sub)):
            return
        if isinstance(value.left, ast.Name) and value.left.id == cand.name and not self._parenthesized(value.left):
            self_ref, amount = value.left, value.right
        elif isinstance(value.op, ast.Add) and isinstance(value.right, ast.Name) and value.right.id == cand.name:
            self_ref, amount = value.right, value.left
        else:
            return
        if self.scopes.scope_of(self_ref) is not self.scopes.scope_of(use.node):
            return
        use.kind = "increment"
        use.small = parent
        use.method = "incr" if isinstance(value.op, ast.Add) else "decr"
        use.amount = amount
        parts.add(id(self_ref))

    def _check_amount(self, cand: Counter, use: Use) -> None:
        amount = use.amount
        assert amount is not None
        if any(isinstance(n, ast.Name) and n.id == cand.name for n in ast.walk(amount)):
            raise Refused(use.node.lineno, "the amount depends on the counter itself")
        literal = self._number(amount)
        if isinstance(literal, float):
            raise Refused(use.node.lineno, "the amount is a float; Redis INCRBYFLOAT computes in long double and returns "
                          "decimal text, so the values would differ from Python's float arithmetic")
        if isinstance(literal, int):
            if literal == 1:
                use.amount = None
            return
        if isinstance(amount, ast.Call) and isinstance(amount.func, ast.Name) and not self._parenthesized(amount):
            builtin = amount.func.id
            if builtin in ("int", "len") and self.scopes.is_builtin(amount.func, builtin):
                return
        code = self.lines.segment(amount) or ""
        raise Refused(use.node.lineno, f"cannot prove that `{code}` is an int (use an int literal, int(...) or len(...))")

    def _check_handler(self, cand: Counter, func: Any, uses: list[Use]) -> None:
        fname = func.name
        if isinstance(func, ast.AsyncFunctionDef):
            raise Refused(func.lineno, f"`{fname}()` is async: a blocking Redis call would stall its event loop")
        if self._calls_builtin(func, ("locals",)):
            raise Refused(func.lineno, f"`{fname}()` calls locals(), which would start to include `{cand.name}`")
        increments = [u for u in uses if u.kind == "increment"]
        if not increments:
            for use in uses:
                self._check_formatted(cand, use)
        for use in increments:
            lock = self._lock_around(func, use)
            if lock:
                raise Refused(use.node.lineno, f"already guarded by a lock ({lock}); the lock may keep it consistent with other state")
        if not increments:
            return
        first_increment = min(u.node.lineno for u in increments)
        for use in uses:
            if use.kind != "read" or any(self._dominates(inc.small, use.node) for inc in increments):
                continue
            if use.node.lineno <= first_increment:
                raise Refused(
                    use.node.lineno,
                    f"compound logic: `{fname}()` reads `{cand.name}` before incrementing it; a check followed "
                    "by an update is not atomic in Redis either (it needs a Lua script or WATCH/MULTI)",
                )
            raise Refused(
                use.node.lineno,
                f"`{fname}()` reads `{cand.name}` where its increment may not have run (another branch, after "
                "a loop, in except/finally): that read needs the value of other requests",
            )

    def _dominates(self, small: ast.stmt | None, node: ast.AST) -> bool:
        """Has ``small`` certainly run before ``node`` runs? True when ``node`` comes after
        it in the same line, or in a later statement of the same block."""
        if small is None:
            return False
        holder = self.scopes.parent(small)
        block = next((b for b in _blocks(holder) if any(s is small for s in b)), None)
        if block is None:
            return False
        at = _index(block, small)
        one_line = holder is not None and not isinstance(holder, ast.Module) and small.lineno == holder.lineno  # type: ignore[attr-defined]
        if isinstance(holder, ast.Module):
            same_line_only = True
        else:
            same_line_only = one_line
        for anc in [node, *self.scopes.ancestors(node)]:
            i = _index(block, anc)
            if i >= 0:
                if same_line_only and anc.lineno != small.lineno:  # type: ignore[attr-defined]
                    return False
                return i > at
        return False

    def _check_reentry(self, cand: Counter, by_func: dict[int, tuple[Any, list[Use]]]) -> None:
        """A handler that reads the counter after bumping it keeps the value INCR returned;
        refuse when it calls, between the two, a function of this module that bumps it again."""
        bumpers = {u.func.name for u in cand.increments if u.func is not None}
        functions = sorted((f for f in ast.walk(self.tree) if isinstance(f, FUNCTIONS)), key=lambda f: (f.lineno, f.col_offset))
        changed = True
        while changed:
            changed = False
            for func in functions:
                if func.name not in bumpers and _called_names(func) & bumpers:
                    bumpers.add(func.name)
                    changed = True
        for func, uses in by_func.values():
            if not any(u.kind == "increment" for u in uses) or not any(u.kind == "read" for u in uses):
                continue
            called = _called_names(func) & bumpers
            if called:
                raise Refused(
                    func.lineno,
                    f"`{func.name}()` calls `{sorted(called)[0]}()`, which may bump `{cand.name}` "
                    "again before this handler reads it",
                )

    def _check_formatted(self, cand: Counter, use: Use) -> None:
        """A read inside an f-string gets a key string in the other quote (before 3.12 an
        f-string expression cannot reuse its own quote or hold a backslash)."""
        quotes: set[str] = set()
        for anc in self.scopes.ancestors(use.node):
            if isinstance(anc, ast.FormattedValue) and self._self_documenting(anc):
                raise Refused(use.node.lineno, "read in an f-string with `=`, whose text would change")
            if isinstance(anc, ast.JoinedStr):
                text = (self.lines.segment(anc) or "").lstrip("rRbBfFuU")
                quotes.add("'" if text.startswith("'") else '"')
        if quotes and (len(quotes) > 1 or set(self._key(cand)) & set("'\"\\")):
            raise Refused(use.node.lineno, "read inside nested f-strings or with a key that cannot be spelled there")

    def _self_documenting(self, value: ast.FormattedValue) -> bool:
        """``f"{x=}"``: the expression's text is followed by ``=`` inside the braces."""
        s = self.lines.span(value.value)
        rest = self.lines.line(s.end_line)[s.end_col:]
        stripped = rest.lstrip()
        return stripped.startswith("=") and not stripped.startswith("==")

    def _lock_around(self, func: Any, use: Use) -> str | None:
        for anc in self.scopes.ancestors(use.node):
            if anc is func:
                break
            if isinstance(anc, (ast.With, ast.AsyncWith)):
                for item in anc.items:
                    if self._looks_like_lock(item.context_expr):
                        return f"`with {self.lines.segment(item.context_expr)}:`"
        calls = sorted((n for n in ast.walk(func) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                        and n.func.attr == "acquire"), key=lambda n: (n.lineno, n.col_offset))
        return f"`{self.lines.segment(calls[0].func)}()`" if calls else None

    def _looks_like_lock(self, expr: ast.AST) -> bool:
        text = (self.lines.segment(expr) or "").lower()
        if any(w in text for w in LOCK_WORDS):
            return True
        if isinstance(expr, ast.Call) and self.scopes.qualified_names(expr.func) & LOCK_FACTORIES:
            return True
        if isinstance(expr, ast.Name):
            for b in self.scopes.binders(expr.id, self.scopes.scope_of(expr)):
                assign = self.scopes.parent(b)
                if isinstance(assign, ast.Assign) and isinstance(assign.value, ast.Call):
                    if self.scopes.qualified_names(assign.value.func) & LOCK_FACTORIES:
                        return True
        return False

    def _calls_builtin(self, node: ast.AST, names: tuple[str, ...]) -> bool:
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in names:
                if call.func.id == "vars" and (call.args or call.keywords):
                    continue  # vars(obj) reads obj, not the module
                if any(self.scopes.is_builtin(call.func, n) for n in names) or not self.scopes.qualified_names(call.func):
                    return True
        return False

    # -- the key ---------------------------------------------------------------------------

    def _key(self, counter: Counter) -> str:
        """``<namespace>:<module>:<name>``."""
        return ":".join(p for p in (self._namespace(), self.inp.module_name, counter.name) if p)

    def _namespace(self) -> str:
        return str(self.config.get("namespace") or "") or self._project_name()

    def _project_name(self) -> str:
        root = getattr(self.project, "root", None)
        if root is None:
            return ""
        text = self.project.text(str(root / "pyproject.toml"))
        if not text:
            return ""
        try:
            name = tomllib.loads(text).get("project", {}).get("name", "")
        except (tomllib.TOMLDecodeError, AttributeError):
            return ""
        return name if isinstance(name, str) else ""


_TRY = tuple(t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t is not None)
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, *_TRY, ast.Match, *FUNCTIONS, ast.ClassDef)


def _blocks(node: ast.AST | None) -> list[list[ast.stmt]]:
    if node is None:
        return []
    out = [getattr(node, n) for n in ("body", "orelse", "finalbody") if isinstance(getattr(node, n, None), list)]
    out += [h.body for h in getattr(node, "handlers", [])]
    out += [c.body for c in getattr(node, "cases", [])]
    return [b for b in out if b and isinstance(b[0], ast.stmt)]


def _index(seq: list, node: object) -> int:
    for i, item in enumerate(seq):
        if item is node:
            return i
    return -1


def _called_names(func: Any) -> set[str]:
    """Names ``f`` of calls ``f(...)``, ``self.f(...)`` and ``cls.f(...)`` in ``func``'s body."""
    names: set[str] = set()
    for stmt in func.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Name):
                    names.add(f.id)
                elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in ("self", "cls"):
                    names.add(f.attr)
    return names
