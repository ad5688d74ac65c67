"""Docs come from one source: README's codemod table is generated from the classes."""

from pathlib import Path

from codemods.docs import readme_block

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_codemod_table_is_up_to_date() -> None:
    assert readme_block() in README.read_text(encoding="utf-8"), (
        "README's codemod table is out of date: run `python -m codemods.docs` and paste its output"
    )
