"""global-to-g: request-scoped data kept in a module-level container moves to ``flask.g``.

A module-level dict/list/set that request handlers write into lives as long as the
process: every request adds to it and nothing ever removes it. When the data is only
needed for the rest of the same request, it belongs on ``flask.g``, which Flask drops
when the request's app context ends.

The rewrite is only safe when no request can observe what an earlier request stored.
So the codemod proves, for every handler, that each read of the container reads a
constant key that the same handler wrote earlier, unconditionally, in straight-line
code. A read of anything else (``k in CACHE``, ``len(items)``, ``CACHE.get(k)``, passing
the container along, iterating it) may see another request's data: that is a
cross-request cache or a bug whose output would change, and it is refused with a
finding.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass, field
from typing import Literal, Union

import libcst as cst
from libcst.metadata import PositionProvider, ScopeProvider
from libcst.metadata.scope_provider import (
    Access,
    Assignment,
    ComprehensionScope,
    FunctionScope,
    GlobalScope,
)

from flaskfix.codemods.ast_facts import HANDLER_TEXT, AstFacts
from flaskfix.codemods import detection
from flaskfix.codemods.base import FlaskfixCodemod, quote_style, string_literal
from flaskfix.codemods.flask_model import Handler, is_docstring, is_generator_function, module_assignments

ContainerKind = Literal["dict", "list", "set"]
UseKind = Literal["write", "read", "read-write", "delete", "whole"]

#: methods that change the container and observe nothing of its previous content
WRITE_ONLY_METHODS: dict[ContainerKind, frozenset[str]] = {
    "dict": frozenset({"update", "clear"}),
    "list": frozenset({"append", "extend", "insert", "clear", "sort", "reverse"}),
    "set": frozenset({"add", "update", "discard", "clear", "difference_update", "intersection_update",
                      "symmetric_difference_update"}),
}
#: methods that read one key: (read kind, does the read need the key to exist?)
KEYED_METHODS = {"get": "read", "setdefault": "read-write", "pop": "read"}
#: attributes of flask's g object that a stored key must not shadow
G_RESERVED = frozenset({"get", "pop", "setdefault"})

ConstKey = Union[str, int, float, bytes, None]
_NO_KEY = object()


@dataclass
class Use:
    access: Access = field(repr=False)
    node: cst.Name = field(repr=False)
    kind: UseKind
    key: object = _NO_KEY  # the constant key, or _NO_KEY when not constant
    subscript: cst.Subscript | None = field(default=None, repr=False)  # for plain N[key] uses


@dataclass
class Candidate:
    name: str
    kind: ContainerKind
    statement: cst.SimpleStatementLine = field(repr=False)
    small: cst.BaseSmallStatement = field(repr=False)
    empty: bool
    uses: list[Use] = field(default_factory=list)


class GlobalToG(FlaskfixCodemod):
    ID = "global-to-g"
    ORDER = 10
    SUMMARY = "Module-level dict/list/set written by request handlers becomes per-request storage on flask.g"
    WHY = """
        A module-level container that request handlers write into is shared by every
        request and lives as long as the worker process. Each request adds entries and
        none are removed, so memory grows until the process is restarted. Data that is
        only needed for the rest of one request belongs on flask.g, which Flask discards
        when the request ends.
    """
    BEHAVIOUR = """
        The data now lives for one request only: each request starts with an empty
        container, and nothing accumulates in the process. flaskfix only rewrites when it
        can prove that no request reads what an earlier request stored, so responses stay
        the same. Code that runs outside a request (CLI commands, background threads) can
        no longer reach the data; flaskfix refuses when the container is used there. Note
        that g belongs to the app context: a test that pushes one app context around
        several requests shares g between them.
    """
    REFUSES = (
        "a handler reads the container before writing it, or reads it as a whole (a cross-request cache: bound it instead)",
        "the container is used outside request handlers (module level, helpers, CLI commands)",
        "another module imports it, or it is listed in __all__",
        "it is rebound (a second assignment or a `global` statement)",
        "it escapes into a nested function, lambda, generator or thread",
        "the handler is a generator (a streamed response may outlive the request's g)",
        "a handler binds the name used for flask.g locally",
        "it starts with content (a lookup table, not per-request storage)",
    )
    EXAMPLE_BEFORE = '''\
from flask import Flask

app = Flask(__name__)
cache = {}


@app.route("/data")
def store_data():
    cache["data"] = {"key": "value"}
    return "Stored!"
'''
    EXAMPLE_AFTER = '''\
from flask import Flask, g

app = Flask(__name__)


@app.route("/data")
def store_data():
    g.data = {"key": "value"}
    return "Stored!"
'''
    PREFILTER = (
        HANDLER_TEXT,
        r"^[A-Za-z_]\w*\s*(?::[^=\n]+)?=\s*(?:\{|\[|set\(|dict\(|list\()",
    )
    METADATA_DEPENDENCIES = (ScopeProvider, PositionProvider)

    @classmethod
    def detect(cls, facts: AstFacts) -> bool:
        """``detection.global_to_g`` (LibCST-free, so that a run needs no codemod import to ask it)."""
        return detection.global_to_g(facts)

    def rewrite(self, tree: cst.Module) -> cst.Module:
        model = self.flask
        if not model.handlers:
            return tree
        module_scope = model.module_scope()
        candidates = [c for c in self._candidates(tree) if model.global_references(c.name)]
        if not candidates:
            return tree
        plans: dict[str, tuple[Candidate, str]] = {}  # name -> (candidate, style)
        attr_keys_taken: set[str] = set()
        for cand in candidates:
            verdict = self._check(cand, module_scope)
            if verdict is None:
                continue  # not the anti-pattern: never written in a handler
            if self._suppressed(cand):
                continue  # a `# flaskfix: ignore` comment holds it back (counted by the base)
            if verdict is not True:
                line, reason = verdict
                self.add_finding(line, f"`{cand.name}` not moved to flask.g: {reason}")
                continue
            style = "attr" if self._attribute_style_ok(cand, attr_keys_taken) else "container"
            if style == "attr":
                attr_keys_taken |= {str(u.key) for u in cand.uses}
            plans[cand.name] = (cand, style)
        if not plans:
            return tree
        g_expr = self._g_expression(model, plans)
        if g_expr is None:
            return tree
        replacements: dict[cst.CSTNode, cst.CSTNode] = {}
        removals: dict[cst.CSTNode, cst.BaseSmallStatement] = {}
        prologues: dict[cst.CSTNode, list[cst.SimpleStatementLine]] = {}
        for name, (cand, style) in plans.items():
            if style == "attr":
                for use in cand.uses:
                    assert use.subscript is not None
                    replacements[use.subscript] = cst.Attribute(value=cst.parse_expression(g_expr), attr=cst.Name(str(use.key)))
                where = f"g.{', g.'.join(sorted({str(u.key) for u in cand.uses}))}"
            else:
                # Bind the per-request container once per handler, under the global's own
                # name: the handler's body stays exactly as it was.
                for func in dict.fromkeys(u.access.scope.node for u in cand.uses):
                    prologues.setdefault(func, []).append(
                        cst.parse_statement(f"{name} = {self._container_expr(g_expr, cand)}\n")  # type: ignore[arg-type]
                    )
                where = f'g.setdefault("{self._namespace(cand)}", ...)'
            removals[cand.statement] = cand.small
            self.add_change(cand.statement, f"moved module-level `{name}` to per-request storage on flask.g ({where})")
        return tree.visit(_Rewriter(replacements, removals, prologues))

    # -- finding candidates --------------------------------------------------------------

    def _suppressed(self, cand: Candidate) -> bool:
        refs = [a.node for a in self.flask.global_references(cand.name)]
        if self.suppressed(cand.statement, *refs):
            return True
        funcs = {self.flask.enclosing_function(node) for node in refs} - {None}
        return any(self.suppressed(view=f) for f in funcs)  # type: ignore[arg-type]

    def _candidates(self, tree: cst.Module) -> list[Candidate]:
        out = []
        for stmt, small, target, value in module_assignments(tree):
            kind_empty = self._container_kind(value)
            if kind_empty is not None:
                out.append(Candidate(target.value, kind_empty[0], stmt, small, kind_empty[1]))
        return out

    def _container_kind(self, value: cst.BaseExpression) -> tuple[ContainerKind, bool] | None:
        if isinstance(value, cst.Dict):
            return "dict", not value.elements
        if isinstance(value, cst.List):
            return "list", not value.elements
        if isinstance(value, cst.Set):
            return "set", False
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in ("dict", "list", "set"):
            if self.flask.refers_to(value.func, f"builtins.{value.func.value}"):
                return value.func.value, not value.args  # type: ignore[return-value]
        return None

    # -- proving it safe -----------------------------------------------------------------

    def _check(self, cand: Candidate, module_scope: GlobalScope) -> tuple[int, str] | bool | None:
        """None: not the anti-pattern. True: safe. (line, reason): refused."""
        model = self.flask
        name = cand.name
        refusal: tuple[int, str] | None = None
        mutated_in_handler = False
        handlers_used: dict[cst.FunctionDef, list[Use]] = {}
        for access in sorted(model.global_references(name), key=lambda a: self.line_of(a.node)):
            node = access.node
            if not isinstance(node, cst.Name):
                refusal = refusal or (self.line_of(node), "used in a way flaskfix cannot follow")
                continue
            line = self.line_of(node)
            use = self._classify(access, node, cand.kind)
            scope = access.scope
            func = None
            if isinstance(scope, FunctionScope) and isinstance(scope.node, cst.FunctionDef):
                func = scope.node
            handler = model.handler(func) if func is not None else None
            if handler is not None and use.kind in ("write", "read-write", "delete"):
                mutated_in_handler = True
            if refusal is not None:
                continue
            if isinstance(scope, GlobalScope):
                refusal = (line, "used outside request handlers, at module level")
            elif isinstance(scope, ComprehensionScope) and _is_generator(scope.node):
                refusal = (line, "escapes into a generator expression that may run after the request")
            elif isinstance(scope, ComprehensionScope):
                refusal = (line, "used inside a comprehension; flaskfix does not follow it")
            elif not isinstance(scope, FunctionScope) or func is None:
                refusal = (line, "escapes into a lambda or nested scope")
            elif handler is None:
                outer = model.enclosing_handler(func)
                if outer is not None:
                    refusal = (line, f"escapes into nested function `{func.name.value}()` (it may run in another thread or after the request)")
                else:
                    refusal = (line, f"used outside request handlers, in `{func.name.value}()`")
            else:
                handlers_used.setdefault(func, []).append(use)
        if not mutated_in_handler:
            return None
        if refusal is not None:
            return refusal
        if not cand.empty:
            return (self.line_of(cand.statement), "it starts with content, so it is shared data rather than per-request storage")
        if len(module_scope.assignments[name]) != 1:
            lines = sorted(self.line_of(a.node) for a in module_scope.assignments[name] if isinstance(a, Assignment))
            return (lines[-1] if lines else self.line_of(cand.statement), "it is rebound (assigned more than once, or through `global`)")
        globals_line = self._global_statement_line(name)
        if globals_line:
            return (globals_line, f"rebound through `global {name}`")
        if _in_dunder_all(self.flask.module, name):
            return (self.line_of(cand.statement), "listed in __all__, so other modules may use it")
        if re.search(r"\b(?:globals|vars)\(\)", self.flask.module.code):
            return (self.line_of(cand.statement), "the module calls globals()/vars(), which may reach it by name")
        external = self.project.external_uses(self.run.path, name)
        if external:
            e = external[0]
            return (self.line_of(cand.statement), f"used by another module ({e.path}:{e.line}: {e.how})")
        for func, uses in handlers_used.items():
            verdict = self._check_handler(cand, func, uses, self.flask.handler(func))  # type: ignore[arg-type]
            if verdict is not None:
                return verdict
            cand.uses.extend(uses)
        return True

    def _classify(self, access: Access, node: cst.Name, kind: ContainerKind) -> Use:
        model = self.flask
        parent = model.parent(node)
        use = Use(access, node, "whole")
        if isinstance(parent, cst.Subscript) and parent.value is node:
            key = _const_key(parent)
            grand = model.parent(parent)
            use.subscript = parent
            use.key = key
            ctx_parent = grand
            # Subscript is wrapped in AssignTarget/Del/AugAssign
            if isinstance(ctx_parent, cst.AssignTarget) and ctx_parent.target is parent:
                use.kind = "write"
            elif isinstance(ctx_parent, cst.AugAssign) and ctx_parent.target is parent:
                use.kind = "read-write"
            elif isinstance(ctx_parent, cst.Del) and ctx_parent.target is parent:
                use.kind = "delete"
            elif isinstance(ctx_parent, (cst.For, cst.WithItem, cst.AsName, cst.CompFor)) or (
                isinstance(ctx_parent, (cst.Element, cst.Tuple, cst.List, cst.StarredElement))
            ):
                use.kind = "whole"  # unpacking targets and the like: not followed
                use.subscript = None
            else:
                use.kind = "read"
            return use
        if isinstance(parent, cst.Attribute) and parent.value is node:
            call = model.parent(parent)
            if isinstance(call, cst.Call) and call.func is parent:
                method = parent.attr.value
                if method in WRITE_ONLY_METHODS[kind]:
                    use.kind = "write"
                    return use
                if kind == "dict" and method in KEYED_METHODS and call.args:
                    use.key = _const_arg(call.args[0].value)
                    if method == "pop" and len(call.args) == 1:
                        use.kind = "delete"
                    else:
                        use.kind = KEYED_METHODS[method]  # type: ignore[assignment]
                    return use
        return use

    def _check_handler(self, cand: Candidate, func: cst.FunctionDef, uses: list[Use], handler: Handler) -> tuple[int, str] | None:
        fname = func.name.value
        if is_generator_function(func):
            return (self.line_of(func), f"`{fname}()` is a generator: a streamed response may outlive the request")
        for use in uses:
            if use.kind == "whole":
                return (
                    self.line_of(use.node),
                    f"`{fname}()` reads the whole container, which holds what earlier requests stored; "
                    "moving it to g would change the response. If it is meant as a cache, bound it "
                    "(functools.lru_cache, cachetools.TTLCache or Flask-Caching)",
                )
        # Walk the top-level statements in order: reads must hit keys written earlier.
        by_stmt: dict[cst.CSTNode, list[Use]] = {}
        top = set(func.body.body) if isinstance(func.body, cst.IndentedBlock) else set()
        for use in uses:
            stmt = next((a for a in [use.node, *self.flask.ancestors(use.node)] if a in top), None)
            if stmt is None:
                return (self.line_of(use.node), "used in a way flaskfix cannot follow")
            by_stmt.setdefault(stmt, []).append(use)
        written: set[object] = set()
        body = func.body.body if isinstance(func.body, cst.IndentedBlock) else ()
        for stmt in body:
            stmt_uses = by_stmt.get(stmt, [])
            for use in stmt_uses:
                if use.kind in ("read", "read-write", "delete"):
                    if use.key is _NO_KEY:
                        return (
                            self.line_of(use.node),
                            f"`{fname}()` reads a key computed at run time, which earlier requests may have "
                            "stored: this is a cross-request cache. Bound it instead (functools.lru_cache, "
                            "cachetools.TTLCache or Flask-Caching)",
                        )
                    if use.key not in written:
                        return (
                            self.line_of(use.node),
                            f"`{fname}()` reads `{cand.name}[{use.key!r}]` before writing it in the same request: "
                            "it relies on what earlier requests stored (a cross-request cache; bound it instead)",
                        )
            for use in stmt_uses:
                if use.kind == "delete" and use.key in written:
                    written.discard(use.key)
            for use in stmt_uses:
                if use.kind in ("write", "read-write") and use.key is not _NO_KEY and _is_plain_statement(stmt, use, self.flask):
                    written.add(use.key)
        return None

    def _global_statement_line(self, name: str) -> int:
        found = 0

        class V(cst.CSTVisitor):
            def visit_Global(self_inner, node: cst.Global) -> None:
                nonlocal found
                if any(n.name.value == name for n in node.names) and not found:
                    found = self.line_of(node)

        self.flask.module.visit(V())
        return found

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
        code = self.flask.module.code
        for k in keys:
            # g.<k>, getattr(g, "<k>"), g.get("<k>")...: any attribute or string named k
            # other than our own subscripts means the attribute may already be in use.
            pattern = re.compile(rf"\.\s*{re.escape(k)}\b|['\"]{re.escape(k)}['\"]")
            sites = sum(1 for u in cand.uses if u.key == k)
            if len(pattern.findall(code)) != sites:
                return False
            for path in self.project.files_mentioning(k, exclude=self.run.path):
                text = self.project.text(path) or ""
                if pattern.search(text):
                    return False
        return True

    def _namespace(self, cand: Candidate) -> str:
        module = self.run.module_name
        return f"{module}.{cand.name}" if module else cand.name

    def _container_expr(self, g_expr: str, cand: Candidate) -> str:
        empty = {"dict": "{}", "list": "[]", "set": "set()"}[cand.kind]
        key = string_literal(self._namespace(cand), quote_style(self.flask.module))
        return f"{g_expr}.setdefault({key}, {empty})"

    def _g_expression(self, model, plans) -> str | None:  # type: ignore[no-untyped-def]
        existing = model.expression_for("flask.g")
        name = existing or None
        if name is None:
            name = "g" if "g" not in model.bound_names() else model.free_name("flask_g")
        local = name.split(".")[0]
        for cand, _style in plans.values():
            for use in cand.uses:
                scope = use.access.scope
                if local in scope and any(isinstance(a, Assignment) and a.scope is scope for a in scope[local]):
                    self.add_finding(use.node, f"`{cand.name}` not moved to flask.g: `{local}` is bound locally in this handler")
                    return None
        if existing is None:
            self.add_import("flask", "g", None if name == "g" else name)
        return name


class _Rewriter(cst.CSTTransformer):
    def __init__(
        self,
        replacements: dict[cst.CSTNode, cst.CSTNode],
        removals: dict[cst.CSTNode, cst.BaseSmallStatement],
        prologues: dict[cst.CSTNode, list[cst.SimpleStatementLine]],
    ) -> None:
        self.replacements = replacements
        self.removals = removals
        self.prologues = prologues

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        if original_node in self.replacements:
            return self.replacements[original_node]
        if original_node in self.prologues:
            body = list(updated_node.body.body)
            at = 1 if body and is_docstring(body[0]) else 0
            body[at:at] = self.prologues[original_node]
            return updated_node.with_changes(body=updated_node.body.with_changes(body=body))
        if original_node in self.removals:
            small = self.removals[original_node]
            assert isinstance(updated_node, cst.SimpleStatementLine)
            rest = [s for s, o in zip(updated_node.body, original_node.body) if o is not small]
            if not rest:
                return cst.RemoveFromParent()
            rest[-1] = rest[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            return updated_node.with_changes(body=rest)
        return updated_node


def _const_key(sub: cst.Subscript) -> object:
    if len(sub.slice) != 1 or not isinstance(sub.slice[0].slice, cst.Index):
        return _NO_KEY
    return _const_arg(sub.slice[0].slice.value)


def _const_arg(expr: cst.BaseExpression) -> object:
    if isinstance(expr, cst.SimpleString):
        return expr.evaluated_value
    if isinstance(expr, cst.Integer):
        return expr.evaluated_value
    return _NO_KEY


def _is_plain_statement(stmt: cst.CSTNode, use: Use, model) -> bool:  # type: ignore[no-untyped-def]
    """Is ``use`` a write made by ``stmt`` itself, unconditionally (not in a nested block)?"""
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    for anc in model.ancestors(use.node):
        if anc is stmt:
            return True
        if isinstance(anc, (cst.IfExp, cst.BooleanOperation, cst.Lambda, cst.BaseComp)):
            return False
    return False


def _is_generator(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.GeneratorExp)


def _in_dunder_all(module: cst.Module, name: str) -> bool:
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                targets = []
                if isinstance(small, cst.Assign):
                    targets = [t.target for t in small.targets]
                elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
                    targets = [small.target]
                if any(isinstance(t, cst.Name) and t.value == "__all__" for t in targets):
                    if re.search(rf"['\"]{re.escape(name)}['\"]", cst.Module([]).code_for_node(small)):
                        return True
    return False
