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
import re
import sys
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from flaskfix import codemods as registry
from flaskfix.codemods.ast_facts import AstFacts
from flaskfix.codemods.changes import Change, CodeSupport, Finding, Requirement
from flaskfix.codemods.engine.cache import ResultCache, decode_changes, decode_code_supports, decode_requires, encode_result
from flaskfix.codemods.engine.config import Config
from flaskfix.codemods.engine.diff import unified_diff
from flaskfix.codemods.engine import suppress
from flaskfix.codemods.engine.linemap import LineMap
from flaskfix.codemods.engine.discovery import Discovered, discover
from flaskfix.codemods.engine.source import Source, SourceError, decode_source, read_source, too_large
from flaskfix.codemods.project import Project


@dataclass
class FileResult:
    path: str
    source: Source | None = None
    new_text: str | None = None
    changes: list[Change] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    #: True when no codemod's prefilter or detector wanted the file (no LibCST parse)
    prefiltered_out: bool = False
    #: LibCST parsed the file in this run (a codemod planned an edit, or still decides with LibCST)
    libcst_parsed: bool = False
    #: the path used in diff headers: ``path`` when relative, else relative to the project root
    diff_path: str | None = None
    #: what producing this result read besides the file: ``{"files": {path: digest},
    #: "whole": bool}`` ("whole": the file list or a search of every file), for the cache
    depends: dict | None = None
    #: served from the result cache
    cached: bool = False
    #: sites a codemod left alone because of a ``# flaskfix: ignore`` comment
    suppressed: list[Finding] = field(default_factory=list)
    #: the file says ``# flaskfix: skip-file``
    skipped_by_comment: bool = False
    #: packages the rewrite imports that the project does not declare: each a line added
    #: to a manifest (the supporting edit, a result of its own: ``supporting``)
    requires: list[Requirement] = field(default_factory=list)
    #: edits of other modules the rewrite needs (a Cache defined and initialised there)
    code_supports: list[CodeSupport] = field(default_factory=list)
    #: packages the rewrite imports that the project declares nowhere and that no manifest
    #: can be given (the project has none): to install by hand, stated with the run
    undeclared: list[str] = field(default_factory=list)
    #: a supporting edit (a manifest), not a scanned file: the paths of the results whose
    #: changes need it (written with them, never without them)
    supports: list[str] | None = None

    def drop_needs(self) -> None:
        """No rewrite is kept: nothing outside the file is needed for it either."""
        self.requires, self.code_supports, self.undeclared = [], [], []

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


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _prefiltered(codemods: list, text: str) -> list:  # type: ignore[type-arg]
    """The codemods whose every pre-filter pattern matches ``text`` (each codemod's
    ``prefilter``); a pattern several codemods share (the request-handler one) is searched
    once per file."""
    hits: dict[str, bool] = {}
    out = []
    for c in codemods:
        for pattern in c.PREFILTER:
            hit = hits.get(pattern)
            if hit is None:
                compiled = _PATTERNS.get(pattern)
                if compiled is None:
                    compiled = _PATTERNS[pattern] = re.compile(pattern, re.MULTILINE)
                hit = hits[pattern] = compiled.search(text) is not None
            if not hit:
                break
        else:
            out.append(c)
    return out


class Engine:
    """Runs a fixed list of codemods over files. Holds no terminal, git or network."""

    def __init__(
        self,
        codemods: Sequence[Any],  # codemod classes, or registry Specs that load them when needed
        config: Config,
        project: Project | None = None,
        tidy: bool = False,
    ) -> None:
        self.codemods = list(codemods)
        self.config = config
        #: format the changed lines and sort the imports a rewrite adds (formatting.tidy),
        #: here so that workers do it in parallel and the cache keeps the result
        self.tidy = tidy
        self.project = project if project is not None else Project(config.root, ())
        #: the fast detection pass (off only to test that it never changes a result)
        self.detection = True
        #: absolute path -> line -> codemod ids held back there, besides the file's own
        #: ``# flaskfix: ignore`` comments (``--interactive``: the sites the user declined)
        self.extra_suppressions: dict[str, dict[int, frozenset[str] | None]] = {}

    # -- one file ----------------------------------------------------------------------

    def process_path(self, path: str) -> FileResult:
        try:
            source = read_source(path, self.config.max_file_size)
        except SourceError as exc:
            return FileResult(path, error=str(exc))
        return self.process_source(source)

    def process_source(self, source: Source) -> FileResult:
        self.project.begin()
        result = self._process(source)
        if self.project.consulted:
            result.depends = {"files": dict(self.project.read), "whole": self.project.whole}
        result.diff_path = self._diff_path(source.path)
        return result

    def _process(self, source: Source) -> FileResult:
        result = FileResult(source.path, source=source)
        text = source.text
        try:
            tree = ast.parse(text, filename=source.path)
        except SyntaxError as exc:
            where = f"line {exc.lineno}" if exc.lineno else "unknown line"
            version = ".".join(map(str, sys.version_info[:2]))
            result.error = f"syntax error at {where}: {exc.msg} (read as Python {version}, the Python running flaskfix)"
            return result
        except (ValueError, MemoryError, RecursionError) as exc:
            result.error = f"cannot parse: {exc}"
            return result
        skip_file, suppressions = suppress.parse(text)
        extra = self.extra_suppressions.get(os.path.abspath(source.path))
        if extra:  # sites ``--interactive`` or ``--verify`` hold back: as if they had an ignore comment
            suppressions = dict(suppressions)
            for line, ids in extra.items():
                prev = suppressions.get(line, frozenset())
                suppressions[line] = None if prev is None or ids is None else prev | ids
        if skip_file:
            result.skipped_by_comment = True
            return result
        ignored = self.config.ignored_for(source.path)
        wanted = _prefiltered([c for c in self.codemods if c.ID not in ignored], text)
        if len(source.data) > self.config.max_file_size:  # (a path was refused before reading it)
            result.error = too_large(len(source.data), self.config.max_file_size)
            return result
        if wanted and self.project.files:
            self.project.adopt(source.path, text, source.digest, tree)
        if wanted and self.detection:
            facts = AstFacts(tree, text)
            wanted = [c for c in wanted if c.detect(facts)]
            wanted = [c for c in wanted
                      if c.detect_in_project(source.path, text, facts, c.settings(self.config.for_codemod(c.ID)), self.project)]
        if not wanted:
            result.prefiltered_out = True
            return result
        from flaskfix.codemods.plan import PlanInput, planner

        module_name = self.module_name(source.path)
        current = text  # the text the next codemod sees (earlier codemods may have changed it)
        current_tree = tree
        wrapper = None  # LibCST's tree of `current`, parsed when a codemod first needs it
        for codemod_cls in wanted:
            to_original = LineMap(current, text) if current != text else None
            if suppressions and to_original is not None:  # comments may have moved with rewritten lines
                suppressions = suppress.parse(current)[1]
                if extra:  # held back by the original file's line: where that line is now
                    suppressions = dict(suppressions)
                    for line in range(1, current.count("\n") + 2):
                        ids = extra.get(to_original(line), frozenset())
                        if ids is None or ids:
                            prev = suppressions.get(line, frozenset())
                            suppressions[line] = None if prev is None or ids is None else prev | ids
            decide = planner(codemod_cls.ID)
            plan = None
            if decide is not None:  # decided on stdlib ast; LibCST only to carry out edits
                if current_tree is None:
                    current_tree = ast.parse(current, filename=source.path)
                config = self.config.for_codemod(codemod_cls.ID)
                try:
                    plan = decide(PlanInput(source.path, module_name, current, current_tree,
                                            codemod_cls.settings(config), self.project, suppressions))
                except Exception as exc:  # a bug in a codemod must not take the run down
                    result.error = f"internal error in codemod {codemod_cls.ID}: {type(exc).__name__}: {exc}"
                    if os.environ.get("FLASKFIX_DEBUG"):
                        traceback.print_exc()
                    continue
                self._collect(result, codemod_cls.ID, plan.changes, plan.findings, plan.suppressed, to_original)
                if not plan.edits:
                    continue
            if wrapper is None:
                wrapper = self._libcst(current, result)
                if wrapper is None:
                    return result
                result.libcst_parsed = True
            new_module, changes = self._transform(codemod_cls, wrapper, source.path, module_name, suppressions, plan,
                                                  result, to_original)
            if changes and new_module is not wrapper.module:
                from libcst.metadata import MetadataWrapper

                wrapper = MetadataWrapper(new_module)  # copies: a rewritten tree may share nodes
                current = wrapper.module.code
                current_tree = None
        new_text = current
        if new_text != text:
            try:
                ast.parse(new_text, filename=source.path)
            except SyntaxError as exc:
                result.error = f"internal error: the rewrite does not parse ({exc.msg}, line {exc.lineno}); file left unchanged"
                result.changes = []
                result.drop_needs()
                return result
            if self.tidy:
                from flaskfix.codemods.engine.formatting import tidy

                new_text = tidy(text, new_text, self.config)
            result.new_text = new_text
        else:
            result.drop_needs()
        result.changes.sort()
        result.findings.sort()
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

    @staticmethod
    def _collect(result: FileResult, cid: str, changes, findings, suppressed, to_original) -> None:  # type: ignore[no-untyped-def]
        """Add a codemod's changes, findings and suppressed lines, on the input's lines."""
        for change in changes:
            result.changes.append(replace(change, line=to_original(change.line)) if to_original else change)
        for finding in findings:
            result.findings.append(replace(finding, line=to_original(finding.line)) if to_original else finding)
        for line in suppressed:
            line = to_original(line) if to_original else line
            result.suppressed.append(Finding(line, cid, "left alone: a `# flaskfix: ignore` comment"))

    @staticmethod
    def _libcst(text: str, result: FileResult):  # type: ignore[no-untyped-def]
        """LibCST's tree of ``text`` with its metadata wrapper, or None (``result.error`` set)."""
        import libcst as cst
        from libcst.metadata import MetadataWrapper

        try:
            # a fresh parse shares no nodes, so the wrapper need not copy it
            return MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
        except (cst.ParserSyntaxError, RecursionError) as exc:
            result.error = f"LibCST cannot parse this file: {str(exc).splitlines()[0]}"
            return None

    def _transform(self, codemod_cls, wrapper, path: str, module_name: str, suppressions, plan,  # type: ignore[no-untyped-def]
                   result: FileResult, to_original):
        """Run one codemod's LibCST transform: (the new module, whether it changed anything).
        A planned codemod only carries out its plan's edits; its changes and findings were
        collected from the plan."""
        from libcst.codemod import CodemodContext, SkipFile

        from flaskfix.codemods.base import RunContext

        module = wrapper.module
        context = CodemodContext(filename=path, full_module_name=module_name)
        run = RunContext(path, module_name, self.config.for_codemod(codemod_cls.ID), self.project, suppressions, wrapper, plan)
        codemod = codemod_cls(context, run)
        try:
            new_module = codemod.transform_module(module)
        except SkipFile:
            new_module = module
        except Exception as exc:  # a bug in a codemod (or an edit not found) must not take the run down
            result.error = f"internal error in codemod {codemod_cls.ID}: {type(exc).__name__}: {exc}"
            if os.environ.get("FLASKFIX_DEBUG"):
                traceback.print_exc()
            if plan is not None:  # its changes were collected from the plan: none was made
                result.changes = [c for c in result.changes if c.codemod != codemod_cls.ID]
            return module, False
        for requirement in codemod.requires:
            if requirement not in result.requires:
                result.requires.append(requirement)
        for distribution in codemod.undeclared:
            if distribution not in result.undeclared:
                result.undeclared.append(distribution)
        for support in codemod.code_supports:
            if support not in result.code_supports:
                result.code_supports.append(support)
        # a planned codemod's transform may still report (cache-route: which cache to use)
        self._collect(result, codemod_cls.ID, codemod.changes, codemod.findings, codemod.suppressed_lines, to_original)
        return new_module, bool(codemod.changes) or (plan is not None and bool(plan.changes))

    def run(self, files: Sequence[Discovered], jobs: int = 1, cache: ResultCache | None = None) -> Iterator[FileResult]:
        """Results in the order of ``files``, whatever ``jobs`` is, streamed.

        With a ``cache``, files whose result is cached are not processed again; only the
        others are sent to the worker processes (as paths, never trees).
        """
        hits: dict[int, dict] = {}
        todo: list[str] = []
        read: dict[int, tuple[str, bytes | None]] = {}
        if cache is not None:
            # every file read first: a result that depends on the whole project is checked
            # against the digest of every file, which then needs no second read
            for i, f in enumerate(files):
                if f.error is None:
                    full = os.path.abspath(f.path)
                    data = _read_bytes(full, self.config.max_file_size)
                    read[i] = (full, data)
                    if data is not None:
                        self.project.note_bytes(full, data)
            asked = [i for i, (_, data) in read.items() if data is not None]
            found = cache.get_many([read[i] for i in asked])  # type: ignore[misc]
            for i, value in zip(asked, found):
                if value is not None:
                    value["_data"] = read[i][1]  # the bytes the entry is for: the result shows them
                    hits[i] = value
            read.clear()
        for i, f in enumerate(files):
            if f.error is None and i not in hits:
                todo.append(f.path)
        results = self._map(todo, jobs)
        for i, f in enumerate(files):
            if f.error is not None:
                yield FileResult(f.path, error=f.error)
            elif i in hits:
                yield self._from_cache(f.path, hits.pop(i))
            else:
                result = next(results)
                if cache is not None and _cacheable(result):
                    assert result.source is not None
                    cache.put(f.path, result.source.data, encode_result(result), result.depends)
                yield result
        # Every result is out; let _map finish its normal path (the pool's shutdown that
        # waits for its manager thread). Left suspended, the generator was closed when
        # collected, taking the Ctrl-C path (shutdown without waiting), and at interpreter
        # exit concurrent.futures could write to the closed wake-up pipe of the still
        # running manager thread: "OSError: [Errno 9] Bad file descriptor" on stderr.
        for _ in results:
            pass

    def _map(self, paths: list[str], jobs: int) -> Iterator[FileResult]:
        minimum = int(os.environ.get("FLASKFIX_POOL_MIN_FILES", POOL_MIN_FILES))
        if jobs <= 1 or len(paths) < max(minimum, 2 * jobs):  # a pool costs each worker its start-up
            yield from map(self.process_path, paths)
            return
        from concurrent.futures import ProcessPoolExecutor

        init = ([c.ID for c in self.codemods], self.config, self.project.root, self.project._files, self.tidy)
        pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=init)
        try:
            # Chunks of neighbouring files (the list is sorted by path): a worker that plans
            # files of one package reuses the trees and index facts it built for the previous
            # ones, where chunks of 4 made both workers build the same facts (17 apps as one
            # run: 21 s of CPU at --jobs 2 against 17 s at --jobs 1; with chunks of about 60,
            # 17 s and 1.9x the speed). Not so big that a cluster of candidates (views/,
            # api/) lands on one worker while the other idles: about 24 chunks per worker.
            chunk = max(1, min(64, len(paths) // (jobs * 24)))
            yield from pool.map(_work, paths, chunksize=chunk)
        except BaseException:
            # Ctrl-C, or the consumer stopped: do not wait for the workers' current files
            # (that took 10-22 s); they write nothing, so ending them loses nothing.
            _quiet_pool_teardown()
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                proc.terminate()
            raise
        else:
            pool.shutdown()

    def _from_cache(self, path: str, value: dict) -> FileResult:
        """Rebuild a cached result from the bytes it was looked up with (read once: a file
        changed since then is caught where it matters, when `apply` writes)."""
        source = None
        if value["new_text"] is not None:  # only a change shows or writes the text
            try:
                source = decode_source(path, value["_data"])
            except SourceError as exc:
                return FileResult(path, error=str(exc))
        changes, findings, suppressed = decode_changes(value)
        result = FileResult(
            path,
            source=source,
            new_text=value["new_text"],
            changes=changes,
            findings=findings,
            error=value["error"],
            prefiltered_out=value["prefiltered_out"],
            cached=True,
            suppressed=suppressed,
            skipped_by_comment=value["skipped_by_comment"],
            requires=decode_requires(value),
            undeclared=list(value.get("undeclared", [])),
            code_supports=decode_code_supports(value),
        )
        result.diff_path = self._diff_path(path)
        return result

    def _diff_path(self, path: str) -> str | None:
        """The path for diff headers when ``path`` is absolute: relative to the project root."""
        if not os.path.isabs(path):
            return None
        try:
            return os.path.relpath(path, self.config.root.resolve())
        except ValueError:
            return None


def _quiet_pool_teardown() -> None:
    """The executor's management thread reports the workers we end as a broken pool, or
    fails to mark a future we cancelled (InvalidStateError): expected here, not news."""
    import threading
    from concurrent.futures import InvalidStateError
    from concurrent.futures.process import BrokenProcessPool

    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if not issubclass(args.exc_type, (InvalidStateError, BrokenProcessPool)):
            previous(args)

    threading.excepthook = hook


def _read_bytes(path: str, max_size: int) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > max_size:
                return None  # not looked up: processing it reports it as too large
            return fh.read()
    except OSError:
        return None


def _cacheable(result: FileResult) -> bool:
    """Content-determined results only: not unreadable files, not internal errors."""
    if result.source is None:
        return False
    return result.error is None or not result.error.startswith("internal error")


#: fewer files than this are processed in this process: starting workers (each imports
#: LibCST and the codemods, about 0.7 s) costs more than it saves on a small project
#: (``FLASKFIX_POOL_MIN_FILES`` overrides it; the tests set 0 so that every --jobs test
#: goes through the pool)
POOL_MIN_FILES = 48

_WORKER: Engine | None = None


#: Python's collector thresholds in flaskfix's own processes (default 700, 10, 10). A run
#: allocates millions of syntax-tree nodes, which hold no reference cycles (refcounting
#: frees them) yet each full collection walks every live one: with the default, keeping
#: 256 trees of other modules made indico 60% slower, and a run did 8x more collections
#: than it needed. With these, one run over 17 apps took 16.4 s instead of 23.3 s and
#: --jobs 2 went from 1.48x to 1.69x faster than --jobs 1 (bench/real_apps.py).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """For a process flaskfix owns (the CLI, a pool worker); a library caller keeps its own."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)


def _init_worker(ids: list[str], config: Config, root: Path, files: tuple[str, ...], tidy: bool = False) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the workers
    tune_gc()
    global _WORKER
    _WORKER = Engine([registry.spec(i) for i in ids], config, Project(root, files, config.max_file_size,
                                                                     edit_manifests=config.edit_manifests), tidy)


def _work(path: str) -> FileResult:
    assert _WORKER is not None
    return _WORKER.process_path(path)


def project_files(config: Config) -> tuple[str, ...]:
    """Every Python file of the project (for cross-file questions), absolute paths."""
    return tuple(os.path.abspath(d.path) for d in discover([str(config.root)], config.root, config.exclude) if d.error is None)
