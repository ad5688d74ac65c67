"""The engine: discovery, configuration, the pipeline, diffs and atomic writes.

It knows no particular codemod: it takes a list of codemod classes and runs them.
"""

from flaskfix.codemods.engine.config import Config, ConfigError, load_config
from flaskfix.codemods.engine.diff import unified_diff
from flaskfix.codemods.engine.discovery import Discovered, discover
from flaskfix.codemods.engine.pipeline import Engine, FileResult, project_files
from flaskfix.codemods.engine.source import ChangedOnDisk, Source, SourceError, read_source, write_atomic

__all__ = [
    "ChangedOnDisk",
    "Config",
    "ConfigError",
    "Discovered",
    "Engine",
    "FileResult",
    "Source",
    "SourceError",
    "discover",
    "load_config",
    "project_files",
    "read_source",
    "unified_diff",
    "write_atomic",
]
