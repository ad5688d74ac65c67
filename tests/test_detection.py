"""The fast detection pass never changes a result: it only skips work.

Every fixture, and a corpus of real code from the Flask ecosystem (the installed flask,
werkzeug, Flask-SQLAlchemy, Flask-Caching packages and the bundled example), gives the
same output, changes and findings with detection on and off.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from flaskfix import codemods
from flaskfix.codemods.engine import Engine
from flaskfix.codemods.engine.config import Config
from flaskfix.codemods.project import Project
from tests.harness import all_cases, run_case

CASES = all_cases()


def outcome(result):
    return (result.new_text, result.changes, result.findings, result.error)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fixture_detected(case) -> None:
    assert outcome(run_case(case, detection=True)) == outcome(run_case(case, detection=False))


def _corpus() -> list[Path]:
    files = sorted((Path(__file__).resolve().parents[1] / "examples").rglob("*.py"))
    for package in ("flask", "werkzeug", "flask_sqlalchemy", "flask_caching"):
        spec = importlib.util.find_spec(package)
        if spec and spec.origin:
            files += sorted(Path(spec.origin).parent.rglob("*.py"))
    return files


def test_detection_agrees_with_the_codemods_on_a_corpus() -> None:
    files = _corpus()
    assert len(files) > 100
    root = files[0].parent
    fast = Engine(codemods.all_codemods(), Config(root=root), Project(root, ()))
    full = Engine(codemods.all_codemods(), Config(root=root), Project(root, ()))
    full.detection = False
    parsed_fast = parsed_full = 0
    for path in files:
        a, b = fast.process_path(str(path)), full.process_path(str(path))
        assert outcome(a) == outcome(b), path
        parsed_fast += not a.prefiltered_out
        parsed_full += not b.prefiltered_out
    # and it does skip work: most of these files are not Flask apps
    assert parsed_fast < parsed_full / 2, (parsed_fast, parsed_full)
