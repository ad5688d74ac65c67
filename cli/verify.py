"""``--verify CMD``: run the project's own tests before and after; keep only the changes
that keep them green.

Static proof has limits; the project's tests are the user's own definition of behaviour.
So, before anything is shown or written:

1. The tree is copied as it is (uncommitted edits and ignored files the app needs, such as
   ``instance/`` or ``.env``, included; VCS data, virtualenvs and caches left out) to a
   temporary folder outside the checkout, and CMD runs there, unchanged. If it fails (twice:
   a failing run is always repeated once, for flaky tests), flaskfix stops with exit 2,
   names the failing tests and writes nothing. ``--verify-baseline`` instead accepts the
   tests that already fail, and blames a change only for a test failing that did not.
2. CMD runs on a copy with every planned change. If it passes, every change is kept.
3. If not, the changes responsible are found by bisection: by codemod first, then by
   halves of the changes, each candidate set tested on top of the changes already kept.
   A change that fails on its own is dropped and becomes a finding naming the test and
   why; ``--verify-budget`` bounds the time, and what it could not decide is dropped with
   a finding saying so.
4. What is kept runs once more, to confirm.

Applying a subset of changes is planning again with the other sites held back (as if each
had a ``# flaskfix: ignore[<id>]`` comment), so what kept sites share (an import, a
created Cache, a requirement line) stays only while a kept site needs it.

CMD runs with flaskfix's pytest plugin (``flaskfix_evidence``, one dependency-free file put
on ``PYTHONPATH`` and named in ``PYTEST_PLUGINS``), which reports failing tests, per-endpoint
evidence, and modules imported from the user's checkout instead of the copy: an editable
install of a src-layout project makes the copy's tests import the checkout, so every change
would look green; flaskfix stops with exit 2 when it sees that. Every temporary folder is
removed, also on error, timeout and Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from flaskfix.codemods.engine.pipeline import Engine, FileResult, Finding
from flaskfix.codemods.engine.run import Plan

PLUGIN_DIR = Path(__file__).resolve().parent.parent / "verify_plugin"
if not (PLUGIN_DIR / "flaskfix_evidence.py").is_file():  # installed: flaskfix/verify_plugin next to flaskfix/cli
    import flaskfix

    PLUGIN_DIR = Path(flaskfix.__file__).resolve().parent / "verify_plugin"
#: folders never copied: VCS data and caches (virtualenvs are found by their shape)
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox",
                       ".nox", ".hypothesis", ".cache"})
#: what CMD never sees: flaskfix's GitHub token (``pr --verify``)
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")


class VerifyError(Exception):
    """--verify cannot go on (exit 2): the message says why."""


@dataclass(frozen=True)
class Unit:
    """One site a codemod fixes (all its changes on that line), the thing kept or dropped."""

    path: str  # absolute
    shown: str  # as in diffs
    codemod: str
    line: int


@dataclass
class Outcome:
    ok: bool
    returncode: int | None  # None: timed out
    seconds: float
    failed: dict[str, str] = field(default_factory=dict)  # test id -> one line
    tail: str = ""
    reported: bool = False  # the plugin reported back
    foreign: list[list[str]] = field(default_factory=list)
    endpoints: dict[str, dict] = field(default_factory=dict)
    suspects: list[dict] = field(default_factory=list)

    def why(self, baseline: "Outcome | None" = None) -> str:
        """The first test that fails (and did not before), and one line saying why."""
        if self.returncode is None:
            return f"it did not finish in time ({self.tail})"
        new = {k: v for k, v in self.failed.items() if baseline is None or k not in baseline.failed}
        if new:
            test, line = next(iter(new.items()))
            more = f" (and {len(new) - 1} more)" if len(new) > 1 else ""
            return f"{test}: {line}{more}"
        return f"exit status {self.returncode}" + (f": {self.tail}" if self.tail else "")


@dataclass
class Options:
    cmd: str
    timeout: float = 600.0
    budget: float | None = None
    baseline_failures_ok: bool = False
    drop_token: bool = False


@dataclass
class Verified:
    results: list[FileResult]  # what to show / write: the kept changes only
    kept: list[Unit]
    dropped: list[tuple[Unit, str]]
    runs: int
    seconds: float
    before: Outcome | None
    after: Outcome | None


def copy_tree(root: Path, dest: Path) -> None:
    """The working tree as it is, without VCS data, caches and virtualenvs."""
    from flaskfix.codemods.engine.discovery import is_environment

    root = root.resolve()
    for here, dirs, files in os.walk(root):
        rel = Path(here).relative_to(root)
        target = dest / rel
        target.mkdir(parents=True, exist_ok=True)
        keep = []
        for d in dirs:
            src = Path(here) / d
            if d in SKIP_DIRS or (not src.is_symlink() and is_environment(src)):
                continue
            if src.is_symlink():
                os.symlink(os.readlink(src), target / d)
                continue
            keep.append(d)
        dirs[:] = keep
        for f in files:
            src = Path(here) / f
            if src.is_symlink():
                os.symlink(os.readlink(src), target / f)
            elif src.is_file():
                shutil.copy2(src, target / f)


class Verifier:
    def __init__(self, p: Plan, results: list[FileResult], options: Options,
                 progress: Callable[[str], None] = lambda _m: None) -> None:
        from flaskfix.codemods.engine.pipeline import project_files
        from flaskfix.codemods.project import Project

        self.plan = p
        self.options = options
        self.progress = progress
        self.root = Path(p.config.root).resolve()
        self.results = results
        self.changed = [r for r in results if r.changed and r.supports is None and r.error is None]
        self.units: list[Unit] = []
        for r in self.changed:
            for c in r.changes:
                if c.role == "site":
                    u = Unit(os.path.abspath(r.path), r.diff_path or r.path, c.codemod, c.line)
                    if u not in self.units:
                        self.units.append(u)
        order = {cm.ID: i for i, cm in enumerate(p.codemods)}
        self.units.sort(key=lambda u: (order.get(u.codemod, 99), u.path, u.line))
        self.project = Project(p.config.root, project_files(p.config))
        self.runs = 0
        self.started = time.monotonic()
        self.baseline: Outcome | None = None
        #: when the bisection began (--verify-budget bounds it; the baseline and the run
        #: with every change always happen)
        self.bisecting: float | None = None
        self._variants: dict[frozenset[Unit], tuple[list[FileResult], set[Unit]]] = {}

    # -- variants ---------------------------------------------------------------------

    def variant(self, keep: Iterable[Unit]) -> tuple[list[FileResult], set[Unit]]:
        """The results with only ``keep``'s sites fixed (the others held back), and the
        sites that planning actually fixed."""
        keep = frozenset(keep)
        if keep in self._variants:
            return self._variants[keep]
        from flaskfix.codemods.engine.supporting import code_results, manifest_results

        held: dict[str, dict[int, set[str]]] = {}
        for u in self.units:
            if u not in keep:
                held.setdefault(u.path, {}).setdefault(u.line, set()).add(u.codemod)
        engine = Engine(self.plan.codemods, self.plan.config, self.project, tidy=self.plan.black)
        engine.extra_suppressions = {path: {line: frozenset(ids) for line, ids in lines.items()}
                                     for path, lines in held.items()}
        out: list[FileResult] = []
        realized: set[Unit] = set()
        for r in self.changed:
            assert r.source is not None
            step = engine.process_source(r.source)
            step.diff_path = r.diff_path
            path = os.path.abspath(r.path)
            # a site held back is not "left alone by a comment": --verify says why in a finding
            step.suppressed = [f for f in step.suppressed if f.codemod not in held.get(path, {}).get(f.line, ())]
            for c in step.changes:
                if c.role == "site":
                    realized.add(Unit(path, r.diff_path or r.path, c.codemod, c.line))
            out.append(step)
        kept = [s for s in out if s.changed and s.error is None]
        supporting = code_results([(s.path, s.code_supports) for s in kept if s.code_supports], self.root)
        supporting += manifest_results([(s.path, s.requires) for s in kept if s.requires], self.root)
        self._variants[keep] = (out + supporting, realized)
        return out + supporting, realized

    # -- running CMD --------------------------------------------------------------------

    def run(self, keep: Iterable[Unit] | None, what: str) -> Outcome:
        """CMD on a fresh copy of the tree with ``keep``'s changes (None: unchanged)."""
        if (self.options.budget is not None and self.bisecting is not None
                and time.monotonic() - self.bisecting > self.options.budget):
            raise _BudgetSpent
        self.runs += 1
        tmp = Path(tempfile.mkdtemp(prefix="flaskfix-verify-"))
        try:
            copy = tmp / "tree"
            copy_tree(self.root, copy)
            if keep is not None:
                for r in self.variant(keep)[0]:
                    if r.changed and r.error is None and r.new_text is not None:
                        rel = Path(os.path.abspath(r.path)).resolve().relative_to(self.root)
                        target = copy / rel
                        data = r.source.encode(r.new_text) if r.source is not None else r.new_text.encode()
                        target.write_bytes(data)
            evidence = tmp / "evidence"
            self.progress(f"run {self.runs}: {what}")
            outcome = self._execute(copy, evidence)
            self.progress(f"run {self.runs}: {'passed' if outcome.ok else 'failed'} in {outcome.seconds:.1f}s")
            return outcome
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _execute(self, copy: Path, evidence: Path) -> Outcome:
        outcome = execute(self.options.cmd, copy, evidence, self.options.timeout, original=self.root,
                          drop_token=self.options.drop_token)
        if outcome.foreign:
            name, path = outcome.foreign[0]
            raise VerifyError(
                f"`{self.options.cmd}` in the copy imported `{name}` from your checkout ({path}), not from the copy: "
                "an editable install (pip install -e) of this project? Its tests would test your checkout, and every "
                "change would look green. Run --verify where the tests import the project from the current folder "
                "(e.g. a virtualenv without the editable install, or PYTHONPATH=src)")
        return outcome

    def passes(self, keep: Iterable[Unit] | None, what: str) -> tuple[bool, Outcome]:
        """Run, and once more when it fails (flaky tests); with --verify-baseline a run
        passes when it fails no test that did not fail before."""
        outcome = self.run(keep, what)
        if self._green(outcome):
            return True, outcome
        again = self.run(keep, what + " (again: a failing run is repeated once)")
        return self._green(again), again

    def _green(self, outcome: Outcome) -> bool:
        if outcome.ok:
            return True
        if self.options.baseline_failures_ok and self.baseline is not None and outcome.returncode is not None:
            return outcome.reported and set(outcome.failed) <= set(self.baseline.failed)
        return False

    # -- the whole --------------------------------------------------------------------

    def verify(self) -> Verified:
        ok, before = self.passes(None, "the tests as they are, with no change")
        if not ok and not self.options.baseline_failures_ok:
            tests = list(before.failed.items())[:10]
            named = "".join(f"\n  {t}: {why}" for t, why in tests) or f"\n  {before.why()}"
            raise VerifyError(f"`{self.options.cmd}` fails before any change, so it cannot judge the changes; "
                              f"nothing written.{named}\n(--verify-baseline compares against the tests that already fail)")
        if not ok and not before.reported:
            raise VerifyError(f"`{self.options.cmd}` fails before any change and flaskfix's pytest plugin did not "
                              "report which tests failed, so --verify-baseline cannot tell old failures from new ones")
        self.baseline = before
        dropped: list[tuple[Unit, str]] = []
        undecided: list[Unit] = []
        kept: list[Unit] = []
        after: Outcome | None = None
        if self.units:
            try:
                ok, after = self.passes(self.units, f"with all {len(self.units)} change(s)")
                if ok:
                    kept = list(self.units)
                else:
                    self.bisecting = time.monotonic()
                    kept = self._admit([], self.units, after, dropped, undecided)
                    if kept:
                        ok, after = self.passes(kept, f"confirming the {len(kept)} kept change(s)")
                        if not ok:  # kept changes that pass one by one fail together
                            dropped += [(u, after.why(self.baseline)) for u in kept]
                            kept = []
            except _BudgetSpent:
                done = {u for u, _ in dropped} | set(kept)
                undecided += [u for u in self.units if u not in done and u not in undecided]
                if kept:
                    try:
                        ok, after = self.passes(kept, f"confirming the {len(kept)} kept change(s)")
                    except _BudgetSpent:
                        ok = False
                    if not ok:
                        undecided += kept
                        kept = []
        for u in undecided:
            dropped.append((u, None))  # type: ignore[arg-type]
        if not kept:
            after = None  # nothing kept: no "after" to show evidence of
        results = self._final(kept, dropped)
        return Verified(results, kept, dropped, self.runs, time.monotonic() - self.started, before, after)

    def _admit(self, kept: list[Unit], units: list[Unit], failed: Outcome, dropped: list, undecided: list) -> list[Unit]:
        """The units of ``units`` that can join ``kept`` with the tests still passing
        (``failed``: the failing run of ``kept + units``, already known)."""
        if len(units) == 1:
            dropped.append((units[0], failed.why(self.baseline)))
            return []
        codemods = list(dict.fromkeys(u.codemod for u in units))
        if len(codemods) > 1:
            groups = [[u for u in units if u.codemod == c] for c in codemods]
        else:
            half = len(units) // 2
            groups = [units[:half], units[half:]]
        admitted: list[Unit] = []
        for group in groups:
            base = kept + admitted
            ok, outcome = self.passes(base + group, f"{len(group)} {group[0].codemod if len(codemods) > 1 else ''} "
                                                    f"change(s) on top of {len(base)} kept".replace("  ", " "))
            if ok:
                admitted += group
            else:
                admitted += self._admit(base, group, outcome, dropped, undecided)
        return admitted

    def _final(self, kept: list[Unit], dropped: list[tuple[Unit, str | None]]) -> list[FileResult]:
        """The results to show or write: every result of the run, the changed files planned
        again with only the kept sites, and a finding for each dropped one."""
        if len(kept) == len(self.units):
            final = list(self.results)
        else:
            variant, _ = self.variant(kept)
            by_path = {os.path.abspath(r.path): r for r in variant if r.supports is None}
            final = [by_path.get(os.path.abspath(r.path), r) for r in self.results if r.supports is None]
            final += [r for r in variant if r.supports is not None]
        by_path = {os.path.abspath(r.path): r for r in final}
        cmd = self.options.cmd
        for u, why in dropped:
            r = by_path.get(u.path)
            if r is None:
                continue
            if why is None:
                text = f"the --verify budget ran out before `{cmd}` could confirm this change; left out"
            else:
                text = f"`{cmd}` fails with this change: {why}"
            r.findings.append(Finding(u.line, u.codemod, text))
        return final


def execute(cmd: str, cwd: Path, evidence: Path, timeout: float, original: Path | None = None, drop_token: bool = False,
            cprofile: Path | None = None) -> Outcome:
    """Run ``cmd`` in ``cwd`` (a shell command, in a session of its own so that a timeout or
    Ctrl-C stops all of it) with flaskfix's pytest plugin, and read what the plugin reported."""
    env = dict(os.environ)
    if drop_token:
        for name in TOKEN_VARIABLES:
            env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join([str(PLUGIN_DIR), *[x for x in env.get("PYTHONPATH", "").split(os.pathsep) if x]])
    plugins = [x for x in env.get("PYTEST_PLUGINS", "").split(",") if x.strip() and x.strip() != "flaskfix_evidence"]
    env["PYTEST_PLUGINS"] = ",".join([*plugins, "flaskfix_evidence"])
    env["FLASKFIX_EVIDENCE_DIR"] = str(evidence)
    env["FLASKFIX_COPY_ROOT"] = str(cwd)
    env.pop("FLASKFIX_ORIGINAL_ROOT", None)
    env.pop("FLASKFIX_CPROFILE_DIR", None)
    if original is not None:
        env["FLASKFIX_ORIGINAL_ROOT"] = str(original)
    if cprofile is not None:
        env["FLASKFIX_CPROFILE_DIR"] = str(cprofile)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, shell=True, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill(proc)
        output, code = b"", None
    except BaseException:  # Ctrl-C: the tests go with us
        _kill(proc)
        raise
    seconds = time.monotonic() - start
    text = output.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    tail = lines[-1][:200] if lines else ""
    if code is None:
        tail = f"timed out after {timeout:g}s"
    outcome = Outcome(code == 0, code, seconds, tail=tail)
    for f in sorted(evidence.glob("*.json")) if evidence.is_dir() else []:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        outcome.reported = True
        outcome.failed.update({k: v for k, v in data.get("failed", [])})
        outcome.foreign += data.get("foreign_imports", [])
        for endpoint, e in data.get("endpoints", {}).items():  # one file per process (pytest-xdist): summed
            mine = outcome.endpoints.setdefault(endpoint, {"requests": 0, "statements": 0, "ms": 0.0})
            for k in mine:
                mine[k] += e.get(k, 0)
        outcome.suspects += data.get("suspects", [])
    return outcome


def suspects_lines(outcome: Outcome) -> list[str]:
    """The N+1 suspects: a statement repeated within one request, where the project issued it."""
    merged: dict[tuple[str, str, str], dict] = {}
    for s in outcome.suspects:
        m = merged.setdefault((s["endpoint"], s["where"], s["statement"]), {"requests": 0, "max_repeats": 0})
        m["requests"] += s["requests"]
        m["max_repeats"] = max(m["max_repeats"], s["max_repeats"])
    out = []
    for (endpoint, where, statement), m in sorted(merged.items(), key=lambda kv: -kv[1]["max_repeats"]):
        text = " ".join(statement.split())
        out.append(f"{where}: {endpoint}: the same statement up to {m['max_repeats']} times in one request "
                   f"({m['requests']} request(s)): {text[:100]}")
    return out


class _BudgetSpent(Exception):
    pass


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=10)
    except (subprocess.TimeoutExpired, ValueError):
        pass


def evidence_rows(before: Outcome | None, after: Outcome | None) -> list[dict]:
    """Per endpoint: requests, statements and ms before and after (per request, averaged)."""
    rows = []
    if before is None or after is None:
        return rows
    for endpoint in sorted(set(before.endpoints) | set(after.endpoints)):
        b, a = before.endpoints.get(endpoint), after.endpoints.get(endpoint)
        rows.append({
            "endpoint": endpoint,
            "requests": (a or b or {}).get("requests", 0),
            "requests_before": b["requests"] if b else 0,
            "statements_before": b["statements"] if b else None,
            "statements_after": a["statements"] if a else None,
            "ms_before": round(b["ms"], 1) if b else None,
            "ms_after": round(a["ms"], 1) if a else None,
        })
    return rows


def evidence_table(rows: list[dict], times: bool = True) -> list[str]:
    """The per-endpoint table (``times``: with the milliseconds, which vary run to run)."""
    if not rows:
        return []
    out = [f"{'endpoint':<32} {'requests':>8} {'statements':>15}" + (f" {'ms':>19}" if times else "")]
    for r in rows:
        s = f"{_n(r['statements_before'])} -> {_n(r['statements_after'])}"
        ms = f" {_n(r['ms_before']) + ' -> ' + _n(r['ms_after']):>19}" if times else ""
        out.append(f"{r['endpoint'][:32]:<32} {r['requests']:>8} {s:>15}{ms}")
    return out


def _n(v: object) -> str:
    return "-" if v is None else str(v)


def stderr_progress(enabled: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if enabled:
            sys.stderr.write(f"flaskfix: verify: {message}\n")
            sys.stderr.flush()
    return say
