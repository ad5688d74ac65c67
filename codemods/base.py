"""What a codemod is.

A codemod is a LibCST ``CodemodCommand`` with a few class attributes that make it
self-describing (id, summary, documentation, a before/after example) and two extra
channels besides the rewritten tree:

* ``self.add_change(node, message)``: a rewrite it made;
* ``self.add_finding(node, message)``: a site it recognised but refused to rewrite, and why.

A codemod never knows about files on disk, processes or the terminal: the engine
hands it a parsed module, its configuration table and a ``Project`` (read-only facts
about the other files of the project) and collects what it returns.
"""

from __future__ import annotations

import functools
import re
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping

import libcst as cst
from libcst.codemod import CodemodCommand, CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider

from flaskfix.codemods.ast_facts import AstFacts
from flaskfix.codemods.changes import Change, CodeSupport, Finding, Requirement
from flaskfix.codemods.flask_model import FlaskModel, is_docstring
from flaskfix.codemods.plan.base import string_literal  # noqa: F401 (codemods import it from here)
from flaskfix.codemods.project import Project


@dataclass
class RunContext:
    """What the engine gives a codemod for one file, besides the tree."""

    path: str = "<string>"
    module_name: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    project: Project = field(default_factory=Project.empty)
    #: ``# flaskfix: ignore`` comments of the module: line -> codemod ids (None: all)
    suppressions: Mapping[int, frozenset[str] | None] = field(default_factory=dict)
    #: metadata already resolved for the tree the codemod receives (shared by the
    #: codemods that run one after another on an unchanged tree)
    wrapper: MetadataWrapper | None = None
    #: what the codemod's planner decided on stdlib ``ast`` (``codemods/plan``), for a
    #: codemod that plans; its ``rewrite`` carries out the edits
    plan: Any = None


class FlaskfixCodemod(CodemodCommand):
    """Base class of every flaskfix codemod.

    Subclasses set the class attributes below and implement ``rewrite(tree)``.
    They may use ``self.flask`` (the Flask project model of the module being
    transformed), ``self.config`` (their ``[tool.flaskfix.<id>]`` table), ``self.project``
    and the LibCST metadata they declare in ``METADATA_DEPENDENCIES``.
    """

    #: The codemod's id, e.g. ``"global-to-g"``; its module is the id with ``_``.
    ID: ClassVar[str] = ""
    #: Position in the fixed order codemods run in on one file (lower first).
    ORDER: ClassVar[int] = 100
    #: One line for ``flaskfix list``.
    SUMMARY: ClassVar[str] = ""
    #: Why the anti-pattern hurts (plain text paragraphs).
    WHY: ClassVar[str] = ""
    #: What behaviour changes after the rewrite, on purpose. Shown by ``explain``
    #: and in pull-request bodies.
    BEHAVIOUR: ClassVar[str] = ""
    #: what the rewritten code needs at run time beyond packages (which the manifest edit
    #: adds), stated with every run that changes a site: "a Redis server at REDIS_URL"
    RUNTIME: ClassVar[str] = ""
    #: When it refuses to rewrite (each refusal is reported as a finding).
    REFUSES: ClassVar[tuple[str, ...]] = ()
    #: A before/after example. It is documentation *and* a test: the test suite checks
    #: that the codemod turns ``EXAMPLE_BEFORE`` into exactly ``EXAMPLE_AFTER``.
    EXAMPLE_BEFORE: ClassVar[str] = ""
    EXAMPLE_AFTER: ClassVar[str] = ""
    #: Regular expressions; a file is parsed for this codemod only if every one matches
    #: its text. Keep them cheap and never stricter than the codemod itself.
    PREFILTER: ClassVar[tuple[str, ...]] = ()
    #: Config keys this codemod accepts in ``[tool.flaskfix.<id>]``, with defaults.
    DEFAULT_CONFIG: ClassVar[Mapping[str, Any]] = {}

    METADATA_DEPENDENCIES = (ScopeProvider, PositionProvider)

    def __init__(self, context: CodemodContext, run: RunContext | None = None) -> None:
        super().__init__(context)
        self.run = run or RunContext()
        self.config: dict[str, Any] = self.settings(self.run.config)
        self.project = self.run.project
        self.changes: list[Change] = []
        self.findings: list[Finding] = []
        #: requirements this rewrite adds to a manifest (``dependency_note``)
        self.requires: list[Requirement] = []
        #: distributions the rewrite imports that the project declares nowhere, when it has
        #: no manifest to add them to (``dependency_note``)
        self.undeclared: list[str] = []
        #: edits of other modules this rewrite needs (``CodeSupport``)
        self.code_supports: list[CodeSupport] = []
        self._flask: FlaskModel | None = None
        self._imports: list[tuple[str, str, str | None]] = []
        #: lines of sites left alone because of a suppression comment
        self.suppressed_lines: list[int] = []

    # -- the engine's side -------------------------------------------------------------

    @classmethod
    def detect(cls, facts: "AstFacts") -> bool:
        """Fast, read-only check on stdlib-ast facts (one shared walk per file): may this
        file hold a candidate? Only files where some codemod says yes are parsed with
        LibCST. It may say yes too often, never no for a file the codemod would rewrite
        (tests check every fixture and a corpus). Default: trust the prefilter."""
        return True

    def missing_dependency(self, package: str, distribution: str) -> str | None:
        """Why a rewrite must not add ``import <package>``: the project has runtime manifests
        (requirements, pyproject, setup.cfg...) that do not declare ``distribution``, no
        runtime module imports it already, and flaskfix cannot add it to the manifest the
        project uses (a lock or hash file would go stale, setup.py, ``edit-manifests =
        false``: the reason names the command to run). None when the import may be added:
        declared, already imported, a manifest flaskfix adds it to (``dependency_note``), or
        a project with no manifest at all (the change then says what to install)."""
        from flaskfix.codemods import manifest_edits

        t = self._manifest_target(package, distribution)
        if not isinstance(t, str):
            if t is not None:
                try:  # the edit the engine will make, tried now: a refusal, never a broken manifest
                    manifest_edits.add(Path(self.project.root), t, [distribution])
                except manifest_edits.ManifestEditError as exc:
                    return f"the project does not depend on {distribution} and flaskfix cannot add it to {t.file} safely ({exc})"
            return None
        files = ", ".join(self.project.manifests().files)
        return (f"the project does not depend on {distribution} ({files} does not declare it, and no module imports "
                f"{package}), and {t}")

    def _manifest_target(self, package: str, distribution: str):  # type: ignore[no-untyped-def]
        """None (nothing to add), the manifest to add ``distribution`` to, or why not."""
        from flaskfix.codemods import manifest_edits

        project = self.project
        if not project.root or str(project.root) == ".":
            return None  # a lone string (tests, tools): no project to check
        manifests = project.manifests()
        if manifests.declares(distribution) or project.imports_package(package) or not manifests.any:
            return None
        return manifest_edits.target(manifests, distribution, getattr(project, "edit_manifests", True))

    def dependency_note(self, package: str, distribution: str) -> str:
        """What a change that adds ``import <package>`` says about the dependency, and the
        requirement it adds to the manifest (recorded in ``requires``): nothing when the
        project already depends on it."""
        from flaskfix.codemods import manifest_edits

        project = self.project
        t = self._manifest_target(package, distribution)
        if t is not None and not isinstance(t, str):
            req = manifest_edits.requirement_text(distribution)
            requirement = Requirement(t.file, distribution, req, self.ID)
            if requirement not in self.requires:
                self.requires.append(requirement)
            return f"; adds `{req}` to {t.file} (the project did not declare {distribution})"
        if str(project.root) != "." and not project.manifests().any and not project.imports_package(package):
            if distribution not in self.undeclared:
                self.undeclared.append(distribution)
            return f"; needs {distribution} (pip install {distribution}), which the project does not declare anywhere"
        return ""

    @classmethod
    def config_problems(cls, config: Mapping[str, Any]) -> list[str]:
        """What is wrong with the values of ``[tool.flaskfix.<id>]`` (the table over the
        defaults; keys and types are already checked): each a phrase, e.g. "timeout must be
        a positive number of seconds, not -5". Reported as a configuration error (exit 2)."""
        return []

    @classmethod
    def prefilter(cls, text: str) -> bool:
        """Cheap text test: may this file hold a candidate? Never parses."""
        return all(p.search(text) for p in _compiled(cls.PREFILTER))

    @classmethod
    def settings(cls, table: Mapping[str, Any]) -> dict[str, Any]:
        """The codemod's configuration: its ``[tool.flaskfix.<id>]`` table over the defaults."""
        return {**cls.DEFAULT_CONFIG, **dict(table)}

    @classmethod
    def detect_in_project(cls, path: str, text: str, facts: AstFacts, config: Mapping[str, Any], project: Project) -> bool:
        """A second fast check, after ``detect``, that may ask the project index (what the
        file's functions reach in other modules) and the codemod's configuration; ``facts``
        is what ``detect`` got (``facts.tree``: the file's stdlib tree, parsed once). Same
        contract: it may say yes too often, never no for a file the codemod would rewrite
        or report on. Default: yes."""
        return True

    # -- the codemod's side ------------------------------------------------------------

    def rewrite(self, tree: cst.Module) -> cst.Module:
        """Return the rewritten module. Metadata is resolved for ``tree``."""
        raise NotImplementedError

    @contextmanager
    def _handle_metadata_reference(self, module: cst.Module) -> Iterator[cst.Module]:
        """LibCST's hook, changed in one way: when the engine already resolved metadata for
        this very tree, reuse it instead of copying the tree and resolving it again."""
        shared = self.run.wrapper
        wrapper = shared if shared is not None and shared.module is module else MetadataWrapper(module)
        old = self.context.wrapper
        with self.resolve(wrapper):
            self.context = replace(self.context, wrapper=wrapper)
            try:
                yield wrapper.module
            finally:
                self.context = replace(self.context, wrapper=old)

    def decided(self, tree: cst.Module) -> Any:
        """The plan for ``tree``: the one the engine made on stdlib ast before LibCST parsed
        the file, or (run outside the engine) the codemod's planner's, whose findings and
        suppressed lines then become this codemod's."""
        plan = self.run.plan
        if plan is None:
            import ast

            from flaskfix.codemods.plan import PlanInput, planner

            decide = planner(self.ID)
            assert decide is not None, f"{self.ID} has no planner"
            plan = decide(PlanInput(self.run.path, self.run.module_name, tree.code, ast.parse(tree.code), self.config,
                                    self.project, self.run.suppressions))
            self.findings, self.suppressed_lines = list(plan.findings), list(plan.suppressed)
            self.changes = [c for c in plan.changes]
        return plan

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        self._imports = []
        tree = self.rewrite(tree)
        for module, name, asname in self._imports:
            extended = extend_from_import(tree, module, name, asname)
            if extended is not None:
                tree = extended
            elif module.startswith("."):  # relative: a line after the module's last top-level import
                tree = _insert_import(tree, f"from {module} import {name}{f' as {asname}' if asname else ''}\n")
            else:
                AddImportsVisitor.add_needed_import(self.context, module, name, asname)
        return tree

    def add_import(self, module: str, name: str, asname: str | None = None) -> None:
        """Queue ``from module import name [as asname]``: appended to an existing
        ``from module import ...`` line when there is one, else added by LibCST's
        ``AddImportsVisitor``."""
        if (module, name, asname) not in self._imports:
            self._imports.append((module, name, asname))

    @property
    def flask(self) -> FlaskModel:
        """The Flask model of the module currently being transformed (built once)."""
        wrapper = self.context.wrapper
        if wrapper is None:
            raise RuntimeError("flask model is only available during transform_module")
        if self._flask is None or self._flask.wrapper is not wrapper:
            self._flask = FlaskModel(wrapper, self.project, self.run.path)
        return self._flask

    def suppressed(self, *nodes: cst.CSTNode, view: cst.FunctionDef | None = None) -> bool:
        """Is one of these sites held back by a ``# flaskfix: ignore`` comment for this
        codemod? A comment on any line of a node counts, and for ``view`` a comment on
        its decorator or ``def`` lines. A suppressed site must be left alone: call this
        where a candidate is checked, and treat True like a refusal (it is counted; no
        finding is needed)."""
        table = self.run.suppressions
        if not table:
            return False
        lines: set[int] = set()
        for node in nodes:
            try:
                pos = self.get_metadata(PositionProvider, node)
            except KeyError:
                continue
            lines.update(range(pos.start.line, pos.end.line + 1))
        if view is not None:
            try:
                starts = [self.get_metadata(PositionProvider, d).start.line for d in view.decorators]
                header = self.get_metadata(PositionProvider, view.name).start.line
                lines.update(range(min([*starts, header]), header + 1))
            except KeyError:
                pass
        for line in sorted(lines):
            if line in table:
                ids = table[line]
                if ids is None or self.ID in ids:
                    if line not in self.suppressed_lines:
                        self.suppressed_lines.append(line)
                    return True
        return False

    def line_of(self, node: cst.CSTNode) -> int:
        try:
            return self.get_metadata(PositionProvider, node).start.line
        except KeyError:
            return 0

    def add_change(self, node: cst.CSTNode | int, message: str, role: str = "site") -> None:
        line = node if isinstance(node, int) else self.line_of(node)
        self.changes.append(Change(line, self.ID, message, role))

    def add_finding(self, node: cst.CSTNode | int, message: str) -> None:
        line = node if isinstance(node, int) else self.line_of(node)
        finding = Finding(line, self.ID, message)
        if finding not in self.findings:
            self.findings.append(finding)

    @classmethod
    def module_name(cls) -> str:
        return cls.ID.replace("-", "_")

    @classmethod
    def explain(cls) -> str:
        """The full explanation printed by ``flaskfix explain ID``."""
        parts = [f"{cls.ID}: {cls.SUMMARY}", "", "Why", _indent(cls.WHY)]
        parts += ["", "Example: before", _indent(cls.EXAMPLE_BEFORE.rstrip("\n"))]
        parts += ["", "Example: after", _indent(cls.EXAMPLE_AFTER.rstrip("\n"))]
        parts += ["", "What changes in behaviour", _indent(cls.BEHAVIOUR)]
        if cls.REFUSES:
            parts += ["", "Refuses (reported as findings, never rewritten)"]
            parts += [f"  - {r}" for r in cls.REFUSES]
        if cls.DEFAULT_CONFIG:
            parts += ["", f"Configuration: [tool.flaskfix.{cls.ID}]"]
            parts += [f"  {k} = {_toml(v)}" for k, v in cls.DEFAULT_CONFIG.items()]
        return "\n".join(parts) + "\n"


def _toml(value: Any) -> str:
    """A default as it is written in pyproject.toml."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@functools.lru_cache(maxsize=None)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.MULTILINE) for p in patterns)


def _indent(text: str) -> str:
    import textwrap

    return textwrap.indent(textwrap.dedent(text).strip("\n"), "  ")


def quote_style(tree: cst.Module) -> str:
    """The quote the module mostly uses for one-line strings: generated code follows it."""
    counts = {"'": 0, '"': 0}

    class V(cst.CSTVisitor):
        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            if len(node.quote) == 1:
                counts[node.quote] += 1

    tree.visit(V())
    return "'" if counts["'"] > counts['"'] else '"'


def _insert_import(tree: cst.Module, text: str) -> cst.Module:
    """``text`` (one import line) after the last top-level import of the module's head
    (after its docstring and ``__future__`` imports when it has no other)."""
    body = list(tree.body)
    at = 0
    for i, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
            at = i + 1
        elif isinstance(stmt, cst.SimpleStatementLine) and i == 0 and is_docstring(stmt):
            at = 1
        elif at or not (isinstance(stmt, cst.SimpleStatementLine) and is_docstring(stmt)):
            break
    body.insert(at, cst.parse_statement(text, config=tree.config_for_parsing))
    return tree.with_changes(body=body)


def extend_from_import(tree: cst.Module, module: str, name: str, asname: str | None) -> cst.Module | None:
    """Append ``name`` to the first top-level ``from module import a, b`` of ``tree``.

    Returns None when there is no such import line to extend (or it is a star import)."""
    body = list(tree.body)
    for i, stmt in enumerate(body):
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for j, small in enumerate(stmt.body):
            if not isinstance(small, cst.ImportFrom) or (small.module is None and not small.relative):
                continue
            spelled = "." * len(small.relative) + (_dotted(small.module) or "" if small.module is not None else "")
            if isinstance(small.names, cst.ImportStar) or spelled != module:
                continue
            names = list(small.names)
            for alias in names:
                if alias.evaluated_name == name and alias.evaluated_alias == asname:
                    return tree
            last = names[-1]
            trailing_comma = last.comma
            new_alias = cst.ImportAlias(
                name=cst.Name(name), asname=cst.AsName(name=cst.Name(asname)) if asname else None
            )
            # keep the layout: the comma between two names (with a parenthesised import's
            # newline and indentation) goes after the old last name; a trailing comma stays last
            if len(names) >= 2 and isinstance(names[-2].comma, cst.Comma):
                between = names[-2].comma
            elif small.lpar is not None and isinstance(trailing_comma, cst.Comma):
                between = cst.Comma(whitespace_after=small.lpar.whitespace_after)
            else:
                between = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            names[-1] = last.with_changes(comma=between)
            names.append(new_alias.with_changes(comma=trailing_comma) if isinstance(trailing_comma, cst.Comma) else new_alias)
            new_small = small.with_changes(names=names)
            new_stmt = stmt.with_changes(body=[*stmt.body[:j], new_small, *stmt.body[j + 1 :]])
            body[i] = new_stmt
            return tree.with_changes(body=body)
    return None


def _dotted(node: cst.BaseExpression) -> str | None:
    from flaskfix.codemods.flask_model import dotted_name

    return dotted_name(node)
