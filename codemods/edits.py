"""Carry out a plan's edits (``codemods/plan``) on a LibCST tree.

The planner decided on stdlib ``ast``; here each edit finds its node by source position
(``PositionProvider``) and changes only that node, so comments and formatting elsewhere
stay byte for byte. An edit whose node is not where the plan says raises ``EditError``:
the engine then leaves the file unchanged and reports an internal error, never a partial
rewrite.
"""

from __future__ import annotations

from typing import Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from flaskfix.codemods.plan import Edit, InsertBefore, ReplaceCall, SetCompIter, Span

class EditError(Exception):
    pass


def apply(wrapper: MetadataWrapper, edits: Sequence[Edit]) -> cst.Module:
    """The module with ``edits`` made (``wrapper.module`` when there are none)."""
    if not edits:
        return wrapper.module
    positions = wrapper.resolve(PositionProvider)
    wanted: dict[tuple[str, tuple[int, int, int, int] | tuple[int, int]], list[Edit]] = {}
    for e in edits:
        wanted.setdefault(_key(e), []).append(e)
    found: dict[cst.CSTNode, list[Edit]] = {}
    for node, pos in positions.items():
        span = (pos.start.line, pos.start.column, pos.end.line, pos.end.column)
        if isinstance(node, cst.Call):
            key: tuple = ("call", span)
        elif isinstance(node, cst.CompFor):  # found by its iterable (a generator's own parentheses
            it = positions[node.iter]        # are the call's: ast and LibCST place them differently)
            key = ("iter", (it.start.line, it.start.column, it.end.line, it.end.column))
        elif isinstance(node, (cst.For, cst.SimpleStatementLine)):
            key = ("statement", span[:2])
        else:
            continue
        if key in wanted:
            found[node] = wanted.pop(key)  # type: ignore[arg-type]
    if wanted:
        kind, where = next(iter(wanted))
        raise EditError(f"planned edit not found: {kind} at line {where[0]}, column {where[1]}")
    return wrapper.module.visit(_Editor(found, positions))


def _key(e: Edit) -> tuple:
    s: Span = e.span
    if isinstance(e, ReplaceCall):
        return ("call", (s.line, s.col, s.end_line, s.end_col))
    if isinstance(e, SetCompIter):
        return ("iter", (s.line, s.col, s.end_line, s.end_col))
    return ("statement", (s.line, s.col))


class _Editor(cst.CSTTransformer):
    def __init__(self, found: dict[cst.CSTNode, list[Edit]], positions) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.found = found
        self.positions = positions

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        for e in self.found.get(original_node, ()):
            assert isinstance(e, ReplaceCall)
            return _replacement(original_node, e)
        return updated_node

    def leave_CompFor(self, original_node: cst.CompFor, updated_node: cst.CompFor) -> cst.CompFor:
        for e in self.found.get(original_node, ()):
            assert isinstance(e, SetCompIter)
            updated_node = updated_node.with_changes(iter=cst.Name(e.name))
        return updated_node

    def leave_For(self, original_node: cst.For, updated_node: cst.For):  # type: ignore[no-untyped-def]
        return self._before(original_node, updated_node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):  # type: ignore[no-untyped-def]
        return self._before(original_node, updated_node)

    def _before(self, original_node: cst.BaseStatement, updated_node: cst.BaseStatement):  # type: ignore[no-untyped-def]
        inserts = [e for e in self.found.get(original_node, ()) if isinstance(e, InsertBefore)]
        if not inserts:
            return updated_node
        statements: list[cst.BaseStatement] = []
        for e in inserts:
            statements += [cst.parse_statement(text) for text in e.statements]
            if e.new_iter is not None and isinstance(updated_node, cst.For):
                updated_node = updated_node.with_changes(iter=cst.Name(e.new_iter))
        # blank lines move above the new statements; comments stay with the statement they describe
        lines = list(original_node.leading_lines)
        blank = 0
        while blank < len(lines) and lines[blank].comment is None:
            blank += 1
        statements[0] = statements[0].with_changes(leading_lines=lines[:blank])
        updated_node = updated_node.with_changes(leading_lines=lines[blank:])
        return cst.FlattenSentinel([*statements, updated_node])


def _replacement(call: cst.Call, e: ReplaceCall) -> cst.BaseExpression:
    if e.simple:
        return cst.parse_expression(e.text).with_changes(lpar=call.lpar, rpar=call.rpar)
    if e.wrapped is not None and not call.lpar:
        return cst.parse_expression(e.wrapped)
    if call.lpar:
        return cst.parse_expression(f"({e.text})")
    return cst.parse_expression(e.text if e.bare_ok else f"({e.text})")
