"""flaskfix's pytest plugin for ``--verify`` and ``flaskfix profile``: evidence of one run.

Dependency-free on purpose: flaskfix puts this file's folder on ``PYTHONPATH`` and names
it in ``PYTEST_PLUGINS`` (pytest loads that even with plugin autoload disabled), so it
works whatever environment runs the tests (``make test``, tox, a pipx-installed flaskfix
with the project's own virtualenv). It changes nothing in the run; it only records:

* the tests that failed, each with one line saying why;
* modules imported from the user's checkout instead of the copy the tests run in (an
  editable install would make every change look green);
* per Flask endpoint: requests, SQL statements (SQLAlchemy ``before_cursor_execute`` on
  every engine), wall time, and statements repeated with the same text within one request
  (N+1 suspects) with the project file:line that issued them.

Each process writes one JSON file into ``$FLASKFIX_EVIDENCE_DIR`` at the end of its session
(pytest-xdist workers and the controller each write their own; flaskfix merges them).
With ``$FLASKFIX_CPROFILE_DIR`` set, each endpoint's requests are profiled into
``<dir>/<endpoint>.pstats``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
import uuid

_OUT = os.environ.get("FLASKFIX_EVIDENCE_DIR", "")
_ORIGINAL = os.path.realpath(os.environ["FLASKFIX_ORIGINAL_ROOT"]) if os.environ.get("FLASKFIX_ORIGINAL_ROOT") else ""
_COPY = os.path.realpath(os.environ.get("FLASKFIX_COPY_ROOT") or os.getcwd())
_PROFILE_DIR = os.environ.get("FLASKFIX_CPROFILE_DIR", "")

_failed: dict[str, str] = {}
_passed = 0
_endpoints: dict[str, dict] = {}
_suspects: dict[tuple[str, str, str], dict] = {}
_local = threading.local()
_lock = threading.Lock()
_hooked = False
_profiles: dict[str, object] = {}


def _one_line(report) -> str:  # type: ignore[no-untyped-def]
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    text = getattr(crash, "message", None) or str(getattr(report, "longrepr", "") or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[0] if crash is not None and lines else lines[-1] if lines else "failed")[:300]


def pytest_runtest_logreport(report) -> None:  # type: ignore[no-untyped-def]
    global _passed
    if report.failed:
        _failed.setdefault(report.nodeid, ("error in " + report.when + ": " if report.when != "call" else "") + _one_line(report))
    elif report.when == "call" and report.passed:
        _passed += 1


def pytest_collectreport(report) -> None:  # type: ignore[no-untyped-def]
    if report.failed:
        _failed.setdefault(report.nodeid or "<collection>", "collection error: " + _one_line(report))


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    _hook()


def pytest_runtest_setup(item) -> None:  # type: ignore[no-untyped-def]
    _hook()  # Flask or SQLAlchemy may be imported only by the tests themselves


def _project_frame() -> str:
    """file:line of the innermost frame in the project (the copy), not in a library."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if frame.filename.startswith("<"):  # generated code (<string>, SQLAlchemy's wrappers)
            continue
        path = os.path.realpath(frame.filename)
        if path.startswith(_COPY + os.sep) and "site-packages" not in path and os.sep + "." not in path[len(_COPY):] \
                and not path.endswith("flaskfix_evidence.py"):
            return f"{os.path.relpath(path, _COPY)}:{frame.lineno}"
    return "?"


def _hook() -> None:
    """Connect to Flask's request signals and SQLAlchemy's engine events, once both exist."""
    global _hooked
    if _hooked or "flask" not in sys.modules:
        return
    try:
        from flask import request_started, request_tearing_down
    except Exception:  # noqa: BLE001 - an old or odd Flask: no evidence, the run goes on
        return
    _hooked = True

    def started(sender, **_extra) -> None:  # type: ignore[no-untyped-def]
        from flask import request

        endpoint = request.endpoint or f"<{request.method} {request.path}>"
        _local.current = {"endpoint": endpoint, "start": time.perf_counter(), "statements": {}, "count": 0}
        if _PROFILE_DIR:
            import cProfile

            prof = cProfile.Profile()
            _local.profile = prof
            prof.enable()

    def finished(sender, **_extra) -> None:  # type: ignore[no-untyped-def]
        cur = getattr(_local, "current", None)
        if cur is None:
            return
        _local.current = None
        prof = getattr(_local, "profile", None)
        if prof is not None:
            prof.disable()
            _local.profile = None
        ms = (time.perf_counter() - cur["start"]) * 1000
        with _lock:
            e = _endpoints.setdefault(cur["endpoint"], {"requests": 0, "statements": 0, "ms": 0.0})
            e["requests"] += 1
            e["statements"] += cur["count"]
            e["ms"] += ms
            for text, (n, where) in cur["statements"].items():
                if n > 1:
                    s = _suspects.setdefault((cur["endpoint"], where, text), {"requests": 0, "max_repeats": 0})
                    s["requests"] += 1
                    s["max_repeats"] = max(s["max_repeats"], n)
            if prof is not None:
                import pstats

                if cur["endpoint"] in _profiles:
                    _profiles[cur["endpoint"]].add(prof)  # type: ignore[attr-defined]
                else:
                    _profiles[cur["endpoint"]] = pstats.Stats(prof)

    request_started.connect(started, weak=False)
    request_tearing_down.connect(finished, weak=False)  # also after an exception (request_finished is not sent)
    try:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
    except Exception:  # noqa: BLE001 - no SQLAlchemy: requests and time only
        return

    def statement(conn, cursor, text, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        cur = getattr(_local, "current", None)
        if cur is None:
            return
        cur["count"] += 1
        n, where = cur["statements"].get(text, (0, ""))
        cur["statements"][text] = (n + 1, where or _project_frame())

    event.listen(Engine, "before_cursor_execute", statement)


def pytest_sessionfinish(session, exitstatus) -> None:  # type: ignore[no-untyped-def]
    if not _OUT:
        return
    foreign = []
    if _ORIGINAL and _ORIGINAL != _COPY:
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if not path:
                continue
            real = os.path.realpath(path)
            if real.startswith(_ORIGINAL + os.sep) and not real.startswith(_COPY + os.sep):
                foreign.append([name, real])
    if _PROFILE_DIR:
        os.makedirs(_PROFILE_DIR, exist_ok=True)
        for endpoint, stats in _profiles.items():
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in endpoint)
            stats.dump_stats(os.path.join(_PROFILE_DIR, f"{safe}.pstats"))  # type: ignore[attr-defined]
    data = {
        "pid": os.getpid(),
        "exitstatus": int(exitstatus),
        "failed": [[k, v] for k, v in _failed.items()],
        "passed": _passed,
        "foreign_imports": sorted(foreign)[:20],
        "endpoints": _endpoints,
        "suspects": [{"endpoint": e, "where": w, "statement": t[:200], **v} for (e, w, t), v in _suspects.items()],
    }
    os.makedirs(_OUT, exist_ok=True)
    path = os.path.join(_OUT, f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(path + ".tmp", path)
