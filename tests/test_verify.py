"""``--verify CMD``: the project's own tests judge the changes (issue 20).

The sample project (tests/data/verify_sample) is a small shop with its own pytest suite,
made for these tests: a bulk-query change its tests keep green, an error-handler change
that one test contradicts (it wants the ZeroDivisionError to propagate under TESTING), a
cache-route change another contradicts (it reads the list again after adding an item), and
an error-handler change nothing contradicts. Every run is real: flaskfix copies the tree,
runs pytest there with its plugin, and bisects.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parent / "data" / "verify_sample"
PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider -x tests"


@pytest.fixture()
def sample(tmp_path: Path) -> Path:
    dest = tmp_path / "shop"
    shutil.copytree(SAMPLE, dest)
    return dest


@pytest.fixture()
def scratch(tmp_path: Path) -> Path:
    """The TMPDIR flaskfix runs with: it must be empty again after every run."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


def _flaskfix(args: list[str], cwd: Path, scratch: Path, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    env = {**os.environ, "TMPDIR": str(scratch), "NO_COLOR": "1", "FLASKFIX_CACHE_DIR": str(scratch.parent / "cache")}
    return subprocess.run([sys.executable, "-m", "flaskfix", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, **kw)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def test_kept_changes_only_and_the_checkout_is_untouched(sample: Path, scratch: Path) -> None:
    before = _digest(sample)
    run = _flaskfix(["diff", "--no-cache", "--format", "json", "--verify", PYTEST, "."], sample, scratch)
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    import jsonschema

    schema = json.loads((Path(__file__).parents[1] / "cli" / "json-schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)  # verify and evidence are documented members
    changes = {(c["codemod"], c["line"]) for f in doc["files"] for c in f["changes"] if c["role"] == "site"}
    assert changes == {("bulk-query", 33), ("error-handler", 38)}
    findings = {(f["codemod"], f["line"]): f["message"] for f in doc["files"][0]["findings"]}
    assert findings[("error-handler", 39)].startswith(f"`{PYTEST}` fails with this change: "
                                                      "tests/test_app.py::test_share_by_zero_is_a_bug_we_want_to_see: ")
    assert "DID NOT RAISE" in findings[("error-handler", 39)]
    assert findings[("cache-route", 19)].startswith(f"`{PYTEST}` fails with this change: "
                                                    "tests/test_app.py::test_a_new_item_is_listed: ")
    patch = doc["files"][0]["patch"]
    assert "item_by_id" in patch and "ClientValueError" in patch
    assert "cache.cached" not in patch and "ClientZeroDivisionError" not in patch
    assert doc["verify"]["kept"] == 2 and doc["verify"]["left_out"] == 2 and doc["verify"]["command"] == PYTEST
    # the evidence: the bulk-query change makes /pick's statements fewer; nothing else moves
    evidence = {e["endpoint"]: e for e in doc["evidence"]}
    assert evidence["pick"]["statements_before"] == 4 and evidence["pick"]["statements_after"] == 1
    assert evidence["items"]["statements_before"] == evidence["items"]["statements_after"] == 2
    assert evidence["share"]["requests"] == 2  # also the request that raised
    assert _digest(sample) == before  # byte-identical
    assert list(scratch.iterdir()) == []  # every copy removed


def test_apply_writes_exactly_the_kept_changes(sample: Path, scratch: Path) -> None:
    diff = _flaskfix(["diff", "--no-cache", "--verify", PYTEST, "--select", "bulk-query,error-handler", "."], sample,
                     scratch)
    run = _flaskfix(["apply", "--yes", "--allow-dirty", "--no-cache", "--verify", PYTEST,
                     "--select", "bulk-query,error-handler", "."], sample, scratch)
    assert run.returncode == 0, run.stderr
    assert "flaskfix: wrote 1 of 1 file(s)" in run.stderr
    text = (sample / "app.py").read_text()
    assert "item_by_id" in text and "ClientValueError" in text and "ClientZeroDivisionError" not in text
    # what apply wrote is what diff showed
    import difflib

    shown = "".join(difflib.unified_diff((SAMPLE / "app.py").read_text().splitlines(True), text.splitlines(True),
                                         "a/app.py", "b/app.py"))
    assert shown.split("@@", 1)[1] == diff.stdout.split("@@", 1)[1]
    # the project's own tests pass on what was written
    tests = subprocess.run(PYTEST.split(), cwd=sample, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout
    assert list(scratch.iterdir()) == []


def test_tests_failing_before_any_change_stop_with_exit_2(sample: Path, scratch: Path) -> None:
    with open(sample / "tests" / "test_app.py", "a") as f:
        f.write("\n\ndef test_already_red():\n    assert 1 == 2, 'red before flaskfix'\n")
    before = _digest(sample)
    run = _flaskfix(["apply", "--yes", "--allow-dirty", "--no-cache", "--verify", PYTEST.replace(" -x", ""), "."],
                    sample, scratch)
    assert run.returncode == 2
    assert "fails before any change" in run.stderr and "nothing written" in run.stderr
    assert "tests/test_app.py::test_already_red: AssertionError: red before flaskfix" in run.stderr
    assert _digest(sample) == before
    assert list(scratch.iterdir()) == []


def test_baseline_accepts_known_failures_and_blames_only_new_ones(sample: Path, scratch: Path) -> None:
    with open(sample / "tests" / "test_app.py", "a") as f:
        f.write("\n\ndef test_already_red():\n    assert 1 == 2\n")
    run = _flaskfix(["diff", "--no-cache", "--format", "json", "--verify", PYTEST.replace(" -x", ""), "--verify-baseline",
                     "--select", "bulk-query,error-handler", "."], sample, scratch)
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    changes = {(c["codemod"], c["line"]) for f in doc["files"] for c in f["changes"] if c["role"] == "site"}
    assert changes == {("bulk-query", 33), ("error-handler", 38)}
    messages = [f["message"] for f in doc["files"][0]["findings"]]
    assert any("test_share_by_zero_is_a_bug_we_want_to_see" in m for m in messages)
    assert not any("test_already_red" in m for m in messages)


def test_a_timeout_fails_loudly_and_leaves_nothing(sample: Path, scratch: Path) -> None:
    marker = scratch.parent / "still-running"
    cmd = f"{sys.executable} -c \"import time, pathlib; time.sleep(5); pathlib.Path(r'{marker}').write_text('x')\""
    start = time.monotonic()
    run = _flaskfix(["diff", "--no-cache", "--verify", cmd, "--verify-timeout", "1", "."], sample, scratch)
    assert run.returncode == 2
    assert "did not finish in time (timed out after 1s)" in run.stderr
    assert time.monotonic() - start < 20
    time.sleep(5)
    assert not marker.exists()  # the command was killed, not left running
    assert list(scratch.iterdir()) == []


def test_ctrl_c_removes_the_copy_and_stops_the_tests(sample: Path, scratch: Path) -> None:
    started = scratch.parent / "started"
    marker = scratch.parent / "finished"
    cmd = (f"{sys.executable} -c \"import time, pathlib; pathlib.Path(r'{started}').write_text('x'); time.sleep(8); "
           f"pathlib.Path(r'{marker}').write_text('x')\"")
    env = {**os.environ, "TMPDIR": str(scratch), "NO_COLOR": "1", "FLASKFIX_CACHE_DIR": str(scratch.parent / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "flaskfix", "diff", "--no-cache", "--verify", cmd, "."], cwd=sample,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists()
    assert any(scratch.iterdir())  # the copy exists while the tests run
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    time.sleep(9)
    assert not marker.exists()
    assert list(scratch.iterdir()) == []


def test_an_editable_install_of_the_checkout_is_detected(sample: Path, scratch: Path) -> None:
    """The copy's tests import the checkout (as an editable install makes them): every
    change would look green, so flaskfix refuses to judge."""
    cmd = (f"{sys.executable} -c \"import sys; sys.path.insert(0, r'{sample}'); import pytest; "
           f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests']))\"")
    run = _flaskfix(["diff", "--no-cache", "--verify", cmd, "."], sample, scratch)
    assert run.returncode == 2
    assert "imported `app` from your checkout" in run.stderr and "editable install" in run.stderr
    assert list(scratch.iterdir()) == []


def test_configured_command_and_budget(sample: Path, scratch: Path) -> None:
    with open(sample / "pyproject.toml", "a") as f:
        f.write(f"verify = {json.dumps(PYTEST)}\n")
    run = _flaskfix(["diff", "--no-cache", "--format", "json", "--verify-budget", "0.001", "."], sample, scratch)
    assert run.returncode == 0, run.stderr  # the baseline ran, then the budget was spent: nothing to show
    doc = json.loads(run.stdout)
    assert doc["verify"]["kept"] == 0 and doc["verify"]["left_out"] == 4 and doc["evidence"] == []
    messages = [f["message"] for f in doc["files"][0]["findings"]]
    assert sum(f"the --verify budget ran out before `{PYTEST}` could confirm this change" in m for m in messages) == 4


def test_profile_measures_one_run_and_changes_nothing(sample: Path, scratch: Path) -> None:
    """`flaskfix profile -- CMD`: per endpoint requests and statements, the N+1 suspect
    with its file:line, a pstats file per endpoint; the plugin loads even with pytest's
    plugin autoload disabled."""
    before = _digest(sample)
    stats = scratch.parent / "stats"
    env = {**os.environ, "TMPDIR": str(scratch), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = subprocess.run([sys.executable, "-m", "flaskfix", "profile", "--cprofile", str(stats), "--",
                          *PYTEST.split()], cwd=sample, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = {line.split()[0]: line.split()[1:] for line in run.stdout.splitlines()[1:] if line and not line.startswith(" ")
            and not line.startswith("N+1")}
    assert rows["pick"][:2] == ["1", "4"] and rows["items"][:2] == ["2", "2"]
    assert "  app.py:33: pick: the same statement up to 4 times in one request" in run.stdout
    assert sorted(p.name for p in stats.iterdir()) == ["add_item.pstats", "items.pstats", "pick.pstats", "share.pstats"]
    import pstats

    assert pstats.Stats(str(stats / "pick.pstats")).total_calls > 0
    assert _digest(sample) == before
    assert list(scratch.iterdir()) == []


def test_profile_of_a_command_that_is_not_pytest_says_so(sample: Path, scratch: Path) -> None:
    run = _flaskfix(["profile", "--", sys.executable, "-c", "print('hello')"], sample, scratch)
    assert run.returncode == 2
    assert "flaskfix's pytest plugin did not report: does it run pytest?" in run.stderr


def test_records_of_several_processes_are_merged(tmp_path: Path) -> None:
    """pytest-xdist runs tests in several processes; each writes its own record, and the
    endpoints' counts are summed (here the records stand for two workers)."""
    from flaskfix.cli import verify as ver

    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for pid, (n, s) in enumerate([(2, 5), (3, 1)]):
        (evidence / f"{pid}.json").write_text(json.dumps({
            "failed": [[f"t.py::test_{pid}", "boom"]], "foreign_imports": [],
            "endpoints": {"pick": {"requests": n, "statements": s, "ms": 1.5}},
            "suspects": [{"endpoint": "pick", "where": "app.py:3", "statement": "SELECT 1", "requests": 1,
                          "max_repeats": s}]}))
    outcome = ver.execute("true", tmp_path, evidence, 30)
    assert outcome.reported and outcome.endpoints == {"pick": {"requests": 5, "statements": 6, "ms": 3.0}}
    assert set(outcome.failed) == {"t.py::test_0", "t.py::test_1"}
    assert ver.suspects_lines(outcome) == [
        "app.py:3: pick: the same statement up to 5 times in one request (2 request(s)): SELECT 1"]


def test_no_verify_skips_the_configured_command(sample: Path, scratch: Path) -> None:
    with open(sample / "pyproject.toml", "a") as f:
        f.write('verify = "exit 3"\n')
    run = _flaskfix(["diff", "--no-cache", "--format", "json", "--no-verify", "."], sample, scratch)
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert "verify" not in doc and doc["summary"]["changes"] == 4
    both = _flaskfix(["diff", "--no-cache", "--verify", "true", "--no-verify", "."], sample, scratch)
    assert both.returncode == 2 and "contradict" in both.stderr
    bad = _flaskfix(["diff", "--no-cache", "."], sample, scratch)  # the configured command fails before any change
    assert bad.returncode == 2 and "`exit 3` fails before any change" in bad.stderr and "exit status 3" in bad.stderr


def test_progress_on_a_terminal(sample: Path, scratch: Path) -> None:
    """On a terminal, each run is announced and timed (off a terminal, only the summary)."""
    import pexpect

    env = {**os.environ, "TMPDIR": str(scratch), "NO_COLOR": "1", "FLASKFIX_CACHE_DIR": str(scratch.parent / "cache")}
    child = pexpect.spawn(sys.executable, ["-m", "flaskfix", "diff", "--no-cache", "--select", "bulk-query",
                                           "--verify", "true", "."], cwd=str(sample), env=env, encoding="utf-8",
                          timeout=120)
    child.expect("flaskfix: verify: run 1: the tests as they are, with no change")
    child.expect(r"flaskfix: verify: run 1: passed in \d+\.\ds")
    child.expect(r"flaskfix: verify: run 2: with all 1 change\(s\)")
    child.expect(r"--verify: 2 run\(s\) of `true` in \d+\.\ds; kept 1 of 1 change\(s\)")
    child.expect(pexpect.EOF)
    quiet = _flaskfix(["diff", "--no-cache", "--select", "bulk-query", "--verify", "true", "."], sample, scratch)
    assert "flaskfix: verify: run" not in quiet.stderr and "--verify: 2 run(s) of `true`" in quiet.stderr
