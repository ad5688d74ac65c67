"""One entry point for a whole run: ``plan`` what to do, ``execute`` it, ``Summary`` it.

The CLI (terminal, pull requests) and tests call these; nothing here prints.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from flaskfix import codemods as registry
from flaskfix.codemods.engine.cache import ResultCache, code_fingerprint
from flaskfix.codemods.engine.config import Config, load_config
from flaskfix.codemods.engine.discovery import Discovered, discover, display
from flaskfix.codemods.engine.formatting import tidy
from flaskfix.codemods.engine.pipeline import Engine, FileResult, project_files
from flaskfix.codemods.engine.source import SourceError, clean_stale_temp_files, decode_source
from flaskfix.codemods.engine.supporting import code_results, manifest_results
from flaskfix.codemods.project import Project

if TYPE_CHECKING:
    from flaskfix.codemods import Spec


class UsageError(Exception):
    """Bad arguments or configuration: exit code 2, nothing processed."""


@dataclass
class Plan:
    config: Config
    codemods: list[Spec]
    files: list[Discovered]
    black: bool
    #: every Python file of the project, when ``files`` already is that walk (the
    #: usual `flaskfix diff .`), so the project is not walked twice
    project_files: tuple[str, ...] | None = None


def plan(
    paths: list[str],
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    black: bool | None = None,
    use_cache: bool = False,
) -> Plan:
    """Resolve configuration, the codemods to run and the files to look at (``use_cache``:
    a walk of the same folders is reused while none of them changed, see ``WalkMemo``)."""
    paths = paths or ["."]
    config, chosen, use_black = _configure(paths, select, ignore, black)
    files = discover(paths, config.root, config.exclude, memo=use_cache)
    whole = None
    if len(paths) == 1 and os.path.isdir(paths[0]) and os.path.realpath(paths[0]) == os.path.realpath(config.root):
        whole = tuple(os.path.abspath(d.path) for d in files if d.error is None)
    return Plan(config, chosen, files, use_black, whole)


def _configure(paths: list[str], select: list[str] | None, ignore: list[str] | None,
               black: bool | None) -> tuple[Config, list[Spec], bool]:
    from flaskfix.codemods.engine.config import ConfigError

    try:
        config = load_config(paths, {c.ID: c.DEFAULT_CONFIG for c in registry.specs()}, registry.config_problems)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        chosen = registry.select(select if select else config.select, (ignore or []) + config.ignore)
    except KeyError as exc:
        raise UsageError(registry.unknown_id(exc.args[0])) from None
    return config, chosen, black if black is not None else True


def plan_stdin(filename: str, select: list[str] | None = None, ignore: list[str] | None = None,
               black: bool | None = None) -> Plan:
    """A plan for one buffer read from stdin that stands for ``filename`` (which need not
    exist): the configuration and project are those of the folder it would be in."""
    folder = os.path.dirname(filename) or "."
    if not os.path.isdir(folder):
        raise UsageError(f"--stdin-filename {filename}: no such folder {folder}")
    config, chosen, use_black = _configure([folder], select, ignore, black)
    return Plan(config, chosen, [Discovered(display(filename))], use_black)


def execute(p: Plan, jobs: int | None = None, use_cache: bool = True, stats: dict | None = None,
            stdin: bytes | None = None) -> Iterator[FileResult]:
    """Results in file order (identical for any ``jobs``), streamed; then the results whose
    changes need edits of other modules, then those supporting edits (modules, manifests).

    ``stats``, when given, receives ``cache_hits``/``cache_misses`` at the end. ``stdin``:
    the content of the plan's one file (``plan_stdin``), read instead of the disk; no cache."""
    for folder in sorted({os.path.abspath(os.path.dirname(f.path) or ".") for f in p.files if f.error is None}):
        clean_stale_temp_files(folder)
    project = Project(
        p.config.root,
        p.project_files if p.project_files is not None else lambda: project_files(p.config),
        p.config.max_file_size,
        edit_manifests=p.config.edit_manifests,
    )
    engine = Engine(p.codemods, p.config, project, tidy=p.black)
    jobs = jobs if jobs and jobs > 0 else (os.cpu_count() or 1)
    cache = None
    if stdin is not None:
        (only,) = p.files
        project.use_text(os.path.abspath(only.path), stdin)
        use_cache = False
    if use_cache:
        salt = "\0".join([code_fingerprint(), p.config.fingerprint(), ",".join(c.ID for c in p.codemods), f"tidy={p.black}"])
        cache = ResultCache(p.config.root, salt, project)
    needs: list[tuple[str, list]] = []
    held: list = []  # results whose changes need edits of other modules: out after every file
    changed: set[str] = set()
    try:
        if stdin is not None:
            try:
                stream: Iterator[FileResult] = iter([engine.process_source(decode_source(p.files[0].path, stdin))])
            except SourceError as exc:
                stream = iter([FileResult(p.files[0].path, error=str(exc))])
        else:
            stream = engine.run(p.files, jobs=jobs, cache=cache)
        for result in stream:
            if result.changed:
                changed.add(os.path.realpath(result.path))
            if result.changed and result.code_supports and result.error is None:
                held.append(result)
                continue
            if result.changed and result.requires and result.error is None:
                needs.append((result.path, result.requires))
            yield result
        # a module this run rewrites is not edited a second time for another file's change:
        # such a change is planned again without it (a finding says why)
        code_needs = []
        for result in held:
            targets = {os.path.realpath(os.path.join(p.config.root, s.path)) for s in result.code_supports}
            if targets & changed:
                project.blocked = targets & changed
                again = engine.process_path(result.path)
                project.blocked = set()
                result = again
            if result.changed and result.code_supports and result.error is None:
                code_needs.append((result.path, result.code_supports))
            if result.changed and result.requires and result.error is None:
                needs.append((result.path, result.requires))
            yield result
        # the supporting edits the changes need (modules, a manifest line), after every file
        for support in code_results(code_needs, p.config.root):
            if p.black and support.changed:  # a module edit (a Cache defined, initialised): tidied too
                assert support.source is not None and support.new_text is not None
                support.new_text = tidy(support.source.text, support.new_text, p.config)
            yield support
        yield from manifest_results(needs, p.config.root)
    finally:
        if cache is not None:
            if stats is not None:
                stats.update(cache_hits=cache.hits, cache_misses=cache.misses)
            cache.close()


@dataclass
class Summary:
    started: float = field(default_factory=time.monotonic)
    files: int = 0
    prefiltered_out: int = 0
    libcst_parsed: int = 0
    failed: int = 0
    changed_files: int = 0
    #: anti-pattern sites fixed, per codemod (what the counts and titles count)
    changes: Counter[str] = field(default_factory=Counter)
    #: edits a site needs (an added client, a created Cache, a counter's reads), per codemod
    supporting: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    skipped_by_comment: int = 0
    seconds: float = 0.0
    #: (requirement, manifest) lines the changes add
    requirements: set[tuple[str, str]] = field(default_factory=set)
    #: packages the changes import that the project declares nowhere (it has no manifest)
    undeclared: set[str] = field(default_factory=set)
    #: codemods with a site changed (their RUNTIME needs are stated)
    needs: set[str] = field(default_factory=set)

    def add(self, r: FileResult) -> None:
        if r.supports is not None:  # a manifest a change needs: not a scanned file
            self.changed_files += r.changed
            self.failed += r.error is not None
            return
        self.files += 1
        self.prefiltered_out += r.prefiltered_out
        self.libcst_parsed += r.libcst_parsed
        self.failed += r.error is not None
        self.changed_files += r.changed
        for c in r.changes:
            (self.changes if c.role == "site" else self.supporting)[c.codemod] += 1
        if r.changed and r.error is None:
            for q in r.requires:
                self.requirements.add((q.requirement, q.manifest))
            self.undeclared.update(r.undeclared)
            self.needs.update(c.codemod for c in r.changes if c.role == "site")
        for f in r.findings:
            self.findings[f.codemod] += 1
        for f in r.suppressed:
            self.suppressed[f.codemod] += 1
        self.skipped_by_comment += r.skipped_by_comment

    def finish(self) -> "Summary":
        self.seconds = time.monotonic() - self.started
        return self

    @property
    def total_changes(self) -> int:
        """Anti-pattern sites fixed (supporting edits are part of a site's change, not fixes)."""
        return sum(self.changes.values())

    def new_requirements(self) -> list[str]:
        """What the changes need that the project did not have, plainly: each manifest line
        they add, and what a codemod's rewrite needs at run time (a Redis server)."""
        out = [f"`{req}` (added to {manifest})" for req, manifest in sorted(self.requirements)]
        out += [f"`{d}` (pip install {d}: the project declares no dependencies to add it to)" for d in sorted(self.undeclared)]
        runtime = {spec.ID: spec.RUNTIME for spec in registry.specs()}
        out += [runtime[cid] for cid in sorted(self.needs) if runtime.get(cid)]
        return out
