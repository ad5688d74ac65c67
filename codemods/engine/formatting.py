"""black, for the files a run changed, and only the lines it changed.

Formatting is on when asked (``--black``) or when the target project configures black
(``[tool.black]`` in its pyproject.toml), and uses that project's settings. Only the
regions flaskfix changed are formatted (black's ``lines=`` ranges), so a file that was
never black-formatted does not get unrelated churn.
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
    import black

    ranges = changed_line_ranges(old, new)
    if not ranges:
        return new
    try:
        return black.format_file_contents(new, fast=False, mode=black_mode(settings), lines=ranges)
    except black.NothingChanged:
        return new
    except Exception:  # black refuses some inputs (e.g. syntax it does not target)
        return new
