"""``flaskfix apply --interactive``: one change at a time.

A question is asked for each *site* a codemod fixes in a file (a global moved, a loop's
lookups prefetched, a view cached, an operation answered 400). A declined site is held back
as if it had a ``# flaskfix: ignore[<id>]`` comment and the codemod plans again from the
sites kept, so what they shared (an import, a created Cache or Redis client, the
client-input classes) is kept only while a kept site needs it: never text patches replayed.
For each changed file the codemods are replayed one by one, in their fixed order, each on
the text accepted so far, so every accepted step is a complete, parseable codemod output
whatever was refused before it.

Answers: y (apply), n (skip), a (apply this and every remaining change), q (stop; write
what was accepted). A file is written once, atomically, after its last question. A file
whose accepted changes need a requirement in a manifest is written at the end, after the
manifest, which gets the lines the accepted changes need and no other (no question: it
goes with them); if the manifest cannot be written, neither are they.
"""

from __future__ import annotations

import os
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
    #: "a" was answered: every remaining change is applied without a question
    all: bool = False


def _ask_sites(engine: Engine, cid: str, result: FileResult, source: Source, text: str, color: bool,
               outcome: Outcome) -> FileResult | None:
    """One codemod's rewrite of ``text``, asked site by site: each declined site is held
    back (as if it had a ``# flaskfix: ignore[<id>]`` comment) and the codemod plans again
    from the sites kept, so what it shared among them (an import, a created Cache, the
    client-input classes) stays only while a kept site needs it. None: nothing to apply."""
    path = os.path.abspath(source.path)
    declined: set[int] = set()
    asked: set[int] = set()  # the lines of the sites asked about (a re-plan may word them anew)
    try:
        while True:
            engine.extra_suppressions = {path: {line: frozenset({cid}) for line in declined}} if declined else {}
            step = engine.process_source(Source(source.path, source.encode(text), text, source.encoding, source.bom))
            step.diff_path = result.diff_path
            sites = [c for c in step.changes if c.role == "site"]
            if not step.changed or step.error is not None or not sites:
                return None
            new = [c for c in sites if c.line not in asked]
            if outcome.all or not new:
                if declined and not outcome.all:  # what is written, planned again from the kept sites
                    sys.stdout.write(render.colour_diff(step.diff(), color))
                    render.err(f"{cid}: the kept changes, planned again without the declined ones")
                return step
            sys.stdout.write(render.colour_diff(step.diff(), color))
            sys.stdout.flush()
            render.err(f"{cid}: {registry.get(cid).SUMMARY}")
            for change in step.changes:
                if change.role != "site":
                    render.err(f"  line {change.line}: {change.message} (goes with the changes that need it)")
            render.err("  behaviour: " + " ".join(registry.get(cid).BEHAVIOUR.split()))
            newly_declined = False
            for change in new:
                render.err(f"  line {change.line}: {change.message}")
                answer = _ask(f"Apply this change to {result.path}? [y,n,a,q]")
                asked.add(change.line)
                if answer == "q":
                    outcome.quit = True
                    return None
                if answer == "n":
                    declined.add(change.line)
                    newly_declined = True
                elif answer == "a":
                    outcome.all = True
                    break
            if not newly_declined:
                return step  # every site asked about was kept: this plan stands
    finally:
        engine.extra_suppressions = {}


def _ask(prompt: str) -> str:
    while True:
        answer = typer.prompt(prompt, default="n", show_default=False, err=True).strip().lower()
        if answer in ("y", "n", "a", "q"):
            return answer
        render.err("  answer y (apply), n (skip), a (apply this and all the rest) or q (quit)")


def run(p: Plan, changed: list[FileResult], project: Project, color: bool) -> Outcome:
    engines = {cm.ID: Engine([cm], p.config, project, tidy=p.black) for cm in p.codemods}
    outcome = Outcome()
    waiting: list[tuple[FileResult, str, list, list]] = []  # files that need other edits: written last
    for result in changed:
        if result.supports is not None:
            continue  # a manifest: re-planned below from the changes accepted
        source = result.source
        assert source is not None
        text = source.text
        requires: list = []
        code: list = []
        ids = [cm.ID for cm in p.codemods if any(c.codemod == cm.ID for c in result.changes)]
        for cid in ids:
            step = _ask_sites(engines[cid], cid, result, source, text, color, outcome)
            if outcome.quit:
                break
            if step is None:
                continue
            assert step.new_text is not None
            text = step.new_text
            requires += [q for q in step.requires if q not in requires]
            code += [q for q in step.code_supports if q not in code]
        if text != source.text and (requires or code):
            waiting.append((result, text, requires, code))
        elif text != source.text:
            _write(outcome, result.path, source, text)
        if outcome.quit:
            break
    if waiting:
        from flaskfix.codemods.engine.supporting import code_results, manifest_results

        # (read now: a module written above after its own questions gets the edit on top)
        supporting = code_results([(r.path, c) for r, _, _, c in waiting if c], p.config.root)
        supporting += manifest_results([(r.path, q) for r, _, q, _ in waiting if q], p.config.root)
        for m in supporting:
            if m.error is None and m.changed:
                assert m.source is not None and m.new_text is not None
                render.err(f"{m.path}: the edit the accepted changes need (in {', '.join(m.supports or [])})")
                _write(outcome, m.path, m.source, m.new_text)
        for r, text, _reqs, _code in waiting:
            missing = [m for m in supporting if r.path in (m.supports or ()) and m.path not in outcome.written]
            if missing:
                render.err(f"{r.path}: not written: the edits its changes need could not be made in "
                           f"{', '.join(m.path for m in missing)}" + "".join(f" ({m.error})" for m in missing if m.error))
                outcome.not_written.append(r.path)
                outcome.failed = True
                continue
            assert r.source is not None
            _write(outcome, r.path, r.source, text)
    return outcome


def _write(outcome: Outcome, path: str, source: Source, text: str) -> None:
    try:
        write_atomic(source, text)
        outcome.written.append(path)
    except (ChangedOnDisk, OSError) as exc:
        render.err(f"{path}: not written: {exc}; run flaskfix again")
        outcome.not_written.append(path)
        outcome.failed = True
