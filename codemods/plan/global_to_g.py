"""global-to-g's decisions, on stdlib ``ast``: which module-level containers are
per-request scratch space that can move to ``flask.g``, and why each other one stays.

What the codemod does and why each rule holds is in ``codemods/global_to_g.py``'s
docstring (``flaskfix explain global-to-g``). The plan names, by source position, the
assignment to remove, the subscripts to turn into ``g.<key>`` and the handlers that get
a per-request binding; the codemod's LibCST transform writes them.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from flaskfix.codemods.changes import Change
from flaskfix.codemods.plan import CodemodEdit, FilePlan, PlanInput, Span
from flaskfix.codemods.plan.base import Planner, def_lines, node_lines
from flaskfix.codemods.plan.scopes import COMPREHENSIONS, FUNCTIONS, is_generator_function

ID = "global-to-g"

ContainerKind = Literal["dict", "list", "set"]
UseKind = Literal["write", "read", "read-write", "delete", "whole"]

#: methods that change the container and observe nothing of its previous content
WRITE_ONLY_METHODS: dict[str, frozenset[str]] = {
    "dict": frozenset({"update", "clear"}),
    "list": frozenset({"append", "extend", "insert", "clear", "sort", "reverse"}),
    "set": frozenset({"add", "update", "discard", "clear", "difference_update", "intersection_update",
                      "symmetric_difference_update"}),
}
#: methods that read one key: (read kind, does the read need the key to exist?)
KEYED_METHODS = {"get": "read", "setdefault": "read-write", "pop": "read"}
#: attributes of flask's g object that a stored key must not shadow
G_RESERVED = frozenset({"get", "pop", "setdefault"})
#: hooks Flask runs before the view of the same request, in registration order
BEFORE_HOOKS = frozenset({"before_request", "before_app_request"})
#: list methods after which ``[-1]`` is the element this statement added
APPENDS = frozenset({"append"})
_NO_KEY = object()


@dataclass(frozen=True)
class LocalKey:
    """A key that is a local of the handler bound exactly once (``key = f"sq-{n}"``, or a
    parameter never rebound): the same value at every use in one request, so a write of it
    followed by a read of it is request-scoped, like a constant key."""

    name: str

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Move:
    """One container the transform moves: its assignment, and either the subscripts that
    become ``g.<key>`` ("attr") or the handlers that bind it from ``g`` ("container")."""

    name: str
    kind: str
    style: str
    statement: Span
    subscripts: tuple[tuple[Span, str], ...]
    handlers: tuple[tuple[int, str], ...]
    namespace: str


@dataclass(frozen=True)
class Moves:
    moves: tuple[Move, ...]
    g_expr: str


@dataclass
class Use:
    node: ast.Name = field(repr=False)
    kind: UseKind
    key: object = _NO_KEY  # the constant key, or _NO_KEY when not constant
    subscript: ast.Subscript | None = field(default=None, repr=False)  # for plain N[key] uses
    method: str | None = None  # the container method called (``append``...)


@dataclass
class Candidate:
    name: str
    kind: ContainerKind
    statement: ast.stmt = field(repr=False)
    empty: bool
    uses: list[Use] = field(default_factory=list)


def plan(inp: PlanInput) -> FilePlan:
    return _Planner(inp).run()


class _Planner(Planner):
    ID = ID

    def references(self, name: str) -> list[ast.Name]:
        return sorted(self.scopes.references(name, self.tree), key=lambda n: (n.lineno, n.col_offset))

    def run(self) -> FilePlan:
        if not self.flask.handlers:
            return self.out
        candidates = [c for c in self._candidates() if self.references(c.name)]
        if not candidates:
            return self.out
        plans: dict[str, tuple[Candidate, str]] = {}
        attr_keys_taken: set[str] = set()
        for cand in candidates:
            verdict = self._check(cand)
            if verdict is None:
                continue  # not the anti-pattern: never written in a handler
            if self._suppressed(cand):
                continue  # a `# flaskfix: ignore` comment holds it back (counted)
            if verdict is not True:
                line, reason = verdict  # type: ignore[misc]
                self.add_finding(line, f"`{cand.name}` not moved to flask.g: {reason}")
                continue
            style = "attr" if self._attribute_style_ok(cand, attr_keys_taken) else "container"
            if style == "attr":
                attr_keys_taken |= {str(u.key) for u in cand.uses}
            plans[cand.name] = (cand, style)
        if not plans:
            return self.out
        g_expr = self._g_expression(plans)
        if g_expr is None:
            return self.out
        moves = []
        for name, (cand, style) in plans.items():
            if style == "attr":
                where = f"g.{', g.'.join(sorted({str(u.key) for u in cand.uses}))}"
            else:
                where = f'g.setdefault("{self._namespace(cand)}", ...)'
            handlers = tuple(dict.fromkeys((f.lineno, f.name) for f in (self.scopes.scope_of(u.node) for u in cand.uses)))
            moves.append(Move(
                name, cand.kind, style, self.lines.span(cand.statement),
                tuple((self.lines.span(u.subscript), str(u.key)) for u in cand.uses if style == "attr" and u.subscript is not None),
                handlers if style == "container" else (),
                self._namespace(cand),
            ))
            self.out.changes.append(Change(cand.statement.lineno, ID, f"moved module-level `{name}` to per-request storage on flask.g ({where})"))
        self.out.edits.append(CodemodEdit(Moves(tuple(moves), g_expr)))
        return self.out

    # -- finding candidates --------------------------------------------------------------

    def _suppressed(self, cand: Candidate) -> bool:
        refs = self.references(cand.name)
        funcs = {id(f): f for f in (self.scopes.enclosing_function(r) for r in refs) if f is not None}
        return self.held_back([node_lines(cand.statement), *(node_lines(r) for r in refs)],
                              *([def_lines(f)] for f in funcs.values()))

    def _candidates(self) -> list[Candidate]:
        out = []
        for stmt, target, value in self.module_assignments():
            kind_empty = self._container_kind(value)
            if kind_empty is not None:
                out.append(Candidate(target.id, kind_empty[0], stmt, kind_empty[1]))
        return out

    def _container_kind(self, value: ast.AST) -> tuple[ContainerKind, bool] | None:
        if isinstance(value, ast.Dict):
            return "dict", not value.keys
        if isinstance(value, ast.List):
            return "list", not value.elts
        if isinstance(value, ast.Set):
            return "set", False
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("dict", "list", "set"):
            if self.scopes.is_builtin(value.func, value.func.id):
                return value.func.id, not value.args and not value.keywords  # type: ignore[return-value]
        return None

    # -- proving it safe -----------------------------------------------------------------

    def _check(self, cand: Candidate) -> tuple[int, str] | bool | None:
        """None: not the anti-pattern. True: safe. (line, reason): refused."""
        name = cand.name
        refusal: tuple[int, str] | None = None
        mutated_in_handler = False
        handlers_used: dict[int, tuple[Any, list[Use]]] = {}
        for node in self.references(name):
            line = node.lineno
            use = self._classify(node, cand.kind)
            scope = self.scopes.scope_of(node)
            func = scope if isinstance(scope, FUNCTIONS) else None
            handler = self.flask.handler(func) if func is not None else None
            if handler is not None and use.kind in ("write", "read-write", "delete"):
                mutated_in_handler = True
            if refusal is not None:
                continue
            if scope is self.tree:
                refusal = (line, "used outside request handlers, at module level")
            elif isinstance(scope, ast.GeneratorExp):
                refusal = (line, "escapes into a generator expression that may run after the request")
            elif isinstance(scope, COMPREHENSIONS):
                refusal = (line, "used inside a comprehension; flaskfix does not follow it")
            elif func is None:
                refusal = (line, "escapes into a lambda or nested scope")
            elif handler is None:
                outer = self.scopes.enclosing_function(func)
                if outer is not None and self.flask.handler(outer) is not None:
                    refusal = (line, f"escapes into nested function `{func.name}()` (it may run in another thread or after the request)")
                else:
                    refusal = (line, f"used outside request handlers, in `{func.name}()`")
            else:
                handlers_used.setdefault(id(func), (func, []))[1].append(use)
        if not mutated_in_handler:
            return None
        if refusal is not None:
            return refusal
        stmt_line = cand.statement.lineno
        if not cand.empty:
            return (stmt_line, "it starts with content, so it is shared data rather than per-request storage")
        bindings = self.scopes.bindings[self.tree].get(name, [])
        if len(bindings) != 1:
            lines = sorted(b.lineno for b in bindings)  # type: ignore[attr-defined]
            return (lines[-1] if lines else stmt_line, "it is rebound (assigned more than once, or through `global`)")
        globals_line = min((n.lineno for n in ast.walk(self.tree) if isinstance(n, ast.Global) and name in n.names), default=0)
        if globals_line:
            return (globals_line, f"rebound through `global {name}`")
        if self.in_dunder_all(name):
            return (stmt_line, "listed in __all__, so other modules may use it")
        if re.search(r"\b(?:globals|vars)\(\)", self.text):
            return (stmt_line, "the module calls globals()/vars(), which may reach it by name")
        external = self.project.external_uses(self.inp.path, name)
        if external:
            e = external[0]
            return (stmt_line, f"used by another module ({e.path}:{e.line}: {e.how})")
        provided, by_hooks = self._provided_by_hooks(cand, handlers_used)
        for func, uses in handlers_used.values():
            verdict = self._check_handler(cand, func, uses, provided.get(id(func), set()), by_hooks)
            if verdict is not None:
                return verdict
            cand.uses.extend(uses)
        return True

    def _provided_by_hooks(self, cand: Candidate, handlers_used: dict[int, tuple[Any, list[Use]]]
                           ) -> tuple[dict[int, set[object]], dict[object, tuple[str, bool]]]:
        """The keys each view finds written in the same request by a ``before_request``
        hook: one of the view's own app or blueprint (Flask runs it before every view of
        that object) that writes the key unconditionally, at the top level of its body,
        before any ``return`` (a hook that returns early without writing, returning
        None, lets the view run anyway). Also: key -> the hook(s) writing it, for findings."""
        hooks: list[tuple[Any, set[object]]] = []
        by_hooks: dict[object, tuple[str, bool]] = {}
        maybe: dict[object, str] = {}  # written by a hook, but under a condition or after a return
        for func, uses in handlers_used.values():
            handler = self.flask.handler(func)
            if handler is None or handler.kind != "hook" or handler.hook not in BEFORE_HOOKS or handler.owner is None:
                continue
            returns = [n.lineno for n in ast.walk(func) if isinstance(n, ast.Return)]
            first_return = min(returns, default=None)
            groups = _lines_of(func)
            keys: set[object] = set()
            for use in uses:
                if use.kind not in ("write", "read-write") or use.key is _NO_KEY or isinstance(use.key, LocalKey):
                    continue
                group = next((g for g in groups if any(a is s for s in g for a in [use.node, *self.scopes.ancestors(use.node)])), None)
                if group is None or not self._is_plain(group, use) or (
                        first_return is not None and first_return <= (group[-1].end_lineno or group[-1].lineno)):
                    maybe.setdefault(use.key, f"`{func.name}()` (a before_request hook of `{handler.owner.name}`)")
                    continue
                keys.add(use.key)
            if keys:
                hooks.append((handler.owner, keys))
                for key in keys:
                    by_hooks.setdefault(key, (f"`{func.name}()` (a before_request hook of `{handler.owner.name}`)", True))
        out: dict[int, set[object]] = {}
        for func, _uses in handlers_used.values():
            handler = self.flask.handler(func)
            if handler is not None and handler.kind == "view" and handler.owner is not None:
                for owner, keys in hooks:
                    if owner is handler.owner:
                        out.setdefault(id(func), set()).update(keys)
        for key, who in maybe.items():
            by_hooks.setdefault(key, (who, False))
        return out, by_hooks

    def _classify(self, node: ast.Name, kind: ContainerKind) -> Use:
        parent = self.scopes.parent(node)
        use = Use(node, "whole")
        if isinstance(parent, ast.Subscript) and parent.value is node:
            use.subscript = parent
            use.key = self._key(parent.slice) if not isinstance(parent.slice, (ast.Slice, ast.Tuple)) else _NO_KEY
            grand = self.scopes.parent(parent)
            if isinstance(grand, (ast.Tuple, ast.List, ast.Set, ast.Starred)):
                use.kind = "whole"  # unpacking targets and the like: not followed
                use.subscript = None
            elif isinstance(grand, ast.Assign) and any(t is parent for t in grand.targets):
                use.kind = "write"
            elif isinstance(grand, ast.AugAssign) and grand.target is parent:
                use.kind = "read-write"
            elif isinstance(grand, ast.Delete):
                if len(grand.targets) == 1:
                    use.kind = "delete"
                else:
                    use.kind, use.subscript = "whole", None
            elif isinstance(grand, (ast.For, ast.AsyncFor, ast.withitem, ast.comprehension)) and isinstance(parent.ctx, ast.Store):
                use.kind, use.subscript = "whole", None
            else:
                use.kind = "read"
            return use
        if isinstance(parent, ast.Attribute) and parent.value is node:
            call = self.scopes.parent(parent)
            if isinstance(call, ast.Call) and call.func is parent:
                method = parent.attr
                if method in WRITE_ONLY_METHODS[kind]:
                    use.kind, use.method = "write", method
                    if kind == "list" and method in APPENDS and len(call.args) == 1 and not call.keywords:
                        use.key = -1  # after it, [-1] is what it appended
                    return use
                if kind == "dict" and method in KEYED_METHODS and (call.args or call.keywords):
                    use.key = self._key(call.args[0]) if call.args else _NO_KEY
                    if method == "pop" and len(call.args) + len(call.keywords) == 1:
                        use.kind = "delete"
                    else:
                        use.kind = KEYED_METHODS[method]  # type: ignore[assignment]
                    return use
        return use

    def _key(self, expr: ast.AST) -> object:
        """A constant key, a ``LocalKey``, or ``_NO_KEY`` (computed at run time)."""
        key = _const_arg(expr)
        if key is _NO_KEY and isinstance(expr, ast.Name):
            scope = self.scopes.scope_of(expr)
            if isinstance(scope, FUNCTIONS) and self.scopes.resolve(expr.id, scope) is scope \
                    and len(self.scopes.binders(expr.id, scope)) == 1:
                return LocalKey(expr.id)
        return key

    def _check_handler(self, cand: Candidate, func: Any, uses: list[Use], provided: set[object],
                       by_hooks: dict[object, tuple[str, bool]]) -> tuple[int, str] | None:
        fname = func.name
        if is_generator_function(func):
            return (func.lineno, f"`{fname}()` is a generator: a streamed response may outlive the request")
        for use in uses:
            if use.kind == "whole":
                return (
                    use.node.lineno,
                    f"`{fname}()` reads the whole container, which holds what earlier requests stored; "
                    "moving it to g would change the response. If it is meant as a cache, bound it "
                    "(functools.lru_cache, cachetools.TTLCache or Flask-Caching)",
                )
        # Walk the top-level lines in order: reads must hit keys written earlier.
        lines = _lines_of(func)
        line_of: dict[int, int] = {id(s): i for i, group in enumerate(lines) for s in group}
        by_line: dict[int, list[Use]] = {}
        for use in uses:
            stmt = next((a for a in [use.node, *self.scopes.ancestors(use.node)] if id(a) in line_of), None)
            if stmt is None:
                return (use.node.lineno, "used in a way flaskfix cannot follow")
            by_line.setdefault(line_of[id(stmt)], []).append(use)
        written: set[object] = set(provided)
        for i, group in enumerate(lines):
            line_uses = by_line.get(i, [])
            for use in line_uses:
                if use.kind in ("read", "read-write", "delete"):
                    if use.key is _NO_KEY:
                        return (
                            use.node.lineno,
                            f"`{fname}()` reads a key computed at run time, which earlier requests may have "
                            "stored: this is a cross-request cache. Bound it instead (functools.lru_cache, "
                            "cachetools.TTLCache or Flask-Caching)",
                        )
                    if use.key not in written and use.key in by_hooks:
                        hook, certain = by_hooks[use.key]
                        handler = self.flask.handler(func)
                        if not certain:
                            why = "writes it only under a condition or after a `return` (one returning None lets the view run without it)"
                        elif handler is not None and handler.kind == "view":
                            why = f"writes it, but does not run before `{fname}()` (a view of another app or blueprint)"
                        else:
                            why = (f"writes it, but `{fname}()` runs as `{handler.hook if handler is not None else 'a hook'}`, "
                                   "which Flask also calls when the request ended early (another hook answered or "
                                   "raised first) without the write")
                        return (use.node.lineno, f"`{fname}()` reads `{cand.name}[{use.key!r}]`: {hook} {why}")
                    if use.key not in written:
                        return (
                            use.node.lineno,
                            f"`{fname}()` reads `{cand.name}[{use.key!r}]` before writing it in the same request: "
                            "it relies on what earlier requests stored (a cross-request cache; bound it instead)",
                        )
            for use in line_uses:
                if use.kind == "delete" and use.key in written:
                    written.discard(use.key)
            for use in line_uses:
                if use.kind in ("write", "read-write") and use.key is not _NO_KEY and self._is_plain(group, use):
                    written.add(use.key)
        return None

    def _is_plain(self, group: list[ast.stmt], use: Use) -> bool:
        """Is ``use`` a write made by a simple statement of the line itself, unconditionally?"""
        if any(isinstance(s, _COMPOUND) for s in group):
            return False
        for anc in self.scopes.ancestors(use.node):
            if any(anc is s for s in group):
                return True
            if isinstance(anc, (ast.IfExp, ast.BoolOp, ast.Lambda, *COMPREHENSIONS)):
                return False
        return False

    # -- choosing the output -------------------------------------------------------------

    def _attribute_style_ok(self, cand: Candidate, taken: set[str]) -> bool:
        if cand.kind != "dict" or not cand.uses:
            return False
        keys = set()
        for use in cand.uses:
            if use.subscript is None or not isinstance(use.key, str):
                return False
            k = use.key
            if not k.isidentifier() or keyword.iskeyword(k) or k.startswith("_") or k in G_RESERVED or k in taken:
                return False
            keys.add(k)
        for k in keys:
            # g.<k>, getattr(g, "<k>"), g.get("<k>")...: any attribute or string named k
            # other than our own subscripts means the attribute may already be in use.
            pattern = re.compile(rf"\.\s*{re.escape(k)}\b|['\"]{re.escape(k)}['\"]")
            sites = sum(1 for u in cand.uses if u.key == k)
            if len(pattern.findall(self.text)) != sites:
                return False
            for path in self.project.files_mentioning(k, exclude=self.inp.path):
                text = self.project.text(path) or ""
                if pattern.search(text):
                    return False
        return True

    def _namespace(self, cand: Candidate) -> str:
        module = self.inp.module_name
        return f"{module}.{cand.name}" if module else cand.name

    def _g_expression(self, plans: dict[str, tuple[Candidate, str]]) -> str | None:
        existing = self.scopes.expression_for("flask.g")
        name = existing
        if name is None:
            name = "g" if "g" not in self.scopes.bound_names() else self.free_name("flask_g")
        local = name.split(".")[0]
        for cand, _style in plans.values():
            for use in cand.uses:
                scope = self.scopes.scope_of(use.node)
                if local in self.scopes.bindings.get(scope, {}) and scope is not self.tree:
                    self.add_finding(use.node.lineno, f"`{cand.name}` not moved to flask.g: `{local}` is bound locally in this handler")
                    return None
        if existing is None:
            self.out.imports.append(("flask", "g", None if name == "g" else name))
        return name


_TRY = tuple(t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t is not None)
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, *_TRY, ast.Match, *FUNCTIONS, ast.ClassDef)


def _lines_of(func: Any) -> list[list[ast.stmt]]:
    """The function body's top-level statements, grouped by the line they share (``a; b``);
    none for a body written on the ``def`` line."""
    body = func.body
    if not body or body[0].lineno == func.lineno:
        return []
    groups: list[list[ast.stmt]] = []
    for stmt in body:
        if groups and not isinstance(stmt, _COMPOUND) and not isinstance(groups[-1][-1], _COMPOUND) \
                and stmt.lineno == (groups[-1][-1].end_lineno or groups[-1][-1].lineno):
            groups[-1].append(stmt)
        else:
            groups.append([stmt])
    return groups


def _const_arg(expr: ast.AST) -> object:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, (str, bytes, int)) and not isinstance(expr.value, bool):
        return expr.value
    if (isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub) and isinstance(expr.operand, ast.Constant)
            and type(expr.operand.value) is int):
        return -expr.operand.value  # ``[-1]``: a list's last element
    return _NO_KEY
