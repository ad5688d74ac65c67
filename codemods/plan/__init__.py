"""Plans: what a codemod decided about one file, made on stdlib ``ast`` without LibCST.

A planner reads the file's ``ast`` tree and the project, and returns a ``FilePlan``: the
changes it will make and the findings it reports (each with its line and message), the
lines a ``# flaskfix: ignore`` comment held back, and the *edits* that carry the
changes out. Edits are small and generic (replace this call, insert these statements
before that statement, iterate that name instead), addressed by source position, so
the engine parses a file with LibCST (``codemods/edits.py`` applies them) only when a
plan has edits. A file with findings only never reaches LibCST.

Columns here are LibCST's: characters, not the UTF-8 bytes of ``ast``'s ``col_offset``.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Union

from flaskfix.codemods.changes import Change, Finding

#: codemod id -> the module of ``codemods/plan`` whose ``plan`` function decides it
PLANNERS = {"bulk-query": "bulk_query", "eager-load": "eager_load", "cache-route": "cache_route", "error-handler": "error_handler", "global-to-g": "global_to_g", "redis-counter": "redis_counter"}


@dataclass(frozen=True)
class Span:
    """Where a node is: 1-based lines, 0-based character columns, end exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class ReplaceCall:
    """Replace the call at ``span`` with the expression ``text``.

    ``simple``: the new expression binds tighter than anything around it, so it keeps
    the call's own parentheses. Otherwise: ``wrapped`` (a parenthesised multi-line form)
    when given and the call has no parentheses of its own; ``(text)`` when it has them;
    else ``text`` bare where ``bare_ok``, parenthesised elsewhere."""

    span: Span
    text: str
    simple: bool = False
    wrapped: str | None = None
    bare_ok: bool = False


@dataclass(frozen=True)
class InsertBefore:
    """Insert ``statements`` (each a whole statement's text, unindented, ending in a
    newline) before the statement starting at ``span`` (a ``for`` loop or a simple
    statement line); blank lines above it move above the new statements, comments stay
    with it. ``new_iter``: a ``for`` loop then iterates this name instead."""

    span: Span
    statements: tuple[str, ...]
    new_iter: str | None = None


@dataclass(frozen=True)
class SetCompIter:
    """The comprehension ``for`` whose iterable is at ``span`` iterates the name ``name``."""

    span: Span
    name: str


@dataclass(frozen=True)
class CodemodEdit:
    """An edit the codemod's own LibCST transform makes from ``data`` (for a codemod whose
    edits are not yet expressed as the generic ones above)."""

    data: Any


Edit = Union[ReplaceCall, InsertBefore, SetCompIter, CodemodEdit]


@dataclass
class FilePlan:
    changes: list[Change] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: lines whose ``# flaskfix: ignore`` comment held a candidate back
    suppressed: list[int] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    #: ``(module, name, asname)`` imports the edits need
    imports: list[tuple[str, str, str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class PlanInput:
    """What a planner gets for one file."""

    path: str
    module_name: str
    text: str
    tree: ast.Module
    config: Mapping[str, Any]
    project: Any
    #: ``# flaskfix: ignore`` comments: line -> codemod ids (None: all)
    suppressions: Mapping[int, frozenset[str] | None]


Planner = Callable[[PlanInput], FilePlan]


def planner(codemod_id: str) -> Planner | None:
    """The ``plan`` function deciding ``codemod_id``, or None for a codemod that still
    decides in its LibCST transform."""
    module = PLANNERS.get(codemod_id)
    if module is None:
        return None
    return importlib.import_module(f"{__name__}.{module}").plan  # type: ignore[no-any-return]


_LINE_END = re.compile(r"(?<=\r\n)|(?<=\r)(?!\n)|(?<=\n)")


class Lines:
    """Source lines of one file (split where Python's tokenizer splits them: at ``\n``,
    ``\r\n`` and ``\r`` only, not at form feeds), for spans in LibCST's character columns
    and for the source of a node (``ast.get_source_segment``, without splitting the whole
    file again for every node)."""

    def __init__(self, text: str) -> None:
        self.lines = [line for line in _LINE_END.split(text) if line] if text else []

    def segment(self, node: ast.AST) -> str | None:
        """``ast.get_source_segment(text, node)``."""
        try:
            if node.end_lineno is None or node.end_col_offset is None:  # type: ignore[attr-defined]
                return None
            first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
            col, end_col = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]
        except AttributeError:
            return None
        if first == last:
            return self.lines[first].encode()[col:end_col].decode()
        head = self.lines[first].encode()[col:].decode()
        tail = self.lines[last].encode()[:end_col].decode()
        return "".join([head, *self.lines[first + 1:last], tail])

    def col(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def span(self, node: ast.AST) -> Span:
        end_line = node.end_lineno or node.lineno  # type: ignore[attr-defined]
        return Span(node.lineno, self.col(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                    end_line, self.col(end_line, node.end_col_offset or 0))  # type: ignore[attr-defined]

    def line(self, n: int) -> str:
        return self.lines[n - 1] if 0 < n <= len(self.lines) else ""
