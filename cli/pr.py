"""``flaskfix pr``: open or update a pull request with the fixes, as a well-behaved bot.

The workflow, in order (nothing is written anywhere before step 6):

1. ask the remote (``git ls-remote``) for the base branch (default: the remote's default
   branch) and the bot branch, and fetch both into private refs (``refs/flaskfix/<run>/*``,
   deleted at the end): the user's branches, index, work tree and remote-tracking refs are
   never touched;
2. check out the base commit in a temporary ``git worktree`` (removed at the end, also on
   errors) and run the engine there;
3. stage the rewritten files and ``git commit-tree`` them on top of the base commit as
   the bot, with a ``Flaskfix-Tree: <tree>`` trailer. A commit is a flaskfix commit when
   the trailer names its own tree, so a commit made (or amended) by a person is noticed;
4. if the remote bot branch has any other commit, stop (exit 8);
5. read the open pull request of the bot branch (``head=OWNER:BRANCH``);
6. no changes: no push and no write, except closing an open flaskfix pull request (with a
   comment) because its fixes are already on the base branch. Changes: push with
   ``--force-with-lease`` (skipped when the remote branch already holds the same tree on
   the same base), then PATCH the open pull request or create one (draft if asked), then
   add the missing labels.

The token (``GITHUB_TOKEN``, then ``GH_TOKEN``) is used for the REST API, and for git
only over https to the API's host, through an ``http.extraheader`` passed in the child's
environment (never on a command line, never on disk). Everything printed is scrubbed of it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from contextlib import contextmanager
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, List, Optional
from urllib.parse import urlsplit

import typer

from flaskfix import codemods as registry
from flaskfix.cli.render import version
from flaskfix.cli.github import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_FORBIDDEN,
    EXIT_NOT_FOUND,
    EXIT_RATE_LIMITED,
    AlreadyExists,
    GitHub,
    GitHubError,
    NetworkError,
)

if TYPE_CHECKING:  # the engine is imported when a pull request is built, not at start-up
    from flaskfix.codemods.engine.pipeline import FileResult
    from flaskfix.codemods.engine.run import Summary

EXIT_OK, EXIT_USAGE = 0, 2
EXIT_CONFLICT = 8  # the bot branch holds commits not made by flaskfix, or moved during the run
EXIT_GIT = 9  # a git command failed (fetch, worktree, push)

DEFAULT_BRANCH = "flaskfix/autofix"
MARKER = "<!-- flaskfix -->"
TRAILER = "Flaskfix-Tree"
BODY_LIMIT = 65536  # GitHub's limit on a pull request body, in characters
BODY_BUDGET = 60000  # what flaskfix allows itself, leaving room for GitHub's own counting
DEFAULT_BOT_NAME = "flaskfix[bot]"
DEFAULT_BOT_EMAIL = "flaskfix[bot]@users.noreply.github.com"

EXIT_CODES_HELP = (
    "Exit codes: 0 done (created, updated, unchanged, closed, or nothing to fix); "
    "2 usage error, or a file could not be processed (the pull request is still made from the rest); "
    "3 no token, or the token was rejected (401); "
    "4 permission denied (403: the token needs contents: write and pull-requests: write); "
    "5 repository or base branch not found (404); "
    "6 rate limited for longer than --max-wait; "
    "7 network error, GitHub server error or unexpected API answer; "
    "8 the bot branch has commits not made by flaskfix, or moved during the run; "
    "9 a git command failed (fetch, worktree, push)."
)


class PrError(Exception):
    """Stops the run: ``str()`` is the one-line message, ``code`` the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Options:
    repo: str
    paths: list[str] = field(default_factory=list)
    base: str | None = None
    branch: str = DEFAULT_BRANCH
    remote: str = "origin"
    api_url: str = "https://api.github.com"
    title: str | None = None
    labels: list[str] = field(default_factory=list)
    draft: bool = False
    dry_run: bool = False
    select: list[str] | None = None
    ignore: list[str] | None = None
    jobs: int = 0
    black: bool | None = None
    max_wait: float = 60.0
    #: --verify: the command that runs the project's tests (run without the token), its
    #: timeout, total budget and whether tests failing before any change are accepted
    verify: str | None = None
    verify_timeout: float = 600.0
    verify_budget: float | None = None
    verify_baseline: bool = False
    no_verify: bool = False

    @property
    def owner(self) -> str:
        return self.repo.split("/", 1)[0]


@dataclass
class Outcome:
    operation: str  # created | updated | unchanged | closed | none
    number: int | None = None
    url: str | None = None
    branch: str = DEFAULT_BRANCH
    head_sha: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"operation": self.operation, "number": self.number, "url": self.url, "branch": self.branch,
                "head_sha": self.head_sha}


# -- secrets -------------------------------------------------------------------------------


def token_from_env() -> str | None:
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


class Scrubber:
    """Removes the token (and any credentials inside URLs) from text about to be shown."""

    def __init__(self, token: str | None) -> None:
        self.secrets = [s for s in {token, base64.b64encode(f"x-access-token:{token}".encode()).decode()} if s]

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return re.sub(r"(\w+://)[^/@\s]+@", r"\1***@", text)


def git_auth_env(remote_url: str, api_url: str, token: str | None, configured_header: bool) -> dict[str, str]:
    """Environment that lets git authenticate to an https GitHub remote with the token.

    Only for https remotes on the API's own host (``github.com`` for ``api.github.com``),
    only when the URL carries no credentials and no ``http.extraheader`` is configured
    already (``actions/checkout`` sets one; two Authorization headers are refused)."""
    if not token or configured_header:
        return {}
    parts = urlsplit(remote_url)
    if parts.scheme != "https" or parts.username or parts.password:
        return {}
    api_host = urlsplit(api_url).hostname or ""
    git_host = "github.com" if api_host == "api.github.com" else api_host
    if (parts.hostname or "").lower() != git_host.lower():
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    n = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    return {
        "GIT_CONFIG_COUNT": str(n + 1),
        f"GIT_CONFIG_KEY_{n}": f"http.https://{parts.hostname}/.extraheader",
        f"GIT_CONFIG_VALUE_{n}": f"AUTHORIZATION: basic {basic}",
    }


# -- git -------------------------------------------------------------------------------------


class Git:
    def __init__(self, cwd: str, scrub: Scrubber, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.scrub = scrub
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}

    def run(self, *args: str, cwd: str | None = None, check: bool = True, env: dict[str, str] | None = None,
            what: str | None = None) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(
                ["git", *args], cwd=cwd or self.cwd, capture_output=True, text=True, check=False,
                env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise PrError("git is not installed (or not on PATH)", EXIT_GIT) from None
        if check and proc.returncode != 0:
            raise PrError(f"{what or 'git ' + args[0]} failed: {self.last_line(proc.stderr)}", EXIT_GIT)
        return proc

    def out(self, *args: str, **kw: Any) -> str:
        return self.run(*args, **kw).stdout.strip()

    def last_line(self, text: str) -> str:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("hint:")]
        return self.scrub(lines[-1] if lines else "no message")


def _remote_refs(git: Git, url: str, refs: list[str]) -> dict[str, str]:
    out = git.out("ls-remote", "--", url, *refs, what="reading the remote (git ls-remote)")
    found = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        found[ref] = sha
    return found


def _remote_default_branch(git: Git, url: str) -> str | None:
    out = git.out("ls-remote", "--symref", "--", url, "HEAD", what="reading the remote (git ls-remote)")
    m = re.search(r"^ref: refs/heads/(\S+)\tHEAD$", out, re.MULTILINE)
    return m.group(1) if m else None


@dataclass
class BotCommit:
    sha: str
    tree: str
    parents: list[str]
    trailer: str


def _commits(git: Git, tip: str, not_in: str) -> list[BotCommit]:
    fmt = f"%H%x09%T%x09%P%x09%(trailers:key={TRAILER},valueonly,separator=%x2C)"
    out = git.out("log", f"--format={fmt}", tip, "--not", not_in, "--", what="reading the bot branch")
    commits = []
    for line in out.splitlines():
        sha, tree, parents, trailer = (line.split("\t") + ["", "", "", ""])[:4]
        commits.append(BotCommit(sha, tree, parents.split(), trailer.strip()))
    return commits


# -- the pull request text ---------------------------------------------------------------------


@dataclass
class Fixes:
    """What the engine did, with paths relative to the repository root."""

    changes: dict[str, dict[str, list[int]]] = field(default_factory=lambda: defaultdict(dict))  # id -> file -> lines
    findings: list[tuple[str, int, str, str]] = field(default_factory=list)  # file, line, id, message
    errors: list[tuple[str, str]] = field(default_factory=list)  # file, error
    files: list[str] = field(default_factory=list)  # changed files
    #: manifests given a requirement the changes need: (file, the lines added)
    requirements: list[tuple[str, list[str]]] = field(default_factory=list)
    #: what the changes need that the project did not have (Summary.new_requirements)
    needs: list[str] = field(default_factory=list)
    #: --verify: "N runs of `CMD` in S s; kept K of M changes", and the per-endpoint table
    verified: str | None = None
    evidence: list[str] = field(default_factory=list)

    @property
    def rewritten(self) -> int:
        """Changed files that hold a rewrite (the manifests are not counted)."""
        return len(self.files) - len(self.requirements)

    @property
    def total(self) -> int:
        return sum(len(lines) for per_file in self.changes.values() for lines in per_file.values())


def _cell(text: str) -> str:
    """One table cell: one line, pipes escaped (also inside code spans, as GFM tables
    need), HTML and backslashes escaped outside code spans (entities would show there)."""
    parts = " ".join(str(text).split()).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans at all
        parts = ["'".join(parts)]
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("\\", "\\\\").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|")


def _code(path: str) -> str:
    return "`" + path.replace("`", "'").replace("|", "\\|") + "`"


def default_title(fixes: Fixes) -> str:
    n, m = fixes.total, fixes.rewritten
    return f"flaskfix: fix {n} Flask anti-pattern{'s' if n != 1 else ''} in {m} file{'s' if m != 1 else ''}"


def reproduce_command(opts: Options, rel_paths: list[str]) -> str:
    cmd = ["flaskfix", "diff"]
    if opts.select:
        cmd += ["--select", ",".join(opts.select)]
    if opts.ignore:
        cmd += ["--ignore", ",".join(opts.ignore)]
    if opts.black is not None:
        cmd.append("--black" if opts.black else "--no-black")
    if opts.verify:
        cmd += ["--verify", opts.verify]
    cmd += [p for p in rel_paths if p != "."]
    return shlex.join(cmd)


def build_body(fixes: Fixes, base: str, reproduce: str, limit: int = BODY_BUDGET) -> str:
    """The pull request body, under ``limit`` characters: long lists are cut first, with a
    note saying how many rows were left out."""
    for cap in (None, 200, 50, 10, 0):
        body = _render_body(fixes, base, reproduce, cap)
        if len(body) <= limit:
            return body
    # Still too long (enormous behaviour notes?): keep the head and the reproduce section.
    tail = _reproduce_section(reproduce)
    note = "\n\n_The rest of this description was cut to fit GitHub's size limit._\n\n"
    head = body[: max(0, limit - len(tail) - len(note))]
    head = head[: head.rfind("\n")] if "\n" in head else head
    if head.count("```") % 2:
        head += "\n```"
    head += "\n</details>" * (head.count("<details>") - head.count("</details>"))
    return head + note + tail


def _rows(items: list[str], cap: int | None, what: str) -> list[str]:
    if cap is None or len(items) <= cap:
        return items
    shown = items[:cap]
    return shown + [f"| … | {len(items) - cap} more {what} not shown: run the command below to see them all |"]


def _render_body(fixes: Fixes, base: str, reproduce: str, cap: int | None) -> str:
    n, m = fixes.total, fixes.rewritten
    out = [
        MARKER,
        f"flaskfix rewrote {n} Flask performance or reliability anti-pattern{'s' if n != 1 else ''} "
        f"in {m} file{'s' if m != 1 else ''} of `{_cell(base)}`. Each rewrite keeps what the code computes, "
        "or changes it only as described under *What changes in behaviour*. Please review before merging.",
        "",
    ]
    if fixes.needs:
        out += ["**New requirements:** " + "; ".join(_cell(n) for n in fixes.needs) + ".", ""]
    for cid in sorted(fixes.changes, key=_order):
        per_file = fixes.changes[cid]
        cm = _codemod(cid)
        out += [f"### `{cid}`: {_cell(cm.SUMMARY) if cm else ''}", "", "| File | Sites fixed | Lines |", "|---|---:|---|"]
        rows = [f"| {_code(f)} | {len(lines)} | {', '.join(map(str, sorted(set(lines))))} |" for f, lines in sorted(per_file.items())]
        out += _rows(rows, cap, "files")
        out.append("")
    if fixes.verified:
        out += ["### Checked by the project's tests", "",
                f"`flaskfix --verify` ran the tests before and after: {_cell(fixes.verified)}. A change they contradict "
                "is left out and listed under *Not fixed*.", ""]
        if fixes.evidence:
            out += ["Per endpoint the tests requested (SQL statements, before -> after):", "",
                    "```", *fixes.evidence, "```", ""]
    if fixes.requirements:
        out += ["### Requirements added", "",
                "Packages the rewrites import that the project did not declare, added where it declares Flask:", "",
                "| File | Added |", "|---|---|"]
        out += [f"| {_code(f)} | {', '.join(_code(x) for x in added)} |" for f, added in fixes.requirements]
        out.append("")
    if fixes.findings:
        out += ["### Not fixed", "",
                "flaskfix recognised these sites but could not prove a rewrite safe, so it left them alone:", "",
                "| Where | Codemod | Why not |", "|---|---|---|"]
        rows = [f"| {_code(f'{f}:{line}')} | `{cid}` | {_cell(msg)} |" for f, line, cid, msg in fixes.findings]
        out += _rows(rows, cap, "findings")
        out.append("")
    if fixes.errors:
        out += ["### Files flaskfix could not process", "", "| File | Error |", "|---|---|"]
        out += _rows([f"| {_code(f)} | {_cell(e)} |" for f, e in fixes.errors], cap, "files")
        out.append("")
    notes = [cid for cid in sorted(fixes.changes, key=_order) if _codemod(cid) and _codemod(cid).BEHAVIOUR.strip()]
    if notes:
        out += ["### What changes in behaviour", ""]
        for cid in notes:
            text = textwrap.fill(" ".join(textwrap.dedent(_codemod(cid).BEHAVIOUR).split()), 100)  # type: ignore[union-attr]
            out += [f"<details><summary><code>{cid}</code></summary>", "", _cell_block(text), "", "</details>", ""]
    return "\n".join(out) + "\n" + _reproduce_section(reproduce)


def _cell_block(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _reproduce_section(reproduce: str) -> str:
    return (
        f"### Reproduce\n\nOn a checkout of the base branch, with flaskfix {version()}:\n\n```sh\n"
        + reproduce + "\n```\n\n"
        f"`flaskfix explain <id>` tells more about each fix.\n"
    )


def _codemod(cid: str) -> Any:
    try:
        return registry.get(cid)
    except KeyError:
        return None


def _order(cid: str) -> tuple[int, str]:
    cm = _codemod(cid)
    return (cm.ORDER if cm else 10**6, cid)


# -- the workflow ----------------------------------------------------------------------------


class Workflow:
    def __init__(self, opts: Options, token: str | None, say: Any) -> None:
        self.opts = opts
        self.token = token
        self.scrub = Scrubber(token)
        self.say = say  # say(line): a progress/diagnostic line on stderr
        self.run_id = uuid.uuid4().hex[:12]
        self.private_refs: list[str] = []
        self.planned: list[str] = []

    def repo_root(self) -> str:
        try:
            proc = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise PrError("git is not installed (or not on PATH)", EXIT_GIT) from None
        if proc.returncode != 0 or not proc.stdout.strip():
            raise PrError("not inside a git work tree: run flaskfix pr from a clone of the repository", EXIT_USAGE)
        return proc.stdout.strip()

    def rel_paths(self, root: str) -> list[str]:
        out = []
        real_root = os.path.realpath(root)
        for p in self.opts.paths or ["."]:
            rel = os.path.relpath(os.path.realpath(p), real_root)
            if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
                raise PrError(f"{p}: outside the repository {root}", EXIT_USAGE)
            out.append(rel)
        return out

    def run(self) -> tuple[Outcome, str | None, Fixes]:
        """Returns the outcome, the dry-run report (or None) and the fixes."""
        opts = self.opts
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", opts.repo):
            raise PrError(f"--repo must be OWNER/NAME, not {opts.repo!r}", EXIT_USAGE)
        if not opts.dry_run and not self.token:
            raise PrError("no token: set GITHUB_TOKEN (or GH_TOKEN) in the environment", EXIT_AUTH)
        root = self.repo_root()
        rel_paths = self.rel_paths(root)
        scratch_git = Git(root, self.scrub)
        url = scratch_git.run("remote", "get-url", "--", opts.remote, check=False)
        if url.returncode != 0:
            raise PrError(f"no git remote named {opts.remote!r} (see --remote)", EXIT_USAGE)
        fetch_url = url.stdout.strip()
        push_url = scratch_git.out("remote", "get-url", "--push", "--", opts.remote) or fetch_url
        configured = scratch_git.run("config", "--get-urlmatch", "http.extraheader", push_url, check=False).stdout.strip()
        git = Git(root, self.scrub, git_auth_env(push_url, opts.api_url, self.token, bool(configured)))

        api = GitHub(opts.api_url, self.token, max_wait=opts.max_wait) if self.token else None
        try:
            base = opts.base or _remote_default_branch(git, fetch_url)
            if base is None and api is not None:
                base = api.default_branch(opts.repo)
            if base is None:
                raise PrError("cannot tell the remote's default branch: pass --base", EXIT_USAGE)
            if base == opts.branch:
                raise PrError(f"the bot branch {opts.branch!r} cannot be the base branch", EXIT_USAGE)
            with self.fetched(git, fetch_url, base) as (base_sha, branch_sha):
                with self.worktree(git, base_sha) as tree_dir:
                    fixes, _summary = self.fix(tree_dir, rel_paths)
                    return self.finish(git, api, push_url, tree_dir, base, base_sha, branch_sha, fixes, rel_paths)
        finally:
            if api is not None:
                api.close()

    # -- steps ------------------------------------------------------------------------------

    @contextmanager
    def fetched(self, git: Git, url: str, base: str) -> Iterator[tuple[str, str | None]]:
        branch = self.opts.branch
        refs = _remote_refs(git, url, [f"refs/heads/{base}", f"refs/heads/{branch}"])
        if f"refs/heads/{base}" not in refs:
            raise PrError(f"the base branch {base!r} does not exist on the remote {self.opts.remote!r}", EXIT_NOT_FOUND)
        prefix = f"refs/flaskfix/{self.run_id}"
        specs = [f"+refs/heads/{base}:{prefix}/base"]
        if f"refs/heads/{branch}" in refs:
            specs.append(f"+refs/heads/{branch}:{prefix}/branch")
        self.private_refs = [s.split(":", 1)[1] for s in specs]
        try:
            git.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--", url,
                    *specs, what="fetching the base branch (git fetch)")
            base_sha = git.out("rev-parse", "--verify", f"{prefix}/base^{{commit}}")
            branch_sha = git.out("rev-parse", "--verify", f"{prefix}/branch^{{commit}}") if len(specs) > 1 else None
            yield base_sha, branch_sha
        finally:
            for ref in self.private_refs:
                git.run("update-ref", "-d", ref, check=False)

    @contextmanager
    def worktree(self, git: Git, base_sha: str) -> Iterator[str]:
        scratch = tempfile.mkdtemp(prefix="flaskfix-pr-")
        hooks = os.path.join(scratch, "no-hooks")
        os.mkdir(hooks)
        tree_dir = os.path.join(scratch, "tree")
        self.hooks = hooks
        try:
            git.run("-c", f"core.hooksPath={hooks}", "worktree", "add", "--quiet", "--detach", tree_dir, base_sha,
                    what="checking out the base branch (git worktree add)")
            yield tree_dir
        finally:
            git.run("worktree", "remove", "--force", tree_dir, check=False)
            shutil.rmtree(scratch, ignore_errors=True)
            git.run("worktree", "prune", check=False)

    def fix(self, tree_dir: str, rel_paths: list[str]) -> tuple[Fixes, Summary]:
        from flaskfix.codemods.engine.run import Summary, UsageError, execute, plan

        opts = self.opts
        targets = [os.path.normpath(os.path.join(tree_dir, p)) for p in rel_paths]
        for t, p in zip(targets, rel_paths):
            if not os.path.exists(t):
                raise PrError(f"{p}: not on the base branch", EXIT_USAGE)
        real_tree = os.path.realpath(tree_dir)
        try:
            p = plan(targets, opts.select, opts.ignore, opts.black)
        except UsageError as exc:
            raise PrError(str(exc), EXIT_USAGE) from None
        fixes = Fixes()
        summary = Summary()
        changed: list[tuple[FileResult, str]] = []
        from flaskfix.cli.interrupt import check

        results: list[FileResult] = []
        for r in execute(p, opts.jobs):
            check()  # a Ctrl-C that code in between swallowed (see interrupt.install)
            results.append(r)
        verify_cmd = None if opts.no_verify else opts.verify or p.config.verify
        if verify_cmd:
            results = self.verified(p, results, verify_cmd, fixes)
        for r in results:
            summary.add(r)
            rel = os.path.relpath(os.path.realpath(r.path), real_tree)
            if r.error is not None:
                fixes.errors.append((rel, r.error))
                self.say(f"{rel}: error: {r.error}")
            for f in r.findings:
                fixes.findings.append((rel, f.line, f.codemod, f.message))
            if r.changed:
                changed.append((r, rel))
        check()
        # a file goes in only with the manifest lines its changes need (changeset)
        from flaskfix.cli import changeset

        kept, dropped = changeset.with_support([r for r, _ in changed])
        for line in dropped:
            path, _, why = line.partition(": ")
            fixes.errors.append((os.path.relpath(os.path.realpath(path), real_tree), why))
            self.say(line)
        for r, rel in changed:
            if any(r is k for k in kept):
                self.write(r, rel)
                fixes.files.append(rel)
                if r.supports is not None:
                    added = [ln[1:] for ln in r.diff().splitlines() if ln.startswith("+") and not ln.startswith("+++")]
                    fixes.requirements.append((rel, added))
                for c in r.changes:
                    if c.role == "site":
                        fixes.changes[c.codemod].setdefault(rel, []).append(c.line)
        summary.finish()
        proposed = Summary()  # what the kept changes need (a dropped one's requirement is not stated)
        for r in kept:
            proposed.add(r)
        fixes.needs = proposed.new_requirements()
        self.say(
            f"flaskfix: {summary.total_changes} anti-pattern site(s) to fix in {summary.changed_files} file(s), "
            f"{sum(summary.findings.values())} not fixed, {summary.failed} failed; scanned {summary.files} file(s)"
        )
        return fixes, summary

    def verified(self, p: Any, results: list[FileResult], cmd: str, fixes: Fixes) -> list[FileResult]:
        """``--verify``: the project's tests judge the changes; only the kept ones go on
        (the token is not in the tests' environment)."""
        from flaskfix.cli import verify as ver

        opts = self.opts
        verifier = ver.Verifier(p, results, ver.Options(cmd, opts.verify_timeout, opts.verify_budget, opts.verify_baseline,
                                                        drop_token=True), self.say if sys.stderr.isatty() else lambda _m: None)
        try:
            v = verifier.verify()
        except ver.VerifyError as exc:
            raise PrError(f"--verify: {exc}", EXIT_USAGE) from None
        # (no times in the body: a re-run with the same outcome must leave the pull request as it is)
        fixes.verified = (f"{v.runs} run(s) of `{cmd}`; kept {len(v.kept)} of "
                          f"{len(verifier.units)} change(s)" + (f", left out {len(v.dropped)}" if v.dropped else ""))
        fixes.evidence = ver.evidence_table(ver.evidence_rows(v.before, v.after), times=False)
        self.say(f"flaskfix: --verify: {fixes.verified} ({v.seconds:.1f}s)")
        return v.results

    def write(self, r: FileResult, rel: str) -> None:
        from flaskfix.codemods.engine.source import ChangedOnDisk, write_atomic

        assert r.source is not None and r.new_text is not None
        try:
            write_atomic(r.source, r.new_text)
        except (ChangedOnDisk, OSError) as exc:  # the scratch tree is ours: this is unexpected
            raise PrError(f"{rel}: cannot write the fix in the scratch work tree: {exc}", EXIT_GIT) from None

    def finish(self, git: Git, api: GitHub | None, push_url: str, tree_dir: str, base: str, base_sha: str,
               branch_sha: str | None, fixes: Fixes, rel_paths: list[str]) -> tuple[Outcome, str | None, Fixes]:
        opts = self.opts
        branch = opts.branch
        if fixes.files:
            git.run("add", "--", *fixes.files, cwd=tree_dir, what="staging the fixes (git add)")
        tree = git.out("write-tree", cwd=tree_dir)
        base_tree = git.out("rev-parse", f"{base_sha}^{{tree}}")
        changed = tree != base_tree
        title = opts.title or default_title(fixes)
        reproduce = reproduce_command(opts, rel_paths)
        body = build_body(fixes, base, reproduce)

        # Someone else's commits on the bot branch: never overwrite them, never close their PR.
        same_as_remote = False
        if branch_sha is not None:
            commits = _commits(git, branch_sha, base_sha)
            foreign = [c for c in commits if c.trailer != c.tree]
            if foreign:
                raise PrError(
                    f"the branch {branch!r} on the remote has {len(foreign)} commit(s) not made by flaskfix "
                    f"(newest: {foreign[0].sha[:12]}); not overwriting them: merge or close that work, or delete "
                    f"the branch, or pass another --branch",
                    EXIT_CONFLICT,
                )
            same_as_remote = (len(commits) == 1 and commits[0].parents == [base_sha] and commits[0].tree == tree)

        pulls = api.open_pulls(opts.repo, opts.owner, branch) if api is not None else None
        pr = _pick(pulls, base) if pulls else None

        if opts.dry_run:
            return self.dry_run_report(base, base_sha, branch_sha, changed, same_as_remote, pulls, pr, title, body,
                                       fixes, push_url)

        if not changed:
            if pr is not None and MARKER in (pr.get("body") or ""):
                assert api is not None
                api.comment(opts.repo, pr["number"],
                            f"{MARKER}\nflaskfix finds nothing left to fix on `{base}`: these fixes are already "
                            "there (or no longer apply). Closing this pull request.")
                closed = api.update_pull(opts.repo, pr["number"], state="closed")
                return Outcome("closed", pr["number"], pr.get("html_url"), branch,
                               (closed.get("head") or pr.get("head") or {}).get("sha")), None, fixes
            return Outcome("none", None, None, branch, None), None, fixes

        wrote = False
        if same_as_remote:
            assert branch_sha is not None
            head_sha = branch_sha
        else:
            head_sha = self.commit(git, tree, base_sha, title, fixes, reproduce)
            self.push(git, push_url, head_sha, branch_sha)
            wrote = True

        assert api is not None
        if pr is not None:
            outcome = self.update(api, pr, title, body, base, head_sha, wrote)
        else:
            outcome = self.create(api, title, body, base, head_sha)
        return outcome, None, fixes

    def commit(self, git: Git, tree: str, base_sha: str, title: str, fixes: Fixes, reproduce: str) -> str:
        name = os.environ.get("FLASKFIX_BOT_NAME") or DEFAULT_BOT_NAME
        email = os.environ.get("FLASKFIX_BOT_EMAIL") or DEFAULT_BOT_EMAIL
        ids = ", ".join(sorted(fixes.changes, key=_order))
        message = (
            f"{title}\n\nAutomatic fixes by flaskfix ({ids}). Reproduce on the parent commit with:\n\n"
            f"    {reproduce}\n\n{TRAILER}: {tree}\n"
        )
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
               "GIT_COMMITTER_EMAIL": email}
        proc = subprocess.run(
            ["git", "-c", "commit.gpgSign=false", "commit-tree", tree, "-p", base_sha, "-F", "-"],
            cwd=git.cwd, input=message, capture_output=True, text=True, check=False, env={**git.env, **env},
        )
        if proc.returncode != 0:
            raise PrError(f"git commit-tree failed: {git.last_line(proc.stderr)}", EXIT_GIT)
        return proc.stdout.strip()

    def push(self, git: Git, url: str, sha: str, expected: str | None) -> None:
        ref = f"refs/heads/{self.opts.branch}"
        lease = f"--force-with-lease={ref}:{expected or ''}"
        proc = git.run("push", "--quiet", "--no-verify", "--porcelain", lease, "--", url, f"{sha}:{ref}", check=False)
        if proc.returncode == 0:
            return
        text = proc.stdout + proc.stderr
        if "stale info" in text or "fetch first" in text or "non-fast-forward" in text:
            raise PrError(
                f"the branch {self.opts.branch!r} changed on the remote while flaskfix worked; nothing pushed: run again",
                EXIT_CONFLICT,
            )
        raise PrError(f"git push failed: {git.last_line(proc.stderr or proc.stdout)}", EXIT_GIT)

    def update(self, api: GitHub, pr: dict[str, Any], title: str, body: str, base: str, head_sha: str,
               pushed: bool) -> Outcome:
        opts = self.opts
        fields: dict[str, Any] = {}
        if pr.get("title") != title:
            fields["title"] = title
        if (pr.get("body") or "") != body:
            fields["body"] = body
        if (pr.get("base") or {}).get("ref") not in (None, base):
            fields["base"] = base
        if fields:
            api.update_pull(opts.repo, pr["number"], **fields)
        labelled = self.label(api, pr["number"], [lb.get("name") for lb in pr.get("labels") or []])
        op = "updated" if (pushed or fields or labelled) else "unchanged"
        return Outcome(op, pr["number"], pr.get("html_url"), opts.branch, head_sha)

    def create(self, api: GitHub, title: str, body: str, base: str, head_sha: str) -> Outcome:
        opts = self.opts
        try:
            pr = api.create_pull(opts.repo, title=title, body=body, head=opts.branch, base=base, draft=opts.draft)
        except AlreadyExists:
            found = _pick(api.open_pulls(opts.repo, opts.owner, opts.branch), base)
            if found is None:
                raise PrError("GitHub says the pull request already exists, but it cannot be found; run again",
                              EXIT_API) from None
            return self.update(api, found, title, body, base, head_sha, True)
        except GitHubError as exc:
            if not isinstance(exc, NetworkError) and (exc.status or 0) < 500:
                raise
            # The create may or may not have reached GitHub (no answer, or a server error):
            # look before trying once more, so that there is never a second pull request.
            found = _pick(api.open_pulls(opts.repo, opts.owner, opts.branch), base)
            if found is not None:
                return self.update(api, found, title, body, base, head_sha, True)
            pr = api.create_pull(opts.repo, title=title, body=body, head=opts.branch, base=base, draft=opts.draft)
        self.label(api, pr["number"], [])
        return Outcome("created", pr["number"], pr.get("html_url"), opts.branch, head_sha)

    def label(self, api: GitHub, number: int, present: list[Any]) -> bool:
        missing = [lb for lb in dict.fromkeys(self.opts.labels) if lb not in present]
        if missing:
            api.add_labels(self.opts.repo, number, missing)
        return bool(missing)

    def dry_run_report(self, base: str, base_sha: str, branch_sha: str | None, changed: bool, same_as_remote: bool,
                       pulls: list[dict[str, Any]] | None, pr: dict[str, Any] | None, title: str, body: str,
                       fixes: Fixes, push_url: str) -> tuple[Outcome, str, Fixes]:
        opts = self.opts
        repo = opts.repo
        calls = []
        if pulls is None:
            calls.append(f"GET /repos/{repo}/pulls?head={opts.owner}:{opts.branch}&state=open  "
                         "(not made: no token in the environment)")
        else:
            calls.append(f"GET /repos/{repo}/pulls?head={opts.owner}:{opts.branch}&state=open  "
                         f"(made: {'#' + str(pr['number']) if pr else 'no open pull request'})")
        number = f"#{pr['number']}" if pr else "#<new>"
        if not changed:
            op = "none"
            if pr is not None and MARKER in (pr.get("body") or ""):
                op = "closed"
                calls += [f"POST /repos/{repo}/issues/{pr['number']}/comments", f"PATCH /repos/{repo}/pulls/{pr['number']}  state=closed"]
            elif pulls is None:
                calls.append("(if an open flaskfix pull request exists: comment on it and close it)")
        else:
            lease = branch_sha or "(absent)"
            if same_as_remote:
                calls.append(f"git push: none (the remote branch already holds these fixes on {base_sha[:12]})")
            else:
                calls.append(f"git push --force-with-lease=refs/heads/{opts.branch}:{lease} "
                             f"{self.scrub(push_url)} <new commit>:refs/heads/{opts.branch}")
            if pr is not None:
                op = "updated"
                calls.append(f"PATCH /repos/{repo}/pulls/{pr['number']}  (title, body, base when they differ)")
            else:
                op = "created"
                calls.append(f"POST /repos/{repo}/pulls  head={opts.branch} base={base} draft={str(opts.draft).lower()}")
            if opts.labels:
                calls.append(f"POST /repos/{repo}/issues/{number[1:]}/labels  {json.dumps(opts.labels)}")
        report = "\n".join([
            "flaskfix pr --dry-run: nothing was pushed and no pull request was touched",
            f"branch: {opts.branch}",
            f"base:   {base} ({base_sha[:12]})",
            f"would:  {_would(op, pr)}",
            f"title:  {title}",
            "planned calls:",
            *[f"  {c}" for c in calls],
            "body:",
            body,
        ])
        return Outcome(op, pr["number"] if pr else None, pr.get("html_url") if pr else None, opts.branch,
                       branch_sha if same_as_remote else None), report, fixes


def _would(op: str, pr: dict[str, Any] | None) -> str:
    if op == "created":
        return "push the branch and open a pull request"
    if op == "updated":
        return f"push the branch and update pull request #{pr['number'] if pr else '?'}"
    if op == "closed":
        return f"close pull request #{pr['number'] if pr else '?'} (its fixes are on the base branch)"
    return "nothing (no changes)"


def _pick(pulls: list[dict[str, Any]] | None, base: str) -> dict[str, Any] | None:
    if not pulls:
        return None
    for p in pulls:
        if (p.get("base") or {}).get("ref") == base:
            return p
    return pulls[0]


# -- the command ----------------------------------------------------------------------------


def _ids(values: Optional[List[str]]) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def register(app: typer.Typer) -> None:
    """Add the ``pr`` command to the flaskfix app."""

    @app.command("pr", help=(
        "Open or update a pull request with the fixes, built on the base branch in a temporary work tree "
        "(your checkout is left alone). The token comes from GITHUB_TOKEN, then GH_TOKEN. " + EXIT_CODES_HELP
    ))
    def pr_command(
        paths: Optional[List[str]] = typer.Argument(None, help="Files or folders (default: the current folder).",
                                                   show_default=False, metavar="[PATH]..."),
        repo: str = typer.Option(..., "--repo", help="The GitHub repository, OWNER/NAME.", metavar="OWNER/NAME"),
        base: Optional[str] = typer.Option(None, "--base", help="Base branch (default: the remote's default branch).", metavar="BRANCH"),
        branch: str = typer.Option(DEFAULT_BRANCH, "--branch", help="The bot's branch.", metavar="NAME"),
        remote: str = typer.Option("origin", "--remote", help="The git remote to fetch from and push to.", metavar="REMOTE"),
        api_url: Optional[str] = typer.Option(
            None, "--api-url", help="GitHub API URL (default: GITHUB_API_URL, then https://api.github.com).", metavar="URL"),
        title: Optional[str] = typer.Option(None, "--title", help="Pull request title.", metavar="TITLE"),
        label: Optional[List[str]] = typer.Option(None, "--label", help="Label to add (repeatable).", metavar="LABEL"),
        draft: bool = typer.Option(False, "--draft", help="Open the pull request as a draft."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be done; change nothing anywhere."),
        output_format: str = typer.Option("text", "--format", help="text or json.", metavar="FORMAT"),
        max_wait: float = typer.Option(60.0, "--max-wait", help="Longest rate-limit wait, in seconds.", metavar="SECONDS"),
        select: Optional[List[str]] = typer.Option(None, "--select", help="Only these codemod ids (comma-separated).", metavar="IDS"),
        ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Skip these codemod ids (comma-separated).", metavar="IDS"),
        jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes (default: all cores).", show_default=False,
                                 metavar="N"),
        black: Optional[bool] = typer.Option(None, "--black/--no-black", help="Format the changed lines with black."),
        verify: Optional[str] = typer.Option(
            None, "--verify", metavar="CMD",
            help="Run CMD (the project's tests, without the GitHub token) before and after; propose only the changes "
            "that keep them green (also [tool.flaskfix] verify)."),
        verify_timeout: float = typer.Option(600.0, "--verify-timeout", metavar="SECONDS", help="Longest run of the --verify command."),
        verify_budget: Optional[float] = typer.Option(None, "--verify-budget", metavar="SECONDS",
                                                      help="Total time for --verify's runs."),
        verify_baseline: bool = typer.Option(False, "--verify-baseline", help="With --verify: accept tests that already fail."),
        no_verify: bool = typer.Option(False, "--no-verify", help="Do not run [tool.flaskfix] verify this time."),
    ) -> None:
        token = token_from_env()
        scrub = Scrubber(token)

        def say(line: str) -> None:
            print(scrub(line), file=sys.stderr)

        if output_format not in ("text", "json"):
            say(f"flaskfix pr: error: --format must be text or json, not {output_format!r}")
            raise typer.Exit(EXIT_USAGE)
        opts = Options(
            repo=repo, paths=list(paths or []), base=base, branch=branch, remote=remote,
            api_url=api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com",
            title=title, labels=list(label or []), draft=draft, dry_run=dry_run, select=_ids(select),
            ignore=_ids(ignore), jobs=jobs, black=black, max_wait=max_wait, verify=verify,
            verify_timeout=verify_timeout, verify_budget=verify_budget, verify_baseline=verify_baseline,
            no_verify=no_verify,
        )
        try:
            outcome, report, fixes = Workflow(opts, token, say).run()
        except PrError as exc:
            say(f"flaskfix pr: error: {exc}")
            raise typer.Exit(exc.code) from None
        except GitHubError as exc:
            say(f"flaskfix pr: error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        if output_format == "json":
            data = outcome.as_json()
            if report is not None:
                data["dry_run"] = True
            print(scrub(json.dumps(data)))
        elif report is not None:
            print(scrub(report))
        else:
            print(scrub(_describe(outcome, opts)))
        raise typer.Exit(EXIT_USAGE if fixes.errors else EXIT_OK)


def _describe(o: Outcome, opts: Options) -> str:
    if o.operation == "none":
        return "flaskfix pr: nothing to fix; no pull request needed"
    what = {"created": "opened", "updated": "updated", "unchanged": "up to date:", "closed": "closed (fixes already on the base branch):"}
    return f"flaskfix pr: {what[o.operation]} pull request #{o.number} {o.url or ''} (branch {o.branch}, head {str(o.head_sha)[:12]})".rstrip()


__all__ = ["register", "build_body", "Workflow", "Options", "EXIT_AUTH", "EXIT_FORBIDDEN", "EXIT_NOT_FOUND",
           "EXIT_RATE_LIMITED", "EXIT_API", "EXIT_CONFLICT", "EXIT_GIT"]
