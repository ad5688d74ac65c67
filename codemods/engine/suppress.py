"""Suppression comments.

* ``# flaskfix: ignore`` on a line: no codemod touches the site on that line;
* ``# flaskfix: ignore[bulk-query,cache-route]``: only those codemods are held back;
* on a view's ``def`` or decorator line: the whole view is left alone by those codemods;
* ``# flaskfix: skip-file`` anywhere in a comment: the file is not processed at all.

Comments are read with ``tokenize`` (never from inside strings). Suppressed sites are
counted and reported, never dropped silently.
"""

from __future__ import annotations

import io
import re
import tokenize

MARKER = "flaskfix:"
_IGNORE = re.compile(r"#\s*flaskfix:\s*ignore(?:\[([^\]]*)\])?(?![\w\[-])")
_SKIP_FILE = re.compile(r"#\s*flaskfix:\s*skip-file\b")


def comments(text: str) -> list[tuple[int, str]]:
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT and MARKER in tok.string:
                out.append((tok.start[0], tok.string))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return out


def parse(text: str) -> tuple[bool, dict[int, frozenset[str] | None]]:
    """(skip the whole file?, line -> codemod ids held back there, None meaning all)."""
    if MARKER not in text:
        return False, {}
    skip = False
    lines: dict[int, frozenset[str] | None] = {}
    for line, comment in comments(text):
        if _SKIP_FILE.search(comment):
            skip = True
        m = _IGNORE.search(comment)
        if m:
            ids = frozenset(i.strip() for i in m.group(1).split(",") if i.strip()) if m.group(1) is not None else None
            prev = lines.get(line, frozenset())
            lines[line] = None if ids is None or prev is None else prev | ids
    return skip, lines
