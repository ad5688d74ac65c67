"""Docs come from one source: README's codemod table is generated from the classes."""

from pathlib import Path

import pytest

from flaskfix import codemods
from flaskfix.codemods.docs import readme_block

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_codemod_table_is_up_to_date() -> None:
    assert readme_block() in README.read_text(encoding="utf-8"), (
        "README's codemod table is out of date: run `python -m flaskfix.codemods.docs` and paste its output"
    )


@pytest.mark.parametrize("codemod", [c for c in codemods.all_codemods() if c.DEFAULT_CONFIG], ids=lambda c: c.ID)
def test_explained_configuration_is_valid_toml_of_the_defaults(codemod) -> None:
    """`flaskfix explain` shows each key as it is written in pyproject.toml."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    text = codemod.explain()
    block = text[text.index(f"Configuration: [tool.flaskfix.{codemod.ID}]"):].splitlines()[1:]
    parsed = tomllib.loads("\n".join(line.strip() for line in block))
    assert parsed == {k: list(v) if isinstance(v, tuple) else v for k, v in codemod.DEFAULT_CONFIG.items()}
