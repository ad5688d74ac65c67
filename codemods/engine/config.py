"""``[tool.flaskfix]`` configuration, read from the nearest ``pyproject.toml``.

```toml
[tool.flaskfix]
exclude = ["migrations/", "legacy_*.py"]   # gitignore-style patterns
select = ["global-to-g", "bulk-query"]     # default: every codemod
ignore = []
edit-manifests = true                      # add a package a fix imports to requirements/pyproject

[tool.flaskfix.cache-route]                # one table per codemod id
timeout = 300
```
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


class ConfigError(Exception):
    pass


@dataclass
class Config:
    #: the project root: the folder of the nearest pyproject.toml (or .git, setup.py)
    root: Path
    pyproject: Path | None = None
    exclude: list[str] = field(default_factory=list)
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    #: per-codemod tables, keyed by codemod id
    codemods: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the raw [tool.black] table of the target project, if any
    black: dict[str, Any] | None = None
    #: the raw [tool.ruff] table (or ruff.toml / .ruff.toml at the root), if any
    ruff: dict[str, Any] | None = None
    #: files larger than this (bytes) that hold a candidate are reported, not rewritten:
    #: LibCST needs minutes and gigabytes for a 10 MB module
    max_file_size: int = 2_000_000
    #: a change that imports an undeclared package adds it to the project's manifest
    #: (false: such changes are refused with a finding that says what to add)
    edit_manifests: bool = True
    #: gitignore-style pattern -> codemod ids not run on matching files ("ALL": none run)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    #: the command ``--verify`` runs when the command line names none (``verify = "pytest -q"``)
    verify: str | None = None

    def ignored_for(self, path: str) -> set[str] | frozenset[str]:
        """Codemod ids that ``per-file-ignores`` turns off for ``path``."""
        if not self.per_file_ignores:
            return frozenset()
        import pathspec

        try:
            rel = Path(os.path.abspath(path)).relative_to(self.root.resolve()).as_posix()
        except ValueError:
            rel = Path(path).as_posix()
        out: set[str] = set()
        for pattern, ids in self.per_file_ignores.items():
            if pathspec.GitIgnoreSpec.from_lines([pattern]).match_file(rel):
                out.update(ids)
        if "ALL" in out:
            from flaskfix import codemods

            out.update(codemods.ids())
        return out

    def for_codemod(self, codemod_id: str) -> dict[str, Any]:
        return dict(self.codemods.get(codemod_id, {}))

    def fingerprint(self) -> str:
        import hashlib
        import json

        # the files whose settings shape the output's style (black, ruff, isort read them)
        style = hashlib.sha256()
        for name in STYLE_FILES:
            try:
                style.update(name.encode() + b"\0" + (self.root / name).read_bytes() + b"\0")
            except OSError:
                continue
        return json.dumps(
            {"exclude": self.exclude, "select": self.select, "ignore": self.ignore, "codemods": self.codemods,
             "per_file_ignores": self.per_file_ignores, "max_file_size": self.max_file_size,
             "edit_manifests": self.edit_manifests, "style": style.hexdigest()},
            sort_keys=True,
            default=str,
        )


#: files at the project root whose settings shape how a rewrite is formatted
STYLE_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml", ".isort.cfg", "setup.cfg", "tox.ini", ".editorconfig")


def find_root(start: Path) -> Path:
    try:
        start = start.resolve()
    except (OSError, RuntimeError):  # a symlink loop: reported per file by discovery
        start = Path(os.path.abspath(start))
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in ROOT_MARKERS):
            return candidate
    return folder


TOP_LEVEL_KEYS = ("exclude", "select", "ignore", "max-file-size", "per-file-ignores", "edit-manifests", "verify")


def load_config(
    paths: list[str],
    known: Mapping[str, Mapping[str, Any]] | None = None,
    check: Callable[[str, dict[str, Any]], list[str]] | None = None,
) -> Config:
    """Read ``[tool.flaskfix]``. ``known`` maps each codemod id to its config keys and
    their defaults; given it, unknown tables, keys and value types are errors, so a typo
    cannot silently leave a default in place. ``check(id, table)`` (the table over the
    defaults) returns what is wrong with a codemod's values (``timeout = -5``): also an error."""
    known_ids = set(known) if known is not None else None
    start = Path(paths[0]) if paths else Path(os.getcwd())
    root = find_root(start)
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return Config(root=root, ruff=_ruff_toml(root))
    try:
        with open(pyproject, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{pyproject}: cannot read configuration: {exc}") from None
    tool = data.get("tool", {})
    table = tool.get("flaskfix", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.flaskfix] must be a table")
    cfg = Config(root=root, pyproject=pyproject, black=tool.get("black") if isinstance(tool.get("black"), dict) else None,
                 ruff=_ruff_toml(root) or (tool.get("ruff") if isinstance(tool.get("ruff"), dict) else None))
    for key, value in table.items():
        if key == "exclude":
            cfg.exclude = _str_list(pyproject, key, value)
        elif key == "select":
            cfg.select = _str_list(pyproject, key, value)
        elif key == "ignore":
            cfg.ignore = _str_list(pyproject, key, value)
        elif key == "max-file-size":
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{pyproject}: [tool.flaskfix] max-file-size must be a positive number of bytes")
            cfg.max_file_size = value
        elif key == "edit-manifests":
            if not isinstance(value, bool):
                raise ConfigError(f"{pyproject}: [tool.flaskfix] edit-manifests must be true or false, not {value!r}")
            cfg.edit_manifests = value
        elif key == "verify":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{pyproject}: [tool.flaskfix] verify must be the command that runs the tests, a string")
            cfg.verify = value
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{pyproject}: [tool.flaskfix] per-file-ignores must be a table of pattern = [ids]")
            cfg.per_file_ignores = {k: _str_list(pyproject, key, v) for k, v in value.items()}
            unknown = {i for ids in cfg.per_file_ignores.values() for i in ids} - (known_ids or set()) - {"ALL"}
            if known_ids is not None and unknown:
                raise ConfigError(f"{pyproject}: [tool.flaskfix] per-file-ignores names unknown codemod ids: {sorted(unknown)}")
        elif isinstance(value, dict):
            if known_ids is not None and key not in known_ids:
                raise ConfigError(f"{pyproject}: [tool.flaskfix.{key}]: no codemod has the id {key!r}")
            if known is not None:
                _check_codemod_table(pyproject, key, value, known[key])
                # one string where the default is a list means a list of that string
                value = {k: [v] if isinstance(known[key][k], list) and isinstance(v, str) else v for k, v in value.items()}
                problems = check(key, {**known[key], **value}) if check is not None else []
                if problems:
                    raise ConfigError(f"{pyproject}: [tool.flaskfix.{key}]: " + "; ".join(problems))
            cfg.codemods[key] = value
        elif known is not None:
            raise ConfigError(
                f"{pyproject}: [tool.flaskfix] has no key {key!r} (keys: {', '.join(TOP_LEVEL_KEYS)}; "
                "plus one table per codemod id)"
            )
        else:
            cfg.codemods.setdefault("", {})[key] = value
    return cfg


def _check_codemod_table(pyproject: Path, codemod_id: str, table: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    """Every key is one the codemod declares, with a value of its default's type (a list
    default also takes one string)."""
    where = f"{pyproject}: [tool.flaskfix.{codemod_id}]"
    for key, value in table.items():
        if key not in defaults:
            keys = ", ".join(defaults) or "none"
            raise ConfigError(f"{where} has no key {key!r} (its keys: {keys}; `flaskfix explain {codemod_id}`)")
        default = defaults[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, list):
            ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise ConfigError(f"{where} {key} = {value!r}: expected a value like the default, {default!r}")


def _str_list(pyproject: Path, key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{pyproject}: [tool.flaskfix] {key} must be a list of strings")
    return list(value)


def _ruff_toml(root: Path) -> dict[str, Any] | None:
    """ruff's own configuration file at the root (it wins over [tool.ruff]), if readable."""
    for name in ("ruff.toml", ".ruff.toml"):
        try:
            with open(root / name, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError):
            continue
        return data if isinstance(data, dict) else None
    return None
