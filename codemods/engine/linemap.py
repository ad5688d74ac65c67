"""Map line numbers of an intermediate text back to the original file.

Codemods run one after another on one tree; the second sees the first's output, so the
lines it reports are lines of that intermediate text. The user reads the file on disk:
every reported line is mapped back to it. Unchanged lines map exactly; a line that an
earlier codemod inserted or rewrote maps to the first original line of that region.
"""

from __future__ import annotations

import difflib

from flaskfix.codemods.engine.diff import split_lines


class LineMap:
    def __init__(self, current: str, original: str) -> None:
        self._map: dict[int, int] = {}
        matcher = difflib.SequenceMatcher(None, split_lines(current), split_lines(original), autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            for k in range(i1, i2):
                self._map[k + 1] = (j1 + (k - i1) + 1) if tag == "equal" else j1 + 1

    def __call__(self, line: int) -> int:
        return self._map.get(line, line)
