"""Changes that span files: a rewrite and the manifest line it needs go together.

`apply` writes the manifest before the files that need it; if the manifest cannot be
written, neither are they, and if none of them can be, the manifest is put back.
`--interactive` adds to the manifest exactly the lines the accepted changes need.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from flaskfix.cli import main
from tests.test_dependencies import CACHED, COUNTER

# a view cache-route rewrites (compute_report is named expensive in CONFIG) and a counter
# redis-counter rewrites: both need a package requirements.txt does not declare
REPORT, COUNTER = CACHED, COUNTER
CONFIG = '[tool.flaskfix]\nselect = ["cache-route", "redis-counter"]\n[tool.flaskfix.cache-route]\nexpensive = ["compute_report"]\n'


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(CONFIG)
    (root / "requirements.txt").write_text("flask>=3\n")
    (root / "report.py").write_text(REPORT)
    (root / "counter.py").write_text(COUNTER)
    monkeypatch.chdir(root)
    monkeypatch.setenv("FLASKFIX_CACHE_DIR", str(tmp_path / "cache"))
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}


def apply(monkeypatch: pytest.MonkeyPatch, failing: set[str]):  # type: ignore[no-untyped-def]
    """`flaskfix apply --yes` in this process, with writes of ``failing`` files failing."""
    from flaskfix.codemods.engine import source

    real = source.write_atomic

    def write(src, text):  # type: ignore[no-untyped-def]
        if os.path.basename(src.path) in failing:
            raise OSError(28, "No space left on device")
        return real(src, text)

    monkeypatch.setattr(source, "write_atomic", write)
    return CliRunner().invoke(main.app, ["apply", "--yes", "--no-cache", "--jobs", "1", "--allow-dirty"])


def test_apply_writes_the_change_and_its_manifest_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = apply(monkeypatch, set())
    assert out.exit_code == 0, out.output
    assert (project / "requirements.txt").read_text() == "flask>=3\nFlask-Caching>=2.0\nredis>=4.0\n"
    assert "from flask_caching import Cache" in (project / "report.py").read_text()
    assert "from redis import Redis" in (project / "counter.py").read_text()


def test_a_manifest_that_cannot_be_written_holds_back_the_files_that_need_it(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(project)
    out = apply(monkeypatch, {"requirements.txt"})
    assert out.exit_code == 2
    assert snapshot(project) == before  # neither file imports a package the project does not declare
    assert "requirements.txt: not written: No space left on device" in out.output
    assert "report.py: not written: the requirement its changes need was not written" in out.output


def test_the_manifest_is_put_back_when_no_file_that_needs_it_was_written(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(project)
    out = apply(monkeypatch, {"report.py", "counter.py"})
    assert out.exit_code == 2
    assert snapshot(project) == before
    assert "requirements.txt: put back as it was: no change that needs it was written" in out.output


def test_one_file_failing_keeps_the_manifest_line_another_needs(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = apply(monkeypatch, {"counter.py"})
    assert out.exit_code == 2
    assert "from flask_caching import Cache" in (project / "report.py").read_text()
    assert (project / "counter.py").read_text() == COUNTER
    # the line the written file needs, and not the one only the unwritten file needed
    assert (project / "requirements.txt").read_text() == "flask>=3\nFlask-Caching>=2.0\n"
    assert "requirements.txt: only the lines the written changes need were kept" in out.output


def test_interactive_adds_only_the_lines_the_accepted_changes_need(project: Path) -> None:
    child = pexpect.spawn(sys.executable, ["-m", "flaskfix", "apply", "--interactive", "--no-cache"], cwd=str(project),
                          env={**os.environ, "NO_COLOR": "1"}, timeout=90, encoding="utf-8")
    answers = {"counter.py": "n", "report.py": "y"}
    while child.expect([r"Apply this change to (\S+)\? \[y,n,a,q\]", pexpect.EOF]) == 0:
        child.sendline(answers[child.match.group(1)])
    child.close()
    assert child.exitstatus == 0, child.before
    assert (project / "requirements.txt").read_text() == "flask>=3\nFlask-Caching>=2.0\n"
    assert "from flask_caching import Cache" in (project / "report.py").read_text()
    assert (project / "counter.py").read_text() == COUNTER


def test_declining_every_change_leaves_the_manifest_alone(project: Path) -> None:
    before = snapshot(project)
    child = pexpect.spawn(sys.executable, ["-m", "flaskfix", "apply", "--interactive", "--no-cache"], cwd=str(project),
                          env={**os.environ, "NO_COLOR": "1"}, timeout=90, encoding="utf-8")
    while child.expect([r"Apply this change to \S+\? \[y,n,a,q\]", pexpect.EOF]) == 0:
        child.sendline("n")
    child.close()
    assert snapshot(project) == before


def test_sigkill_after_the_first_write_leaves_no_file_without_what_it_needs(project: Path) -> None:
    """Supporting edits are written first: killed after the first write, the manifest may
    hold its new line, but no rewritten file imports a package the manifest lacks."""
    import signal
    import subprocess

    before = snapshot(project)
    proc = subprocess.Popen([sys.executable, "-m", "flaskfix", "apply", "--yes", "--no-cache", "--allow-dirty"],
                            cwd=project, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "NO_COLOR": "1", "FLASKFIX_PAUSE_AT": "written"})
    assert proc.stderr is not None
    for line in proc.stderr:
        if "paused at written" in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    after = snapshot(project)
    assert after["requirements.txt"] == b"flask>=3\nFlask-Caching>=2.0\nredis>=4.0\n"  # whole, new
    assert after["report.py"] == before["report.py"] and after["counter.py"] == before["counter.py"]  # whole, old
