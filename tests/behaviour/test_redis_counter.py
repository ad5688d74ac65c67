"""redis-counter, executed: real Flask apps against a real redis-server, before and after.

Each test runs the codemod on a source at test time, imports the original and the
rewritten module (the rewritten one reads REDIS_URL, pointed at the test's own
redis-server on 127.0.0.1) and drives them with Flask's test client from many threads
(16 threads x 50 requests, started together behind a barrier).

What the rewrite promises and these tests check: every request gets its own value
(1..N exactly once), Redis stores N, every worker process shares the count, it survives a
restart, the initial value is added to Redis's count, and requests fail loudly when
Redis is unreachable. The original loses updates when a handler reads, waits on I/O and
writes, and counts per process.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
import threading
import types
from pathlib import Path

import pytest
import redis

from tests.behaviour.redis_server import RedisServer, free_port, redis_server, redis_url  # noqa: F401
from tests.harness import run_codemod

THREADS = 16
PER_THREAD = 50
N = THREADS * PER_THREAD
ROOT = Path(__file__).resolve().parents[2]
_ids = itertools.count()


def rewrite(source: str, config: str = "", **siblings: str) -> str:
    result = run_codemod("redis-counter", textwrap.dedent(source), siblings or None, config)
    assert result.error is None, result.error
    assert result.changed, [f.message for f in result.findings]
    return result.new_text  # type: ignore[return-value]


def load(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str | None = None,
         extra_path: Path | None = None) -> types.ModuleType:
    """Import ``text`` as a fresh module (a fresh "process": its own globals)."""
    if redis_url is not None:
        monkeypatch.setenv("REDIS_URL", redis_url)
    else:
        monkeypatch.delenv("REDIS_URL", raising=False)
    name = f"redis_counter_case_{next(_ids)}"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    if extra_path is not None:
        sys.path.insert(0, str(extra_path))
    try:
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    finally:
        sys.modules.pop(name, None)
        if extra_path is not None:
            sys.path.remove(str(extra_path))
    return module


def hammer(apps: list, path: str, field: str, threads: int = THREADS, per_thread: int = PER_THREAD) -> list[int]:
    """``threads`` threads (spread over ``apps``: one app per worker process) each send
    ``per_thread`` GETs to ``path``; returns every ``field`` value the responses carried."""
    barrier = threading.Barrier(threads)
    values: list[list[int]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            client = apps[i % len(apps)].test_client()
            barrier.wait(timeout=30)
            for _ in range(per_thread):
                response = client.get(path)
                assert response.status_code == 200, response.get_data(as_text=True)
                values[i].append(response.get_json()[field])
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
            barrier.abort()

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often: races show up within a few requests
    try:
        workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        assert not any(w.is_alive() for w in workers), "hammer threads did not finish"
    finally:
        sys.setswitchinterval(old_interval)
    if errors:
        raise errors[0]
    return [v for vs in values for v in vs]


HITS = '''
import time

from flask import Flask, jsonify

app = Flask(__name__)
hits = 0
slow_hits = 0
logged_hits = 0


def fetch_step():
    """Stands in for I/O (a database or HTTP call) that decides the step."""
    time.sleep(0.001)
    return 1


@app.route("/hit")
def hit():
    global hits
    hits += 1
    return jsonify(hits=hits)


@app.route("/slow-hit")
def slow_hit():
    global slow_hits
    # read slow_hits, wait for I/O, then write: other requests run in the gap
    slow_hits = slow_hits + int(fetch_step())
    return jsonify(slow_hits=slow_hits)


@app.route("/logged-hit")
def logged_hit():
    global logged_hits
    logged_hits += 1
    fetch_step()  # I/O between the write and the read that answers
    return jsonify(logged_hits=logged_hits)


@app.route("/count")
def count():
    return jsonify(hits=hits, slow_hits=slow_hits, logged_hits=logged_hits)
'''


def test_the_rewrite_is_the_documented_one() -> None:
    text = rewrite(HITS)
    assert "global" not in text
    assert 'hits = redis_client.incr("app:hits")' in text
    assert 'slow_hits = redis_client.incr("app:slow_hits", int(fetch_step()))' in text
    assert 'redis_client = Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"))' in text


def test_read_io_write_gap_loses_updates_before_and_none_after(tmp_path, monkeypatch, redis_url) -> None:
    before = load(HITS, tmp_path, monkeypatch)
    old_values = hammer([before.app], "/slow-hit", "slow_hits")
    old_count = before.app.test_client().get("/count").get_json()["slow_hits"]
    # before: most of the N updates are lost, and many requests saw the same value
    assert old_count == before.slow_hits < N
    assert len(set(old_values)) < N

    after = load(rewrite(HITS), tmp_path, monkeypatch, redis_url)
    new_values = hammer([after.app], "/slow-hit", "slow_hits")
    assert sorted(new_values) == list(range(1, N + 1))  # every value exactly once
    store = redis.Redis.from_url(redis_url)
    assert int(store.get("app:slow_hits")) == N
    assert after.app.test_client().get("/count").get_json() == {"hits": 0, "slow_hits": N, "logged_hits": 0}
    assert not hasattr(after, "slow_hits")  # no process-local copy is left


def test_io_between_write_and_read_answers_another_requests_value_before_not_after(
    tmp_path, monkeypatch, redis_url
) -> None:
    before = load(HITS, tmp_path, monkeypatch)
    old_values = hammer([before.app], "/logged-hit", "logged_hits")
    assert len(set(old_values)) < N  # requests answered with a value another request made
    after = load(rewrite(HITS), tmp_path, monkeypatch, redis_url)
    assert sorted(hammer([after.app], "/logged-hit", "logged_hits")) == list(range(1, N + 1))
    assert int(redis.Redis.from_url(redis_url).get("app:logged_hits")) == N


def test_plain_increment_under_threads_returns_each_value_once(tmp_path, monkeypatch, redis_url) -> None:
    after = load(rewrite(HITS), tmp_path, monkeypatch, redis_url)
    values = hammer([after.app], "/hit", "hits")
    assert sorted(values) == list(range(1, N + 1))
    assert int(redis.Redis.from_url(redis_url).get("app:hits")) == N
    assert after.app.test_client().get("/count").get_json() == {"hits": N, "slow_hits": 0, "logged_hits": 0}


def test_workers_share_one_count(tmp_path, monkeypatch, redis_url) -> None:
    """Two imports of a module are two worker processes' worth of state."""
    old_workers = [load(HITS, tmp_path, monkeypatch) for _ in range(2)]
    hammer([w.app for w in old_workers], "/hit", "hits")
    old_counts = [w.app.test_client().get("/count").get_json()["hits"] for w in old_workers]
    # before: each worker counts on its own; none of them knows the total
    assert all(c <= N // 2 for c in old_counts), old_counts

    text = rewrite(HITS)
    new_workers = [load(text, tmp_path, monkeypatch, redis_url) for _ in range(2)]
    values = hammer([w.app for w in new_workers], "/hit", "hits")
    assert sorted(values) == list(range(1, N + 1))
    assert [w.app.test_client().get("/count").get_json()["hits"] for w in new_workers] == [N, N]


def test_the_count_survives_a_restart(tmp_path, monkeypatch, redis_url) -> None:
    text = rewrite(HITS)
    first = load(text, tmp_path, monkeypatch, redis_url)
    assert [first.app.test_client().get("/hit").get_json()["hits"] for _ in range(3)] == [1, 2, 3]
    restarted = load(text, tmp_path, monkeypatch, redis_url)
    assert restarted.app.test_client().get("/hit").get_json()["hits"] == 4

    original = load(HITS, tmp_path, monkeypatch)
    original.app.test_client().get("/hit")
    assert load(HITS, tmp_path, monkeypatch).app.test_client().get("/hit").get_json()["hits"] == 1


INITIAL = '''
from flask import Flask, jsonify

app = Flask(__name__)
tickets = 500


@app.post("/buy")
def buy():
    global tickets
    tickets -= 1
    return jsonify(left=tickets)


@app.get("/left")
def left():
    return jsonify(left=tickets, sold=500 - tickets)
'''


def test_initial_value_is_added_to_the_redis_count(tmp_path, monkeypatch, redis_url) -> None:
    text = rewrite(INITIAL)
    assert 'tickets = 500 + redis_client.decr("app:tickets")' in text
    before = load(INITIAL, tmp_path, monkeypatch).app.test_client()
    after = load(text, tmp_path, monkeypatch, redis_url).app.test_client()
    # one client at a time: the same answers
    for _ in range(3):
        assert before.post("/buy").get_json() == after.post("/buy").get_json()
    assert before.get("/left").get_json() == after.get("/left").get_json() == {"left": 497, "sold": 3}
    assert int(redis.Redis.from_url(redis_url).get("app:tickets")) == -3


MANY_FORMS = '''
from flask import Flask, jsonify, request

app = Flask(__name__)
requests_seen = 0
stock = 20
points = -5
likes = 0


@app.before_request
def count_request():
    global requests_seen
    requests_seen += 1


@app.post("/buy/<int:n>")
def buy(n):
    global stock
    stock = stock - int(n)
    return jsonify(stock=stock)


@app.post("/score")
def score():
    global points
    if request.args.get("bonus"):
        points += 10
    points = 2 + points
    return jsonify(points=points)


@app.post("/like")
def like():
    global likes
    likes += len(request.get_json())
    return jsonify(ok=True)


@app.get("/summary")
def summary():
    before = likes
    like_total = likes * 2
    return jsonify(
        requests=requests_seen,
        stock=stock,
        sold=20 - stock,
        points=points,
        likes=before,
        like_total=like_total,
        text=f"{stock} left",
    )
'''


def test_one_client_at_a_time_gets_the_same_answers(tmp_path, monkeypatch, redis_url) -> None:
    """Without concurrency the rewrite answers exactly as the original: every form at once
    (hook, decrement by int(...), conditional bump, constant on the left, len(...), initial
    values, reads in several statements, hoisted reads, an f-string)."""
    text = rewrite(MANY_FORMS)
    assert "global" not in text
    before = load(MANY_FORMS, tmp_path, monkeypatch).app.test_client()
    after = load(text, tmp_path, monkeypatch, redis_url).app.test_client()
    script = [
        ("get", "/summary", None),
        ("post", "/buy/3", None),
        ("post", "/score", None),
        ("post", "/score?bonus=1", None),
        ("post", "/like", [1, 2, 3]),
        ("post", "/buy/1", None),
        ("post", "/like", []),
        ("get", "/summary", None),
        ("post", "/score", None),
        ("get", "/summary", None),
    ]
    for method, path, body in script:
        old = getattr(before, method)(path, json=body).get_json()
        new = getattr(after, method)(path, json=body).get_json()
        assert old == new, (method, path)
    assert new == {
        "requests": 10, "stock": 16, "sold": 4, "points": 11, "likes": 3, "like_total": 6, "text": "16 left",
    }


def test_requests_fail_when_redis_is_unreachable(tmp_path, monkeypatch) -> None:
    text = rewrite(HITS)
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = load(text, tmp_path, monkeypatch, nowhere).app
    app.testing = True  # let the exception through instead of a bare 500
    with pytest.raises(redis.exceptions.ConnectionError):
        app.test_client().get("/hit")
    app.testing = False
    assert app.test_client().get("/hit").status_code == 500
    assert app.test_client().get("/count").status_code == 500


def test_namespaces_keep_two_apps_apart(tmp_path, monkeypatch, redis_url) -> None:
    shop = load(rewrite(HITS, 'namespace = "shop"'), tmp_path, monkeypatch, redis_url)
    blog = load(rewrite(HITS, 'namespace = "blog"'), tmp_path, monkeypatch, redis_url)
    for _ in range(3):
        shop.app.test_client().get("/hit")
    blog.app.test_client().get("/hit")
    assert shop.app.test_client().get("/count").get_json()["hits"] == 3
    assert blog.app.test_client().get("/count").get_json()["hits"] == 1
    store = redis.Redis.from_url(redis_url)
    assert (int(store.get("shop:app:hits")), int(store.get("blog:app:hits"))) == (3, 1)


def test_default_namespace_names_the_project_and_module(tmp_path) -> None:
    from flaskfix.codemods.engine import Engine, load_config, project_files
    from flaskfix import codemods

    project = tmp_path / "proj"
    (project / "web").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "shopfront"\n', encoding="utf-8")
    (project / "web" / "views.py").write_text(textwrap.dedent(HITS), encoding="utf-8")
    cfg = load_config([str(project)])
    engine = Engine([codemods.get("redis-counter")], cfg)
    engine.project = type(engine.project)(cfg.root, project_files(cfg))
    result = engine.process_path(str(project / "web" / "views.py"))
    assert result.error is None and result.changed
    assert 'redis_client.incr("shopfront:web.views:hits")' in result.new_text


def test_bundled_example_visit_counter(tmp_path, monkeypatch, redis_url) -> None:
    example = ROOT / "examples" / "shop"
    source = (example / "app.py").read_text(encoding="utf-8")
    result = run_codemod("redis-counter", source, {"models.py": (example / "models.py").read_text(encoding="utf-8")})
    assert result.error is None and result.changed
    assert [c.message for c in result.changes if "`visits += 1`" in c.message]
    before = load(source, tmp_path, monkeypatch, extra_path=example)
    after = load(result.new_text, tmp_path, monkeypatch, redis_url, extra_path=example)
    assert sorted(hammer([after.app], "/visit", "visits")) == list(range(1, N + 1))
    assert int(redis.Redis.from_url(redis_url).get("app:visits")) == N
    # the original's answers for one client in a row are the rewritten one's, shifted by N
    assert [before.app.test_client().get("/visit").get_json()["visits"] for _ in range(3)] == [1, 2, 3]
    assert [after.app.test_client().get("/visit").get_json()["visits"] for _ in range(3)] == [N + 1, N + 2, N + 3]


def test_a_key_without_namespace_is_said_in_the_change() -> None:
    """Two apps without a namespace that share a Redis database would share the count."""
    source = (
        "from flask import Flask\n\napp = Flask(__name__)\nhits = 0\n\n\n"
        "@app.route('/')\ndef index():\n    global hits\n    hits += 1\n    return str(hits)\n"
    )
    bare = run_codemod("redis-counter", source)
    scoped = run_codemod("redis-counter", source, config='namespace = "shop"')
    assert bare.changed and scoped.changed
    assert "'app:hits'" in (bare.new_text or "") and "'shop:app:hits'" in (scoped.new_text or "")
    assert any("no namespace" in c.message for c in bare.changes)
    assert not any("no namespace" in c.message for c in scoped.changes)
