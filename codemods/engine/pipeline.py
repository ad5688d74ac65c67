"""The pipeline: ``paths -> files -> prefilter -> candidates -> FileResult``.

For one file:

1. read and decode it (``source.read_source``); a file that cannot be read is a
   ``FileResult`` with an ``error`` and nothing else;
2. parse it with the standard library ``ast`` (fast; reports syntax errors for every file,
   candidate or not, and is where a fast detection pass plugs in);
3. ask each selected codemod's cheap text ``prefilter``; a file no codemod wants stops here;
4. parse it once with LibCST and run the wanted codemods, in their fixed order, on that
   one tree, collecting changes and findings;
5. check that the rewritten code still parses; if not, nothing of it is kept (an internal
   error is reported instead: a wrong rewrite is worse than none).

The engine knows nothing of any particular codemod's rules.
"""

from __future__ import annotations

import ast
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import libcst as cst
from libcst.codemod import CodemodContext, SkipFile

import codemods as registry
from codemods.base import Change, Finding, FlaskfixCodemod, RunContext
from codemods.engine.config import Config
from codemods.engine.diff import unified_diff
from codemods.engine.discovery import Discovered, discover
from codemods.engine.source import Source, SourceError, read_source
from codemods.project import Project


@dataclass
class FileResult:
    path: str
    source: Source | None = None
    new_text: str | None = None
    changes: list[Change] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    #: True when no codemod's prefilter wanted the file (it was not parsed with LibCST)
    prefiltered_out: bool = False
    #: the path used in diff headers: ``path`` when relative, else relative to the project root
    diff_path: str | None = None

    @property
    def old_text(self) -> str | None:
        return self.source.text if self.source else None

    @property
    def changed(self) -> bool:
        return self.source is not None and self.new_text is not None and self.new_text != self.source.text

    def diff(self) -> str:
        if not self.changed:
            return ""
        assert self.source is not None and self.new_text is not None
        return unified_diff(self.source.text, self.new_text, self.diff_path or self.path)


class Engine:
    """Runs a fixed list of codemods over files. Holds no terminal, git or network."""

    def __init__(
        self,
        codemods: Sequence[type[FlaskfixCodemod]],
        config: Config,
        project: Project | None = None,
    ) -> None:
        self.codemods = list(codemods)
        self.config = config
        self.project = project if project is not None else Project(config.root, ())

    # -- one file ----------------------------------------------------------------------

    def process_path(self, path: str) -> FileResult:
        try:
            source = read_source(path)
        except SourceError as exc:
            return FileResult(path, error=str(exc))
        return self.process_source(source)

    def process_source(self, source: Source) -> FileResult:
        result = FileResult(source.path, source=source)
        text = source.text
        try:
            ast.parse(text, filename=source.path)
        except SyntaxError as exc:
            where = f"line {exc.lineno}" if exc.lineno else "unknown line"
            result.error = f"syntax error at {where}: {exc.msg}"
            return result
        except (ValueError, MemoryError, RecursionError) as exc:
            result.error = f"cannot parse: {exc}"
            return result
        wanted = [c for c in self.codemods if c.prefilter(text)]
        if not wanted:
            result.prefiltered_out = True
            return result
        try:
            module = cst.parse_module(text)
        except (cst.ParserSyntaxError, RecursionError) as exc:
            result.error = f"LibCST cannot parse this file: {str(exc).splitlines()[0]}"
            return result
        module_name = self.module_name(source.path)
        for codemod_cls in wanted:
            context = CodemodContext(filename=source.path, full_module_name=module_name)
            run = RunContext(source.path, module_name, self.config.for_codemod(codemod_cls.ID), self.project)
            codemod = codemod_cls(context, run)
            try:
                new_module = codemod.transform_module(module)
            except SkipFile:
                result.findings.extend(codemod.findings)
                continue
            except Exception as exc:  # a bug in a codemod must not take the run down
                result.error = f"internal error in codemod {codemod_cls.ID}: {type(exc).__name__}: {exc}"
                result.findings.extend(codemod.findings)
                continue
            module = new_module
            result.changes.extend(codemod.changes)
            result.findings.extend(codemod.findings)
        new_text = module.code
        if new_text != text:
            try:
                ast.parse(new_text, filename=source.path)
            except SyntaxError as exc:
                result.error = f"internal error: the rewrite does not parse ({exc.msg}, line {exc.lineno}); file left unchanged"
                result.changes = []
                return result
            result.new_text = new_text
        result.changes.sort()
        result.findings.sort()
        if os.path.isabs(source.path):
            try:
                result.diff_path = os.path.relpath(source.path, self.config.root.resolve())
            except ValueError:
                pass
        return result

    def module_name(self, path: str) -> str:
        try:
            rel = Path(os.path.abspath(path)).relative_to(self.config.root.resolve())
        except ValueError:
            rel = Path(path)
        parts = list(rel.with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        return ".".join(p for p in parts if p.isidentifier())

    def process_text(self, text: str, path: str = "<string>") -> FileResult:
        """Convenience for tests and tools: run on a string."""
        return self.process_source(Source(path, text.encode("utf-8"), text, "utf-8", False))

    # -- many files --------------------------------------------------------------------

    def run(self, files: Sequence[Discovered], jobs: int = 1) -> Iterator[FileResult]:
        """Results in the order of ``files``, whatever ``jobs`` is."""
        todo = [f for f in files if f.error is None]
        errors = {f.path: f.error for f in files if f.error is not None}
        if jobs <= 1 or len(todo) < 2 * max(jobs, 1):
            results = map(self.process_path, [f.path for f in todo])
            yield from _merge(files, errors, results)
            return
        init = ([c.ID for c in self.codemods], self.config, self.project.root, self.project.files)
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=init) as pool:
            chunk = max(1, min(64, len(todo) // (jobs * 8) or 1))
            results = pool.map(_work, [f.path for f in todo], chunksize=chunk)
            yield from _merge(files, errors, results)


def _merge(files: Sequence[Discovered], errors: dict[str, str | None], results: Iterator[FileResult]) -> Iterator[FileResult]:
    it = iter(results)
    for f in files:
        if f.error is not None:
            yield FileResult(f.path, error=f.error)
        else:
            yield next(it)


_WORKER: Engine | None = None


def _init_worker(ids: list[str], config: Config, root: Path, files: tuple[str, ...]) -> None:
    global _WORKER
    _WORKER = Engine([registry.get(i) for i in ids], config, Project(root, files))


def _work(path: str) -> FileResult:
    assert _WORKER is not None
    return _WORKER.process_path(path)


def project_files(config: Config) -> tuple[str, ...]:
    """Every Python file of the project (for cross-file questions), absolute paths."""
    return tuple(os.path.abspath(d.path) for d in discover([str(config.root)], config.root, config.exclude) if d.error is None)
