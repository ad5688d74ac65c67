"""The ``flaskfix`` command: parses arguments, calls the library, prints.

Exit codes (CI can trust them):
  0  nothing to change (diff), or changes applied (apply)
  1  diff showed changes
  2  usage error, or any file failed (unreadable, syntax error, not written)
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, List, Optional

import typer

from flaskfix import __version__
from flaskfix import codemods as registry
from flaskfix.cli import render

if TYPE_CHECKING:  # the engine is imported by the commands that run it: `list` and `--help` stay cheap
    from flaskfix.codemods.engine.pipeline import FileResult
    from flaskfix.codemods.engine.run import Plan, Summary

app = typer.Typer(
    name="flaskfix",
    help="Find Flask performance and reliability anti-patterns and rewrite them into their documented fixes.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: "[tool.black]" is shown, not eaten as markup
)

EXIT_CLEAN, EXIT_CHANGES, EXIT_ERROR = 0, 1, 2


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"flaskfix {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print flaskfix's version and exit."
    ),
) -> None:
    """Find Flask performance and reliability anti-patterns and rewrite them into their documented fixes."""

PathsArg = typer.Argument(
    None, help="Files or folders (default: the current folder).", show_default=False, metavar="[PATH]..."
)
SelectOpt = typer.Option(None, "--select", help="Only these codemod ids (comma-separated).", metavar="IDS")
IgnoreOpt = typer.Option(None, "--ignore", help="Skip these codemod ids (comma-separated).", metavar="IDS")
JobsOpt = typer.Option(0, "--jobs", "-j", help="Worker processes (default: all cores).", show_default=False, metavar="N")
NoColorOpt = typer.Option(False, "--no-color", help="Never colour the output.")
NoCacheOpt = typer.Option(False, "--no-cache", help="Do not read or write the result cache (nor the remembered walk).")
BlackOpt = typer.Option(
    None,
    "--black/--no-black",
    help="Format the lines flaskfix changes with black (the project's [tool.black], else its ruff settings) and "
    "sort the imports it adds where the file's imports were sorted (isort). On by default.",
)


def _interruptible(command: Callable[..., None]) -> Callable[..., None]:
    """Ctrl-C before anything is written: one line, exit 130 (not click's "Aborted!")."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except KeyboardInterrupt:
            from flaskfix.cli.interrupt import exit_interrupted

            exit_interrupted("flaskfix: interrupted; no file was written")

    return wrapper


VerifyOpt = typer.Option(
    None, "--verify", metavar="CMD",
    help="Run CMD (the project's tests) on a copy of the tree before and after; keep only the changes that keep them "
    "green (also [tool.flaskfix] verify).")
VerifyTimeoutOpt = typer.Option(600.0, "--verify-timeout", metavar="SECONDS", help="Longest run of the --verify command.")
VerifyBudgetOpt = typer.Option(
    None, "--verify-budget", metavar="SECONDS",
    help="Total time for --verify's runs; changes it could not decide in time are left out, with a finding.")
NoVerifyOpt = typer.Option(False, "--no-verify", help="Do not run [tool.flaskfix] verify this time.")
VerifyBaselineOpt = typer.Option(
    False, "--verify-baseline", help="With --verify: accept tests that already fail; blame a change only for new failures.")


def _ids(values: Optional[List[str]]) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _plan(paths, select, ignore, black, no_cache: bool) -> Plan:  # type: ignore[no-untyped-def]
    from flaskfix.codemods.engine.run import UsageError, plan

    try:
        return plan(list(paths or []), _ids(select), _ids(ignore), black, use_cache=not no_cache)
    except UsageError as exc:
        render.err(f"flaskfix: error: {exc}")
        raise typer.Exit(EXIT_ERROR) from None


def _run(
    p: Plan, jobs: int, color: bool, no_cache: bool, keep: list[FileResult] | None = None, stdin: bytes | None = None,
    verify: "VerifyArgs | None" = None,
) -> tuple[list[FileResult], Summary]:
    """Run; print each diff to stdout as it arrives (unless ``keep`` collects every result
    for a machine-readable format) and each file's lines to stderr. With ``verify``,
    nothing is shown until the project's tests have judged the changes: then the kept
    ones are shown (or collected in ``keep``) as if they were all there was."""
    if verify is not None:
        return _run_verified(p, jobs, color, no_cache, keep, stdin, verify)
    from flaskfix.cli.interrupt import check
    from flaskfix.codemods.engine.run import Summary, execute

    summary = Summary()
    changed: list[FileResult] = []
    progress = render.progress(len(p.files))
    for result in render.track(progress, execute(p, jobs, use_cache=not no_cache, stdin=stdin)):
        check()  # a Ctrl-C that code in between swallowed (see interrupt.install)
        _present(result, summary, changed, keep, color)
    check()
    return changed, summary.finish()


def _present(result: FileResult, summary: Summary, changed: list[FileResult], keep: list[FileResult] | None,
             color: bool) -> None:
    """Count one result; print its diff (or keep it for a format) and its report lines."""
    from flaskfix.cli.interrupt import deferred

    summary.add(result)
    if keep is not None:
        if result.changed or result.changes or result.findings or result.error:
            keep.append(result)
    elif result.changed:
        with deferred():  # Ctrl-C after this file's diff, not in the middle of a line
            sys.stdout.write(render.colour_diff(result.diff(), color))
            sys.stdout.flush()
    if result.changed:
        changed.append(result)
    for line in render.report_lines(result):
        render.err(line)


@dataclass
class VerifyArgs:
    cmd: str
    timeout: float
    budget: float | None
    baseline: bool
    drop_token: bool = False
    #: set after the run: what --verify did (runs, evidence) for the formats
    verified: object = None


def _verify_args(p: Plan, cmd: str | None, timeout: float, budget: float | None, baseline: bool,
                 no_verify: bool = False) -> VerifyArgs | None:
    if no_verify and cmd:
        render.err("flaskfix: error: --verify and --no-verify contradict each other")
        raise typer.Exit(EXIT_ERROR)
    cmd = None if no_verify else cmd or p.config.verify
    if not cmd:
        if baseline or budget is not None:
            render.err("flaskfix: error: --verify-baseline and --verify-budget need --verify CMD (or [tool.flaskfix] verify)")
            raise typer.Exit(EXIT_ERROR)
        return None
    if timeout <= 0 or (budget is not None and budget <= 0):
        render.err("flaskfix: error: --verify-timeout and --verify-budget must be positive numbers of seconds")
        raise typer.Exit(EXIT_ERROR)
    return VerifyArgs(cmd, timeout, budget, baseline)


def _run_verified(p: Plan, jobs: int, color: bool, no_cache: bool, keep: list[FileResult] | None,
                  stdin: bytes | None, args: VerifyArgs) -> tuple[list[FileResult], Summary]:
    from flaskfix.cli import verify as ver
    from flaskfix.cli.interrupt import check
    from flaskfix.codemods.engine.run import Summary, execute

    if stdin is not None:
        render.err("flaskfix: error: --verify needs the files on disk, not code read from stdin")
        raise typer.Exit(EXIT_ERROR)
    started = time.monotonic()
    everything: list[FileResult] = []
    progress = render.progress(len(p.files))
    for result in render.track(progress, execute(p, jobs, use_cache=not no_cache)):
        check()
        everything.append(result)
    verifier = ver.Verifier(p, everything, ver.Options(args.cmd, args.timeout, args.budget, args.baseline, args.drop_token),
                            ver.stderr_progress(sys.stderr.isatty()))
    try:
        verified = verifier.verify()
    except ver.VerifyError as exc:
        render.err(f"flaskfix: error: --verify: {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    args.verified = verified
    summary = Summary(started=started)
    changed: list[FileResult] = []
    for result in verified.results:
        _present(result, summary, changed, keep, color)
    n = len(verifier.units)
    render.err(f"flaskfix: --verify: {verified.runs} run(s) of `{args.cmd}` in {verified.seconds:.1f}s; "
               f"kept {len(verified.kept)} of {n} change(s)" + (f", left out {len(verified.dropped)}" if verified.dropped else ""))
    for line in ver.evidence_table(ver.evidence_rows(verified.before, verified.after)):
        render.err("  " + line)
    return changed, summary.finish()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@_interruptible
def profile(
    ctx: typer.Context,
    cprofile: Optional[str] = typer.Option(
        None, "--cprofile", metavar="DIR", help="Also write a cProfile pstats file per endpoint into DIR."),
    timeout: float = typer.Option(600.0, "--timeout", metavar="SECONDS", help="Longest run of CMD."),
) -> None:
    """Run the tests (`flaskfix profile -- CMD`) and show, per Flask endpoint, the requests,
    SQL statements and time they took, and the N+1 suspects with file:line. Changes nothing."""
    import shlex
    import tempfile
    from pathlib import Path

    from flaskfix.cli import verify as ver

    if not ctx.args:
        render.err("flaskfix: error: give the command that runs the tests after --: flaskfix profile -- pytest -q")
        raise typer.Exit(EXIT_ERROR)
    cmd = ctx.args[0] if len(ctx.args) == 1 else shlex.join(ctx.args)
    target = Path(cprofile).resolve() if cprofile else None
    with tempfile.TemporaryDirectory(prefix="flaskfix-profile-") as tmp:
        outcome = ver.execute(cmd, Path.cwd(), Path(tmp) / "evidence", timeout, cprofile=target)
    if not outcome.reported:
        render.err(f"flaskfix: error: `{cmd}` ran ({outcome.why()}), but flaskfix's pytest plugin did not report: "
                   "does it run pytest? (tox: pass_env = PYTHONPATH, PYTEST_PLUGINS, FLASKFIX_*)")
        raise typer.Exit(EXIT_ERROR)
    rows = []
    for endpoint, e in sorted(outcome.endpoints.items()):
        per = e["statements"] / e["requests"] if e["requests"] else 0
        rows.append(f"{endpoint[:32]:<32} {e['requests']:>8} {e['statements']:>10} {per:>8.1f} {e['ms']:>10.1f}")
    typer.echo(f"{'endpoint':<32} {'requests':>8} {'statements':>10} {'per req':>8} {'ms':>10}")
    for row in rows:
        typer.echo(row)
    suspects = ver.suspects_lines(outcome)
    if suspects:
        typer.echo("")
        typer.echo("N+1 suspects (a statement repeated within one request):")
        for line in suspects:
            typer.echo(f"  {line}")
    if target is not None:
        render.err(f"flaskfix: pstats per endpoint in {target} (python -m pstats <file>)")
    status = "passed" if outcome.ok else f"failed ({outcome.why()})"
    render.err(f"flaskfix: `{cmd}` {status} in {outcome.seconds:.1f}s")
    raise typer.Exit(EXIT_CLEAN if outcome.ok else EXIT_CHANGES)


@app.command("list")
def list_codemods() -> None:
    """List every codemod: id and one-line summary."""
    for cm in registry.specs():
        typer.echo(f"{cm.ID:<15} {cm.SUMMARY}")


@app.command()
def explain(codemod_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Why a codemod exists, a before/after example, what changes, when it refuses."""
    try:
        cm = registry.get(codemod_id)
    except KeyError:
        render.err(f"flaskfix: error: {registry.unknown_id(codemod_id)}")
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(cm.explain(), nl=False)


@app.command()
@_interruptible
def diff(
    paths: Optional[List[str]] = PathsArg,
    select: Optional[List[str]] = SelectOpt,
    ignore: Optional[List[str]] = IgnoreOpt,
    jobs: int = JobsOpt,
    no_color: bool = NoColorOpt,
    black: Optional[bool] = BlackOpt,
    no_cache: bool = NoCacheOpt,
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when there are changes to show."),
    fmt: str = typer.Option(
        "text",
        "--format",
        help="text (a unified diff), json, sarif (SARIF 2.1.0), github (workflow annotations).",
        metavar="FORMAT",
    ),
    findings: bool = typer.Option(
        False, "--findings", help="SARIF: also report the sites flaskfix did not fix (as notes, with the reason)."
    ),
    stdin_filename: Optional[str] = typer.Option(
        None, "--stdin-filename", metavar="PATH",
        help="With `-`: the path the code read from stdin stands for (its project, configuration and diff headers).",
    ),
    verify: Optional[str] = VerifyOpt,
    verify_timeout: float = VerifyTimeoutOpt,
    verify_budget: Optional[float] = VerifyBudgetOpt,
    verify_baseline: bool = VerifyBaselineOpt,
    no_verify: bool = NoVerifyOpt,
) -> None:
    """Show the fixes as a unified diff on stdout (findings on stderr). Writes nothing.
    `flaskfix diff - --stdin-filename app.py` reads the code from stdin (editors)."""
    if fmt not in ("text", "json", "sarif", "github"):
        render.err(f"flaskfix: error: unknown format {fmt!r}; use text, json, sarif or github")
        raise typer.Exit(EXIT_ERROR)
    stdin: bytes | None = None
    if paths and "-" in paths:
        if len(paths) > 1:
            render.err("flaskfix: error: `-` (read stdin) cannot be combined with other paths")
            raise typer.Exit(EXIT_ERROR)
        from flaskfix.codemods.engine.run import UsageError, plan_stdin

        try:
            p = plan_stdin(stdin_filename or "stdin.py", _ids(select), _ids(ignore), black)
        except UsageError as exc:
            render.err(f"flaskfix: error: {exc}")
            raise typer.Exit(EXIT_ERROR) from None
        stdin = sys.stdin.buffer.read()
    elif stdin_filename is not None:
        render.err("flaskfix: error: --stdin-filename needs `-` as the path (the code is read from stdin)")
        raise typer.Exit(EXIT_ERROR)
    else:
        p = _plan(paths, select, ignore, black, no_cache)
    checks = _verify_args(p, verify, verify_timeout, verify_budget, verify_baseline, no_verify)
    kept: list[FileResult] | None = [] if fmt != "text" else None
    _changed, summary = _run(p, jobs, render.use_color(sys.stdout, no_color), no_cache, kept, stdin, checks)
    if kept is not None:
        from flaskfix.cli import formats

        extra = None
        if checks is not None and checks.verified is not None:
            from flaskfix.cli import verify as ver

            v = checks.verified
            extra = {"verify": {"command": checks.cmd, "runs": v.runs, "seconds": round(v.seconds, 2),  # type: ignore[attr-defined]
                                "kept": len(v.kept), "left_out": len(v.dropped)},  # type: ignore[attr-defined]
                     "evidence": ver.evidence_rows(v.before, v.after)}  # type: ignore[attr-defined]
        sys.stdout.write(formats.render(fmt, kept, summary, p.codemods, render.version(), findings, extra))
    for line in render.summary_lines(summary, [c.ID for c in p.codemods]):
        render.err(line)
    if summary.failed:
        raise typer.Exit(EXIT_ERROR)
    if summary.total_changes or summary.changed_files:
        raise typer.Exit(EXIT_CLEAN if exit_zero else EXIT_CHANGES)


@app.command()
@_interruptible
def apply(
    paths: Optional[List[str]] = PathsArg,
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking."),
    interactive: bool = typer.Option(
        False, "--interactive", "-i", help="Ask for each site a codemod fixes (what sites share comes with them): y, n, a, q."
    ),
    allow_dirty: bool = typer.Option(False, "--allow-dirty", help="Also rewrite files with uncommitted changes."),
    select: Optional[List[str]] = SelectOpt,
    ignore: Optional[List[str]] = IgnoreOpt,
    jobs: int = JobsOpt,
    no_color: bool = NoColorOpt,
    black: Optional[bool] = BlackOpt,
    no_cache: bool = NoCacheOpt,
    verify: Optional[str] = VerifyOpt,
    verify_timeout: float = VerifyTimeoutOpt,
    verify_budget: Optional[float] = VerifyBudgetOpt,
    verify_baseline: bool = VerifyBaselineOpt,
    no_verify: bool = NoVerifyOpt,
) -> None:
    """Show the diff, then (after confirmation, or with --yes) write the fixes."""
    if interactive and not sys.stdin.isatty():
        render.err("flaskfix: error: --interactive needs a terminal")
        raise typer.Exit(EXIT_ERROR)
    p = _plan(paths, select, ignore, black, no_cache)
    checks = _verify_args(p, verify, verify_timeout, verify_budget, verify_baseline, no_verify)
    if checks is not None and interactive:
        render.err("flaskfix: error: --verify and --interactive do not go together (verify first, then choose)")
        raise typer.Exit(EXIT_ERROR)
    color = render.use_color(sys.stdout, no_color)
    changed, summary = _run(p, jobs, color, no_cache, keep=[] if interactive else None, verify=checks)
    for line in render.summary_lines(summary, [c.ID for c in p.codemods]):
        render.err(line)
    failed = summary.failed > 0
    if not allow_dirty and changed:
        from flaskfix.cli.git import dirty_files

        dirty = dirty_files([r.path for r in changed])
        for r in changed:
            if r.path in dirty:
                render.err(f"{r.path}: not written: it has uncommitted changes (commit them, or pass --allow-dirty)")
                failed = True
        changed = [r for r in changed if r.path not in dirty]
    from flaskfix.cli import changeset

    changed, unsupported = changeset.with_support(changed)
    for line in unsupported:
        render.err(line)
        failed = True
    if not changed:
        raise typer.Exit(EXIT_ERROR if failed else EXIT_CLEAN)
    if interactive:
        from flaskfix.cli import interactive as ask
        from flaskfix.codemods.engine.pipeline import project_files
        from flaskfix.codemods.project import Project

        try:
            outcome = ask.run(p, changed, Project(p.config.root, project_files(p.config)), color)
        except (KeyboardInterrupt, typer.Abort):
            render.err("flaskfix: interrupted; files are either fully written or untouched")
            raise typer.Exit(130) from None
        render.err(f"flaskfix: wrote {len(outcome.written)} file(s)" + (" (stopped early)" if outcome.quit else ""))
        raise typer.Exit(EXIT_ERROR if failed or outcome.failed else EXIT_CLEAN)
    n_changes = sum(1 for r in changed for c in r.changes if c.role == "site")
    if not yes:
        if not sys.stdin.isatty():
            render.err("flaskfix: nothing written: no terminal to confirm on; pass --yes to apply without asking")
            raise typer.Exit(EXIT_ERROR)
        try:
            confirmed = typer.confirm(
                f"Apply the fixes of {n_changes} anti-pattern site{'s' if n_changes != 1 else ''} "
                f"({len(changed)} file{'s' if len(changed) != 1 else ''})?", default=False, err=True)
        except typer.Abort as exc:  # Ctrl-C (interrupted) or end of input (a "no") at the prompt
            if isinstance(exc.__context__, KeyboardInterrupt):
                raise KeyboardInterrupt from None
            confirmed = False
        if not confirmed:
            render.err("flaskfix: nothing written")
            raise typer.Exit(EXIT_CLEAN if not failed else EXIT_ERROR)
    from flaskfix.cli.interrupt import deferred, exit_interrupted, pause_point
    from flaskfix.codemods.engine.source import ChangedOnDisk, write_atomic

    written: list[str] = []
    try:
        # a manifest before the files that need its line; if it cannot be written they are
        # not either, and if none of them is written it is put back
        for r in changeset.write_order(changed):
            assert r.source is not None and r.new_text is not None
            if r.supports is None and any(m.path not in written for m in changeset.needed(r, changed)):
                render.err(f"{r.path}: not written: the requirement its changes need was not written")
                failed = True
                continue
            with deferred():  # a Ctrl-C here is raised after the file is written and recorded
                try:
                    write_atomic(r.source, r.new_text)
                    pause_point("written")
                    written.append(r.path)
                except ChangedOnDisk as exc:
                    render.err(f"{r.path}: not written: {exc}; run flaskfix again")
                    failed = True
                except OSError as exc:
                    render.err(f"{r.path}: not written: {exc.strerror or exc}")
                    failed = True
        for m in changed:
            if m.supports is not None and m.path in written:
                with deferred():  # only the lines the written files need stay
                    said = changeset.settle(m, [r for r in changed if r.path in written], p.config.root)
                    if said is not None:
                        render.err(said)
                    if m.new_text == m.old_text:
                        written.remove(m.path)
    except KeyboardInterrupt:
        rest = [r.path for r in changed if r.path not in written]
        exit_interrupted(
            f"flaskfix: interrupted after writing {len(written)} of {len(changed)} file(s): "
            f"written: {', '.join(written) or 'none'}; not written: {', '.join(rest) or 'none'}"
        )
    render.err(f"flaskfix: wrote {len(written)} of {len(changed)} file(s)")
    raise typer.Exit(EXIT_ERROR if failed else EXIT_CLEAN)


from flaskfix.cli.pr import register as _register_pr  # noqa: E402  (the pr command lives in its own module)

_register_pr(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
