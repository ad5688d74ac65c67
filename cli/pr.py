"""``flaskfix pr``: open or update a pull request with the fixes (see issue 7)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``pr`` command to the flaskfix app."""
