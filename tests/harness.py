"""Run one codemod over a fixture case, the way every fixture test does.

A case is a folder ``tests/fixtures/<codemod-id>/<case>/`` holding:

* ``input.py``: the module to transform (it is copied as ``app.py`` into a temporary
  project, so its module name is ``app``);
* ``expected.py``: the expected output; **absent means the input must stay byte-identical**
  (a no-op case);
* ``findings.txt`` (optional): one expected finding per line, ``LINE: text``; the codemod
  must report exactly that many findings, each at that line and containing that text;
* ``suppressed.txt`` (optional): the lines, one per line, of the sites a
  ``# flaskfix: ignore`` comment held back (exactly those);
* ``config.toml`` (optional): the body of ``[tool.flaskfix.<codemod-id>]``;
* any other ``*.py`` files: other modules of the same project (e.g. ``models.py``, or a
  module that imports a global from ``app``).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flaskfix import codemods
from flaskfix.codemods.engine import Engine, FileResult, load_config, project_files

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Case:
    codemod: str
    folder: Path

    @property
    def id(self) -> str:
        return f"{self.codemod}/{self.folder.name}"

    @property
    def input(self) -> str:
        return (self.folder / "input.py").read_text(encoding="utf-8")

    @property
    def expected(self) -> str | None:
        p = self.folder / "expected.py"
        return p.read_text(encoding="utf-8") if p.exists() else None

    @property
    def expected_suppressed(self) -> list[int] | None:
        p = self.folder / "suppressed.txt"
        if not p.exists():
            return None
        return sorted(int(x) for x in p.read_text(encoding="utf-8").split())

    @property
    def expected_findings(self) -> list[tuple[int, str]] | None:
        p = self.folder / "findings.txt"
        if not p.exists():
            return None
        out = []
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                num, _, text = line.partition(":")
                out.append((int(num), text.strip()))
        return out


def all_cases() -> list[Case]:
    cases = []
    for codemod_dir in sorted(FIXTURES.iterdir()):
        if not codemod_dir.is_dir():
            continue
        for case_dir in sorted(codemod_dir.iterdir()):
            if (case_dir / "input.py").exists():
                cases.append(Case(codemod_dir.name, case_dir))
    return cases


def run_codemod(
    codemod_id: str, source: str, siblings: dict[str, str] | None = None, config: str = "", detection: bool = True
) -> FileResult:
    """Run one codemod on ``source`` as ``app.py`` of a temporary project."""
    with tempfile.TemporaryDirectory(prefix="flaskfix-case-") as tmp:
        root = Path(tmp)
        body = f"[tool.flaskfix.{codemod_id}]\n{config}\n" if config else ""
        (root / "pyproject.toml").write_text(body, encoding="utf-8")
        for name, text in (siblings or {}).items():
            (root / name).write_text(text, encoding="utf-8")
        app = root / "app.py"
        app.write_text(source, encoding="utf-8")
        cfg = load_config([str(root)], {c.ID: c.DEFAULT_CONFIG for c in codemods.all_codemods()}, codemods.config_problems)
        engine = Engine([codemods.get(codemod_id)], cfg)
        engine.project = type(engine.project)(cfg.root, project_files(cfg))
        engine.detection = detection
        return engine.process_path(str(app))


def run_case(case: Case, source: str | None = None, detection: bool = True) -> FileResult:
    siblings = {
        p.name: p.read_text(encoding="utf-8")
        for p in case.folder.glob("*.py")
        if p.name not in ("input.py", "expected.py")
    }
    assert "app.py" not in siblings, "a fixture sibling may not be named app.py"
    cfg = case.folder / "config.toml"
    config = cfg.read_text(encoding="utf-8") if cfg.exists() else ""
    return run_codemod(case.codemod, case.input if source is None else source, siblings, config, detection)
