"""Multi-file fixtures: a whole project before, the files a run changes after.

A case is a folder ``tests/fixtures/projects/<case>/`` holding:

* ``before/``: the project (any files: modules in packages, manifests, lock files);
* ``after/``: every file the run changes (rewritten modules, supporting edits such as a
  manifest line or a Cache created in the extensions module), whole; a file not there must
  stay byte-identical; no ``after/`` means nothing may change;
* ``findings.txt`` (optional): ``path:line: text`` per expected finding, exactly that many.

Each case also checks that a second run over the result changes nothing and that every
rewritten module parses. ``FLASKFIX_WRITE_FIXTURES=1`` writes ``after/`` from the current
output (review the diff before committing it).
"""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import pytest

from flaskfix.codemods.engine.run import execute, plan

CASES = Path(__file__).parent / "fixtures" / "projects"


def outcome(root: Path) -> tuple[dict[str, str], list[str]]:
    changed: dict[str, str] = {}
    findings = []
    for r in execute(plan([str(root)]), jobs=1, use_cache=False):
        assert r.error is None, (r.path, r.error)
        rel = Path(r.path).resolve().relative_to(root.resolve()).as_posix()
        if r.changed:
            assert r.new_text is not None
            changed[rel] = r.new_text
        findings += [f"{rel}:{f.line}: {f.message}" for f in r.findings]
    return changed, findings


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if (p / "before").is_dir()))
def test_project_fixture(case: str, tmp_path: Path) -> None:
    folder = CASES / case
    root = tmp_path / "project"
    shutil.copytree(folder / "before", root)
    changed, findings = outcome(root)
    after = folder / "after"
    if os.environ.get("FLASKFIX_WRITE_FIXTURES"):
        shutil.rmtree(after, ignore_errors=True)
        for rel, text in changed.items():
            (after / rel).parent.mkdir(parents=True, exist_ok=True)
            (after / rel).write_text(text, newline="")
    expected = {p.relative_to(after).as_posix(): p.read_text() for p in after.rglob("*") if p.is_file()} if after.is_dir() else {}
    assert changed == expected
    wanted = (folder / "findings.txt").read_text().splitlines() if (folder / "findings.txt").is_file() else []
    assert len(findings) == len(wanted), findings
    for got, want in zip(sorted(findings), sorted(wanted)):
        where, _, text = want.partition(": ")
        assert got.startswith(where + ": ") and text in got, (got, want)
    # the result parses, and a second run over it changes nothing
    for rel, text in changed.items():
        (root / rel).write_text(text, newline="")
        if rel.endswith(".py"):
            ast.parse(text)
    assert outcome(root)[0] == {}
