"""The engine: discovery, configuration, the pipeline, diffs and atomic writes.

It knows no particular codemod: it takes a list of codemod classes and runs them.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it; imported on first use (start-up stays cheap)
_WHERE = {
    "Config": "config", "ConfigError": "config", "load_config": "config",
    "unified_diff": "diff",
    "Discovered": "discovery", "discover": "discovery",
    "Engine": "pipeline", "FileResult": "pipeline", "project_files": "pipeline",
    "ChangedOnDisk": "source", "Source": "source", "SourceError": "source", "read_source": "source",
    "write_atomic": "source",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(name)
