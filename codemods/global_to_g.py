"""global-to-g: request-scoped data kept in a module-level container moves to ``flask.g``.

A module-level dict/list/set that request handlers write into lives as long as the
process: every request adds to it and nothing ever removes it. When the data is only
needed for the rest of the same request, it belongs on ``flask.g``, which Flask drops
when the request's app context ends.

The rewrite is only safe when no request can observe what an earlier request stored.
So the codemod proves, for every handler, that each read of the container reads a
key that the same handler wrote earlier, unconditionally, in straight-line code: a
constant, or a local of the handler bound exactly once (``key = f"sq-{n}"; results[key] =
compute(n); return results[key]``), which holds one value all request long. A read of anything else (``k in CACHE``, ``len(items)``, ``CACHE.get(k)``, passing
the container along, iterating it) may see another request's data: that is a
cross-request cache or a bug whose output would change, and it is refused with a
finding.

A view may also read what a ``before_request`` hook of its own app or blueprint wrote in
the same request (Flask runs that hook before every view of that object): the hook must
write the key unconditionally, at the top level of its body, before any ``return`` (a
hook that returns None early lets the view run without the write). After a list
``append`` in straight-line code, ``[-1]`` reads what that append added. An
``after_request`` or teardown hook does not count on a before_request hook's write:
Flask also calls it when the request ended early, without the write.
"""

from __future__ import annotations


import libcst as cst
from libcst.metadata import PositionProvider

from flaskfix.codemods.ast_facts import HANDLER_TEXT, AstFacts
from flaskfix.codemods import detection
from flaskfix.codemods.base import FlaskfixCodemod, quote_style, string_literal
from flaskfix.codemods.edits import NodeIndex, line_holding
from flaskfix.codemods.flask_model import is_docstring
from flaskfix.codemods.plan.global_to_g import Moves


class GlobalToG(FlaskfixCodemod):
    ID = "global-to-g"
    ORDER = 10
    SUMMARY = "Module-level dict/list/set written by request handlers becomes per-request storage on flask.g"
    WHY = """
        A module-level container that request handlers write into is shared by every
        request and lives as long as the worker process. Each request adds entries and
        none are removed, so memory grows until the process is restarted. Data that is
        only needed for the rest of one request belongs on flask.g, which Flask discards
        when the request ends.
    """
    BEHAVIOUR = """
        The data now lives for one request only: each request starts with an empty
        container, and nothing accumulates in the process. flaskfix only rewrites when it
        can prove that no request reads what an earlier request stored, so responses stay
        the same. Code that runs outside a request (CLI commands, background threads) can
        no longer reach the data; flaskfix refuses when the container is used there. Note
        that g belongs to the app context: a test that pushes one app context around
        several requests shares g between them.
    """
    REFUSES = (
        "a handler reads the container before writing it (neither it nor a before_request hook of its own app or "
        "blueprint wrote that key, unconditionally and before any return), or reads it as a whole (a cross-request "
        "cache: bound it instead)",
        "the container is used outside request handlers (module level, helpers, CLI commands)",
        "another module imports it, or it is listed in __all__",
        "it is rebound (a second assignment or a `global` statement)",
        "it escapes into a nested function, lambda, generator or thread",
        "the handler is a generator (a streamed response may outlive the request's g)",
        "a handler binds the name used for flask.g locally",
        "it starts with content (a lookup table, not per-request storage)",
    )
    EXAMPLE_BEFORE = '''\
from flask import Flask

app = Flask(__name__)
cache = {}


@app.route("/data")
def store_data():
    cache["data"] = {"key": "value"}
    return "Stored!"
'''
    EXAMPLE_AFTER = '''\
from flask import Flask, g

app = Flask(__name__)


@app.route("/data")
def store_data():
    g.data = {"key": "value"}
    return "Stored!"
'''
    PREFILTER = (
        HANDLER_TEXT,
        r"^[A-Za-z_]\w*\s*(?::[^=\n]+)?=\s*(?:\{|\[|set\(|dict\(|list\()",
    )
    METADATA_DEPENDENCIES = (PositionProvider,)

    @classmethod
    def detect(cls, facts: AstFacts) -> bool:
        """``detection.global_to_g`` (LibCST-free, so that a run needs no codemod import to ask it)."""
        return detection.global_to_g(facts)

    def rewrite(self, tree: cst.Module) -> cst.Module:
        """Move what the plan decided (``codemods/plan/global_to_g.py``, on stdlib ``ast``,
        which also reported every container it leaves alone)."""
        plan = self.decided(tree)
        if not plan.edits:
            return tree
        moves: Moves = plan.edits[0].data
        index = NodeIndex(self.context.wrapper)  # type: ignore[arg-type]
        quote = quote_style(tree)
        replacements: dict[cst.CSTNode, cst.CSTNode] = {}
        removals: dict[cst.CSTNode, cst.BaseSmallStatement] = {}
        prologues: dict[cst.CSTNode, list[cst.SimpleStatementLine]] = {}
        for move in moves.moves:
            small = index.find(move.statement, (cst.Assign, cst.AnnAssign))
            removals[line_holding(tree, small)] = small
            for span, key in move.subscripts:
                sub = index.find(span, (cst.Subscript,))
                replacements[sub] = cst.Attribute(value=cst.parse_expression(moves.g_expr), attr=cst.Name(key))
            empty = {"dict": "{}", "list": "[]", "set": "set()"}[move.kind]
            text = f"{move.name} = {moves.g_expr}.setdefault({string_literal(move.namespace, quote)}, {empty})\n"
            for def_line, name in move.handlers:
                prologues.setdefault(index.function(def_line, name), []).append(cst.parse_statement(text))  # type: ignore[arg-type]
        for module, name, asname in plan.imports:
            self.add_import(module, name, asname)
        return tree.visit(_Rewriter(replacements, removals, prologues))


class _Rewriter(cst.CSTTransformer):
    def __init__(
        self,
        replacements: dict[cst.CSTNode, cst.CSTNode],
        removals: dict[cst.CSTNode, cst.BaseSmallStatement],
        prologues: dict[cst.CSTNode, list[cst.SimpleStatementLine]],
    ) -> None:
        self.replacements = replacements
        self.removals = removals
        self.prologues = prologues

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        if original_node in self.replacements:
            return self.replacements[original_node]
        if original_node in self.prologues:
            body = list(updated_node.body.body)
            at = 1 if body and is_docstring(body[0]) else 0
            body[at:at] = self.prologues[original_node]
            return updated_node.with_changes(body=updated_node.body.with_changes(body=body))
        if original_node in self.removals:
            small = self.removals[original_node]
            assert isinstance(updated_node, cst.SimpleStatementLine)
            rest = [s for s, o in zip(updated_node.body, original_node.body) if o is not small]
            if not rest:
                return cst.RemoveFromParent()
            rest[-1] = rest[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            return updated_node.with_changes(body=rest)
        return updated_node
