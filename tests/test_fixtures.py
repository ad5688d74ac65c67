"""One harness for every fixture of every codemod (see ``tests/harness.py``).

For each case: the output equals ``expected.py`` (or the input, byte for byte, when there
is none), the output parses, a second run changes nothing (fixed point), and the
findings are exactly those of ``findings.txt`` when it exists; the second run reports
no finding the first did not.
"""

from __future__ import annotations

import ast
import re

import pytest

from flaskfix import codemods
from tests.harness import Case, all_cases, run_case, run_codemod

CASES = all_cases()
#: refusals a codemod's LibCST transform still makes after its plan accepted a site
TRANSFORM_REFUSALS = ("no cache to use", "the Redis client", "the project does not depend on", "is taken")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fixture(case: Case) -> None:
    result = run_case(case)
    assert result.error is None, result.error
    expected = case.expected
    output = result.new_text if result.changed else case.input
    if expected is None:
        assert output == case.input, "a no-op fixture was rewritten"
        assert not result.changes
    else:
        assert output == expected
        assert result.changes, "a rewrite must be reported as a change"
    ast.parse(output)
    again = run_case(case, source=output)
    assert again.error is None, again.error
    assert not again.changed, "second run changed the output: not a fixed point"
    # nor does flaskfix complain about its own output: no finding the first run did not have
    first = {_no_line_numbers(f.message) for f in result.findings}
    new = [f.message for f in again.findings if _no_line_numbers(f.message) not in first]
    assert not new, f"the second run reports findings on the rewritten code: {new}"
    # LibCST parses a file only to carry out a planned edit: the edit is made, or the
    # transform refuses at the one step it still decides (which cache or Redis client to use)
    if result.libcst_parsed and not result.changed:
        assert any(p in f.message for f in result.findings for p in TRANSFORM_REFUSALS), \
            f"LibCST parsed a file that gets no edit: {[f.message for f in result.findings]}"
    assert result.libcst_parsed or not result.changed
    want_suppressed = case.expected_suppressed
    if want_suppressed is not None:
        assert sorted(f.line for f in result.suppressed) == want_suppressed
    want = case.expected_findings
    if want is not None:
        got = [(f.line, f.message) for f in result.findings]
        assert len(got) == len(want), f"findings: {got}"
        for (line, text), (gline, gmsg) in zip(sorted(want), sorted(got)):
            assert line == gline and text in gmsg, f"expected {line}: {text!r}, got {gline}: {gmsg!r}"


def _no_line_numbers(message: str) -> str:
    return re.sub(r"\bline \d+", "line N", message)


def test_every_codemod_has_fixtures_and_noops() -> None:
    by_codemod: dict[str, list[Case]] = {}
    for case in CASES:
        by_codemod.setdefault(case.codemod, []).append(case)
    for cm in codemods.all_codemods():
        cases = by_codemod.get(cm.ID, [])
        assert any(c.expected is not None for c in cases), f"{cm.ID}: no before/after fixture"
        assert any(c.expected is None for c in cases), f"{cm.ID}: no no-op fixture"
    assert set(by_codemod) <= set(codemods.ids()), "a fixture folder names no codemod"


@pytest.mark.parametrize("codemod", codemods.all_codemods(), ids=codemods.ids())
def test_documented_example_is_exact(codemod) -> None:
    """The example printed by ``flaskfix explain`` is what the codemod really does."""
    result = run_codemod(codemod.ID, codemod.EXAMPLE_BEFORE)
    assert result.error is None
    assert result.new_text == codemod.EXAMPLE_AFTER
