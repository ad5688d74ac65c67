"""global-to-g, executed: the example app before and after the rewrite.

Before, the module-level dict keeps one entry per request, for ever; after, nothing
outlives the request. Every response is identical.

Memory is measured with tracemalloc as the growth between two equal batches of
requests (the first batch also absorbs one-off warm-up allocations of Flask itself).
"""

from __future__ import annotations

import gc
import hashlib
import tracemalloc
from collections import Counter
from pathlib import Path

from tests.behaviour.shop import EXAMPLE, load_module, rewritten_copy

N = 1_000


def _run(module, prefix: str) -> tuple[str, Counter, int]:
    """2N requests with distinct keys; returns a digest of every response (in order), the
    status codes, and the memory the second batch of N left allocated. (Responses are
    hashed, not kept, so that the test itself holds no memory per request.)"""
    client = module.app.test_client()
    digest = hashlib.sha256()
    statuses: Counter = Counter()
    tracemalloc.start()
    try:
        marks = []
        for batch in range(2):
            for i in range(batch * N, (batch + 1) * N):
                resp = client.get(f"/basket/{prefix}{i}?qty={i % 7}")
                statuses[resp.status_code] += 1
                digest.update(b"%d:" % resp.status_code + resp.get_data().replace(prefix.encode(), b"") + b"\0")
            gc.collect()
            marks.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    return digest.hexdigest(), statuses, marks[1] - marks[0]


def test_container_no_longer_grows_and_responses_are_identical(tmp_path):
    before = load_module(EXAMPLE / "app.py")
    dest, results = rewritten_copy(tmp_path, ["global-to-g"])
    assert [c.codemod for r in results for c in r.changes] == ["global-to-g"]
    after = load_module(dest / "app.py")

    before_digest, before_statuses, before_growth = _run(before, "b-")
    after_digest, after_statuses, after_growth = _run(after, "a-")

    # before: the module-level dict holds every request's key
    assert len(before.basket_scratch) == 2 * N + 1  # plus "last"
    assert before_growth >= 50 * N, before_growth
    # after: the global is gone and N more requests leave (almost) nothing behind
    assert not hasattr(after, "basket_scratch")
    assert after_growth <= before_growth / 20, (before_growth, after_growth)
    # and every response is the same
    assert before_digest == after_digest
    assert before_statuses == after_statuses == Counter({200: 2 * N})


LOCAL_KEY_APP = (Path(__file__).parent.parent / "fixtures" / "global-to-g" / "local_key_written_then_read" / "input.py")


def test_a_key_written_then_read_in_one_request_moves_and_answers_the_same(tmp_path):
    """``results[key] = compute(n); return jsonify(value=results[key])`` with ``key`` bound once:
    after the rewrite the module keeps nothing between requests, and every answer is the same."""
    from tests.harness import run_codemod

    source = LOCAL_KEY_APP.read_text()
    result = run_codemod("global-to-g", source)
    assert result.error is None and result.changed
    (tmp_path / "before.py").write_text(source)
    (tmp_path / "after.py").write_text(result.new_text)
    before, after = load_module(tmp_path / "before.py"), load_module(tmp_path / "after.py")
    b, a = before.app.test_client(), after.app.test_client()
    for n in range(300):
        rb, ra = b.get(f"/square/{n}"), a.get(f"/square/{n}")
        assert (rb.status_code, rb.get_data()) == (ra.status_code, ra.get_data()) == (200, ra.get_data())
    assert len(before.results) == 300  # one entry per request, for ever
    assert not hasattr(after, "results")  # nothing at module level any more


HOOK_APP = (Path(__file__).parent.parent / "fixtures" / "global-to-g" / "before_request_writes_view_reads" / "input.py")


def test_keys_a_before_request_hook_writes_for_its_views_move_and_answer_the_same(tmp_path):
    """A before_request hook fills the containers, its app's and blueprint's views read
    them (``timings[-1]`` after an append): after the rewrite each request has its own on
    flask.g, nothing stays at module level, and every answer is the same."""
    from tests.harness import run_codemod

    source = HOOK_APP.read_text()
    result = run_codemod("global-to-g", source)
    assert result.error is None and result.changed and len(result.changes) == 2 and not result.findings
    (tmp_path / "before.py").write_text(source)
    (tmp_path / "after.py").write_text(result.new_text)
    before, after = load_module(tmp_path / "before.py"), load_module(tmp_path / "after.py")
    b, a = before.app.test_client(), after.app.test_client()
    for n in range(200):
        headers = {"User-Agent": f"agent-{n}"}
        for url in (f"/whoami?n={n}", f"/api/key?key=k{n}"):
            rb, ra = b.get(url, headers=headers), a.get(url, headers=headers)
            assert (rb.status_code, rb.get_data()) == (ra.status_code, ra.get_data())
            assert rb.status_code == 200
        eb, ea = b.get("/elapsed").get_json(), a.get("/elapsed").get_json()
        assert 0 <= eb["seconds"] < 5 and 0 <= ea["seconds"] < 5  # this request's own start
    assert rb.get_json() == {"key": "k199"}
    assert len(before.timings) == 600  # one entry per request, for ever
    assert set(before.context) == {"agent", "path", "key"}  # the last requests' values, shared
    assert not hasattr(after, "timings") and not hasattr(after, "context")
