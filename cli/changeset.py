"""The files of a run's changes that go together: a changed file and the supporting edits
(manifest lines) its changes need. ``apply``, ``--interactive`` and ``pr`` write a file only
with the supporting edits it needs, and a supporting edit only with a file that needs it.
"""

from __future__ import annotations

from flaskfix.codemods.engine.pipeline import FileResult


def needed(r: FileResult, results: list[FileResult]) -> list[FileResult]:
    """The supporting results (manifest lines) that ``r``'s changes need."""
    return [m for m in results if m.supports is not None and r.path in m.supports]


def with_support(changed: list[FileResult]) -> tuple[list[FileResult], list[str]]:
    """Drop the files whose supporting edit is missing (its manifest failed, or is dirty)
    and the supporting edits no kept file needs: (kept, one line per dropped file)."""
    lines = []
    kept_paths = {r.path for r in changed}
    out = []
    for r in changed:
        if r.supports is None and r.requires:
            manifests = {q.manifest for q in r.requires}
            have = [m for m in changed if m.supports is not None and r.path in m.supports]
            if len(have) < len(manifests):
                lines.append(f"{r.path}: not written: its changes need a requirement added to "
                             f"{', '.join(sorted(manifests))}, which is not written")
                kept_paths.discard(r.path)
                continue
        out.append(r)
    out = [r for r in out if r.supports is None or any(p in kept_paths for p in r.supports)]
    return out, lines


def write_order(changed: list[FileResult]) -> list[FileResult]:
    return [r for r in changed if r.supports is not None] + [r for r in changed if r.supports is None]


def restore(r: FileResult) -> None:
    """Put back the bytes ``r`` was read with, over the text flaskfix wrote."""
    from flaskfix.codemods.engine.source import Source, write_atomic

    assert r.source is not None and r.new_text is not None
    src = r.source
    write_atomic(Source(src.path, src.encode(r.new_text), r.new_text, src.encoding, src.bom), src.text)
