"""The files of a run's changes that go together: a changed file and the supporting edits
(manifest lines, edits of other modules) its changes need. ``apply``, ``--interactive`` and ``pr`` write a file only
with the supporting edits it needs, and a supporting edit only with a file that needs it.
"""

from __future__ import annotations

from flaskfix.codemods.engine.pipeline import FileResult


def needed(r: FileResult, results: list[FileResult]) -> list[FileResult]:
    """The supporting results (manifest lines, module edits) that ``r``'s changes need."""
    return [m for m in results if m.supports is not None and r.path in m.supports]


def with_support(changed: list[FileResult]) -> tuple[list[FileResult], list[str]]:
    """Drop the files whose supporting edit is missing (its manifest failed, or is dirty)
    and the supporting edits no kept file needs: (kept, one line per dropped file)."""
    lines = []
    kept_paths = {r.path for r in changed}
    out = []
    for r in changed:
        if r.supports is None and (r.requires or r.code_supports):
            wanted = {q.manifest for q in r.requires} | {s.path for s in r.code_supports}
            if len(needed(r, changed)) < len(wanted):
                lines.append(f"{r.path}: not written: its changes need edits of {', '.join(sorted(wanted))}, "
                             "which are not all written")
                kept_paths.discard(r.path)
                continue
        out.append(r)
    out = [r for r in out if r.supports is None or any(p in kept_paths for p in r.supports)]
    return out, lines


def write_order(changed: list[FileResult]) -> list[FileResult]:
    return [r for r in changed if r.supports is not None] + [r for r in changed if r.supports is None]


def settle(m: FileResult, written: list[FileResult], root) -> str | None:  # type: ignore[no-untyped-def]
    """After writing: the manifest ``m`` keeps only the lines that the written files need
    (put back as it was when none of them was written). What was done, or None."""
    from pathlib import Path

    from flaskfix.codemods import manifest_edits
    from flaskfix.codemods.engine.source import Source, write_atomic

    assert m.source is not None and m.new_text is not None and m.supports is not None
    src = m.source
    if not any(r.path in m.supports for r in written):
        restore(m)
        m.new_text = src.text
        return f"{m.path}: put back as it was: no change that needs it was written"
    mine = [q for r in written if r.path in m.supports for q in r.requires
            if Path(root, q.manifest).resolve() == Path(src.path).resolve()]
    if not mine:
        return None  # a module edit (a Cache): kept whole while a change that needs it is
    t = manifest_edits.Target(mine[0].manifest, manifest_edits._kind(Path(root), mine[0].manifest))
    try:
        wanted = manifest_edits.add(Path(root), t, sorted({q.distribution for q in mine}), text=src.text)[1]
    except manifest_edits.ManifestEditError:
        return None  # (it was made from these bytes once already; keep what is written)
    if wanted == m.new_text:
        return None
    write_atomic(Source(src.path, src.encode(m.new_text), m.new_text, src.encoding, src.bom), wanted)
    m.new_text = wanted
    return f"{m.path}: only the lines the written changes need were kept"


def restore(r: FileResult) -> None:
    """Put back the bytes ``r`` was read with, over the text flaskfix wrote."""
    from flaskfix.codemods.engine.source import Source, write_atomic

    assert r.source is not None and r.new_text is not None
    src = r.source
    write_atomic(Source(src.path, src.encode(r.new_text), r.new_text, src.encoding, src.bom), src.text)
