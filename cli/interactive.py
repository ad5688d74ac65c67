"""``flaskfix apply --interactive``: one change at a time.

A *change* here is one codemod's rewrite of one file: all its sites in that file, because
they share edits (an import, a created client, a removed global) and only together leave
valid code. For each changed file the codemods are replayed one by one, in their fixed
order, each on the text accepted so far, so every accepted step is a complete, parseable
codemod output whatever was refused before it.

Answers: y (apply), n (skip), a (apply this and every remaining change), q (stop; write
what was accepted). A file is written once, atomically, after its last question.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import typer

from flaskfix import codemods as registry
from flaskfix.cli import render
from flaskfix.codemods.engine.pipeline import Engine, FileResult
from flaskfix.codemods.engine.run import Plan
from flaskfix.codemods.engine.source import ChangedOnDisk, Source, write_atomic
from flaskfix.codemods.project import Project


@dataclass
class Outcome:
    written: list[str] = field(default_factory=list)
    not_written: list[str] = field(default_factory=list)
    failed: bool = False
    quit: bool = False


def _ask(prompt: str) -> str:
    while True:
        answer = typer.prompt(prompt, default="n", show_default=False, err=True).strip().lower()
        if answer in ("y", "n", "a", "q"):
            return answer
        render.err("  answer y (apply), n (skip), a (apply this and all the rest) or q (quit)")


def run(p: Plan, changed: list[FileResult], project: Project, color: bool) -> Outcome:
    engines = {cm.ID: Engine([cm], p.config, project) for cm in p.codemods}
    outcome = Outcome()
    apply_all = False
    for result in changed:
        source = result.source
        assert source is not None
        text = source.text
        ids = [cm.ID for cm in p.codemods if any(c.codemod == cm.ID for c in result.changes)]
        for cid in ids:
            step = engines[cid].process_source(Source(source.path, source.encode(text), text, source.encoding, source.bom))
            step.diff_path = result.diff_path
            if not step.changed or step.error is not None:
                continue
            assert step.new_text is not None
            if not apply_all:
                sys.stdout.write(render.colour_diff(step.diff(), color))
                sys.stdout.flush()
                render.err(f"{cid}: {registry.get(cid).SUMMARY}")
                for change in step.changes:
                    render.err(f"  line {change.line}: {change.message}")
                render.err("  behaviour: " + " ".join(registry.get(cid).BEHAVIOUR.split()))
                answer = _ask(f"Apply this change to {result.path}? [y,n,a,q]")
                if answer == "q":
                    outcome.quit = True
                    break
                if answer == "n":
                    continue
                apply_all = answer == "a"
            text = step.new_text
        if text != source.text:
            try:
                write_atomic(source, text)
                outcome.written.append(result.path)
            except ChangedOnDisk as exc:
                render.err(f"{result.path}: not written: {exc}; run flaskfix again")
                outcome.not_written.append(result.path)
                outcome.failed = True
        if outcome.quit:
            break
    return outcome
