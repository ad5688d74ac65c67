"""`flaskfix apply --interactive`, driven through a pseudo-terminal."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

TWO_FIXES = '''\
from flask import Flask, request

app = Flask(__name__)
scratch = {}


@app.route("/split")
def split():
    scratch["total"] = int(request.args.get("total", "0"))
    return {"each": scratch["total"] / int(request.args.get("people", "1"))}
'''
ONE_FIX = '''\
from flask import Flask

app = Flask(__name__)
trail = []


@app.route("/ping")
def ping():
    trail.append("ping")
    return "pong"
'''


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("")
    (root / "a.py").write_text(TWO_FIXES)
    (root / "b.py").write_text(ONE_FIX)
    return root


def spawn(project: Path, *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "flaskfix", "apply", "--interactive", "--select", "global-to-g,error-handler", *args],
        cwd=str(project),
        env={**os.environ, "NO_COLOR": "1"},
        timeout=90,
        encoding="utf-8",
    )


def test_yes_no_quit(project: Path) -> None:
    child = spawn(project)
    child.expect(r"global-to-g: .*\n")
    child.expect(r"Apply this change to a\.py\? \[y,n,a,q\]")
    child.sendline("y")
    child.expect(r"error-handler: ")
    for _ in range(3):  # its three sites in a.py (two conversions, a division): one question each
        child.expect(r"Apply this change to a\.py\? \[y,n,a,q\]")
        child.sendline("n")
    child.expect(r"Apply this change to b\.py\? \[y,n,a,q\]")
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    a = (project / "a.py").read_text()
    ast.parse(a)  # an accepted step stands on its own
    assert 'scratch = g.setdefault("a.scratch", {})' in a or "g.total" in a
    assert "errorhandler" not in a  # the refused change is not there
    assert (project / "b.py").read_text() == ONE_FIX  # quit before b.py


def test_all_gives_the_same_as_apply_yes(project: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    twin.mkdir()
    for name in ("pyproject.toml", "a.py", "b.py"):
        (twin / name).write_text((project / name).read_text())
    subprocess.run(
        [sys.executable, "-m", "flaskfix", "apply", "--yes", "--select", "global-to-g,error-handler"],
        cwd=twin, check=True, capture_output=True,
    )
    child = spawn(project)
    child.expect(r"Apply this change to a\.py\? \[y,n,a,q\]")
    child.sendline("a")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    for name in ("a.py", "b.py"):
        assert (project / name).read_text() == (twin / name).read_text()


def test_ctrl_c_at_the_prompt_writes_nothing(project: Path) -> None:
    child = spawn(project)
    child.expect(r"Apply this change to a\.py\? \[y,n,a,q\]")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert (project / "a.py").read_text() == TWO_FIXES
    assert (project / "b.py").read_text() == ONE_FIX


def test_interactive_needs_a_terminal(project: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "flaskfix", "apply", "--interactive"], cwd=project, capture_output=True, text=True, input="y\n")
    assert out.returncode == 2 and "needs a terminal" in out.stderr
    assert (project / "a.py").read_text() == TWO_FIXES


def test_ctrl_c_during_writes_leaves_whole_files_and_says_which(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from flaskfix.cli import main
    from flaskfix.codemods.engine.source import write_atomic as real

    done: list[str] = []

    def interrupted_after_first(source, text):  # type: ignore[no-untyped-def]
        if done:
            raise KeyboardInterrupt
        real(source, text)
        done.append(source.path)

    from flaskfix.codemods.engine import source

    monkeypatch.setattr(source, "write_atomic", interrupted_after_first)
    monkeypatch.chdir(project)
    out = CliRunner().invoke(main.app, ["apply", "--yes", "--no-cache", "--select", "global-to-g,error-handler"])
    assert out.exit_code == 130
    assert "flaskfix: interrupted after writing 1 of 2 file(s): written: a.py; not written: b.py\n" in out.output
    assert (project / "a.py").read_text() != TWO_FIXES
    ast.parse((project / "a.py").read_text())
    assert (project / "b.py").read_text() == ONE_FIX


def test_one_site_kept_and_one_declined_is_planned_again(project: Path) -> None:
    """error-handler has two sites in a.py: keeping one and declining the other writes the
    rewrite planned from the kept site alone (its class, the handler), not a text patch."""
    child = spawn(project)
    child.expect(r"Apply this change to a\.py\? \[y,n,a,q\]")
    child.sendline("n")  # global-to-g: no
    # the conversion on line 9 kept; the conversion and the division on line 10 declined
    child.expect(r"line 9: (`[^`]*`)[^\r\n]*can raise ValueError[^\r\n]*\r\n[^\r\n]*Apply this change to a\.py")
    child.sendline("y")
    for _ in range(2):
        child.expect(r"line 10: (`[^`]*`)[^\r\n]*can raise (\w+)[^\r\n]*\r\n[^\r\n]*Apply this change to a\.py")
        child.sendline("n")
    child.expect(r"the kept changes, planned again without the declined ones")
    child.expect(r"Apply this change to b\.py\? \[y,n,a,q\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    a = (project / "a.py").read_text()
    ast.parse(a)
    assert "scratch = {}" in a  # global-to-g declined
    assert a.count("except ") == 1 and "errorhandler(ClientInputError)" in a  # one site kept, its handler with it
    assert (project / "b.py").read_text() == ONE_FIX


TWO_VIEWS = '''\
from flask import Flask

app = Flask(__name__)


@app.route("/report")
def report():
    return {"total": compute_report()}


@app.route("/summary")
def summary():
    return {"total": compute_summary()}
'''


def test_a_declined_view_leaves_the_cache_to_the_kept_one(tmp_path: Path) -> None:
    """cache-route's two views share one created Cache: declining one view keeps the Cache
    (it goes with the view that needs it) and caches only the other; declining both writes
    nothing."""
    for answers, cached in ((["y", "n"], 1), (["n", "n"], 0)):
        root = tmp_path / f"p{cached}"
        root.mkdir()
        (root / "pyproject.toml").write_text("")
        (root / "app.py").write_text(TWO_VIEWS)
        child = pexpect.spawn(sys.executable, ["-m", "flaskfix", "apply", "--interactive", "--select", "cache-route"],
                              cwd=str(root), env={**os.environ, "NO_COLOR": "1"}, timeout=90, encoding="utf-8")
        given = iter(answers)
        while child.expect([r"Apply this change to app\.py\? \[y,n,a,q\]", pexpect.EOF]) == 0:
            child.sendline(next(given))
        child.close()
        assert child.exitstatus == 0
        text = (root / "app.py").read_text()
        ast.parse(text)
        assert text.count(".cached(") == cached
        assert ("Cache(app)" in text) == bool(cached)
        assert text == TWO_VIEWS or "@cache.cached(" in text.split("def report")[0]  # the first view is the kept one
