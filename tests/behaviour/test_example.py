"""The bundled example with all six fixes applied together, run against its original.

Each codemod has its own executable tests; this one checks that the six rewrites of one
file work together: the rewritten app imports, answers like the original where the fixes
promise it (real SQLite, a real Redis), and differs only where a fix says it will.
"""

from __future__ import annotations

from flaskfix import codemods
from tests.behaviour.redis_server import redis_server, redis_url  # noqa: F401
from tests.behaviour.shop import EXAMPLE, load_module, rewritten_copy


def _seed(module) -> None:  # type: ignore[no-untyped-def]
    with module.app.app_context():
        module.db.create_all()
        module.db.session.add_all([module.User(user_id=i, name=f"user{i}") for i in range(1, 6)])
        # buyers with a row, one without (9), none at all (None)
        module.db.session.add_all([module.Order(id=i, user_id=u, item=f"item{i}") for i, u in enumerate([2, 9, None, 2, 5], 1)])
        module.db.session.commit()


def test_all_six_fixes_together(tmp_path, redis_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REDIS_URL", redis_url)
    dest, results = rewritten_copy(tmp_path, codemods.ids())
    assert {c.codemod for r in results for c in r.changes} == set(codemods.ids())
    before, after = load_module(EXAMPLE / "app.py"), load_module(dest / "app.py")
    _seed(before)
    _seed(after)
    old, new = before.app.test_client(), after.app.test_client()

    for url in ("/basket/apple?qty=2", "/users?id=3&id=1&id=9&id=3", "/users", "/orders", "/customers", "/report", "/split?total=10&people=4"):
        a, b = old.get(url), new.get(url)
        assert (a.status_code, a.get_json()) == (b.status_code, b.get_json()), url
    assert new.get("/report").get_json() == old.get("/report").get_json()  # now served from the cache

    # the counter counts the same way (it now lives in Redis, shared by every worker)
    assert [old.get("/visit").get_json()["visits"] for _ in range(3)] == [1, 2, 3]
    assert [new.get("/visit").get_json()["visits"] for _ in range(3)] == [1, 2, 3]

    # the intended change: bad input answers 400 with a JSON error instead of a 500
    for url in ("/split?total=x", "/split?total=1&people=0"):
        assert old.get(url).status_code == 500
        response = new.get(url)
        assert response.status_code == 400 and set(response.get_json()) == {"error"}
    # and what is still a 404 stays one
    assert old.get("/nope").status_code == new.get("/nope").status_code == 404
