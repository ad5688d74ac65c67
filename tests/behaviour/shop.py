"""Load the bundled example app, as it is and as flaskfix rewrites it, for behaviour tests."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from flaskfix.codemods.engine.run import execute, plan
from flaskfix.codemods.engine.source import write_atomic

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"


@contextmanager
def fresh_package(root: Path, name: str) -> Iterator[ModuleType]:
    """Package ``name`` imported from folder ``root`` as new, for the ``with`` block (its
    imports at call time, as in an app factory, find it there too); no earlier import of
    that name is reused, and none is left behind."""
    def forget() -> None:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[loaded]

    forget()
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(root))
        forget()


def load_module(path: Path) -> ModuleType:
    """Import ``path`` as a fresh module (its folder first on sys.path for its imports)."""
    name = f"ff_{path.stem}_{uuid.uuid4().hex[:8]}"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))


def rewritten_copy(tmp: Path, select: list[str]) -> tuple[Path, list]:
    """Copy the example to ``tmp`` and apply the selected codemods to it, as ``flaskfix apply`` does."""
    dest = tmp / "shop"
    shutil.copytree(EXAMPLE, dest)
    results = list(execute(plan([str(dest)], select=select), jobs=1))
    for r in results:
        assert r.error is None, r.error
        if r.changed:
            write_atomic(r.source, r.new_text)
    return dest, results
