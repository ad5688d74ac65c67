"""A cache of per-file results, so that an unchanged re-run costs little more than reading.

An entry is keyed by the file's content hash and a *salt*: the flaskfix version, a hash
of the codemods' own source code (so a development checkout never serves stale results),
the configuration and the selected codemods. A result that consulted other files of the
project (``Project`` facts: importers of a global, a model's primary key...) also records
what it read, by content: the digest of each file it read, and, when it consulted the
file list or searched every file, the digest of the whole project's paths and contents.
It is reused only while those are unchanged. Content, not mtimes: `git checkout .` after
`apply`, or a fresh clone, keeps every entry.

The cache is an optimisation only: any problem with it (unwritable folder, corrupt
database, concurrent runs) makes it a miss, never a failure. ``--no-cache`` skips it.
Location: ``$FLASKFIX_CACHE_DIR`` if set, else the user cache folder (platformdirs).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flaskfix.codemods.changes import Change, CodeSupport, Finding, Requirement

SCHEMA = 6

#: entries per commit, and the longest a commit waits, when filling the cache
BATCH = 256
BATCH_SECONDS = 1.0


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


class ResultCache:
    def __init__(self, root: Path, salt: str, project: Any, folder: Path | None = None) -> None:
        self.salt = salt
        #: the run's ``Project``: the current digest of a file it read, and of the whole
        #: project, for results that depend on other files (each computed once per run)
        self.project = project
        self._whole: str | None = None
        self.hits = 0
        self.misses = 0
        self._db: sqlite3.Connection | None = None
        #: entries written since the last commit (puts are batched: one commit per entry
        #: made filling the cache cost 40% of a run)
        self._pending = 0
        self._opened = 0.0
        folder = folder or cache_dir()
        name = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(folder / f"results-{name}.sqlite", timeout=5, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # a cache: a commit need not reach the disk before the run goes on (WAL with
            # NORMAL stays consistent after a crash; it may only lose the newest entries)
            self._db.execute("PRAGMA synchronous=NORMAL")
            # one row per (content, what it depended on): switching a branch and back finds
            # the entry made for each state
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS results3 (key TEXT, depends TEXT, value TEXT, PRIMARY KEY (key, depends))"
            )
        except (OSError, sqlite3.Error):
            self._db = None

    def _whole_digest(self) -> str:
        if self._whole is None:
            self._whole = self.project.content_digest()
        return self._whole

    def _still_valid(self, depends: dict[str, Any]) -> bool:
        if depends.get("whole") and depends.get("project") != self._whole_digest():
            return False
        return all(self.project.digest(p) == d for p, d in (depends.get("files") or {}).items())

    def key(self, path: str, data: bytes) -> str:
        """The path matters too: a module's name (and so its output) comes from it."""
        h = hashlib.sha256(self.salt.encode() + b"\0" + os.path.abspath(path).encode() + b"\0")
        h.update(hashlib.sha256(data).digest())
        return h.hexdigest()

    def get(self, path: str, data: bytes) -> dict[str, Any] | None:
        return self.get_many([(path, data)])[0]

    #: keys per SELECT (SQLite's default cap on bound parameters is 999 in older builds)
    LOOKUP_CHUNK = 500

    def get_many(self, items: list[tuple[str, bytes]]) -> list[dict[str, Any] | None]:
        """The entries for (path, bytes) pairs, in their order; a few queries for all of
        them (one query per file was a third of a cached re-run's lookups)."""
        keys = [self.key(path, data) for path, data in items]
        rows: dict[str, list[tuple[str, str]]] = {}
        if self._db is not None:
            try:
                for i in range(0, len(keys), self.LOOKUP_CHUNK):
                    chunk = keys[i:i + self.LOOKUP_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    for key, depends, value in self._db.execute(
                            f"SELECT key, depends, value FROM results3 WHERE key IN ({marks})", chunk):
                        rows.setdefault(key, []).append((depends, value))
            except sqlite3.Error:
                rows = {}
        return [self._pick(rows.get(key, [])) for key in keys]

    def _pick(self, rows: list[tuple[str, str]]) -> dict[str, Any] | None:
        row = None
        for candidate in rows:
            try:
                if not candidate[0] or self._still_valid(json.loads(candidate[0])):
                    row = candidate
                    break
            except ValueError:
                continue
        if row is None:
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

    def put(self, path: str, data: bytes, value: dict[str, Any], depends: dict[str, Any] | None) -> None:
        if self._db is None:
            return
        deps = ""
        if depends:
            deps = json.dumps({**depends, "project": self._whole_digest() if depends.get("whole") else None})
        try:
            if not self._pending:
                self._db.execute("BEGIN")
                self._opened = time.monotonic()
            self._pending += 1
            self._db.execute(
                "INSERT OR REPLACE INTO results3 (key, depends, value) VALUES (?, ?, ?)",
                (self.key(path, data), deps, json.dumps(value)),
            )
            # short transactions: a concurrent run waits for the write lock at most this long
            if self._pending >= BATCH or time.monotonic() - self._opened > BATCH_SECONDS:
                self._commit()
        except sqlite3.Error:
            self._rollback()

    def _commit(self) -> None:
        if self._db is not None and self._pending:
            self._pending = 0
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._rollback()

    def _rollback(self) -> None:
        self._pending = 0
        if self._db is not None and self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        if self._db is not None:
            self._commit()
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
        "requires": [asdict(q) for q in r.requires],
        "undeclared": list(r.undeclared),
        "code_supports": [asdict(q) for q in r.code_supports],
    }


def decode_changes(value: dict[str, Any]) -> tuple[list[Change], list[Finding], list[Finding]]:
    return (
        [Change(**c) for c in value["changes"]],
        [Finding(**f) for f in value["findings"]],
        [Finding(**f) for f in value["suppressed"]],
    )


def decode_requires(value: dict[str, Any]) -> list[Requirement]:
    return [Requirement(**q) for q in value.get("requires", [])]


def decode_code_supports(value: dict[str, Any]) -> list[CodeSupport]:
    return [CodeSupport(q["path"], q["kind"], tuple(q["args"]), q["codemod"]) for q in value.get("code_supports", [])]
