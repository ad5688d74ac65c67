"""The output a project keeps: generated code formatted, added imports in place.

``tidy`` runs on every file a run changes (``--no-black`` turns it off):

* imports: when the file's imports were sorted before (isort, with the project's isort
  settings, else the black profile at the project's line length), the rewritten file's
  imports are sorted the same way, which moves only what flaskfix added (a name appended
  to ``from flask import ...``, ``from werkzeug.exceptions import ...`` after relative
  imports). A file whose imports were not sorted keeps flaskfix's placement: sorting it
  would change lines flaskfix did not touch.
* code: black, on the lines flaskfix changed only (black's ``lines=`` ranges), so a file
  that was never black-formatted gets no unrelated churn. The settings are the project's
  ``[tool.black]``; else its ruff settings (``line-length``; quotes kept as they are
  unless ruff's ``format.quote-style`` is ``double``); else black's defaults with quotes
  kept as they are (flaskfix writes the quotes the module already uses).
"""

from __future__ import annotations

import difflib
from typing import Any

from flaskfix.codemods.engine.diff import split_lines


def black_mode(settings: dict[str, Any] | None):  # type: ignore[no-untyped-def]
    import black

    settings = {k.replace("-", "_"): v for k, v in (settings or {}).items()}
    targets = set()
    for v in settings.get("target_version", []) or []:
        try:
            targets.add(black.TargetVersion[str(v).upper()])
        except KeyError:
            pass
    return black.Mode(
        target_versions=targets,
        line_length=int(settings.get("line_length", black.DEFAULT_LINE_LENGTH)),
        string_normalization=not settings.get("skip_string_normalization", False),
        magic_trailing_comma=not settings.get("skip_magic_trailing_comma", False),
        preview=bool(settings.get("preview", False)),
    )


def style(black_settings: dict[str, Any] | None, ruff: dict[str, Any] | None) -> dict[str, Any]:
    """The black settings that format like the project: its [tool.black], else its ruff
    configuration, else black's defaults keeping quotes as they are."""
    if black_settings is not None:
        return black_settings
    out: dict[str, Any] = {"skip_string_normalization": True}
    if ruff:
        if isinstance(ruff.get("line-length"), int):
            out["line_length"] = ruff["line-length"]
        fmt = ruff.get("format") if isinstance(ruff.get("format"), dict) else {}
        if fmt.get("quote-style", "double") == "double":
            out["skip_string_normalization"] = False
        if fmt.get("skip-magic-trailing-comma"):
            out["skip_magic_trailing_comma"] = True
    return out


def sort_imports(old: str, new: str, root: Any, line_length: int) -> str:
    """``new`` with its imports sorted as ``old``'s were (see the module docstring); ``new``
    itself when ``old``'s were not sorted, or isort cannot read either."""
    try:
        import isort

        config = _isort_config(str(root), line_length)
        if isort.code(old, config=config) != old:
            return new
        return isort.code(new, config=config)
    except Exception:  # isort refuses some inputs: the rewrite is kept as it is
        return new


_ISORT: dict[tuple[str, int], Any] = {}


def _isort_config(root: str, line_length: int):  # type: ignore[no-untyped-def]
    key = (root, line_length)
    if key not in _ISORT:
        import os

        import isort

        src = tuple(p for p in (root, os.path.join(root, "src")) if os.path.isdir(p))
        found = isort.Config(settings_path=root, quiet=True)
        if any(s.get("source") not in ("defaults", "runtime") for s in found.sources):
            _ISORT[key] = isort.Config(settings_path=root, quiet=True, src_paths=src or (root,))
        else:  # no isort settings: ruff's I001 and black's layout agree with the black profile
            _ISORT[key] = isort.Config(profile="black", line_length=line_length, quiet=True, src_paths=src or (root,))
    return _ISORT[key]


def tidy(old: str, new: str, config: Any) -> str:
    """Sort the imports flaskfix added, then format the lines it changed (module docstring);
    ``config``: the run's ``Config`` (its black and ruff tables, its root)."""
    settings = style(config.black, config.ruff)
    import black

    line_length = int({k.replace("-", "_"): v for k, v in settings.items()}.get("line_length", black.DEFAULT_LINE_LENGTH))
    return format_changed_regions(old, sort_imports(old, new, config.root, line_length), settings)


def changed_line_ranges(old: str, new: str) -> list[tuple[int, int]]:
    """1-based inclusive line ranges of ``new`` that differ from ``old``."""
    ranges = []
    matcher = difflib.SequenceMatcher(None, split_lines(old), split_lines(new), autojunk=False)
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert") and j2 > j1:
            ranges.append((j1 + 1, j2))
        # a pure deletion leaves no new line to format
    return ranges


def format_changed_regions(old: str, new: str, settings: dict[str, Any] | None) -> str:
    """``new`` with black applied to the lines that differ from ``old``.

    Returns ``new`` unchanged if black cannot format it (black's errors never lose a fix).
    """
    ranges = changed_line_ranges(old, new)
    if not ranges:
        return new
    out = _black(new, settings, ranges)
    if _untouched_kept(new, out, ranges):
        return out
    # a changed line inside a statement of several lines (an element of a bracketed call):
    # black formats the whole statement or not at all, so the ranges grow to the statements
    whole = _statement_ranges(new, ranges)
    if whole != ranges:
        out = _black(new, settings, whole)
        if _untouched_kept(new, out, whole):
            return out
    # black's line ranges may still change blank lines next to a range (after an import line
    # at the top, it removed one of the two before a def): formatting an import is isort's
    # part, so try without those ranges, and keep no formatting rather than touch other lines
    lines = split_lines(new)
    code = [(a, b) for a, b in ranges if not all(lines[i - 1].lstrip().startswith(("import ", "from ")) for i in range(a, b + 1))]
    out = _black(new, settings, code) if code and code != ranges else new
    return out if _untouched_kept(new, out, ranges) else new


def _statement_ranges(text: str, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``ranges`` grown to whole statements: a simple statement's lines, a compound one's
    header (``for ... in <several lines>:``); ``ranges`` when ``text`` does not parse."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return ranges
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.end_lineno is not None and node.end_lineno > node.lineno:
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                first = min([body[0].lineno, *(d.lineno for d in getattr(body[0], "decorator_list", []))])
                if first - 1 > node.lineno:
                    spans.append((node.lineno, first - 1))
            elif not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef, ast.Try, ast.If, ast.Match)):
                spans.append((node.lineno, node.end_lineno))
    out = []
    for a, b in ranges:
        for s, e in spans:
            if s <= b and a <= e:
                a, b = min(a, s), max(b, e)
        out.append((a, b))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(out):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _black(text: str, settings: dict[str, Any] | None, ranges: list[tuple[int, int]]) -> str:
    import black

    try:
        return black.format_file_contents(text, fast=False, mode=black_mode(settings), lines=ranges)
    except black.NothingChanged:
        return text
    except Exception:  # black refuses some inputs (e.g. syntax it does not target)
        return text


def _untouched_kept(before: str, after: str, ranges: list[tuple[int, int]]) -> bool:
    """Does ``after`` keep every line of ``before`` outside ``ranges`` (1-based, inclusive)?"""
    inside = {i for a, b in ranges for i in range(a, b + 1)}
    matcher = difflib.SequenceMatcher(None, split_lines(before), split_lines(after), autojunk=False)
    return all((i1 in inside or i1 + 1 in inside) if tag == "insert" else all(i + 1 in inside for i in range(i1, i2))
               for tag, i1, i2, _j1, _j2 in matcher.get_opcodes() if tag != "equal")
