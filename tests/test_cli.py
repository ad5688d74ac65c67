"""The command-line contract: exit codes, what is written when, bad input, git apply."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from flaskfix.codemods.engine.source import ChangedOnDisk, read_source, write_atomic

ARTICLE = '''\
from flask import Flask

app = Flask(__name__)
cache = {}


@app.route("/data")
def store_data():
    cache["data"] = {"key": "value"}
    return "Stored!"
'''
CLEAN = '''\
from flask import Flask, g

app = Flask(__name__)


@app.route("/data")
def store_data():
    g.data = {"key": "value"}
    return "Stored!"
'''


UNRELATED = """\
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "hello"
"""


def flaskfix(*args: str, cwd: Path, stdin: str | None = "", env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flaskfix", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        timeout=120,
    )


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "app.py").write_text(ARTICLE)
    (tmp_path / "clean.py").write_text(UNRELATED)
    return tmp_path


@pytest.fixture()
def repo(project: Path) -> Path:
    git(project, "init", "-q", "-b", "main")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    return project


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and ".git" not in p.parts}


# -- list / explain ------------------------------------------------------------------------


def test_list_and_explain(tmp_path: Path) -> None:
    out = flaskfix("list", cwd=tmp_path)
    assert out.returncode == 0
    assert out.stdout.splitlines()[0].startswith("global-to-g ")
    ex = flaskfix("explain", "global-to-g", cwd=tmp_path)
    assert ex.returncode == 0
    for heading in ("Why", "Example: before", "Example: after", "What changes in behaviour", "Refuses"):
        assert heading in ex.stdout
    bad = flaskfix("explain", "no-such-thing", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown codemod id" in bad.stderr


# -- diff ----------------------------------------------------------------------------------


def test_diff_exit_codes_and_writes_nothing(project: Path) -> None:
    before = snapshot(project)
    out = flaskfix("diff", ".", cwd=project)
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("--- a/app.py\n+++ b/app.py\n")
    assert "+    g.data = {\"key\": \"value\"}" in out.stdout
    assert "app.py:4: global-to-g: would fix:" in out.stderr
    assert snapshot(project) == before
    clean = flaskfix("diff", "clean.py", cwd=project)
    assert clean.returncode == 0 and clean.stdout == ""
    assert flaskfix("diff", "--exit-zero", cwd=project).returncode == 0


def test_diff_passes_git_apply_and_matches_apply(repo: Path) -> None:
    out = flaskfix("diff", cwd=repo)
    patch = repo.parent / "fix.patch"
    patch.write_text(out.stdout)
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=repo, check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=repo, check=True)
    patched = (repo / "app.py").read_text()
    git(repo, "checkout", "--", "app.py")
    applied = flaskfix("apply", "--yes", cwd=repo)
    assert applied.returncode == 0, applied.stderr
    assert (repo / "app.py").read_text() == patched == CLEAN


def test_bad_files_reported_one_line_each_and_others_still_processed(project: Path) -> None:
    (project / "broken.py").write_text("def oops(:\n    pass\n")
    (project / "binary.py").write_bytes(b"x = '\xff\xfe'\n")
    (project / "py2.py").write_text("print 'hello'\n")
    out = flaskfix("diff", cwd=project)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if ": error: " in line]
    assert sorted(e.split(":")[0] for e in errors) == ["binary.py", "broken.py", "py2.py"]
    assert "syntax error at line 1" in next(e for e in errors if e.startswith("broken.py"))
    assert "cannot decode as utf-8" in next(e for e in errors if e.startswith("binary.py"))
    assert "--- a/app.py" in out.stdout  # the good file is still diffed


def test_unknown_select_is_a_usage_error(project: Path) -> None:
    out = flaskfix("diff", "--select", "nope", cwd=project)
    assert out.returncode == 2 and "unknown codemod id 'nope'" in out.stderr
    assert "did you mean" not in out.stderr
    near = flaskfix("diff", "--select", "bulk_query", cwd=project)
    assert near.returncode == 2
    assert "unknown codemod id 'bulk_query'; did you mean 'bulk-query'?" in near.stderr


def test_version() -> None:
    from flaskfix import __version__

    out = flaskfix("--version", cwd=Path.cwd())
    assert out.returncode == 0 and out.stdout == f"flaskfix {__version__}\n"


@pytest.mark.parametrize("command", [["diff", "--help"], ["apply", "--help"], ["pr", "--help"]])
def test_help_is_plain_text(command: list[str]) -> None:
    """No rich markup: "[tool.black]" is shown as written; no "[default: 0]" beside
    "default: all cores"; metavars name what they take."""
    out = flaskfix(*command, cwd=Path.cwd())
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    if command[0] != "pr":
        assert "[tool.black]" in text
    assert "-j, --jobs N Worker processes (default: all cores)." in text
    assert "[default: 0]" not in text and "<" not in text and "╭" not in text


def test_missing_path_is_an_error(project: Path) -> None:
    out = flaskfix("diff", "missing.py", cwd=project)
    assert out.returncode == 2 and "missing.py: error: no such file or directory" in out.stderr


def test_jobs_do_not_change_the_output(project: Path) -> None:
    for i in range(12):
        (project / f"mod{i}.py").write_text(ARTICLE.replace("cache", f"cache{i}"))
    one = flaskfix("diff", "--jobs", "1", cwd=project)
    two = flaskfix("diff", "--jobs", "2", cwd=project)
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout and one.stdout.count("+++ b/") == 13


# -- discovery and configuration -----------------------------------------------------------


def test_gitignore_and_exclude_are_honoured(project: Path) -> None:
    (project / ".gitignore").write_text("generated/\n")
    (project / "generated").mkdir()
    (project / "generated" / "gen.py").write_text(ARTICLE)
    (project / "legacy").mkdir()
    (project / "legacy" / "old.py").write_text(ARTICLE)
    (project / "legacy" / ".gitignore").write_text("skip_me.py\n")
    (project / "legacy" / "skip_me.py").write_text(ARTICLE)
    (project / "pyproject.toml").write_text('[tool.flaskfix]\nexclude = ["legacy/old.py"]\n')
    out = flaskfix("diff", cwd=project)
    assert "+++ b/app.py" in out.stdout
    assert "generated" not in out.stdout and "legacy" not in out.stdout
    # an explicit path is always taken
    explicit = flaskfix("diff", "legacy/old.py", cwd=project)
    assert "+++ b/legacy/old.py" in explicit.stdout


def test_config_select_and_unknown_table(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.flaskfix]\nignore = ["global-to-g"]\n')
    assert flaskfix("diff", cwd=project).returncode == 0
    (project / "pyproject.toml").write_text("[tool.flaskfix.not-a-codemod]\nx = 1\n")
    out = flaskfix("diff", cwd=project)
    assert out.returncode == 2 and "no codemod has the id 'not-a-codemod'" in out.stderr


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[tool.flaskfix]\nexlude = ['x/']\n", "[tool.flaskfix] has no key 'exlude'"),
        ("[tool.flaskfix.bulk-query]\nmax_id = 5\n", "[tool.flaskfix.bulk-query] has no key 'max_id' (its keys: max_ids"),
        ("[tool.flaskfix.bulk-query]\nmax_ids = '5'\n", "max_ids = '5': expected a value like the default, 1000"),
        ("[tool.flaskfix.cache-route]\nwhole_table_queries = 1\n", "expected a value like the default, True"),
        ("[tool.flaskfix.error-handler]\nexceptions = [1]\n", "exceptions = [1]: expected"),
        # values of the right type that no run can use: configuration errors too, not findings
        ("[tool.flaskfix.cache-route]\ntimeout = -5\n", "[tool.flaskfix.cache-route]: timeout must be a positive number of seconds, not -5"),
        ("[tool.flaskfix.cache-route]\nexpensive = ['']\n", "expensive must be a list of non-empty strings, not ['']"),
        ("[tool.flaskfix.error-handler]\nstatus = 200\n", "status must be an HTTP error status (400-599), not 200"),
        ("[tool.flaskfix.error-handler]\nexceptions = ['OSError']\n", "exceptions must be a list drawn from"),
        ("[tool.flaskfix.bulk-query]\nmax_ids = 0\n", "max_ids must be a positive whole number, not 0"),
    ],
)
def test_config_typos_are_usage_errors(project: Path, toml: str, message: str) -> None:
    """A misspelt key or a value of the wrong type would silently keep the default."""
    (project / "pyproject.toml").write_text(toml)
    out = flaskfix("diff", cwd=project)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr  # one line, no finding at "app.py:1"


def test_config_values_of_the_right_type_are_taken(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        "[tool.flaskfix.cache-route]\nexpensive = 'build_report'\ntimeout = 30\n"
        "[tool.flaskfix.bulk-query]\nmax_ids = 5\n"
    )
    assert flaskfix("diff", "--exit-zero", cwd=project).returncode == 0


# -- apply ---------------------------------------------------------------------------------


def test_apply_without_terminal_or_yes_writes_nothing(repo: Path) -> None:
    before = snapshot(repo)
    out = flaskfix("apply", cwd=repo, stdin="y\n")
    assert out.returncode == 2
    assert "pass --yes" in out.stderr
    assert "--- a/app.py" in out.stdout  # the preview is still shown
    assert snapshot(repo) == before


def test_apply_yes_then_nothing_left(repo: Path) -> None:
    out = flaskfix("apply", "--yes", cwd=repo)
    assert out.returncode == 0, out.stderr
    assert (repo / "app.py").read_text() == CLEAN
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "fix")
    again = flaskfix("apply", "--yes", cwd=repo)
    assert again.returncode == 0 and again.stdout == ""


def test_apply_refuses_dirty_files_unless_allowed(repo: Path) -> None:
    (repo / "app.py").write_text(ARTICLE + "\n# local edit\n")
    out = flaskfix("apply", "--yes", cwd=repo)
    assert out.returncode == 2
    assert "app.py: not written: it has uncommitted changes" in out.stderr
    assert (repo / "app.py").read_text().endswith("# local edit\n")
    new = ARTICLE.replace('"data"', '"fresh"')  # its own key: g.data would collide with app.py's
    (repo / "new.py").write_text(new)  # untracked counts as not committed
    out = flaskfix("apply", "--yes", "new.py", cwd=repo)
    assert out.returncode == 2 and (repo / "new.py").read_text() == new
    ok = flaskfix("apply", "--yes", "--allow-dirty", cwd=repo)
    assert ok.returncode == 0
    assert (repo / "app.py").read_text() == CLEAN + "\n# local edit\n"
    assert (repo / "new.py").read_text() == CLEAN.replace(".data", ".fresh")


def test_apply_outside_git_needs_no_allow_dirty(project: Path) -> None:
    out = flaskfix("apply", "--yes", cwd=project)
    assert out.returncode == 0, out.stderr
    assert (project / "app.py").read_text() == CLEAN


@pytest.mark.parametrize("answer, written", [("y", True), ("n", False), ("", False)])
def test_apply_asks_on_a_terminal(repo: Path, answer: str, written: bool) -> None:
    child = pexpect.spawn(
        sys.executable, ["-m", "flaskfix", "apply"], cwd=str(repo), env={**os.environ, "NO_COLOR": "1"}, timeout=60, encoding="utf-8"
    )
    child.expect(r"Apply the fixes of 1 anti-pattern site \(1 file\)\? \[y/N\]")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert ((repo / "app.py").read_text() == CLEAN) is written
    assert child.exitstatus == 0


# -- writing keeps everything ---------------------------------------------------------------


def test_encoding_bom_newlines_and_mode_are_kept(project: Path) -> None:
    # distinct keys: the same g attribute in two modules would collide within a request
    article = clean = lambda key: (ARTICLE.replace('"data"', f'"{key}"'), CLEAN.replace(".data", f".{key}"))  # noqa: E731
    latin = "# -*- coding: latin-1 -*-\n# café\n" + article("latin")[0]
    (project / "latin.py").write_bytes(latin.encode("latin-1"))
    (project / "bom.py").write_bytes(b"\xef\xbb\xbf" + article("bom")[0].encode())
    (project / "crlf.py").write_bytes(article("crlf")[0].replace("\n", "\r\n").encode())
    os.chmod(project / "crlf.py", 0o750)
    out = flaskfix("apply", "--yes", cwd=project)
    assert out.returncode == 0, out.stderr
    assert (project / "latin.py").read_bytes() == ("# -*- coding: latin-1 -*-\n# café\n" + clean("latin")[1]).encode("latin-1")
    assert (project / "bom.py").read_bytes() == b"\xef\xbb\xbf" + clean("bom")[1].encode()
    assert (project / "crlf.py").read_bytes() == clean("crlf")[1].replace("\n", "\r\n").encode()
    assert stat.S_IMODE(os.stat(project / "crlf.py").st_mode) == 0o750
    assert not list(project.glob(".flaskfix-*"))


def test_a_file_changed_after_reading_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text(ARTICLE)
    source = read_source(str(path))
    path.write_text(ARTICLE + "# edited meanwhile\n")
    with pytest.raises(ChangedOnDisk):
        write_atomic(source, CLEAN)
    assert path.read_text() == ARTICLE + "# edited meanwhile\n"
    assert [p.name for p in tmp_path.iterdir()] == ["app.py"]  # no temp file left


def test_black_formats_only_changed_lines(project: Path) -> None:
    messy = ARTICLE.replace('app = Flask(__name__)', "app = Flask( __name__ )")
    (project / "app.py").write_text(messy.replace('cache["data"] = {"key": "value"}', "cache['data'] = {'key':'value'}"))
    (project / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    out = flaskfix("diff", "app.py", cwd=project)
    assert "+    g.data = {\"key\": \"value\"}" in out.stdout  # black normalised the changed line
    assert "app = Flask( __name__ )" in (project / "app.py").read_text()
    assert "-app = Flask( __name__ )" not in out.stdout  # but left the untouched line alone
    plain = flaskfix("diff", "--no-black", "app.py", cwd=project)
    assert "+    g.data = {'key':'value'}" in plain.stdout


def test_no_traceback_for_unreadable_file(project: Path) -> None:
    if os.geteuid() == 0:
        # root reads everything; a directory named like a module is unreadable as a file
        (project / "pkg.py").mkdir()
        (project / "pkg.py" / "inner.py").write_text(UNRELATED)
        out = flaskfix("diff", "pkg.py", cwd=project)
        assert "Traceback" not in out.stderr
    else:  # pragma: no cover - depends on the user running the tests
        p = project / "secret.py"
        p.write_text(ARTICLE)
        p.chmod(0)
        out = flaskfix("diff", cwd=project)
        assert out.returncode == 2 and "secret.py: error: permission denied" in out.stderr
    shutil.rmtree(project / "pkg.py", ignore_errors=True)


def test_diff_machine_formats(project: Path) -> None:
    import json

    out = flaskfix("diff", "--format", "json", cwd=project)
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    [entry] = doc["files"]
    assert entry["path"] == "app.py" and entry["patch"].startswith("--- a/app.py")
    assert entry["changes"][0]["codemod"] == "global-to-g"
    gh = flaskfix("diff", "--format", "github", cwd=project)
    assert gh.stdout.startswith("::warning file=app.py,line=4,title=flaskfix global-to-g::")
    sarif = json.loads(flaskfix("diff", "--format", "sarif", cwd=project).stdout)
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    bad = flaskfix("diff", "--format", "xml", cwd=project)
    assert bad.returncode == 2 and "unknown format" in bad.stderr


def test_progress_bar_only_on_a_terminal_for_big_runs(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    for i in range(320):
        (tmp_path / f"m{i}.py").write_text(f"x = {i}\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    child = pexpect.spawn(
        sys.executable, ["-m", "flaskfix", "diff", "--jobs", "1", "."], cwd=str(tmp_path), env=env, timeout=120, encoding="utf-8"
    )
    child.expect(pexpect.EOF)
    assert "320/320" in child.before
    piped = flaskfix("diff", "--jobs", "1", ".", cwd=tmp_path, env=env)
    assert "/320" not in piped.stderr and "━" not in piped.stderr
    assert "scanned 320 file(s)" in piped.stderr


def test_per_file_ignores_skip_file_and_suppressed_counts(project: Path) -> None:
    (project / "legacy").mkdir()
    (project / "legacy" / "old.py").write_text(ARTICLE.replace('"data"', '"old"'))
    (project / "skipped.py").write_text("# flaskfix: skip-file\n" + ARTICLE.replace('"data"', '"skip"'))
    (project / "quiet.py").write_text(ARTICLE.replace('"data"', '"quiet"').replace("cache = {}", "cache = {}  # flaskfix: ignore"))
    (project / "pyproject.toml").write_text('[tool.flaskfix.per-file-ignores]\n"legacy/*.py" = ["global-to-g"]\n')
    out = flaskfix("diff", cwd=project)
    assert out.returncode == 1
    assert "+++ b/app.py" in out.stdout
    for untouched in ("legacy/old.py", "skipped.py", "quiet.py"):
        assert f"+++ b/{untouched}" not in out.stdout
    assert "global-to-g     1 to fix, 0 not fixed (see findings), 1 suppressed" in out.stderr
    assert "1 skipped by `# flaskfix: skip-file`" in out.stderr
    (project / "pyproject.toml").write_text('[tool.flaskfix.per-file-ignores]\n"legacy/*.py" = ["no-such-id"]\n')
    bad = flaskfix("diff", cwd=project)
    assert bad.returncode == 2 and "unknown codemod ids" in bad.stderr


# -- `flaskfix diff -`: the code comes from stdin (editor integrations) ---------------------

STDIN_APP = (Path(__file__).parent / "fixtures" / "global-to-g" / "article" / "input.py").read_text()


def test_diff_of_stdin_reads_the_buffer_not_the_disk(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    on_disk = "from flask import Flask\n\napp = Flask(__name__)\n"
    (tmp_path / "pkg" / "app.py").write_text(on_disk)
    (tmp_path / "pyproject.toml").write_text('[tool.flaskfix]\nselect = ["global-to-g"]\n')
    buffer = "# unsaved edit\n" + STDIN_APP
    out = flaskfix("diff", "-", "--stdin-filename", "pkg/app.py", cwd=tmp_path, stdin=buffer)
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("--- a/pkg/app.py\n+++ b/pkg/app.py\n")
    assert " # unsaved edit\n-from flask import Flask\n+from flask import Flask, g\n" in out.stdout
    assert "pkg/app.py:5: global-to-g: would fix:" in out.stderr  # lines of the buffer
    assert (tmp_path / "pkg" / "app.py").read_text() == on_disk  # nothing written
    # the patch applies to the buffer and gives what `apply` would write for it
    doc = json.loads(flaskfix("diff", "-", "--stdin-filename", "pkg/app.py", "--format", "json", "--exit-zero",
                              cwd=tmp_path, stdin=buffer).stdout)
    assert [f["path"] for f in doc["files"]] == ["pkg/app.py"] and doc["summary"]["changes"] == 1


def test_diff_of_stdin_sees_the_rest_of_the_project(tmp_path: Path) -> None:
    """The buffer is a module of its project: a view in it reuses the Cache another module defines."""
    (tmp_path / "requirements.txt").write_text("flask\nflask-caching\n")
    (tmp_path / "ext.py").write_text("from flask_caching import Cache\n\ncache = Cache()\n")
    (tmp_path / "app.py").write_text("")  # the editor's buffer is newer than the disk
    buffer = ("from flask import Flask\n\nfrom ext import cache\n\napp = Flask(__name__)\n"
              "app.config['CACHE_TYPE'] = 'SimpleCache'\ncache.init_app(app)\n\n\n"
              "@app.route('/report')\ndef report():\n    return {'total': compute_report()}\n\n\n"
              "def compute_report():\n    return sum(range(10))\n")
    out = flaskfix("diff", "-", "--stdin-filename", "app.py", "--select", "cache-route", cwd=tmp_path, stdin=buffer)
    assert out.returncode == 1, out.stderr
    assert "+@cache.cached(timeout=60" in out.stdout and "--- a/ext.py" not in out.stdout
    assert "supporting edit" not in out.stderr  # ext.py's Cache is used, none is created
    # what ext.py holds decides it: with a dict there, the buffer gets a Cache of its own
    (tmp_path / "ext.py").write_text("cache = {}\n")
    out = flaskfix("diff", "-", "--stdin-filename", "app.py", "--select", "cache-route", cwd=tmp_path, stdin=buffer)
    assert "+@flask_cache.cached(timeout=60" in out.stdout and "with 1 supporting edit" in out.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["diff", "-", "app.py"], "`-` (read stdin) cannot be combined with other paths"),
    (["diff", "--stdin-filename", "app.py"], "--stdin-filename needs `-` as the path"),
    (["diff", "-", "--stdin-filename", "nowhere/app.py"], "no such folder nowhere"),
])
def test_diff_of_stdin_usage_errors(tmp_path: Path, args: list[str], says: str) -> None:
    out = flaskfix(*args, cwd=tmp_path, stdin=STDIN_APP)
    assert out.returncode == 2 and says in out.stderr and out.stdout == ""


def test_diff_of_stdin_that_does_not_parse(tmp_path: Path) -> None:
    out = flaskfix("diff", "-", "--stdin-filename", "app.py", cwd=tmp_path, stdin="def f(:\n")
    assert out.returncode == 2 and "app.py: error: syntax error at line 1" in out.stderr and out.stdout == ""
