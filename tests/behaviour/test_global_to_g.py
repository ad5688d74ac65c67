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
