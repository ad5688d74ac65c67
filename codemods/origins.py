"""Where a value may come from: the value-origin analysis that codemods ask instead of
judging names or shapes.

The shape is CodeQL's Python dataflow (Flask's ``RemoteFlowSource``) and Pysa's: *sources*
label values, *flows* carry the labels through code, and a codemod asks about the labels at
its *sink* (a divisor, an ``int()`` argument, an id looked up in a loop).

Labels (``Origin``):

* the client: ``request.args``, ``request.form``, ``request.values``, ``request.json``
  (``request.json``, ``get_json()``), ``request.data`` (``data``, ``get_data()``),
  ``request.headers``, ``request.cookies``, ``request.files``, ``request.view_args``,
  ``request.other`` (path, method, remote_addr...), and ``url`` (a view's URL parameter);
* the server: ``config`` (``app.config``/``current_app.config``, settings modules and
  ``Config``/``Settings`` classes), ``env`` (``os.environ``, ``os.getenv``), ``constant``
  (literals and expressions of them, module-level names bound only to literals),
  ``database`` (query results and their attributes);
* ``unknown``: anything else (another function's result, a parameter whose call sites
  are not all known, an attribute of an unknown object...). Unknown is never treated as
  either side.

Flows followed: assignments to locals (all of a name's assignments in the function, so
the answer holds on every path), augmented assignments, tuple unpacking, ``for`` loop
items and comprehension variables (the iterable's labels), attribute and subscript reads
and ``.get()``-style methods of a value (its labels), conversions and pure builtins
(``int``, ``float``, ``Decimal``, ``json.loads``, ``datetime.strptime``, ``map``...:
their arguments' labels), arithmetic and boolean operators, conditionals and containers;
and, with a project ``Index``, a helper's parameter: the labels of the arguments at every
call site in the project (a helper with no known call site: ``unknown``).

It is conservative by construction: a label is added whenever a value *may* come from
there, and ``unknown`` is added whenever the analysis cannot follow.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Iterable

from flaskfix.codemods.ast_facts import dotted

if TYPE_CHECKING:
    from flaskfix.codemods.index import Index

Origin = str
Origins = frozenset

REQUEST_PARTS = {
    "args": "request.args", "form": "request.form", "values": "request.values", "json": "request.json",
    "get_json": "request.json", "data": "request.data", "get_data": "request.data", "headers": "request.headers",
    "cookies": "request.cookies", "files": "request.files", "view_args": "request.view_args",
    "stream": "request.data", "input_stream": "request.data",
}
CLIENT = frozenset({*REQUEST_PARTS.values(), "request.other", "url"})
SERVER = frozenset({"config", "env", "constant", "database"})
UNKNOWN: Origins = frozenset({"unknown"})
CONSTANT: Origins = frozenset({"constant"})

REQUEST_NAMES = frozenset({"flask.request", "flask.globals.request", "quart.request"})
CURRENT_APP = frozenset({"flask.current_app", "flask.globals.current_app"})
#: calls whose result comes from their arguments and nothing else
CONVERSIONS = frozenset({
    "int", "float", "str", "bool", "complex", "abs", "round", "min", "max", "sum", "sorted", "reversed", "list",
    "tuple", "set", "frozenset", "dict", "len", "divmod", "pow", "map", "filter", "zip", "enumerate", "iter", "next",
    "decimal.Decimal", "fractions.Fraction", "json.loads", "datetime.datetime.strptime", "datetime.strptime",
    "datetime.date.fromisoformat", "datetime.datetime.fromisoformat", "uuid.UUID", "math.floor", "math.ceil",
    "math.trunc", "urllib.parse.unquote", "html.escape", "markupsafe.escape", "bleach.clean",
})
#: methods whose result comes from the receiver and the arguments
VALUE_METHODS = frozenset({
    "get", "getlist", "to_dict", "items", "keys", "values", "copy", "strip", "lstrip", "rstrip", "lower", "upper",
    "title", "split", "rsplit", "splitlines", "replace", "encode", "decode", "format", "join", "partition",
    "rpartition", "casefold", "removeprefix", "removesuffix", "zfill", "isoformat", "pop", "setdefault",
    "__getitem__", "get_json", "get_data", "read", "date", "time", "quantize",
})
ENV_CALLS = frozenset({"os.getenv", "os.environ.get", "os.environ.__getitem__"})
QUERY_METHODS = frozenset({"all", "first", "one", "one_or_none", "scalar", "scalars", "get", "get_or_404",
                           "first_or_404", "paginate", "execute", "scalar_one", "scalar_one_or_none", "count"})
CONFIG_WORDS = ("config", "settings", "conf")


def from_client(origins: Iterable[Origin]) -> bool:
    """May the value come from the client (the request or the URL)?"""
    return any(o in CLIENT for o in origins)


def only_client(origins: Iterable[Origin]) -> bool:
    """Does the value provably come from the client, possibly mixed with literals, and
    from nothing else (no configuration, database, environment or unknown code)?"""
    origins = set(origins)
    return bool(origins & CLIENT) and origins <= CLIENT | {"constant"}


def server_side(origins: Iterable[Origin]) -> bool:
    """Does the value provably come from the server side only (config, env, constants, database)?"""
    origins = set(origins)
    return bool(origins) and origins <= SERVER


class ModuleOrigins:
    """The analysis for one module. ``index`` (optional) lets it follow names imported
    from other project modules and a helper's parameters to their call sites."""

    def __init__(self, tree: ast.Module, module: str = "", index: Index | None = None, _depth: int = 0) -> None:
        self.tree = tree
        self.module = module
        self.index = index
        self._depth = _depth
        self._imports: dict[str, str] = {}
        self._globals: dict[str, list[ast.expr | None]] = {}
        self._functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self._locals: dict[int, dict[str, list[object]]] = {}
        self._active: set[tuple[int, str]] = set()
        self._parents: dict[ast.AST, ast.AST] | None = None  # built when a comprehension variable is asked about
        self._read_module()

    # -- the module ------------------------------------------------------------------------

    def _read_module(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self._imports[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for a in node.names:
                    self._imports[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.ImportFrom):  # relative: the index resolves it
                for a in node.names:
                    self._globals.setdefault(a.asname or a.name, []).append(None)
        for stmt in self.tree.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            value = stmt.value if t is n and not isinstance(stmt, ast.AugAssign) else None
                            self._globals.setdefault(n.id, []).append(value)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._functions[stmt.name] = stmt
                self._globals.setdefault(stmt.name, []).append(None)
            elif isinstance(stmt, ast.ClassDef):
                self._globals.setdefault(stmt.name, []).append(None)
        for node in ast.walk(self.tree):  # ``global x`` in a function rebinds x: never a constant
            if isinstance(node, ast.Global):
                for name in node.names:
                    self._globals.setdefault(name, []).append(None)

    def qualify(self, expr: ast.expr) -> str:
        name = dotted(expr)
        if not name:
            return ""
        head, _, rest = name.partition(".")
        if head in self._imports:
            base = self._imports[head]
            return f"{base}.{rest}" if rest else base
        if self.index is not None and self.module and head in self._globals:
            return self.index.qualify(self.module, name)
        return name  # a builtin, or a name this module does not bind

    def function(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """A function of this module by qualname (``view`` or ``Cls.method``)."""
        if name in self._functions:
            return self._functions[name]
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name.split(".")[-1]:
                return node
        return None

    # -- the question ------------------------------------------------------------------------

    def of(self, expr: ast.expr, func: ast.FunctionDef | ast.AsyncFunctionDef | None = None,
           url_params: Iterable[str] = ()) -> Origins:
        """Where ``expr``, evaluated inside ``func`` (None: at module level), may come from.
        ``url_params``: the parameters of ``func`` that its route fills from the URL."""
        # empty only when every path led back into a cycle: nothing is known of the value
        url = frozenset(url_params)
        return self._of(expr, func, url, self._comprehension_env(expr, func, url)) or UNKNOWN

    _COMPS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)

    def _comprehension_env(self, expr: ast.expr, func, url: frozenset[str]) -> dict[str, Origins]:
        """The variables of the comprehensions ``expr`` sits in (``int(x)`` in ``[int(x) for
        x in body["ids"]]``: x holds the items of ``body["ids"]``), outermost first; a
        comprehension's first iterable is evaluated outside it, so its own variables do not
        apply there."""
        if self._parents is None:
            self._parents = {child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)}
        chain: list[tuple[ast.AST, ast.AST]] = []  # (comprehension, the child of it on the way to expr)
        child: ast.AST = expr
        node = self._parents.get(expr)
        while node is not None and node is not func:
            if isinstance(node, self._COMPS):
                chain.append((node, child))
            child, node = node, self._parents.get(node)
        env: dict[str, Origins] = {}
        for comp, via in reversed(chain):
            for i, gen in enumerate(comp.generators):  # type: ignore[attr-defined]
                if via is gen and i == 0 and self._inside(expr, gen.iter):
                    break  # expr is in the first iterable: evaluated outside this comprehension
                if via is gen and self._inside(expr, gen.iter):
                    break  # an iterable sees the variables of the generators before it only
                items = self._of(gen.iter, func, url, env)
                for n in ast.walk(gen.target):
                    if isinstance(n, ast.Name):
                        env[n.id] = items
                if via is gen:
                    break  # (expr is in this generator's conditions: its own target applies)
        return env

    def _inside(self, node: ast.AST, container: ast.AST) -> bool:
        while node is not None:
            if node is container:
                return True
            node = self._parents.get(node)  # type: ignore[union-attr,assignment]
        return False

    def _of(self, e: ast.expr, func, url: frozenset[str], env: dict[str, Origins]) -> Origins:  # noqa: C901
        if isinstance(e, ast.Constant):
            return CONSTANT
        if isinstance(e, ast.JoinedStr):
            return CONSTANT.union(*(self._of(v.value, func, url, env) for v in e.values if isinstance(v, ast.FormattedValue)))
        if isinstance(e, ast.Name):
            return self._name(e.id, func, url, env)
        if isinstance(e, (ast.Attribute, ast.Subscript)):
            q = self.qualify(e) if isinstance(e, ast.Attribute) else ""
            if q:
                found = self._qualified(q)
                if found is not None:
                    return found
            base = e.value
            if isinstance(e, ast.Subscript) and self.qualify(base) in ("os.environ",):
                return frozenset({"env"})
            inner = self._of(base, func, url, env)
            if isinstance(e, ast.Attribute) and inner == frozenset({"request.other"}):
                return frozenset({REQUEST_PARTS.get(e.attr, "request.other")})
            if isinstance(e, ast.Attribute) and "config" in inner and e.attr not in ("get",):
                return inner
            if isinstance(e, ast.Attribute) and inner and inner <= {"constant"}:
                return UNKNOWN  # an attribute of a literal or a module-level object: not followed
            return inner
        if isinstance(e, ast.Call):
            return self._call(e, func, url, env)
        if isinstance(e, ast.BinOp):
            return self._of(e.left, func, url, env) | self._of(e.right, func, url, env)
        if isinstance(e, ast.UnaryOp):
            return self._of(e.operand, func, url, env)
        if isinstance(e, ast.BoolOp):
            return frozenset().union(*(self._of(v, func, url, env) for v in e.values))
        if isinstance(e, ast.Compare):
            return frozenset().union(*(self._of(v, func, url, env) for v in [e.left, *e.comparators]))
        if isinstance(e, ast.IfExp):
            return self._of(e.body, func, url, env) | self._of(e.orelse, func, url, env)
        if isinstance(e, (ast.List, ast.Tuple, ast.Set)):
            return CONSTANT.union(*(self._of(v, func, url, env) for v in e.elts))
        if isinstance(e, ast.Dict):
            return CONSTANT.union(*(self._of(v, func, url, env) for v in [*e.values, *(k for k in e.keys if k is not None)]))
        if isinstance(e, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner_env = dict(env)
            for gen in e.generators:
                items = self._of(gen.iter, func, url, inner_env)
                for n in ast.walk(gen.target):
                    if isinstance(n, ast.Name):
                        inner_env[n.id] = items
            if isinstance(e, ast.DictComp):
                return self._of(e.key, func, url, inner_env) | self._of(e.value, func, url, inner_env)
            return self._of(e.elt, func, url, inner_env)
        if isinstance(e, (ast.Await, ast.NamedExpr, ast.Starred)):
            return self._of(e.value, func, url, env)
        return UNKNOWN

    def _qualified(self, q: str) -> Origins | None:
        """Labels of a fully qualified name, when it is a source."""
        for req in REQUEST_NAMES:
            if q == req:
                return frozenset({"request.other"})
            if q.startswith(req + "."):
                part = q[len(req) + 1:].split(".")[0]
                return frozenset({REQUEST_PARTS.get(part, "request.other")})
        for app in CURRENT_APP:
            if q.startswith(app + ".config"):
                return frozenset({"config"})
        if q == "os.environ" or q.startswith("os.environ."):
            return frozenset({"env"})
        if self.index is not None and "." in q:
            # ``app.config`` of a Flask object; ``config.X`` / ``settings.X`` of a project
            # settings module or a Config class
            # (only a name with a ``.config`` part can be one: asking for the apps reads
            # every module of the project)
            for obj in self.index.apps() if q.endswith(".config") or ".config." in q else ():
                prefix = f"{obj.module}.{obj.name}.config" if obj.module else f"{obj.name}.config"
                if obj.scope == "" and (q == prefix or q.startswith(prefix + ".")):
                    return frozenset({"config"})
            parts = q.split(".")
            for i in range(1, len(parts)):
                mod, rest = ".".join(parts[:i]), parts[i:]
                if mod in self.index.modules and rest:
                    leaf = mod.split(".")[-1].lower()
                    owner = rest[0].lower()
                    if any(w in leaf for w in CONFIG_WORDS) or (len(rest) > 1 and any(w in owner for w in CONFIG_WORDS)):
                        return frozenset({"config"})
                    facts = self.index.modules[mod]
                    if len(rest) == 1 and facts.globals.get(rest[0]) and all(
                            b in ("int", "float", "str", "bool", "tuple", "bytes") for b in facts.globals[rest[0]]):
                        return CONSTANT
        return None

    # -- names ---------------------------------------------------------------------------

    def _name(self, name: str, func, url: frozenset[str], env: dict[str, Origins]) -> Origins:
        if name in env:
            return env[name]
        if func is not None:
            assigned = self._assignments(func)
            params = _params(func)
            key = (id(func), name)
            if name in assigned or name in params:
                if key in self._active:
                    return frozenset()  # a cycle (x = x + 1): the other assignments answer
                self._active.add(key)
                try:
                    out: frozenset[str] = frozenset()
                    if name in params:
                        out |= self._param(func, name, url)
                    for value in assigned.get(name, []):
                        out |= self._value(value, func, url, env)
                    return out  # empty: only cycles (x = x + 1, helpers calling each other) answered
                finally:
                    self._active.discard(key)
            if _declares_global(func, name):
                return UNKNOWN
        q = self.qualify(ast.Name(name))
        found = self._qualified(q) if q != name else None
        if found is not None:
            return found
        if name in self._globals:
            values = self._globals[name]
            if all(v is not None and _is_literal(v) for v in values):
                return CONSTANT
            if all(v is not None for v in values) and name not in self._active_globals():
                self._active.add((0, name))
                try:
                    labels = frozenset().union(*(self._of(v, None, frozenset(), {}) for v in values))  # type: ignore[arg-type]
                finally:
                    self._active.discard((0, name))
                return labels if labels <= SERVER else labels | UNKNOWN
            return UNKNOWN
        if name in ("True", "False", "None"):
            return CONSTANT
        return UNKNOWN

    def _active_globals(self) -> set[str]:
        return {n for k, n in self._active if k == 0}

    def _value(self, value: object, func, url: frozenset[str], env: dict[str, Origins]) -> Origins:
        kind, node = value if isinstance(value, tuple) else ("expr", value)
        if kind == "expr":
            return self._of(node, func, url, env)  # type: ignore[arg-type]
        if kind == "iter":  # a loop target: the items of the iterable
            return self._of(node, func, url, env)  # type: ignore[arg-type]
        return UNKNOWN  # with-targets, except-targets, imports, deletions, walrus in odd places

    def _assignments(self, func) -> dict[str, list[object]]:
        cached = self._locals.get(id(func))
        if cached is not None:
            return cached
        out: dict[str, list[object]] = {}

        def bind(target: ast.expr, value: object) -> None:
            if isinstance(target, ast.Name):
                out.setdefault(target.id, []).append(value)
            elif isinstance(target, (ast.Tuple, ast.List)):
                for t in target.elts:  # a, b = expr: each may be any part of expr
                    bind(t.value if isinstance(t, ast.Starred) else t, value)

        for node in _own_nodes(func):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    bind(t, ("expr", node.value))
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                bind(node.target, ("expr", node.value))
            elif isinstance(node, ast.AugAssign):
                bind(node.target, ("expr", node.value))
                if isinstance(node.target, ast.Name):
                    out.setdefault(node.target.id, []).append(("expr", ast.Name(node.target.id)))
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                bind(node.target, ("iter", node.iter))
            elif isinstance(node, ast.NamedExpr):
                bind(node.target, ("expr", node.value))
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        bind(item.optional_vars, ("other", None))
            elif isinstance(node, ast.ExceptHandler) and node.name:
                out.setdefault(node.name, []).append(("other", None))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    out.setdefault(a.asname or a.name.split(".")[0], []).append(("other", None))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not func:
                out.setdefault(node.name, []).append(("other", None))
            elif isinstance(node, ast.Delete):
                pass
        self._locals[id(func)] = out
        return out

    def _param(self, func, name: str, url: frozenset[str]) -> Origins:
        if name in url:
            return frozenset({"url"})
        if self.index is None or not self.module or self._depth >= 3:
            return UNKNOWN
        qual = func.name
        callers = self.index.callers(self.module, qual)
        if not callers:
            return UNKNOWN
        params = _params(func)
        position = params.index(name)
        out: frozenset[str] = frozenset()
        for mod, scope, call in callers:
            arg = _argument(self.index, mod, scope, call, position, name)
            if arg is None:
                if name in _defaults(func):
                    out |= self.of(_defaults(func)[name])
                    continue
                return UNKNOWN
            caller_module, caller_func, node = arg
            out |= caller_module._of(node, caller_func, _url_params(caller_func), {}) if caller_func is not None else \
                caller_module.of(node)
        return out  # (empty when every call site led back into a cycle)

    # -- calls -----------------------------------------------------------------------------

    def _call(self, e: ast.Call, func, url: frozenset[str], env: dict[str, Origins]) -> Origins:
        q = self.qualify(e.func)
        args = [*e.args, *(k.value for k in e.keywords)]
        if q in ENV_CALLS:
            return frozenset({"env"})
        if q in CONVERSIONS or q.split(".")[-1] in ("strptime", "fromisoformat", "loads") and q.split(".")[0] in (
                "datetime", "json", "date", "simplejson", "ujson", "orjson"):
            if q == "map" and len(e.args) >= 2:
                return frozenset().union(*(self._of(a, func, url, env) for a in e.args[1:]))
            return frozenset().union(*(self._of(a, func, url, env) for a in args)) if args else CONSTANT
        found = self._qualified(q) if q else None
        if found is not None and isinstance(e.func, ast.Attribute):
            if found & CLIENT and e.func.attr in ("get", "getlist", "get_json", "get_data", "to_dict"):
                return found | frozenset().union(*(self._of(a, func, url, env) for a in args[1:2]))
            if found == frozenset({"config"}) and e.func.attr == "get":
                return found | frozenset().union(*(self._of(a, func, url, env) for a in args[1:2]))
            if found <= CLIENT | {"config", "env"}:
                return found
        if isinstance(e.func, ast.Attribute):
            method = e.func.attr
            receiver = e.func.value
            if method in QUERY_METHODS and _is_query(receiver, self):
                return frozenset({"database"})
            if method in VALUE_METHODS:
                inner = self._of(receiver, func, url, env)
                if inner and not inner <= {"constant"}:
                    extra = args[1:2] if method in ("get", "pop", "setdefault") else (args if method in ("join", "format") else [])
                    return inner.union(*(self._of(a, func, url, env) for a in extra))
                if inner <= {"constant"} and method in ("join", "format", "replace", "strip", "lower", "upper", "split"):
                    return CONSTANT.union(*(self._of(a, func, url, env) for a in args))
        return UNKNOWN


# -- helpers --------------------------------------------------------------------------------


def _is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.UnaryOp):
        return _is_literal(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_literal(node.left) and _is_literal(node.right)
    return False


#: decorators that register a view with a URL rule (``@app.route``, ``@bp.get`` ...)
_ROUTE_DECORATORS = frozenset({"route", "get", "post", "put", "patch", "delete"})
_RULE_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


def _url_params(func) -> frozenset[str]:
    """The parameters of ``func`` that a route decorator's literal rule fills from the URL
    (``@bp.route("/split/<int:parts>")`` -> {"parts"}): a caller's values the client chose."""
    names: set[str] = set()
    for deco in getattr(func, "decorator_list", ()):
        if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute) and deco.func.attr in _ROUTE_DECORATORS
                and deco.args and isinstance(deco.args[0], ast.Constant) and isinstance(deco.args[0].value, str)):
            names.update(_RULE_VARIABLE.findall(deco.args[0].value))
    return frozenset(names & set(_params(func)))


def _params(func) -> list[str]:
    a = func.args
    names = [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs]]
    if a.vararg:
        names.append(a.vararg.arg)
    if a.kwarg:
        names.append(a.kwarg.arg)
    return names


def _defaults(func) -> dict[str, ast.expr]:
    a = func.args
    positional = [*a.posonlyargs, *a.args]
    out = {p.arg: d for p, d in zip(positional[len(positional) - len(a.defaults):], a.defaults)}
    out.update({p.arg: d for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
    return out


def _own_nodes(func) -> Iterable[ast.AST]:
    """The nodes of a function's body, not of functions, lambdas or classes inside it
    (their names are bound in the function, their bodies are not)."""
    stack = list(func.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _declares_global(func, name: str) -> bool:
    return any(isinstance(n, (ast.Global, ast.Nonlocal)) and name in n.names for n in _own_nodes(func))


def _is_query(receiver: ast.expr, mo: ModuleOrigins) -> bool:
    """``Model.query...``, ``db.session...``, ``session.execute(...)`` and chains of them."""
    node = receiver
    while True:
        if isinstance(node, ast.Call):
            node = node.func
            continue
        if isinstance(node, ast.Attribute):
            if node.attr in ("query", "session", "scalars", "execute"):
                return True
            node = node.value
            continue
        return isinstance(node, ast.Name) and node.id in ("session", "db_session")


def module_origins(index: Index, module: str) -> ModuleOrigins | None:
    """The analysis of a project module, made once per index (its tree parsed once, and one
    guard against cycles shared by every question that passes through the module)."""
    key = ("origins", module)
    if key not in index.derived:
        facts = index.modules.get(module)
        mo = None
        if facts is not None:
            from flaskfix.codemods.engine.source import SourceError, read_source

            try:
                mo = ModuleOrigins(ast.parse(read_source(facts.path).text), module, index)
            except (SourceError, SyntaxError, ValueError):
                mo = None
        index.derived[key] = mo
    return index.derived[key]  # type: ignore[return-value]


def _argument(index: Index, module: str, scope: str, call, position: int, name: str):
    """(ModuleOrigins of the caller, the calling function or None, the argument's node)."""
    mo = module_origins(index, module)
    if mo is None:
        return None
    tree = mo.tree
    caller = mo.function(scope) if scope else None
    for node in ast.walk(caller if caller is not None else tree):
        if isinstance(node, ast.Call) and node.lineno == call.line and (dotted(node.func) or "") == call.callee:
            for k in node.keywords:
                if k.arg == name:
                    return mo, caller, k.value
            if any(isinstance(a, ast.Starred) for a in node.args[: position + 1]):
                return None
            if position < len(node.args):
                return mo, caller, node.args[position]
            return None
    return None
