"""Unified diffs that ``git apply`` accepts (``a/`` and ``b/`` relative paths)."""

from __future__ import annotations

import difflib
import re

_LINE = re.compile(r"[^\n]*\n|[^\n]+")
NO_EOL = "\\ No newline at end of file\n"


def split_lines(text: str) -> list[str]:
    """Split on ``\\n`` only, keeping ends: ``\\r\\n`` stays attached and form feeds or
    ``\\u2028`` inside a line do not split it (``str.splitlines`` would)."""
    return _LINE.findall(text)


def unified_diff(old: str, new: str, path: str, context: int = 3) -> str:
    posix = path.replace("\\", "/")
    if posix.startswith("./"):
        posix = posix[2:]
    out: list[str] = []
    for line in difflib.unified_diff(split_lines(old), split_lines(new), f"a/{posix}", f"b/{posix}", n=context):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n" + NO_EOL)
    return "".join(out)
