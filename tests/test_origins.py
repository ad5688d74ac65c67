"""Value origins (codemods/origins.py): where a value may come from."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from flaskfix.codemods.index import Index
from flaskfix.codemods.origins import ModuleOrigins, from_client, only_client, server_side

HEAD = "from flask import Flask, request, current_app, jsonify\nimport os, json, datetime\napp = Flask(__name__)\n"


def origins(body: str, expr: str = "x", url: tuple[str, ...] = (), head: str = HEAD) -> set[str]:
    """Labels of ``expr`` evaluated at the end of function ``view``'s body."""
    src = head + "def view(" + ", ".join(url) + "):\n" + textwrap.indent(textwrap.dedent(body), "    ") + f"\n    return {expr}\n"
    tree = ast.parse(src)
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "view")
    ret = func.body[-1]
    assert isinstance(ret, ast.Return) and ret.value is not None
    return set(ModuleOrigins(tree).of(ret.value, func, url))


@pytest.mark.parametrize("body, expected", [
    ("x = request.args['n']", {"request.args"}),
    ("x = int(request.args.get('n', '1'))", {"request.args", "constant"}),
    ("x = request.form.get('qty')", {"request.form"}),
    ("form = request.form\nx = int(form['qty'])", {"request.form"}),  # an alias
    ("data = request.get_json()\nx = data['items'][0]['price']", {"request.json"}),
    ("x = request.json['n']", {"request.json"}),
    ("x = json.loads(request.data)['n']", {"request.data"}),
    ("x = [int(v) for v in request.args['d'].split(',')]", {"request.args"}),
    ("x = list(map(int, request.args['d'].split(',')))", {"request.args"}),
    ("x = datetime.datetime.strptime(request.args['d'], '%Y')", {"request.args", "constant"}),
    ("x = request.headers['X-N']", {"request.headers"}),
    ("x = request.cookies.get('n')", {"request.cookies"}),
    ("x = 1024 * 1024", {"constant"}),
    ("x = 9", {"constant"}),
    ("x = current_app.config['PER_PAGE']", {"config"}),
    ("x = current_app.config.get('PER_PAGE', 10)", {"config", "constant"}),
    ("x = app.config['UPLOAD'] ", {"unknown"}),  # without an index, `app` is not known to be the app
    ("x = os.environ['N']", {"env"}),
    ("x = int(os.getenv('N', '3'))", {"env"}),
    ("n = 0\nfor v in request.args.getlist('v'):\n    n += int(v)\nx = n", {"constant", "request.args"}),
    ("x = helper()", {"unknown"}),
    ("x = obj.attr", {"unknown"}),
    ("x = 3 if request.args else current_app.config['N']", {"constant", "config"}),
    ("x = User.query.get(1).quota", {"database"}),
    ("x = db.session.execute(q).scalar()", {"database"}),
])
def test_origins_within_a_view(body: str, expected: set[str]) -> None:
    assert origins(body) == expected


def test_url_parameters() -> None:
    assert origins("x = per_page", url=("per_page",)) == {"url"}
    assert origins("x = int(page) // 10", url=("page",)) == {"url", "constant"}


def test_module_constants_and_rebinding() -> None:
    assert origins("x = PER_PAGE", head=HEAD + "PER_PAGE = 9\n") == {"constant"}
    assert origins("x = LIMIT", head=HEAD + "LIMIT = int(os.environ['L'])\n") == {"env"}
    # a global that a handler rebinds is not a constant
    head = HEAD + "N = 9\ndef bump():\n    global N\n    N = int(request.args['n'])\n"
    assert origins("x = N", head=head) == {"unknown"}


def test_the_predicates() -> None:
    assert only_client({"request.args", "constant"}) and from_client({"request.args", "config"})
    assert not only_client({"request.args", "config"}) and not only_client({"constant"})
    assert not only_client({"request.args", "unknown"})
    assert server_side({"config", "constant"}) and not server_side({"config", "unknown"}) and not server_side(set())


def build(tmp_path: Path, files: dict[str, str]) -> Index:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    return Index.build(tmp_path, sorted(str(p) for p in tmp_path.rglob("*.py")))


def origins_in(index: Index, module: str, function: str, expr_source: str) -> set[str]:
    path = index.modules[module].path
    tree = ast.parse(Path(path).read_text())
    mo = ModuleOrigins(tree, module, index)
    func = mo.function(function)
    assert func is not None
    expr = next(n for n in ast.walk(func) if isinstance(n, ast.expr) and ast.unparse(n) == expr_source)
    return set(mo.of(expr, func))


def test_helpers_in_other_modules_follow_their_call_sites(tmp_path: Path) -> None:
    idx = build(tmp_path, {
        "helpers.py": "def ratio(total, people):\n    return total / people\n\ndef per_page(n):\n    return n\n",
        "views.py": """\
            from flask import request, current_app
            from helpers import ratio, per_page
            import helpers

            def split():
                return ratio(float(request.args['t']), int(request.args['p']))

            def split2():
                return helpers.ratio(1, people=int(request.form['p']))

            def listing():
                return per_page(current_app.config['PER_PAGE'])
        """,
    })
    assert origins_in(idx, "helpers", "ratio", "people") == {"request.args", "request.form"}
    assert origins_in(idx, "helpers", "ratio", "total") == {"request.args", "constant"}
    assert origins_in(idx, "helpers", "per_page", "n") == {"config"}


def test_a_helper_without_call_sites_is_unknown(tmp_path: Path) -> None:
    idx = build(tmp_path, {"helpers.py": "def ratio(a, b):\n    return a / b\n"})
    assert origins_in(idx, "helpers", "ratio", "b") == {"unknown"}


def test_config_objects_and_settings_modules(tmp_path: Path) -> None:
    idx = build(tmp_path, {
        "config.py": "class Config:\n    BOOKS_PER_PAGE = 20\nbooks_per_page = 20\n",
        "settings.py": "PAGE = 10\n",
        "app.py": """\
            from flask import Flask
            import config
            from config import Config
            from settings import PAGE
            app = Flask(__name__)

            def view(offset):
                return offset / int(config.books_per_page)

            def view2():
                return Config.BOOKS_PER_PAGE

            def view3():
                return app.config['UPLOAD_PATH']

            def view4():
                return PAGE
        """,
    })
    assert "config" in origins_in(idx, "app", "view", "offset / int(config.books_per_page)")
    assert origins_in(idx, "app", "view2", "Config.BOOKS_PER_PAGE") == {"config"}
    assert origins_in(idx, "app", "view3", "app.config['UPLOAD_PATH']") == {"config"}
    assert origins_in(idx, "app", "view4", "PAGE") == {"config"}


def test_relative_imports_of_settings_resolve_through_the_index(tmp_path: Path) -> None:
    idx = build(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/settings.py": "PER_PAGE = 10\n",
        "pkg/views.py": "from flask import request\nfrom .settings import PER_PAGE\n\ndef v():\n    return int(request.args['n']) // PER_PAGE\n",
    })
    assert origins_in(idx, "pkg.views", "v", "PER_PAGE") == {"config"}
    assert origins_in(idx, "pkg.views", "v", "int(request.args['n']) // PER_PAGE") == {"request.args", "config"}


def test_helpers_that_call_each_other_end(tmp_path: Path) -> None:
    """A cycle through two modules' parameters (a(x) calls b(x), b(y) calls a(y)) answers,
    with what the outside call sites pass, instead of recursing without end."""
    idx = build(tmp_path, {
        "one.py": "from two import b\n\ndef a(x):\n    return b(x)\n",
        "two.py": "import one\n\ndef b(y):\n    if y:\n        return one.a(y - 1)\n    return 1 / y\n",
        "views.py": "from flask import request\nfrom one import a\n\ndef v():\n    return a(int(request.args['n']))\n",
    })
    assert origins_in(idx, "two", "b", "y") == {"request.args", "constant"}


def _inner(src: str, var: str) -> set[str]:
    """Labels of the load of ``var`` that sits deepest in ``view`` (inside its comprehensions)."""
    tree = ast.parse(HEAD + textwrap.dedent(src))
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "view")
    loads = [n for n in ast.walk(func) if isinstance(n, ast.Name) and n.id == var and isinstance(n.ctx, ast.Load)]
    return set(ModuleOrigins(tree).of(loads[-1], func))


@pytest.mark.parametrize("src, var, expected", [
    # a sink inside a comprehension: its variable holds the iterable's items
    ("def view():\n    body = request.get_json()\n    return [int(x) for x in body['ids']]\n", "x", {"request.json"}),
    ("def view():\n    return {k: int(v) for k, v in request.args.items()}\n", "v", {"request.args"}),
    # a later generator sees the earlier one's variable; its own only in its conditions
    ("def view():\n    return [y for x in request.json['a'] for y in x]\n", "y", {"request.json"}),
    ("def view():\n    return [int(x) for x in [1, 2] if x]\n", "x", {"constant"}),
    # the first iterable is evaluated outside: a name there is the function's
    ("def view():\n    x = 3\n    return [x for x in [x]]\n", "x", {"constant"}),
    ("def view():\n    ids = os.environ['IDS']\n    return [int(i) for i in ids.split(',')]\n", "i", {"env"}),
])
def test_comprehension_variables_hold_their_iterables_items(src, var, expected) -> None:
    assert _inner(src, var) == expected
