"""What a Jinja template reads, judged with Jinja2's own parser.

cache-route asks this before caching a view that renders a template: a cached page is
the page of whoever asked first, so the template must not read per-user or per-request
state. ``Templates.judge(name)`` answers with

* ``problems``: true reasons the template (or one it extends, includes or imports) is
  per-request: it reads ``session``, ``g``, ``current_user``, ``request``, flashed
  messages, a CSRF token, translations (the locale may follow the request), the clock
  or randomness (``lipsum``), an external ``url_for`` (the request's host); it includes a
  template chosen at run time; a template flaskfix cannot find or parse;
* ``free``: the other names it reads that neither it nor Flask nor Jinja defines: the
  view passes them, or a context processor or Jinja global injects them (the caller
  judges those: ``providers()`` lists the project's context processors, template filters
  and Jinja globals);
* ``filters``: filters and tests it uses that are not Jinja's own.

Templates are looked up as Flask's loader does, by name in the app's template folder
and then each blueprint's; when a name exists in several, every one is judged. Each file
is read through the ``Project``, so a result records what it depends on (a template
created, edited or removed later invalidates a cached result).
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Any

#: names whose value depends on who asks, and why
PER_REQUEST = {
    "session": "per-user state: `{t}` reads `session`",
    "g": "per-user state: `{t}` reads `g` (auth hooks keep the user there)",
    "current_user": "per-user state: `{t}` uses `current_user` (the logged-in user)",
    "request": "request data: `{t}` reads `request`, which the cache key does not include",
    "get_flashed_messages": "flash: `{t}` calls `get_flashed_messages()`",
    "csrf_token": "per-user state: `{t}` calls `csrf_token()` (a token of the user's session)",
    "lipsum": "clock or randomness: `{t}` calls `lipsum()`",
    **{f: f"translations: `{{t}}` translates text with `{f}()`, and the locale may follow the request or the user"
       for f in ("_", "gettext", "ngettext", "pgettext", "npgettext")},
}
#: Flask's and Jinja's own globals that read nothing per-request (``url_for`` without
#: ``_external``: a path, the same for every client of one deployment)
SAFE_GLOBALS = frozenset({"config", "url_for", "range", "dict", "cycler", "joiner", "namespace"})
#: names Jinja defines inside templates themselves
TEMPLATE_NAMES = frozenset({"loop", "caller", "varargs", "kwargs", "self", "super"})
#: the words that register something a template can read, searched in the project's files
PROVIDER_WORDS = ("context_processor", "app_context_processor", "template_filter", "app_template_filter",
                  "add_template_filter", "template_test", "app_template_test", "add_template_test",
                  "template_global", "app_template_global", "add_template_global", "jinja_env")


@dataclass
class Judged:
    problems: list[str] = field(default_factory=list)
    free: set[str] = field(default_factory=set)
    filters: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Provider:
    """Something the project registers that templates can read: a context processor
    (``names`` it returns, None when flaskfix cannot list them), a filter, test or
    global; ``func`` the function that runs (None: flaskfix cannot tell what runs)."""

    kind: str  # "context processor", "filter", "test", "global"
    names: frozenset[str] | None
    path: str
    func: ast.FunctionDef | ast.AsyncFunctionDef | None
    line: int


class Templates:
    """Judges the project's templates (one instance per run: each template is parsed once)."""

    def __init__(self, project: Any, folders: list[str]) -> None:
        self.project = project
        self.folders = folders
        self._judged: dict[str, Judged] = {}
        self._env: Any = None
        self._jinja_filters: frozenset[str] = frozenset()
        self._jinja_tests: frozenset[str] = frozenset()
        self._providers: list[Provider] | None = None

    def _environment(self) -> Any:
        if self._env is None:
            import jinja2

            # the extensions Flask apps commonly enable, so that their tags parse
            self._env = jinja2.Environment(extensions=["jinja2.ext.i18n", "jinja2.ext.do", "jinja2.ext.loopcontrols"])
            self._jinja_filters = frozenset(self._env.filters)
            self._jinja_tests = frozenset(self._env.tests)
        return self._env

    def judge(self, name: str) -> Judged:
        if name not in self._judged:
            self._judged[name] = Judged(problems=["templates: it includes itself"])  # a cycle, while being judged
            self._judged[name] = self._judge(name)
        return self._judged[name]

    def _judge(self, name: str) -> Judged:
        import jinja2
        from jinja2 import meta, nodes

        out = Judged()
        found = [(p, t) for p in (os.path.normpath(os.path.join(f, *name.split("/"))) for f in self.folders)
                 if (t := self.project.text(p)) is not None]
        if not found:
            out.problems.append(f"templates: flaskfix cannot find `{name}` in the template folders of the project's app "
                                "and blueprints")
            return out
        env = self._environment()
        for path, text in found:
            try:
                tree = env.parse(text)
            except jinja2.TemplateSyntaxError as exc:
                out.problems.append(f"templates: flaskfix cannot parse `{name}` (line {exc.lineno}: {exc.message})")
                continue
            for node in tree.find_all((nodes.Filter, nodes.Test)):
                is_filter = isinstance(node, nodes.Filter)
                if node.name not in (self._jinja_filters if is_filter else self._jinja_tests):
                    out.filters.add(node.name)
                    # a stand-in, so that the code generator behind jinja2.meta accepts the template
                    (env.filters if is_filter else env.tests).setdefault(node.name, lambda *a, **k: None)
            try:
                undeclared = meta.find_undeclared_variables(tree)
            except jinja2.TemplateError as exc:
                out.problems.append(f"templates: flaskfix cannot read `{name}` ({exc})")
                continue
            # a child template's top-level imports, macros and sets are exported to the
            # context its blocks read; jinja2.meta, reading each block alone, lists them
            declared: set[str] = set()
            for node in tree.find_all((nodes.Import, nodes.FromImport, nodes.Macro)):
                if isinstance(node, nodes.Import):
                    declared.add(node.target)
                elif isinstance(node, nodes.FromImport):
                    declared |= {n[1] if isinstance(n, tuple) else n for n in node.names}
                else:
                    declared.add(node.name)
            declared |= {n.target.name for n in tree.body if isinstance(n, nodes.Assign) and isinstance(n.target, nodes.Name)}
            for var in sorted(undeclared - declared):
                if var in PER_REQUEST:
                    out.problems.append(PER_REQUEST[var].format(t=name))
                elif var not in SAFE_GLOBALS and var not in TEMPLATE_NAMES:
                    out.free.add(var)
            for call in tree.find_all(nodes.Call):
                if isinstance(call.node, nodes.Name) and call.node.name == "url_for" and any(
                        k.key == "_external" for k in call.kwargs):
                    out.problems.append(f"request data: `{name}` builds an external URL, which depends on the request's host")
            for child in meta.find_referenced_templates(tree):
                if child is None:
                    out.problems.append(f"templates: `{name}` extends, includes or imports a template chosen at run time")
                    continue
                inner = self.judge(child)
                out.problems += [p for p in inner.problems if p not in out.problems]
                out.free |= inner.free
                out.filters |= inner.filters
        return out

    # -- what the project registers for templates --------------------------------------------

    def providers(self) -> list[Provider]:
        if self._providers is None:
            seen: set[str] = set()
            found: list[Provider] = []
            for word in PROVIDER_WORDS:
                for path in self.project.files_mentioning(word):
                    if path not in seen:
                        seen.add(path)
                        tree = self.project.tree(path)
                        if tree is not None:
                            found += _providers_in(tree, path)
            self._providers = found
        return self._providers


_DECORATORS = {
    "context_processor": "context processor", "app_context_processor": "context processor",
    "template_filter": "filter", "app_template_filter": "filter",
    "template_test": "test", "app_template_test": "test",
    "template_global": "global", "app_template_global": "global",
}
_ADDERS = {"add_template_filter": "filter", "add_template_test": "test", "add_template_global": "global"}
_ENV_TABLES = {"filters": "filter", "tests": "test", "globals": "global"}


def _providers_in(tree: ast.Module, path: str) -> list[Provider]:
    top = {s.name: s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
    out: list[Provider] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in node.decorator_list:
                func = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(func, ast.Attribute) and func.attr in _DECORATORS:
                    kind = _DECORATORS[func.attr]
                    if kind == "context processor":
                        names = _returned_names(node)
                    else:
                        names = frozenset({_registered_name(dec, 0) or node.name})
                    out.append(Provider(kind, names, path, node, node.lineno))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr in ("context_processor", "app_context_processor") and len(node.args) == 1:
                fdef = top.get(node.args[0].id) if isinstance(node.args[0], ast.Name) else None
                out.append(Provider("context processor", _returned_names(fdef) if fdef else None, path, fdef, node.lineno))
            elif attr in _ADDERS and node.args:
                fdef = top.get(node.args[0].id) if isinstance(node.args[0], ast.Name) else None
                name = _registered_name(node, 1) or (node.args[0].id if isinstance(node.args[0], ast.Name) else None)
                out.append(Provider(_ADDERS[attr], frozenset({name}) if name else None, path, fdef, node.lineno))
            elif attr == "update" and isinstance(node.func.value, ast.Attribute) and node.func.value.attr in _ENV_TABLES:
                out.append(Provider(_ENV_TABLES[node.func.value.attr], None, path, None, node.lineno))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute)
                        and target.value.attr in _ENV_TABLES and isinstance(target.slice, ast.Constant)
                        and isinstance(target.slice.value, str)):
                    fdef = top.get(node.value.id) if isinstance(node.value, ast.Name) else None
                    out.append(Provider(_ENV_TABLES[target.value.attr], frozenset({target.slice.value}), path, fdef,
                                        node.lineno))
    return out


def _registered_name(call: ast.expr, position: int) -> str | None:
    if not isinstance(call, ast.Call):
        return None
    for kw in call.keywords:
        if kw.arg == "name" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
            return kw.value.value
    if len(call.args) > position and isinstance(call.args[position], ast.Constant) and isinstance(call.args[position].value, str):
        return call.args[position].value  # type: ignore[no-any-return]
    return None


def _returned_names(func: ast.FunctionDef | ast.AsyncFunctionDef | None) -> frozenset[str] | None:
    """The keys of every dict a context processor returns, when each ``return`` is a dict
    literal with string keys or ``dict(k=...)``; None when flaskfix cannot list them."""
    if func is None:
        return None
    names: set[str] = set()
    returns = [n for n in ast.walk(func) if isinstance(n, ast.Return)]
    if not returns:
        return None
    for ret in returns:
        value = ret.value
        if isinstance(value, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in value.keys):
            names |= {k.value for k in value.keys}  # type: ignore[union-attr]
        elif (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict"
              and not value.args and all(k.arg for k in value.keywords)):
            names |= {k.arg for k in value.keywords if k.arg}
        else:
            return None
    return frozenset(names)
