"""What the project declares it depends on at run time, and where.

``declared(root)`` reads every runtime manifest a Python project uses: ``requirements*.txt``
and ``requirements/*.txt`` (following ``-r``), ``pyproject.toml`` (``[project]`` of
setuptools/PDM/hatch/flit, and Poetry's ``[tool.poetry.dependencies]``), ``setup.cfg``
(``[options] install_requires``), ``setup.py`` (a literal ``install_requires=[...]``) and
``Pipfile`` (``[packages]``). Each requirement keeps its version constraint and the file
and line that declare it. It also lists the lock and hash files that an edit to a
manifest would make stale (``poetry.lock``, ``pdm.lock``, ``uv.lock``, ``Pipfile.lock``,
requirements files with ``--hash``), so a codemod can refuse instead of breaking them.

Test-only and development manifests (``requirements-dev.txt``, ``requirements/test.txt``,
optional-dependency groups, Poetry's dev groups) are not runtime dependencies: a package
declared only there is not installed where the app runs.
"""

from __future__ import annotations

import ast
import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

LOCK_FILES = ("poetry.lock", "pdm.lock", "uv.lock", "Pipfile.lock")
_NOT_RUNTIME = re.compile(r"(?:^|[-_./])(?:dev|devel|test|tests|testing|lint|docs?|ci|typing|mypy)(?:[-_.]|$)", re.I)


@dataclass(frozen=True)
class Declared:
    name: str  # canonical (``flask-caching``)
    specifier: str  # ``>=2.0`` ("" when unconstrained)
    file: str  # relative to the root
    line: int  # 1-based; 0 when the format has no lines flaskfix tracks

    def allows(self, version: str) -> bool:
        return SpecifierSet(self.specifier).contains(Version(version), prereleases=True)

    def minimum(self) -> Version | None:
        """The lowest version the constraint admits, when it has a lower bound."""
        lows = [Version(s.version) for s in SpecifierSet(self.specifier) if s.operator in (">=", "==", "~=", ">", "===")
                and not s.version.endswith("*")]
        return max(lows) if lows else None


@dataclass
class Manifests:
    root: Path
    requirements: list[Declared] = field(default_factory=list)
    #: the runtime manifest files found (relative), in the order a new line would be added
    files: list[str] = field(default_factory=list)
    #: files an edit would make stale: lock files, requirements with --hash
    locks: list[str] = field(default_factory=list)
    #: manifests that exist but could not be read: file -> why
    unreadable: dict[str, str] = field(default_factory=dict)

    def get(self, package: str) -> list[Declared]:
        name = canonicalize_name(package)
        return [r for r in self.requirements if r.name == name]

    def declares(self, package: str) -> bool:
        return bool(self.get(package))

    @property
    def any(self) -> bool:
        return bool(self.files)


def declared(root: str | Path) -> Manifests:
    root = Path(root)
    out = Manifests(root)
    for lock in LOCK_FILES:
        if (root / lock).is_file():
            out.locks.append(lock)
    req_files = sorted(p for p in root.glob("requirements*.txt") if p.is_file())
    req_files += sorted(p for p in (root / "requirements").glob("*.txt") if p.is_file()) if (root / "requirements").is_dir() else []
    seen: set[Path] = set()
    for path in req_files:
        rel = path.relative_to(root).as_posix()
        if _NOT_RUNTIME.search(path.stem) and not path.stem.lower().startswith(("requirements-prod", "prod")):
            continue
        _requirements_txt(out, path, seen)
    for name, reader in (("pyproject.toml", _pyproject), ("setup.cfg", _setup_cfg), ("setup.py", _setup_py),
                         ("Pipfile", _pipfile)):
        path = root / name
        if path.is_file():
            try:
                reader(out, path)
            except (OSError, ValueError, SyntaxError, tomllib.TOMLDecodeError, configparser.Error) as exc:
                out.unreadable[name] = f"{type(exc).__name__}: {exc}"
    return out


def _add(out: Manifests, text: str, file: str, line: int) -> None:
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return
    if req.marker is not None and "extra" in str(req.marker):
        return  # an optional extra's requirement
    out.requirements.append(Declared(canonicalize_name(req.name), str(req.specifier), file, line))


def _requirements_txt(out: Manifests, path: Path, seen: set[Path]) -> None:
    if path in seen or not path.is_file():
        return
    seen.add(path)
    rel = path.relative_to(out.root).as_posix() if path.is_relative_to(out.root) else str(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        out.unreadable[rel] = str(exc)
        return
    declares = False
    for i, raw in enumerate(lines, 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if "--hash" in line and rel not in out.locks:
            out.locks.append(rel)
        if line.startswith(("-r ", "--requirement ")):
            _requirements_txt(out, (path.parent / line.split(None, 1)[1]).resolve(), seen)
            continue
        if line.startswith("-"):
            continue  # -e ., --index-url ...
        declares = True
        _add(out, line.split(";")[0].split("--hash")[0].strip().rstrip("\\").strip() if "--hash" in line else line, rel, i)
    if declares or lines:
        out.files.append(rel)


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    return 0


def _pyproject(out: Manifests, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    project = data.get("project")
    if isinstance(project, dict) and "dependencies" in project:
        out.files.append("pyproject.toml")
        for dep in project.get("dependencies") or []:
            if isinstance(dep, str):
                _add(out, dep, "pyproject.toml", _line_of(text, dep))
    poetry = (data.get("tool") or {}).get("poetry")
    if isinstance(poetry, dict) and isinstance(poetry.get("dependencies"), dict):
        if "pyproject.toml" not in out.files:
            out.files.append("pyproject.toml")
        for name, spec in poetry["dependencies"].items():
            if name.lower() == "python":
                continue
            version = spec if isinstance(spec, str) else (spec.get("version", "") if isinstance(spec, dict) else "")
            if isinstance(spec, dict) and spec.get("optional"):
                continue
            out.requirements.append(Declared(canonicalize_name(name), _poetry_specifier(version), "pyproject.toml",
                                             _line_of(text, name)))


def _poetry_specifier(version: str) -> str:
    """Poetry's ``^2.1`` / ``~2.1`` / ``2.1.*`` / ``*`` as a PEP 440 specifier."""
    version = version.strip()
    if version in ("", "*"):
        return ""
    if version.startswith("^"):
        v = Version(version[1:])
        upper = (f"{v.major + 1}" if v.major else f"0.{v.minor + 1}" if v.minor else f"0.0.{v.micro + 1}")
        return f">={version[1:]},<{upper}"
    if version.startswith("~") and not version.startswith("~="):
        v = Version(version[1:])
        return f">={version[1:]},<{v.major}.{v.minor + 1}"
    if version[0].isdigit():
        return f"=={version}"
    return version


def _setup_cfg(out: Manifests, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    parser = configparser.ConfigParser()
    parser.read_string(text)
    if parser.has_option("options", "install_requires"):
        out.files.append("setup.cfg")
        for dep in parser.get("options", "install_requires").splitlines():
            dep = dep.strip()
            if dep and not dep.startswith("#"):
                _add(out, dep, "setup.cfg", _line_of(text, dep))


def _setup_py(out: Manifests, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) == "setup":
            for kw in node.keywords:
                if kw.arg == "install_requires":
                    if isinstance(kw.value, (ast.List, ast.Tuple)) and all(
                            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in kw.value.elts):
                        out.files.append("setup.py")
                        for e in kw.value.elts:
                            _add(out, e.value, "setup.py", e.lineno)  # type: ignore[union-attr]
                    else:
                        out.unreadable["setup.py"] = "install_requires is not a literal list of strings"


def _pipfile(out: Manifests, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    packages = data.get("packages")
    if isinstance(packages, dict):
        out.files.append("Pipfile")
        for name, spec in packages.items():
            version = spec if isinstance(spec, str) else (spec.get("version", "") if isinstance(spec, dict) else "")
            out.requirements.append(Declared(canonicalize_name(name), "" if version in ("*", "") else version,
                                             "Pipfile", _line_of(text, name)))
