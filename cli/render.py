"""Terminal rendering: diffs (coloured on a terminal), findings, errors, the summary."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

import typer

if TYPE_CHECKING:
    from flaskfix.codemods.engine.pipeline import FileResult
    from flaskfix.codemods.engine.run import Summary


def use_color(stream: TextIO, no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def colour_diff(diff: str, color: bool) -> str:
    if not color:
        return diff
    out = []
    for line in diff.splitlines(keepends=True):
        body, end = (line[:-1], "\n") if line.endswith("\n") else (line, "")
        if line.startswith(("+++", "---")):
            out.append(typer.style(body, bold=True) + end)
        elif line.startswith("@@"):
            out.append(typer.style(body, fg=typer.colors.CYAN) + end)
        elif line.startswith("+"):
            out.append(typer.style(body, fg=typer.colors.GREEN) + end)
        elif line.startswith("-"):
            out.append(typer.style(body, fg=typer.colors.RED) + end)
        else:
            out.append(line)
    return "".join(out)


#: what a line says of a change by its role, and of a finding (stderr lines, annotations)
SAYS = {"site": "would fix", "support": "with it", "finding": "not fixed"}


def report_lines(r: FileResult) -> list[str]:
    """One line per error, change and finding of a file, for stderr."""
    lines = []
    if r.error is not None:
        lines.append(f"{r.path}: error: {r.error}")
    for c in r.changes:  # nothing is written yet when these are shown (diff, apply's preview)
        lines.append(f"{r.path}:{c.line}: {c.codemod}: {SAYS[c.role]}: {c.message}")
    for f in r.findings:
        lines.append(f"{r.path}:{f.line}: {f.codemod}: {SAYS['finding']}: {f.message}")
    return lines


def summary_lines(s: Summary, ids: list[str]) -> list[str]:
    lines = []
    for cid in ids:
        if s.changes[cid] or s.findings[cid] or s.suppressed[cid]:
            lines.append(
                f"  {cid:<15} {s.changes[cid]} to fix, {s.findings[cid]} not fixed (see findings), "
                f"{s.suppressed[cid]} suppressed"
            )
    skipped = f", {s.skipped_by_comment} skipped by `# flaskfix: skip-file`" if s.skipped_by_comment else ""
    supporting = sum(s.supporting.values())
    with_it = f" (with {supporting} supporting edit{'s' if supporting != 1 else ''})" if supporting else ""
    lines.append(
        f"{s.total_changes} anti-pattern site(s) to fix in {s.changed_files} file(s){with_it}; scanned {s.files} file(s), "
        f"{s.prefiltered_out} skipped by the pre-filter{skipped}, {s.failed} failed; {s.seconds:.2f}s"
    )
    needs = s.new_requirements()
    if needs:
        lines.append("new requirements: " + "; ".join(needs))
    return lines


def err(line: str) -> None:
    print(line, file=sys.stderr)


def version() -> str:
    """flaskfix's version (``flaskfix.__version__``, which the distribution's version is read from)."""
    from flaskfix import __version__

    return __version__


PROGRESS_THRESHOLD = 300


def progress(total: int):  # type: ignore[no-untyped-def]
    """A progress bar on stderr for runs of more than a few hundred files, and only on a
    terminal (never when piped or redirected)."""
    if total <= PROGRESS_THRESHOLD or not sys.stderr.isatty() or os.environ.get("CI"):
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("flaskfix"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ), total


def track(bar, results):  # type: ignore[no-untyped-def]
    if bar is None:
        yield from results
        return
    prog, total = bar
    with prog:
        task = prog.add_task("files", total=total)
        for result in results:
            yield result
            prog.advance(task)
