"""Supporting edits: what a run's changes need outside the files they change.

* a requirement line in a manifest (``codemods/manifest_edits.py``): a change that imports
  Flask-Caching or redis in a project that does not declare it records a ``Requirement``;
* an edit of another module (``CodeSupport``): the ``cache = Cache()`` a cached blueprint
  view imports, in the extensions module, and its ``init_app`` in the factory.

After every file's result, one result per file to edit adds what the changed files need,
once however many changes need it. Such a result lists the files it ``supports``: ``apply``
writes it with them and never without them. A module that this run also rewrites is not
edited a second time: the changes that would need it are dropped (``conflicts``) and say so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import ast
import re

from flaskfix.codemods.changes import CodeSupport, Requirement
from flaskfix.codemods.engine.pipeline import FileResult
from flaskfix.codemods.engine.discovery import display as shown
from flaskfix.codemods.engine.source import SourceError, read_source


def manifest_results(needs: Iterable[tuple[str, list[Requirement]]], root: Path) -> list[FileResult]:
    """One result per manifest that a kept change needs a line in. ``needs``: (path of a
    changed file, its requirements), for the changes that are kept."""
    by_manifest: dict[str, dict[str, set[str]]] = {}
    for path, requirements in needs:
        for q in requirements:
            by_manifest.setdefault(q.manifest, {}).setdefault(q.distribution, set()).add(path)
    if not by_manifest:
        return []
    from flaskfix.codemods import manifest_edits  # (here: packaging only when a manifest is edited)

    out = []
    for file, wanted in sorted(by_manifest.items()):
        full = Path(root) / file
        supports = sorted({p for paths in wanted.values() for p in paths})
        path = shown(full)
        try:
            source = read_source(str(full))
        except SourceError as exc:
            out.append(FileResult(path, error=f"cannot add {', '.join(sorted(wanted))} to it: {exc}", supports=supports))
            continue
        t = manifest_edits.Target(file, manifest_edits._kind(Path(root), file))
        try:
            _old, new, _lines = manifest_edits.add(Path(root), t, sorted(wanted), text=source.text)
        except (manifest_edits.ManifestEditError, KeyError) as exc:
            # (the codemods tried this edit when they planned: the manifest changed since)
            out.append(FileResult(path, source=source, supports=supports,
                                  error=f"cannot add {', '.join(sorted(wanted))} to it: {exc}; the changes that need it "
                                        "are not written"))
            continue
        result = FileResult(path, source=source, new_text=new, supports=supports)
        result.diff_path = os.path.relpath(full, Path(root).resolve()) if os.path.isabs(path) else None
        out.append(result)
    return out


class SupportError(Exception):
    """A supporting edit of a module cannot be made; ``str()`` says why."""


def code_results(needs: Iterable[tuple[str, list[CodeSupport]]], root: Path) -> list[FileResult]:
    """One result per module that kept changes need an edit in (``CodeSupport``)."""
    by_path: dict[str, tuple[set[CodeSupport], set[str]]] = {}
    for path, supports in needs:
        for s in supports:
            edits, paths = by_path.setdefault(s.path, (set(), set()))
            edits.add(s)
            paths.add(path)
    out = []
    for rel, (edits, paths) in sorted(by_path.items()):
        full = Path(root) / rel
        supports = sorted(paths)
        try:
            source = read_source(str(full))
            new = apply_code_supports(source.text, sorted(edits, key=lambda e: (e.kind != "cache-define", e)))
        except (SourceError, SupportError) as exc:
            out.append(FileResult(shown(full), error=f"cannot make the edit the changes in {', '.join(supports)} need: {exc}",
                                  supports=supports))
            continue
        result = FileResult(shown(full), source=source, new_text=new, supports=supports)
        out.append(result)
    return out


def apply_code_supports(text: str, edits: list[CodeSupport]) -> str:
    # one shared handler per blueprint, with every class any of its view modules raises
    merged: dict[tuple[str, str], set[str]] = {}
    others = []
    for e in edits:
        if e.kind == "client-input-handler":
            merged.setdefault((e.args[0], e.args[1]), set()).update(e.args[2:])
        else:
            others.append(e)
    for (blueprint, status), excs in sorted(merged.items()):
        text = _client_input_handler(text, blueprint, int(status), excs)
    for e in others:
        if e.kind == "cache-define":
            text = _define_cache(text, *e.args)
        elif e.kind == "cache-init":
            text = _init_cache(text, *e.args)
        else:
            raise SupportError(f"unknown edit {e.kind}")
    try:
        ast.parse(text)
    except SyntaxError as exc:
        raise SupportError(f"the edited module does not parse ({exc.msg}, line {exc.lineno})") from None
    return text


def _lines(text: str) -> tuple[list[str], str]:
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    return lines, newline


def _after_imports(tree: ast.Module) -> int:
    """The 0-based line index after the module's head of imports (docstring included)."""
    end = 0
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            end = node.end_lineno or node.lineno
        else:
            break
    return end


def _add_import(text: str, line: str) -> str:
    tree = ast.parse(text)
    lines, newline = _lines(text)
    at = _after_imports(tree)
    lines.insert(at, line + newline)
    return "".join(lines)


def _quote(text: str) -> str:
    return "'" if len(re.findall(r"'[^'\n]*'", text)) > len(re.findall(r'"[^"\n]*"', text)) else '"'


def _define_cache(text: str, name: str) -> str:
    tree = ast.parse(text)
    bound = {n.id for node in tree.body for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    imported = {a.asname or a.name for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names}
    if name in bound or name in imported:
        raise SupportError(f"`{name}` is already bound there")
    has_cache = any(isinstance(n, ast.ImportFrom) and n.module == "flask_caching" and any(a.name == "Cache" and not a.asname for a in n.names)
                    for n in tree.body)
    if not has_cache:
        if "Cache" in bound or "Cache" in imported:
            raise SupportError("the name `Cache` is taken there")
        text = _add_import(text, "from flask_caching import Cache")
        tree = ast.parse(text)
    lines, newline = _lines(text)
    # after the last module-level ``x = Something()`` before the first def/class, else the imports
    at, blank = _after_imports(tree), True
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            break
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            at, blank = node.end_lineno or node.lineno, False
    new = [f"{name} = Cache(){newline}"]
    if blank:
        new = [newline] + new
        if at < len(lines) and lines[at].strip():
            new.append(newline)
    lines[at:at] = new
    return "".join(lines)


def _init_cache(text: str, factory: str, app: str, name: str, import_from: str) -> str:
    if import_from:
        text = _add_import(text, f"from {import_from} import {name}")
    tree = ast.parse(text)
    func = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == factory), None)
    if func is None or not isinstance(func.body[-1], ast.Return):
        raise SupportError(f"`{factory}()` does not end with `return {app}`")
    ret = func.body[-1]
    lines, newline = _lines(text)
    indent = lines[ret.lineno - 1][: ret.col_offset]
    if indent.strip():
        raise SupportError(f"`return {app}` of `{factory}()` shares its line")
    q = _quote(text)
    new = [f"{indent}{app}.config.setdefault({q}CACHE_TYPE{q}, {q}SimpleCache{q}){newline}",
           f"{indent}{name}.init_app({app}){newline}"]
    lines[ret.lineno - 1: ret.lineno - 1] = new
    return "".join(lines)


def _client_input_handler(text: str, blueprint: str, status: int, excs: set[str]) -> str:
    """The client-input classes and their handler, once for ``blueprint``, right after the
    statement that creates it (before any later import of its view modules, which import
    the classes from here)."""
    from flaskfix.codemods.plan.error_handler import (BASE_CLASS, CLIENT_CLASSES, EXCEPTIONS, HANDLER, class_texts,
                                                      handler_text)

    tree = ast.parse(text)
    created = [n for n in tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1
               and isinstance(n.targets[0], ast.Name) and n.targets[0].id == blueprint]
    if len(created) != 1:
        raise SupportError(f"`{blueprint}` is not created by one module-level statement")
    names = {(a.asname or a.name): (n.module or "") for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    missing: dict[str, list[str]] = {}
    for name, source in (("BadRequest", "werkzeug.exceptions"), ("current_app", "flask"), ("request", "flask")):
        if name not in names:
            missing.setdefault(source, []).append(name)
        elif names[name] != source:
            raise SupportError(f"`{name}` is bound to something else there")
    for source, wanted in missing.items():
        text = _import_names(text, source, wanted)
    tree = ast.parse(text)
    stmt = next(n for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
                and n.targets[0].id == blueprint)
    lines, newline = _lines(text)
    q = _quote(text)
    classes = {exc: CLIENT_CLASSES[exc][0] for exc in EXCEPTIONS if exc in excs}
    doc = "Bad input in the request, at an operation flaskfix wrapped: answered 400 below."
    parts = class_texts(BASE_CLASS, "BadRequest", classes, "    ", doc)
    parts.append(handler_text(blueprint, HANDLER, BASE_CLASS, "current_app", "request", status, "    ", q))
    block = "".join(newline + newline + part.replace("\n", newline) for part in parts)
    at = stmt.end_lineno or stmt.lineno
    blank = 0
    while at + blank < len(lines) and not lines[at + blank].strip():
        blank += 1
    if at + blank < len(lines):  # two blank lines before the next statement
        block += newline * max(0, 2 - blank)
    lines.insert(at, block)
    return "".join(lines)


def _import_names(text: str, module: str, names: list[str]) -> str:
    """``from module import <names>``: added to the module's one-line ``from module import``
    when it has one, else a line of its own after its imports."""
    tree = ast.parse(text)
    lines, newline = _lines(text)
    for node in tree.body:
        if (isinstance(node, ast.ImportFrom) and node.module == module and node.level == 0
                and node.lineno == node.end_lineno and not any(a.name == "*" for a in node.names)):
            line = lines[node.lineno - 1]
            code, hash_, comment = line.rstrip("\r\n").partition("#")
            if "(" in code or ";" in code:
                break
            lines[node.lineno - 1] = code.rstrip() + ", " + ", ".join(names) + (f"  #{comment}" if hash_ else "") + newline
            return "".join(lines)
    return _add_import(text, f"from {module} import {', '.join(names)}")
