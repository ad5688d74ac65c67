"""Output a project keeps: no rewrite adds a ``ruff format`` or import-order (``I001``)
violation in the lines it touches.

Every fixture that flaskfix rewrites is run through the whole pipeline (``execute``, which
formats the changed lines and sorts the imports it adds: ``engine/formatting.py``), and
ruff, an independent formatter and linter, judges the result against the input:

* format: the lines ``ruff format`` would change in the output (quotes kept as they are:
  some fixtures use single quotes on purpose) must not include a line flaskfix changed,
  unless ruff would also change the input there (a style the project already has);
* imports: ``ruff check --select I001`` may flag the output's import block only if it
  flags the input's (an unsorted block flaskfix did not sort stays unsorted).
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flaskfix.codemods.engine.run import execute, plan
from tests.harness import all_cases

RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
CASES = [c for c in all_cases() if c.expected is not None]
pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is a test dependency (pip install -e .[test])")


def _changed(old: str, new: str) -> set[int]:
    """1-based lines of ``new`` that are not in ``old``."""
    out: set[int] = set()
    for tag, _i1, _i2, j1, j2 in difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False).get_opcodes():
        if tag in ("replace", "insert"):
            out.update(range(j1 + 1, j2 + 1))
    return out


def _ruff_rewrites(text: str) -> set[int]:
    """1-based lines of ``text`` that ``ruff format`` would change."""
    done = subprocess.run([RUFF, "format", "--isolated", "--config", "format.quote-style='preserve'", "-"],
                          input=text, capture_output=True, text=True, check=True).stdout
    out: set[int] = set()
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(None, text.splitlines(), done.splitlines(), autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            out.update(range(i1 + 1, i2 + 1))
        elif tag == "insert":
            out.add(max(i1, 1))
    return out


def _unsorted_import_blocks(text: str) -> list[tuple[int, int]]:
    found = subprocess.run([RUFF, "check", "--isolated", "--select", "I001", "--output-format", "json", "-"],
                           input=text, capture_output=True, text=True)
    return [(d["location"]["row"], d["end_location"]["row"]) for d in json.loads(found.stdout or "[]")]


def _rewrite(case, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    for p in case.folder.glob("*.py"):
        if p.name not in ("input.py", "expected.py"):
            (tmp_path / p.name).write_text(p.read_text())
    config = case.folder / "config.toml"
    table = f"[tool.flaskfix.{case.codemod}]\n{config.read_text()}\n" if config.exists() else ""
    (tmp_path / "pyproject.toml").write_text(f'[tool.flaskfix]\nselect = ["{case.codemod}"]\n{table}')
    (tmp_path / "app.py").write_text(case.input)
    for r in execute(plan([str(tmp_path)]), jobs=1, use_cache=False):
        if r.path.endswith("app.py") and r.supports is None:
            assert r.error is None, r.error
            return r.new_text if r.changed else case.input
    raise AssertionError("app.py was not processed")


#: an implicit concatenation of two short string literals (``"no " "account"``), which ruff's
#: formatter joins and black's keeps: a style of the input, not something flaskfix wrote
IMPLICIT = re.compile(r"""(["'])([^"'\\\n]*)\1[ \t]+\1([^"'\\\n]*)\1""")


def _joined(text: str, pairs: set[str]) -> str:
    return IMPLICIT.sub(lambda m: m[1] + m[2] + m[3] + m[1] if m[0] in pairs else m[0], text)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_rewrite_adds_a_format_or_import_order_violation(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old = case.input
    new = _rewrite(case, tmp_path)
    assert new != old, "a before/after fixture must be rewritten"
    pairs = {m[0] for m in IMPLICIT.finditer(old)}
    old, new = _joined(old, pairs), _joined(new, pairs)
    changed = _changed(old, new)
    # a line ruff would reformat in the input keeps being reformatted where flaskfix kept it
    already = {line.strip() for i, line in enumerate(old.splitlines(), 1) if i in _ruff_rewrites(old)}
    bad = sorted(i for i in _ruff_rewrites(new) & changed if new.splitlines()[i - 1].strip() not in already)
    assert not bad, "ruff format would change lines flaskfix wrote:\n" + "\n".join(
        f"{i}: {new.splitlines()[i - 1]}" for i in bad)
    if not _unsorted_import_blocks(old):
        assert not _unsorted_import_blocks(new), "flaskfix left the imports unsorted:\n" + new[:600]


def test_the_judge_can_fail() -> None:
    """ruff flags what these checks look for: an appended name, an unformatted expression."""
    assert _unsorted_import_blocks("from flask import Flask, request, g\n")
    assert _ruff_rewrites("x = {\n  1: 2} if y else {}\n")
