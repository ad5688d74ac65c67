"""Property-based robustness: generated Flask modules through every codemod.

Whatever the handlers' bodies are, the engine must never let an exception escape, no
codemod may fail with an internal error, the output must parse and compile, and a
second run on the output must change nothing (a fixed point).

Two sources of code:

* a small grammar of our own (below) that writes the shapes the codemods look for and
  their near misses: module-level dicts, lists, sets and counters, ``global``,
  ``Model.query.get(x)`` in loops, divisions and ``int(request.args[...])``,
  ``try``/``with``/``if`` nesting, comprehensions, ``del``, ``yield``, ``async def``;
* ``hypothesmith`` (random programs from Python's grammar), wrapped as handler bodies,
  when it is installed (``pip install hypothesmith``); those tests are skipped otherwise.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flaskfix import codemods as registry
from flaskfix.codemods.engine.config import Config
from flaskfix.codemods.engine.pipeline import Engine

CODEMODS = registry.all_codemods()
IDS = [c.ID for c in CODEMODS]
ENGINES = {None: Engine(CODEMODS, Config(root=Path("/nonexistent-flaskfix-root")))}
ENGINES.update({c.ID: Engine([c], Config(root=Path("/nonexistent-flaskfix-root"))) for c in CODEMODS})

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same examples on every run: a CI failure reproduces locally
    database=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

# -- the grammar ------------------------------------------------------------------------

GLOBALS = ["cache", "items", "seen", "counter", "hits", "total", "REGISTRY", "config_map"]
GLOBAL_INITS = {
    "cache": "{}",
    "items": "[]",
    "seen": "set()",
    "counter": "0",
    "hits": "0",
    "total": "0.0",
    "REGISTRY": "dict()",
    "config_map": '{"a": 1}',
}
LOCALS = ["x", "y", "n", "ids", "user", "row", "data", "result", "key", "i"]
MODELS = ["User", "Order"]

name = st.sampled_from(LOCALS)
glob = st.sampled_from(GLOBALS)
literal = st.one_of(
    st.integers(-3, 1000).map(str),
    st.sampled_from(['"data"', "'k'", '"a/b"', "None", "True", "[]", "{}", "1.5", '{"key": "value"}']),
)
request_read = st.sampled_from(
    [
        'request.args["n"]',
        'request.args.get("n", "1")',
        'request.form["total"]',
        'request.json["k"]',
        "request.get_json()",
        'request.args.getlist("id")',
        'request.values.get("x")',
        "request.headers.get('X-Id')",
    ]
)


def _atom() -> st.SearchStrategy[str]:
    return st.one_of(
        literal,
        name,
        glob,
        request_read,
        st.builds(lambda r: f"int({r})", request_read),
        st.builds(lambda r: f"float({r})", request_read),
        st.builds(lambda m, a: f"{m}.query.get({a})", st.sampled_from(MODELS), name),
        st.builds(lambda m, a: f"db.session.get({m}, {a})", st.sampled_from(MODELS), name),
        st.builds(lambda m, a: f"{m}.query.get_or_404({a})", st.sampled_from(MODELS), name),
        st.builds(lambda g, k: f"{g}[{k}]", glob, literal),
        st.builds(lambda g, k: f"{g}.get({k})", glob, literal),
        st.just("perform_expensive_calculation()"),
        st.just("len(items)"),
    )


expr = st.recursive(
    _atom(),
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from(["/", "//", "%", "+", "-", "*"]), inner),
        st.builds(lambda a, b: f"divmod({a}, {b})", inner, inner),
        st.builds(lambda a: f"[{a} for x in ids]", inner),
        st.builds(lambda a, b: f"({a} if {b} else None)", inner, inner),
        st.builds(lambda a: f"jsonify({a})", inner),
        st.builds(lambda a: f"str({a})", inner),
    ),
    max_leaves=6,
)


def _simple_statement() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda n, e: f"{n} = {e}", name, expr),
        st.builds(lambda g, k, e: f"{g}[{k}] = {e}", glob, literal, expr),
        st.builds(lambda g, e: f"{g}.append({e})", glob, expr),
        st.builds(lambda g, e: f"{g}.add({e})", glob, expr),
        st.builds(lambda g, k: f"del {g}[{k}]", glob, literal),
        st.builds(lambda g, op, e: f"{g} {op} {e}", glob, st.sampled_from(["+=", "-=", "=", "*="]), expr),
        st.builds(lambda g: f"global {g}", glob),
        st.builds(lambda n: f"{n} += 1", name),
        st.builds(lambda e: f"return {e}", expr),
        st.just("return 'ok'"),
        st.just("pass"),
        st.just("db.session.commit()"),
        st.just("g.value = 1"),
        st.builds(lambda e: f"yield {e}", expr),
        st.builds(lambda e: f"print({e})", expr),
        st.just("nonlocal_helper = lambda: cache"),
    )


statement = st.recursive(
    _simple_statement().map(lambda s: [s]),
    lambda body: st.one_of(
        st.builds(lambda n, b: [f"for {n} in ids:", *_indent(b)], name, body),
        st.builds(lambda n, b: [f"for {n} in range(1, 100):", *_indent(b)], name, body),
        st.builds(lambda e, b: [f"if {e}:", *_indent(b)], expr, body),
        st.builds(lambda a, b: ["try:", *_indent(a), "except (ValueError, KeyError):", *_indent(b)], body, body),
        st.builds(lambda a: ["try:", *_indent(a), "finally:", "    pass"], body),
        st.builds(lambda b: ["with lock:", *_indent(b)], body),
        st.builds(lambda b: ["while hits < 3:", *_indent(b)], body),
        st.builds(lambda n, b: ["def helper():", *_indent(b)], name, body),
    ),
    max_leaves=8,
)
body = st.lists(statement, min_size=1, max_size=6).map(lambda parts: [line for p in parts for line in p])


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


route = st.sampled_from(
    [
        '@app.route("/r{i}")',
        '@app.route("/r{i}", methods=["GET", "POST"])',
        '@app.get("/r{i}")',
        '@app.post("/r{i}")',
        '@bp.route("/r{i}")',
        "@app.before_request",
        "",  # a plain function: not a handler
    ]
)
handler = st.tuples(route, st.booleans(), st.sampled_from(["", "user_id"]), body)


PREAMBLE = """\
import threading

from flask import Blueprint, Flask, g, jsonify, request
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
bp = Blueprint("bp", __name__)
db = SQLAlchemy(app)
lock = threading.Lock()
ids = [1, 2, 3]


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80))


class Order(db.Model):
    id = db.Column(db.Integer, primary_key=True)


def perform_expensive_calculation():
    return sum(range(10))
"""


#: handlers in the exact shapes the codemods rewrite (module-level state first), each
#: with generated statements put in front of the pattern: some keep it rewritable, some
#: make a codemod refuse; both sides of the line get exercised
SEEDS = {
    "global-to-g": (
        "store_{i} = {{}}",
        '@app.route("/s{i}")\ndef seed{i}():\n{pre}    store_{i}["data"] = {{"key": "value"}}\n    return "Stored!"',
    ),
    "redis-counter": (
        "visits_{i} = 0",
        '@app.route("/s{i}")\ndef seed{i}():\n    global visits_{i}\n{pre}    visits_{i} += 1\n    return {{"count": visits_{i}}}',
    ),
    "bulk-query": (
        "",
        '@app.route("/s{i}")\ndef seed{i}():\n{pre}    names = []\n    for user_id in range(1, 100):\n'
        "        user = User.query.get(user_id)\n        names.append(user.name if user else None)\n"
        "    return jsonify(users=names)",
    ),
    "error-handler": (
        "",
        '@app.route("/s{i}")\ndef seed{i}():\n{pre}    total = float(request.args.get("total", "0"))\n'
        '    people = int(request.args.get("people", "1"))\n    return {{"each": total / people}}',
    ),
    "cache-route": (
        "",
        '@app.route("/s{i}")\ndef seed{i}():\n{pre}    data = perform_expensive_calculation()\n    return {{"result": data}}',
    ),
}
seed = st.tuples(st.sampled_from(sorted(SEEDS)), st.one_of(st.just([]), body))


@st.composite
def flask_modules(draw: st.DrawFn) -> str:
    globals_used = draw(st.lists(glob, min_size=1, max_size=4, unique=True))
    parts = [PREAMBLE]
    parts.extend(f"{g} = {GLOBAL_INITS[g]}" for g in sorted(globals_used))
    for i, (which, pre) in enumerate(draw(st.lists(seed, max_size=2))):
        state, template = SEEDS[which]
        if state:
            parts.append(state.format(i=i))
        pre_text = "".join(line + "\n" for line in _indent(pre))
        parts.append("\n\n" + template.format(i=i, pre=pre_text))
    for i, (deco, is_async, param, lines) in enumerate(draw(st.lists(handler, min_size=1, max_size=3))):
        header = f"{'async ' if is_async else ''}def view{i}({param}):"
        block = [deco.format(i=i)] if deco else []
        parts.append("\n\n" + "\n".join([*block, header, *_indent(lines)]))
    if draw(st.booleans()):
        parts.append('\n\napp.register_blueprint(bp)')
    return "\n".join(parts) + "\n"


def parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


# -- the properties ---------------------------------------------------------------------


def check(text: str, which: str | None) -> None:
    """Everything the tool promises about one input, for all codemods or one of them."""
    engine = ENGINES[which]
    result = engine.process_text(text, "app.py")  # an exception here fails the test
    assert result.error is None or "internal error" not in result.error, f"{result.error}\n--- input:\n{text}"
    if not parses(text):
        assert result.error is not None and not result.changed
        return
    assert result.error is None, result.error
    if not result.changed:
        return
    new = result.new_text
    assert new is not None
    try:
        compile(text, "app.py", "exec", dont_inherit=True)
    except SyntaxError:
        pass  # e.g. ``return`` with a value in an async generator: compile-time only
    else:
        compile(new, "app.py", "exec", dont_inherit=True)
    assert result.changes, "the text changed but no change was reported"
    again = engine.process_text(new, "app.py")
    assert again.error is None, f"{again.error}\n--- first output:\n{new}"
    assert not again.changed, f"not a fixed point for {which or 'all codemods'}:\n{again.diff()}\n--- input:\n{text}"


@SETTINGS
@given(flask_modules())
def test_generated_flask_modules_all_codemods(text: str) -> None:
    assert parses(text), text  # the grammar only writes valid Python
    check(text, None)


@settings(SETTINGS, max_examples=25)
@given(flask_modules(), st.sampled_from(IDS))
def test_generated_flask_modules_one_codemod(text: str, which: str) -> None:
    check(text, which)


@settings(SETTINGS, max_examples=20)
@given(flask_modules(), st.data())
def test_mangled_modules_never_crash(text: str, data: st.DataObject) -> None:
    """Cut, duplicated or re-indented text: usually not Python any more; never a crash."""
    lines = text.splitlines(keepends=True)
    i = data.draw(st.integers(0, len(lines) - 1))
    how = data.draw(st.sampled_from(["cut", "dup", "dedent", "tabs", "crlf", "drop-char"]))
    if how == "cut":
        mangled = "".join(lines[:i])
    elif how == "dup":
        mangled = "".join(lines[: i + 1] + lines[i:])
    elif how == "dedent":
        mangled = "".join(lines[:i] + [lines[i].lstrip()] + lines[i + 1 :])
    elif how == "tabs":
        mangled = text.replace("    ", "\t")
    elif how == "crlf":
        mangled = text.replace("\n", "\r\n")
    else:
        j = data.draw(st.integers(0, max(len(text) - 1, 0)))
        mangled = text[:j] + text[j + 1 :]
    check(mangled, data.draw(st.sampled_from([None, *IDS])))


# -- hypothesmith: programs from Python's own grammar -----------------------------------

try:
    import hypothesmith  # type: ignore[no-redef]
except ImportError:  # pragma: no cover - depends on the environment
    hypothesmith = None

needs_hypothesmith = pytest.mark.skipif(hypothesmith is None, reason="hypothesmith is not installed")

WRAPPER = """\
from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
db = SQLAlchemy(app)
cache = {{}}
counter = 0


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)


@app.route("/r")
def view():
    global counter
{body}
    for user_id in range(3):
        cache[user_id] = User.query.get(user_id)
    counter += 1
    return str(counter / len(cache))
"""


def _wrap(generated: str) -> str:
    body = textwrap.indent(generated, "    ", lambda line: True) if generated.strip() else "    pass\n"
    return WRAPPER.format(body=body.rstrip("\n"))


@needs_hypothesmith
@settings(SETTINGS, max_examples=10)
@given(st.deferred(lambda: hypothesmith.from_node() if hypothesmith else st.nothing()), st.sampled_from([None, *IDS]))
def test_hypothesmith_bodies_in_a_handler(generated: str, which: str | None) -> None:
    text = _wrap(generated)
    assume(parses(text))  # e.g. a generated ``nonlocal`` or a continuation line
    check(text, which)


@needs_hypothesmith
@settings(SETTINGS, max_examples=10)
@given(st.deferred(lambda: hypothesmith.from_grammar() if hypothesmith else st.nothing()))
def test_hypothesmith_modules_after_a_flask_app(generated: str) -> None:
    """Whole generated modules appended to a Flask app (module level), all codemods."""
    check(_wrap("pass\n") + "\n" + generated, None)


# -- .gitignore matching: the prefiltered spec answers exactly what pathspec answers --------

_SEGMENTS = st.sampled_from(["a", "b", "build", "docs", "x.py", "y.pyc", "__pycache__", "keep.py", "*", "**", "*.py", "[ab]", "?"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["", "!", "/"]), st.lists(_SEGMENTS, min_size=1, max_size=3), st.sampled_from(["", "/"])),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.lists(st.sampled_from(["a", "b", "build", "docs", "x.py", "y.pyc", "__pycache__", "keep.py", "c.txt"]), min_size=1, max_size=4), min_size=1, max_size=8),
    st.booleans(),
)
def test_gitignore_prefilter_agrees_with_pathspec(patterns, paths, as_dir) -> None:
    import pathspec

    from flaskfix.codemods.engine.discovery import _Spec

    lines = [prefix + "/".join(parts) + suffix for prefix, parts, suffix in patterns]
    try:
        reference = pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception:
        assume(False)
    # the prefilter from the first path, from the third, never (it is built after a count)
    for ours in (_Spec(lines, prefilter_after=0), _Spec(lines, prefilter_after=2), _Spec(lines, prefilter_after=10**6)):
        for parts in paths:
            path = "/".join(parts) + ("/" if as_dir else "")
            assert ours.match_file(path) == reference.match_file(path), (lines, path)
