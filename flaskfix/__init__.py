"""flaskfix: semantics-preserving codemods for Flask anti-patterns.

The distribution maps the repository's ``codemods/`` (the library) and ``cli/`` (the
application) to ``flaskfix.codemods`` and ``flaskfix.cli`` (``pyproject.toml``'s
``package-dir``); this package holds only the version, the console entry point and
``python -m flaskfix``.
"""

from __future__ import annotations

import os as _os

__version__ = "0.2.0"

# A source checkout run without installing (``python -m flaskfix`` from the repository):
# codemods/ and cli/ stand beside this folder, and are found as flaskfix.codemods and
# flaskfix.cli the same way the installed mapping finds them.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if all(_os.path.isfile(_os.path.join(_checkout, *p)) for p in [("pyproject.toml",), ("codemods", "catalog.py"), ("cli", "main.py")]):
    __path__.append(_checkout)  # type: ignore[name-defined]


def main() -> None:
    """The ``flaskfix`` command. Ctrl-C at any moment, start-up included, ends it with one
    line and exit code 130, never a traceback."""
    import sys

    try:
        from flaskfix.cli import interrupt

        interrupt.OWNS_PROCESS = True
        from flaskfix.codemods.engine.pipeline import tune_gc

        tune_gc()
        interrupt.install()
        interrupt.pause_point("startup")
        from flaskfix.cli.main import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        from flaskfix.cli.interrupt import exit_interrupted

        exit_interrupted("flaskfix: interrupted; no file was written")
