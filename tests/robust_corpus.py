"""The real-code corpus for the robustness tests: the standard library and site-packages.

Used by ``tests/test_robustness.py`` and runnable on its own for a full run with numbers::

    FLASKFIX_CORPUS_STRIDE=1 python -m tests.robust_corpus

The selection is deterministic: every ``stride``-th ``.py`` file (sorted by its path
relative to its library root) plus every file that mentions ``flask`` (the ones most
likely to look like a Flask app to a codemod).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
import sysconfig
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from flaskfix.codemods.engine.discovery import Discovered
from flaskfix.codemods.engine.pipeline import Engine, project_files
from flaskfix.codemods.engine.run import execute, plan
from flaskfix.codemods.project import Project

#: every k-th file; 1 = the whole corpus (14,254 files here: 23 minutes on 2 busy cores;
#: every 10th file plus the flask ones: about 30 seconds)
DEFAULT_STRIDE = 10
_FLASK = re.compile(rb"flask", re.IGNORECASE)


def library_roots() -> list[tuple[str, Path]]:
    paths = sysconfig.get_paths()
    roots: list[tuple[str, Path]] = [("stdlib", Path(paths["stdlib"]))]
    seen = {Path(paths["stdlib"]).resolve()}
    for i, key in enumerate(("purelib", "platlib")):
        p = Path(paths[key])
        if p.is_dir() and p.resolve() not in seen:
            seen.add(p.resolve())
            # not "site-packages": discovery never walks a folder of that name
            roots.append(("site_packages" if i == 0 else "platlib", p))
    return roots


def corpus_files() -> list[tuple[str, Path]]:
    """(relative destination, source) of every ``.py`` file, sorted; nothing skipped."""
    roots = library_roots()
    resolved = [r.resolve() for _, r in roots]
    out = []
    for name, root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            # another root nested in this one (site-packages inside the stdlib) is its own
            dirnames[:] = sorted(d for d in dirnames if (here / d).resolve() not in resolved)
            for f in filenames:
                if f.endswith(".py"):
                    full = here / f
                    out.append((f"{name}/{full.relative_to(root).as_posix()}", full))
    out.sort()
    return out


def select(files: list[tuple[str, Path]], stride: int) -> tuple[list[tuple[str, Path]], int]:
    """Every ``stride``-th file plus every file mentioning flask; and how many of those."""
    chosen, flask = [], 0
    for i, (rel, full) in enumerate(files):
        take = i % stride == 0
        if not take:
            try:
                take = bool(_FLASK.search(full.read_bytes()))
            except OSError:
                take = False
            flask += take
        if take:
            chosen.append((rel, full))
    return chosen, flask


def copy(files: list[tuple[str, Path]], dest: Path) -> tuple[list[str], list[str]]:
    """Copy keeping relative paths. Returns (copied paths, what could not be copied)."""
    copied, skipped = [], []
    (dest / "pyproject.toml").write_text("[project]\nname = 'corpus'\n")
    for rel, full in files:
        target = dest / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(full, target)
        except OSError as exc:
            skipped.append(f"{full}: {exc}")
            continue
        copied.append(str(target))
    return sorted(copied), skipped


def error_kind(error: str) -> str:
    """``syntax error at line 3: ...`` -> ``syntax error``; the class of an error message."""
    if "too large" in error:
        return "too large"
    for kind in ("internal error", "syntax error", "cannot decode", "LibCST cannot parse", "contains null bytes",
                 "cannot parse", "invalid encoding declaration", "unknown encoding"):
        if error.startswith(kind):
            return kind
    return error.split(":")[0]


@dataclass
class CorpusReport:
    files: int = 0
    parsed_by_libcst: int = 0
    seconds: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    internal_errors: list[str] = field(default_factory=list)
    #: "path: error" of every file that failed, and "path:line: codemod: message" of every finding
    failed: list[str] = field(default_factory=list)
    finding_lines: list[str] = field(default_factory=list)
    changes: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)
    #: path -> the change lines, for every rewritten file
    rewritten: dict[str, list[str]] = field(default_factory=dict)
    not_compiling: list[str] = field(default_factory=list)
    not_fixed_point: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"corpus: {self.files} files in {self.seconds:.0f}s, {self.parsed_by_libcst} parsed by LibCST",
            f"errors by kind: {dict(sorted(self.errors.items()))}",
            f"rewrites per codemod: {dict(sorted(self.changes.items()))}",
            f"findings per codemod: {dict(sorted(self.findings.items()))}",
        ]
        for path, changes in sorted(self.rewritten.items()):
            out.append(f"rewritten: {path}")
            out.extend(f"    {c}" for c in changes)
        out.extend(f"failed: {e}" for e in self.failed)
        out.extend(f"finding: {e}" for e in self.finding_lines)
        out.extend(f"INTERNAL: {e}" for e in self.internal_errors)
        out.extend(f"DOES NOT COMPILE: {e}" for e in self.not_compiling)
        out.extend(f"NOT A FIXED POINT: {e}" for e in self.not_fixed_point)
        out.extend(f"OUT OF ORDER: {e}" for e in self.out_of_order)
        return out


def run_corpus(paths: list[str], root: Path, jobs: int = 2) -> CorpusReport:
    """Run every codemod over ``paths`` through ``plan``/``execute`` (the process pool)."""
    rep = CorpusReport()
    started = time.monotonic()
    p = plan([str(root)])
    # discovery never walks folders such as build/ or dist/, which libraries do have:
    # hand the engine every file explicitly, as a user naming files would
    p = dataclasses.replace(p, files=[Discovered(f) for f in paths])
    local = Engine(p.codemods, p.config, Project(p.config.root, project_files(p.config)))
    for expected, r in zip(paths, execute(p, jobs=jobs), strict=True):
        rep.files += 1
        rel = os.path.relpath(r.path, root)
        if r.path != expected:
            rep.out_of_order.append(f"{expected} came back as {r.path}")
        rep.parsed_by_libcst += r.error is None and not r.prefiltered_out
        for c in r.changes:
            rep.changes[c.codemod] += 1
        for f in r.findings:
            rep.findings[f.codemod] += 1
            rep.finding_lines.append(f"{rel}:{f.line}: {f.codemod}: {f.message}")
        if r.error is not None:
            kind = error_kind(r.error)
            rep.errors[kind] += 1
            rep.failed.append(f"{rel}: {r.error}")
            if kind == "internal error" or "internal error" in r.error:
                rep.internal_errors.append(f"{rel}: {r.error}")
        if not r.changed:
            continue
        assert r.source is not None and r.new_text is not None
        rep.rewritten[rel] = [f"{c.line}: {c.codemod}: {c.message}" for c in r.changes]
        try:
            compile(r.source.text, r.path, "exec", dont_inherit=True)
            compiled_before = True
        except (SyntaxError, ValueError):
            compiled_before = False
        if compiled_before:
            try:
                compile(r.new_text, r.path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                rep.not_compiling.append(f"{rel}: {exc}")
        again = local.process_text(r.new_text, r.path)
        if again.changed or again.error is not None:
            rep.not_fixed_point.append(f"{rel}: {again.error or again.diff()[:2000]}")
    rep.seconds = time.monotonic() - started
    return rep


def main() -> None:  # pragma: no cover - a manual tool
    import tempfile

    stride = int(os.environ.get("FLASKFIX_CORPUS_STRIDE", str(DEFAULT_STRIDE)))
    jobs = int(os.environ.get("FLASKFIX_CORPUS_JOBS", "2"))
    files = corpus_files()
    chosen, flask = select(files, stride)
    with tempfile.TemporaryDirectory() as tmp:
        copied, skipped = copy(chosen, Path(tmp))
        print(f"{len(files)} .py files, stride {stride}: {len(chosen)} chosen ({flask} for mentioning flask), "
              f"{len(copied)} copied, {len(skipped)} not copyable", flush=True)
        for s in skipped:
            print(f"not copied: {s}")
        rep = run_corpus(copied, Path(tmp), jobs=jobs)
        print("\n".join(rep.lines()))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
