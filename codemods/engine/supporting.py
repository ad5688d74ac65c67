"""Supporting edits: what a run's changes need outside the files they change.

Today that is a requirement line in a manifest (``codemods/manifest_edits.py``): a change
that imports Flask-Caching or redis in a project that does not declare it records a
``Requirement``; after every file's result, one result per manifest adds the requirements
that the changed files need, once each however many changes need them. A manifest result
lists the files it ``supports``: ``apply`` writes it with them and never without them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from flaskfix.codemods import manifest_edits
from flaskfix.codemods.changes import Requirement
from flaskfix.codemods.engine.pipeline import FileResult
from flaskfix.codemods.engine.source import SourceError, read_source


def shown(path: Path) -> str:
    """A path as results show them: relative to the working folder when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def manifest_results(needs: Iterable[tuple[str, list[Requirement]]], root: Path) -> list[FileResult]:
    """One result per manifest that a kept change needs a line in. ``needs``: (path of a
    changed file, its requirements), for the changes that are kept."""
    by_manifest: dict[str, dict[str, set[str]]] = {}
    for path, requirements in needs:
        for q in requirements:
            by_manifest.setdefault(q.manifest, {}).setdefault(q.distribution, set()).add(path)
    out = []
    for file, wanted in sorted(by_manifest.items()):
        full = Path(root) / file
        supports = sorted({p for paths in wanted.values() for p in paths})
        path = shown(full)
        try:
            source = read_source(str(full))
        except SourceError as exc:
            out.append(FileResult(path, error=f"cannot add {', '.join(sorted(wanted))} to it: {exc}", supports=supports))
            continue
        t = manifest_edits.Target(file, manifest_edits._kind(Path(root), file))
        try:
            _old, new, _lines = manifest_edits.add(Path(root), t, sorted(wanted), text=source.text)
        except (manifest_edits.ManifestEditError, KeyError) as exc:
            # (the codemods tried this edit when they planned: the manifest changed since)
            out.append(FileResult(path, source=source, supports=supports,
                                  error=f"cannot add {', '.join(sorted(wanted))} to it: {exc}; the changes that need it "
                                        "are not written"))
            continue
        result = FileResult(path, source=source, new_text=new, supports=supports)
        result.diff_path = os.path.relpath(full, Path(root).resolve()) if os.path.isabs(path) else None
        out.append(result)
    return out
