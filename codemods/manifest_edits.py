"""Adding a requirement to the project's runtime manifest: the supporting edit of a change
that imports a package the project does not declare yet (Flask-Caching, redis).

``target(manifests, distribution, ...)`` answers *where* (the manifest that declares Flask,
in that file's own format) or *why not* (a lock or hash file would go stale, the format is
``setup.py``, ``[tool.flaskfix] edit-manifests = false``), naming the command to run
instead. ``add(root, file, requirements)`` makes the edit as text, keeping every other
byte, and checks it by reading the old and new file with the same readers that find the
project's dependencies (``codemods/manifests.py``): the new file must declare exactly what
the old one did plus the added requirements, or the edit is refused (``ManifestEditError``).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flaskfix.codemods import manifests as m

#: the lowest version of each package a fix needs (what the generated code uses)
MINIMUM = {"Flask-Caching": "2.0", "redis": "4.0"}

#: lock file -> (which manifest it locks, the command that adds a dependency and relocks)
_LOCKS = {"poetry.lock": ("poetry", "poetry add"), "pdm.lock": ("project", "pdm add"), "uv.lock": ("project", "uv add"),
          "Pipfile.lock": ("pipfile", "pipenv install")}


class ManifestEditError(Exception):
    """The requirement could not be added safely; ``str()`` says why."""


@dataclass(frozen=True)
class Target:
    file: str  # relative to the root, "/"-separated
    kind: str  # requirements | project | poetry | setup.cfg | pipfile


def requirement_text(distribution: str) -> str:
    return f"{distribution}>={MINIMUM[distribution]}"


def target(manifests: m.Manifests, distribution: str, allowed: bool = True) -> Target | str:
    """The manifest a requirement for ``distribution`` goes into, or why none can take it."""
    req = requirement_text(distribution)
    if not manifests.files:
        raise ValueError("no manifest: the change says what to install instead")
    flask = [d.file for d in manifests.get("flask")]
    file = next((f for f in manifests.files if f in flask), manifests.files[0])
    kind = _kind(manifests.root, file)
    if not allowed:
        return f"[tool.flaskfix] edit-manifests is false: add `{req}` to {file} yourself, then run flaskfix again"
    if file == "setup.py":
        return f"flaskfix does not edit setup.py: add `{req}` to its install_requires, then run flaskfix again"
    if file in manifests.locks:  # a requirements file with --hash
        source = Path(file).with_suffix(".in").as_posix()
        how = (f"add `{req}` to {source} and run `pip-compile --generate-hashes {source}`"
               if (manifests.root / source).is_file() else f"add `{req}` with its hashes (pip-compile --generate-hashes)")
        return f"{file} pins hashes, which flaskfix cannot compute: {how}, then run flaskfix again"
    for lock in manifests.locks:
        locked_kind, command = _LOCKS.get(lock, (None, None))
        if locked_kind is not None and locked_kind == kind:
            return (f"adding `{req}` to {file} would leave {lock} stale: run `{command} '{req}'`, "
                    "then run flaskfix again")
    if kind == "unknown":
        return f"flaskfix cannot tell how {file} declares dependencies: add `{req}` to it, then run flaskfix again"
    return Target(file, kind)


def _kind(root: Path, file: str) -> str:
    name = Path(file).name
    if name.endswith(".txt"):
        return "requirements"
    if name == "setup.cfg":
        return "setup.cfg"
    if name == "Pipfile":
        return "pipfile"
    if name == "pyproject.toml":
        try:
            data = m.tomllib.loads((root / file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "unknown"
        if isinstance(data.get("project"), dict) and "dependencies" in data["project"]:
            return "project"
        return "poetry"
    return "unknown" if name != "setup.py" else "setup.py"


def add(root: Path, t: Target, distributions: list[str], text: str | None = None) -> tuple[str, str, list[int]]:
    """(old text, new text, the 1-based lines added) of ``t.file`` with a requirement for
    each distribution added; checked by reading both back (``ManifestEditError`` if the
    new file does not declare exactly the old requirements plus these)."""
    path = root / t.file
    if text is None:
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestEditError(f"cannot read {t.file}: {exc}") from None
    reqs = [requirement_text(d) for d in distributions]
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    edit = {"requirements": _requirements, "project": _project, "poetry": _table_entry, "pipfile": _table_entry,
            "setup.cfg": _setup_cfg}[t.kind]
    new_lines, added = edit(lines, reqs, newline, t.kind)
    new = "".join(new_lines)
    _check(t, text, new, distributions)
    return text, new, added


def _ends(lines: list[str], newline: str) -> list[str]:
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    return lines


def _requirements(lines: list[str], reqs: list[str], newline: str, kind: str) -> tuple[list[str], list[int]]:
    lines = _ends(list(lines), newline)
    start = len(lines)
    return lines + [r + newline for r in reqs], list(range(start + 1, start + 1 + len(reqs)))


_HEADER = re.compile(r"^\s*\[")


def _table(lines: list[str], header: str) -> tuple[int, int]:
    """The lines of a TOML/INI table: (index of its header, index after its last line)."""
    want = re.compile(rf"^\s*\[\s*{re.escape(header)}\s*\]\s*(#.*)?$")
    start = next((i for i, ln in enumerate(lines) if want.match(ln.rstrip("\r\n"))), None)
    if start is None:
        raise ManifestEditError(f"no [{header}] table")
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    return start, end


def _quote(sample: str) -> str:
    return "'" if sample.count("'") > sample.count('"') else '"'


def _project(lines: list[str], reqs: list[str], newline: str, kind: str) -> tuple[list[str], list[int]]:
    lines = _ends(list(lines), newline)
    start, end = _table(lines, "project")
    key = re.compile(r"^(\s*)dependencies\s*=\s*\[")
    at = next((i for i in range(start + 1, end) if key.match(lines[i])), None)
    if at is None:
        raise ManifestEditError("no `dependencies = [` in [project]")
    first = lines[at]
    q = _quote("".join(lines[start:end]))
    body = first[first.index("[") + 1:].rstrip("\r\n")
    if "]" in body.split("#")[0]:  # one line: dependencies = ["flask", ...]
        head, _, tail = first.rpartition("]")
        inside = head[head.index("[") + 1:]
        items = ", ".join(f"{q}{r}{q}" for r in reqs)
        if not inside.strip():
            head = head + items
        elif inside.rstrip().endswith(","):
            head = head.rstrip() + " " + items
        else:
            head = head.rstrip() + ", " + items
        lines[at] = f"{head}]{tail}"
        return lines, [at + 1]
    close = next((i for i in range(at + 1, end) if lines[i].strip().startswith("]")), None)
    if close is None:
        raise ManifestEditError("the dependencies array has no closing `]` on a line of its own")
    last = next((i for i in range(close - 1, at, -1) if lines[i].strip() and not lines[i].strip().startswith("#")), None)
    indent = re.match(r"\s*", lines[last]).group(0) if last is not None else "    "  # type: ignore[union-attr]
    if last is not None:
        code, hash_, comment = lines[last].rstrip("\r\n").partition(" #")
        if not code.rstrip().endswith(","):
            lines[last] = code.rstrip() + "," + (f" {hash_.strip()}{comment}" if hash_ else "") + newline
    new = [f"{indent}{q}{r}{q},{newline}" for r in reqs]
    lines[close:close] = new
    return lines, list(range(close + 1, close + 1 + len(new)))


def _table_entry(lines: list[str], reqs: list[str], newline: str, kind: str) -> tuple[list[str], list[int]]:
    """Poetry's [tool.poetry.dependencies] or Pipfile's [packages]: ``name = ">=x"``."""
    lines = _ends(list(lines), newline)
    start, end = _table(lines, "tool.poetry.dependencies" if kind == "poetry" else "packages")
    last = max((i for i in range(start, end) if lines[i].strip() and not lines[i].strip().startswith("#")), default=start)
    q = _quote("".join(lines[start:end]))
    new = []
    for r in reqs:
        name, spec = r.split(">=", 1)
        new.append(f"{name} = {q}>={spec}{q}{newline}")
    lines[last + 1:last + 1] = new
    return lines, list(range(last + 2, last + 2 + len(new)))


def _setup_cfg(lines: list[str], reqs: list[str], newline: str, kind: str) -> tuple[list[str], list[int]]:
    lines = _ends(list(lines), newline)
    start, end = _table(lines, "options")
    key = re.compile(r"^install_requires\s*[=:]")
    at = next((i for i in range(start + 1, end) if key.match(lines[i])), None)
    if at is None:
        raise ManifestEditError("no install_requires in [options]")
    last = at
    for i in range(at + 1, end):
        if lines[i].strip() and not lines[i][0].isspace():
            break
        if lines[i].strip():
            last = i
    if last == at:
        raise ManifestEditError("install_requires is not a list of indented lines")
    indent = re.match(r"\s*", lines[last]).group(0)  # type: ignore[union-attr]
    new = [f"{indent}{r}{newline}" for r in reqs]
    lines[last + 1:last + 1] = new
    return lines, list(range(last + 2, last + 2 + len(new)))


def _check(t: Target, old: str, new: str, distributions: list[str]) -> None:
    """The new text declares the old requirements plus one per distribution, nothing else."""

    def read(text: str) -> list[tuple[str, str]]:
        with tempfile.TemporaryDirectory(prefix="flaskfix-manifest-") as tmp:
            copy = Path(tmp) / t.file
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(text, encoding="utf-8", newline="")
            out = m.Manifests(Path(tmp))
            reader = {"requirements": lambda: m._requirements_txt(out, copy, set()),
                      "project": lambda: m._pyproject(out, copy), "poetry": lambda: m._pyproject(out, copy),
                      "pipfile": lambda: m._pipfile(out, copy), "setup.cfg": lambda: m._setup_cfg(out, copy)}[t.kind]
            try:
                reader()
            except (OSError, ValueError, m.configparser.Error) as exc:
                raise ManifestEditError(f"{t.file} does not read back: {exc}") from None
            return [(d.name, d.specifier) for d in out.requirements if d.file == t.file]

    before, after = read(old), read(new)
    wanted = before + [(m.canonicalize_name(d), f">={MINIMUM[d]}") for d in distributions]
    if sorted(after) != sorted(wanted):
        raise ManifestEditError(f"the edited {t.file} would not declare exactly what it did plus {', '.join(distributions)}")
