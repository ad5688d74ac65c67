"""Carry out a plan's edits (``codemods/plan``) on a LibCST tree.

The planner decided on stdlib ``ast``; here each edit finds its node by source position
(``PositionProvider``) and changes only that node, so comments and formatting elsewhere
stay byte for byte. An edit whose node is not where the plan says raises ``EditError``:
the engine then leaves the file unchanged and reports an internal error, never a partial
rewrite.
"""

from __future__ import annotations

from typing import Any, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from flaskfix.codemods.plan import Edit, InsertBefore, ReplaceCall, SetCompIter, Span

class EditError(Exception):
    pass


class NodeIndex:
    """The nodes of a LibCST tree by source position, to find the nodes a plan names again;
    each lookup raises ``EditError`` when no node of the wanted kind is there."""

    def __init__(self, wrapper: MetadataWrapper) -> None:
        self.positions = wrapper.resolve(PositionProvider)
        self._by_span: dict[tuple[int, int, int, int], list[cst.CSTNode]] = {}
        self._by_start: dict[tuple[int, int], list[cst.CSTNode]] = {}
        self._defs: dict[tuple[int, str], cst.FunctionDef] = {}
        #: a comprehension's ``for`` by its iterable's span (a generator's own parentheses are
        #: the call's: ast and LibCST place them differently)
        self._comp_fors: dict[tuple[int, int, int, int], cst.CompFor] = {}
        for node, pos in self.positions.items():
            span = (pos.start.line, pos.start.column, pos.end.line, pos.end.column)
            self._by_span.setdefault(span, []).append(node)
            self._by_start.setdefault(span[:2], []).append(node)
            if isinstance(node, cst.FunctionDef):
                self._defs[(pos.start.line, node.name.value)] = node
            elif isinstance(node, cst.CompFor):
                it = self.positions[node.iter]
                self._comp_fors[(it.start.line, it.start.column, it.end.line, it.end.column)] = node

    def find(self, span: Span, kinds: tuple[type, ...]) -> Any:
        """The node of one of ``kinds`` exactly at ``span``."""
        for node in self._by_span.get((span.line, span.col, span.end_line, span.end_col), ()):
            if isinstance(node, kinds):
                return node
        raise _missing(kinds[0].__name__, span.line, span.col)

    def starting(self, span: Span, kinds: tuple[type, ...]) -> Any:
        """The node of one of ``kinds`` that starts where ``span`` does (a statement)."""
        for node in self._by_start.get((span.line, span.col), ()):
            if isinstance(node, kinds):
                return node
        raise _missing(kinds[0].__name__, span.line, span.col)

    def comp_for(self, iterable: Span) -> cst.CompFor:
        """The comprehension ``for`` whose iterable is at ``iterable``."""
        node = self._comp_fors.get((iterable.line, iterable.col, iterable.end_line, iterable.end_col))
        if node is None:
            raise _missing("comprehension", iterable.line, iterable.col)
        return node

    def function(self, def_line: int, name: str) -> cst.FunctionDef:
        """The ``def name`` on line ``def_line``."""
        node = self._defs.get((def_line, name))
        if node is None:
            raise _missing(f"def {name}()", def_line, None)
        return node


def _missing(what: str, line: int, col: int | None) -> EditError:
    where = f"line {line}" + (f", column {col}" if col is not None else "")
    return EditError(f"planned edit not found: {what} at {where}")


def line_holding(tree: cst.Module, small: cst.CSTNode) -> cst.SimpleStatementLine:
    """The module-level line that holds the small statement ``small``."""
    for stmt in tree.body:
        if isinstance(stmt, cst.SimpleStatementLine) and any(x is small for x in stmt.body):
            return stmt
    raise EditError("planned edit not found: a module-level line holding the planned statement")


def apply(wrapper: MetadataWrapper, edits: Sequence[Edit]) -> cst.Module:
    """The module with ``edits`` made (``wrapper.module`` when there are none)."""
    if not edits:
        return wrapper.module
    index = NodeIndex(wrapper)
    found: dict[cst.CSTNode, list[Edit]] = {}
    for e in edits:
        if isinstance(e, ReplaceCall):
            node = index.find(e.span, (cst.Call,))
        elif isinstance(e, SetCompIter):
            node = index.comp_for(e.span)
        else:
            node = index.starting(e.span, (cst.For, cst.SimpleStatementLine))
        found.setdefault(node, []).append(e)
    return wrapper.module.visit(_Editor(found, index.positions))


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
