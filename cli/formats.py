"""Machine-readable output of ``flaskfix diff``: ``--format json``, ``sarif`` and ``github``.

``render(fmt, results, summary, codemods, version)`` returns the whole text for stdout.
``results`` holds every processed file in run order, unchanged ones included (they may
carry findings or errors). Nothing here prints, reads files or looks at the terminal.

Paths
    Every path is the one of the diff headers: ``FileResult.diff_path`` (relative to the
    project root) when set, else ``FileResult.path``, with ``/`` separators and no leading
    ``./``.

``json``
    One document (``json.dumps`` with ``indent=2``; keys in the order below, never sorted)::

        {
          "schema_version": 1,                 # the shape's version (cli/json-schema.json)
          "version": "0.1.0",                  # flaskfix's version
          "files": [                           # run order; only files with something to say:
            {                                  #   a change, a finding or an error
              "path": "app.py",
              "changes": [{"codemod": "global-to-g", "line": 10, "message": "...",
                           "role": "site"}],   # or "support": an edit a site needs
              "findings": [{"codemod": "...", "line": 14, "message": "..."}],  # not rewritten, and why
              "error": null,                   # or the one-line reason the file failed
              "patch": "--- a/app.py\\n+++ b/app.py\\n...", # unified diff (git apply), or null
              "needs": ["requirements.txt"]    # only when its changes need a manifest line
            },
            {                                  # a supporting edit (a manifest line): written
              "path": "requirements.txt",      #   only with the files it supports
              "changes": [], "findings": [], "error": null, "patch": "...",
              "supports": ["app.py"]
            }
          ],
          "summary": {
            "files": 3,                        # files scanned
            "changed_files": 1,
            "changes": 1,                      # anti-pattern sites, over all codemods
            "supporting_edits": 0,             # edits the sites need (a Redis client...)
            "findings": 1,
            "failed": 1,                       # files with an error
            "prefiltered_out": 1,              # files no codemod's pre-filter wanted
            "libcst_parsed": 0,                # files LibCST parsed (to edit them) in this run
            "seconds": 0.12,
            "codemods": {"global-to-g": {"changes": 1, "findings": 1}, ...},  # every selected codemod
            "new_requirements": []             # manifest lines added, services needed
          }
        }

    Lines are 1-based lines of the file as it is on disk; ``0`` when a codemod could not
    tell the line.

``sarif``
    One SARIF 2.1.0 log (it validates against the OASIS schema; GitHub code scanning
    accepts it, e.g. with ``github/codeql-action/upload-sarif``, which also adds the
    ``partialFingerprints`` it tracks alerts by). One run; ``tool.driver.rules`` has one
    rule per selected codemod: ``id``/``name`` the codemod id, ``shortDescription`` its
    SUMMARY, ``fullDescription`` its WHY, ``help`` its BEHAVIOUR and the cases it refuses.

    * each anti-pattern site changed is a result of level ``warning``; its supporting
      edits are named in its message. A file's changes depend on each other (an added
      import, a removed definition), so the file's one complete ``fix`` (the replacements
      that turn the file on disk into flaskfix's rewrite, one per contiguous changed block
      of lines, and the manifest lines it needs) is on its first site's result; the others
      say where it is.
    * with ``findings=True`` (``--findings``), each finding (a site recognised and not
      rewritten; the message says why) is a result of level ``note``, without a fix;
    * every result has ``partialFingerprints`` ``flaskfixSite/v1`` (``_fingerprint``).
    * each failed file is an ``error`` notification in
      ``invocations[0].toolExecutionNotifications``; ``executionSuccessful`` is false then.

    URIs are relative (``uriBaseId`` ``%SRCROOT%``, the project root, which is the
    repository root when flaskfix runs there) except for files outside the project, which
    get an absolute ``file:`` URI. Regions use lines and columns; columns count Unicode
    code points (``columnKind``) and newlines are ``\\n`` or ``\\r\\n``.

``github``
    GitHub Actions workflow commands, one line each, in run order: ``::error`` for a failed
    file, ``::warning`` for a change, ``::notice`` for a finding::

        ::error file=bad.py::syntax error at line 3: ...
        ::warning file=app.py,line=10,title=flaskfix global-to-g::would fix: message
        ::notice file=app.py,line=14,title=flaskfix global-to-g::not fixed: message

    Values are escaped as the runner expects (``%``, CR and LF in messages; also ``:`` and
    ``,`` in properties).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import textwrap
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import quote

from flaskfix.cli.render import SAYS
from flaskfix.codemods.engine.diff import split_lines
from flaskfix.codemods.engine.pipeline import FileResult
from flaskfix.codemods.engine.run import Summary

if TYPE_CHECKING:  # json and github output need only ids: a cached run loads no codemod
    from flaskfix.codemods.base import FlaskfixCodemod

FORMATS = ("json", "sarif", "github")

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: the version of the JSON document's shape (``cli/json-schema.json``): raised when a
#: field is removed or changes meaning; adding a field keeps it
JSON_SCHEMA_VERSION = 1
#: the ``partialFingerprints`` key of SARIF results (see render_sarif)
FINGERPRINT_KEY = "flaskfixSite/v1"
SRCROOT = "%SRCROOT%"


def render(
    fmt: str,
    results: list[FileResult],
    summary: Summary,
    codemods: list[type[FlaskfixCodemod]],
    version: str,
    findings: bool = False,
    extra: dict[str, Any] | None = None,
) -> str:
    """The whole stdout text of ``flaskfix diff --format FMT`` (``json``, ``sarif`` or ``github``).
    ``findings``: SARIF also carries the refusals (as notes). ``extra``: top-level JSON
    members (``--verify``'s ``verify`` and ``evidence``)."""
    if fmt == "json":
        return render_json(results, summary, codemods, version, extra)
    if fmt == "sarif":
        return render_sarif(results, summary, codemods, version, findings)
    if fmt == "github":
        return render_github(results)
    raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")


def display_path(r: FileResult) -> str:
    """The path of the diff headers: relative to the project root, ``/`` separators."""
    path = (r.diff_path or r.path).replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def _says_something(r: FileResult) -> bool:
    return bool(r.changed or r.changes or r.findings or r.error is not None)


# -- json ------------------------------------------------------------------------------


def render_json(
    results: list[FileResult], summary: Summary, codemods: list[type[FlaskfixCodemod]], version: str,
    extra: dict[str, Any] | None = None,
) -> str:
    files = []
    supporting = _supporting(results)
    by_path = {r.path: r for r in results}
    for r in results:
        if not _says_something(r):
            continue
        entry: dict[str, Any] = {
            "path": display_path(r),
            "changes": [{"codemod": c.codemod, "line": c.line, "message": c.message, "role": c.role} for c in r.changes],
            "findings": [{"codemod": f.codemod, "line": f.line, "message": f.message} for f in r.findings],
            "error": r.error,
            "patch": r.diff() if r.changed else None,
        }
        if r.changed and supporting.get(r.path):
            entry["needs"] = [display_path(m) for m in supporting[r.path]]
        if r.supports is not None:
            entry["supports"] = [display_path(by_path[p]) if p in by_path else p for p in r.supports]
        files.append(entry)
    doc = {"schema_version": JSON_SCHEMA_VERSION, "version": version, "files": files, "summary": _summary(summary, codemods)}
    doc.update(extra or {})
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _supporting(results: Iterable[FileResult]) -> dict[str, list[FileResult]]:
    """path of a changed file -> the supporting results (manifests) its changes need."""
    out: dict[str, list[FileResult]] = {}
    for r in results:
        for path in r.supports or ():
            if r.changed:
                out.setdefault(path, []).append(r)
    return out


def _summary(s: Summary, codemods: list[type[FlaskfixCodemod]]) -> dict[str, Any]:
    ids = [c.ID for c in codemods]
    # only selected codemods can report; still, never drop a count
    ids += sorted((set(s.changes) | set(s.findings)) - set(ids))
    return {
        "files": s.files,
        "changed_files": s.changed_files,
        "changes": s.total_changes,
        "supporting_edits": sum(s.supporting.values()),
        "findings": sum(s.findings.values()),
        "failed": s.failed,
        "prefiltered_out": s.prefiltered_out,
        "libcst_parsed": s.libcst_parsed,
        "seconds": round(s.seconds, 3),
        "codemods": {cid: {"changes": s.changes[cid], "findings": s.findings[cid]} for cid in ids},
        "new_requirements": s.new_requirements(),
    }


# -- sarif -----------------------------------------------------------------------------


def render_sarif(
    results: list[FileResult], summary: Summary, codemods: list[type[FlaskfixCodemod]], version: str,
    findings: bool = False,
) -> str:
    rule_index = {c.ID: i for i, c in enumerate(codemods)}
    sarif_results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    supporting = _supporting(results)
    for r in results:
        location = _artifact_location(r)
        if r.error is not None:
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": f"{display_path(r)}: {r.error}"},
                    "locations": [{"physicalLocation": {"artifactLocation": location}}],
                }
            )
        sites = [c for c in r.changes if c.role == "site"]
        fix = _fix(r, location, supporting.get(r.path, [])) if r.changed and sites else None
        seen: dict[str, int] = {}
        for i, c in enumerate(sites):
            with_it = [s.message for s in r.changes if s.role != "site" and s.codemod == c.codemod]
            message = c.message + ("; with it: " + "; ".join(with_it) if with_it else "")
            if fix is not None and i > 0:
                message += f" (the file's fix, which this change is part of, is on the result at line {sites[0].line})"
            result = _result(c.codemod, rule_index, "warning", message, location, c.line)
            result["partialFingerprints"] = {FINGERPRINT_KEY: _fingerprint(display_path(r), c.codemod, c.message, seen)}
            if fix is not None and i == 0:
                result["fixes"] = [fix]
            sarif_results.append(result)
        for f in r.findings if findings else ():
            result = _result(f.codemod, rule_index, "note", f.message, location, f.line)
            result["partialFingerprints"] = {FINGERPRINT_KEY: _fingerprint(display_path(r), f.codemod, f.message, seen)}
            sarif_results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "flaskfix",
                "semanticVersion": version,
                "version": version,
                "rules": [_rule(c) for c in codemods],
            }
        },
        "invocations": [
            {
                "executionSuccessful": summary.failed == 0,
                "toolExecutionNotifications": notifications,
            }
        ],
        "columnKind": "unicodeCodePoints",
        "newlineSequences": ["\r\n", "\n"],
        "results": sarif_results,
    }
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _fingerprint(path: str, codemod: str, message: str, seen: dict[str, int]) -> str:
    """What code scanning tracks a result by across runs: the file, the codemod and the
    message with its numbers blanked (messages name the code and the variables, not the
    line, but may cite another file's line), then the occurrence of that key in the file
    (``seen`` counts them), so two identical sites stay two results and lines moving
    above a site do not make it a new one."""
    import hashlib

    key = hashlib.sha256(f"{codemod}\0{path}\0{re.sub(r'[0-9]+', '#', message)}".encode()).hexdigest()[:32]
    seen[key] = seen.get(key, 0) + 1
    return f"{key}:{seen[key]}"


def _text(doc: str) -> str:
    return textwrap.dedent(doc).strip("\n").strip()


def _rule(c: type[FlaskfixCodemod]) -> dict[str, Any]:
    behaviour = _text(c.BEHAVIOUR)
    refuses_text = "".join(f"\n- {r}" for r in c.REFUSES)
    help_text = f"What changes in behaviour:\n{behaviour}"
    help_md = f"**What changes in behaviour**\n\n{behaviour}"
    if c.REFUSES:
        help_text += f"\n\nflaskfix refuses to rewrite (and reports a note) when:{refuses_text}"
        help_md += f"\n\n**flaskfix refuses to rewrite (and reports a note) when**\n{refuses_text}"
    if c.EXAMPLE_BEFORE and c.EXAMPLE_AFTER:
        help_md += (
            f"\n\n**Before**\n\n```python\n{c.EXAMPLE_BEFORE.rstrip()}\n```"
            f"\n\n**After** (`flaskfix apply --select {c.ID}`)\n\n```python\n{c.EXAMPLE_AFTER.rstrip()}\n```"
        )
    return {
        "id": c.ID,
        "name": c.ID,
        "shortDescription": {"text": c.SUMMARY},
        "fullDescription": {"text": _text(c.WHY) or c.SUMMARY},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["flask", "flaskfix"]},
    }


def _artifact_location(r: FileResult) -> dict[str, Any]:
    path = display_path(r)
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute():
        return {"uri": _file_uri(os.path.abspath(r.path))}
    return {"uri": quote(path, safe="/"), "uriBaseId": SRCROOT}


def _file_uri(path: str) -> str:
    posix = path.replace("\\", "/")
    if not posix.startswith("/"):  # C:/x -> /C:/x
        posix = "/" + posix
    return "file://" + quote(posix, safe="/:")


def _result(
    codemod: str, rule_index: dict[str, int], level: str, message: str, location: dict[str, Any], line: int
) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": location}
    if line >= 1:
        physical["region"] = {"startLine": line}
    result: dict[str, Any] = {"ruleId": codemod}
    if codemod in rule_index:
        result["ruleIndex"] = rule_index[codemod]
    result.update(level=level, message={"text": message}, locations=[{"physicalLocation": physical}])
    return result


def _fix(r: FileResult, location: dict[str, Any], needs: list[FileResult] = []) -> dict[str, Any]:
    """The file's rewrite, and the manifest lines it needs (one fix: its files go together)."""
    assert r.source is not None and r.new_text is not None
    n = len(r.changes)
    what = "this change" if n == 1 else f"all {n} flaskfix changes in this file (they depend on each other)"
    changes = [{"artifactLocation": location, "replacements": replacements(r.source.text, r.new_text)}]
    for m in needs:
        assert m.source is not None and m.new_text is not None
        changes.append({"artifactLocation": _artifact_location(m), "replacements": replacements(m.source.text, m.new_text)})
    if needs:
        what += f", with the requirement it needs in {', '.join(display_path(m) for m in needs)}"
    return {"description": {"text": f"Apply {what}"}, "artifactChanges": changes}


def replacements(old: str, new: str) -> list[dict[str, Any]]:
    """SARIF ``replacement`` objects turning ``old`` into ``new``: one per contiguous block
    of changed lines, in file order, each deleting whole lines (with their newlines) and
    inserting the new lines. Regions never overlap; all refer to ``old``."""
    old_lines, new_lines = split_lines(old), split_lines(new)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    out = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start_line, start_col = _position(old_lines, i1)
        end_line, end_col = _position(old_lines, i2)
        out.append(
            {
                "deletedRegion": {
                    "startLine": start_line,
                    "startColumn": start_col,
                    "endLine": end_line,
                    "endColumn": end_col,
                },
                "insertedContent": {"text": "".join(new_lines[j1:j2])},
            }
        )
    return out


def _position(lines: list[str], index: int) -> tuple[int, int]:
    """(line, column) of the start of ``lines[index]``; for ``index == len(lines)`` the end
    of the text, which SARIF writes as one past the last line's last character (its
    newline included), not as a line that does not exist."""
    if index < len(lines):
        return index + 1, 1
    if not lines:
        return 1, 1
    return len(lines), len(lines[-1]) + 1


# -- github ----------------------------------------------------------------------------


def render_github(results: Iterable[FileResult]) -> str:
    out = []
    for r in results:
        path = _escape_property(display_path(r))
        if r.error is not None:
            out.append(f"::error file={path}::{_escape_data(r.error)}")
        if r.supports is not None and r.changed:
            added = [ln[1:] for ln in r.diff().splitlines() if ln.startswith("+") and not ln.startswith("+++")]
            text = f"adds {', '.join(added)}, needed by the changes in {', '.join(r.supports)}"
            out.append(f"::notice file={path},title={_escape_property('flaskfix requirement')}::{_escape_data(text)}")
        for kind, what, items in (("warning", SAYS["site"], [c for c in r.changes if c.role == "site"]),
                                  ("notice", SAYS["support"], [c for c in r.changes if c.role != "site"]),
                                  ("notice", SAYS["finding"], r.findings)):
            for item in items:
                props = f"file={path}"
                if item.line >= 1:
                    props += f",line={item.line}"
                props += f",title={_escape_property('flaskfix ' + item.codemod)}"
                out.append(f"::{kind} {props}::{_escape_data(what + ': ' + item.message)}")
    return "".join(line + "\n" for line in out)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")
