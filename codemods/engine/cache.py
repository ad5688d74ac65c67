"""A cache of per-file results, so that an unchanged re-run costs little more than reading.

An entry is keyed by the file's content hash and a *salt*: the flaskfix version, a hash
of the codemods' own source code (so a development checkout never serves stale results),
the configuration and the selected codemods. A result that consulted other files of the
project (``Project`` facts: importers of a global, a model's primary key...) also records
the *project fingerprint* (every project file's path, size and mtime) and is only reused
while that fingerprint is unchanged.

The cache is an optimisation only: any problem with it (unwritable folder, corrupt
database, concurrent runs) makes it a miss, never a failure. ``--no-cache`` skips it.
Location: ``$FLASKFIX_CACHE_DIR`` if set, else the user cache folder (platformdirs).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterable

from flaskfix.codemods.changes import Change, Finding

SCHEMA = 2


def cache_dir() -> Path:
    env = os.environ.get("FLASKFIX_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("flaskfix"))


def code_fingerprint() -> str:
    """Hash of the installed flaskfix code (its codemods and engine)."""
    from flaskfix import codemods

    h = hashlib.sha256()
    from flaskfix import __version__

    h.update(__version__.encode())
    root = Path(codemods.__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def project_fingerprint(files: Iterable[str]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        try:
            st = os.stat(path)
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{path}\0missing\n".encode())
    return h.hexdigest()


class ResultCache:
    def __init__(self, root: Path, salt: str, project_fp: str | Callable[[], str], folder: Path | None = None) -> None:
        self.salt = salt
        #: a fingerprint of the project's files, for results that read other files; a
        #: callable is called only when such a result is looked up or stored
        self._project_fp = project_fp
        self.hits = 0
        self.misses = 0
        self._db: sqlite3.Connection | None = None
        folder = folder or cache_dir()
        name = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(folder / f"results-{name}.sqlite", timeout=5, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, project_fp TEXT, value TEXT)")
        except (OSError, sqlite3.Error):
            self._db = None

    @property
    def project_fp(self) -> str:
        if callable(self._project_fp):
            self._project_fp = self._project_fp()
        return self._project_fp

    def key(self, path: str, data: bytes) -> str:
        """The path matters too: a module's name (and so its output) comes from it."""
        h = hashlib.sha256(self.salt.encode() + b"\0" + os.path.abspath(path).encode() + b"\0")
        h.update(hashlib.sha256(data).digest())
        return h.hexdigest()

    def get(self, path: str, data: bytes) -> dict[str, Any] | None:
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT project_fp, value FROM results WHERE key = ?", (self.key(path, data),)).fetchone()
        except sqlite3.Error:
            row = None
        if row is None or (row[0] and row[0] != self.project_fp):
            self.misses += 1
            return None
        try:
            value = json.loads(row[1])
        except ValueError:
            value = None
        if not isinstance(value, dict) or value.get("schema") != SCHEMA:
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, path: str, data: bytes, value: dict[str, Any], used_project: bool) -> None:
        if self._db is None:
            return
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO results (key, project_fp, value) VALUES (?, ?, ?)",
                (self.key(path, data), self.project_fp if used_project else "", json.dumps(value)),
            )
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None


def encode_result(r: Any) -> dict[str, Any]:
    """The content-determined part of a ``FileResult``."""
    return {
        "schema": SCHEMA,
        "new_text": r.new_text,
        "changes": [asdict(c) for c in r.changes],
        "findings": [asdict(f) for f in r.findings],
        "suppressed": [asdict(f) for f in r.suppressed],
        "error": r.error,
        "prefiltered_out": r.prefiltered_out,
        "skipped_by_comment": r.skipped_by_comment,
    }


def decode_changes(value: dict[str, Any]) -> tuple[list[Change], list[Finding], list[Finding]]:
    return (
        [Change(**c) for c in value["changes"]],
        [Finding(**f) for f in value["findings"]],
        [Finding(**f) for f in value["suppressed"]],
    )
