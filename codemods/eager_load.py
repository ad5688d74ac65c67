"""eager-load: a lazy relationship read for each row of a query becomes ``selectinload``
on that query.

``for p in Post.query.all(): p.author.name`` sends one SELECT for the posts and then one per
post whose author is not loaded yet (the "N+1 queries" pattern SQLAlchemy apps have most).
The documented fix is an eager-loading option on the query that made the rows. flaskfix uses
``selectinload``, the one that keeps results identical: the same rows in the same order (no
JOIN, so no row multiplication, and ``limit``/``paginate`` still count rows), and each
relationship loaded by ``SELECT ... WHERE key IN (...)`` queries of at most 500 keys
(SQLAlchemy's own chunking), whatever the number of rows:

    posts = Post.query.options(selectinload(Post.author)).filter_by(published=True).all()

Why the answers are the same. A lazy load and ``selectinload`` read the same related rows by
the same keys, into the same session's identity map: ``p.author`` is the same object either
way, ``None`` where the key is NULL or has no row, an empty list for a collection with no
rows. What could differ is *when* the related rows are read: eagerly with the rows, or lazily
at the read. So everything between the query and the last read must leave them alone:
flaskfix refuses a loop (or the statements between the query and the loop) that assigns an
attribute (``p.author_id = 2; p.author.name`` gives another answer when eager-loaded), calls
a session method that writes, flushes, expires or executes SQL, or gives the rows, a row or
the session to a call it cannot follow. Calls that take none of them (``jsonify``, a
container's ``append``) are allowed.

Order. A many-to-one relationship is one object. A collection (one-to-many, many-to-many)
is a list whose order neither a lazy load nor ``selectinload`` promises unless the
relationship declares ``order_by``; flaskfix fixes a collection read only when it has
``order_by`` or when the read does not depend on order (``len(a.posts)``).

Recognised: rows of ``Model.query...`` with row-keeping methods (filter, filter_by,
order_by, limit, offset...), as ``.all()``, iterated directly, or ``.paginate(...).items``;
``db.session.scalars(select(Model)...)`` and ``db.session.execute(select(Model)...).scalars()``
(also ``.all()``); the query built in the same function, bound once and used only as the
loop's iterable until the loop ends. Relationships come from the project's model classes
(``relationship()`` in the class body, default ``lazy="select"``, and those another model's
``backref=`` declares: ``posts = relationship("Post", backref="author")`` in ``User`` gives
``Post.author``, with the options of ``backref(...)``, not the forward relationship's ``lazy``);
several relationships of
one loop share one ``options()``. A relationship read through a many-to-one one
(``c.post.author``) is loaded along the same path (``selectinload(Comment.post).selectinload(
Post.author)``). A query whose own ``.options()`` already load a relationship eagerly
(``joinedload``, ``selectinload``...) keeps them, and a second ``.options()`` adds what it
lacks; any other option (``lazyload``, ``raiseload``, a wildcard) is left alone with a finding.

Lookups a relationship answers. ``Customer.query.get(o.customer_id)`` (also
``db.session.get(Customer, o.customer_id)`` and ``Customer.query.filter_by(id=o.customer_id).first()``)
in such a loop becomes ``o.customer``, loaded the same way, when ``Order.customer`` is proven
to be exactly that lookup: a many-to-one relationship to ``Customer`` itself, with no
``primaryjoin``/``foreign_keys``/``secondary``, and ``customer_id`` the one column of ``Order``
with a foreign key to ``Customer``'s table, on its primary key; ``Customer`` a Flask-SQLAlchemy
model without subclasses or a query class of its own; the lookup made with the session the
rows were read with. Then the relationship and the lookup read the same row into the same
identity map: the same object, ``None`` where the key is NULL or has no row. Everything else
(``get_or_404``, a lookup no relationship answers, a loop eager-load refuses) stays
bulk-query's, which runs after eager-load and fixes or refuses it on its own terms, so
eager-load reports nothing for it.

Calls in the loop. A project function the loop calls is read (three calls deep): one that
commits, flushes, deletes or executes SQL refuses the loop even when it takes no argument
(``tidy()`` running an UPDATE: the authors read lazily after it see the new names).

The cost, said in each change: every row's relationship is loaded, also for rows a loop that
stops early (``break``, an abort) would not have reached.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import PositionProvider

from flaskfix.codemods import detection, edits
from flaskfix.codemods.ast_facts import AstFacts
from flaskfix.codemods.base import FlaskfixCodemod


class EagerLoad(FlaskfixCodemod):
    ID = "eager-load"
    ORDER = 25
    SUMMARY = "A lazy relationship read for each row of a query (N+1 queries) is loaded with the rows by selectinload"
    WHY = """
        Reading a lazy relationship (post.author) for each row of a query sends one SELECT
        per row: a page of 100 posts waits for 101 round trips to the database. Loading the
        relationship with the rows, by selectinload on the query that made them, costs one
        more query per relationship (per 500 rows), whatever the number of rows.
    """
    BEHAVIOUR = """
        The rows and the related objects are the same, in the same order; only the number of
        queries changes (1 + one per relationship and 500 rows, instead of 1 + one per row).
        Every row's relationship is loaded when the rows are, also for rows a loop that stops
        early would not reach. Collections are fixed only when their relationship has
        order_by or the read does not depend on order (len()). A lookup of the related
        object by the row's foreign key (Customer.query.get(o.customer_id)) becomes the
        relationship read (o.customer) when the relationship is proven to be that very key.
    """
    REFUSES = (
        "the relationship is lazy=\"dynamic\", \"write_only\", \"raise\", \"noload\", or already eager (joined, "
        "selectin, subquery), or the query already sets .options()",
        "between the query and the reads: an attribute is assigned, the session adds, deletes, merges, flushes, commits, "
        "expires or executes SQL, or a call flaskfix cannot follow is given the rows, a row or the session",
        "a collection without order_by read in a way that depends on order",
        "the rows come from elsewhere (a parameter, another function's return), or are used before the loop ends",
        "the model is mapped polymorphically or has subclasses; the query uses yield_per or populate_existing",
        "the loop is in a generator function; the rows are made in another block than the loop's",
        "the loop calls a project function that commits, flushes, deletes or executes SQL (three calls deep)",
    )
    EXAMPLE_BEFORE = '''\
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
db = SQLAlchemy(app)


class Author(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80))


class Post(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(80))
    author_id = db.Column(db.Integer, db.ForeignKey("author.id"))
    author = db.relationship("Author")


@app.route("/posts")
def posts():
    rows = Post.query.order_by(Post.id).all()
    return jsonify([{"title": p.title, "author": p.author.name} for p in rows])
'''
    EXAMPLE_AFTER = '''\
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import selectinload

app = Flask(__name__)
db = SQLAlchemy(app)


class Author(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80))


class Post(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(80))
    author_id = db.Column(db.Integer, db.ForeignKey("author.id"))
    author = db.relationship("Author")


@app.route("/posts")
def posts():
    rows = Post.query.options(selectinload(Post.author)).order_by(Post.id).all()
    return jsonify([{"title": p.title, "author": p.author.name} for p in rows])
'''
    PREFILTER = (r"\bfor\b", r"query|select\(|scalars")
    METADATA_DEPENDENCIES = (PositionProvider,)

    @classmethod
    def detect(cls, facts: AstFacts) -> bool:
        """``detection.eager_load`` (LibCST-free, so that a run needs no codemod import to ask it)."""
        return detection.eager_load(facts)

    def rewrite(self, tree: cst.Module) -> cst.Module:
        """Carry out the plan ``codemods/plan/eager_load.py`` made on stdlib ``ast``."""
        plan = self.decided(tree)
        for module, name, asname in plan.imports:
            self.add_import(module, name, asname)
        assert self.context.wrapper is not None
        return edits.apply(self.context.wrapper, plan.edits)
