"""What a run reports about one site: a ``Change`` made, or a ``Finding`` (refused, and why).

Plain data with no dependencies, so the engine and the CLI can use them without loading
LibCST or any codemod.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Change:
    """A rewrite a codemod made: ``codemod`` id, 1-based ``line`` in the input, what it did.
    ``role``: "site" (an anti-pattern fixed; ``--interactive`` asks about each) or
    "support" (what the sites need, such as a created Cache: kept while a site needs it)."""

    line: int
    codemod: str
    message: str
    role: str = "site"


@dataclass(frozen=True, order=True)
class Finding:
    """A candidate a codemod recognised and did not rewrite, with the reason."""

    line: int
    codemod: str
    message: str


@dataclass(frozen=True, order=True)
class Requirement:
    """A package a codemod's rewrite of a file imports and the project does not declare:
    the supporting edit that adds ``requirement`` (``Flask-Caching>=2.0``) to ``manifest``
    (relative to the project root). One manifest line serves every change that needs it;
    it is written only with them."""

    manifest: str
    distribution: str
    requirement: str
    codemod: str


@dataclass(frozen=True, order=True)
class CodeSupport:
    """An edit of another project module that a codemod's rewrite of a file needs (the
    Cache a cached view imports: ``cache-define`` in the extensions module, ``cache-init``
    in the factory). Shared like a manifest line: made once for every change that needs
    it, written only with them."""

    path: str  # relative to the project root, "/"-separated
    kind: str  # cache-define | cache-init
    args: tuple[str, ...]
    codemod: str
