"""flaskfix: semantics-preserving codemods for Flask anti-patterns.

The distribution maps the repository's ``codemods/`` (the library) and ``cli/`` (the
application) to ``flaskfix.codemods`` and ``flaskfix.cli`` (``pyproject.toml``'s
``package-dir``); this package holds only the version and ``python -m flaskfix``.
"""

__version__ = "0.2.0"
