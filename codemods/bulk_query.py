"""bulk-query: a primary-key lookup per loop iteration becomes one ``IN (...)`` query.

``for user_id in ids: user = User.query.get(user_id)`` sends one SELECT per id (the
"N+1 queries" pattern). The usual advice is to replace the loop with
``User.query.filter(User.id.in_(ids)).all()``, but that changes what the code computes:
rows come back in database order, ids without a row vanish instead of giving ``None``,
duplicates collapse, and ``"3"`` (a query-string id) no longer matches ``3``.

A lookup whose id is a constant (``filter_by(id=1).first()`` in a loop) is not this
pattern: it asks for the same row every time, and a loop that writes between lookups may
mean to read it again; it is neither rewritten nor reported.

So flaskfix keeps the loop (or comprehension) exactly as it is and only changes where
each object comes from. Before it, one query loads every listed row into a dict keyed
by primary key (no query at all when there are no ids); each lookup reads the dict:

    user_by_id = {user.id: user for user in User.query.filter(User.id.in_(user_ids))} if user_ids else {}
    for user_id in user_ids:
        user = user_by_id.get(user_id)

Why a dict answer is the per-id call's answer. A hit is the very object the call would
return: the query put it in the session's identity map under the same primary key,
and ``get``/``filter_by(pk=...).first()`` (or ``filter(Model.pk == ...).first()``, the
same query written with ``filter``) answer with that object. A miss is ``None``
(or the 404 of ``get_or_404``, raised in the same iteration) only when the id is in a
form for which the database's comparison and Python's agree: the IN query was given
that id and returned every row ``pk = id`` would return, so when none of them has the
id as key, ``pk = id`` finds no row either. flaskfix proves that form statically or
checks it at run time:

* an ``int`` id against an Integer key: always;
* a ``str`` id against an Integer key (``request.args.getlist("id")``): when it is the
  canonical spelling of an int that fits in 64 bits (``s.isdecimal() and len(s) < 19
  and str(int(s)) == s``: "7", not "07", "+7", " 7", "٧"); any other string runs the
  original call, whose answer the database decides ("07" finds row 7 in SQLite, "x"
  finds nothing, and "9223372036854775808", compared as a float, finds row 2**63 - 1);
* ``int(s)`` of a ``str`` id against an Integer key: the prefetch asks for ``int(s)`` of
  the ids that are ``isdecimal()`` with fewer than 19 digits, exactly those int()
  surely accepts within 64 bits; for them a miss is the answer. Any other id runs the
  original call, so ``int("abc")`` still raises ValueError in the same iteration;
* a ``str`` id against a String key: never by default, because the column's collation
  (MySQL's and SQL Server's defaults ignore case and trailing spaces) may match a
  differently spelled row. A miss runs the original call, so such ids cost one query
  each, as before. A project whose database compares keys byte for byte (SQLite's and
  PostgreSQL's defaults) says so with ``exact_string_keys = true``; then a miss is the
  answer there too.

What remains is that prefetching is harmless. The ids must be a re-iterable
collection of known element type, built in the same function and not changed by the
loop; the loop must not touch the session (commit, flush, delete, expire, refresh,
attribute writes...), and no ``try`` may be around it (the prefetch could raise
earlier than the first lookup did). The lookup must not carry options or filters the
prefetch would drop.

Helpers, not only request handlers: the prefetch runs in the same function, right
before the loop, so it needs exactly the application context the first lookup needed;
with no ids it does not run at all. A function that is a generator, or a lookup under
a ``with`` inside the loop (which may push the context the lookup needs), is refused.
Async code is refused (the session may be an ``AsyncSession``), and so is a session
flaskfix cannot trace to a Flask-SQLAlchemy object.

Comprehensions and generator expressions consumed at once (by ``list()``,
``sorted()``, ``"".join()`` ...) get the same treatment: the prefetch is placed before
the statement that holds them (the iterable, when it is not a plain name, is bound to a
fresh name first), as long as nothing else in that statement can run before the
comprehension and change the database.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import libcst as cst
import libcst.matchers as m
from libcst.metadata import PositionProvider, ScopeProvider
from libcst.metadata.scope_provider import Assignment, ComprehensionScope, FunctionScope

from flaskfix.codemods.ast_facts import AstFacts
from flaskfix.codemods import detection
from flaskfix.codemods.base import FlaskfixCodemod
from flaskfix.codemods.flask_model import dotted_name, is_generator_function
from flaskfix.codemods.project import ModelInfo, find_model, resolve_module, sqlalchemy_call, sqlalchemy_model

SiteKind = Literal[
    "query.get", "query.get_or_404", "session.get", "db.get_or_404", "session.query.get", "query.filter_by"
]
ElementType = Literal["int", "str"]
Style = Literal["query", "session", "session.query"]
#: exact: a dict miss is the answer; canonical: only for canonical int strings; fallback:
#: never; converted: int(x) of string ids, prefetched for the ids int() surely accepts
Mode = Literal["exact", "canonical", "fallback", "converted"]

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
                             "bulk_update_mappings", "add_all", "refresh"})
#: MultiDict attributes of flask.request whose getlist() returns strings
REQUEST_MULTIDICTS = frozenset({"args", "form", "values"})
#: builtins that copy an iterable into a new collection with the same elements
COPYING_BUILTINS = frozenset({"list", "tuple", "set", "frozenset", "sorted"})
#: builtins that consume a generator expression completely, right away
CONSUMING_BUILTINS = frozenset({"list", "tuple", "set", "frozenset", "sorted", "dict", "sum", "min", "max", "any", "all"})
#: calls that may appear in a comprehension's statement besides the ones around it
PURE_CALLS = frozenset({f"builtins.{n}" for n in ("len", "str", "int", "bool", "list", "tuple", "set", "dict", "sorted")})
#: lookups ending a query chain
LOOKUP_METHODS = frozenset({"get", "get_or_404", "first", "one_or_none"})


@dataclass(eq=False)
class Site:
    call: cst.Call
    kind: SiteKind
    model: cst.Name
    arg: cst.Name  # the loop variable
    db: cst.Name | None = None  # session.get / db.get_or_404 / db.session.query
    session: cst.BaseExpression | None = None  # session.query(Model).get(x): the session
    keyword: str | None = None  # filter_by(<keyword>=x)
    description: cst.BaseExpression | None = None  # get_or_404's description
    convert: bool = False  # the lookup is given int(<arg>), not <arg>

    @property
    def aborts(self) -> bool:
        return self.kind in ("query.get_or_404", "db.get_or_404")


@dataclass(eq=False)
class Prefetch:
    """One dict built before one loop, for one model and one query style."""

    model: str
    info: ModelInfo
    style: Style
    db: str
    session: str  # the session expression for "session.query"
    mode: Mode
    falsy_ok: bool  # instances are always true (no __bool__/__len__): `or abort(404)` is exact
    sites: list[Site] = field(default_factory=list)
    name: str = ""
    keys: str = ""  # "converted": the name of the list of int keys to prefetch

    @property
    def key_str(self) -> bool:  # string ids against an integer primary key
        return self.mode == "canonical"


@dataclass(eq=False)
class LoopPlan:
    anchor: cst.CSTNode  # the For, or the comprehension
    statement: cst.CSTNode  # the For, or the SimpleStatementLine holding the comprehension
    ids_name: str  # the name the loop iterates (existing, or new when hoisted)
    hoist: cst.BaseExpression | None  # the original iterable, when it moves into ids_name
    elem: ElementType = "int"
    nonempty: bool = False  # statically known to hold ids: no guard needed
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
        None (or a 404 with get_or_404, in the same iteration), duplicates and the ids'
        order are kept. Each lookup reads a dict filled by one SELECT ... WHERE pk IN (...)
        made just before the loop (none when there are no ids). Integer ids, and
        query-string ids spelled like an int ("7"), never query again; other strings
        ("07", " 7", ids of 19 digits or more) and ids of a string primary key that have
        no row still run the original lookup, because only the database knows what they
        match; set exact_string_keys = true when your database compares string keys byte
        for byte (SQLite and PostgreSQL defaults) and such misses are answered from the
        prefetch too. With int(x) of a string id, int() still raises for a bad id in the
        same iteration as before. The query loads
        every listed row up front (also rows a `break` would never have reached), all at
        one moment rather than one by one as the loop advances. It sends one bind
        parameter per id: flaskfix only rewrites lists whose size is bounded (literal
        ranges up to max_ids, request.args/form lists, which Werkzeug caps), because
        databases limit the number of parameters in one statement.
    """
    REFUSES = (
        "the lookup is not in a function, or is in a generator function, or under a `with` inside the loop",
        "the id is neither the loop variable x itself nor int(x), or x is reassigned in the loop",
        "the lookup is in a nested function or lambda, or in a comprehension whose statement can run other code first",
        "the model is not a direct db.Model subclass with one primary-key column flaskfix can read (from primary_key=True "
        "or __mapper_args__), or it sets query_class/__table__, or __mapper_args__ keys other than primary_key that change loading",
        "the ids' element type is unknown, or does not match the primary key (int ids against a string key)",
        "the ids are not a re-iterable collection built in the function (a parameter, a generator), or the function may change them",
        "the loop body uses the database session or calls a method that writes (commit, flush, delete, expire, refresh...)",
        "a try statement surrounds the loop or the lookup (the prefetch could raise where the loop did not)",
        "the lookup passes extra arguments or carries options/filters (populate_existing, .options(), filter_by on another column)",
        "a range whose size is computed at run time, or larger than max_ids",
        "async code (an async for loop or comprehension), or a session not traceable to a Flask-SQLAlchemy object",
        "string ids that need a test of their spelling, in a module that rebinds int, str or len",
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
        user = user_by_id.get(user_id)
        names.append(user.name if user else None)
    return jsonify(users=names)
'''
    PREFILTER = (r"\.(?:get(?:_or_404)?|filter_by|filter)\(", r"\bfor\b", r"query|session|get_or_404")
    DEFAULT_CONFIG = {"max_ids": 1000, "line_length": 88, "exact_string_keys": False}
    METADATA_DEPENDENCIES = (ScopeProvider, PositionProvider)

    @classmethod
    def config_problems(cls, config: Mapping[str, Any]) -> list[str]:
        return [f"{key} must be a positive whole number, not {config[key]!r}"
                for key in ("max_ids", "line_length") if config[key] <= 0]

    # -- finding the sites ---------------------------------------------------------------

    @classmethod
    def detect(cls, facts: AstFacts) -> bool:
        """``detection.bulk_query`` (LibCST-free, so that a run needs no codemod import to ask it)."""
        return detection.bulk_query(facts)

    def rewrite(self, tree: cst.Module) -> cst.Module:
        sites = [s for s in (self._site(call) for call in _calls(tree)) if s is not None]
        if not sites:
            return tree
        self._local_tree: ast.Module | None = None
        self._body_ok: set[cst.CSTNode] = set()
        self._abort: str | None | bool = False  # False: not decided yet
        plans: dict[cst.CSTNode, LoopPlan] = {}
        taken: dict[cst.CSTNode, set[str]] = {}  # names given out, per function
        for site in sites:
            if not self._in_loop(site.call):
                continue  # a single lookup, not the N+1 pattern
            if self._suppressed(site.call):
                continue  # a `# flaskfix: ignore` comment holds it back (counted by the base)
            if self._own_fallback(site.call):
                continue  # flaskfix's own output: the original call kept for ids the prefetch cannot answer
            try:
                plan = self._plan(site, plans, taken)
            except Refused as r:
                self.add_finding(r.node, r.message)
                continue
            plans[plan.anchor] = plan
        if not plans:
            return tree
        replacements: dict[cst.CSTNode, cst.BaseExpression] = {}
        for plan in plans.values():
            for pre in plan.prefetches:
                for site in pre.sites:
                    replacements[site.call] = self._lookup(pre, site)
                    rest = {
                        "exact": "a missing id gives what the lookup gave without querying again",
                        "canonical": "only ids not spelled as a plain int fall back to the original call",
                        "fallback": "ids without a row fall back to the original call",
                        "converted": "int() of an id it rejects still raises in the same iteration, and "
                        "only ids not written as plain digits (\" 7\", \"+7\") fall back to the original call",
                    }[pre.mode]
                    self.add_change(
                        site.call,
                        f"`{pre.model}` rows for the loop's ids are loaded by one IN (...) query before the loop "
                        f"(into `{pre.name}`); {rest}",
                    )
        by_statement: dict[cst.CSTNode, list[LoopPlan]] = {}
        hoisted_iters: dict[cst.CSTNode, str] = {}
        for plan in plans.values():
            by_statement.setdefault(plan.statement, []).append(plan)
            if isinstance(plan.anchor, cst.BaseComp) and plan.hoist is not None:
                hoisted_iters[plan.anchor.for_in] = plan.ids_name
        return tree.visit(_Rewriter(self, replacements, by_statement, hoisted_iters))

    def _site(self, call: cst.Call) -> Site | None:
        """Recognise the lookup shapes; None for anything else (no finding: not ours)."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in LOOKUP_METHODS:
            return None
        method = func.attr.value
        base = func.value
        # Model.query.filter_by(pk=x).first() / .one_or_none()
        if method in ("first", "one_or_none"):
            inner = base
            compared = _filter_equals(inner)
            if compared is not None:  # Model.query.filter(Model.col == x).first(): filter_by(col=x)
                model_name, column, value = compared
                if call.args:
                    return None
                site = self._site_with_arg(call, "query.filter_by", model_name, value, None)
                if site is not None:
                    site.keyword = column
                return site
            if not (
                isinstance(inner, cst.Call)
                and isinstance(inner.func, cst.Attribute)
                and inner.func.attr.value == "filter_by"
                and _is_model_query(inner.func.value)
            ):
                self._carried_options(call)
                return None
            model_name = inner.func.value.value  # type: ignore[attr-defined]
            if call.args or len(inner.args) != 1 or inner.args[0].keyword is None or inner.args[0].star:
                self._loop_finding(call, f"`{model_name.value}.query.filter_by()` with other filters or arguments: they do not carry over to one IN (...) query")
                return None
            site = self._site_with_arg(call, "query.filter_by", model_name, inner.args[0].value, None)
            if site is not None:
                site.keyword = inner.args[0].keyword.value
            return site
        # Model.query.get(x) / Model.query.get_or_404(x[, description])
        if _is_model_query(base):
            assert isinstance(base, cst.Attribute) and isinstance(base.value, cst.Name)
            if method not in ("get", "get_or_404"):
                return None
            positional = [a for a in call.args if a.keyword is None]
            keywords = [a.keyword.value for a in call.args if a.keyword is not None]
            ok = _plain_args(call) and len(positional) >= 1 and call.args[0].keyword is None
            if method == "get":
                ok = ok and len(call.args) == 1
            else:
                ok = ok and len(call.args) <= 2 and set(keywords) <= {"description"}
            if not ok:
                self._loop_finding(call, f"`{base.value.value}.query.{method}()` with arguments flaskfix does not follow")
                return None
            kind: SiteKind = "query.get" if method == "get" else "query.get_or_404"
            site = self._site_with_arg(call, kind, base.value, call.args[0].value, None)
            if site is not None and len(call.args) == 2:
                site.description = call.args[1].value
            return site
        # db.session.get(Model, x)
        if method == "get" and isinstance(base, cst.Attribute) and base.attr.value == "session" and isinstance(base.value, cst.Name):
            if len(call.args) < 2 or not isinstance(call.args[0].value, cst.Name):
                return None
            if len(call.args) != 2 or not _plain_args(call) or any(a.keyword is not None for a in call.args):
                self._loop_finding(call, "`session.get()` with options (populate_existing, with_for_update...): a prefetched object would not honour them")
                return None
            return self._site_with_arg(call, "session.get", call.args[0].value, call.args[1].value, base.value)
        # db.get_or_404(Model, x[, description=...])
        if method == "get_or_404" and isinstance(base, cst.Name) and len(call.args) >= 2 and isinstance(call.args[0].value, cst.Name):
            extra = call.args[2:]
            if not _plain_args(call) or any(a.keyword is not None for a in call.args[:2]) or any(
                a.keyword is None or a.keyword.value != "description" for a in extra
            ):
                self._loop_finding(call, "`get_or_404()` with options (populate_existing, with_for_update...): a prefetched object would not honour them")
                return None
            site = self._site_with_arg(call, "db.get_or_404", call.args[0].value, call.args[1].value, base)
            if site is not None and extra:
                site.description = extra[0].value
            return site
        # session.query(Model).get(x) / db.session.query(Model).get(x)
        if method == "get" and isinstance(base, cst.Call) and isinstance(base.func, cst.Attribute) and base.func.attr.value == "query":
            receiver = base.func.value
            if not (isinstance(receiver, cst.Name) or (isinstance(receiver, cst.Attribute) and receiver.attr.value == "session" and isinstance(receiver.value, cst.Name))):
                return None
            if len(base.args) != 1 or base.args[0].keyword is not None or base.args[0].star or not isinstance(base.args[0].value, cst.Name):
                self._loop_finding(call, "`session.query(...)` of something other than one model class: not rewritten")
                return None
            if len(call.args) != 1 or not _plain_args(call) or call.args[0].keyword is not None:
                self._loop_finding(call, "`session.query(Model).get()` with arguments flaskfix does not follow")
                return None
            db = receiver.value if isinstance(receiver, cst.Attribute) else None
            site = self._site_with_arg(call, "session.query.get", base.args[0].value, call.args[0].value, db)  # type: ignore[arg-type]
            if site is not None:
                site.session = receiver
            return site
        self._carried_options(call)
        return None

    def _own_fallback(self, call: cst.Call) -> bool:
        """Is ``call`` the original lookup that an earlier run kept as the fallback of a
        prefetch dict (``d.get(x) if <test> else <call>``, ``d.get(x) or <call>``)? Such
        a call is left alone without a finding, so a second run changes and reports
        nothing."""
        parent = self.flask.parent(call)
        if isinstance(parent, cst.IfExp) and parent.orelse is call:
            other = parent.body
        elif isinstance(parent, cst.BooleanOperation) and isinstance(parent.operator, cst.Or) and parent.right is call:
            other = parent.left
        else:
            return False
        if isinstance(other, cst.BooleanOperation) and isinstance(other.operator, cst.Or):
            other = other.left  # (d.get(x) or abort(404)) if <test> else <call>
        if not (isinstance(other, cst.Call) and isinstance(other.func, cst.Attribute) and other.func.attr.value == "get"):
            return False
        holder = other.func.value
        if not isinstance(holder, cst.Name):
            return False
        scope = self.get_metadata(ScopeProvider, holder, None)
        assignments = list(scope[holder.value]) if scope is not None and holder.value in scope else []
        if len(assignments) != 1 or not isinstance(assignments[0], Assignment):
            return False
        target = self.flask.parent(assignments[0].node)
        stmt = self.flask.parent(target) if isinstance(target, cst.AssignTarget) else None
        if not isinstance(stmt, cst.Assign):
            return False
        value = stmt.value.body if isinstance(stmt.value, cst.IfExp) else stmt.value
        return isinstance(value, cst.DictComp) and ".in_(" in cst.Module([]).code_for_node(value.for_in.iter)

    def _carried_options(self, call: cst.Call) -> None:
        """A lookup on ``Model.query.<something>(...)``: options or filters that a
        prefetch by primary key would drop. Reported when in a loop."""
        func = call.func
        assert isinstance(func, cst.Attribute)
        node = func.value
        methods = []
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            methods.append(node.func.attr.value)
            node = node.func.value
        if methods and _is_model_query(node):
            chain = "".join(f".{meth}()" for meth in reversed(methods))
            self._loop_finding(call, f"`{node.value.value}.query{chain}.{func.attr.value}()`: the query carries `{chain}`, which a prefetch by primary key would not honour")  # type: ignore[attr-defined]

    def _site_with_arg(self, call: cst.Call, kind: SiteKind, model: cst.Name, arg: cst.BaseExpression, db: cst.Name | None) -> Site | None:
        if isinstance(arg, cst.Name):
            return Site(call, kind, model, arg, db)
        if (
            isinstance(arg, cst.Call)
            and self._is_builtin(arg.func, "int")
            and len(arg.args) == 1
            and arg.args[0].keyword is None
            and not arg.args[0].star
            and isinstance(arg.args[0].value, cst.Name)
        ):
            return Site(call, kind, model, arg.args[0].value, db, convert=True)
        if isinstance(arg, (cst.Integer, cst.SimpleString, cst.Float)):
            return None  # one constant id, not one lookup per id: not the N+1 this codemod batches
        code = cst.Module([]).code_for_node(arg)
        self._loop_finding(call, f"the id `{code}` is an expression: flaskfix follows only a name the loop binds "
                                 "(`for uid in ...`) or `int()` of one; not rewritten")
        return None

    def _loop_finding(self, call: cst.Call, message: str) -> None:
        """Report a lookup flaskfix does not rewrite, when it is in a loop (the N+1 pattern)
        and no `# flaskfix: ignore` comment holds it back."""
        if self._in_loop(call) and not self._suppressed(call):
            self.add_finding(call, message)

    def _suppressed(self, call: cst.Call) -> bool:
        """Held back by `# flaskfix: ignore`: on the lookup's statement, on the header of a
        loop around it (in its function), or on the def/decorator lines of a function
        around it."""
        model = self.flask
        nodes: list[cst.CSTNode] = [call]
        funcs: list[cst.FunctionDef] = []
        for anc in model.ancestors(call):
            if isinstance(anc, cst.SimpleStatementLine) and len(nodes) == 1 and not funcs:
                nodes.append(anc)
            elif isinstance(anc, cst.For) and not funcs:
                nodes += [anc.target, anc.iter]
            elif isinstance(anc, cst.While) and not funcs:
                nodes.append(anc.test)
            elif isinstance(anc, cst.FunctionDef):
                funcs.append(anc)
        if self.suppressed(*nodes):
            return True
        return any(self.suppressed(view=f) for f in funcs)

    def _in_loop(self, node: cst.CSTNode) -> bool:
        """Does ``node`` run once per iteration of some loop? Not when it is a loop's
        iterable (``for t in db.session.get(User, uid).todos``), which runs once."""
        child = node
        for anc in self.flask.ancestors(node):
            if isinstance(anc, cst.For) and child is not anc.iter:
                return True
            if isinstance(anc, cst.While):
                return True
            if isinstance(anc, cst.BaseComp) and child is not anc.for_in:
                return True  # the element (a for_in's ifs and inner fors answered at the CompFor)
            if isinstance(anc, cst.CompFor) and child is not anc.iter:
                return True
            if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return False
            child = anc
        return False

    # -- proving one site ----------------------------------------------------------------

    def _plan(self, site: Site, plans: dict[cst.CSTNode, LoopPlan], taken_by_function: dict[cst.CSTNode, set[str]]) -> LoopPlan:
        """Prove one lookup safe to serve from a prefetch, adding it to its loop's plan.
        New names are free in the whole module (so they shadow nothing) and unique within
        the function; two functions may both get ``user_by_id``."""
        model = self.flask
        name = site.arg.value
        lookup = f"`{cst.Module([]).code_for_node(site.call)}`"
        binding = self._loop_binding(site, name)
        if binding is None:
            if self._unpacked_in_loop(site.call, name):
                raise Refused(site.call, f"{lookup}: the id `{name}` is unpacked from the loop's items (`for a, b in ...`): not followed")
            raise Refused(site.call, f"{lookup}: the id `{name}` is not the variable of an enclosing for loop or comprehension")
        func = model.enclosing_function(binding)
        if func is None:
            raise Refused(site.call, f"{lookup} is not in a function")
        taken = taken_by_function.setdefault(func, set())
        if isinstance(binding, cst.For):
            anchor: cst.CSTNode = binding
            statement: cst.CSTNode = binding
            iterable = binding.iter
            self._check_for_loop(site, binding, func, lookup)
        else:
            comp = model.parent(binding)
            assert isinstance(comp, cst.BaseComp)
            anchor = comp
            iterable = binding.iter
            statement = self._check_comprehension(site, comp, binding, func, lookup)
        info, model_name = self._model_info(site, lookup)
        style: Style = {"session.get": "session", "db.get_or_404": "session", "session.query.get": "session.query"}.get(site.kind, "query")  # type: ignore[assignment]
        db_name = site.db.value if site.db is not None else info.db_name
        session = ""
        if site.kind == "session.query.get":
            session = self._session_of(site, lookup)
        elif style == "session":
            self._check_db(site, lookup, site.db)
        if site.kind == "query.filter_by" and site.keyword != info.primary_key:
            raise Refused(site.call, f"{lookup}: `{site.keyword}` is not the primary key of `{model_name}` (`{info.primary_key}`)")
        plan = plans.get(anchor)
        if plan is None:
            ids_name, hoist, elem, nonempty = self._ids(iterable, anchor, binding, lookup, taken)
            plan = LoopPlan(anchor, statement, ids_name, hoist, elem, nonempty)
        if info.pk_type is None:
            raise Refused(site.call, f"{lookup}: the type of `{model_name}.{info.primary_key}` is not one flaskfix knows (Integer or String columns)")
        if (plan.elem == "int" or site.convert) and info.pk_type == "str":
            ints = "the lookup is given int(...)" if site.convert else "the ids are ints"
            raise Refused(site.call, f"{lookup}: {ints} but `{model_name}.{info.primary_key}` holds strings")
        self._check_body(anchor, binding, lookup, site)
        mode: Mode
        if plan.elem == "int":
            mode = "exact"
        elif site.convert:
            mode = "converted"
        elif info.pk_type == "int":
            mode = "canonical"
        else:
            mode = "exact" if self.config["exact_string_keys"] else "fallback"
        if mode in ("canonical", "converted"):
            shadowed = sorted({"int", "str", "len"} & model.bound_names())
            if shadowed:
                raise Refused(site.call, f"{lookup}: the rewrite tests the ids with the builtins int/str/len, and this module binds `{shadowed[0]}`")
        for pre in plan.prefetches:
            if (pre.model, pre.style, pre.db, pre.session, pre.mode) == (model_name, style, db_name, session, mode):
                pre.sites.append(site)
                break
        else:
            pre = Prefetch(model_name, info, style, db_name, session, mode, self._always_true(site, model_name), [site])
            pk = info.primary_key
            by = "id" if pk == "id" or pk.endswith("_id") else pk
            pre.name = model.free_name(f"{_snake(model_name)}_by_{by}", taken)
            taken.add(pre.name)
            if mode == "converted":
                pre.keys = model.free_name(f"{_snake(model_name)}_keys", taken)
                taken.add(pre.keys)
            plan.prefetches.append(pre)
        return plan

    def _check_for_loop(self, site: Site, loop: cst.For, func: cst.FunctionDef, lookup: str) -> None:
        if loop.asynchronous is not None:
            raise Refused(site.call, f"{lookup} is in an async for loop")
        if is_generator_function(func):
            raise Refused(site.call, f"{lookup} is in a generator function: a streamed response runs the loop later, piece by piece")
        for anc in self._ancestors_until(site.call, loop):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                raise Refused(site.call, f"{lookup} is inside a nested function or lambda in the loop")
            if isinstance(anc, cst.BaseComp):
                raise Refused(site.call, f"{lookup} runs inside a comprehension in the loop: not rewritten")
            if isinstance(anc, (cst.Try, cst.TryStar)):
                raise Refused(site.call, f"{lookup} is inside a try statement: the prefetch before the loop could raise where the lookup was guarded")
            if isinstance(anc, cst.With):
                raise Refused(site.call, f"{lookup} is inside a with statement in the loop, which may set up the context the lookup needs")
        self._no_try_around(site, loop, func, lookup, "the loop")
        if not self._in_body(site.call, loop):
            raise Refused(site.call, f"{lookup} is not in the loop's body")
        self._check_loop_variable(site, loop, site.arg.value, lookup)

    def _no_try_around(self, site: Site, node: cst.CSTNode, func: cst.FunctionDef, lookup: str, what: str) -> None:
        for anc in self._ancestors_until(node, func):
            if isinstance(anc, (cst.Try, cst.TryStar)):
                raise Refused(site.call, f"a try statement surrounds {what} of {lookup}: the prefetch could raise earlier than the lookups did")

    def _check_comprehension(self, site: Site, comp: cst.BaseComp, comp_for: cst.CompFor, func: cst.FunctionDef, lookup: str) -> cst.SimpleStatementLine:
        """The statement the prefetch goes before; refuses what it cannot prove."""
        model = self.flask
        where = "a generator expression" if isinstance(comp, cst.GeneratorExp) else "a comprehension"
        if comp_for.asynchronous is not None:
            raise Refused(site.call, f"{lookup} is in an async comprehension")
        if comp.for_in is not comp_for or comp_for.inner_for_in is not None:
            raise Refused(site.call, f"{lookup} is in {where} with more than one `for`: not rewritten")
        if self._inside(site.call, comp_for):
            raise Refused(site.call, f"{lookup} is in a filter of {where}: not rewritten")
        for anc in self._ancestors_until(site.call, comp):
            if isinstance(anc, (cst.Lambda, cst.FunctionDef, cst.ClassDef, cst.BaseComp)):
                raise Refused(site.call, f"{lookup} is nested inside another function or comprehension within {where}")
        if _assigns_in(comp, site.arg.value):
            raise Refused(site.call, f"{lookup}: the variable `{site.arg.value}` is reassigned inside {where}")
        scope = self.get_metadata(ScopeProvider, site.arg, None)
        if not isinstance(scope, ComprehensionScope):
            raise Refused(site.call, f"{lookup}: flaskfix cannot resolve `{site.arg.value}`")
        if isinstance(comp, cst.GeneratorExp):
            arg = model.parent(comp)
            call = model.parent(arg) if isinstance(arg, cst.Arg) else None
            if not (isinstance(call, cst.Call) and len(call.args) == 1 and call.args[0] is arg and not arg.keyword and not arg.star and self._consumes(call)):
                raise Refused(site.call, f"{lookup} is in a generator expression that is not consumed at once (by list(), sorted(), \"\".join()...): it may run later, or never")
        small: cst.CSTNode | None = None
        for anc in model.ancestors(comp):
            if isinstance(anc, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
                raise Refused(site.call, f"{lookup} is in {where} inside a lambda or nested function")
            if isinstance(anc, cst.BaseComp):
                raise Refused(site.call, f"{lookup} is in {where} nested in another comprehension")
            if isinstance(anc, (cst.IfExp, cst.BooleanOperation)):
                raise Refused(site.call, f"{lookup} is in {where} that runs only under a condition")
            if isinstance(anc, cst.BaseSmallStatement):
                small = anc
                break
            if isinstance(anc, (cst.BaseCompoundStatement, cst.BaseSuite, cst.SimpleStatementLine)):
                break
        line = model.parent(small) if small is not None else None
        if not (isinstance(line, cst.SimpleStatementLine) and isinstance(model.parent(line), cst.IndentedBlock)):
            raise Refused(site.call, f"{lookup} is in {where} in the header of a compound statement: not rewritten")
        if len(line.body) != 1 or not isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Return)):
            raise Refused(site.call, f"{lookup} is in {where} on a line with other statements: not rewritten")
        problem = self._statement_problem(small, comp)
        if problem is not None:
            raise Refused(site.call, f"{lookup}: the statement holding {where} {problem}, which could run before the lookups and change what they return")
        if is_generator_function(func) and any(isinstance(a, cst.For) for a in self._ancestors_until(line, func)):
            raise Refused(site.call, f"{lookup} is in a loop of a generator function")
        self._no_try_around(site, line, func, lookup, where)
        return line

    def _consumes(self, call: cst.Call) -> bool:
        func = call.func
        if isinstance(func, cst.Name):
            return any(self._is_builtin(func, n) for n in CONSUMING_BUILTINS)
        return isinstance(func, cst.Attribute) and func.attr.value == "join" and isinstance(func.value, cst.SimpleString)

    def _statement_problem(self, small: cst.CSTNode, comp: cst.BaseComp) -> str | None:
        """What else in the statement could run before the comprehension (calls that do
        not enclose it, except a few builtins), or None."""
        codemod = self
        around = set(self.flask.ancestors(comp))
        found: list[str] = []

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> bool:
                if node is comp:
                    return False
                if node in around:
                    return True  # called after its arguments, the comprehension among them
                names = codemod.flask.qualified_names(node.func)
                if not names & PURE_CALLS:
                    found.append(f"calls `{cst.Module([]).code_for_node(node.func)}()`")
                return True

            def on_visit(self, node: cst.CSTNode) -> bool:
                if node is comp:
                    return False
                if isinstance(node, (cst.Lambda, cst.Await, cst.Yield, cst.NamedExpr)):
                    found.append(f"holds a `{type(node).__name__.lower()}`")
                    return False
                return super().on_visit(node)

        small.visit(V())
        return found[0] if found else None

    def _ancestors_until(self, node: cst.CSTNode, stop: cst.CSTNode | None) -> list[cst.CSTNode]:
        out = []
        for anc in self.flask.ancestors(node):
            if anc is stop:
                break
            out.append(anc)
        return out

    def _loop_binding(self, site: Site, name: str) -> cst.For | cst.CompFor | None:
        for anc in self.flask.ancestors(site.call):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return None
            for binder in _binders(anc):
                if isinstance(binder.target, cst.Name) and binder.target.value == name:
                    return binder
            if isinstance(anc, cst.BaseComp):
                return None
        return None

    def _unpacked_in_loop(self, node: cst.CSTNode, name: str) -> bool:
        """Is ``name`` one of several targets of an enclosing for loop or comprehension?"""
        for anc in self.flask.ancestors(node):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return False
            for binder in _binders(anc):
                target = binder.target
                if isinstance(target, (cst.Tuple, cst.List)) and any(
                    isinstance(n, cst.Name) and n.value == name for n in m.findall(target, m.Name())
                ):
                    return True
        return False

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

    def _always_true(self, site: Site, name: str) -> bool:
        """Are the model's instances always true? (A direct db.Model subclass, so only
        its own body could define __bool__/__len__.)"""
        tree = self._model_tree
        if tree is None:
            return False
        for stmt in tree.body:
            if isinstance(stmt, ast.ClassDef) and stmt.name == self._model_class:
                for item in stmt.body:
                    names = [item.name] if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) else [
                        t.id for t in getattr(item, "targets", [getattr(item, "target", None)]) if isinstance(t, ast.Name)
                    ]
                    if {"__bool__", "__len__"} & set(names):
                        return False
                return True
        return False

    def _session_of(self, site: Site, lookup: str) -> str:
        """``db.session`` (db a Flask-SQLAlchemy object) or a module-level name bound to
        it; the text to build the prefetch with."""
        receiver = site.session
        if isinstance(receiver, cst.Attribute):
            self._check_db(site, lookup, site.db)
            return cst.Module([]).code_for_node(receiver)
        assert isinstance(receiver, cst.Name)
        scope = self.get_metadata(ScopeProvider, receiver, None)
        assignments = list(scope[receiver.value]) if scope is not None and receiver.value in scope else []
        if len(assignments) == 1 and isinstance(assignments[0], Assignment) and assignments[0].scope is self.flask.module_scope():
            target = assignments[0].node
            holder = self.flask.parent(target)
            stmt = self.flask.parent(holder) if isinstance(holder, cst.AssignTarget) else None
            if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, cst.Attribute):
                value = stmt.value
                if value.attr.value == "session" and isinstance(value.value, cst.Name):
                    self._check_db(site, lookup, value.value)
                    site.db = value.value
                    return receiver.value
        raise Refused(site.call, f"{lookup}: flaskfix cannot tell which session `{receiver.value}` is (it needs `db.session` of a Flask-SQLAlchemy object)")

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
        self._model_tree: ast.Module | None = None
        self._model_class = name
        if isinstance(node, cst.ClassDef) and model.parent(node) is model.module:
            info = sqlalchemy_model(self._this_tree(), name)
            where = ""
            self._model_tree = self._this_tree()
        elif isinstance(node, cst.ImportFrom):
            where, original = self._imported(node, name)
            if where is not None and original is not None:
                info = find_model(self.project, where, original)
                self._model_tree = self.project.tree(where)
                self._model_class = original
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

    def _check_db(self, site: Site, lookup: str, db: cst.Name | None) -> None:
        """``db`` in ``db.session.get(Model, x)`` must be a Flask-SQLAlchemy object."""
        assert db is not None
        name = db.value
        scope = self.get_metadata(ScopeProvider, db, None)
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

    def _ids(
        self, it: cst.BaseExpression, anchor: cst.CSTNode, binding: cst.For | cst.CompFor, lookup: str, taken: set[str]
    ) -> tuple[str, cst.BaseExpression | None, ElementType, bool]:
        """(the name to iterate, the expression to bind to it first or None, the ids'
        element type, whether they are statically known to be non-empty)"""
        if isinstance(it, cst.Name):
            value = self._single_local_value(it, anchor, lookup)
            elem = self._element_type(value, lookup, anchor)
            return it.value, None, elem, _nonempty(value)
        elem = self._element_type(it, lookup, anchor)
        target = binding.target.value if isinstance(binding.target, cst.Name) else "id"
        base = f"{target}s" if len(target) > 2 and not keyword.iskeyword(f"{target}s") else "ids"
        name = self.flask.free_name(base, taken)
        taken.add(name)
        return name, it, elem, _nonempty(it)

    def _single_local_value(self, name: cst.Name, loop: cst.CSTNode, lookup: str) -> cst.BaseExpression:
        scope = self.get_metadata(ScopeProvider, name, None)
        where = f"the loop iterates `{name.value}`"
        if scope is None or not isinstance(scope, FunctionScope) or name.value not in scope:
            raise Refused(loop, f"{lookup}: {where}, which is not a local variable of the function")
        assignments = list(scope[name.value])
        if len(assignments) != 1 or not isinstance(assignments[0], Assignment) or assignments[0].scope is not scope:
            raise Refused(loop, f"{lookup}: {where}, which is a parameter or is assigned more than once")
        assignment = assignments[0]
        target = assignment.node
        if isinstance(target, cst.Param) or isinstance(self.flask.parent(target), cst.Param):
            raise Refused(loop, f"{lookup}: {where}, a parameter of the function: flaskfix cannot tell what it holds")
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
            raise Refused(loop, f"{lookup}: {where}, which the function also uses in a way that may change it (line {self.line_of(node)})")
        return stmt.value

    def _element_type(self, expr: cst.BaseExpression, lookup: str, loop: cst.CSTNode, depth: int = 0) -> ElementType:
        refuse = Refused(
            loop,
            f"{lookup}: flaskfix cannot tell what the loop iterates (it needs a range, a literal list, "
            "request.args.getlist(...) or a copy of one of them, built in the function)",
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

    def _check_body(self, anchor: cst.CSTNode, binding: cst.CSTNode, lookup: str, site: Site) -> None:
        if anchor in self._body_ok:
            return
        if isinstance(anchor, cst.For):
            parts: list[cst.CSTNode] = [anchor.body]
            what = "the loop"
        else:
            assert isinstance(anchor, cst.BaseComp) and isinstance(binding, cst.CompFor)
            parts = [anchor.key, anchor.value] if isinstance(anchor, cst.DictComp) else [anchor.elt]  # type: ignore[attr-defined]
            parts += [c.test for c in binding.ifs]
            what = "the comprehension"
        seen: set[str] = set()
        for part in parts:
            problem = self._body_problem(part, seen)
            if problem is not None:
                node, why = problem
                raise Refused(site.call, f"{lookup}: {what} {why} at line {self.line_of(node)}, which may change what a later lookup returns")
        self._body_ok.add(anchor)

    def _body_problem(self, body: cst.CSTNode, seen: set[str]) -> tuple[cst.CSTNode, str] | None:
        found: list[tuple[cst.CSTNode, str]] = []
        local_functions = {f.name.value: f for f in self.flask.module.body if isinstance(f, cst.FunctionDef)}
        codemod = self

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> bool:
                func = node.func
                if codemod._site_shape(node):
                    # a lookup: its own `.session`/`.query` is a read; its arguments may not be
                    chain: cst.BaseExpression = node
                    while isinstance(chain, cst.Call):
                        for arg in chain.args:
                            arg.visit(self)
                        chain = chain.func.value if isinstance(chain.func, cst.Attribute) else None  # type: ignore[assignment]
                        while isinstance(chain, cst.Attribute):
                            chain = chain.value
                    return False
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
                if node.attr.value in ("session", "engine"):
                    found.append((node, f"uses `.{node.attr.value}`"))
                return True

            def visit_Name(self, node: cst.Name) -> None:
                parent = codemod.flask.parent(node)
                if node.value == "session" and not (isinstance(parent, cst.Attribute) and parent.attr is node):
                    if not codemod.flask.refers_to(node, "flask.session"):
                        found.append((node, "uses `session`"))

        body.visit(V())
        return found[0] if found else None

    def _site_shape(self, call: cst.Call) -> bool:
        """Syntactically one of the lookups (whatever it is proven to be later)."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in LOOKUP_METHODS:
            return False
        base = func.value
        if func.attr.value in ("first", "one_or_none"):
            if _filter_equals(base) is not None:
                return True
            return isinstance(base, cst.Call) and isinstance(base.func, cst.Attribute) and base.func.attr.value == "filter_by" and _is_model_query(base.func.value)
        if _is_model_query(base):
            return True
        if func.attr.value == "get_or_404":
            return isinstance(base, cst.Name)
        if isinstance(base, cst.Attribute) and base.attr.value == "session" and isinstance(base.value, cst.Name):
            return len(call.args) == 2 and not any(a.keyword for a in call.args)
        return isinstance(base, cst.Call) and isinstance(base.func, cst.Attribute) and base.func.attr.value == "query"

    # -- output --------------------------------------------------------------------------

    def _abort_name(self) -> str | None:
        """How to call flask.abort here (importing it when the name is free), or None."""
        if self._abort is False:
            found = self.flask.expression_for("flask.abort")
            if found is None and "abort" not in self.flask.bound_names():
                self.add_import("flask", "abort")
                found = "abort"
            self._abort = found
        return self._abort  # type: ignore[return-value]

    def _not_found(self, pre: Prefetch, site: Site) -> str | None:
        """``abort(404[, description=...])``, exactly what get_or_404 raises, or None
        when flaskfix cannot say it as cheaply (then the original call answers)."""
        if not pre.falsy_ok:
            return None
        desc = site.description
        if desc is not None and not _string_literal(desc):
            return None
        abort = self._abort_name()
        if abort is None:
            return None
        code = cst.Module([]).code_for_node
        return f"{abort}(404)" if desc is None else f"{abort}(404, description={code(desc)})"

    def _lookup(self, pre: Prefetch, site: Site) -> cst.BaseExpression:
        code = cst.Module([]).code_for_node
        x = site.arg.value
        hit = f"{pre.name}.get(int({x}))" if site.convert else f"{pre.name}.get({x})"
        original = code(site.call.with_changes(lpar=[], rpar=[]))
        miss = self._not_found(pre, site) if site.aborts and pre.mode != "fallback" else None
        if pre.mode == "exact":
            text = hit if not site.aborts else f"{hit} or {miss or original}"
            parts = None
        elif pre.mode in ("canonical", "converted") and (miss is not None or not site.aborts):
            first = f"({hit} or {miss})" if site.aborts else hit
            cond = _prefetched_condition(pre.mode, x)
            text = f"{first} if {cond} else {original}"
            parts = (first, f"if {cond}", f"else {original}")
        else:
            text = f"{hit} or {original}"
            parts = None
        parent = self.flask.parent(site.call)
        bare_ok = (
            (isinstance(parent, (cst.Assign, cst.AnnAssign, cst.Return)) and parent.value is site.call)
            or (isinstance(parent, cst.Arg) and parent.value is site.call)
            or isinstance(parent, cst.Expr)
            or (isinstance(parent, (cst.Element, cst.DictElement)) and parent.value is site.call)
            or (isinstance(parent, (cst.ListComp, cst.SetComp, cst.GeneratorExp)) and parent.elt is site.call)
            or (isinstance(parent, cst.DictComp) and parent.value is site.call)
        )
        if text == hit:
            return cst.parse_expression(hit).with_changes(lpar=site.call.lpar, rpar=site.call.rpar)
        line = self._line_of_statement(site.call)
        if parts is not None and line is not None and isinstance(parent, (cst.Assign, cst.Return)) and parent.value is site.call and not site.call.lpar:
            indent, length = line
            if indent + length - len(original) + len(text) > int(self.config["line_length"]):
                body = "".join(f"\n    {p}" for p in parts)
                return cst.parse_expression(f"({body}\n)")
        if site.call.lpar:
            return cst.parse_expression(f"({text})")
        return cst.parse_expression(text if bare_ok else f"({text})")

    def _line_of_statement(self, node: cst.CSTNode) -> tuple[int, int] | None:
        """(indent, length) of the one-line statement holding ``node``."""
        for anc in self.flask.ancestors(node):
            if isinstance(anc, cst.SimpleStatementLine):
                pos = self.get_metadata(PositionProvider, anc, None)
                if pos is None or pos.start.line != pos.end.line:
                    return None
                return pos.start.column, len(cst.Module([]).code_for_node(anc).strip())
            if isinstance(anc, cst.BaseCompoundStatement):
                return None
        return None

    def prefetch_statements(self, plan: LoopPlan, pre: Prefetch, indent: str) -> list[cst.BaseStatement]:
        """The statements filling ``pre.name``: for ``int(x)`` lookups of string ids, the
        list of int keys first, then the dict."""
        model, pk, var = pre.model, pre.info.primary_key, _snake(pre.model)
        if var in (model, plan.ids_name, pre.db, pre.name, pre.session, pre.keys):
            var = "obj" if "obj" not in (model, plan.ids_name, pre.db, pre.name, pre.session, pre.keys) else "row"
        key = f"{var}.{pk}"
        if pre.key_str:
            key = f"str({key})"
        width = int(self.config["line_length"]) - len(indent)
        if pre.mode == "converted":
            x = pre.sites[0].arg.value
            keys = f"{pre.keys} = [int({x}) for {x} in {plan.ids_name} if {_prefetched_condition('converted', x)}]"
            if len(keys) > width:
                keys = f"{pre.keys} = [\n    int({x}) for {x} in {plan.ids_name} if {_prefetched_condition('converted', x)}\n]"
            return [cst.parse_statement(keys + "\n"), self._dict_statement(pre, pre.keys, False, key, var, width)]
        return [self._dict_statement(pre, plan.ids_name, plan.nonempty, key, var, width)]

    def _dict_statement(self, pre: Prefetch, ids: str, nonempty: bool, key: str, var: str, width: int) -> cst.BaseStatement:
        model, pk = pre.model, pre.info.primary_key
        where = f"{model}.{pk}.in_({ids})"
        if pre.style == "query":
            source = f"{model}.query.filter({where})"
        elif pre.style == "session.query":
            source = f"{pre.session}.query({model}).filter({where})"
        else:
            source = f"{pre.db}.session.scalars({pre.db}.select({model}).where({where}))"
        guard = "" if nonempty else f" if {ids} else {{}}"
        one_line = f"{pre.name} = {{{key}: {var} for {var} in {source}}}{guard}"
        if len(one_line) <= width:
            return cst.parse_statement(one_line + "\n")
        if len(f"{key}: {var} for {var} in {source}") <= width - 4:
            inner = f"{key}: {var} for {var} in {source}"
        else:
            inner = f"{key}: {var}\n    for {var} in {source}"
        return cst.parse_statement(f"{pre.name} = {{\n    {inner}\n}}{guard}\n")


class _Rewriter(cst.CSTTransformer):
    def __init__(
        self,
        codemod: BulkQuery,
        replacements: dict[cst.CSTNode, cst.BaseExpression],
        by_statement: dict[cst.CSTNode, list[LoopPlan]],
        hoisted_iters: dict[cst.CSTNode, str],
    ) -> None:
        super().__init__()
        self.codemod = codemod
        self.replacements = replacements
        self.by_statement = by_statement
        self.hoisted_iters = hoisted_iters

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self.replacements.get(original_node, updated_node)

    def leave_CompFor(self, original_node: cst.CompFor, updated_node: cst.CompFor) -> cst.CompFor:
        name = self.hoisted_iters.get(original_node)
        return updated_node if name is None else updated_node.with_changes(iter=cst.Name(name))

    def leave_For(self, original_node: cst.For, updated_node: cst.For):  # type: ignore[no-untyped-def]
        return self._before(original_node, updated_node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):  # type: ignore[no-untyped-def]
        return self._before(original_node, updated_node)

    def _before(self, original_node: cst.BaseStatement, updated_node: cst.BaseStatement):  # type: ignore[no-untyped-def]
        plans = self.by_statement.get(original_node)
        if not plans:
            return updated_node
        indent = self._indent_of(original_node)
        statements: list[cst.BaseStatement] = []
        for plan in plans:
            if plan.hoist is not None:
                statements.append(cst.parse_statement(f"{plan.ids_name} = {cst.Module([]).code_for_node(plan.hoist)}\n"))
                if isinstance(updated_node, cst.For) and plan.anchor is original_node:
                    updated_node = updated_node.with_changes(iter=cst.Name(plan.ids_name))
            for pre in plan.prefetches:
                statements += self.codemod.prefetch_statements(plan, pre, indent)
        # blank lines move above the new statements; comments stay with the statement they describe
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


def _prefetched_condition(mode: Mode, x: str) -> str:
    """The test that string id ``x`` is one the prefetch asked for, so that a dict miss
    is the answer. A string that is ``isdecimal()`` with fewer than 19 digits is one
    ``int()`` surely accepts (CPython refuses more than 4,300 digits) and whose value fits
    in a 64-bit key (SQLite compares larger ones as floats); "canonical" also wants the
    int's own spelling ("7", not "07"), because then the database was asked the very
    string."""
    if mode == "converted":
        return f"{x}.isdecimal() and len({x}) < 19"
    return f"{x}.isdecimal() and len({x}) < 19 and str(int({x})) == {x}"


def _binders(node: cst.CSTNode) -> list[cst.For | cst.CompFor]:
    """The ``for`` clauses that bind loop variables at ``node``: a for loop itself, or
    every ``for`` of a comprehension; none for anything else."""
    if isinstance(node, cst.For):
        return [node]
    out: list[cst.For | cst.CompFor] = []
    comp_for = node.for_in if isinstance(node, cst.BaseComp) else None
    while comp_for is not None:
        out.append(comp_for)
        comp_for = comp_for.inner_for_in
    return out


def _calls(tree: cst.Module) -> list[cst.Call]:
    out: list[cst.Call] = []

    class V(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value in LOOKUP_METHODS:
                out.append(node)

    tree.visit(V())
    return out


def _filter_equals(node: cst.BaseExpression) -> tuple[cst.Name, str, cst.BaseExpression] | None:
    """``Model.query.filter(Model.col == x)`` (one condition, the query's own model, ``==``
    with the column on the left): (Model, "col", x); what ``filter_by(col=x)`` says."""
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "filter"):
        return None
    query = node.func.value
    if not _is_model_query(query) or len(node.args) != 1 or node.args[0].keyword is not None or node.args[0].star:
        return None
    test = node.args[0].value
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.comparisons[0].operator, cst.Equal)):
        return None
    left = test.left
    model = query.value  # type: ignore[attr-defined]
    if not (isinstance(left, cst.Attribute) and isinstance(left.value, cst.Name) and left.value.value == model.value):
        return None
    return model, left.attr.value, test.comparisons[0].comparator


def _is_model_query(node: cst.BaseExpression) -> bool:
    """``Model.query``"""
    return isinstance(node, cst.Attribute) and node.attr.value == "query" and isinstance(node.value, cst.Name)


def _string_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.SimpleString):
        return True
    return isinstance(node, cst.ConcatenatedString) and _string_literal(node.left) and _string_literal(node.right)


def _nonempty(expr: cst.BaseExpression) -> bool:
    """A literal collection with elements, or a range of literals that is not empty."""
    if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        return bool(expr.elements) and not any(isinstance(e, cst.StarredElement) for e in expr.elements)
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "range":
        bounds = [_int_literal(a.value) if not a.keyword and not a.star else None for a in expr.args]
        if 1 <= len(bounds) <= 3 and all(b is not None for b in bounds) and not (len(bounds) == 3 and bounds[2] == 0):
            return len(range(*bounds)) > 0  # type: ignore[arg-type]
    return False


def _assigns_in(node: cst.CSTNode, name: str) -> bool:
    found = False

    class V(cst.CSTVisitor):
        def visit_NamedExpr(self, n: cst.NamedExpr) -> None:
            nonlocal found
            found = found or (isinstance(n.target, cst.Name) and n.target.value == name)

    node.visit(V())
    return found


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
