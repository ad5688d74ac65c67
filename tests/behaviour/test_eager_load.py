"""eager-load, executed: the fixture apps before and after the rewrite, on SQLite through
Flask-SQLAlchemy, every SQL statement counted with ``before_cursor_execute``.

Promised effect: each route answers the same JSON (rows without the related object, empty
collections, ``limit``, ordering, pagination), and a request makes at most 1 + one query per
relationship and 500 distinct keys, instead of one per row. The refusals are shown to be
necessary: where the loop changes a row before reading its relationship, the eager-loaded
version gives another answer.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import event

from tests.behaviour.test_bulk_query import _load
from tests.harness import run_codemod

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eager-load"
SETUP = 'app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://")\ndb.init_app(app)\n'


class Counted:
    """A fixture app's test client, with every SQL statement counted."""

    def __init__(self, module) -> None:  # type: ignore[no-untyped-def]
        self.app, self.client, self.count = module.app, module.app.test_client(), 0

    def listen(self, db) -> None:  # type: ignore[no-untyped-def]
        event.listen(db.engine, "before_cursor_execute", self._count)

    def _count(self, *args) -> None:  # type: ignore[no-untyped-def]
        self.count += 1

    def get(self, url: str) -> tuple[int, object, int]:
        before = self.count
        resp = self.client.get(url)
        return resp.status_code, resp.get_json(), self.count - before


class App(Counted):
    def __init__(self, module, posts: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__(module)
        m, db = module, module.db
        with self.app.app_context():
            db.create_all()
            authors = [m.Author(id=i, name=f"author {i}") for i in range(1, 8)]  # 6 and 7 have no posts
            tags = [m.Tag(id=i, name=n) for i, n in enumerate(["zeta", "alpha", "mid"], 1)]
            rows = []
            for i in range(1, posts + 1):
                author = None if i % 10 == 0 else authors[i % 5]  # every 10th post has no author
                p = m.Post(id=i, title=f"post {i}", author=author)
                p.tags = [tags[j] for j in range(3) if (i + j) % 3 == 0]  # some posts have none
                rows.append(p)
            comments = [m.Comment(id=i, body=f"c{i}", post=rows[(i * 7) % len(rows)] if i % 4 else None)
                        for i in range(1, 30)]
            db.session.add_all(authors + tags + rows + comments)
            db.session.commit()
            self.listen(db)


def _apps(tmp: Path, folder: str, posts: int, after_text: str | None = None) -> tuple[App, App]:
    source = (FIXTURES / folder / "input.py").read_text()
    models = (FIXTURES / folder / "models.py").read_text()
    if after_text is None:
        result = run_codemod("eager-load", source, {"models.py": models})
        assert result.error is None and result.new_text is not None
        after_text = result.new_text
    out = []
    for name, text in (("before", source), ("after", after_text)):
        text = text.replace("app = Flask(__name__)\n", "app = Flask(__name__)\n" + SETUP, 1)
        out.append(App(_load(tmp / name, {"app.py": text, "models.py": models}), posts))
    return out[0], out[1]


@pytest.fixture(scope="module")
def apps(tmp_path_factory):  # type: ignore[no-untyped-def]
    return _apps(tmp_path_factory.mktemp("eager"), "relationships-in-loops", 23)


@pytest.mark.parametrize("url, relationships", [
    ("/posts", 1),  # many-to-one (NULL author for every 10th post)
    ("/authors", 2),  # one-to-many ordered, and len() of an unordered one (authors without posts: [] and 0)
    ("/tags", 1),  # many-to-many, ordered by Tag.name, through paginate(): count + rows + tags
    ("/tags?page=3", 1),
    ("/tags?page=9", 0),  # past the end: no rows, nothing to load
    ("/comments", 1),  # select(...).limit(50), comments without a post
    ("/tagged", 1),  # tags already joined-loaded; the author added
    ("/threads", 2),  # nested: comments, their posts, those posts' authors
    ("/stamped", 1),  # the loop calls a project function that touches no session
    ("/slugs", 1),  # the loop gives a column's value (p.title) to a project function
])
def test_same_json_bounded_statements(apps, url, relationships) -> None:  # type: ignore[no-untyped-def]
    before, after = apps
    b, a = before.get(url), after.get(url)
    assert b[:2] == a[:2], url
    base = 2 if url.startswith("/tags") else 1  # paginate counts first
    assert a[2] <= base + relationships, (url, b[2], a[2])
    assert b[2] >= a[2]


def test_a_thousand_rows_take_three_statements(tmp_path: Path) -> None:
    """1,000 posts, 5 distinct authors: 1 + ceil(5 / 500) statements; before, one per post
    whose author was not loaded yet (the identity map serves the rest)."""
    before, after = _apps(tmp_path, "relationships-in-loops", 1000)
    b, a = before.get("/posts"), after.get("/posts")
    assert b[:2] == a[:2]
    assert a[2] == 1 + math.ceil(5 / 500)
    # tags: many-to-many over 1,000 post keys: 1 count + 1 rows + at most ceil(5 / 500)... per page of 5
    b, a = before.get("/tags?page=100"), after.get("/tags?page=100")
    assert b[:2] == a[:2] and a[2] == 3


def _refused_then_by_hand(tmp_path: Path, finding: str, old: str, new: str, url: str):  # type: ignore[no-untyped-def]
    """The refusal fixture's answer to ``url`` before, and with its query eager-loaded by hand
    (``old`` -> ``new``), after checking that flaskfix refuses it with ``finding``."""
    source = (FIXTURES / "refuse-changes-and-shapes" / "input.py").read_text()
    result = run_codemod("eager-load", source, {"models.py": (FIXTURES / "refuse-changes-and-shapes" / "models.py").read_text()})
    assert not result.changed and any(finding in f.message for f in result.findings)
    assert old in source
    by_hand = source.replace(old, new).replace("from flask import Flask, jsonify\n",
                                               "from flask import Flask, jsonify\nfrom sqlalchemy.orm import selectinload\n")
    before, after = _apps(tmp_path, "refuse-changes-and-shapes", 12, by_hand)
    return before.get(url), after.get(url)


def test_the_loop_that_changes_a_row_is_refused_and_must_be(tmp_path: Path) -> None:
    """`p.author_id = 2; p.author.name`: lazily, the author is read after the change (author
    2); eager-loaded, it was read before (the old author). flaskfix refuses the loop; loading
    it eagerly by hand shows the answer would change."""
    b, a = _refused_then_by_hand(tmp_path, "`p.author_id` is assigned", "rows = Post.query.all()",
                                 "rows = Post.query.options(selectinload(Post.author)).all()", "/moved")
    assert b[:2] == (200, ["author 2"] * 12)  # lazily: every post now reads author 2
    assert a[:2] != b[:2]  # eagerly: the old authors (and post 10, with none, fails: a 500)


def test_the_loop_that_deletes_is_refused_and_must_be(tmp_path: Path) -> None:
    """A loop that deletes each post's author before reading `p.author`: lazily the author
    is gone (None); eager-loaded, the object read before the delete is still there."""
    b, a = _refused_then_by_hand(tmp_path, "`.delete()` is called", "for p in Post.query.order_by(Post.id).all():",
                                 "for p in Post.query.options(selectinload(Post.author)).order_by(Post.id).all():", "/deleted")
    assert b[0] == a[0] == 200
    assert b[1] != a[1], (b, a)


def test_a_helper_that_runs_sql_is_refused_and_must_be(tmp_path: Path) -> None:
    """`tidy()` takes no argument, but it runs an UPDATE through the session: lazily, each
    author is read after the first UPDATE (the new names); eager-loaded, before it."""
    b, a = _refused_then_by_hand(tmp_path, "`tidy()` calls `rename_authors()`, which calls `db.session.execute()`",
                                 "    for p in Post.query.order_by(Post.id).all():\n        tidy()",
                                 "    for p in Post.query.options(selectinload(Post.author)).order_by(Post.id).all():\n        tidy()",
                                 "/renamed")
    assert b[0] == a[0] == 200
    assert all(name is None or name.endswith("(renamed)") for name in b[1])  # type: ignore[union-attr]
    assert not any(name and "(renamed)" in name for name in a[1])  # type: ignore[union-attr]


def test_a_bulk_update_in_the_loop_is_refused_and_must_be(tmp_path: Path) -> None:
    """`Post.query.filter(Post.id > p.id).update({"author_id": p.author_id})`: lazily, every
    later post is read with the author it was just given; eager-loaded, with its old one."""
    old = '@app.route("/handed-over")\ndef handed_over():\n    out = []\n    for p in Post.query.order_by(Post.id).all():'
    b, a = _refused_then_by_hand(tmp_path, "`.update()` is called", old,
                                 old.replace("Post.query.order_by", "Post.query.options(selectinload(Post.author)).order_by"),
                                 "/handed-over")
    assert b[0] == a[0] == 200
    assert b[1] != a[1], (b, a)


# -- lookups a relationship answers: eager-load owns them, bulk-query takes the rest ---------

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "eager-load-owns-relationship-lookups"


class Shop(Counted):
    """Customers 1-5; 45 orders, every 9th without a customer and every 7th naming customer
    99, which has no row (SQLite does not enforce the foreign key); refunds approved by
    customers."""

    def __init__(self, module) -> None:  # type: ignore[no-untyped-def]
        super().__init__(module)
        m, db = module, module.db
        with self.app.app_context():
            db.create_all()
            db.session.add_all([m.Customer(id=i, name=f"customer {i}") for i in range(1, 6)])
            db.session.add_all([m.Product(sku=f"p{i}", title=f"product {i}") for i in range(3)])
            db.session.add_all([m.Order(id=i, customer_id=None if i % 9 == 0 else 99 if i % 7 == 0 else 1 + i % 5,
                                        product_sku=f"p{i % 3}", paid=i % 2 == 0) for i in range(1, 46)])
            db.session.add_all([m.Refund(id=i, customer_id=1 + i % 5, approver_id=1 + i % 3) for i in range(1, 8)])
            db.session.commit()
            self.listen(db)


@pytest.fixture(scope="module")
def shops(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The project before, and after the whole pipeline (eager-load and bulk-query)."""
    tmp = tmp_path_factory.mktemp("shop")
    models = (PROJECT / "before" / "models.py").read_text()
    out = []
    for name, folder in (("before", "before"), ("after", "after")):
        text = (PROJECT / folder / "app.py").read_text()
        text = text.replace("app = Flask(__name__)\n", "app = Flask(__name__)\n" + SETUP, 1)
        out.append(Shop(_load(tmp / name, {"app.py": text, "models.py": models})))
    return out[0], out[1]


@pytest.mark.parametrize("url, most", [
    ("/orders", 2),  # Customer.query.get(order.customer_id) -> order.customer
    ("/by-session", 2),  # db.session.get(Customer, o.customer_id), a query iterated directly
    ("/page", 3), ("/page?page=2", 3), ("/page?page=3", 3),  # filter_by(id=...).first(), paginate (count + rows + customers)
    ("/selected", 2),  # select(Order) through db.session.scalars
    ("/both", 2),  # the relationship read and the lookup share one option
    ("/joined", 1),  # joinedload already: the lookup only reads the relationship
    ("/products", 2), ("/approvers", 2),  # bulk-query's: no relationship answers them
])
def test_lookups_answer_the_same_in_fewer_statements(shops, url, most) -> None:  # type: ignore[no-untyped-def]
    before, after = shops
    b, a = before.get(url), after.get(url)
    assert b[:2] == a[:2], url
    assert a[2] <= most, (url, b[2], a[2])
    # fewer statements, except where the rows' query already joined the relationship (the
    # identity map answered every get() before, too)
    assert a[2] < b[2] or url == "/joined" and a[2] == b[2] == 1, (url, b[2], a[2])


def test_get_or_404_stays_bulk_querys_and_still_aborts(shops) -> None:  # type: ignore[no-untyped-def]
    before, after = shops
    b, a = before.get("/strict"), after.get("/strict")
    assert b[0] == a[0] == 404  # order 9 has no customer: the first missing id aborts, before and after
    text = (PROJECT / "after" / "app.py").read_text()
    assert "db.get_or_404(Customer, o.customer_id)" in text and "customer_by_id" in text


def test_plain_sqlalchemy_models_same_json_fewer_statements(tmp_path: Path) -> None:
    """declarative_base() models, a sessionmaker session, select() through scalars() and
    execute().scalars(): the same JSON, 2 statements instead of 1 + one per row."""
    folder = FIXTURES / "plain-sqlalchemy"
    models = (folder / "models.py").read_text()
    runs = []
    for name, text in (("before", (folder / "input.py").read_text()), ("after", (folder / "expected.py").read_text())):
        module = _load(tmp_path / name, {"app.py": text, "models.py": models})
        engine = module.Session.kw["bind"]
        module.Author.metadata.create_all(engine)
        with module.Session() as s:
            authors = [module.Author(id=i, name=f"author {i}") for i in range(1, 5)]  # 4 has no books
            s.add_all(authors + [module.Book(id=i, title=f"book {i}", author=None if i % 6 == 0 else authors[i % 3])
                                 for i in range(1, 31)])
            s.commit()
        counted = []
        event.listen(engine, "before_cursor_execute", lambda *a: counted.append(1))
        client = module.app.test_client()
        out = {}
        for url in ("/books", "/authors"):
            start = len(counted)
            resp = client.get(url)
            out[url] = (resp.status_code, resp.get_json(), len(counted) - start)
        runs.append(out)
    before, after = runs
    for url in ("/books", "/authors"):
        assert before[url][:2] == after[url][:2], url
        assert after[url][2] == 2 < before[url][2], (url, before[url][2], after[url][2])


def test_relationships_declared_by_backref(tmp_path: Path) -> None:
    """`Post.author`, `Comment.post` and `Tag.posts` exist only through other models'
    `backref=`: the same JSON, and 1 + one statement per relationship loaded."""
    folder = FIXTURES / "backrefs"
    models = (folder / "models.py").read_text()
    apps = []
    for name, text in (("before", (folder / "input.py").read_text()), ("after", (folder / "expected.py").read_text())):
        module = _load(tmp_path / name, {"app.py": text.replace("app = Flask(__name__)\n", "app = Flask(__name__)\n" + SETUP, 1),
                                         "models.py": models})
        m, db = module, module.db
        with module.app.app_context():
            db.create_all()
            users = [m.User(id=i, name=f"user {i}") for i in range(1, 5)]
            tags = [m.Tag(id=i, name=f"tag {i}") for i in range(1, 4)]
            posts = [m.Post(id=i, title=f"post {i}", user_id=None if i % 7 == 0 else 1 + i % 3,
                            tags=[t for j, t in enumerate(tags) if (i + j) % 2]) for i in range(1, 31)]
            comments = [m.Comment(id=i, body=f"c{i}", user_id=1 + i % 4, post_id=None if i % 5 == 0 else 1 + (i * 3) % 30)
                        for i in range(1, 41)]
            db.session.add_all(users + tags + posts + comments)
            db.session.commit()
        app = Counted(module)
        with module.app.app_context():
            app.listen(db)
        apps.append(app)
    before, after = apps
    for url, loaded in (("/posts", 1), ("/authors", 1), ("/threads", 2), ("/tag-counts", 1)):
        b, a = before.get(url), after.get(url)
        assert b[:2] == a[:2], url
        assert a[2] <= 1 + loaded < b[2], (url, b[2], a[2])
