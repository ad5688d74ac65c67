"""What every planner shares: the file's tree, scopes, Flask facts and lines, the plan it
fills, and the two ways it reports (a finding, a site a ``# flaskfix: ignore`` comment
holds back)."""

from __future__ import annotations

import ast
import builtins
from functools import cached_property
from typing import Any, ClassVar, Iterable, Iterator

from flaskfix.codemods.changes import Finding
from flaskfix.codemods.plan import FilePlan, Lines, PlanInput
from flaskfix.codemods.plan.flask import FlaskFacts
from flaskfix.codemods.plan.scopes import Scopes

_BUILTINS = frozenset(dir(builtins))


class Planner:
    #: the codemod's id, on its findings and for its ``# flaskfix: ignore[<id>]`` comments
    ID: ClassVar[str] = ""

    def __init__(self, inp: PlanInput) -> None:
        self.inp = inp
        self.text = inp.text
        self.tree = inp.tree
        self.config = inp.config
        self.project = inp.project
        self.scopes = Scopes(inp.tree)
        self.lines = Lines(inp.text)
        self.out = FilePlan()

    @cached_property
    def flask(self) -> FlaskFacts:
        return FlaskFacts(self.tree, self.scopes, self.project, self.inp.path)

    def add_finding(self, where: ast.AST | int, message: str) -> None:
        """Report a refused site at ``where`` (a node, or a line); once per line and message."""
        line = where if isinstance(where, int) else where.lineno  # type: ignore[attr-defined]
        finding = Finding(line, self.ID, message)
        if finding not in self.out.findings:
            self.out.findings.append(finding)

    def free_name(self, base: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
        """``base``, or ``base_2``, ``base_3``...: a name bound nowhere in the module, not a
        builtin and not in ``taken``."""
        return unused_name(base, self.scopes.bound_names() | set(taken))

    def module_assignments(self) -> Iterator[tuple[ast.stmt, ast.Name, ast.expr]]:
        """``(statement, name, value)`` for every module-level ``name = value`` and
        ``name: T = value`` with a single plain name target."""
        for stmt in self.tree.body:
            target = value = None
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target, value = stmt.targets[0], stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                target, value = stmt.target, stmt.value
            if isinstance(target, ast.Name) and value is not None:
                yield stmt, target, value

    def in_dunder_all(self, name: str) -> bool:
        """Is ``name`` one of the strings of a module-level ``__all__`` assignment?"""
        for stmt in self.tree.body:
            targets: list[ast.AST] = []
            if isinstance(stmt, ast.Assign):
                targets = list(stmt.targets)
            elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
                targets = [stmt.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                for node in ast.walk(stmt):
                    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
                        value = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
                        if value == name:
                            return True
        return False

    def held_back(self, *groups: Iterable[tuple[int, int]]) -> bool:
        """Does a ``# flaskfix: ignore`` comment for this codemod hold a site back? Each group
        is (first line, last line) spans looked at together, in order: the first line of the
        first group with such a comment is counted as suppressed."""
        table = self.inp.suppressions
        if not table:
            return False
        for group in groups:
            for line in sorted({n for a, b in group for n in range(a, b + 1)}):
                if line in table and (table[line] is None or self.ID in table[line]):  # type: ignore[operator]
                    if line not in self.out.suppressed:
                        self.out.suppressed.append(line)
                    return True
        return False


def node_lines(node: Any) -> tuple[int, int]:
    """(first line, last line) of a node."""
    return node.lineno, node.end_lineno or node.lineno


def def_lines(func: Any) -> tuple[int, int]:
    """(first line, ``def`` line) of a function or class: its decorators and its header."""
    return min([d.lineno for d in func.decorator_list] + [func.lineno]), func.lineno


def string_literal(text: str, quote: str) -> str:
    """``text`` as Python source in ``quote`` quotes."""
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n") + quote


def unused_name(base: str, used: set[str] | frozenset[str]) -> str:
    """``base``, or ``base_2``, ``base_3``...: not in ``used``, and ``base`` itself not a
    builtin (the planners' and the LibCST model's ``free_name``)."""
    if base not in used and base not in _BUILTINS:
        return base
    i = 2
    while f"{base}_{i}" in used:
        i += 1
    return f"{base}_{i}"
