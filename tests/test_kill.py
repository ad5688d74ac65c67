"""Nothing lost: ``flaskfix apply`` killed with SIGKILL at random moments.

After each kill every file must hold exactly its old bytes or exactly its new bytes
(never truncated, never a mix), and the next run must remove the ``.flaskfix-*.tmp``
files a kill in the middle of a write leaves behind.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from flaskfix.codemods.engine.run import execute, plan
from flaskfix.codemods.engine.source import TEMP_PREFIX, TEMP_SUFFIX
from tests.test_cli import ARTICLE, CLEAN

N_FILES = 40
ITERATIONS = 15
SEED = 20240508
BUDGET_SECONDS = 240  # the loop stops early rather than run longer than this


def module(i: int) -> str:
    return ARTICLE.replace('"data"', f'"data{i}"').replace("cache", f"cache{i}")


def make_project(folder: Path) -> dict[str, bytes]:
    (folder / "pyproject.toml").write_text("[project]\nname = 'killed'\n")
    old = {}
    for i in range(N_FILES):
        name = f"mod{i:02d}.py"
        data = module(i).encode()
        (folder / name).write_bytes(data)
        old[name] = data
    return old


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX) and p.name.endswith(TEMP_SUFFIX))


def start_apply(folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flaskfix", "apply", "--yes", "--jobs", "1", "--allow-dirty"],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def wait_for_summary(proc: subprocess.Popen[str]) -> float:
    """Read stderr until the summary line (printed just before the writes start)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if "site(s) to fix in" in line:
            return time.monotonic()
    return time.monotonic()


def test_sigkill_leaves_every_file_old_or_new(tmp_path: Path) -> None:
    old = make_project(tmp_path)
    # what a completed run writes, computed by the library without writing
    new = {}
    for r in execute(plan([str(tmp_path)]), jobs=1):
        assert r.changed and r.error is None, (r.path, r.error)
        assert r.source is not None and r.new_text is not None
        new[os.path.basename(r.path)] = r.source.encode(r.new_text)
    assert sorted(new) == sorted(old)
    assert new["mod07.py"] == CLEAN.replace(".data", ".data7").encode()

    # how long a whole run takes here, and how long its writing phase (after the summary)
    started = time.monotonic()
    full = start_apply(tmp_path)
    writes_start = wait_for_summary(full)
    assert full.wait(timeout=300) == 0
    whole, writing = time.monotonic() - started, time.monotonic() - writes_start
    assert {n: (tmp_path / n).read_bytes() for n in old} == new
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)

    rng = random.Random(SEED)
    deadline = time.monotonic() + BUDGET_SECONDS
    outcomes = []
    stale_seen = 0
    for i in range(ITERATIONS):
        if time.monotonic() > deadline:
            break
        stale_seen += bool(temp_files(tmp_path))
        proc = start_apply(tmp_path)
        if i % 3 == 0:  # anywhere in the run
            delay = rng.uniform(0.0, whole * 1.1)
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                pass
        else:  # in the writing phase, where a kill can hurt
            wait_for_summary(proc)
            delay = -writing * rng.random() ** 3  # negative: after the summary line; mostly early
            time.sleep(-delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if proc.stderr is not None:
            proc.stderr.close()
        written = 0
        for name in old:
            data = (tmp_path / name).read_bytes()
            assert data in (old[name], new[name]), f"{name} is neither old nor new after a kill at {delay:.3f}s:\n{data!r}"
            written += data == new[name]
        outcomes.append((round(delay, 3), proc.returncode, written))
        if written == N_FILES:  # start the next iteration from the old tree again
            for name, data in old.items():
                (tmp_path / name).write_bytes(data)
    print(f"\nwhole run {whole:.2f}s, writing {writing:.3f}s; (delay (<0: after the summary), exit code, files new) per kill: {outcomes}; stale temp files seen {stale_seen}")
    assert len(outcomes) >= 5
    # some kills landed in the middle of the writes (some files new, some old)
    assert any(rc == -signal.SIGKILL for _, rc, _ in outcomes)
    assert any(0 < n < N_FILES for _, _, n in outcomes), outcomes

    # the next run finishes the job and leaves no temp file behind
    final = start_apply(tmp_path)
    assert final.wait(timeout=300) == 0
    assert {n: (tmp_path / n).read_bytes() for n in old} == new
    assert temp_files(tmp_path) == []


def test_stale_temp_files_are_cleaned_by_the_next_run(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.py").write_text(module(99))
    stale = [tmp_path / f"{TEMP_PREFIX}abc123{TEMP_SUFFIX}", tmp_path / "sub" / f"{TEMP_PREFIX}x{TEMP_SUFFIX}"]
    for s in stale:
        s.write_bytes(b"half a file")
    keep = tmp_path / "flaskfix-notes.tmp"  # not ours: no leading dot
    keep.write_text("mine")
    out = subprocess.run(
        [sys.executable, "-m", "flaskfix", "diff", "--jobs", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 1, out.stderr
    assert not any(s.exists() for s in stale)
    assert keep.read_text() == "mine"
