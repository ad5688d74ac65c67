"""bulk-query: a primary-key lookup per loop iteration becomes one ``IN (...)`` query.

``for user_id in ids: user = User.query.get(user_id)`` sends one SELECT per id (the
"N+1 queries" pattern). The usual advice is to replace the loop with
``User.query.filter(User.id.in_(ids)).all()``, but that changes what the code computes:
rows come back in database order, ids without a row vanish instead of giving ``None``,
duplicates collapse, and ``"3"`` (a query-string id) no longer matches ``3``.

So flaskfix keeps the loop exactly as it is and only changes where each object comes
from. Before the loop it loads every row in one query into a dict keyed by primary
key; inside the loop the lookup reads that dict first and falls back to the original
call when the dict has no entry:

    user_by_id = {user.id: user for user in User.query.filter(User.id.in_(user_ids))}
    for user_id in user_ids:
        user = user_by_id.get(user_id) or User.query.get(user_id)

A dict hit is the very object the original call would return: the query put it in the
session's identity map under the same primary key, and ``get`` answers from there. A
miss (no such row, a key the database compares differently from Python such as
``"03"``, a row added during the loop) runs the original call, so its answer cannot
differ either. What remains to prove is that the prefetch itself is harmless: the ids
must be a re-iterable collection of known element type built in the same handler and
not changed by the loop, the loop must not touch the session (commit, delete,
expunge...), and no ``try`` may be around it (the prefetch could raise earlier than the
first lookup did). Everything else is refused with a finding.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst
from libcst.metadata import PositionProvider, ScopeProvider
from libcst.metadata.scope_provider import Assignment, FunctionScope

from codemods.base import FlaskfixCodemod
from codemods.flask_model import dotted_name
from codemods.project import ModelInfo, find_model, resolve_module, sqlalchemy_call, sqlalchemy_model

SiteKind = Literal["query.get", "query.get_or_404", "session.get", "db.get_or_404"]
ElementType = Literal["int", "str"]

#: session / connection methods whose call inside the loop may change what a later
#: lookup returns (flush order, expiry, deleted rows, a replaced identity map)
SESSION_METHODS = frozenset(
    {
        "add", "add_all", "begin", "begin_nested", "bulk_insert_mappings", "bulk_save_objects",
        "bulk_update_mappings", "close", "commit", "delete", "execute", "expire", "expire_all",
        "expunge", "expunge_all", "flush", "invalidate", "merge", "refresh", "remove", "reset",
        "rollback", "scalar", "scalars",
    }
)
#: method names that write to the database whatever they are called on
WRITING_METHODS = frozenset({"commit", "flush", "rollback", "delete", "execute", "expunge", "expunge_all",
                             "expire", "expire_all", "merge", "bulk_save_objects", "bulk_insert_mappings",
                             "bulk_update_mappings", "add_all"})
#: MultiDict attributes of flask.request whose getlist() returns strings
REQUEST_MULTIDICTS = frozenset({"args", "form", "values"})
#: builtins that copy an iterable into a new collection with the same elements
COPYING_BUILTINS = frozenset({"list", "tuple", "set", "frozenset", "sorted"})


@dataclass(eq=False)
class Site:
    call: cst.Call
    kind: SiteKind
    model: cst.Name
    arg: cst.Name
    db: cst.Name | None = None  # for session.get / db.get_or_404


@dataclass(eq=False)
class Prefetch:
    """One dict built before one loop, for one model and one query style."""

    model: str
    info: ModelInfo
    style: Literal["query", "session"]
    db: str
    key_str: bool  # key the dict by str(pk): string ids against an integer primary key
    sites: list[Site] = field(default_factory=list)
    name: str = ""


@dataclass(eq=False)
class LoopPlan:
    loop: cst.For
    ids_name: str  # the name the loop iterates (existing, or new when hoisted)
    hoist: cst.BaseExpression | None  # the original iterable, when it moves into ids_name
    prefetches: list[Prefetch] = field(default_factory=list)


class Refused(Exception):
    def __init__(self, node: cst.CSTNode, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class BulkQuery(FlaskfixCodemod):
    ID = "bulk-query"
    ORDER = 30
    SUMMARY = "A primary-key lookup inside a loop (N+1 queries) is served from one IN (...) query made before the loop"
    WHY = """
        Model.query.get(id) (or db.session.get(Model, id)) inside a loop over ids sends
        one SELECT per id: a page listing 100 users waits for 100 round trips to the
        database. Loading them in one query with Model.pk.in_(ids) costs one round trip.
        The usual replacement, filter(...in_(ids)).all(), returns rows in database order
        and silently drops missing ids, so flaskfix keeps the loop and its results as they
        are and only serves the lookups from a dict filled by the single query.
    """
    BEHAVIOUR = """
        The loop computes the same values in the same order: an id with no row still gives
        None (or a 404 with get_or_404), duplicates and the ids' order are kept. Each
        lookup first reads a dict filled by one SELECT ... WHERE pk IN (...) made just
        before the loop, and calls the original lookup only when the dict has no entry
        for the id, so ids with no row still cost one query each, as before. That one
        query is made even when the id list is empty, and loads every listed row up front
        (also rows a `break` would never have reached), all at one moment rather than one
        by one as the loop advances. It sends one bind parameter per
        id: flaskfix only rewrites lists whose size is bounded (literal ranges up to
        max_ids, request.args/form lists, which Werkzeug caps), because databases limit
        the number of parameters in one statement.
    """
    REFUSES = (
        "the lookup is not in a request handler (no app context is guaranteed)",
        "the id is not the loop variable itself, or the loop variable is reassigned in the loop",
        "the lookup is inside a comprehension, nested function, or lambda",
        "the model is not a direct db.Model subclass with one primary-key column flaskfix can read (or it sets query_class/__table__)",
        "the ids' element type is unknown, or does not match the primary key (int ids against a string key)",
        "the ids are not a re-iterable collection built in the handler (a parameter, a generator), or the handler may change them",
        "the loop body uses the database session or calls a method that writes (commit, delete, execute...)",
        "a try statement surrounds the loop or the lookup (the prefetch could raise where the loop did not)",
        "the lookup passes extra arguments (options, populate_existing, with_for_update)",
        "a range whose size is computed at run time, or larger than max_ids",
        "an async for loop",
    )
    EXAMPLE_BEFORE = '''\
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
db = SQLAlchemy(app)


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80))


@app.route("/users")
def get_users():
    names = []
    for user_id in range(1, 100):
        user = User.query.get(user_id)
        names.append(user.name if user else None)
    return jsonify(users=names)
'''
    EXAMPLE_AFTER = '''\
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
db = SQLAlchemy(app)


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80))


@app.route("/users")
def get_users():
    names = []
    user_ids = range(1, 100)
    user_by_id = {user.id: user for user in User.query.filter(User.id.in_(user_ids))}
    for user_id in user_ids:
        user = user_by_id.get(user_id) or User.query.get(user_id)
        names.append(user.name if user else None)
    return jsonify(users=names)
'''
    PREFILTER = (r"\.get(?:_or_404)?\(", r"\bfor\b")
    DEFAULT_CONFIG = {"max_ids": 1000, "line_length": 88}
    METADATA_DEPENDENCIES = (ScopeProvider, PositionProvider)

    # -- finding the sites ---------------------------------------------------------------

    def rewrite(self, tree: cst.Module) -> cst.Module:
        model = self.flask
        sites = [s for s in (self._site(call) for call in _calls(tree)) if s is not None]
        if not sites:
            return tree
        self._local_tree: ast.Module | None = None
        self._plan_elem: dict[cst.For, ElementType] = {}
        self._body_ok: set[cst.For] = set()
        plans: dict[cst.For, LoopPlan] = {}
        taken: set[str] = set()
        for site in sites:
            loop = self._innermost_loop(site.call)
            if loop is None:
                continue  # a single lookup, not the N+1 pattern
            try:
                plan = self._plan(site, loop, plans, taken)
            except Refused as r:
                self.add_finding(r.node, r.message)
                continue
            plans[plan.loop] = plan
        if not plans:
            return tree
        replacements: dict[cst.CSTNode, cst.BaseExpression] = {}
        loops: dict[cst.For, LoopPlan] = {}
        for plan in plans.values():
            for pre in plan.prefetches:
                for site in pre.sites:
                    replacements[site.call] = self._lookup(pre, site)
                    self.add_change(
                        site.call,
                        f"`{pre.model}` rows for the loop's ids are loaded by one IN (...) query before the loop "
                        f"(into `{pre.name}`); the lookup falls back to the original call only for ids without a row",
                    )
            loops[plan.loop] = plan
        return tree.visit(_Rewriter(self, replacements, loops))

    def _site(self, call: cst.Call) -> Site | None:
        """Recognise the lookup shapes; None for anything else (no finding: not ours)."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in ("get", "get_or_404"):
            return None
        method = func.attr.value
        base = func.value
        # Model.query.get(x) / Model.query.get_or_404(x)
        if isinstance(base, cst.Attribute) and base.attr.value == "query" and isinstance(base.value, cst.Name):
            if not call.args or not _plain_args(call) or len(call.args) > (2 if method == "get_or_404" else 1):
                if self._in_loop(call):
                    self.add_finding(call, f"`{base.value.value}.query.{method}()` with arguments flaskfix does not follow")
                return None
            arg = call.args[0].value
            if call.args[0].keyword is not None:
                return None
            kind: SiteKind = "query.get" if method == "get" else "query.get_or_404"
            return self._site_with_arg(call, kind, base.value, arg, None)
        # db.session.get(Model, x)
        if method == "get" and isinstance(base, cst.Attribute) and base.attr.value == "session" and isinstance(base.value, cst.Name):
            if len(call.args) < 2 or not isinstance(call.args[0].value, cst.Name):
                return None
            if len(call.args) != 2 or not _plain_args(call) or any(a.keyword is not None for a in call.args):
                if self._in_loop(call):
                    self.add_finding(call, "`session.get()` with options (populate_existing, with_for_update...): a prefetched object would not honour them")
                return None
            return self._site_with_arg(call, "session.get", call.args[0].value, call.args[1].value, base.value)
        # db.get_or_404(Model, x)
        if method == "get_or_404" and isinstance(base, cst.Name) and len(call.args) >= 2 and isinstance(call.args[0].value, cst.Name):
            if not _plain_args(call) or any(a.keyword is not None for a in call.args[:2]):
                return None
            return self._site_with_arg(call, "db.get_or_404", call.args[0].value, call.args[1].value, base)
        return None

    def _site_with_arg(self, call: cst.Call, kind: SiteKind, model: cst.Name, arg: cst.BaseExpression, db: cst.Name | None) -> Site | None:
        if not isinstance(arg, cst.Name):
            if self._in_loop(call):
                self.add_finding(call, "the id is computed in the loop (not the loop variable itself): not rewritten")
            return None
        return Site(call, kind, model, arg, db)

    def _in_loop(self, node: cst.CSTNode) -> bool:
        for anc in self.flask.ancestors(node):
            if isinstance(anc, (cst.For, cst.While, cst.CompFor)):
                return True
            if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return False
        return False

    def _innermost_loop(self, call: cst.Call) -> cst.CSTNode | None:
        """The innermost loop-like node around ``call`` within its function, if any."""
        for anc in self.flask.ancestors(call):
            if isinstance(anc, (cst.For, cst.While, cst.BaseComp)):
                return anc
            if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return None
        return None

    # -- proving one site ----------------------------------------------------------------

    def _plan(self, site: Site, inner: cst.CSTNode, plans: dict[cst.For, LoopPlan], taken: set[str]) -> LoopPlan:
        model = self.flask
        name = site.arg.value
        lookup = f"`{cst.Module([]).code_for_node(site.call)}`"
        loop = self._loop_binding(site, name)
        if loop is None:
            if isinstance(inner, cst.BaseComp) or any(isinstance(a, cst.BaseComp) for a in self._ancestors_until(site.call, None)):
                raise Refused(site.call, f"{lookup} runs inside a comprehension: not rewritten (write it as a for loop)")
            raise Refused(site.call, f"{lookup}: the id `{name}` is not the variable of an enclosing for loop")
        if loop.asynchronous is not None:
            raise Refused(site.call, f"{lookup} is in an async for loop")
        func = model.enclosing_function(loop)
        if func is None or model.handler(func) is None:
            raise Refused(site.call, f"{lookup} is not in a request handler, so flaskfix cannot tell an app context is active for the prefetch")
        if _has_yield(func):
            raise Refused(site.call, f"{lookup} is in a generator handler: a streamed response runs the loop later, piece by piece")
        for anc in self._ancestors_until(site.call, loop):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                raise Refused(site.call, f"{lookup} is inside a nested function or lambda in the loop")
            if isinstance(anc, cst.BaseComp):
                raise Refused(site.call, f"{lookup} runs inside a comprehension in the loop: not rewritten")
            if isinstance(anc, (cst.Try, cst.TryStar)):
                raise Refused(site.call, f"{lookup} is inside a try statement: the prefetch before the loop could raise where the lookup was guarded")
        for anc in self._ancestors_until(loop, func):
            if isinstance(anc, (cst.Try, cst.TryStar)):
                raise Refused(site.call, f"a try statement surrounds the loop of {lookup}: the prefetch could raise earlier than the lookups did")
        if not self._in_body(site.call, loop):
            raise Refused(site.call, f"{lookup} is not in the loop's body")
        self._check_loop_variable(site, loop, name, lookup)
        info, model_name = self._model_info(site, lookup)
        style: Literal["query", "session"] = "query" if site.kind.startswith("query.") else "session"
        db_name = site.db.value if site.db is not None else info.db_name
        if style == "session":
            self._check_db(site, lookup, info)
        plan = plans.get(loop)
        if plan is None:
            ids_name, hoist, elem = self._ids(loop, lookup, taken)
            plan = LoopPlan(loop, ids_name, hoist)
            plan_elem = elem
        else:
            plan_elem = self._plan_elem[loop]
        if info.pk_type is None:
            raise Refused(site.call, f"{lookup}: the type of `{model_name}.{info.primary_key}` is not one flaskfix knows (Integer or String columns)")
        if plan_elem == "int" and info.pk_type == "str":
            raise Refused(site.call, f"{lookup}: the ids are ints but `{model_name}.{info.primary_key}` holds strings")
        self._check_body(loop, lookup, site)
        key_str = plan_elem == "str" and info.pk_type == "int"
        for pre in plan.prefetches:
            if pre.model == model_name and pre.style == style and pre.db == db_name:
                pre.sites.append(site)
                break
        else:
            pre = Prefetch(model_name, info, style, db_name, key_str, [site])
            pk = info.primary_key
            by = "id" if pk == "id" or pk.endswith("_id") else pk
            pre.name = model.free_name(f"{_snake(model_name)}_by_{by}", taken)
            taken.add(pre.name)
            plan.prefetches.append(pre)
        self._plan_elem[loop] = plan_elem
        return plan

    def _ancestors_until(self, node: cst.CSTNode, stop: cst.CSTNode | None) -> list[cst.CSTNode]:
        out = []
        for anc in self.flask.ancestors(node):
            if anc is stop:
                break
            out.append(anc)
        return out

    def _loop_binding(self, site: Site, name: str) -> cst.For | None:
        for anc in self.flask.ancestors(site.call):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return None
            if isinstance(anc, cst.For) and isinstance(anc.target, cst.Name) and anc.target.value == name:
                return anc
            if isinstance(anc, cst.CompFor):
                return None
        return None

    def _in_body(self, node: cst.CSTNode, loop: cst.For) -> bool:
        for anc in self.flask.ancestors(node):
            if anc is loop.body:
                return True
            if anc is loop:
                return False
        return False

    def _check_loop_variable(self, site: Site, loop: cst.For, name: str, lookup: str) -> None:
        scope = self.get_metadata(ScopeProvider, site.arg, None)
        if scope is None or name not in scope:
            raise Refused(site.call, f"{lookup}: flaskfix cannot resolve `{name}`")
        for a in scope.assignments[name]:
            node = a.node
            if node is loop.target:
                continue
            if self._inside(node, loop):
                raise Refused(site.call, f"{lookup}: the loop variable `{name}` is reassigned inside the loop")
        if not isinstance(scope, FunctionScope) or _declares_global(scope.node, name):
            raise Refused(site.call, f"{lookup}: `{name}` is not a local variable")

    def _inside(self, node: cst.CSTNode, container: cst.CSTNode) -> bool:
        return node is container or any(a is container for a in self.flask.ancestors(node))

    def _model_info(self, site: Site, lookup: str) -> tuple[ModelInfo, str]:
        model = self.flask
        name = site.model.value
        scope = self.get_metadata(ScopeProvider, site.model, None)
        assignments = list(scope[name]) if scope is not None and name in scope else []
        if len(assignments) != 1 or not isinstance(assignments[0], Assignment):
            raise Refused(site.call, f"{lookup}: `{name}` is not bound exactly once, so flaskfix cannot tell which model it is")
        node = assignments[0].node
        info: ModelInfo | None = None
        where: str | None = None  # the file defining the model; "" for this module
        if isinstance(node, cst.ClassDef) and model.parent(node) is model.module:
            info = sqlalchemy_model(self._this_tree(), name)
            where = ""
        elif isinstance(node, cst.ImportFrom):
            where, original = self._imported(node, name)
            if where is not None and original is not None:
                info = find_model(self.project, where, original)
        if info is None or where is None:
            raise Refused(site.call, f"{lookup}: flaskfix cannot find the model class `{name}` in the project")
        if info.problem is not None:
            raise Refused(site.call, f"{lookup}: model `{name}`: {info.problem}")
        call = self._db_call(where, info.db_name)
        if call is None:
            raise Refused(site.call, f"{lookup}: `{name}`'s base `{info.db_name}.Model` is not provably a Flask-SQLAlchemy model")
        if any(k.arg in ("query_class", "model_class") for k in call.keywords):
            raise Refused(site.call, f"{lookup}: `{info.db_name}` sets a custom query_class/model_class, which may change how get() and filter() answer")
        return info, name

    def _this_tree(self) -> ast.Module:
        if self._local_tree is None:
            self._local_tree = ast.parse(self.flask.module.code)
        return self._local_tree

    def _imported(self, node: cst.ImportFrom, local: str) -> tuple[str | None, str | None]:
        """(the project file, the name it has there) for ``local`` bound by ``node``."""
        if isinstance(node.names, cst.ImportStar):
            return None, None
        for alias in node.names:
            if (alias.evaluated_alias or alias.evaluated_name) == local:
                module = dotted_name(node.module) if node.module is not None else ""
                path = resolve_module(self.project, module or "", self.run.path, len(node.relative))
                return path, alias.evaluated_name
        return None, None

    def _db_call(self, where: str, name: str) -> ast.Call | None:
        """The ``SQLAlchemy(...)`` call ``name`` is bound to in ``where`` ("" for this module)."""
        if where:
            return sqlalchemy_call(self.project, where, name)
        for stmt in self._this_tree().body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
                if any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
                    func = stmt.value.func
                    last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if last == "SQLAlchemy":
                        return stmt.value
            elif isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if (alias.asname or alias.name) == name and alias.name == name:
                        path = resolve_module(self.project, stmt.module or "", self.run.path, stmt.level)
                        return sqlalchemy_call(self.project, path, name) if path else None
        return None

    def _check_db(self, site: Site, lookup: str, info: ModelInfo) -> None:
        """``db`` in ``db.session.get(Model, x)`` must be a Flask-SQLAlchemy object."""
        assert site.db is not None
        name = site.db.value
        scope = self.get_metadata(ScopeProvider, site.db, None)
        assignments = list(scope[name]) if scope is not None and name in scope else []
        if len(assignments) != 1 or not isinstance(assignments[0], Assignment):
            raise Refused(site.call, f"{lookup}: `{name}` is not bound exactly once")
        node = assignments[0].node
        call: ast.Call | None = None
        if isinstance(node, cst.ImportFrom):
            where, original = self._imported(node, name)
            if where is not None and original is not None:
                call = sqlalchemy_call(self.project, where, original)
        elif self.flask.enclosing_function(node) is None:
            call = self._db_call("", name)
        if call is None:
            raise Refused(site.call, f"{lookup}: `{name}` is not provably a Flask-SQLAlchemy object")

    # -- the ids -------------------------------------------------------------------------

    def _ids(self, loop: cst.For, lookup: str, taken: set[str]) -> tuple[str, cst.BaseExpression | None, ElementType]:
        it = loop.iter
        if isinstance(it, cst.Name):
            value = self._single_local_value(it, loop, lookup)
            elem = self._element_type(value, lookup, loop)
            return it.value, None, elem
        elem = self._element_type(it, lookup, loop)
        target = loop.target.value if isinstance(loop.target, cst.Name) else "id"
        base = f"{target}s" if len(target) > 2 and not keyword.iskeyword(f"{target}s") else "ids"
        name = self.flask.free_name(base, taken)
        taken.add(name)
        return name, it, elem

    def _single_local_value(self, name: cst.Name, loop: cst.For, lookup: str) -> cst.BaseExpression:
        scope = self.get_metadata(ScopeProvider, name, None)
        where = f"the loop iterates `{name.value}`"
        if scope is None or not isinstance(scope, FunctionScope) or name.value not in scope:
            raise Refused(loop, f"{lookup}: {where}, which is not a local variable of the handler")
        assignments = list(scope[name.value])
        if len(assignments) != 1 or not isinstance(assignments[0], Assignment) or assignments[0].scope is not scope:
            raise Refused(loop, f"{lookup}: {where}, which is a parameter or is assigned more than once")
        assignment = assignments[0]
        target = assignment.node
        if isinstance(target, cst.Param) or isinstance(self.flask.parent(target), cst.Param):
            raise Refused(loop, f"{lookup}: {where}, a parameter of the handler: flaskfix cannot tell what it holds")
        holder = self.flask.parent(target)
        stmt = self.flask.parent(holder) if isinstance(holder, cst.AssignTarget) else None
        if not (isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 and stmt.targets[0].target is target):
            raise Refused(loop, f"{lookup}: {where}, which is not bound by a plain assignment")
        for access in assignment.references:
            node = access.node
            parent = self.flask.parent(node)
            if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is node:
                continue
            if isinstance(parent, cst.Arg) and isinstance(self.flask.parent(parent), cst.Call):
                call = self.flask.parent(parent)
                if isinstance(call.func, cst.Name) and call.func.value == "len" and "builtins.len" in self.flask.qualified_names(call.func):
                    continue
            if isinstance(parent, cst.ComparisonTarget) and isinstance(parent.operator, (cst.In, cst.NotIn)):
                continue
            raise Refused(loop, f"{lookup}: {where}, which the handler also uses in a way that may change it (line {self.line_of(node)})")
        return stmt.value

    def _element_type(self, expr: cst.BaseExpression, lookup: str, loop: cst.For, depth: int = 0) -> ElementType:
        refuse = Refused(
            loop,
            f"{lookup}: flaskfix cannot tell what the loop iterates (it needs a range, a literal list, "
            "request.args.getlist(...) or a copy of one of them, built in the handler)",
        )
        if depth > 3:
            raise refuse
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            types = set()
            for el in expr.elements:
                if isinstance(el, cst.StarredElement):
                    raise refuse
                if isinstance(el.value, cst.Integer):
                    types.add("int")
                elif isinstance(el.value, cst.SimpleString) and isinstance(el.value.evaluated_value, str):
                    types.add("str")
                else:
                    raise refuse
            if len(types) != 1:
                raise Refused(loop, f"{lookup}: the loop iterates a literal with mixed or no elements")
            if len(expr.elements) > int(self.config["max_ids"]):
                raise Refused(loop, f"{lookup}: the literal has more than max_ids={self.config['max_ids']} ids")
            return types.pop()  # type: ignore[return-value]
        if isinstance(expr, cst.ListComp) and expr.for_in.inner_for_in is None:
            elt = expr.elt
            if isinstance(elt, cst.Call) and self._is_builtin(elt.func, "int") and len(elt.args) == 1 and not elt.args[0].keyword and not elt.args[0].star:
                self._element_type(expr.for_in.iter, lookup, loop, depth + 1)  # bounded source
                return "int"
            raise refuse
        if not isinstance(expr, cst.Call):
            raise refuse
        func = expr.func
        if self._is_builtin(func, "range"):
            if any(a.keyword or a.star for a in expr.args) or not 1 <= len(expr.args) <= 3:
                raise refuse
            bounds = [_int_literal(a.value) for a in expr.args]
            if any(b is None for b in bounds):
                raise Refused(loop, f"{lookup}: a range computed at run time may exceed the database's limit on bind parameters in one IN (...)")
            size = len(range(*bounds))  # type: ignore[arg-type]
            if size > int(self.config["max_ids"]):
                raise Refused(loop, f"{lookup}: the range has {size} ids, more than max_ids={self.config['max_ids']}")
            return "int"
        for name in COPYING_BUILTINS:
            if self._is_builtin(func, name):
                if len(expr.args) != 1 or expr.args[0].keyword or expr.args[0].star:
                    raise refuse
                return self._element_type(expr.args[0].value, lookup, loop, depth + 1)
        # request.args.getlist("k"[, type=int])
        if isinstance(func, cst.Attribute) and func.attr.value == "getlist" and isinstance(func.value, cst.Attribute):
            holder = func.value
            if holder.attr.value in REQUEST_MULTIDICTS and self.flask.refers_to(holder.value, "flask.request"):
                positional = [a for a in expr.args if a.keyword is None and not a.star]
                keywords = {a.keyword.value: a.value for a in expr.args if a.keyword is not None}
                if len(positional) != 1 or set(keywords) - {"type"} or len(expr.args) != len(positional) + len(keywords):
                    raise refuse
                if "type" not in keywords:
                    return "str"
                t = keywords["type"]
                if isinstance(t, cst.Name) and self._is_builtin(t, "int"):
                    return "int"
                if isinstance(t, cst.Name) and self._is_builtin(t, "str"):
                    return "str"
                raise refuse
        raise refuse

    def _is_builtin(self, node: cst.BaseExpression, name: str) -> bool:
        return isinstance(node, cst.Name) and node.value == name and self.flask.qualified_names(node) == {f"builtins.{name}"}

    # -- the loop body -------------------------------------------------------------------

    def _check_body(self, loop: cst.For, lookup: str, site: Site) -> None:
        if loop in self._body_ok:
            return
        problem = self._body_problem(loop.body, set())
        if problem is not None:
            node, why = problem
            raise Refused(site.call, f"{lookup}: the loop {why} at line {self.line_of(node)}, which may change what a later lookup returns")
        self._body_ok.add(loop)

    def _body_problem(self, body: cst.CSTNode, seen: set[str]) -> tuple[cst.CSTNode, str] | None:
        found: list[tuple[cst.CSTNode, str]] = []
        local_functions = {f.name.value: f for f in self.flask.module.body if isinstance(f, cst.FunctionDef)}
        codemod = self

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> bool:
                func = node.func
                if codemod._site_shape(node):
                    return True  # a lookup: its own `.session` is not a use of the session
                if isinstance(func, cst.Attribute):
                    method = func.attr.value
                    receiver = dotted_name(func.value) or ""
                    on_session = receiver.split(".")[-1] in ("session", "db", "connection", "conn", "engine")
                    if method in WRITING_METHODS or (on_session and method in SESSION_METHODS):
                        found.append((node, f"calls `.{method}()`"))
                    elif method in ("update", "delete") and ".query" in f".{receiver}":
                        found.append((node, f"calls `.{method}()` on a query"))
                elif isinstance(func, cst.Name) and func.value == "setattr":
                    found.append((node, "calls `setattr()` (a change the next lookup would flush)"))
                elif isinstance(func, cst.Name) and func.value in local_functions and func.value not in seen:
                    seen.add(func.value)
                    inner = codemod._body_problem(local_functions[func.value].body, seen)
                    if inner is not None:
                        found.append((node, f"calls `{func.value}()`, which {inner[1]}"))
                return True

            def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
                if isinstance(node.target, cst.Attribute):
                    found.append((node, "assigns to an attribute (a change the next lookup would flush)"))

            def visit_AugAssign(self, node: cst.AugAssign) -> None:
                if isinstance(node.target, cst.Attribute):
                    found.append((node, "assigns to an attribute (a change the next lookup would flush)"))

            def visit_Attribute(self, node: cst.Attribute) -> bool:
                if node.attr.value in ("session", "engine") and not codemod._in_site_func(node):
                    found.append((node, f"uses `.{node.attr.value}`"))
                return True

            def visit_Name(self, node: cst.Name) -> None:
                parent = codemod.flask.parent(node)
                if node.value == "session" and not (isinstance(parent, cst.Attribute) and parent.attr is node):
                    if not codemod.flask.refers_to(node, "flask.session"):
                        found.append((node, "uses `session`"))

        body.visit(V())
        return found[0] if found else None

    def _in_site_func(self, node: cst.CSTNode) -> bool:
        """Is ``node`` part of the callee of a lookup (``db.session`` in ``db.session.get``)?"""
        child = node
        for anc in self.flask.ancestors(node):
            if isinstance(anc, cst.Call):
                return anc.func is child and self._site_shape(anc)
            if not isinstance(anc, cst.Attribute):
                return False
            child = anc
        return False

    def _site_shape(self, call: cst.Call) -> bool:
        func = call.func
        if not isinstance(func, cst.Attribute):
            return False
        if func.attr.value == "get" and isinstance(func.value, cst.Attribute) and func.value.attr.value in ("session", "query"):
            return isinstance(func.value.value, cst.Name) and call.func is func and (
                func.value.attr.value == "query" or (len(call.args) == 2 and not any(a.keyword for a in call.args))
            )
        return func.attr.value == "get_or_404"

    # -- output --------------------------------------------------------------------------

    def _lookup(self, pre: Prefetch, site: Site) -> cst.BaseExpression:
        hit = cst.Call(
            func=cst.Attribute(value=cst.Name(pre.name), attr=cst.Name("get")),
            args=[cst.Arg(value=cst.Name(site.arg.value))],
        )
        expr = cst.BooleanOperation(
            left=hit,
            operator=cst.Or(),
            right=site.call.with_changes(lpar=[], rpar=[]),
            lpar=site.call.lpar,
            rpar=site.call.rpar,
        )
        parent = self.flask.parent(site.call)
        bare_ok = (
            (isinstance(parent, (cst.Assign, cst.AnnAssign, cst.Return)) and parent.value is site.call)
            or (isinstance(parent, cst.Arg) and parent.value is site.call)
            or (isinstance(parent, cst.Expr))
            or (isinstance(parent, (cst.Element, cst.DictElement)) and parent.value is site.call)
        )
        if not bare_ok and not site.call.lpar:
            expr = expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return expr

    def prefetch_statement(self, plan: LoopPlan, pre: Prefetch, indent: str) -> cst.BaseStatement:
        model, pk, var = pre.model, pre.info.primary_key, _snake(pre.model)
        if var in (model, plan.ids_name, pre.db, pre.name):
            var = "obj" if "obj" not in (model, plan.ids_name, pre.db, pre.name) else "row"
        key = f"{var}.{pk}"
        if pre.key_str:
            key = f"str({key})"
        if pre.style == "query":
            source = f"{model}.query.filter({model}.{pk}.in_({plan.ids_name}))"
        else:
            source = f"{pre.db}.session.scalars({pre.db}.select({model}).where({model}.{pk}.in_({plan.ids_name})))"
        one_line = f"{pre.name} = {{{key}: {var} for {var} in {source}}}"
        if len(indent) + len(one_line) <= int(self.config["line_length"]):
            return cst.parse_statement(one_line + "\n")
        exploded = f"{pre.name} = {{\n    {key}: {var}\n    for {var} in {source}\n}}\n"
        if len(indent) + 4 + len(f"{key}: {var} for {var} in {source}") <= int(self.config["line_length"]):
            exploded = f"{pre.name} = {{\n    {key}: {var} for {var} in {source}\n}}\n"
        return cst.parse_statement(exploded)


class _Rewriter(cst.CSTTransformer):
    def __init__(self, codemod: BulkQuery, replacements: dict[cst.CSTNode, cst.BaseExpression], loops: dict[cst.For, LoopPlan]) -> None:
        super().__init__()
        self.codemod = codemod
        self.replacements = replacements
        self.loops = loops

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self.replacements.get(original_node, updated_node)

    def leave_For(self, original_node: cst.For, updated_node: cst.For):  # type: ignore[no-untyped-def]
        plan = self.loops.get(original_node)
        if plan is None:
            return updated_node
        indent = self._indent_of(original_node)
        statements: list[cst.BaseStatement] = []
        if plan.hoist is not None:
            statements.append(cst.parse_statement(f"{plan.ids_name} = {cst.Module([]).code_for_node(plan.hoist)}\n"))
            updated_node = updated_node.with_changes(iter=cst.Name(plan.ids_name))
        for pre in plan.prefetches:
            statements.append(self.codemod.prefetch_statement(plan, pre, indent))
        # blank lines move above the new statements; comments stay with the loop they describe
        lines = list(original_node.leading_lines)
        blank = 0
        while blank < len(lines) and lines[blank].comment is None:
            blank += 1
        statements[0] = statements[0].with_changes(leading_lines=lines[:blank])
        updated_node = updated_node.with_changes(leading_lines=lines[blank:])
        return cst.FlattenSentinel([*statements, updated_node])

    def _indent_of(self, node: cst.CSTNode) -> str:
        pos = self.codemod.get_metadata(PositionProvider, node, None)
        return " " * (pos.start.column if pos is not None else 4)


def _calls(tree: cst.Module) -> list[cst.Call]:
    out: list[cst.Call] = []

    class V(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value in ("get", "get_or_404"):
                out.append(node)

    tree.visit(V())
    return out


def _plain_args(call: cst.Call) -> bool:
    return all(not a.star for a in call.args)


def _int_literal(expr: cst.BaseExpression) -> int | None:
    if isinstance(expr, cst.Integer):
        return int(expr.evaluated_value)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus) and isinstance(expr.expression, cst.Integer):
        return -int(expr.expression.evaluated_value)
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _has_yield(func: cst.FunctionDef) -> bool:
    found = False

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is func

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Yield(self, node: cst.Yield) -> None:
            nonlocal found
            found = True

    func.visit(V())
    return found


def _declares_global(func: cst.CSTNode, name: str) -> bool:
    found = False

    class V(cst.CSTVisitor):
        def visit_Global(self, node: cst.Global) -> None:
            nonlocal found
            found = found or any(n.name.value == name for n in node.names)

        def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
            nonlocal found
            found = found or any(n.name.value == name for n in node.names)

    func.visit(V())
    return found
