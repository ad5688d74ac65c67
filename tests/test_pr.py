"""``flaskfix pr`` end to end: real git (a bare repository as the remote, over file://),
a user's clone with work in progress, and a stateful fake of the GitHub REST API."""

from __future__ import annotations

import json
import shlex
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from flaskfix import codemods
from flaskfix.cli import github as gh
from flaskfix.cli import pr as prmod
from flaskfix.cli.main import app
from tests.github_fake import FakeGitHub
from tests.test_dependencies import CACHED

TOKEN = "ghs_Fake7oken4f1c9eDoNotLeak"
OWNER, NAME = "octo", "shop"
ROOT = Path(__file__).resolve().parent.parent
G2G = codemods.get("global-to-g")

EXTRA_BEFORE = '''from flask import Flask

app = Flask(__name__)
seen = {}


@app.route("/seen")
def mark():
    seen["x"] = 1
    return "ok"
'''

CACHE_SITE = '''from flask import Flask

app = Flask(__name__)
CACHE = {}


@app.route("/c/<k>")
def cached(k):
    if k not in CACHE:
        CACHE[k] = k.upper()
    return CACHE[k]
'''

CLEAN = '''def helper():
    return 1
'''


def git(cwd: Path | str, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", "-c", "user.name=A Human", "-c", "user.email=human@example.com", *args],
        cwd=cwd, capture_output=True, text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args} failed: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class World:
    tmp: Path
    remote: Path  # the bare repository
    seed: Path  # a clone used to move the base branch, as other people would
    user: Path  # the user's checkout, where flaskfix pr runs
    fake: FakeGitHub

    def run(self, *args: str, fmt: str = "json"):  # type: ignore[no-untyped-def]
        argv = ["pr", "--repo", f"{OWNER}/{NAME}", "--api-url", self.fake.base_url, "--jobs", "1",
                "--format", fmt, *args]
        result = CliRunner().invoke(app, argv, catch_exceptions=False)
        return result

    def remote_sha(self, ref: str) -> str | None:
        out = git(self.remote, "rev-parse", "--verify", "-q", ref, check=False)
        return out or None

    def commit_to_main(self, files: dict[str, str], message: str = "work") -> str:
        git(self.seed, "pull", "-q", "--ff-only", "origin", "main")
        for name, text in files.items():
            (self.seed / name).write_text(text)
        git(self.seed, "add", "-A")
        git(self.seed, "commit", "-q", "-m", message)
        git(self.seed, "push", "-q", "origin", "main")
        return git(self.seed, "rev-parse", "HEAD")

    def show(self, rev: str, path: str) -> str:
        return git(self.remote, "show", f"{rev}:{path}") + "\n"


def _make_world(tmp_path: Path, httpserver, monkeypatch, files: dict[str, str]) -> World:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    (home / "gitconfig").write_text("")
    for var in ("GH_TOKEN", "GITHUB_API_URL", "FLASKFIX_BOT_NAME", "FLASKFIX_BOT_EMAIL", "GIT_CONFIG_COUNT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setattr(gh.time, "sleep", lambda s: None)  # waits and backoffs: recorded elsewhere, not slept
    (tmp_path / "scratch").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))  # to see that nothing is left behind

    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    url = f"file://{remote}"
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", url, str(seed))
    git(seed, "checkout", "-q", "-b", "main")
    for name, text in files.items():
        (seed / name).write_text(text)
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "initial")
    git(seed, "push", "-q", "origin", "main")

    user = tmp_path / "user"
    git(tmp_path, "clone", "-q", url, str(user))
    git(user, "checkout", "-q", "-b", "feature")
    (user / "app.py").write_text((user / "app.py").read_text() + "# work in progress\n")
    (user / "notes.txt").write_text("untracked\n")
    monkeypatch.chdir(user)
    fake = FakeGitHub(OWNER, NAME, str(remote), TOKEN).install(httpserver)
    return World(tmp_path, remote, seed, user, fake)


@pytest.fixture
def world(tmp_path, httpserver, monkeypatch) -> World:  # type: ignore[no-untyped-def]
    return _make_world(tmp_path, httpserver, monkeypatch,
                       {"app.py": G2G.EXAMPLE_BEFORE, "cache.py": CACHE_SITE, "util.py": CLEAN})


@pytest.fixture
def clean_world(tmp_path, httpserver, monkeypatch) -> World:  # type: ignore[no-untyped-def]
    return _make_world(tmp_path, httpserver, monkeypatch, {"app.py": CLEAN})


def out(result) -> dict:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def user_state(w: World) -> dict[str, str]:
    return {
        "head": git(w.user, "symbolic-ref", "HEAD"),
        "status": git(w.user, "status", "--porcelain=v1", "--untracked-files=all"),
        "refs": git(w.user, "for-each-ref", "--format=%(refname) %(objectname)"),
        "worktrees": git(w.user, "worktree", "list", "--porcelain"),
        "app.py": (w.user / "app.py").read_text(),
        "notes.txt": (w.user / "notes.txt").read_text(),
        "index": git(w.user, "ls-files", "--stage"),
        "config": (w.user / ".git" / "config").read_text(),
        "scratch": " ".join(sorted(os.listdir(w.tmp / "scratch"))),
    }


# -- the first run ------------------------------------------------------------------------------


def test_first_run_pushes_one_branch_and_opens_one_pull_request(world: World) -> None:
    before = user_state(world)
    result = world.run("--label", "flaskfix", "--label", "bot", "--draft")
    data = out(result)
    head = world.remote_sha("refs/heads/flaskfix/autofix")
    main = world.remote_sha("refs/heads/main")
    assert data == {"operation": "created", "number": 1, "url": "https://github.example/octo/shop/pull/1",
                    "branch": "flaskfix/autofix", "head_sha": head}
    # the branch: one bot commit on top of main, with the fix and nothing else
    assert git(world.remote, "rev-parse", f"{head}^") == main
    assert git(world.remote, "rev-list", "--count", f"main..{head}") == "1"
    assert world.show(head, "app.py") == G2G.EXAMPLE_AFTER
    assert world.show(head, "cache.py") == CACHE_SITE
    assert git(world.remote, "diff", "--name-only", main, head) == "app.py"
    assert git(world.remote, "log", "-1", "--format=%an <%ae>|%cn", head) == \
        "flaskfix[bot] <flaskfix[bot]@users.noreply.github.com>|flaskfix[bot]"
    tree = git(world.remote, "rev-parse", f"{head}^{{tree}}")
    assert f"Flaskfix-Tree: {tree}" in git(world.remote, "log", "-1", "--format=%B", head)
    # the pull request: one, draft, labelled after creation
    assert len(world.fake.pulls) == 1
    pull = world.fake.pulls[1]
    assert pull["draft"] is True and pull["base"]["ref"] == "main" and pull["head"]["ref"] == "flaskfix/autofix"
    assert pull["labels"] == ["flaskfix", "bot"]
    assert world.fake.routes() == ["list", "create", "labels"]
    assert pull["title"] == "flaskfix: fix 1 Flask anti-pattern in 1 file"
    body = pull["body"]
    assert body.startswith("<!-- flaskfix -->\n")
    assert "### `global-to-g`" in body and "| `app.py` | 1 | 4 |" in body
    assert "### Not fixed" in body and "`cache.py:9`" in body and "reads the whole container" in body
    assert "### What changes in behaviour" in body and "each request starts with an empty" in body
    assert "flaskfix diff" in body
    # the user's checkout: same branch, same uncommitted work, no new refs or worktrees
    assert user_state(world) == before


def test_default_title_can_be_replaced_and_base_given(world: World) -> None:
    data = out(world.run("--title", "Fix Flask things", "--base", "main"))
    assert data["operation"] == "created"
    assert world.fake.pulls[1]["title"] == "Fix Flask things"
    assert world.fake.pulls[1]["labels"] == [] and world.fake.routes() == ["list", "create"]


# -- re-runs ------------------------------------------------------------------------------------


def test_second_run_with_nothing_new_changes_nothing(world: World) -> None:
    first = out(world.run("--label", "flaskfix"))
    n_requests = len(world.fake.requests)
    second = out(world.run("--label", "flaskfix"))
    assert second["operation"] == "unchanged"
    assert second["number"] == first["number"] and second["head_sha"] == first["head_sha"]
    assert world.remote_sha("refs/heads/flaskfix/autofix") == first["head_sha"]  # not pushed again
    assert [r.route for r in world.fake.requests[n_requests:]] == ["list"]  # no write at all
    assert len(world.fake.pulls) == 1


def test_second_run_with_new_fixes_updates_the_same_pull_request(world: World) -> None:
    first = out(world.run())
    main = world.commit_to_main({"extra.py": EXTRA_BEFORE}, "add a page")
    n_requests = len(world.fake.requests)
    second = out(world.run())
    assert second["operation"] == "updated" and second["number"] == first["number"]
    assert len(world.fake.pulls) == 1 and len(world.fake.open_pulls()) == 1
    assert [r.route for r in world.fake.requests[n_requests:]] == ["list", "update"]
    head = world.remote_sha("refs/heads/flaskfix/autofix")
    assert second["head_sha"] == head != first["head_sha"]
    assert git(world.remote, "rev-parse", f"{head}^") == main
    assert sorted(git(world.remote, "diff", "--name-only", main, head).split()) == ["app.py", "extra.py"]
    pull = world.fake.pulls[1]
    assert "`extra.py`" in pull["body"] and pull["title"] == "flaskfix: fix 2 Flask anti-patterns in 2 files"


def test_when_the_base_moves_the_branch_is_rebuilt_on_it(world: World) -> None:
    first = out(world.run())
    main = world.commit_to_main({"util.py": CLEAN + "\n\ndef other():\n    return 2\n"}, "unrelated")
    second = out(world.run())
    head = world.remote_sha("refs/heads/flaskfix/autofix")
    assert second["operation"] == "updated" and second["head_sha"] == head != first["head_sha"]
    assert git(world.remote, "rev-parse", f"{head}^") == main  # rebuilt on the new base, not merged
    assert git(world.remote, "rev-list", "--count", f"main..{head}") == "1"
    assert "def other()" in world.show(head, "util.py")
    assert world.show(head, "app.py") == G2G.EXAMPLE_AFTER
    assert len(world.fake.pulls) == 1


def test_no_changes_means_no_push_and_no_api_write(clean_world: World) -> None:
    before = user_state(clean_world)
    data = out(clean_world.run())
    assert data == {"operation": "none", "number": None, "url": None, "branch": "flaskfix/autofix", "head_sha": None}
    assert clean_world.fake.writes == []
    assert clean_world.remote_sha("refs/heads/flaskfix/autofix") is None
    assert user_state(clean_world) == before


def test_an_open_pull_request_whose_fixes_reached_the_base_is_closed_with_a_comment(world: World) -> None:
    first = out(world.run())
    world.commit_to_main({"app.py": G2G.EXAMPLE_AFTER}, "fix it by hand")
    data = out(world.run())
    assert data["operation"] == "closed" and data["number"] == first["number"]
    assert world.fake.pulls[1]["state"] == "closed"
    assert len(world.fake.comments) == 1 and "already" in world.fake.comments[0][1]
    assert world.remote_sha("refs/heads/flaskfix/autofix") == first["head_sha"]  # no push
    third = out(world.run())  # and then: nothing to do, nothing written
    assert third["operation"] == "none" and len(world.fake.comments) == 1


def test_a_pull_request_without_the_marker_is_not_closed(world: World) -> None:
    out(world.run())
    world.fake.pulls[1]["body"] = "a person rewrote this description"
    world.commit_to_main({"app.py": G2G.EXAMPLE_AFTER}, "fix it by hand")
    data = out(world.run())
    assert data["operation"] == "none" and world.fake.pulls[1]["state"] == "open" and world.fake.writes[-1].route != "update"


# -- the bot branch belongs to the bot ---------------------------------------------------------


def test_a_human_commit_on_the_bot_branch_stops_the_run(world: World) -> None:
    out(world.run())
    human = world.tmp / "human"
    git(world.tmp, "clone", "-q", f"file://{world.remote}", str(human))
    git(human, "checkout", "-q", "flaskfix/autofix")
    (human / "app.py").write_text((human / "app.py").read_text() + "# reviewed\n")
    git(human, "commit", "-q", "-am", "review tweak")
    git(human, "push", "-q", "origin", "flaskfix/autofix")
    human_sha = git(human, "rev-parse", "HEAD")
    world.commit_to_main({"extra.py": EXTRA_BEFORE}, "more")  # there would be something to push
    n_requests = len(world.fake.requests)
    result = world.run()
    assert result.exit_code == prmod.EXIT_CONFLICT == 8
    assert "not made by flaskfix" in result.stderr and human_sha[:12] in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the scan summary, then the one-line error
    assert world.remote_sha("refs/heads/flaskfix/autofix") == human_sha
    assert world.fake.requests[n_requests:] == []
    assert git(world.user, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert "refs/flaskfix" not in git(world.user, "for-each-ref") and os.listdir(world.tmp / "scratch") == []


def test_an_amended_bot_commit_counts_as_a_human_commit(world: World) -> None:
    out(world.run())
    human = world.tmp / "human"
    git(world.tmp, "clone", "-q", f"file://{world.remote}", str(human))
    git(human, "checkout", "-q", "flaskfix/autofix")
    (human / "util.py").write_text("# changed\n")
    git(human, "commit", "-q", "-a", "--amend", "--no-edit")  # keeps the trailer, changes the tree
    git(human, "push", "-q", "-f", "origin", "flaskfix/autofix")
    result = world.run()
    assert result.exit_code == 8 and "not made by flaskfix" in result.stderr


def test_a_branch_that_moved_during_the_run_is_not_overwritten(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first = out(world.run())
    world.commit_to_main({"extra.py": EXTRA_BEFORE}, "more")
    real_push = prmod.Workflow.push

    def racing_push(self, g, url, sha, expected):  # type: ignore[no-untyped-def]
        # someone (another run) pushes to the bot branch between our fetch and our push
        git(world.remote, "update-ref", "refs/heads/flaskfix/autofix", world.remote_sha("refs/heads/main"))
        return real_push(self, g, url, sha, expected)

    monkeypatch.setattr(prmod.Workflow, "push", racing_push)
    result = world.run()
    assert result.exit_code == 8 and "changed on the remote" in result.stderr
    assert world.remote_sha("refs/heads/flaskfix/autofix") == world.remote_sha("refs/heads/main") != first["head_sha"]
    assert [r.route for r in world.fake.writes] == ["create"]  # only the first run's


# -- dry run ---------------------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_changes_nothing(world: World) -> None:
    before = user_state(world)
    result = world.run("--dry-run", "--label", "flaskfix", fmt="text")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "branch: flaskfix/autofix" in text
    assert f"base:   main ({world.remote_sha('refs/heads/main')[:12]})" in text
    assert "title:  flaskfix: fix 1 Flask anti-pattern in 1 file" in text
    assert "git push --force-with-lease=refs/heads/flaskfix/autofix:(absent)" in text
    assert "POST /repos/octo/shop/pulls" in text and "POST /repos/octo/shop/issues/<new>/labels" in text
    assert "<!-- flaskfix -->" in text and "| `app.py` | 1 | 4 |" in text
    assert world.fake.writes == [] and world.fake.pulls == {}
    assert world.remote_sha("refs/heads/flaskfix/autofix") is None
    assert user_state(world) == before


def test_dry_run_needs_no_token_and_says_it_would_update(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out(world.run())
    world.commit_to_main({"extra.py": EXTRA_BEFORE}, "more")
    head = world.remote_sha("refs/heads/flaskfix/autofix")
    data = out(world.run("--dry-run"))
    assert data["operation"] == "updated" and data["number"] == 1 and data["dry_run"] is True
    monkeypatch.delenv("GITHUB_TOKEN")
    n_requests = len(world.fake.requests)
    result = world.run("--dry-run", fmt="text")
    assert result.exit_code == 0 and "not made: no token" in result.stdout
    assert len(world.fake.requests) == n_requests
    assert world.remote_sha("refs/heads/flaskfix/autofix") == head
    assert [r.route for r in world.fake.writes] == ["create"]


# -- errors -----------------------------------------------------------------------------------------


def _one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("flaskfix pr: error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_no_token(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GITHUB_TOKEN")
    result = world.run()
    assert result.exit_code == 3 and "GITHUB_TOKEN" in _one_line_error(result)
    assert world.fake.requests == [] and world.remote_sha("refs/heads/flaskfix/autofix") is None


def test_gh_token_is_the_fallback(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    assert out(world.run())["operation"] == "created"


def test_401_bad_token_before_anything_is_pushed(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_wrong")
    result = world.run()
    assert result.exit_code == 3 and "401" in _one_line_error(result)
    assert world.remote_sha("refs/heads/flaskfix/autofix") is None


def test_403_says_which_permissions_are_needed(world: World) -> None:
    world.fake.fail_next("create", 403, {"message": "Resource not accessible by integration"})
    result = world.run()
    line = _one_line_error(result)
    assert result.exit_code == 4
    assert "contents: write" in line and "pull-requests: write" in line
    assert world.fake.pulls == {}


def test_404(world: World) -> None:
    result = CliRunner().invoke(app, ["pr", "--repo", "octo/missing", "--api-url", world.fake.base_url, "-j", "1"])
    assert result.exit_code == 5 and "404" in _one_line_error(result)


def test_base_branch_not_on_the_remote(world: World) -> None:
    result = world.run("--base", "nope")
    assert result.exit_code == 5 and "'nope' does not exist" in _one_line_error(result)


def test_422_already_exists_finds_and_updates_the_pull_request(world: World) -> None:
    out(world.run())
    world.commit_to_main({"extra.py": EXTRA_BEFORE}, "more")
    world.fake.list_blind = 1  # the listing lags: flaskfix tries to create, GitHub says it exists
    data = out(world.run())
    assert data["operation"] == "updated" and data["number"] == 1
    assert [r.route for r in world.fake.requests][-4:] == ["list", "create", "list", "update"]
    assert len(world.fake.pulls) == 1 and "`extra.py`" in world.fake.pulls[1]["body"]


def test_other_422_is_a_clear_error(world: World) -> None:
    world.fake.fail_next("create", 422, {"message": "Validation Failed", "errors": [{"message": "base is weird"}]})
    result = world.run()
    assert result.exit_code == 7 and "base is weird" in _one_line_error(result)


def test_short_rate_limit_is_waited_for(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    slept: list[float] = []
    monkeypatch.setattr(gh.time, "sleep", slept.append)
    world.fake.fail_next("list", 403, {"message": "API rate limit exceeded"},
                         {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"})
    world.fake.fail_next("create", 429, {"message": "secondary rate limit"}, {"Retry-After": "7"})
    data = out(world.run())
    assert data["operation"] == "created" and len(world.fake.pulls) == 1
    assert slept == [1.0, 7.0]
    assert world.fake.routes() == ["list", "list", "create", "create"]


def test_long_rate_limit_fails_clearly(world: World) -> None:
    world.fake.fail_next("list", 403, {"message": "API rate limit exceeded"}, {"Retry-After": "3600"})
    result = world.run("--max-wait", "30")
    line = _one_line_error(result)
    assert result.exit_code == 6 and "rate limited" in line and "3600s" in line
    assert world.remote_sha("refs/heads/flaskfix/autofix") is None


def test_server_errors_on_reads_are_retried(world: World) -> None:
    world.fake.fail_next("list", 502, {"message": "Bad Gateway"}, times=2)
    assert out(world.run())["operation"] == "created"
    assert world.fake.routes() == ["list", "list", "list", "create"]


def test_a_failed_create_is_repeated_once_and_only_after_looking(world: World) -> None:
    world.fake.fail_next("create", 502, {"message": "Bad Gateway"})
    assert out(world.run())["operation"] == "created"
    assert world.fake.routes() == ["list", "create", "list", "create"] and len(world.fake.pulls) == 1


def test_a_create_that_keeps_failing_stops(world: World) -> None:
    before = user_state(world)
    world.fake.fail_next("create", 503, {"message": "Unavailable"}, times=5)
    result = world.run()
    assert result.exit_code == 7 and "HTTP 503" in _one_line_error(result)
    assert world.fake.routes() == ["list", "create", "list", "create"] and world.fake.pulls == {}
    assert user_state(world) == before  # the scratch work tree and private refs are gone


def test_a_file_that_cannot_be_parsed_is_reported_and_the_rest_is_fixed(world: World) -> None:
    world.commit_to_main({"broken.py": "def f(:\n    pass\n"}, "broken")
    result = world.run()
    assert result.exit_code == 2 and "broken.py: error: syntax error" in result.stderr
    assert json.loads(result.stdout)["operation"] == "created"
    body = world.fake.pulls[1]["body"]
    assert "### Files flaskfix could not process" in body and "`broken.py`" in body


def test_unreachable_api(world: World) -> None:
    result = CliRunner().invoke(app, ["pr", "--repo", f"{OWNER}/{NAME}", "--api-url", "http://127.0.0.1:9", "-j", "1"])
    assert result.exit_code == 7 and "network error" in _one_line_error(result)


def test_outside_a_git_repository(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    result = CliRunner().invoke(app, ["pr", "--repo", "octo/shop"])
    assert result.exit_code == 2 and "not inside a git work tree" in result.stderr


# -- the client alone: what is retried, what is not ---------------------------------------------------


def _client(handler) -> gh.GitHub:  # type: ignore[no-untyped-def]
    return gh.GitHub("https://api.example/api/v3", TOKEN, transport=httpx.MockTransport(handler), sleep=lambda s: None)


def test_client_retries_reads_after_network_errors() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=[{"number": 4}])

    assert _client(handler).open_pulls("o/r", "o", "b") == [{"number": 4}]
    assert len(calls) == 3 and str(calls[0].url).startswith("https://api.example/api/v3/repos/o/r/pulls?")
    assert calls[0].headers["Authorization"] == f"Bearer {TOKEN}" and TOKEN not in str(calls[0].url)


def test_client_never_repeats_a_create_after_a_network_error() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(gh.NetworkError) as err:
        _client(handler).create_pull("o/r", title="t", body="b", head="h", base="main", draft=False)
    assert len(calls) == 1 and err.value.exit_code == 7 and TOKEN not in str(err.value)


def test_workflow_looks_before_creating_again_after_a_network_error(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = gh.GitHub.create_pull
    attempts = []

    def flaky_create(self, *a, **kw):  # type: ignore[no-untyped-def]
        attempts.append(1)
        created = real(self, *a, **kw)  # it reached GitHub, but the answer was lost
        if len(attempts) == 1:
            raise gh.NetworkError("network error while creating the pull request", 7)
        return created

    monkeypatch.setattr(gh.GitHub, "create_pull", flaky_create)
    data = out(world.run())
    assert len(attempts) == 1 and len(world.fake.pulls) == 1 and data["number"] == 1
    assert world.fake.routes() == ["list", "create", "list"]


# -- the token never shows ------------------------------------------------------------------------------


def test_the_token_never_appears_in_any_output(world: World) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = []
    for extra in ([], ["--dry-run"], ["--label", "x"]):
        runs.append(subprocess.run(
            [sys.executable, "-m", "flaskfix", "pr", "--repo", f"{OWNER}/{NAME}", "--api-url", world.fake.base_url,
             "-j", "1", *extra], cwd=world.user, env=env, capture_output=True, text=True))
    world.fake.fail_next("list", 401, {"message": f"Bad credentials {TOKEN[:4]}"})
    runs.append(subprocess.run(
        [sys.executable, "-m", "flaskfix", "pr", "--repo", f"{OWNER}/{NAME}", "--api-url", world.fake.base_url, "-j", "1"],
        cwd=world.user, env=env, capture_output=True, text=True))
    assert [r.returncode for r in runs] == [0, 0, 0, 3]
    assert "opened pull request #1" in runs[0].stdout
    for r in runs:
        assert TOKEN not in r.stdout and TOKEN not in r.stderr
    for repo in (world.remote, world.user):
        history = git(repo, "log", "--all", "-p", "--format=%H %an %ae %cn %ce%n%B")
        assert TOKEN not in history
        assert TOKEN not in git(repo, "for-each-ref") and TOKEN not in (Path(repo) / ("config" if repo == world.remote else ".git/config")).read_text()
    assert "flaskfix[bot]" in git(world.remote, "log", "--all", "--format=%an")
    for req in world.fake.requests:
        assert TOKEN not in req.body and TOKEN not in req.path and TOKEN not in req.query
        assert req.headers.get("Authorization") == f"Bearer {TOKEN}"  # the one place it goes
    assert world.fake.pulls[1]["labels"] == ["x"]


def test_git_gets_the_token_only_through_the_environment_and_only_for_the_api_host() -> None:
    env = prmod.git_auth_env("https://github.com/octo/shop.git", "https://api.github.com", TOKEN, False)
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraheader"
    assert env["GIT_CONFIG_VALUE_0"].startswith("AUTHORIZATION: basic ") and TOKEN not in env["GIT_CONFIG_VALUE_0"]
    ghe = prmod.git_auth_env("https://git.corp.example/o/r.git", "https://git.corp.example/api/v3", TOKEN, False)
    assert ghe["GIT_CONFIG_KEY_0"] == "http.https://git.corp.example/.extraheader"
    for url, api, configured in [
        ("https://gitlab.com/o/r.git", "https://api.github.com", False),  # another host: never
        ("git@github.com:o/r.git", "https://api.github.com", False),  # ssh: its own keys
        ("file:///tmp/r.git", "https://api.github.com", False),
        ("https://github.com/o/r.git", "https://api.github.com", True),  # actions/checkout set one already
        ("https://me:pat@github.com/o/r.git", "https://api.github.com", False),
    ]:
        assert prmod.git_auth_env(url, api, TOKEN, configured) == {}
    scrub = prmod.Scrubber(TOKEN)
    assert scrub(f"x {TOKEN} https://u:{TOKEN}@h/r {env['GIT_CONFIG_VALUE_0']}").count("***") == 3


# -- the body ----------------------------------------------------------------------------------------------


def test_body_stays_under_githubs_limit_and_keeps_its_essentials() -> None:
    fixes = prmod.Fixes()
    for i in range(6000):
        fixes.changes["global-to-g"][f"pkg/very/long/module/path/number_{i:05d}.py"] = [4, 9]
        fixes.files.append(f"pkg/very/long/module/path/number_{i:05d}.py")
        fixes.findings.append((f"pkg/m{i}.py", 3, "global-to-g", "`X` | not moved: <reason> " * 3))
    body = prmod.build_body(fixes, "main", "flaskfix diff src")
    assert len(body) <= prmod.BODY_LIMIT
    assert body.startswith("<!-- flaskfix -->") and "### Reproduce" in body and "flaskfix diff src" in body
    assert "more files not shown" in body and "more findings not shown" in body
    assert "### What changes in behaviour" in body
    small = prmod.Fixes()
    small.changes["global-to-g"]["a.py"] = [1]
    small.files.append("a.py")
    assert "not shown" not in prmod.build_body(small, "main", "flaskfix diff")
    # the last resort: a body that cannot fit by cutting rows is cut whole, fences closed
    cut = prmod.build_body(fixes, "main", "flaskfix diff src", limit=3000)
    assert len(cut) <= 3000 and cut.count("```") % 2 == 0 and cut.count("<details>") == cut.count("</details>")
    assert cut.rstrip().endswith("`flaskfix explain <id>` tells more about each fix.")


def test_help_documents_the_exit_codes() -> None:
    result = CliRunner().invoke(app, ["pr", "--help"], terminal_width=400)
    text = " ".join(result.stdout.split())
    for code in ("3 no token", "4 permission denied", "5 repository or base branch not found", "6 rate limited",
                 "7 network error", "8 the bot branch", "9 a git command failed"):
        assert code in text


# -- ecosystem files --------------------------------------------------------------------------------------


def test_action_passes_inputs_through_env_and_writes_outputs() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    for step in steps:
        if "run" in step:
            assert "${{" not in step["run"], step["run"]  # never interpolated into the script
    passed = " ".join(str(v) for s in steps for v in {**(s.get("env") or {}), **(s.get("with") or {})}.values())
    for name in action["inputs"]:
        assert f"inputs.{name} " in passed + " " or f"inputs.{name}}}" in passed
    runs = " ".join(s.get("run", "") for s in steps)
    assert "args=(pr --repo" in runs and '"$venv/flaskfix" "${args[@]}"' in runs
    # flaskfix runs from a venv of its own; the caller's Python and PATH are left as they were
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["update-environment"] is False
    assert len(setup["uses"].split("@")[1].split()[0]) == 40  # pinned to a commit
    assert "${{ steps.python.outputs.python-path }}" in passed
    assert "GITHUB_OUTPUT" in runs and "--format json" in runs
    assert set(action["outputs"]) >= {"operation", "number", "url", "branch", "head-sha"}


def test_pre_commit_hooks() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["flaskfix"]["entry"].startswith("flaskfix apply") and "--yes" in hooks["flaskfix"]["entry"]
    assert hooks["flaskfix-check"]["entry"].startswith("flaskfix diff")
    for h in hooks.values():
        assert h["language"] == "python" and h["types"] == ["python"]


REPORT_SITE = CACHED


def test_a_change_and_the_manifest_line_it_needs_are_one_commit(tmp_path, httpserver, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A change that imports Flask-Caching in a project whose requirements.txt does not
    declare it: the pull request's one commit holds the rewrite and the added requirement."""
    w = _make_world(tmp_path, httpserver, monkeypatch, {
        "app.py": REPORT_SITE, "requirements.txt": "flask>=3\n",
        "pyproject.toml": '[tool.flaskfix.cache-route]\nexpensive = ["compute_report"]\n'})
    data = out(w.run())
    head = data["head_sha"]
    main = w.remote_sha("refs/heads/main")
    assert git(w.remote, "diff", "--name-only", main, head).split() == ["app.py", "requirements.txt"]
    assert w.show(head, "requirements.txt") == "flask>=3\nFlask-Caching>=2.0\n"
    assert "from flask_caching import Cache" in w.show(head, "app.py")
    body = w.fake.pulls[1]["body"]
    assert "### Requirements added" in body and "| `requirements.txt` | `Flask-Caching>=2.0` |" in body
    # one site (the cached view); creating the Cache is part of its change, not a second fix
    assert w.fake.pulls[1]["title"] == "flaskfix: fix 1 Flask anti-pattern in 1 file"
    assert "**New requirements:** `Flask-Caching>=2.0` (added to requirements.txt)." in body
    assert body.index("**New requirements:**") < body.index("### `cache-route`")  # at the top, not folded away


def test_body_counts_sites_and_lists_each_line_once() -> None:
    """Two sites on one line (a KeyError and a TypeError at one JSON subscript) are two
    fixes, shown as one line number: "2 | 69", not "69, 69"."""
    fixes = prmod.Fixes()
    fixes.changes["error-handler"]["app.py"] = [69, 69, 71]
    fixes.files.append("app.py")
    fixes.needs = ["`redis>=4.0` (added to requirements.txt)"]
    body = prmod.build_body(fixes, "main", "flaskfix diff")
    assert "| `app.py` | 3 | 69, 71 |" in body
    assert "**New requirements:** `redis>=4.0` (added to requirements.txt)." in body
    assert prmod.default_title(fixes) == "flaskfix: fix 3 Flask anti-patterns in 1 file"


# -- --verify -----------------------------------------------------------------------------------


def test_verify_runs_the_tests_without_the_token_and_says_so_in_the_body(world: World) -> None:
    """The command sees neither GITHUB_TOKEN nor GH_TOKEN (it fails if it does), runs on a
    copy (nothing left in the scratch folder), and the body says what it decided."""
    before = user_state(world)
    check = (f"{sys.executable} -c \"import os, sys; "
             "sys.exit(1 if os.environ.get('GITHUB_TOKEN') or os.environ.get('GH_TOKEN') else 0)\"")
    data = out(world.run("--verify", check))
    assert data["operation"] == "created"
    body = world.fake.pulls[1]["body"]
    assert "### Checked by the project's tests" in body
    assert f"2 run(s) of `{check}`; kept 1 of 1 change(s)" in body
    assert f"--verify {shlex.quote(check)}" in body  # the reproduce command
    assert user_state(world) == before


def test_verify_leaves_out_what_the_tests_contradict(world: World) -> None:
    """A command that fails whenever app.py holds the rewrite: the change is left out, the
    pull request is not opened, and the finding names the failure."""
    check = (f"{sys.executable} -c \"import sys, pathlib; "
             "sys.exit('g.data' in pathlib.Path('app.py').read_text())\"")
    data = out(world.run("--verify", check))
    assert data["operation"] == "none"
    assert world.fake.pulls == {}
