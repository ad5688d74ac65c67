"""Project-wide facts: what other files of the project say about a name.

Codemods look at one module at a time, but some answers need the whole project:
"is this global imported by another module?", "what is the primary key of model
``User``, defined in ``models.py``?". ``Project`` answers them from the list of the
project's Python files, lazily: a cheap text search picks the files worth parsing,
and each is parsed at most once with the standard library ``ast`` (fast, read-only).

It never writes and never fails: a file it cannot read or parse is ignored here (the
engine reports it separately when it is one of the files being processed).
"""

from __future__ import annotations

import ast
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from flaskfix.codemods.ast_facts import dotted


_WORD = re.compile(r"\w+")
#: the digest recorded for a file that could not be read
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class ExternalUse:
    path: str  # relative to the project root
    line: int
    how: str  # e.g. "from app import cache"


class Project:
    """Read-only facts about the project's files.

    What a result depended on is recorded for the result cache: ``read`` (path -> content
    digest of each file whose text was read) and ``whole`` (the file list, or a search of
    every file, was consulted: the result depends on the whole project's content). The
    engine calls ``begin()`` before each file it processes.
    """

    def __init__(
        self, root: Path, files: tuple[str, ...] | Callable[[], tuple[str, ...]], max_file_size: int = 2_000_000,
        edit_manifests: bool = True,
    ) -> None:
        self.root = root
        self.max_file_size = max_file_size  # larger files are not read (as if unreadable)
        #: ``[tool.flaskfix] edit-manifests``: may a change add a requirement to a manifest
        self.edit_manifests = edit_manifests
        #: modules this run rewrites, which another file's change must not edit again
        #: (set while such a change is planned a second time; real paths)
        self.blocked: set[str] = set()
        # absolute paths of every Python file of the project; a callable is called (the
        # project walked) only when a codemod first asks, so a run whose files hold no
        # candidate never walks the project
        self._files_or_walk = files if callable(files) else tuple(files)
        self._text: dict[str, str | None] = {}
        self._ast: OrderedDict[str, ast.Module | None] = OrderedDict()
        #: the file the engine is planning, with the tree it parsed (``adopt``)
        self._lent: tuple[str, ast.Module] | None = None
        self._mentions: dict[str, tuple[str, ...]] = {}
        self._index: dict[str, list[str]] | None = None
        self._real: dict[str, str] = {}
        self._derived: OrderedDict[tuple[str, str], object] = OrderedDict()
        self._digests: dict[str, str] = {}
        self._project_index = None
        self._manifests = None
        self.read: dict[str, str] = {}
        self.whole = False

    def use_text(self, path: str, data: bytes) -> None:
        """``path`` (absolute) holds ``data``, whatever the disk says: the buffer an editor
        sends on stdin (``flaskfix diff -``) is what every question about that file reads."""
        self._remember(path, data)

    def _remember(self, path: str, data: bytes) -> None:
        """The digest of ``data`` (the bytes: see note_bytes) and its text, as ``path``'s."""
        import hashlib

        from flaskfix.codemods.engine.source import SourceError, decode_source  # (engine imports us)

        self._digests[path] = hashlib.sha256(data).hexdigest()
        try:
            self._text[path] = decode_source(path, data).text
        except SourceError:
            self._text[path] = None

    def begin(self) -> None:
        """Start recording what the next result depends on."""
        self.read = {}
        self.whole = False

    @property
    def consulted(self) -> bool:
        return self.whole or bool(self.read)

    @property
    def files(self) -> tuple[str, ...]:
        self.whole = True
        return self._files

    @property
    def _files(self) -> tuple[str, ...]:
        if callable(self._files_or_walk):
            self._files_or_walk = tuple(self._files_or_walk())
        return self._files_or_walk

    def __repr__(self) -> str:
        return f"Project(root={self.root!r}, files={len(self._files)})"

    @classmethod
    def empty(cls) -> "Project":
        return cls(root=Path("."), files=())

    # -- raw access ------------------------------------------------------------------

    def text(self, path: str) -> str | None:
        if path not in self._text:
            from flaskfix.codemods.engine.source import SourceError, read_bytes  # (engine imports us)

            try:
                data = read_bytes(path, self.max_file_size)
            except SourceError:
                self._text[path], self._digests[path] = None, UNREADABLE
            else:
                self._remember(path, data)
        self.read[path] = self._digests[path]
        return self._text[path]

    def digest(self, path: str) -> str:
        """The content digest of a project file now (read once per run), recording nothing."""
        if path not in self._digests:
            import hashlib

            from flaskfix.codemods.engine.source import SourceError, read_bytes  # (engine imports us)

            try:  # the bytes only: decoding is for the files a codemod reads (text())
                self._digests[path] = hashlib.sha256(read_bytes(path, self.max_file_size)).hexdigest()
            except SourceError:
                self._digests[path] = UNREADABLE
        return self._digests[path]

    def note_bytes(self, path: str, data: bytes) -> None:
        """The engine read ``path`` (absolute) for a cache lookup: its digest need not be
        read again (checking a result that depends on the whole project digests every file)."""
        if path not in self._digests and len(data) <= self.max_file_size:
            import hashlib

            self._digests[path] = hashlib.sha256(data).hexdigest()

    def content_digest(self) -> str:
        """One digest of every project file's path and content (the file list included)."""
        import hashlib

        h = hashlib.sha256()
        for path in sorted(self._files):
            h.update(f"{path}\0{self.digest(path)}\n".encode())
        return h.hexdigest()

    def index(self):  # type: ignore[no-untyped-def]
        """The project index (``codemods/index.py``), built once per process on first use.
        A result that uses it depends on the whole project."""
        from flaskfix.codemods.index import Index

        if self._project_index is None:
            self._project_index = Index.lazy(self.root, self.files, self.text, self.files_mentioning, self.tree)
        self.whole = True
        return self._project_index

    def indexed(self, path: str):  # type: ignore[no-untyped-def]
        """(index, the index's facts of ``path``), or None when the index cannot speak for
        that file (no project files: a lone string; not a module of it; it did not parse).
        A codemod's project-level detection must then say yes."""
        if not self.files:
            return None
        index = self.index()
        facts = index.module_of(path)
        if facts is None or not facts.parsed:
            return None
        return index, facts

    def manifests(self):  # type: ignore[no-untyped-def]
        """What the project declares it depends on (``codemods/manifests.py``); the result
        depends on the content of every manifest file (recorded for the cache)."""
        from flaskfix.codemods.manifests import declared

        if self._manifests is None:
            self._manifests = declared(self.root)
        root = Path(self.root)
        for name in ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile", *self._manifests.locks, *self._manifests.files):
            path = str(root / name)
            if os.path.isfile(path):
                self.read[path] = self.digest(path)
        return self._manifests

    def imports_package(self, package: str) -> str | None:
        """A runtime module of the project (not a test) that imports ``package``: its path."""
        word = package.split(".")[0]
        pattern = re.compile(rf"^\s*(?:import|from)\s+{re.escape(word)}\b", re.M)
        for path in self.files_mentioning(word):
            if is_test_module(self.relpath(path)):
                continue
            if pattern.search(self.text(path) or ""):
                return path
        return None

    def adopt(self, path: str, text: str, digest: str, tree: ast.Module) -> None:
        """The engine read and parsed ``path`` itself: questions about it (the index's facts
        of the file being planned) use that text and tree instead of reading and parsing
        it again."""
        if path not in self._text:
            self._text[path], self._digests[path] = text, digest
        self._lent = (path, tree) if self._text[path] == text else None

    #: how many stdlib trees of other files one process keeps (least recently used first out).
    #: Every tree kept alive makes each of Python's full garbage collections walk all of its
    #: nodes: with the collector's default thresholds 256 made indico 60% slower, so it was
    #: 32, and 850 of 3,717 parses over 17 apps were of trees dropped earlier. The CLI and
    #: its workers raise the thresholds (pipeline.tune_gc); 256 is then faster on every app
    #: measured (17 apps as one run: 16.4 s against 18.4 s with 32), for about 30 MB more.
    TREE_LIMIT = 256

    def tree(self, path: str) -> ast.Module | None:
        """The stdlib tree of a project file, parsed once while it is kept. Each call records
        that the current result depends on the file (a kept tree included)."""
        text = self.text(path)
        if self._lent is not None and self._lent[0] == path:
            return self._lent[1]
        if path in self._ast:
            self._ast.move_to_end(path)
            return self._ast[path]
        try:
            tree = ast.parse(text) if text is not None else None
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
        self._ast[path] = tree
        if len(self._ast) > self.TREE_LIMIT:
            self._ast.popitem(last=False)
        return tree

    #: how many derived facts (e.g. other modules parsed with LibCST) one process keeps
    DERIVED_LIMIT = 128

    def derived(self, kind: str, path: str, compute: Callable[[str], object]) -> object:
        """``compute(text of path)`` for another file of the project, remembered for the
        whole run (least recently used first out), so a fact about a module that many
        files import is computed once per process, not once per importing file."""
        key = (kind, path)
        if key in self._derived:
            self._derived.move_to_end(key)
            self.text(path)  # (remembered: records what the result depends on, reads nothing)
            return self._derived[key]
        text = self.text(path)
        value = compute(text) if text is not None else None
        self._derived[key] = value
        if len(self._derived) > self.DERIVED_LIMIT:
            self._derived.popitem(last=False)
        return value

    def relpath(self, path: str) -> str:
        try:
            return os.path.relpath(path, self.root)
        except ValueError:
            return path

    def files_mentioning(self, word: str, *, exclude: str | None = None) -> Iterator[str]:
        """Project files whose text holds ``word`` as a whole word. Remembered per word:
        codemods ask the same words for every candidate file, and scanning the project
        each time would make a run quadratic."""
        found = self._mentions.get(word)
        if found is None:
            if _WORD.fullmatch(word):
                found = tuple(self._word_index().get(word, ()))
            else:
                pattern = re.compile(rf"\b{re.escape(word)}\b")
                found = tuple(p for p in self.files if (t := self.text(p)) is not None and pattern.search(t))
            self._mentions[word] = found
        self.whole = True
        skip = self._realpath(exclude) if exclude else None
        for path in found:
            if skip and self._realpath(path) == skip:
                continue
            yield path

    def _realpath(self, path: str) -> str:
        """os.path.realpath, remembered (it stats every folder of the path, and this runs
        for every file that mentions a word, for every question)."""
        real = self._real.get(path)
        if real is None:
            real = self._real[path] = os.path.realpath(path)
        return real

    # -- questions -------------------------------------------------------------------

    def _word_index(self) -> dict[str, list[str]]:
        """word -> the project files holding it as a whole word (built once, on first use)."""
        if self._index is None:
            self._index = {}
            for path in self.files:
                text = self.text(path)
                if text is not None:
                    for word in set(_WORD.findall(text)):
                        self._index.setdefault(word, []).append(path)
        return self._index

    def external_uses(self, path: str, name: str) -> list[ExternalUse]:
        """Places in *other* project files that may use module-level ``name`` of ``path``.

        Conservative: an import of a module whose last dotted part is this file's module
        name counts, whatever package it names (better a refused rewrite than a broken
        importer).
        """
        stem = _module_stem(path)
        uses: list[ExternalUse] = []
        # an importer names our module, or imports relatively ("from . import name")
        importer = re.compile(rf"\b{re.escape(stem)}\b|\bfrom\s+\.")
        for other in self.files_mentioning(name, exclude=path):
            if not importer.search(self.text(other) or ""):
                continue
            tree = self.tree(other)
            if tree is None:
                # Unparsable but mentions the name: assume the worst.
                uses.append(ExternalUse(self.relpath(other), 0, "unparsable file mentions it"))
                continue
            uses.extend(_uses_in(tree, stem, name, self.relpath(other), other))
        return uses

    def assigned_from_call(self, module_stem: str, name: str, callee_suffixes: tuple[str, ...]) -> bool:
        """Does a project module named ``module_stem`` bind ``name`` to a call of one of
        ``callee_suffixes`` (e.g. ``("Flask", "Blueprint")``) at module level?"""
        for path in self.files_mentioning(name):
            if _module_stem(path) != module_stem:
                continue
            tree = self.tree(path)
            if tree is None:
                continue
            for stmt in tree.body:
                if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(stmt.value, ast.Call):
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                        callee = dotted(stmt.value.func)
                        if callee and callee.split(".")[-1] in callee_suffixes:
                            return True
                        # ``app = create_app()``: a factory of this module, or one it imports
                        if callee and "." not in callee and self._factory_of(tree, callee, callee_suffixes):
                            return True
        return False

    def _factory_of(self, tree: ast.Module, func: str, callee_suffixes: tuple[str, ...], depth: int = 0) -> bool:
        """Is ``func`` (a name in the module ``tree``) a function that creates an object with
        one of ``callee_suffixes`` and returns it: defined there, or imported from a project
        module that defines it?"""
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == func:
                made = {t.id for n in ast.walk(stmt) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                        and (dotted(n.value.func) or "").split(".")[-1] in callee_suffixes
                        for t in n.targets if isinstance(t, ast.Name)}
                return any(isinstance(n, ast.Return) and isinstance(n.value, ast.Name) and n.value.id in made
                           for n in ast.walk(stmt))
            if isinstance(stmt, ast.ImportFrom) and depth == 0 and any((a.asname or a.name) == func for a in stmt.names):
                original = next(a.name for a in stmt.names if (a.asname or a.name) == func)
                stem = (stmt.module or "").split(".")[-1]
                for path in self.files_mentioning(original):
                    other = self.tree(path) if stem and _module_stem(path) == stem else None
                    if other is not None and self._factory_of(other, original, callee_suffixes, depth + 1):
                        return True
        return False


def is_test_module(relpath: str) -> bool:
    """A test module by pytest's and unittest's naming (under tests/, test/ or testing/;
    test_*.py, *_test.py, conftest.py): it never runs in production."""
    parts = relpath.replace("\\", "/").split("/")
    name = parts[-1]
    return (any(p in ("tests", "test", "testing") for p in parts[:-1]) or name.startswith(("test_", "conftest"))
            or name.endswith("_test.py"))


def _module_stem(path: str) -> str:
    p = Path(path)
    return p.parent.name if p.name == "__init__.py" else p.stem


def _uses_in(tree: ast.Module, stem: str, name: str, rel: str, path: str) -> list[ExternalUse]:
    uses: list[ExternalUse] = []
    module_aliases: set[str] = set()  # local names bound to our module (or a dotted path to it)
    sibling = Path(path).parent.name  # for "from . import name" inside the package
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            last = mod.split(".")[-1] if mod else (sibling if node.level else "")
            for alias in node.names:
                if last == stem and alias.name in (name, "*"):
                    uses.append(ExternalUse(rel, node.lineno, f"from {'.' * node.level}{mod} import {alias.name}"))
                elif alias.name == stem:  # from pkg import app  -> app.name
                    module_aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[-1] == stem:
                    module_aliases.add(alias.asname or alias.name)
                elif alias.asname is None and stem in alias.name.split("."):
                    module_aliases.add(alias.name)
    if module_aliases:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == name:
                base = dotted(node.value)
                if base and (base in module_aliases or base.split(".")[-1] == stem):
                    uses.append(ExternalUse(rel, node.lineno, f"{base}.{name}"))
            elif isinstance(node, ast.Call) and dotted(node.func) in ("getattr", "setattr", "hasattr"):
                if node.args and dotted(node.args[0]) in module_aliases:
                    uses.append(ExternalUse(rel, node.lineno, "getattr on the module"))
    return uses


# -- SQLAlchemy models (added for bulk-query) ----------------------------------------------

INT_COLUMN_TYPES = frozenset({"Integer", "BigInteger", "SmallInteger"})
STR_COLUMN_TYPES = frozenset({"String", "Text", "Unicode", "UnicodeText"})


@dataclass(frozen=True)
class ModelInfo:
    """What a Flask-SQLAlchemy model class says about itself, read statically.

    ``problem`` is None when the class is a plain ``db.Model`` subclass with exactly one
    primary-key column declared in its own body; otherwise it says why flaskfix cannot
    rely on it (and the other fields may be empty)."""

    name: str
    primary_key: str = ""
    #: "int" or "str" (the Python type of the primary key's values), or None when unknown
    pk_type: str | None = None
    #: the local name of the Flask-SQLAlchemy object in ``class X(<db>.Model)``
    db_name: str = ""
    problem: str | None = None
    #: every column declared in the class body, with its Python type ("int", "str") or None
    columns: tuple[tuple[str, str | None], ...] = ()
    #: "flask": ``class X(db.Model)``; "declarative": ``class X(Base)``, a base that the
    #: planner must still prove to be a plain SQLAlchemy declarative base (``db_name`` is its name)
    base_kind: str = "flask"


def sqlalchemy_model(tree: ast.Module, class_name: str) -> ModelInfo | None:
    """Read module-level ``class <class_name>(db.Model)`` of ``tree``; None if absent."""
    classes = [s for s in tree.body if isinstance(s, ast.ClassDef) and s.name == class_name]
    if not classes:
        return None
    if len(classes) > 1:
        return ModelInfo(class_name, problem="it is defined more than once")
    cls = classes[0]
    bases = [dotted(b) for b in cls.bases]
    base_kind = "flask"
    if len(bases) == 1 and isinstance(cls.bases[0], ast.Name) and not cls.keywords:
        base_kind = "declarative"  # ``class User(Base)``: proven a declarative base by the caller
        db_name = bases[0] or ""
    elif len(bases) != 1 or bases[0] is None or not bases[0].endswith(".Model") or bases[0].count(".") != 1 or cls.keywords:
        return ModelInfo(class_name, problem="it is not a direct `db.Model` subclass (mixins and inheritance may add or change primary keys)")
    else:
        db_name = bases[0].split(".")[0]
    columns: dict[str, tuple[ast.Call, ast.expr | None]] = {}
    flagged: list[str] = []  # columns declared with primary_key=True
    mapper_args: ast.expr | None = None
    for stmt in cls.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        annotation: ast.expr | None = None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            targets, value, annotation = [stmt.target], stmt.value, stmt.annotation
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name in _MODEL_SPECIAL_NAMES:
            return ModelInfo(class_name, db_name=db_name, base_kind=base_kind, problem=f"it computes `{stmt.name}` in a method, which flaskfix cannot read")
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if names == ["__mapper_args__"] and len(targets) == 1:
            mapper_args = value
            continue
        if any(n in _MODEL_SPECIAL_NAMES for n in names):
            return ModelInfo(class_name, db_name=db_name, base_kind=base_kind, problem=f"it sets `{names[0]}`, which may change how it is queried")
        if not isinstance(value, ast.Call) or len(names) != 1:
            continue
        callee = (dotted(value.func) or "").split(".")[-1]
        if callee not in ("Column", "mapped_column"):
            continue
        columns[names[0]] = (value, annotation)
        if not any(k.arg == "primary_key" and isinstance(k.value, ast.Constant) and k.value.value is True for k in value.keywords):
            if any(k.arg == "primary_key" for k in value.keywords):
                return ModelInfo(class_name, db_name=db_name, base_kind=base_kind, problem="a `primary_key=` flag is not a literal True/False")
            continue
        flagged.append(names[0])
    pks = flagged
    if mapper_args is not None:
        declared = _mapper_primary_key(mapper_args)
        if isinstance(declared, str):
            return ModelInfo(class_name, db_name=db_name, base_kind=base_kind, problem=declared)
        if declared is not None:  # the mapper's primary key replaces the table's
            pks = declared
            unknown = [n for n in pks if n not in columns]
            if unknown:
                return ModelInfo(class_name, db_name=db_name, base_kind=base_kind, problem=f"its `__mapper_args__` primary key `{unknown[0]}` is not a column declared in its body")
    if not pks:
        return ModelInfo(class_name, db_name=db_name, base_kind=base_kind, problem="no primary-key column is declared in its body")
    if len(pks) > 1:
        return ModelInfo(class_name, db_name=db_name, base_kind=base_kind, problem="its primary key is composite")
    call, annotation = columns[pks[0]]
    return ModelInfo(class_name, pks[0], _column_python_type(call, annotation), db_name,
                     columns=tuple((n, _column_python_type(c, a)) for n, (c, a) in columns.items()), base_kind=base_kind)


#: class attributes that change how a model is mapped or queried in ways flaskfix does not follow
_MODEL_SPECIAL_NAMES = frozenset({"__table__", "__mapper_args__", "query", "query_class", "__abstract__"})
#: ``__mapper_args__`` keys that only affect writes; any other key makes the model unreadable
_MAPPER_WRITE_ONLY_KEYS = frozenset({"eager_defaults", "confirm_deleted_rows", "version_id_col", "version_id_generator"})


def _mapper_primary_key(args: ast.expr | None) -> list[str] | str | None:
    """The column names ``__mapper_args__ = {"primary_key": ...}`` makes the mapper's
    primary key (a column, its name, or a list/tuple of them); None when it sets none;
    a string saying why when flaskfix cannot read it."""
    if not isinstance(args, ast.Dict) or any(not isinstance(k, ast.Constant) or not isinstance(k.value, str) for k in args.keys):
        return "its `__mapper_args__` is not a literal dict, so flaskfix cannot read its primary key"
    found: list[str] | None = None
    for key, value in zip(args.keys, args.values):
        name = key.value  # type: ignore[union-attr]
        if name == "primary_key":
            items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
            found = []
            for item in items:
                if isinstance(item, ast.Name):
                    found.append(item.id)
                elif isinstance(item, ast.Constant) and isinstance(item.value, str):
                    found.append(item.value)
                else:
                    return "its `__mapper_args__` primary key is not a column of its body or a column name"
        elif name not in _MAPPER_WRITE_ONLY_KEYS:
            return f"its `__mapper_args__` sets `{name}`, which may change which rows and classes a query loads"
    return found


def _column_python_type(call: ast.Call, annotation: ast.expr | None) -> str | None:
    for arg in call.args:
        type_expr = arg.func if isinstance(arg, ast.Call) else arg
        last = (dotted(type_expr) or "").split(".")[-1]
        if last in INT_COLUMN_TYPES:
            return "int"
        if last in STR_COLUMN_TYPES:
            return "str"
        if last and last != "ForeignKey" and not isinstance(arg, ast.Constant):
            return None  # another column type: unknown
    if isinstance(annotation, ast.Subscript) and (dotted(annotation.value) or "").split(".")[-1] == "Mapped":
        inner = annotation.slice
        if isinstance(inner, ast.Name) and inner.id in ("int", "str"):
            return inner.id
    return None


def resolve_module(project: Project, module: str, importer: str, level: int = 0) -> str | None:
    """The project file that ``from <'.' * level><module> import ...`` in ``importer`` reads.

    Relative imports resolve against the importer's package. Absolute ones are looked up
    in the importer's folder and then each parent folder up to the project root (the
    folders a script or an application root puts on ``sys.path``), nearest first; when
    none matches, a unique file whose module name is the last part of ``module`` is
    taken. None when that is ambiguous or absent."""
    files = _real_files(project)
    parts = [p for p in module.split(".") if p]
    here = Path(os.path.realpath(importer)).parent
    if level:
        bases = [here.parents[level - 2] if level >= 2 else here]
    else:
        root = Path(os.path.realpath(project.root))
        bases = [here, *[p for p in here.parents if p == root or root in p.parents]]
    for base in bases:
        target = base.joinpath(*parts) if parts else base
        for candidate in (target.with_suffix(".py") if parts else None, target / "__init__.py"):
            if candidate is not None and str(candidate) in files:
                return files[str(candidate)]
    if level or not parts:
        return None
    matches = _files_by_stem(project).get(parts[-1], ())
    return matches[0] if len(matches) == 1 else None


def _real_files(project: Project) -> dict[str, str]:
    """realpath -> path of every project file, made once per file list (a realpath per
    file per call made resolving imports cost seconds on a large project)."""
    key = (id(project.files), len(project.files))
    cached = getattr(project, "_real_files_memo", None)
    if cached is None or cached[0] != key:
        cached = (key, {os.path.realpath(f): f for f in project.files})
        try:
            project._real_files_memo = cached  # type: ignore[attr-defined]
        except AttributeError:  # a stand-in project object without attributes
            pass
    return cached[1]


def _files_by_stem(project: Project) -> dict[str, list[str]]:
    """module stem -> the project files with it, made once per file list (the fallback of
    resolve_module scanned every file for each import it could not place)."""
    key = (id(project.files), len(project.files))
    cached = getattr(project, "_files_by_stem_memo", None)
    if cached is None or cached[0] != key:
        stems: dict[str, list[str]] = {}
        for f in project.files:
            stems.setdefault(_module_stem(f), []).append(f)
        cached = (key, stems)
        try:
            project._files_by_stem_memo = cached  # type: ignore[attr-defined]
        except AttributeError:
            pass
    return cached[1]


def find_model(project: Project, path: str, class_name: str) -> ModelInfo | None:
    """What module-level ``class <class_name>`` of the project file ``path`` says about
    itself as a Flask-SQLAlchemy model; None when the file does not define it."""
    tree = project.tree(path)
    return sqlalchemy_model(tree, class_name) if tree is not None else None


def sqlalchemy_call(project: Project, path: str, name: str, _depth: int = 0) -> ast.Call | None:
    """The ``SQLAlchemy(...)`` call that the project file ``path`` binds ``name`` to at
    module level, following ``from X import name`` re-exports (three at most); None if
    not provable."""
    tree = project.tree(path)
    if tree is None:
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            if any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
                if (dotted(stmt.value.func) or "").split(".")[-1] == "SQLAlchemy":
                    return stmt.value
        elif isinstance(stmt, ast.ImportFrom) and _depth < 3:
            for alias in stmt.names:
                if (alias.asname or alias.name) == name and alias.name == name:
                    source = resolve_module(project, stmt.module or "", path, stmt.level)
                    return sqlalchemy_call(project, source, name, _depth + 1) if source else None
    return None


# -- plain SQLAlchemy (declarative bases, sessions), added for bulk-query --------------------

#: what ``declarative_base`` may be called as
DECLARATIVE_BASE_CALLS = frozenset({"sqlalchemy.orm.declarative_base", "sqlalchemy.ext.declarative.declarative_base",
                                    "sqlalchemy.orm.decl_api.declarative_base"})
DECLARATIVE_BASE_CLASSES = frozenset({"sqlalchemy.orm.DeclarativeBase", "sqlalchemy.orm.DeclarativeBaseNoMeta"})
SCOPED_SESSION = frozenset({"sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoping.scoped_session"})
SESSIONMAKER = frozenset({"sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker"})
#: annotations that make a parameter a session
SESSION_CLASSES = frozenset({"sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session", *SCOPED_SESSION})
#: ``declarative_base()`` keywords that change nothing about which columns, keys or rows a model has
_PLAIN_BASE_KEYWORDS = frozenset({"name", "metadata", "bind"})


def module_binding(project: Project, path: str, name: str, _depth: int = 0) -> tuple[str, ast.stmt] | None:
    """(file, statement) of the one module-level statement of project file ``path`` that
    binds ``name`` (``name = <call>`` or ``class name``), following ``from X import name
    [as alias]`` re-exports (three at most); None when there is none or more than one."""
    tree = project.tree(path)
    if tree is None:
        return None
    found: list[tuple[str, ast.stmt]] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
            found.append((path, stmt))
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
            found.append((path, stmt))
        elif isinstance(stmt, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
            found.append((path, stmt))
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if (alias.asname or alias.name) == name:
                    source = resolve_module(project, stmt.module or "", path, stmt.level) if _depth < 3 else None
                    binding = module_binding(project, source, alias.name, _depth + 1) if source else None
                    if binding is None:
                        return None
                    found.append(binding)
        elif isinstance(stmt, ast.Import) and any((a.asname or a.name.split(".")[0]) == name for a in stmt.names):
            return None
    return found[0] if len(found) == 1 else None


def qualified(tree: ast.Module, expr: ast.expr) -> str | None:
    """The dotted name ``expr`` refers to through ``tree``'s module-level imports
    (``sa.orm.scoped_session`` with ``import sqlalchemy as sa`` -> ``sqlalchemy.orm.scoped_session``);
    None when its first name is not imported."""
    text = dotted(expr)
    if text is None:
        return None
    head, _, rest = text.partition(".")
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
            for alias in stmt.names:
                if (alias.asname or alias.name) == head:
                    return ".".join(p for p in (stmt.module, alias.name, rest) if p)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname == head:
                    return ".".join(p for p in (alias.name, rest) if p)
                if alias.asname is None and alias.name.split(".")[0] == head:
                    return text
    return None


def session_factory(project: Project, path: str, name: str) -> str | None:
    """What module-level ``name`` of project file ``path`` is: "scoped" for
    ``scoped_session(...)`` or ``Session(...)`` (a session itself: ``name.query(...)``), "sessionmaker" for
    ``sessionmaker(...)`` (``name()`` makes a session); None when neither is provable."""
    binding = module_binding(project, path, name)
    if binding is None:
        return None
    where, stmt = binding
    tree = project.tree(where)
    if tree is None or not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1 or not isinstance(stmt.value, ast.Call):
        return None
    callee = qualified(tree, stmt.value.func)
    if callee in SCOPED_SESSION or callee in SESSION_CLASSES:
        return "scoped"
    if callee in SESSIONMAKER:
        return "sessionmaker"
    return None


@dataclass(frozen=True)
class DeclarativeBaseInfo:
    """A plain SQLAlchemy declarative base: ``Base = declarative_base()`` or
    ``class Base(DeclarativeBase): pass``. ``problem`` says why flaskfix cannot rely on it;
    ``query`` is None when the project sets no ``Base.query``, "" when it is
    ``<scoped session>.query_property()`` (so ``Model.query`` is that session's query),
    else why ``Model.query`` is not followed."""

    problem: str | None
    query: str | None = None


def declarative_base(project: Project, path: str, name: str) -> DeclarativeBaseInfo:
    """Whether ``name``, as project file ``path`` binds it at module level, is a plain
    SQLAlchemy declarative base (nothing that may add columns or change how rows load)."""
    binding = module_binding(project, path, name)
    not_plain = DeclarativeBaseInfo(f"it is not a direct subclass of `db.Model` or of a plain SQLAlchemy declarative base "
                                    f"(its base `{name}` is not provably `declarative_base()` or a `DeclarativeBase` subclass "
                                    "with an empty body); mixins and inheritance may add or change primary keys")
    if binding is None:
        return not_plain
    where, stmt = binding
    tree = project.tree(where)
    assert tree is not None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Call):
        if qualified(tree, stmt.value.func) not in DECLARATIVE_BASE_CALLS:
            return not_plain
        other = [k.arg or "**" for k in stmt.value.keywords if k.arg not in _PLAIN_BASE_KEYWORDS]
        if other or stmt.value.args:
            return DeclarativeBaseInfo(f"its base `{name}` is made by `declarative_base()` with "
                                       f"{'`' + other[0] + '=`' if other else 'positional arguments'}, which may add columns or change how rows load")
    elif isinstance(stmt, ast.ClassDef):
        if (len(stmt.bases) != 1 or stmt.keywords or qualified(tree, stmt.bases[0]) not in DECLARATIVE_BASE_CLASSES
                or not all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
                           for s in stmt.body)):
            return not_plain
    else:
        return not_plain
    base_name = stmt.targets[0].id if isinstance(stmt, ast.Assign) else stmt.name  # type: ignore[attr-defined]
    query: str | None = None
    for s in tree.body:
        targets = s.targets if isinstance(s, ast.Assign) else [s.target] if isinstance(s, (ast.AnnAssign, ast.AugAssign)) else []
        for t in targets:
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == base_name:
                if t.attr != "query" or not isinstance(s, ast.Assign):
                    return DeclarativeBaseInfo(f"`{base_name}.{t.attr}` is set at line {s.lineno}, which may change how its models load")
                value = s.value
                if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "query_property"
                        and not value.args and not value.keywords and isinstance(value.func.value, ast.Name)
                        and session_factory(project, where, value.func.value.id) == "scoped"):
                    query = ""
                else:
                    query = (f"`{base_name}.query` is set at line {s.lineno} to something other than "
                             "`<scoped_session>.query_property()` without arguments")
    return DeclarativeBaseInfo(None, query)
