"""Benchmark bulk-query: a /users?id=... view before and after the rewrite.

Runs the view of a small app (rewritten by the codemod at start-up) with Flask's test
client against a file-backed SQLite database, for several list sizes, and prints
statements and wall time per request before and after, for 10, 100 and 1,000 ids
(all with a row, then 10% without one, then none). SQLite is in-process, so a
round trip costs microseconds; add ``--latency MS`` to simulate a networked database
(each statement sleeps that long), which is where N+1 queries hurt most.

    python bench/bulk_query.py [--requests 200] [--latency 0.5]

Numbers only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from tests.harness import run_codemod  # noqa: E402

APP = '''\
from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///{db}"
db = SQLAlchemy(app)


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False)


@app.route("/users")
def list_users():
    names = []
    for user_id in request.args.getlist("id", type=int):
        user = User.query.get(user_id)
        names.append(user.name if user else None)
    return jsonify(names=names)
'''


def load(source: str, folder: Path):  # type: ignore[no-untyped-def]
    path = folder / f"app_{uuid.uuid4().hex[:8]}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def measure(module, ids: list[int], requests: int, latency: float) -> tuple[float, float, bytes]:  # type: ignore[no-untyped-def]
    selects = 0

    def on_execute(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        nonlocal selects
        selects += 1
        if latency:
            time.sleep(latency / 1000)

    with module.app.app_context():
        event.listen(module.db.engine, "before_cursor_execute", on_execute)
    client = module.app.test_client()
    url = "/users?" + "&".join(f"id={i}" for i in ids)
    body = client.get(url).get_data()  # warm-up
    selects = 0
    start = time.perf_counter()
    for _ in range(requests):
        resp = client.get(url)
        assert resp.get_data() == body
    elapsed = time.perf_counter() - start
    with module.app.app_context():
        event.remove(module.db.engine, "before_cursor_execute", on_execute)
    return elapsed / requests * 1000, selects / requests, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.0, help="simulated milliseconds per SQL statement")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=r".*legacy.*")

    with tempfile.TemporaryDirectory(prefix="flaskfix-bench-") as tmp:
        folder = Path(tmp)
        db_path = folder / "bench.db"
        source = APP.replace("{db}", str(db_path))
        result = run_codemod("bulk-query", source)
        assert result.error is None and result.changed, result.findings
        before = load(source, folder)
        after = load(result.new_text or "", folder)
        with before.app.app_context():
            before.db.create_all()
            before.db.session.add_all(before.User(id=i, name=f"user{i}") for i in range(1, 1001))
            before.db.session.commit()

        print(f"bulk-query: GET /users?id=... ({args.requests} requests each, {args.latency} ms per statement)")
        print(f"{'ids':>5} {'missing':>8} {'stmts before':>13} {'after':>6} {'ms/req before':>14} {'after':>8} {'speed-up':>9}")
        rows = [(0, 0)] + [(n, m) for n in (10, 100, 1000) for m in (0, n // 10)]
        for n, missing in rows:
            ids = list(range(1, n - missing + 1)) + list(range(5000, 5000 + missing))
            ms_b, sel_b, body_b = measure(before, ids, args.requests, args.latency)
            ms_a, sel_a, body_a = measure(after, ids, args.requests, args.latency)
            assert body_a == body_b, "responses differ"
            print(f"{n:>5} {missing:>8} {sel_b:>13.1f} {sel_a:>6.1f} {ms_b:>14.3f} {ms_a:>8.3f} {ms_b / ms_a:>8.2f}x")

if __name__ == "__main__":
    main()
