"""Benchmark eager-load: /posts (a many-to-one read per row) and /authors (a one-to-many
collection per row) before and after the rewrite, at 10, 100 and 1,000 rows.

The app is the eager-load fixture (tests/fixtures/eager-load/relationships-in-loops),
rewritten by the codemod at start-up, on a file-backed SQLite database; each request is run
with Flask's test client and every statement counted. Authors: one per 2 posts (so the
identity map does not hide the N+1). ``--latency MS`` makes each statement sleep that long,
as a networked database would.

    python bench/eager_load.py [--requests 20] [--latency 0.5]

Numbers only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from tests.harness import run_codemod  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "eager-load" / "relationships-in-loops"


def load(folder: Path, app_text: str, models: str, db_path: Path):  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True)
    setup = f'app.config.update(SQLALCHEMY_DATABASE_URI="sqlite:///{db_path}")\ndb.init_app(app)\n'
    (folder / "app.py").write_text(app_text.replace("app = Flask(__name__)\n", "app = Flask(__name__)\n" + setup, 1))
    (folder / "models.py").write_text(models)
    sys.modules.pop("models", None)
    sys.path.insert(0, str(folder))
    try:
        name = f"bench_el_{uuid.uuid4().hex[:8]}"
        spec = importlib.util.spec_from_file_location(name, folder / "app.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("models", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="requests per measurement (the median is shown)")
    parser.add_argument("--latency", type=float, default=0.0, help="milliseconds each statement waits")
    args = parser.parse_args()
    source = (FIXTURE / "input.py").read_text()
    models = (FIXTURE / "models.py").read_text()
    result = run_codemod("eager-load", source, {"models.py": models})
    assert result.new_text is not None, result.findings
    tmp = Path(tempfile.mkdtemp(prefix="flaskfix-bench-eager-"))
    print(f"{'route':<9} {'rows':>5} {'statements before':>18} {'after':>6} {'ms before':>10} {'ms after':>9} {'speed-up':>9}")
    for rows in (10, 100, 1000):
        measured = {}
        for version, text in (("before", source), ("after", result.new_text)):
            db_path = tmp / f"{version}-{rows}.db"
            m = load(tmp / f"{version}-{rows}", text, models, db_path)
            with m.app.app_context():
                m.db.create_all()
                authors = [m.Author(id=i, name=f"a{i}") for i in range(1, rows // 2 + 2)]
                posts = [m.Post(id=i, title=f"p{i}", author=authors[i // 2]) for i in range(1, rows + 1)]
                m.db.session.add_all(authors + posts)
                m.db.session.commit()
                count = [0]

                def counter(*_a, count=count) -> None:  # type: ignore[no-untyped-def]
                    count[0] += 1
                    if args.latency:
                        time.sleep(args.latency / 1000)

                event.listen(m.db.engine, "before_cursor_execute", counter)
            client = m.app.test_client()
            for route in ("/posts", "/authors"):
                times, statements = [], 0
                for _ in range(args.requests):
                    count[0] = 0
                    start = time.perf_counter()
                    resp = client.get(route)
                    times.append((time.perf_counter() - start) * 1000)
                    statements = count[0]
                    assert resp.status_code == 200
                measured[(version, route)] = (statements, statistics.median(times), resp.get_json())
        for route in ("/posts", "/authors"):
            (sb, tb, jb), (sa, ta, ja) = measured[("before", route)], measured[("after", route)]
            assert jb == ja, f"{route} answers differ at {rows} rows"
            print(f"{route:<9} {rows:>5} {sb:>18} {sa:>6} {tb:>10.2f} {ta:>9.2f} {tb / ta:>8.1f}x")


if __name__ == "__main__":
    main()
