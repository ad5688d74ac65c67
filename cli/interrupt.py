"""Ctrl-C that says exactly what happened.

* While a file is written and recorded, SIGINT is held back (``deferred``) and raised as
  ``KeyboardInterrupt`` right after, between two files: so "written" and "not written"
  are exact, and no temporary file is left half-done.
* ``pause_point(name)``: with ``FLASKFIX_PAUSE_AT=name`` in the environment, flaskfix says
  ``flaskfix: paused at name`` on stderr and waits (up to 60 s) for a signal. The
  pseudo-terminal tests use it to deliver Ctrl-C at an exact moment (start-up, between a
  write and its record); without the variable it does nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator

_held: list[int] = []
#: set by the ``flaskfix`` entry point: the process is flaskfix's own to end
OWNS_PROCESS = False
#: a SIGINT arrived (set by the handler ``install`` puts in place)
_received: list[int] = []


def _on_sigint(signum: int, frame: object) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def install() -> None:
    """Remember every SIGINT as well as raising ``KeyboardInterrupt``.

    Python runs a signal handler between two bytecodes of the main thread, wherever it is,
    also inside a ``__del__`` or a weakref callback, where an exception is printed as
    "Exception ignored" and dropped. One Ctrl-C in 15 during a codemod run was lost that
    way (it surfaced as a KeyError from LibCST's half-built metadata, one file "failed", and
    the run went on to write 119 files). ``check`` raises it again at the next safe point."""
    signal.signal(signal.SIGINT, _on_sigint)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a SIGINT arrived that nothing has acted on."""
    if _received:
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """SIGINT inside the block is remembered and raised when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: _held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if _held:
            _held.clear()
            raise KeyboardInterrupt
    check()


def exit_interrupted(message: str) -> None:
    """Print ``message`` and end the process with 130, now.

    Further Ctrl-Cs are ignored from here on, and the interpreter's exit handlers are
    skipped: after a pool's workers were ended, concurrent.futures' own exit handler joins
    its management thread, which could hang (2 runs in 110) or print a traceback (twice
    as often with a second Ctrl-C). Everything that must be whole is by now: files are
    written or not (each write is atomic and recorded), the result cache is closed."""
    if not OWNS_PROCESS:  # called as a library (typer's CliRunner, a test): no os._exit
        import typer

        sys.stderr.write(message + "\n")
        raise typer.Exit(130)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(130)


def pause_point(name: str) -> None:
    if os.environ.get("FLASKFIX_PAUSE_AT") != name:
        return
    sys.stderr.write(f"flaskfix: paused at {name}\n")
    sys.stderr.flush()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _held:
        time.sleep(0.02)  # a KeyboardInterrupt from the normal handler ends this too
