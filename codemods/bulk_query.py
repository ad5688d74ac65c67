"""bulk-query: a primary-key lookup per loop iteration becomes one ``IN (...)`` query.

``for user_id in ids: user = User.query.get(user_id)`` sends one SELECT per id (the
"N+1 queries" pattern). The usual advice is to replace the loop with
``User.query.filter(User.id.in_(ids)).all()``, but that changes what the code computes:
rows come back in database order, ids without a row vanish instead of giving ``None``,
duplicates collapse, and ``"3"`` (a query-string id) no longer matches ``3``.

A lookup by a loop row's foreign key that a relationship of the row answers
(``Customer.query.get(o.customer_id)`` with ``Order.customer``) is eager-load's, which runs
first and reads it through the relationship; bulk-query takes what eager-load leaves.

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
same query written with ``filter``; ``.one_or_none()`` and ``.scalar()`` alike; the same
on ``db.session.query(Model)``; SQLAlchemy 2's ``db.session.execute(select(Model).where(
Model.pk == x)).scalar_one_or_none()``, ``db.session.scalar(select(...))`` and
``db.session.scalars(select(...)).first()``) answer with that object. For ``.one()`` a miss always runs the original call, which raises
``NoResultFound`` as before. A miss is ``None``
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
flaskfix cannot trace.

Plain SQLAlchemy, without Flask-SQLAlchemy, is followed too (Flask's own "SQLAlchemy in
Flask" pattern). A model is a direct subclass of ``Base = declarative_base()`` (only
``name=``, ``metadata=`` or ``bind=`` given: ``cls=`` may add columns) or of ``class
Base(DeclarativeBase): pass``, with nothing but ``Base.query`` set on it. A session is a
module-level ``scoped_session(...)`` or ``Session(...)`` (of this module or imported from
the project), a local bound once by ``with Maker() as s`` or ``s = Maker()`` with
``Maker`` a module-level ``sessionmaker(...)`` (or by ``Session(engine)``), or a
parameter annotated ``Session``. ``Model.query.get(x)`` is followed when ``Base.query =
<scoped_session>.query_property()`` sits next to the base. The prefetch is made on the
same session: ``s.query(Model).filter(...)``, or ``s.scalars(select(Model).where(...))``
for ``s.get(Model, x)`` and select lookups when the module imports ``select``. Since such
a session has no telling name, any other use of it in the loop refuses the loop.

Ids read from the loop's rows (the textbook N+1: ``for o in orders:
Customer.query.get(o.customer_id)``). The rows are iterated twice, by the prefetch and
then by the loop, so they must be one list made once: a local bound once, in the loop's
own block and not used before the loop ends, to ``<Model.query...>.all()`` (or
``list()``/``sorted()`` of a query), a pagination's ``.items``, or a query written in the
loop header, which is first bound to a new name with ``.all()`` (iterating a query runs
the same one statement). The id must be a column the rows' model declares in its body (a
property, hybrid or relationship could run code or queries when read before the loop).
The prefetch asks for the distinct values of the primary key's own type, in ``IN (...)``
chunks of 500 (there is no bound on the number of rows, and databases cap bound
parameters: SQLite 999 in older builds, Oracle 1,000 per IN list, SQL Server 2,100); any
other value (a NULL column's None) takes the original call, and so does every miss of a
String key unless ``exact_string_keys`` (the column's collation may match a row spelled
otherwise, as for string ids above):

    customer_ids = sorted({o.customer_id for o in orders if type(o.customer_id) is int})
    customer_by_id = {
        customer.id: customer
        for start in range(0, len(customer_ids), 500)
        for customer in Customer.query.filter(Customer.id.in_(customer_ids[start : start + 500]))
    }
    for o in orders:
        customer = customer_by_id.get(o.customer_id) if type(o.customer_id) is int else Customer.query.get(o.customer_id)

The cost, said in each change: every row's related object is loaded, also for rows a
loop that stops early (``break``, an abort) would not have reached.

Ids the client sends as JSON (``request.get_json()["ids"]``, ``data.get("ids", [])`` with
``data`` bound once to the body) may be anything: ints, strings, floats, booleans, null,
nested lists, or not a list at all. Iterating such a value twice sees the same elements
(a list, a dict's keys, a string's characters) or raises TypeError at once, as the loop
would. The prefetch asks only for the ints within 64 bits (SQLite cannot bind a larger
int, so asking for it would raise where the loop had not yet), 500 at a time; every other
id takes the original call, whose answer the database decides as before. A loop that uses
the body itself (and could change its lists while it runs) is refused, and so is
``int()`` of such ids. A field of the body's items (``for line in lines:
Product.query.get(line["sku"])``) is prefetched for the items that are dicts holding a
value of the key's type; the lookup reads ``line["sku"]`` first, so an item without the
field still raises KeyError in the same iteration. A loop that does anything with its
item but read fields is refused (it could change the item before the lookup).

Ids of a type flaskfix cannot know, in a list that nothing else holds, are treated like the
JSON ids above (only values of the key's own type are prefetched, 500 at a time; anything else
takes the original call): a list display or comprehension made in the function
(``[x.strip() for x in raw.split(",")]``, ``[{"item_id": 1}, ...]``), ``list()`` or ``sorted()``
of anything, or what a project function returns when each of its ``return`` statements builds
such a list (not a generator, not a module-level list it hands out: the loop could reach that
one another way and change it). So are the values kept in Flask's session
(``session.get("basket", [])``, decoded from the cookie's JSON) when the loop does not use the
session. The change says where the values come from, and that rows are loaded for every item.

Comprehensions and generator expressions consumed at once (by ``list()``,
``sorted()``, ``"".join()`` ...) get the same treatment: the prefetch is placed before
the statement that holds them (the iterable, when it is not a plain name, is bound to a
fresh name first), as long as nothing else in that statement can run before the
comprehension and change the database.
"""

from __future__ import annotations

from typing import Any, Mapping

import libcst as cst
from libcst.metadata import PositionProvider

from flaskfix.codemods import detection, edits
from flaskfix.codemods.ast_facts import AstFacts
from flaskfix.codemods.base import FlaskfixCodemod


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
        "the model is not a direct subclass of db.Model or of a plain declarative base (declarative_base() with only name/"
        "metadata/bind, or an empty DeclarativeBase subclass) with one primary-key column flaskfix can read (from "
        "primary_key=True or __mapper_args__), or it sets query_class/__table__, or __mapper_args__ keys other than "
        "primary_key that change loading",
        "Model.query on a plain declarative model whose base has no `Base.query = <scoped_session>.query_property()`",
        "the ids' element type is unknown, or does not match the primary key (int ids against a string key)",
        "the ids are not a re-iterable collection built in the function (a parameter, a generator), or the function may change them",
        "the loop body uses the database session or calls a method that writes (commit, flush, delete, expire, refresh...)",
        "a try statement surrounds the loop or the lookup (the prefetch could raise where the loop did not)",
        "the lookup passes extra arguments or carries options/filters (populate_existing, .options(), filter_by on another column)",
        "a range whose size is computed at run time, or larger than max_ids",
        "async code (an async for loop or comprehension), or a session not traceable to a Flask-SQLAlchemy object, a "
        "module-level scoped_session()/Session(), or a local session of a module-level sessionmaker()",
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
    PREFILTER = (r"\.(?:get(?:_or_404)?|filter_by|filter|where)\(", r"\bfor\b", r"query|session|Session|get_or_404|select\(")
    DEFAULT_CONFIG = {"max_ids": 1000, "line_length": 88, "exact_string_keys": False}
    METADATA_DEPENDENCIES = (PositionProvider,)

    @classmethod
    def config_problems(cls, config: Mapping[str, Any]) -> list[str]:
        return [f"{key} must be a positive whole number, not {config[key]!r}"
                for key in ("max_ids", "line_length") if config[key] <= 0]

    @classmethod
    def detect(cls, facts: AstFacts) -> bool:
        """``detection.bulk_query`` (LibCST-free, so that a run needs no codemod import to ask it)."""
        return detection.bulk_query(facts)

    def rewrite(self, tree: cst.Module) -> cst.Module:
        """Carry out the plan ``codemods/plan/bulk_query.py`` made on stdlib ``ast`` (the
        engine makes it before LibCST parses the file, and parses only when it has edits)."""
        plan = self.decided(tree)
        for module, name, asname in plan.imports:
            self.add_import(module, name, asname)
        assert self.context.wrapper is not None
        return edits.apply(self.context.wrapper, plan.edits)
