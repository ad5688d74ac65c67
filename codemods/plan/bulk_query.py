"""bulk-query's decisions, on stdlib ``ast``: which lookups in loops are served from a
prefetch, which are refused and why, and the edits that make the prefetch.

What the codemod does and why each rule holds is in ``codemods/bulk_query.py``'s
docstring (``flaskfix explain bulk-query``); this module proves each site and writes the
plan. LibCST is used only by the engine, to apply the edits of a file that gets some.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass, field
from typing import Literal

from flaskfix.codemods.ast_facts import LOOP_LOOKUPS, dotted
from flaskfix.codemods.changes import Change
from flaskfix.codemods.plan import FilePlan, InsertBefore, PlanInput, ReplaceCall, SetCompIter
from flaskfix.codemods.plan.base import Planner, def_lines, node_lines
from flaskfix.codemods.plan.scopes import COMPREHENSIONS, FUNCTIONS, is_generator_function
from flaskfix.codemods.project import (SESSION_CLASSES, ModelInfo, declarative_base, find_model, resolve_module,
                                       session_factory, sqlalchemy_call, sqlalchemy_model)

ID = "bulk-query"

SiteKind = Literal[
    "query.get", "query.get_or_404", "session.get", "db.get_or_404", "session.query.get", "query.filter_by",
    "session.query.filter_by", "session.select",
]
#: row: the loop iterates model rows (ids are their columns); any: a JSON value from the
#: client, whose elements may be anything
ElementType = Literal["int", "str", "row", "any"]
#: session: ``db.session.scalars(db.select(M)...)``; session.query: ``<session>.query(M)...``;
#: session.select: ``<plain session>.scalars(<select>(M)...)`` (``pre.db`` holds the select's text)
Style = Literal["query", "session", "session.query", "session.select"]
#: exact: a dict miss is the answer; canonical: only for canonical int strings; fallback:
#: never; converted: int(x) of string ids, prefetched for the ids int() surely accepts;
#: typed: ids read from the loop's rows (``o.customer_id``), prefetched only for values of
#: the primary key's own type (None and anything else take the original call)
#: bounded: ints the client chose (getlist(type=int), int() of split pieces): only those
#: within 64 bits are prefetched (SQLite cannot bind a larger one: the prefetch would raise
#: where the loop, stopped earlier by a 404 or a break, would not have)
Mode = Literal["exact", "canonical", "fallback", "converted", "typed", "bounded"]

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
LOOKUP_METHODS = LOOP_LOOKUPS  # the detection pass looks for the same ones
#: query methods after which every row is still one instance of the query's model (so a
#: column read on it is a plain attribute); anything else (with_entities, add_columns,
#: yield_per, from_self...) is not followed
ROW_KEEPING_METHODS = frozenset({
    "filter", "filter_by", "where", "order_by", "limit", "offset", "options", "distinct", "join", "outerjoin",
    "params", "with_parent", "group_by", "having", "enable_eagerloads", "populate_existing", "execution_options",
})
#: ids read from rows are not bounded: the prefetch asks at most this many per IN (...)
#: (SQLite's old default cap on bound parameters is 999, Oracle's IN list 1,000, SQL Server 2,100)
CHUNK = 500

_TRY = tuple(t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t is not None)
_LOOPS = (ast.For, ast.AsyncFor)
_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, *_TRY, ast.FunctionDef,
             ast.AsyncFunctionDef, ast.ClassDef, ast.Match)
_SMALL = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return)


@dataclass(eq=False)
class Site:
    call: ast.Call
    kind: SiteKind
    model: ast.Name
    arg: ast.Name
    db: ast.Name | None
    convert: bool = False  # the lookup is given int(arg)
    description: ast.expr | None = None  # get_or_404's description argument
    keyword: str | None = None  # filter_by's column
    session: ast.expr | None = None  # session.query(Model).get(x): the receiver
    must_exist: bool = False  # ``.one()``: a missing row raises NoResultFound (the original call, on a miss)
    item_attr: str | None = None  # the id is ``<arg>.<item_attr>``: a column of the loop's rows
    item_key: str | None = None  # the id is ``<arg>["<item_key>"]``: a field of the JSON body's items

    @property
    def id_code(self) -> str:
        if self.item_key is not None:
            return f'{self.arg.id}["{self.item_key}"]' if '"' not in self.item_key else f"{self.arg.id}[{self.item_key!r}]"
        return f"{self.arg.id}.{self.item_attr}" if self.item_attr else self.arg.id

    @property
    def aborts(self) -> bool:
        return self.kind in ("query.get_or_404", "db.get_or_404")


@dataclass(eq=False)
class Prefetch:
    model: str
    info: ModelInfo
    style: Style
    db: str
    session: str
    mode: Mode
    falsy_ok: bool  # the model's rows are always true, so `d.get(x) or abort(404)` is exact
    sites: list[Site]
    name: str = ""
    keys: str = ""
    attr: str | None = None  # typed: the rows' column holding the ids

    @property
    def key_str(self) -> bool:  # string ids against an integer primary key
        return self.mode in ("canonical", "fallback") and self.info.pk_type == "int"


@dataclass(eq=False)
class LoopPlan:
    anchor: ast.AST  # the for loop, or the comprehension
    statement: ast.stmt  # the prefetch goes before it
    ids_name: str
    hoist: ast.expr | None  # the iterable, bound to ids_name first
    elem: ElementType
    nonempty: bool
    prefetches: list[Prefetch] = field(default_factory=list)
    #: the loop iterates rows of this model and the ids are columns of them (typed mode);
    #: ``hoist_text`` then replaces the hoisted iterable's own text (a query gets ``.all()``)
    rows: str | None = None
    hoist_text: str | None = None
    #: the ids come from the client (getlist...): no bound on their number, so the
    #: prefetch asks CHUNK at a time
    unbounded: bool = False
    #: elem "any": where the values come from, for the change's text
    origin: str = "sent by the client as JSON"


class Refused(Exception):
    def __init__(self, node: ast.AST, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


def plan(inp: PlanInput) -> FilePlan:
    return _Planner(inp).run()


class _Planner(Planner):
    ID = ID

    def __init__(self, inp: PlanInput) -> None:
        super().__init__(inp)
        self._body_ok: set[tuple[ast.AST, str]] = set()
        self._plain_sessions: dict[tuple[str, object], bool] = {}
        self._abort: str | None | bool = False  # False: not decided yet
        self._model_tree: ast.Module | None = None
        self._model_class = ""
        self._unbounded = False
        self._any_origin = "sent by the client as JSON"

    # -- reporting -----------------------------------------------------------------------

    def code(self, node: ast.AST) -> str:
        return self.lines.segment(node) or ""

    def shown(self, node: ast.AST) -> str:
        """``node``'s source on one line, for a message."""
        return _one_line(self.code(node))

    # -- the file ------------------------------------------------------------------------

    def run(self) -> FilePlan:
        sites = [s for s in (self._site(call) for call in _calls(self.tree)) if s is not None]
        if not sites:
            return self.out
        plans: dict[ast.AST, LoopPlan] = {}
        taken: dict[ast.AST, set[str]] = {}  # names given out, per function
        for site in sites:
            if not self._in_loop(site.call):
                continue  # a single lookup, not the N+1 pattern
            if self._suppressed(site.call):
                continue  # a `# flaskfix: ignore` comment holds it back (counted)
            if self._own_fallback(site.call):
                continue  # flaskfix's own output: the original call kept for ids the prefetch cannot answer
            try:
                loop_plan = self._plan(site, plans, taken)
            except Refused as r:
                self.add_finding(r.node, r.message)
                continue
            plans[loop_plan.anchor] = loop_plan
        for loop_plan in plans.values():
            self._edits(loop_plan)
        return self.out

    def _edits(self, lp: LoopPlan) -> None:
        rest = {
            "exact": "a missing id gives what the lookup gave without querying again",
            "canonical": "only ids not spelled as a plain int fall back to the original call",
            "fallback": "ids without a row fall back to the original call",
            "bounded": "a missing id gives what the lookup gave without querying again; an id beyond 64 bits "
            "takes the original call (which raises as before, in the same iteration)",
            "converted": "int() of an id it rejects still raises in the same iteration, and "
            "only ids not written as plain digits (\" 7\", \"+7\") fall back to the original call",
        }
        for pre in lp.prefetches:
            for site in pre.sites:
                self.out.edits.append(self._lookup(pre, site))
                if pre.mode == "typed":
                    if pre.info.pk_type == "int":
                        miss = "a value that is not an int (None) takes the original call"
                    elif self.config["exact_string_keys"]:
                        miss = "a value that is not a str (None) takes the original call"
                    else:
                        miss = "a miss takes the original call (the column's collation may match another spelling)"
                    if pre.attr is None:  # ids from the client's JSON
                        if pre.info.pk_type == "int":
                            miss = "an id that is not an int within 64 bits takes the original call"
                        ids = (f"every `{site.id_code}` of the loop's items" if site.item_key is not None
                               else "the loop's ids")
                        text = (f"`{pre.model}` rows for {ids} ({lp.origin}: any type, any "
                                f"number) are loaded before the loop by IN (...) queries of at most {CHUNK} ids (into "
                                f"`{pre.name}`); {miss}")
                        if lp.origin != "sent by the client as JSON":
                            text += "; rows are loaded for every item, also those a loop that stops early would not reach"
                    else:
                        text = (f"`{pre.model}` rows for every `{site.id_code}` of the loop's `{lp.rows}` rows are loaded "
                                f"before the loop by IN (...) queries of at most {CHUNK} ids (into `{pre.name}`); {miss}; "
                                "rows are loaded for every item, also those a loop that stops early would not reach")
                elif lp.unbounded:
                    text = (f"`{pre.model}` rows for the loop's ids are loaded before the loop by IN (...) queries of "
                            f"at most {CHUNK} ids (the client chooses how many; into `{pre.name}`); {rest[pre.mode]}")
                else:
                    text = (f"`{pre.model}` rows for the loop's ids are loaded by one IN (...) query before the loop "
                            f"(into `{pre.name}`); {rest[pre.mode]}")
                self.out.changes.append(Change(site.call.lineno, ID, text))
        statement = lp.statement
        indent = self.lines.col(statement.lineno, statement.col_offset)
        statements: list[str] = []
        new_iter = None
        if lp.hoist is not None:
            statements.append(f"{lp.ids_name} = {lp.hoist_text or self.code(lp.hoist)}\n")
            if isinstance(lp.anchor, _LOOPS):
                new_iter = lp.ids_name
            else:
                self.out.edits.append(SetCompIter(self.lines.span(lp.hoist), lp.ids_name))
        for pre in lp.prefetches:
            statements += self.prefetch_statements(lp, pre, indent)
        self.out.edits.append(InsertBefore(self.lines.span(statement), tuple(statements), new_iter))

    # -- finding the sites ---------------------------------------------------------------

    def _site(self, call: ast.Call) -> Site | None:
        """Recognise the lookup shapes; None for anything else (no finding: not ours)."""
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in LOOKUP_METHODS:
            return None
        method = func.attr
        base = func.value
        plain = _plain_args(call)
        n_args = len(call.args) + len(call.keywords)
        # Model.query.filter_by(pk=x).first() / .one_or_none() / .scalar() / .one()
        selected = self._select_lookup(call)
        if selected is not None:
            return selected if isinstance(selected, Site) else None
        if method in ("first", "one_or_none", "scalar", "one"):
            inner = base
            compared = _filter_equals(inner)
            if compared is not None:  # Model.query.filter(Model.col == x).first(): filter_by(col=x)
                model_name, column, value = compared
                if n_args:
                    return None
                receiver = _session_query_receiver(inner.func.value)  # type: ignore[attr-defined]
                kind = "session.query.filter_by" if receiver is not None else "query.filter_by"
                site = self._site_with_arg(call, kind, model_name, value, _db_of(receiver))
                if site is not None:
                    site.keyword, site.must_exist, site.session = column, method == "one", receiver
                return site
            if not (
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Attribute)
                and inner.func.attr == "filter_by"
                and (_is_model_query(inner.func.value) or _session_query_receiver(inner.func.value) is not None)
            ):
                self._carried_options(call)
                return None
            receiver = _session_query_receiver(inner.func.value)
            model_name = inner.func.value.args[0] if receiver is not None else inner.func.value.value  # type: ignore[attr-defined]
            if n_args or inner.args or len(inner.keywords) != 1 or inner.keywords[0].arg is None:
                shown = f"{self.shown(inner.func.value)}.filter_by()" if receiver is not None else f"{model_name.id}.query.filter_by()"
                self._loop_finding(call, f"`{shown}` with other filters or arguments: they do not carry over to one IN (...) query")
                return None
            kind = "session.query.filter_by" if receiver is not None else "query.filter_by"
            site = self._site_with_arg(call, kind, model_name, inner.keywords[0].value, _db_of(receiver))
            if site is not None:
                site.keyword, site.must_exist, site.session = inner.keywords[0].arg, method == "one", receiver
            return site
        # Model.query.get(x) / Model.query.get_or_404(x[, description])
        if _is_model_query(base):
            assert isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name)
            if method not in ("get", "get_or_404"):
                return None
            keywords = [k.arg for k in call.keywords]
            ok = plain and len(call.args) >= 1
            if method == "get":
                ok = ok and n_args == 1
            else:
                ok = ok and n_args <= 2 and set(keywords) <= {"description"}
            if not ok:
                self._loop_finding(call, f"`{base.value.id}.query.{method}()` with arguments flaskfix does not follow")
                return None
            kind: SiteKind = "query.get" if method == "get" else "query.get_or_404"
            site = self._site_with_arg(call, kind, base.value, call.args[0], None)
            if site is not None and n_args == 2:
                site.description = call.args[1] if len(call.args) == 2 else call.keywords[0].value
            return site
        # db.session.get(Model, x)
        if method == "get" and isinstance(base, ast.Attribute) and base.attr == "session" and isinstance(base.value, ast.Name):
            if n_args < 2 or not call.args or not isinstance(call.args[0], ast.Name):
                return None
            if any(isinstance(b, ast.arg) for b in self._binders_of(base.value)):
                return None  # ``self.session.get(url, params=...)``: an object's session (requests), not db.session
            if n_args != 2 or not plain or call.keywords:
                self._loop_finding(call, "`session.get()` with options (populate_existing, with_for_update...): a prefetched object would not honour them")
                return None
            return self._site_with_arg(call, "session.get", call.args[0], call.args[1], base.value)
        # session.get(Model, x) on a plain SQLAlchemy session (scoped_session, sessionmaker())
        if method == "get" and isinstance(base, ast.Name) and len(call.args) >= 1 and isinstance(call.args[0], ast.Name) \
                and not self._plain_session(base):
            if self._names_model(call.args[0]):
                self._loop_finding(call, f"`{self.shown(call)}`: flaskfix cannot tell which session `{base.id}` is (it needs "
                                         "`db.session` of a Flask-SQLAlchemy object, a module-level `scoped_session(...)` or "
                                         "`Session(...)`, or a session made in this function by a module-level `sessionmaker(...)`)")
            return None
        if method == "get" and isinstance(base, ast.Name) and len(call.args) >= 1 and isinstance(call.args[0], ast.Name):
            if len(call.args) != 2 or call.keywords or not plain:
                self._loop_finding(call, "`session.get()` with options (populate_existing, with_for_update...): a prefetched object would not honour them")
                return None
            site = self._site_with_arg(call, "session.get", call.args[0], call.args[1], None)
            if site is not None:
                site.session = base
            return site
        # db.get_or_404(Model, x[, description=...])
        if method == "get_or_404" and isinstance(base, ast.Name) and n_args >= 2 and call.args and isinstance(call.args[0], ast.Name):
            if not plain or len(call.args) < 2 or len(call.args) > 2 or any(k.arg != "description" for k in call.keywords):
                self._loop_finding(call, "`get_or_404()` with options (populate_existing, with_for_update...): a prefetched object would not honour them")
                return None
            site = self._site_with_arg(call, "db.get_or_404", call.args[0], call.args[1], base)
            if site is not None and call.keywords:
                site.description = call.keywords[0].value
            return site
        # session.query(Model).get(x) / db.session.query(Model).get(x)
        if method == "get" and isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute) and base.func.attr == "query":
            receiver = base.func.value
            if not (isinstance(receiver, ast.Name) or (isinstance(receiver, ast.Attribute) and receiver.attr == "session" and isinstance(receiver.value, ast.Name))):
                return None
            if len(base.args) != 1 or base.keywords or not isinstance(base.args[0], ast.Name):
                self._loop_finding(call, "`session.query(...)` of something other than one model class: not rewritten")
                return None
            if n_args != 1 or not plain or call.keywords:
                self._loop_finding(call, "`session.query(Model).get()` with arguments flaskfix does not follow")
                return None
            db = receiver.value if isinstance(receiver, ast.Attribute) else None
            site = self._site_with_arg(call, "session.query.get", base.args[0], call.args[0], db)  # type: ignore[arg-type]
            if site is not None:
                site.session = receiver
            return site
        self._carried_options(call)
        return None

    def _select_lookup(self, call: ast.Call) -> Site | bool | None:
        """``db.session.execute(select(M).where(M.pk == x)).scalar_one_or_none()`` (or
        ``.scalar_one()``, ``.scalar()``), ``db.session.scalar(select(...))`` and
        ``db.session.scalars(select(...)).first()`` (or ``.one_or_none()``, ``.one()``):
        SQLAlchemy 2's spellings of a lookup by one column. A Site, False when the shape is
        a select lookup flaskfix does not rewrite (reported when in a loop), None when it is
        not one at all."""
        func = call.func
        assert isinstance(func, ast.Attribute)
        method, base = func.attr, func.value
        stmt: ast.expr | None = None
        receiver: ast.expr | None = None
        if method in ("scalar_one_or_none", "scalar_one", "scalar") and _method_call(base, "execute"):
            receiver, args = base.func.value, base.args  # type: ignore[attr-defined]
            if len(args) != 1 or base.keywords:  # type: ignore[attr-defined]
                return None
            stmt = args[0]
        elif method == "scalar" and call.args:
            receiver, stmt = base, call.args[0]
            if len(call.args) != 1 or call.keywords:
                return None
        elif method in ("first", "one_or_none", "one") and _method_call(base, "scalars"):
            receiver, args = base.func.value, base.args  # type: ignore[attr-defined]
            if len(args) != 1 or base.keywords:  # type: ignore[attr-defined]
                return None
            stmt = args[0]
        plain = isinstance(receiver, ast.Name) and self._plain_session(receiver)
        if stmt is None or not (plain or (isinstance(receiver, ast.Attribute) and receiver.attr == "session"
                                          and isinstance(receiver.value, ast.Name))):
            return None
        assert receiver is not None
        chain: list[ast.Call] = []
        node: ast.AST = stmt
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr != "select":
            chain.append(node)
            node = node.func.value
        if not (isinstance(node, ast.Call) and self._is_select(node.func, None if plain else receiver.value) and len(node.args) == 1
                and isinstance(node.args[0], ast.Name) and not node.keywords):
            return None
        model = node.args[0]
        if call.keywords or (call.args and receiver is not base):
            return None  # options on the result call: not a plain lookup
        shown = f"`{self.shown(call)}`"
        if len(chain) != 1 or chain[0].func.attr not in ("where", "filter", "filter_by"):  # type: ignore[attr-defined]
            self._loop_finding(call, f"{shown}: the select carries more than one condition, which a prefetch by primary key would not honour")
            return False
        cond = chain[0]
        if cond.func.attr == "filter_by":  # type: ignore[attr-defined]
            if cond.args or len(cond.keywords) != 1 or cond.keywords[0].arg is None:
                self._loop_finding(call, f"{shown}: `filter_by()` with other arguments: not rewritten")
                return False
            column, value = cond.keywords[0].arg, cond.keywords[0].value
        else:
            test = cond.args[0] if len(cond.args) == 1 and not cond.keywords else None
            if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
                    and isinstance(test.left, ast.Attribute) and isinstance(test.left.value, ast.Name)
                    and test.left.value.id == model.id):
                self._loop_finding(call, f"{shown}: the condition is not `{model.id}.<column> == <id>`: not rewritten")
                return False
            column, value = test.left.attr, test.comparators[0]
        site = self._site_with_arg(call, "session.select", model, value, None if plain else receiver.value)  # type: ignore[attr-defined]
        if site is None:
            return False
        site.keyword, site.must_exist = column, method in ("scalar_one", "one")
        if plain:
            site.session = receiver
        return site

    def _is_select(self, func: ast.expr, db: ast.Name | None) -> bool:
        """``select`` from SQLAlchemy, or ``db.select`` of the session's Flask-SQLAlchemy object."""
        if db is not None and isinstance(func, ast.Attribute) and func.attr == "select" and isinstance(func.value, ast.Name):
            return func.value.id == db.id
        names = self.scopes.qualified_names(func)
        return bool(names & {"sqlalchemy.select", "sqlalchemy.sql.select", "sqlalchemy.future.select",
                             "sqlalchemy.sql.expression.select"})

    def _own_fallback(self, call: ast.Call) -> bool:
        """Is ``call`` the original lookup that an earlier run kept as the fallback of a
        prefetch dict (``d.get(x) if <test> else <call>``, ``d.get(x) or <call>``)? Such
        a call is left alone without a finding, so a second run changes and reports
        nothing."""
        parent = self.scopes.parent(call)
        if isinstance(parent, ast.IfExp) and parent.orelse is call:
            other = parent.body
        elif isinstance(parent, ast.BoolOp) and isinstance(parent.op, ast.Or) and parent.values[-1] is call:
            other = parent.values[0]
        else:
            return False
        while isinstance(other, ast.BoolOp) and isinstance(other.op, ast.Or):
            other = other.values[0]  # (d.get(x) or abort(404)) if <test> else <call>
        if not (isinstance(other, ast.Call) and isinstance(other.func, ast.Attribute) and other.func.attr == "get"):
            return False
        holder = other.func.value
        if not isinstance(holder, ast.Name):
            return False
        binders = self.scopes.binders(holder.id, self.scopes.scope_of(holder))
        if len(binders) != 1 or not isinstance(binders[0], ast.Name):
            return False
        stmt = self.scopes.parent(binders[0])
        if not (isinstance(stmt, ast.Assign) and any(t is binders[0] for t in stmt.targets)):
            return False
        value = stmt.value.body if isinstance(stmt.value, ast.IfExp) else stmt.value
        return isinstance(value, ast.DictComp) and any(".in_(" in self.code(g.iter) for g in value.generators)

    def _carried_options(self, call: ast.Call) -> None:
        """A lookup on ``Model.query.<something>(...)``: options or filters that a
        prefetch by primary key would drop. Reported when in a loop."""
        func = call.func
        assert isinstance(func, ast.Attribute)
        node = func.value
        methods = []
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            methods.append(node.func.attr)
            node = node.func.value
        if methods and _is_model_query(node):
            chain = "".join(f".{meth}()" for meth in reversed(methods))
            self._loop_finding(call, f"`{node.value.id}.query{chain}.{func.attr}()`: the query carries `{chain}`, which a prefetch by primary key would not honour")  # type: ignore[attr-defined]

    def _site_with_arg(self, call: ast.Call, kind: SiteKind, model: ast.Name, arg: ast.expr, db: ast.Name | None) -> Site | None:
        if isinstance(arg, ast.Name):
            return Site(call, kind, model, arg, db)
        if (
            isinstance(arg, ast.Call)
            and self.scopes.is_builtin(arg.func, "int")
            and len(arg.args) == 1
            and not arg.keywords
            and isinstance(arg.args[0], ast.Name)
        ):
            return Site(call, kind, model, arg.args[0], db, convert=True)
        if isinstance(arg, ast.Constant) and isinstance(arg.value, (int, str, bytes, float)) and not isinstance(arg.value, bool):
            return None  # one constant id, not one lookup per id: not the N+1 this codemod batches
        if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
            return Site(call, kind, model, arg.value, db, item_attr=arg.attr)  # ``o.customer_id``: proven in _plan
        if (isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name) and isinstance(arg.slice, ast.Constant)
                and isinstance(arg.slice.value, str)):
            return Site(call, kind, model, arg.value, db, item_key=arg.slice.value)  # ``line["item_id"]``: proven in _plan
        self._loop_finding(call, f"the id `{self.shown(arg)}` is an expression: flaskfix follows a name the loop binds "
                                 "(`for uid in ...`), `int()` of one, or a column of the loop's rows (`o.customer_id`); not rewritten")
        return None

    def _loop_finding(self, call: ast.Call, message: str) -> None:
        """Report a lookup flaskfix does not rewrite, when it is in a loop (the N+1 pattern)
        and no `# flaskfix: ignore` comment holds it back."""
        if self._in_loop(call) and not self._suppressed(call):
            self.add_finding(call, message)

    def _suppressed(self, call: ast.Call) -> bool:
        """Held back by `# flaskfix: ignore`: on the lookup's statement, on the header of a
        loop around it (in its function), or on the def/decorator lines of a function
        around it."""
        nodes: list[ast.AST] = [call]
        funcs: list[ast.AST] = []
        for anc in self.scopes.ancestors(call):
            if isinstance(anc, ast.stmt) and not isinstance(anc, _COMPOUND) and len(nodes) == 1 and not funcs:
                nodes.append(anc)
            elif isinstance(anc, _LOOPS) and not funcs:
                nodes += [anc.target, anc.iter]
            elif isinstance(anc, ast.While) and not funcs:
                nodes.append(anc.test)
            elif isinstance(anc, FUNCTIONS):
                funcs.append(anc)
        return self.held_back([node_lines(n) for n in nodes], *([def_lines(f)] for f in funcs))

    def _in_loop(self, node: ast.AST) -> bool:
        """Does ``node`` run once per iteration of some loop? Not when it is a loop's
        iterable (``for t in db.session.get(User, uid).todos``), or a comprehension's
        first iterable, which run once."""
        child = node
        for anc in self.scopes.ancestors(node):
            if isinstance(anc, _LOOPS) and child is not anc.iter:
                return True
            if isinstance(anc, ast.While):
                return True
            if isinstance(anc, ast.comprehension):
                comp = self.scopes.parent(anc)
                if child is not anc.iter or comp.generators[0] is not anc:  # type: ignore[union-attr]
                    return True
            if isinstance(anc, COMPREHENSIONS) and not isinstance(child, ast.comprehension):
                return True  # the element
            if isinstance(anc, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
                return False
            child = anc
        return False

    # -- proving one site ----------------------------------------------------------------

    def _plan(self, site: Site, plans: dict[ast.AST, LoopPlan], taken_by_function: dict[ast.AST, set[str]]) -> LoopPlan:
        """Prove one lookup safe to serve from a prefetch, adding it to its loop's plan.
        New names are free in the whole module (so they shadow nothing) and unique within
        the function; two functions may both get ``user_by_id``."""
        name = site.arg.id
        lookup = f"`{self.shown(site.call)}`"
        binding = self._loop_binding(site, name)
        the_id = f"the id `{name}`" if site.id_code == name else f"the id `{site.id_code}`: `{name}`"
        if binding is None:
            if self._unpacked_in_loop(site.call, name):
                raise Refused(site.call, f"{lookup}: {the_id} is unpacked from the loop's items (`for a, b in ...`): not followed")
            raise Refused(site.call, f"{lookup}: {the_id} is not the variable of an enclosing for loop or comprehension")
        func = self.scopes.enclosing_function(binding)
        if func is None:
            raise Refused(site.call, f"{lookup} is not in a function")
        taken = taken_by_function.setdefault(func, set())
        if isinstance(binding, _LOOPS):
            anchor: ast.AST = binding
            statement: ast.stmt = binding
            iterable = binding.iter
            self._check_for_loop(site, binding, func, lookup)
        else:
            comp = self.scopes.parent(binding)
            assert isinstance(comp, COMPREHENSIONS)
            anchor = comp
            iterable = binding.iter
            statement = self._check_comprehension(site, comp, binding, func, lookup)
        info, model_name = self._model_info(site, lookup)
        style: Style = {"session.get": "session", "db.get_or_404": "session", "session.query.get": "session.query",
                        "session.query.filter_by": "session.query", "session.select": "session"}.get(site.kind, "query")  # type: ignore[assignment]
        db_name = site.db.id if site.db is not None else info.db_name
        session = ""
        if isinstance(site.session, ast.Name) and self._plain_session(site.session):
            session = site.session.id  # a plain SQLAlchemy session: its own query() or scalars(select())
            if style == "session":
                select = self.scopes.expression_for("sqlalchemy.select")
                style, db_name = ("session.select", select) if select is not None else ("session.query", "")
        elif site.kind in ("session.query.get", "session.query.filter_by"):
            session = self._session_of(site, lookup)
        elif style == "session":
            self._check_db(site, lookup, site.db)
        if site.kind in ("query.filter_by", "session.query.filter_by", "session.select") and site.keyword != info.primary_key:
            raise Refused(site.call, f"{lookup}: `{site.keyword}` is not the primary key of `{model_name}` (`{info.primary_key}`)")
        lp = plans.get(anchor)
        if lp is not None and (lp.rows is None) != (site.item_attr is None):
            raise Refused(site.call, f"{lookup}: another lookup in this loop takes the loop's items themselves as ids, this one a column of them: not rewritten together")
        if lp is None:
            if site.item_attr is not None:
                lp = self._rows_plan(site, iterable, anchor, statement, binding, lookup, taken)
            else:
                ids_name, hoist, elem, nonempty = self._ids(iterable, anchor, binding, lookup, taken)
                lp = LoopPlan(anchor, statement, ids_name, hoist, elem, nonempty)
                lp.unbounded = self._unbounded
                lp.origin = self._any_origin
        if lp.elem == "any" and ((site.item_key is None) != all(p.sites[0].item_key is None for p in lp.prefetches) and lp.prefetches):
            raise Refused(site.call, f"{lookup}: another lookup in this loop takes the items themselves as ids, this one a field of them: not rewritten together")
        if site.item_key is not None and lp.elem != "any":
            raise Refused(site.call, f"{lookup}: the id `{site.id_code}` is a field of the loop's items, which flaskfix follows only "
                                     "for items of unknown type (a JSON body's, the session's, a list made in the function)")
        if site.item_key is not None:
            self._items_read_only(site, lp.anchor, binding, lookup)
        if info.pk_type is None:
            raise Refused(site.call, f"{lookup}: the type of `{model_name}.{info.primary_key}` is not one flaskfix knows (Integer or String columns)")
        if site.item_attr is not None:
            self._check_row_column(site, lp, lookup)
        if (lp.elem == "int" or site.convert) and info.pk_type == "str":
            ints = "the lookup is given int(...)" if site.convert else "the ids are ints"
            raise Refused(site.call, f"{lookup}: {ints} but `{model_name}.{info.primary_key}` holds strings")
        self._check_body(anchor, binding, lookup, site)
        mode: Mode
        if lp.elem == "any" and site.convert:
            raise Refused(site.call, f"{lookup}: `int()` of ids whose type flaskfix does not know ({lp.origin}): not rewritten")
        if lp.rows is not None or lp.elem == "any":
            mode = "typed"
            shadowed = sorted({"type", "int", "str", "range", "len", "sorted", "abs"} & self.scopes.bound_names())
            if shadowed:
                raise Refused(site.call, f"{lookup}: the rewrite uses the builtins type/int/str/range/len/sorted/abs, and this module binds `{shadowed[0]}`")
        elif lp.elem == "int":
            mode = "bounded" if lp.unbounded else "exact"
            if mode == "bounded" and "abs" in self.scopes.bound_names():
                raise Refused(site.call, f"{lookup}: the rewrite tests the ids with the builtin abs, and this module binds `abs`")
        elif site.convert:
            mode = "converted"
        elif info.pk_type == "int":
            mode = "canonical"
        else:
            mode = "exact" if self.config["exact_string_keys"] else "fallback"
        if mode in ("canonical", "converted"):
            shadowed = sorted({"int", "str", "len"} & self.scopes.bound_names())
            if shadowed:
                raise Refused(site.call, f"{lookup}: the rewrite tests the ids with the builtins int/str/len, and this module binds `{shadowed[0]}`")
        for pre in lp.prefetches:
            if (pre.model, pre.style, pre.db, pre.session, pre.mode, pre.attr, pre.sites[0].item_key) == (
                    model_name, style, db_name, session, mode, site.item_attr, site.item_key):
                pre.sites.append(site)
                break
        else:
            pre = Prefetch(model_name, info, style, db_name, session, mode, self._always_true(), [site], attr=site.item_attr)
            pk = info.primary_key
            by = "id" if pk == "id" or pk.endswith("_id") else pk
            pre.name = self.free_name(f"{_snake(model_name)}_by_{by}", taken)
            taken.add(pre.name)
            if mode in ("converted", "bounded"):
                pre.keys = self.free_name(f"{_snake(model_name)}_keys", taken)
                taken.add(pre.keys)
            elif mode == "typed":
                pre.keys = self.free_name(f"{_snake(model_name)}_{by}s" if by != "id" else f"{_snake(model_name)}_ids", taken)
                taken.add(pre.keys)
            lp.prefetches.append(pre)
        return lp

    def _check_for_loop(self, site: Site, loop: ast.For | ast.AsyncFor, func: ast.AST, lookup: str) -> None:
        if isinstance(loop, ast.AsyncFor):
            raise Refused(site.call, f"{lookup} is in an async for loop")
        if is_generator_function(func):
            raise Refused(site.call, f"{lookup} is in a generator function: its loop runs piece by piece as the generator is "
                                     "consumed (a streamed response, a pytest fixture), so flaskfix does not move its lookups")
        for anc in self._ancestors_until(site.call, loop):
            if isinstance(anc, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
                raise Refused(site.call, f"{lookup} is inside a nested function or lambda in the loop")
            if isinstance(anc, COMPREHENSIONS):
                raise Refused(site.call, f"{lookup} runs inside a comprehension in the loop: not rewritten")
            if isinstance(anc, _TRY):
                raise Refused(site.call, f"{lookup} is inside a try statement: the prefetch before the loop could raise where the lookup was guarded")
            if isinstance(anc, (ast.With, ast.AsyncWith)):
                raise Refused(site.call, f"{lookup} is inside a with statement in the loop, which may set up the context the lookup needs")
        self._no_try_around(site, loop, func, lookup, "the loop")
        if not self._in_body(site.call, loop):
            raise Refused(site.call, f"{lookup} is not in the loop's body")
        self._check_loop_variable(site, loop, site.arg.id, lookup)

    def _no_try_around(self, site: Site, node: ast.AST, func: ast.AST, lookup: str, what: str) -> None:
        for anc in self._ancestors_until(node, func):
            if isinstance(anc, _TRY):
                raise Refused(site.call, f"a try statement surrounds {what} of {lookup}: the prefetch could raise earlier than the lookups did")

    def _check_comprehension(self, site: Site, comp: ast.AST, comp_for: ast.comprehension, func: ast.AST, lookup: str) -> ast.stmt:
        """The statement the prefetch goes before; refuses what it cannot prove."""
        where = "a generator expression" if isinstance(comp, ast.GeneratorExp) else "a comprehension"
        if comp_for.is_async:
            raise Refused(site.call, f"{lookup} is in an async comprehension")
        if len(comp.generators) != 1:  # type: ignore[attr-defined]
            raise Refused(site.call, f"{lookup} is in {where} with more than one `for`: not rewritten")
        if self._inside(site.call, comp_for):
            raise Refused(site.call, f"{lookup} is in a filter of {where}: not rewritten")
        for anc in self._ancestors_until(site.call, comp):
            if isinstance(anc, (ast.Lambda, *FUNCTIONS, ast.ClassDef, *COMPREHENSIONS)):
                raise Refused(site.call, f"{lookup} is nested inside another function or comprehension within {where}")
        if any(isinstance(n, ast.NamedExpr) and n.target.id == site.arg.id for n in ast.walk(comp)):
            raise Refused(site.call, f"{lookup}: the variable `{site.arg.id}` is reassigned inside {where}")
        if isinstance(comp, ast.GeneratorExp):
            call = self.scopes.parent(comp)
            if not (isinstance(call, ast.Call) and len(call.args) == 1 and call.args[0] is comp and not call.keywords and self._consumes(call)):
                raise Refused(site.call, f"{lookup} is in a generator expression that is not consumed at once (by list(), sorted(), \"\".join()...): it may run later, or never")
        small: ast.stmt | None = None
        for anc in self.scopes.ancestors(comp):
            if isinstance(anc, (ast.Lambda, *FUNCTIONS, ast.ClassDef)):
                raise Refused(site.call, f"{lookup} is in {where} inside a lambda or nested function")
            if isinstance(anc, COMPREHENSIONS):
                raise Refused(site.call, f"{lookup} is in {where} nested in another comprehension")
            if isinstance(anc, (ast.IfExp, ast.BoolOp)):
                raise Refused(site.call, f"{lookup} is in {where} that runs only under a condition")
            if isinstance(anc, ast.stmt):
                if not isinstance(anc, _COMPOUND):
                    small = anc
                break
        holder = self.scopes.parent(small) if small is not None else None
        own_line = (
            small is not None
            and holder is not None
            and not isinstance(holder, ast.Module)
            and small.lineno > holder.lineno  # type: ignore[attr-defined]
            and not self.lines.line(small.lineno)[: self.lines.col(small.lineno, small.col_offset)].strip()
            and any(small is s for s in _bodies(holder))
        )
        if not own_line:
            raise Refused(site.call, f"{lookup} is in {where} in the header of a compound statement: not rewritten")
        assert small is not None and holder is not None
        neighbours = [s for s in _bodies(holder) if s is not small and s.lineno <= (small.end_lineno or small.lineno) and (s.end_lineno or s.lineno) >= small.lineno]
        if neighbours or not isinstance(small, _SMALL):
            raise Refused(site.call, f"{lookup} is in {where} on a line with other statements: not rewritten")
        problem = self._statement_problem(small, comp)
        if problem is not None:
            raise Refused(site.call, f"{lookup}: the statement holding {where} {problem}, which could run before the lookups and change what they return")
        if is_generator_function(func) and any(isinstance(a, _LOOPS) for a in self._ancestors_until(small, func)):
            raise Refused(site.call, f"{lookup} is in a loop of a generator function")
        self._no_try_around(site, small, func, lookup, where)
        return small

    def _consumes(self, call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Name):
            return any(self.scopes.is_builtin(func, n) for n in CONSUMING_BUILTINS)
        return (isinstance(func, ast.Attribute) and func.attr == "join" and isinstance(func.value, ast.Constant)
                and isinstance(func.value.value, (str, bytes)))

    def _statement_problem(self, small: ast.stmt, comp: ast.AST) -> str | None:
        """What else in the statement could run before the comprehension (calls that do
        not enclose it, except a few builtins), or None."""
        around = set(self.scopes.ancestors(comp))
        stack: list[ast.AST] = [small]
        while stack:
            node = stack.pop()
            if node is comp:
                continue
            if isinstance(node, (ast.Lambda, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
                kind = "yield" if isinstance(node, ast.YieldFrom) else type(node).__name__.lower()
                return f"holds a `{kind}`"
            if isinstance(node, ast.Call) and node not in around:
                if not self.scopes.qualified_names(node.func) & PURE_CALLS:
                    return f"calls `{self.code(node.func)}()`"
            stack.extend(reversed(_children(node)))
        return None

    def _ancestors_until(self, node: ast.AST, stop: ast.AST | None) -> list[ast.AST]:
        out = []
        for anc in self.scopes.ancestors(node):
            if anc is stop:
                break
            out.append(anc)
        return out

    def _loop_binding(self, site: Site, name: str) -> ast.For | ast.AsyncFor | ast.comprehension | None:
        for anc in self.scopes.ancestors(site.call):
            if isinstance(anc, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
                return None
            for binder in _binders(anc):
                if isinstance(binder.target, ast.Name) and binder.target.id == name:
                    return binder
            if isinstance(anc, COMPREHENSIONS):
                return None
        return None

    def _unpacked_in_loop(self, node: ast.AST, name: str) -> bool:
        """Is ``name`` one of several targets of an enclosing for loop or comprehension?"""
        for anc in self.scopes.ancestors(node):
            if isinstance(anc, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
                return False
            for binder in _binders(anc):
                target = binder.target
                if isinstance(target, (ast.Tuple, ast.List)) and any(
                    isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)
                ):
                    return True
        return False

    def _in_body(self, node: ast.AST, loop: ast.For | ast.AsyncFor) -> bool:
        child = node
        for anc in self.scopes.ancestors(node):
            if anc is loop:
                return any(child is s for s in loop.body)
            child = anc
        return False

    def _check_loop_variable(self, site: Site, loop: ast.For | ast.AsyncFor, name: str, lookup: str) -> None:
        scope = self.scopes.scope_of(site.arg)
        if self.scopes.resolve(name, scope) is None:
            raise Refused(site.call, f"{lookup}: flaskfix cannot resolve `{name}`")
        if not isinstance(scope, FUNCTIONS) or name in self.scopes.declared.get(scope, {}):
            raise Refused(site.call, f"{lookup}: `{name}` is not a local variable")
        for node in self.scopes.bindings.get(scope, {}).get(name, []):
            if node is loop.target:
                continue
            if self._inside(node, loop):
                raise Refused(site.call, f"{lookup}: the loop variable `{name}` is reassigned inside the loop")

    def _inside(self, node: ast.AST, container: ast.AST) -> bool:
        return node is container or any(a is container for a in self.scopes.ancestors(node))

    def _always_true(self) -> bool:
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

    def _binders_of(self, name: ast.Name) -> list[ast.AST]:
        return self.scopes.binders(name.id, self.scopes.scope_of(name))

    def _names_model(self, name: ast.Name) -> bool:
        """Does ``name`` name a model class of the project (whatever flaskfix can prove of it)?"""
        binders = self._binders_of(name)
        if len(binders) != 1:
            return False
        info = self._defined_model(binders[0], name.id)[0]
        return info is not None

    def _plain_session(self, name: ast.Name) -> bool:
        """Is ``name`` a plain SQLAlchemy session: a module-level ``scoped_session(...)`` (of
        this module or imported from the project), or a local bound once, in the function,
        by ``with Maker() as s`` / ``s = Maker()`` (``Maker`` a module-level
        ``sessionmaker(...)``) or ``Session(...)`` of ``sqlalchemy.orm``, or a parameter
        annotated ``Session`` / ``scoped_session``?"""
        key = (name.id, self.scopes.resolve(name.id, self.scopes.scope_of(name)))
        if key not in self._plain_sessions:
            self._plain_sessions[key] = self._find_plain_session(name)
        return self._plain_sessions[key]

    def _find_plain_session(self, name: ast.Name) -> bool:
        binders = self._binders_of(name)
        if len(binders) != 1:
            return False
        node = binders[0]
        parent = self.scopes.parent(node)
        if isinstance(node, ast.alias) and isinstance(parent, ast.ImportFrom):
            where, original = self._imported(node)
            return where is not None and session_factory(self.project, where, original) == "scoped"
        if self.scopes.resolve(name.id, self.scopes.scope_of(name)) is self.tree:
            return session_factory(self.project, self.inp.path, name.id) == "scoped"
        if isinstance(node, ast.arg):
            return node.annotation is not None and bool(self.scopes.qualified_names(node.annotation) & SESSION_CLASSES)
        if isinstance(parent, ast.withitem) and parent.optional_vars is node:
            value: ast.expr = parent.context_expr
        elif isinstance(parent, ast.Assign) and parent.targets == [node]:
            value = parent.value
        else:
            return False
        if not isinstance(value, ast.Call):
            return False
        if self.scopes.qualified_names(value.func) & {"sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session"}:
            return True
        if value.args or value.keywords or not isinstance(value.func, ast.Name):
            return False
        maker = value.func
        makers = self._binders_of(maker)
        if len(makers) != 1:
            return False
        if isinstance(makers[0], ast.alias) and isinstance(self.scopes.parent(makers[0]), ast.ImportFrom):
            where, original = self._imported(makers[0])
            return where is not None and session_factory(self.project, where, original) == "sessionmaker"
        return (self.scopes.resolve(maker.id, self.scopes.scope_of(maker)) is self.tree
                and session_factory(self.project, self.inp.path, maker.id) == "sessionmaker")

    def _session_of(self, site: Site, lookup: str) -> str:
        """``db.session`` (db a Flask-SQLAlchemy object) or a module-level name bound to
        it; the text to build the prefetch with."""
        receiver = site.session
        if isinstance(receiver, ast.Attribute):
            self._check_db(site, lookup, site.db)
            return self.code(receiver)
        assert isinstance(receiver, ast.Name)
        binders = self._binders_of(receiver)
        if len(binders) == 1 and self.scopes.resolve(receiver.id, self.scopes.scope_of(receiver)) is self.tree:
            target = binders[0]
            stmt = self.scopes.parent(target)
            if isinstance(stmt, ast.Assign) and stmt.targets == [target] and isinstance(stmt.value, ast.Attribute):
                value = stmt.value
                if value.attr == "session" and isinstance(value.value, ast.Name):
                    self._check_db(site, lookup, value.value)
                    site.db = value.value
                    return receiver.id
        raise Refused(site.call, f"{lookup}: flaskfix cannot tell which session `{receiver.id}` is (it needs `db.session` of a "
                                 "Flask-SQLAlchemy object, a module-level `scoped_session(...)` or `Session(...)`, or a session "
                                 "made in this function by a module-level `sessionmaker(...)`)")

    def _model_info(self, site: Site, lookup: str) -> tuple[ModelInfo, str]:
        name = site.model.id
        binders = self._binders_of(site.model)
        if len(binders) != 1:
            raise Refused(site.call, f"{lookup}: `{name}` is not bound exactly once, so flaskfix cannot tell which model it is")
        info, where, self._model_tree, self._model_class = self._defined_model(binders[0], name)
        if info is None or where is None:
            raise Refused(site.call, f"{lookup}: flaskfix cannot find the model class `{name}` in the project")
        if info.base_kind == "declarative":
            base = declarative_base(self.project, where or self.inp.path, info.db_name)
            if base.problem is None and info.problem is None and site.kind in ("query.get", "query.get_or_404", "query.filter_by"):
                if site.kind == "query.get_or_404":
                    raise Refused(site.call, f"{lookup}: `{name}` is a plain SQLAlchemy model, whose query has no get_or_404 flaskfix knows")
                if base.query is None:
                    raise Refused(site.call, f"{lookup}: flaskfix does not find `{info.db_name}.query = <scoped_session>.query_property()` "
                                             f"where `{info.db_name}` is defined, so it cannot tell what `{name}.query` is")
                if base.query:
                    raise Refused(site.call, f"{lookup}: {base.query}")
            problem = base.problem or info.problem
            if problem is not None:
                raise Refused(site.call, f"{lookup}: model `{name}`: {problem}")
            return info, name
        if info.problem is not None:
            raise Refused(site.call, f"{lookup}: model `{name}`: {info.problem}")
        call = self._db_call(where, info.db_name)
        if call is None:
            raise Refused(site.call, f"{lookup}: `{name}`'s base `{info.db_name}.Model` is not provably a Flask-SQLAlchemy model")
        if any(k.arg in ("query_class", "model_class") for k in call.keywords):
            raise Refused(site.call, f"{lookup}: `{info.db_name}` sets a custom query_class/model_class, which may change how get() and filter() answer")
        return info, name

    def _defined_model(self, node: ast.AST, name: str) -> tuple[ModelInfo | None, str | None, ast.Module | None, str]:
        """What the binding ``node`` of model name ``name`` defines: (its ModelInfo, the file
        defining it ("" for this module), that file's tree, the class's name there); the
        first three None when it is neither a class of this module nor imported from the project."""
        if isinstance(node, ast.ClassDef) and self.scopes.parent(node) is self.tree:
            return sqlalchemy_model(self.tree, name), "", self.tree, name
        if isinstance(node, ast.alias) and isinstance(self.scopes.parent(node), ast.ImportFrom):
            where, original = self._imported(node)
            if where is not None:
                return find_model(self.project, where, original), where, self.project.tree(where), original
        return None, None, None, name

    def _imported(self, alias: ast.alias) -> tuple[str | None, str]:
        """(the project file, the name it has there) for the name ``alias`` binds."""
        imp = self.scopes.parent(alias)
        assert isinstance(imp, ast.ImportFrom)
        return resolve_module(self.project, imp.module or "", self.inp.path, imp.level), alias.name

    def _db_call(self, where: str, name: str) -> ast.Call | None:
        """The ``SQLAlchemy(...)`` call ``name`` is bound to in ``where`` ("" for this module)."""
        if where:
            return sqlalchemy_call(self.project, where, name)
        for stmt in self.tree.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
                if any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
                    func = stmt.value.func
                    last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if last == "SQLAlchemy":
                        return stmt.value
            elif isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if (alias.asname or alias.name) == name and alias.name == name:
                        path = resolve_module(self.project, stmt.module or "", self.inp.path, stmt.level)
                        return sqlalchemy_call(self.project, path, name) if path else None
        return None

    def _check_db(self, site: Site, lookup: str, db: ast.Name | None) -> None:
        """``db`` in ``db.session.get(Model, x)`` must be a Flask-SQLAlchemy object."""
        assert db is not None
        name = db.id
        binders = self._binders_of(db)
        if len(binders) != 1:
            raise Refused(site.call, f"{lookup}: `{name}` is not bound exactly once")
        node = binders[0]
        call: ast.Call | None = None
        if isinstance(node, ast.alias) and isinstance(self.scopes.parent(node), ast.ImportFrom):
            where, original = self._imported(node)
            if where is not None:
                call = sqlalchemy_call(self.project, where, original)
        elif not isinstance(node, ast.alias) and self.scopes.enclosing_function(node) is None:
            call = self._db_call("", name)
        if call is None:
            raise Refused(site.call, f"{lookup}: `{name}` is not provably a Flask-SQLAlchemy object")

    # -- ids read from the loop's rows ---------------------------------------------------

    def _items_read_only(self, site: Site, anchor: ast.AST, binding: ast.AST, lookup: str) -> None:
        """The loop only reads its items (``line["sku"]``, ``line.get("qty")``): one it
        changed before a lookup would ask for an id the prefetch did not see."""
        name = site.arg.id
        parts = list(anchor.body) if isinstance(anchor, _LOOPS) else [anchor]
        for part in parts:
            for node in ast.walk(part):
                if not (isinstance(node, ast.Name) and node.id == name) or node is site.arg:
                    continue
                if isinstance(binding, ast.comprehension) and self._inside(node, binding.target):
                    continue
                parent = self.scopes.parent(node)
                if isinstance(parent, ast.Subscript) and parent.value is node and isinstance(parent.ctx, ast.Load):
                    continue
                if (isinstance(parent, ast.Attribute) and parent.value is node and parent.attr == "get"
                        and isinstance(self.scopes.parent(parent), ast.Call)):
                    continue
                raise Refused(site.call, f"{lookup}: the loop uses its item `{name}` other than by reading a field "
                                         f"(line {node.lineno}): it could change the item before the lookup reads its id")

    def _rows_plan(self, site: Site, it: ast.expr, anchor: ast.AST, statement: ast.stmt, binding: ast.AST, lookup: str,
                   taken: set[str]) -> LoopPlan:
        """The plan of a loop over model rows whose lookups take a column of each row
        (``for o in orders: Customer.query.get(o.customer_id)``). The rows are iterated
        twice (by the prefetch, then by the loop), so they must be a list made once: a
        local bound once, right before the loop, to ``<query>.all()`` (or ``list()`` /
        ``sorted()`` of a query), or a pagination's ``.items``; a query written in the loop
        header itself is bound to a new name with ``.all()`` first (iterating a query is
        ``.all()``: the same one statement)."""
        refuse = Refused(site.call, f"{lookup}: flaskfix cannot tell that the loop iterates rows of a model, made once (it needs "
                             "`Model.query....all()`, a query iterated in the loop header, or a pagination's `.items`, "
                             "bound once in the function)")
        if isinstance(it, ast.Name):
            value = self._rows_local(site, it, statement, lookup)
            model = self._rows_model(value)
            if model is None:
                raise refuse
            return LoopPlan(anchor, statement, it.id, None, "row", False, rows=model.id)
        if isinstance(it, ast.Attribute) and it.attr == "items" and isinstance(it.value, ast.Name):
            value = self._rows_local(site, it.value, statement, lookup, pagination=True)
            model = self._query_model(value.func.value) if _method_call(value, "paginate") else None  # type: ignore[attr-defined]
            if model is None:
                raise refuse
            return LoopPlan(anchor, statement, self.code(it), None, "row", False, rows=model.id)
        model = self._rows_model(it) or self._query_model(it)
        if model is None:
            raise refuse
        target = binding.target  # type: ignore[attr-defined]
        wanted = [f"{target.id}s"] if isinstance(target, ast.Name) and len(target.id) > 1 else []
        wanted = [w for w in [*wanted, f"{_snake(model.id)}_rows", "rows"] if not keyword.iskeyword(w)]
        free = [w for w in wanted if self.free_name(w, taken) == w]
        name = free[0] if free else self.free_name(wanted[-1], taken)
        taken.add(name)
        text = self.code(it) if self._rows_model(it) is not None else f"{self.code(it)}.all()"
        return LoopPlan(anchor, statement, name, it, "row", False, rows=model.id, hoist_text=text)

    def _rows_local(self, site: Site, name: ast.Name, statement: ast.stmt, lookup: str, pagination: bool = False) -> ast.expr:
        """The value of local ``name``, bound once by an assignment in the same block as,
        and before, the statement that gets the prefetch, and not used in between or in
        the loop (where it could be changed); uses after the loop do not matter."""
        scope = self.scopes.scope_of(name)
        where = f"the loop iterates `{name.id}`" + (".items" if pagination else "")
        assign = self._sole_assignment(name, site.call, f"{lookup}: {where}")
        block = self.scopes.parent(statement)
        siblings = _bodies(block) if block is not None else []
        if not any(s is assign for s in siblings) or assign.lineno > statement.lineno:
            raise Refused(site.call, f"{lookup}: {where}, which is assigned in another block than the loop's")
        end = statement.end_lineno or statement.lineno
        for node in self.scopes.references(name.id, scope):
            if node is name or node.lineno > end:
                continue
            raise Refused(site.call, f"{lookup}: {where}, which is also used at line {node.lineno}, before the loop "
                                     "ends (where the rows could change)")
        return assign.value

    def _query_model(self, node: ast.expr) -> ast.Name | None:
        """``Model.query`` followed only by methods that keep its rows instances of Model,
        or ``db.session.scalars(select(Model)...)`` likewise: the Model."""
        if (_method_call(node, "scalars") and len(node.args) == 1 and not node.keywords  # type: ignore[attr-defined]
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "session"  # type: ignore[attr-defined]
                and isinstance(node.func.value.value, ast.Name)):  # type: ignore[attr-defined]
            stmt = node.args[0]  # type: ignore[attr-defined]
            while isinstance(stmt, ast.Call) and isinstance(stmt.func, ast.Attribute) and stmt.func.attr in ROW_KEEPING_METHODS:
                stmt = stmt.func.value
            if (isinstance(stmt, ast.Call) and self._is_select(stmt.func, node.func.value.value)  # type: ignore[attr-defined]
                    and len(stmt.args) == 1 and isinstance(stmt.args[0], ast.Name) and not stmt.keywords):
                return stmt.args[0]
            return None
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ROW_KEEPING_METHODS:
            node = node.func.value
        return node.value if _is_model_query(node) else None  # type: ignore[attr-defined]

    def _rows_model(self, node: ast.expr) -> ast.Name | None:
        """A list of rows of one model, made once: ``<query>.all()``, ``list(<query>)``,
        ``sorted(<query>...)`` of such a query."""
        if _method_call(node, "all") and not node.args and not node.keywords:  # type: ignore[attr-defined]
            return self._query_model(node.func.value)  # type: ignore[attr-defined]
        if (isinstance(node, ast.Call) and node.args and not isinstance(node.args[0], ast.Starred)
                and any(self.scopes.is_builtin(node.func, b) for b in ("list", "sorted"))):
            inner = node.args[0]
            return self._rows_model(inner) or self._query_model(inner)
        return None

    def _check_row_column(self, site: Site, lp: LoopPlan, lookup: str) -> None:
        """``o.<attr>`` must be a column the rows' model declares (a relationship,
        property or hybrid could run code or queries when read before the loop)."""
        assert lp.rows is not None
        binders = self.scopes.binders(lp.rows, self.scopes.scope_of(lp.anchor))
        info = self._defined_model(binders[0], lp.rows)[0] if len(binders) == 1 else None
        if info is None or info.problem is not None:
            why = f": {info.problem}" if info is not None and info.problem else ""
            raise Refused(site.call, f"{lookup}: flaskfix cannot read the columns of the rows' model `{lp.rows}`{why}")
        if site.item_attr not in dict(info.columns):
            raise Refused(site.call, f"{lookup}: `{site.item_attr}` is not a column declared in `{lp.rows}`'s body (a "
                                     "relationship, property or hybrid may run code or queries when read before the loop)")

    # -- the ids -------------------------------------------------------------------------

    def _ids(self, it: ast.expr, anchor: ast.AST, binding: ast.AST, lookup: str, taken: set[str]) -> tuple[str, ast.expr | None, ElementType, bool]:
        """(the name to iterate, the expression to bind to it first or None, the ids'
        element type, whether they are statically known to be non-empty)"""
        if isinstance(it, ast.Name):
            value = self._single_local_value(it, anchor, lookup)
            elem = self._typed_or_json(value, lookup, anchor)
            self._unbounded = elem == "any" or _from_client(value)
            return it.id, None, elem, _nonempty(value)
        elem = self._typed_or_json(it, lookup, anchor)
        self._unbounded = elem == "any" or _from_client(it)
        target_node = binding.target  # type: ignore[attr-defined]
        target = target_node.id if isinstance(target_node, ast.Name) else "id"
        base = f"{target}s" if len(target) > 2 and not keyword.iskeyword(f"{target}s") else "ids"
        name = self.free_name(base, taken)
        taken.add(name)
        return name, it, elem, _nonempty(it)

    def _sole_assignment(self, name: ast.Name, at: ast.AST, said: str) -> ast.Assign:
        """The one plain assignment that binds local ``name`` (refused at ``at``, the
        message starting with ``said``, when it is a parameter, an outer name, or bound
        otherwise or more than once)."""
        scope = self.scopes.scope_of(name)
        if not isinstance(scope, FUNCTIONS) or self.scopes.resolve(name.id, scope) is not scope:
            raise Refused(at, f"{said}, which is not a local variable of the function")
        binders = self.scopes.binders(name.id, scope)
        if any(isinstance(b, ast.arg) for b in binders):
            raise Refused(at, f"{said}, a parameter of the function: flaskfix cannot tell what it holds")
        if len(binders) != 1:
            raise Refused(at, f"{said}, which is assigned more than once")
        assign = self.scopes.parent(binders[0])
        if not (isinstance(assign, ast.Assign) and len(assign.targets) == 1 and assign.targets[0] is binders[0]):
            raise Refused(at, f"{said}, which is not bound by a plain assignment")
        return assign

    def _single_local_value(self, name: ast.Name, loop: ast.AST, lookup: str) -> ast.expr:
        scope = self.scopes.scope_of(name)
        where = f"the loop iterates `{name.id}`"
        stmt = self._sole_assignment(name, loop, f"{lookup}: {where}")
        for node in self.scopes.references(name.id, scope):
            parent = self.scopes.parent(node)
            if isinstance(parent, (*_LOOPS, ast.comprehension)) and parent.iter is node:
                continue
            if isinstance(parent, ast.Call) and any(a is node for a in parent.args) and self.scopes.is_builtin(parent.func, "len"):
                continue
            if isinstance(parent, ast.Compare) and any(
                c is node and isinstance(op, (ast.In, ast.NotIn)) for c, op in zip(parent.comparators, parent.ops)
            ):
                continue
            if (isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not)
                    or isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and parent.test is node):
                continue  # a truth test (`if not ids: return ...`) reads nothing and changes nothing
            raise Refused(loop, f"{lookup}: {where}, which the function also uses in a way that may change it (line {node.lineno})")
        return stmt.value

    def _request_string(self, node: ast.AST) -> bool:
        """``request.args["k"]`` or ``request.args.get("k"[, "<str>"])`` (also form, values):
        a str the client sent (or the literal default)."""
        if isinstance(node, ast.Subscript):
            holder = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and 1 <= len(node.args) <= 2 and not node.keywords
              and (len(node.args) == 1 or (isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)))):
            holder = node.func.value
        else:
            return False
        return (isinstance(holder, ast.Attribute) and holder.attr in REQUEST_MULTIDICTS
                and self.scopes.refers_to(holder.value, "flask.request"))

    def _typed_or_json(self, expr: ast.expr, lookup: str, loop: ast.AST) -> ElementType:
        """The ids' element type, or "any" for a JSON value the client sent (whose
        elements may be anything: only those of the key's type are prefetched)."""
        try:
            return self._element_type(expr, lookup, loop)
        except Refused:
            try:
                if self._json_value(expr, loop):
                    self._any_origin = "sent by the client as JSON"
                    return "any"
                if self._session_value(expr, loop):
                    self._any_origin = "kept in the session"
                    return "any"
            except Refused as why:
                raise Refused(loop, f"{lookup}: {why.message}") from None
            fresh = self._fresh_list(expr)
            if fresh is not None:
                self._any_origin = fresh
                return "any"
            raise

    def _json_value(self, expr: ast.expr, loop: ast.AST) -> bool:
        """Is ``expr`` a part of the request's JSON body (``request.get_json()["ids"]``,
        ``data.get("ids", [])`` with ``data`` bound once to the body), not reachable from
        the loop? Whatever the client sent, iterating it twice sees the same elements
        (a list, a dict's keys, a string's characters) or raises TypeError at once, as
        the loop itself would."""
        node = _container_root(expr)
        if node is expr:
            return False
        if self._json_body(node):
            return True
        if not isinstance(node, ast.Name):
            return False
        scope = self.scopes.scope_of(node)
        binders = self.scopes.binders(node.id, scope)
        if (len(binders) != 1 or self.scopes.resolve(node.id, scope) is not scope or not isinstance(scope, FUNCTIONS)):
            return False
        assign = self.scopes.parent(binders[0])
        if not (isinstance(assign, ast.Assign) and len(assign.targets) == 1 and assign.targets[0] is binders[0]):
            return False
        value = assign.value
        if isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or) and len(value.values) == 2 and _literal(value.values[1]):
            value = value.values[0]
        if not self._json_body(value):
            return False
        # the loop could change the body's lists while it runs (ids the prefetch did not see)
        for ref in self.scopes.references(node.id, scope):
            if self._inside(ref, loop) and not self._inside(ref, expr):
                raise Refused(loop, f"the loop uses `{node.id}` (line {ref.lineno}), the JSON body its ids come from, "
                                    "and could change them while it runs: ids the prefetch did not see")
        return True

    def _session_value(self, expr: ast.expr, loop: ast.AST) -> bool:
        """Is ``expr`` a value kept in Flask's session (``session.get("basket", [])``,
        ``session["basket"]``), with the loop not using the session? The cookie session
        holds what its JSON serializer decoded: iterating it twice sees the same elements
        or raises TypeError at once, as the loop would."""
        node = _container_root(expr)
        if node is expr or not (isinstance(node, ast.Name) and self.scopes.refers_to(node, "flask.session")):
            return False
        for part in ast.walk(loop):
            if (isinstance(part, ast.Name) and part.id == node.id and not self._inside(part, expr)
                    and self.scopes.refers_to(part, "flask.session")):
                raise Refused(loop, f"the loop uses `{node.id}` (line {part.lineno}), the session its ids come from, "
                                    "and could change them while it runs: ids the prefetch did not see")
        return True

    def _fresh_list(self, expr: ast.expr, where: str | None = None, depth: int = 0) -> str | None:
        """Where the ids come from, when ``expr`` makes a new list that nothing else holds:
        a list display or comprehension, ``list()``/``sorted()`` of anything, or a call of a
        project function each of whose ``return`` statements is one of those (not a
        generator); None otherwise. Iterating such a list twice sees the same elements,
        and only the loop's own name reaches it, so the loop cannot change it."""
        if isinstance(expr, (ast.List, ast.ListComp)):
            return "a list made in the function, of values whose type flaskfix does not know"
        if not isinstance(expr, ast.Call) or not isinstance(expr.func, ast.Name):
            return None
        if where is None:
            if any(self.scopes.is_builtin(expr.func, b) for b in ("list", "sorted")):
                return f"a list made by {expr.func.id}(), of values whose type flaskfix does not know"
            binders = self._binders_of(expr.func)
            if len(binders) != 1 or self.scopes.enclosing_function(binders[0]) is not None:
                return None
            path = self.inp.path
        else:
            path = where
        if depth > 2:
            return None
        from flaskfix.codemods.project import module_binding

        found = module_binding(self.project, path, expr.func.id)
        if found is None or not isinstance(found[1], ast.FunctionDef) or found[1].decorator_list:
            return None
        func_path, func = found
        returns: list[ast.Return] = []
        stack: list[ast.AST] = list(func.body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.Yield, ast.YieldFrom)):
                return None
            if isinstance(node, ast.Return):
                returns.append(node)
            if not isinstance(node, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
                stack.extend(ast.iter_child_nodes(node))
        tree = self.project.tree(func_path)
        assigned = {t.id for s in (ast.walk(tree) if tree is not None else ()) if isinstance(s, ast.Assign)
                    for t in s.targets if isinstance(t, ast.Name)}
        rebound = {"list", "sorted"} & assigned
        for ret in returns:
            value = ret.value
            if isinstance(value, (ast.List, ast.ListComp)):
                continue
            if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("list", "sorted")
                    and value.func.id not in rebound and not any(
                        isinstance(p, ast.arg) and p.arg == value.func.id for p in ast.walk(func))):
                continue
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and self._fresh_list(value, func_path, depth + 1):
                continue
            return None
        if not returns:
            return None
        return f"the list `{func.name}()` returns, of values whose type flaskfix does not know"

    def _json_body(self, node: ast.AST) -> bool:
        """``request.json`` or ``request.get_json(...)``."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_json":
            return self.scopes.refers_to(node.func.value, "flask.request")
        return isinstance(node, ast.Attribute) and node.attr == "json" and self.scopes.refers_to(node.value, "flask.request")

    def _element_type(self, expr: ast.expr, lookup: str, loop: ast.AST, depth: int = 0) -> ElementType:
        refuse = Refused(
            loop,
            f"{lookup}: flaskfix cannot tell what the loop iterates (it needs a range, a literal list, "
            "request.args.getlist(...), a list of the JSON body or the session, or a new list: made in the function, or "
            "returned by a project function each of whose returns builds one)",
        )
        if depth > 3:
            raise refuse
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            types = set()
            for el in expr.elts:
                if _int_constant(el):
                    types.add("int")
                elif isinstance(el, ast.Constant) and isinstance(el.value, str):
                    types.add("str")
                else:
                    raise refuse
            if len(types) != 1:
                raise Refused(loop, f"{lookup}: the loop iterates a literal with mixed or no elements")
            if len(expr.elts) > int(self.config["max_ids"]):
                raise Refused(loop, f"{lookup}: the literal has more than max_ids={self.config['max_ids']} ids")
            return types.pop()  # type: ignore[return-value]
        if isinstance(expr, ast.ListComp) and len(expr.generators) == 1:
            elt = expr.elt
            if isinstance(elt, ast.Call) and self.scopes.is_builtin(elt.func, "int") and len(elt.args) == 1 and not elt.keywords and not isinstance(elt.args[0], ast.Starred):
                self._element_type(expr.generators[0].iter, lookup, loop, depth + 1)  # bounded source
                return "int"
            raise refuse
        if not isinstance(expr, ast.Call):
            raise refuse
        func = expr.func
        starred = any(isinstance(a, ast.Starred) for a in expr.args)
        if self.scopes.is_builtin(func, "range"):
            if expr.keywords or starred or not 1 <= len(expr.args) <= 3:
                raise refuse
            bounds = [_int_literal(a) for a in expr.args]
            if any(b is None for b in bounds):
                raise Refused(loop, f"{lookup}: a range computed at run time may exceed the database's limit on bind parameters in one IN (...)")
            size = len(range(*bounds))  # type: ignore[arg-type]
            if size > int(self.config["max_ids"]):
                raise Refused(loop, f"{lookup}: the range has {size} ids, more than max_ids={self.config['max_ids']}")
            return "int"
        for name in COPYING_BUILTINS:
            if self.scopes.is_builtin(func, name):
                if len(expr.args) != 1 or expr.keywords or starred:
                    raise refuse
                return self._element_type(expr.args[0], lookup, loop, depth + 1)
        # request.args["ids"].split(","), request.args.get("ids", "").split(","): a list of str
        if (isinstance(func, ast.Attribute) and func.attr == "split" and not starred and len(expr.args) <= 2
                and not expr.keywords and self._request_string(func.value)):
            return "str"
        # request.args.getlist("k"[, type=int])
        if isinstance(func, ast.Attribute) and func.attr == "getlist" and isinstance(func.value, ast.Attribute):
            holder = func.value
            if holder.attr in REQUEST_MULTIDICTS and self.scopes.refers_to(holder.value, "flask.request"):
                keywords = {k.arg: k.value for k in expr.keywords}
                if len(expr.args) != 1 or starred or set(keywords) - {"type"}:
                    raise refuse
                if "type" not in keywords:
                    return "str"
                t = keywords["type"]
                if self.scopes.is_builtin(t, "int"):
                    return "int"
                if self.scopes.is_builtin(t, "str"):
                    return "str"
                raise refuse
        raise refuse

    # -- the loop body -------------------------------------------------------------------

    def _check_body(self, anchor: ast.AST, binding: ast.AST, lookup: str, site: Site) -> None:
        # a plain session has no telling name (``s``, ``db_session``): any other use of it counts
        session = site.session.id if isinstance(site.session, ast.Name) else ""
        if (anchor, session) in self._body_ok:
            return
        if isinstance(anchor, _LOOPS):
            parts: list[ast.AST] = list(anchor.body)
            what = "the loop"
        else:
            assert isinstance(binding, ast.comprehension)
            parts = [anchor.key, anchor.value] if isinstance(anchor, ast.DictComp) else [anchor.elt]  # type: ignore[attr-defined]
            parts += binding.ifs
            what = "the comprehension"
        seen: set[str] = set()
        for part in parts:
            problem = self._body_problem([part], seen, session)
            if problem is not None:
                node, why = problem
                raise Refused(site.call, f"{lookup}: {what} {why} at line {node.lineno}, which may change what a later lookup returns")  # type: ignore[attr-defined]
        self._body_ok.add((anchor, session))

    def _body_problem(self, body: list[ast.AST], seen: set[str], session: str = "") -> tuple[ast.AST, str] | None:
        local_functions = {f.name: f for f in self.tree.body if isinstance(f, ast.FunctionDef)}
        stack = list(reversed(body))
        while stack:
            node = stack.pop()
            found: str | None = None
            children = _children(node)
            if isinstance(node, ast.Call):
                func = node.func
                if _site_shape(node):
                    # a lookup: its own `.session`/`.query` is a read; its arguments may not be
                    children = []
                    chain: ast.AST | None = node
                    while isinstance(chain, ast.Call):
                        children += [*chain.args, *chain.keywords]
                        chain = chain.func.value if isinstance(chain.func, ast.Attribute) else None
                        while isinstance(chain, ast.Attribute):
                            chain = chain.value
                elif isinstance(func, ast.Attribute):
                    method = func.attr
                    receiver = dotted(func.value) or ""
                    on_session = receiver.split(".")[-1] in ("session", "db", "connection", "conn", "engine")
                    if method in WRITING_METHODS or (on_session and method in SESSION_METHODS):
                        found = f"calls `.{method}()`"
                    elif method in ("update", "delete") and any(
                            isinstance(n, ast.Attribute) and n.attr == "query" for n in ast.walk(func.value)):
                        found = f"calls `.{method}()` on a query"
                elif isinstance(func, ast.Name) and func.id == "setattr":
                    found = "calls `setattr()` (a change the next lookup would flush)"
                elif isinstance(func, ast.Name) and func.id in local_functions and func.id not in seen:
                    seen.add(func.id)
                    inner = self._body_problem(list(local_functions[func.id].body), seen, session)
                    if inner is not None:
                        found = f"calls `{func.id}()`, which {inner[1]}"
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Attribute):
                        return t, "assigns to an attribute (a change the next lookup would flush)"
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Attribute):
                found = "assigns to an attribute (a change the next lookup would flush)"
            elif isinstance(node, ast.Attribute) and node.attr in ("session", "engine"):
                found = f"uses `.{node.attr}`"
            elif isinstance(node, ast.Name) and node.id == "session" and not self.scopes.refers_to(node, "flask.session"):
                found = "uses `session`"
            elif isinstance(node, ast.Name) and session and node.id == session:
                found = f"uses the session `{session}`"
            if found is not None:
                return node, found
            stack.extend(reversed(children))
        return None

    # -- output --------------------------------------------------------------------------

    def _abort_name(self) -> str | None:
        """How to call flask.abort here (importing it when the name is free), or None."""
        if self._abort is False:
            found = self.scopes.expression_for("flask.abort")
            if found is None and "abort" not in self.scopes.bound_names():
                self.out.imports.append(("flask", "abort", None))
                found = "abort"
            self._abort = found
        return self._abort  # type: ignore[return-value]

    def _not_found(self, pre: Prefetch, site: Site) -> str | None:
        """``abort(404[, description=...])``, exactly what get_or_404 raises, or None
        when flaskfix cannot say it as cheaply (then the original call answers)."""
        if not pre.falsy_ok:
            return None
        desc = site.description
        if desc is not None and not (isinstance(desc, ast.Constant) and isinstance(desc.value, str)):
            return None
        abort = self._abort_name()
        if abort is None:
            return None
        return f"{abort}(404)" if desc is None else f"{abort}(404, description={self.code(desc)})"

    def _lookup(self, pre: Prefetch, site: Site) -> ReplaceCall:
        x = site.arg.id
        hit = f"{pre.name}.get(int({x}))" if site.convert else f"{pre.name}.get({x})"
        original = self.code(site.call)
        miss = self._not_found(pre, site) if site.aborts and pre.mode != "fallback" else None
        parts: tuple[str, str, str] | None
        if pre.mode == "typed" and pre.info.pk_type == "str" and not self.config["exact_string_keys"]:
            # a String key: the column's collation may match a differently spelled row
            # (MySQL's and SQL Server's defaults), so every miss asks the original call
            text = f"{pre.name}.get({site.id_code}) or {original}"
            parts = None
        elif pre.mode == "typed":
            x = site.id_code
            hit = f"{pre.name}.get({x})"
            cond = _typed_test(pre, x)
            first = hit if not (site.aborts or site.must_exist) else f"({hit} or {miss or original})"
            text = f"{first} if {cond} else {original}"
            parts = (first, f"if {cond}", f"else {original}")
        elif pre.mode == "exact":
            text = hit if not (site.aborts or site.must_exist) else f"{hit} or {miss or original}"
            parts = None
        elif pre.mode == "bounded":
            first = hit if not (site.aborts or site.must_exist) else f"({hit} or {miss or original})"
            cond = f"abs({x}) < 2**63"
            text = f"{first} if {cond} else {original}"
            parts = (first, f"if {cond}", f"else {original}")
        elif pre.mode in ("canonical", "converted") and (miss is not None or not site.aborts) and not site.must_exist:
            first = f"({hit} or {miss})" if site.aborts else hit
            cond = _prefetched_condition(pre.mode, x)
            text = f"{first} if {cond} else {original}"
            parts = (first, f"if {cond}", f"else {original}")
        else:
            text = f"{hit} or {original}"
            parts = None
        span = self.lines.span(site.call)
        if text == hit:
            return ReplaceCall(span, hit, simple=True)
        call = site.call
        parent = self.scopes.parent(call)
        bare_ok = (
            (isinstance(parent, (ast.Assign, ast.AnnAssign, ast.Return)) and parent.value is call)
            or (isinstance(parent, ast.Call) and (any(a is call for a in parent.args)))
            or isinstance(parent, ast.keyword)
            or isinstance(parent, ast.Expr)
            or (isinstance(parent, (ast.List, ast.Tuple, ast.Set)) and any(e is call for e in parent.elts))
            or (isinstance(parent, ast.Dict) and any(v is call for v in parent.values))
            or (isinstance(parent, (ast.ListComp, ast.SetComp, ast.GeneratorExp)) and parent.elt is call)
            or (isinstance(parent, ast.DictComp) and parent.value is call)
        )
        wrapped = None
        line = self._line_of_statement(call)
        if parts is not None and line is not None and isinstance(parent, (ast.Assign, ast.Return)) and parent.value is call:
            indent, length = line
            if indent + length - len(original) + len(text) > int(self.config["line_length"]):
                body = "".join(f"\n    {p}" for p in parts)
                wrapped = f"({body}\n)"
        return ReplaceCall(span, text, wrapped=wrapped, bare_ok=bare_ok)

    def _line_of_statement(self, node: ast.AST) -> tuple[int, int] | None:
        """(indent, length) of the one-line statement holding ``node``."""
        for anc in self.scopes.ancestors(node):
            if isinstance(anc, _COMPOUND):
                return None
            if isinstance(anc, ast.stmt):
                if anc.lineno != anc.end_lineno:
                    return None
                return self.lines.col(anc.lineno, anc.col_offset), len(self.lines.line(anc.lineno).strip())
        return None

    def prefetch_statements(self, lp: LoopPlan, pre: Prefetch, indent: int) -> list[str]:
        """The statements filling ``pre.name``: for ``int(x)`` lookups of string ids, the
        list of int keys first, then the dict."""
        model, pk, var = pre.model, pre.info.primary_key, _snake(pre.model)
        if var in (model, lp.ids_name, pre.db, pre.name, pre.session, pre.keys):
            var = "obj" if "obj" not in (model, lp.ids_name, pre.db, pre.name, pre.session, pre.keys) else "row"
        key = f"{var}.{pk}"
        if pre.key_str:
            key = f"str({key})"
        width = int(self.config["line_length"]) - indent
        if pre.mode == "typed":
            return _typed_statements(pre, lp, var, width)
        if pre.mode == "bounded":
            x = pre.sites[0].arg.id
            keys = f"{pre.keys} = [{x} for {x} in {lp.ids_name} if abs({x}) < 2**63]"
            if len(keys) > width:
                keys = f"{pre.keys} = [\n    {x} for {x} in {lp.ids_name} if abs({x}) < 2**63\n]"
            return [keys + "\n", _dict_statement(pre, pre.keys, False, key, var, width, True, x)]
        if pre.mode == "converted":
            x = pre.sites[0].arg.id
            keys = f"{pre.keys} = [int({x}) for {x} in {lp.ids_name} if {_prefetched_condition('converted', x)}]"
            if len(keys) > width:
                keys = f"{pre.keys} = [\n    int({x}) for {x} in {lp.ids_name} if {_prefetched_condition('converted', x)}\n]"
            return [keys + "\n", _dict_statement(pre, pre.keys, False, key, var, width, lp.unbounded, x)]
        return [_dict_statement(pre, lp.ids_name, lp.nonempty, key, var, width, lp.unbounded)]


def _dict_statement(pre: Prefetch, ids: str, nonempty: bool, key: str, var: str, width: int,
                    chunked: bool = False, *taken: str) -> str:
    model, pk = pre.model, pre.info.primary_key
    if chunked:
        return _chunked_dict(pre, ids, key, var, width, taken)
    source = _source(pre, f"{model}.{pk}.in_({ids})")
    guard = "" if nonempty else f" if {ids} else {{}}"
    one_line = f"{pre.name} = {{{key}: {var} for {var} in {source}}}{guard}"
    if len(one_line) <= width:
        return one_line + "\n"
    if len(f"{key}: {var} for {var} in {source}") <= width - 4:
        inner = f"{key}: {var} for {var} in {source}"
    else:
        inner = f"{key}: {var}\n    for {var} in {source}"
    return f"{pre.name} = {{\n    {inner}\n}}{guard}\n"


def _source(pre: Prefetch, where: str) -> str:
    """The query the prefetch iterates, in the lookup's own style, filtered by ``where``."""
    model = pre.model
    if pre.style == "query":
        return f"{model}.query.filter({where})"
    if pre.style == "session.query":
        return f"{pre.session}.query({model}).filter({where})"
    if pre.style == "session.select":
        return f"{pre.session}.scalars({pre.db}({model}).where({where}))"
    return f"{pre.db}.session.scalars({pre.db}.select({model}).where({where}))"


def _chunked_dict(pre: Prefetch, ids: str, key: str, var: str, width: int, taken: tuple[str, ...] = ()) -> str:
    """The dict filled by one IN (...) per CHUNK ids (none when there are none): for ids
    whose number nothing bounds."""
    model, pk = pre.model, pre.info.primary_key
    start = next(n for n in ("start", "offset", "i") if n not in (var, ids, model, pre.db, pre.session, *taken))
    source = _source(pre, f"{model}.{pk}.in_({ids}[{start} : {start} + {CHUNK}])")
    chunks = f"for {start} in range(0, len({ids}), {CHUNK})"
    one_line = f"{pre.name} = {{{key}: {var} {chunks} for {var} in {source}}}"
    if len(one_line) <= width:
        return one_line + "\n"
    return f"{pre.name} = {{\n    {key}: {var}\n    {chunks}\n    for {var} in {source}\n}}\n"


def _container_root(expr: ast.expr) -> ast.expr:
    """What ``expr`` reads a value out of by constant subscripts and ``.get("k"[, literal])``
    (``data["a"].get("ids", [])`` -> ``data``); ``expr`` itself when it reads nothing so."""
    node = expr
    while True:
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            node = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and 1 <= len(node.args) <= 2 and not node.keywords and isinstance(node.args[0], ast.Constant)
              and (len(node.args) == 1 or _literal(node.args[1]))):
            node = node.func.value
        else:
            return node


def _from_client(expr: ast.AST) -> bool:
    """Ids from the request (``getlist``, a split request string): their number is the
    client's choice."""
    return any(isinstance(n, ast.Attribute) and n.attr in ("getlist", "split") for n in ast.walk(expr))


def _typed_statements(pre: Prefetch, lp: LoopPlan, var: str, width: int) -> list[str]:
    """The ids of the rows' column, of the primary key's type, sorted and distinct; then
    the dict, filled by one IN (...) per CHUNK ids (none when there are none)."""
    row = pre.sites[0].arg.id
    col = pre.sites[0].id_code
    test = _typed_test(pre, col)
    key = pre.sites[0].item_key
    if key is not None:  # each item may be anything: a dict without the field, a list...
        quoted = f'"{key}"' if '"' not in key else repr(key)
        test = f"type({row}) is dict and type({row}.get({quoted})) is {pre.info.pk_type}" + (
            f" and abs({col}) < 2**63" if pre.info.pk_type == "int" else "")
    keys = f"{pre.keys} = sorted({{{col} for {row} in {lp.ids_name} if {test}}})"
    if len(keys) > width:
        keys = f"{pre.keys} = sorted(\n    {{{col} for {row} in {lp.ids_name} if {test}}}\n)"
    return [keys + "\n", _chunked_dict(pre, pre.keys, f"{var}.{pre.info.primary_key}", var, width, (row,))]


def _typed_test(pre: Prefetch, x: str) -> str:
    """The ids the prefetch asks for: of the key's own type and, for ints the client sent
    (not read from the database), within a 64-bit column's range (SQLite refuses to bind
    a larger int: the prefetch would raise where the loop would not yet have)."""
    if pre.info.pk_type == "int" and pre.attr is None:
        return f"type({x}) is int and abs({x}) < 2**63"
    return f"type({x}) is {pre.info.pk_type}"


def _literal(node: ast.AST) -> bool:
    """A literal default: a constant, or an empty or constant list/dict/tuple."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(isinstance(e, ast.Constant) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(isinstance(k, ast.Constant) for k in node.keys) and all(isinstance(v, ast.Constant) for v in node.values)
    return False


def _method_call(node: ast.AST, method: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method


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


def _one_line(code: str) -> str:
    """Source spread over lines, joined as one would write it on one line."""
    out = ""
    for piece in (p.strip() for p in code.splitlines()):
        if out and not out.endswith(("(", "[", "{")) and not piece.startswith((")", "]", "}")):
            out += " "
        out += piece
    return out


def _children(node: ast.AST) -> list[ast.AST]:
    """Child nodes in source order (ast's field order, with a dict's keys and values and
    a call's positional and keyword arguments interleaved as written)."""
    if isinstance(node, ast.Dict):
        out: list[ast.AST] = []
        for k, v in zip(node.keys, node.values):
            out += [k, v] if k is not None else [v]
        return out
    if isinstance(node, ast.Call):
        args = sorted([*node.args, *node.keywords], key=lambda a: (a.lineno, a.col_offset))
        return [node.func, *args]
    return list(ast.iter_child_nodes(node))


def _bodies(node: ast.AST) -> list[ast.stmt]:
    """The statements directly in ``node``'s blocks (body, orelse, finalbody, handlers', cases')."""
    out: list[ast.stmt] = []
    for name in ("body", "orelse", "finalbody"):
        block = getattr(node, name, None)
        if isinstance(block, list):
            out += [s for s in block if isinstance(s, ast.stmt)]
    for h in getattr(node, "handlers", []):
        out += h.body
    for c in getattr(node, "cases", []):
        out += c.body
    return out


def _binders(node: ast.AST) -> list:
    """The ``for`` clauses that bind loop variables at ``node``: a for loop itself, or
    every ``for`` of a comprehension; none for anything else."""
    if isinstance(node, _LOOPS):
        return [node]
    if isinstance(node, COMPREHENSIONS):
        return list(node.generators)
    return []


def _calls(tree: ast.Module) -> list[ast.Call]:
    """Calls of a lookup method, outer before inner, in source order."""
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in LOOKUP_METHODS]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset, -(n.end_lineno or 0), -(n.end_col_offset or 0)))


def _site_shape(call: ast.Call) -> bool:
    """Syntactically one of the lookups (whatever it is proven to be later)."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in LOOKUP_METHODS:
        return False
    base = func.value
    if func.attr in ("scalar_one_or_none", "scalar_one") or (func.attr == "scalar" and _method_call(base, "execute")) \
            or (func.attr in ("first", "one_or_none", "one") and _method_call(base, "scalars")) \
            or (func.attr == "scalar" and call.args):
        return True  # SQLAlchemy 2's select lookups (whatever _select_lookup decides)
    if func.attr in ("first", "one_or_none", "scalar", "one"):
        if _filter_equals(base) is not None:
            return True
        return (isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute) and base.func.attr == "filter_by"
                and (_is_model_query(base.func.value) or _session_query_receiver(base.func.value) is not None))
    if _is_model_query(base):
        return True
    if func.attr == "get_or_404":
        return isinstance(base, ast.Name)
    if func.attr == "get" and isinstance(base, ast.Name) and len(call.args) == 2 and isinstance(call.args[0], ast.Name):
        return True  # a plain session's get(Model, x)
    if isinstance(base, ast.Attribute) and base.attr == "session" and isinstance(base.value, ast.Name):
        return len(call.args) + len(call.keywords) == 2 and not call.keywords
    return isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute) and base.func.attr == "query"


def _filter_equals(node: ast.AST) -> tuple[ast.Name, str, ast.expr] | None:
    """``Model.query.filter(Model.col == x)`` (one condition, the query's own model, ``==``
    with the column on the left): (Model, "col", x); what ``filter_by(col=x)`` says."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "filter"):
        return None
    query = node.func.value
    if not (_is_model_query(query) or _session_query_receiver(query) is not None) or len(node.args) != 1 or node.keywords \
            or isinstance(node.args[0], ast.Starred):
        return None
    test = node.args[0]
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return None
    left = test.left
    model = query.args[0] if isinstance(query, ast.Call) else query.value  # type: ignore[attr-defined]
    if not (isinstance(left, ast.Attribute) and isinstance(left.value, ast.Name) and left.value.id == model.id):
        return None
    return model, left.attr, test.comparators[0]


def _session_query_receiver(node: ast.AST) -> ast.expr | None:
    """``session.query(Model)`` / ``db.session.query(Model)`` (one model class): the
    receiver (``session`` / ``db.session``), else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "query"
            and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Name)):
        return None
    receiver = node.func.value
    if isinstance(receiver, ast.Name) or (isinstance(receiver, ast.Attribute) and receiver.attr == "session"
                                          and isinstance(receiver.value, ast.Name)):
        return receiver
    return None


def _db_of(receiver: ast.expr | None) -> ast.Name | None:
    """``db`` of ``db.session``."""
    if isinstance(receiver, ast.Attribute) and isinstance(receiver.value, ast.Name):
        return receiver.value
    return None


def _is_model_query(node: ast.AST) -> bool:
    """``Model.query``"""
    return isinstance(node, ast.Attribute) and node.attr == "query" and isinstance(node.value, ast.Name)


def _plain_args(call: ast.Call) -> bool:
    return not any(isinstance(a, ast.Starred) for a in call.args) and all(k.arg is not None for k in call.keywords)


def _int_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool)


def _int_literal(expr: ast.AST) -> int | None:
    if _int_constant(expr):
        return int(expr.value)  # type: ignore[attr-defined]
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub) and _int_constant(expr.operand):
        return -int(expr.operand.value)  # type: ignore[attr-defined]
    return None


def _nonempty(expr: ast.AST) -> bool:
    """A literal collection with elements, or a range of literals that is not empty."""
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
        return bool(expr.elts) and not any(isinstance(e, ast.Starred) for e in expr.elts)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "range":
        if expr.keywords or any(isinstance(a, ast.Starred) for a in expr.args):
            return False
        bounds = [_int_literal(a) for a in expr.args]
        if 1 <= len(bounds) <= 3 and all(b is not None for b in bounds) and not (len(bounds) == 3 and bounds[2] == 0):
            return len(range(*bounds)) > 0  # type: ignore[arg-type]
    return False


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
