"""error-handler, executed: real Flask apps before and after the rewrite.

Before, bad input makes the view raise and Flask answers 500; after, the wrapped statement
re-raises it as a client-input class (a BadRequest that is still the built-in class) and
the injected handler, registered for that class only, answers 400 with a fixed JSON
message. Every other response (valid input, 404, 405, werkzeug's own 400 for
``request.args[...]``) and every other exception of the same class (server bugs in the
same view, the same blueprint or elsewhere) keeps exactly its outcome, whatever handlers
the app has: an ``Exception`` handler, a 500 handler, a code-keyed 400 handler, a base-class
handler on the blueprint, ``TESTING`` propagation, ``got_request_exception``.
The rewrite is produced by running the codemod on the source at test time.
"""

from __future__ import annotations

import logging
import textwrap
import uuid
from pathlib import Path

import pytest
from flask import got_request_exception

from tests.behaviour.shop import load_module, rewritten_copy
from tests.harness import run_codemod

DIVISION = "Division by zero is not allowed."
VALUE = "A value in the request is not valid."
KEY = "A required field is missing from the request."
SHAPE = "The request data does not have the expected shape."


def _versions(tmp_path: Path, source: str, config: str = "") -> tuple[object, object]:
    """Import ``source`` as it is and as the codemod rewrites it (two fresh modules)."""
    source = textwrap.dedent(source).lstrip("\n")
    result = run_codemod("error-handler", source, config=config)
    assert result.error is None, result.error
    assert result.changed and result.changes, result.findings
    folder = tmp_path / uuid.uuid4().hex[:8]
    folder.mkdir()
    (folder / "before.py").write_text(source, encoding="utf-8")
    (folder / "after.py").write_text(result.new_text, encoding="utf-8")
    return load_module(folder / "before.py"), load_module(folder / "after.py")


def _answer(client, method: str, url: str, **kwargs) -> tuple[int, bytes, str | None]:
    resp = client.open(url, method=method, **kwargs)
    return resp.status_code, resp.get_data(), resp.headers.get("Allow")


MODULE_APP = """
    from fractions import Fraction

    from flask import Flask, jsonify, request

    app = Flask(__name__)
    PRICES = []


    @app.route("/split")
    def split_bill():
        total = int(request.args.get("total", "0"))
        people = int(request.args.get("people", "1"))
        return jsonify(each=total / people)


    @app.route("/buggy")
    def buggy():
        # a server bug flaskfix does not see: Fraction(100, 0) raises ZeroDivisionError
        return {"per_unit": str(Fraction(100, len(PRICES)))}
"""


def test_module_app_bad_input_becomes_400_and_the_rest_is_unchanged(tmp_path, caplog):
    before, after = _versions(tmp_path, MODULE_APP)
    assert before.app.testing is False and after.app.testing is False  # 500s, not re-raised exceptions
    b, a = before.app.test_client(), after.app.test_client()

    for url, message in [("/split?total=10&people=0", DIVISION), ("/split?total=ten", VALUE), ("/split?people=1.5", VALUE)]:
        assert b.get(url).status_code == 500
        with caplog.at_level(logging.INFO):
            caplog.clear()
            resp = a.get(url)
        assert resp.status_code == 400, url
        assert resp.is_json and resp.get_json() == {"error": message}
        body = resp.get_data(as_text=True)
        assert "Traceback" not in body and "invalid literal" not in body and "division by zero" not in body
        # bad client input is logged as one WARNING line naming the view and the exception,
        # never at ERROR and never with a traceback
        assert [r.levelno for r in caplog.records] == [logging.WARNING]
        record = caplog.records[0]
        assert record.exc_info is None and "\n" not in record.getMessage()
        expected_exc = "ZeroDivisionError(" if message == DIVISION else "ValueError("
        assert record.getMessage().startswith(f"GET /split (view split_bill): {expected_exc}"), record.getMessage()
        assert record.getMessage().endswith(", answered 400")

    for method, url in [
        ("GET", "/split?total=10&people=4"),
        ("GET", "/split"),
        ("GET", "/nowhere"),  # 404
        ("POST", "/split"),  # 405, with its Allow header
        ("DELETE", "/buggy"),
        ("GET", "/split?total=-9&people=-2"),
    ]:
        assert _answer(b, method, url) == _answer(a, method, url), (method, url)
    assert _answer(a, "GET", "/nowhere")[0] == 404
    assert _answer(a, "POST", "/split")[0] == 405
    assert a.get("/split?total=10&people=4").get_json() == {"each": 2.5}


def test_a_server_bug_of_the_same_class_keeps_its_outcome(tmp_path):
    """The old design's trade-off is gone: a ZeroDivisionError that is a server bug stays a
    500 and still reaches got_request_exception; only the wrapped site became a 400."""
    before, after = _versions(tmp_path, MODULE_APP)
    seen: list[BaseException] = []

    def record(sender, exception, **extra):
        seen.append(exception)

    assert before.app.test_client().get("/buggy").status_code == 500
    assert after.app.test_client().get("/buggy").status_code == 500

    got_request_exception.connect(record, before.app)
    got_request_exception.connect(record, after.app)
    try:
        before.app.test_client().get("/buggy")
        after.app.test_client().get("/buggy")
        assert [type(e) for e in seen] == [ZeroDivisionError, ZeroDivisionError]
        seen.clear()
        before.app.test_client().get("/split?people=0")
        assert len(seen) == 1 and isinstance(seen[0], ZeroDivisionError)
        after.app.test_client().get("/split?people=0")
        assert len(seen) == 1, "the wrapped site is answered 400: no longer an unhandled exception"
    finally:
        got_request_exception.disconnect(record, before.app)
        got_request_exception.disconnect(record, after.app)
    # under TESTING the server bug still propagates out of the test client, as before
    for module in (before, after):
        module.app.testing = True
        with pytest.raises(ZeroDivisionError):
            module.app.test_client().get("/buggy")
    with pytest.raises(ZeroDivisionError):
        before.app.test_client().get("/split?people=0")
    assert after.app.test_client().get("/split?people=0").status_code == 400
    for module in (before, after):
        module.app.testing = False


def test_the_client_classes_are_still_the_builtin_classes(tmp_path):
    """Code that catches ZeroDivisionError around a wrapped helper still catches it."""
    source = """
        from flask import Flask, request

        app = Flask(__name__)


        def per_head(total, people):
            return total / people


        @app.route("/share")
        def share():
            total = int(request.args.get("total", "0"))
            people = int(request.args.get("people", "1"))
            return {"each": per_head(total, people)}
    """
    before, after = _versions(tmp_path, source)
    for module in (before, after):
        with pytest.raises(ZeroDivisionError) as caught:
            module.per_head(10, 0)
    assert type(caught.value).__name__ == "ClientZeroDivisionError"
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    assert after.app.test_client().get("/share?people=0").get_json() == {"error": DIVISION}
    assert before.app.test_client().get("/share?people=0").status_code == 500


JSON_APP = """
    from flask import Flask, request

    app = Flask(__name__)


    @app.post("/orders")
    def create_order():
        data = request.get_json()
        quantity = int(data["quantity"])
        return {"quantity": quantity, "note": request.args["note"]}, 201
"""


def test_json_body_key_and_shape_errors_become_400_and_werkzeug_400_is_untouched(tmp_path):
    before, after = _versions(tmp_path, JSON_APP)
    b, a = before.app.test_client(), after.app.test_client()
    cases = [
        ({}, KEY),  # missing key: KeyError
        (["quantity"], SHAPE),  # a list body: TypeError
        ({"quantity": None}, SHAPE),  # int(None): TypeError
        ({"quantity": "many"}, VALUE),  # int("many"): ValueError
    ]
    for body, message in cases:
        assert b.post("/orders?note=x", json=body).status_code == 500, body
        resp = a.post("/orders?note=x", json=body)
        assert (resp.status_code, resp.get_json()) == (400, {"error": message}), body
    # request.args["note"] missing: werkzeug's BadRequestKeyError (a KeyError) keeps Flask's own 400 page
    missing_note = _answer(b, "POST", "/orders", json={"quantity": 2})
    assert missing_note[0] == 400 and b"Bad Request" in missing_note[1]
    assert _answer(a, "POST", "/orders", json={"quantity": 2}) == missing_note
    # not JSON at all: Flask's 415 is unchanged; valid input is unchanged
    assert _answer(a, "POST", "/orders?note=x", data="x") == _answer(b, "POST", "/orders?note=x", data="x")
    assert _answer(a, "POST", "/orders?note=x", json={"quantity": "3"}) == _answer(
        b, "POST", "/orders?note=x", json={"quantity": "3"}
    )
    assert a.post("/orders?note=x", json={"quantity": "3"}).get_json() == {"quantity": 3, "note": "x"}
    assert _answer(a, "GET", "/orders") == _answer(b, "GET", "/orders")  # 405


NESTED_JSON_APP = """
    from flask import Flask, jsonify, request

    app = Flask(__name__)
    PROFILES = {"alice": {"otp": False}}


    @app.route("/otp", methods=["POST"])
    def otp():
        body = request.get_json()
        data = body["data"]
        enable = data["enable_otp"]
        return jsonify(enable=enable, known=PROFILES[enable])


    @app.route("/order", methods=["POST"])
    def order():
        form = request.form
        return jsonify(qty=int(form["qty"]))
"""


def test_a_json_value_kept_in_a_local_and_an_aliased_form_answer_400(tmp_path):
    """``data = body["data"]; data["enable_otp"]`` and ``form = request.form; int(form["qty"])``:
    the client's bad input answers 400; a server lookup in the same view (PROFILES) keeps its 500."""
    before, after = _versions(tmp_path, NESTED_JSON_APP)
    b, a = before.app.test_client(), after.app.test_client()
    for body, message in [({}, KEY), ({"data": {}}, KEY), ({"data": "x"}, SHAPE), ({"data": [1]}, SHAPE)]:
        assert b.post("/otp", json=body).status_code == 500, body
        resp = a.post("/otp", json=body)
        assert (resp.status_code, resp.get_json()) == (400, {"error": message}), body
    # a KeyError of the server's own lookup, outside the wrapped statements: still a 500
    assert b.post("/otp", json={"data": {"enable_otp": "bob"}}).status_code == 500
    assert a.post("/otp", json={"data": {"enable_otp": "bob"}}).status_code == 500
    assert _answer(a, "POST", "/otp", json={"data": {"enable_otp": "alice"}}) == _answer(
        b, "POST", "/otp", json={"data": {"enable_otp": "alice"}})
    assert b.post("/order", data={"qty": "many"}).status_code == 500
    resp = a.post("/order", data={"qty": "many"})
    assert (resp.status_code, resp.get_json()) == (400, {"error": VALUE})
    assert _answer(a, "POST", "/order", data={}) == _answer(b, "POST", "/order", data={})  # werkzeug's 400
    assert _answer(a, "POST", "/order", data={"qty": "2"}) == _answer(b, "POST", "/order", data={"qty": "2"})


def test_parsers_of_request_strings_and_split_pieces_answer_400(tmp_path):
    """``datetime.strptime`` and ``json.loads`` of what the client sent, and ``int()`` of the
    pieces of a request string: 400 for bad input; the same parser of a config value, and
    werkzeug's own 400 for a missing key, keep their outcome."""
    source = (Path(__file__).parent.parent / "fixtures" / "error-handler" / "parsers-and-split-pieces" / "input.py").read_text()
    before, after = _versions(tmp_path, source)
    b, a = before.app.test_client(), after.app.test_client()
    for method, url, kwargs in [("GET", "/day?d=yesterday", {}), ("POST", "/raw", {"data": b"{not json"}),
                                ("POST", "/raw", {"data": b"\xff"}), ("GET", "/sum?ids=1,x", {})]:
        assert _answer(b, method, url, **kwargs)[0] == 500, url
        resp = a.open(url, method=method, **kwargs)
        assert (resp.status_code, resp.get_json()) == (400, {"error": VALUE}), url
    for method, url, kwargs in [("GET", "/day?d=2024-02-29", {}), ("POST", "/raw", {"data": b"[1, 2]"}),
                                ("GET", "/sum?ids=1,2", {}), ("GET", "/sum", {}), ("GET", "/day", {})]:
        assert _answer(a, method, url, **kwargs) == _answer(b, method, url, **kwargs), url
    before.app.config["LAUNCH"] = after.app.config["LAUNCH"] = "soon"  # a server value: still a 500
    assert _answer(b, "GET", "/server")[0] == _answer(a, "GET", "/server")[0] == 500


def test_a_map_consumed_in_its_statement_answers_400(tmp_path):
    """``list(map(float, request.args.getlist("v")))`` raises in the statement that consumes
    the map: that statement answers 400; a map consumed later (``/lazy``) is left alone."""
    source = (Path(__file__).parent.parent / "fixtures" / "error-handler" / "map-consumed-in-the-statement" / "input.py").read_text()
    before, after = _versions(tmp_path, source)
    b, a = before.app.test_client(), after.app.test_client()
    for url in ["/mean?v=x&ids=1", "/mean?v=1&ids=1,y"]:
        assert _answer(b, "GET", url)[0] == 500, url
        resp = a.get(url)
        assert (resp.status_code, resp.get_json()) == (400, {"error": VALUE}), url
    for url in ["/mean?v=1&v=2&ids=3,4", "/mean?v=1", "/lazy?v=3", "/lazy"]:
        assert _answer(a, "GET", url) == _answer(b, "GET", url), url
    assert _answer(a, "GET", "/lazy?v=x")[0] == _answer(b, "GET", "/lazy?v=x")[0] == 500


BLUEPRINT_APP = """
    from flask import Blueprint, Flask, request

    bp = Blueprint("stats", __name__, url_prefix="/stats")


    @bp.route("/mean")
    def mean():
        values = [float(v) for v in request.args.getlist("v")]
        return {"mean": sum(values) / len(values)}


    SAMPLES = []


    @bp.route("/spread")
    def spread():
        # a server bug in the same blueprint: no samples loaded yet
        return {"spread": (max(SAMPLES, default=0) - min(SAMPLES, default=0)) / len(SAMPLES)}


    app = Flask(__name__)


    @app.route("/broken")
    def broken():
        return {"x": 1 / 0}


    app.register_blueprint(bp)
"""


def test_blueprint_handler_answers_only_the_wrapped_sites(tmp_path):
    before, after = _versions(tmp_path, BLUEPRINT_APP)
    assert "@bp.errorhandler(ClientInputError)" in Path(after.__file__).read_text()
    # the blueprint's other view divides by server state: same class, still a 500
    assert before.app.test_client().get("/stats/spread").status_code == 500
    assert after.app.test_client().get("/stats/spread").status_code == 500
    b, a = before.app.test_client(), after.app.test_client()
    assert b.get("/stats/mean").status_code == 500
    assert (a.get("/stats/mean").status_code, a.get("/stats/mean").get_json()) == (400, {"error": DIVISION})
    assert (a.get("/stats/mean?v=x").status_code, a.get("/stats/mean?v=x").get_json()) == (400, {"error": VALUE})
    for url in ["/stats/mean?v=1&v=2", "/stats/nowhere", "/nowhere"]:
        assert _answer(a, "GET", url) == _answer(b, "GET", url), url
    assert _answer(a, "POST", "/stats/mean?v=1") == _answer(b, "POST", "/stats/mean?v=1")
    # the app's own view is outside the blueprint's scope: still a 500 (and reported as a finding)
    assert a.get("/broken").status_code == 500


FACTORY_APP = """
    from flask import Flask, request


    def create_app():
        app = Flask(__name__)

        @app.route("/ratio")
        def ratio():
            a = int(request.args.get("a", "0"))
            b = int(request.args.get("b", "1"))
            return {"ratio": a / b}

        return app
"""


def test_factory_registers_the_handlers_on_each_app_it_builds(tmp_path):
    before, after = _versions(tmp_path, FACTORY_APP)
    assert "app.register_error_handler(ClientInputError, handle_client_input_error)" in Path(after.__file__).read_text()
    for _ in range(2):  # every app the factory builds gets them
        b, a = before.create_app().test_client(), after.create_app().test_client()
        assert b.get("/ratio?b=0").status_code == 500
        assert (a.get("/ratio?b=0").status_code, a.get("/ratio?b=0").get_json()) == (400, {"error": DIVISION})
        assert (a.get("/ratio?a=x").status_code, a.get("/ratio?a=x").get_json()) == (400, {"error": VALUE})
        for method, url in [("GET", "/ratio?a=3&b=4"), ("GET", "/nowhere"), ("PUT", "/ratio")]:
            assert _answer(a, method, url) == _answer(b, method, url), (method, url)


def test_configured_status_and_message(tmp_path):
    config = 'status = 422\nmessages = { ZeroDivisionError = "b must not be 0." }\n'
    before, after = _versions(tmp_path, FACTORY_APP, config=config)
    a = after.create_app().test_client()
    assert (a.get("/ratio?b=0").status_code, a.get("/ratio?b=0").get_json()) == (422, {"error": "b must not be 0."})
    assert (a.get("/ratio?b=x").status_code, a.get("/ratio?b=x").get_json()) == (422, {"error": VALUE})
    assert before.create_app().test_client().get("/ratio?b=0").status_code == 500


def test_bundled_example_split_answers_400(tmp_path):
    from tests.behaviour.shop import EXAMPLE

    before = load_module(EXAMPLE / "app.py")
    dest, results = rewritten_copy(tmp_path, ["error-handler"])
    changes = [c for r in results for c in r.changes if c.codemod == "error-handler"]
    assert {c.message.split(" can raise ")[1].split(",")[0] for c in changes} == {"ZeroDivisionError", "ValueError"}
    after = load_module(dest / "app.py")
    b, a = before.app.test_client(), after.app.test_client()
    for url, message in [("/split?total=90&people=0", DIVISION), ("/split?total=lots", VALUE)]:
        assert b.get(url).status_code == 500
        resp = a.get(url)
        assert (resp.status_code, resp.get_json()) == (400, {"error": message})
    for method, url in [("GET", "/split?total=90&people=3"), ("GET", "/nowhere"), ("POST", "/split")]:
        assert _answer(a, method, url) == _answer(b, method, url)


@pytest.mark.parametrize("url", ["/split?people=0", "/split?total=x"])
def test_second_run_adds_nothing_and_still_answers_400(tmp_path, url):
    source = textwrap.dedent(MODULE_APP).lstrip("\n")
    once = run_codemod("error-handler", source).new_text
    again = run_codemod("error-handler", once)
    assert not again.changed and not again.changes
    folder = tmp_path / "again"
    folder.mkdir()
    (folder / "app_again.py").write_text(once, encoding="utf-8")
    module = load_module(folder / "app_again.py")
    assert module.app.test_client().get(url).status_code == 400


HTTP_EXCEPTION_APP = """
    from flask import Blueprint, Flask, request
    from werkzeug.exceptions import HTTPException

    app = Flask(__name__)
    api = Blueprint("api", __name__, url_prefix="/api")


    @app.errorhandler(HTTPException)
    def json_http_error(error):
        return {"code": error.code, "message": error.description}, error.code


    @app.route("/echo", methods=["POST"])
    def echo():
        x = request.get_json()["x"]
        return {"x": x, "q": request.args["q"]}


    @api.route("/echo", methods=["POST"])
    def api_echo():
        x = request.get_json()["x"]
        return {"x": x, "q": request.args["q"]}


    app.register_blueprint(api)
"""


def test_an_app_http_exception_handler_keeps_werkzeug_400s(tmp_path):
    """Found on a real project: werkzeug's BadRequestKeyError (request.args[...]) is a
    KeyError; the client-input handler is registered for ClientInputError only, so the
    app's HTTPException handler keeps answering those, in the app and in the blueprint."""
    source = textwrap.dedent(HTTP_EXCEPTION_APP).lstrip("\n")
    result = run_codemod("error-handler", source)
    assert "@app.errorhandler(ClientInputError)" in (result.new_text or "")
    assert "@api.errorhandler(ClientInputError)" in (result.new_text or "")
    assert not result.findings
    before, after = _versions(tmp_path, HTTP_EXCEPTION_APP)
    b, a = before.app.test_client(), after.app.test_client()
    for prefix in ("", "/api"):
        # request.args["q"] missing: the app's JSON 400, before and after
        missing_q = _answer(b, "POST", f"{prefix}/echo", json={"x": 1})
        assert missing_q[0] == 400 and b'"code":400' in missing_q[1].replace(b" ", b"")
        assert _answer(a, "POST", f"{prefix}/echo", json={"x": 1}) == missing_q
        assert _answer(a, "POST", f"{prefix}/echo?q=1", json={"x": 1}) == _answer(b, "POST", f"{prefix}/echo?q=1", json={"x": 1})
    # a missing JSON key: 400 now, in the app and in the blueprint
    for prefix in ("", "/api"):
        assert _answer(b, "POST", f"{prefix}/echo?q=1", json={})[0] == 500
        assert a.post(f"{prefix}/echo?q=1", json={}).get_json() == {"error": KEY}


CONFIGURED_APP = """
    from flask import Blueprint, Flask, request

    app = Flask(__name__)
    api = Blueprint("api", __name__, url_prefix="/api")
    LOADED = []

    {handlers}


    @api.route("/ratio")
    def ratio():
        b = int(request.args.get("b", "1"))
        return {{"ratio": 10 / b}}


    @api.route("/average")
    def average():
        # server code raising the same classes: nothing loaded yet, a malformed setting
        if request.args.get("bug") == "value":
            return {{"n": int("not configured")}}
        return {{"average": sum(LOADED) / len(LOADED)}}


    @api.route("/form", methods=["POST"])
    def form():
        return {{"name": request.form["name"]}}


    app.register_blueprint(api)
"""
HANDLER_CONFIGURATIONS = {
    "none": "",
    "app Exception handler": """
    @app.errorhandler(Exception)
    def anything(error):
        return {"failed": type(error).__name__}, 500
    """,
    "app 500 handler": """
    @app.errorhandler(500)
    def server_error(error):
        return {"server": "sorry"}, 500
    """,
    "app handler for a code 400": """
    @app.errorhandler(400)
    def bad_request(error):
        return {"bad": error.description}, 400
    """,
    "blueprint handler for a base class": """
    @api.errorhandler(ArithmeticError)
    def arithmetic(error):
        return {"arithmetic": str(error)}, 409
    """,
    "app handler for the same class": """
    @app.errorhandler(ValueError)
    def value(error):
        return {"value": str(error)}, 422
    """,
}


@pytest.mark.parametrize("testing", [False, True], ids=["production", "TESTING"])
@pytest.mark.parametrize("config", sorted(HANDLER_CONFIGURATIONS))
def test_only_the_wrapped_sites_change_whatever_handlers_the_app_has(tmp_path, config, testing):
    """The requirement: an exception not raised at a wrapped site keeps exactly its
    outcome (status, body, got_request_exception, propagation under TESTING)."""
    handlers = textwrap.indent(textwrap.dedent(HANDLER_CONFIGURATIONS[config]), "    ")
    source = CONFIGURED_APP.replace("{handlers}", handlers).replace("{{", "{").replace("}}", "}")
    before, after = _versions(tmp_path, source)
    text = Path(after.__file__).read_text()
    outcomes = []
    for module in (before, after):
        module.app.testing = testing
        client = module.app.test_client()
        seen: list[str] = []

        def record(sender, exception, **extra):
            seen.append(type(exception).__name__)

        got_request_exception.connect(record, module.app)
        try:
            answers = {}
            for method, url, kwargs in [
                ("GET", "/api/average", {}),  # ZeroDivisionError from server state
                ("GET", "/api/average?bug=value", {}),  # ValueError from server code
                ("POST", "/api/form", {"data": {}}),  # werkzeug's BadRequestKeyError
                ("GET", "/api/ratio?b=5", {}),
                ("GET", "/api/nowhere", {}),
            ]:
                try:
                    answers[url] = _answer(client, method, url, **kwargs)
                except Exception as exc:  # propagated under TESTING
                    answers[url] = ("raised", type(exc).__name__)
            outcomes.append((answers, list(seen)))
            sites = {}
            for url in ("/api/ratio?b=0", "/api/ratio?b=x"):
                try:
                    resp = client.get(url)
                    sites[url] = (resp.status_code, resp.get_json())
                except Exception as exc:
                    sites[url] = ("raised", type(exc).__name__)
            if module is after:
                after_sites, after_seen = sites, list(seen)
            else:
                before_sites = sites
        finally:
            got_request_exception.disconnect(record, module.app)
    assert outcomes[0] == outcomes[1], "an exception that was not raised at a wrapped site changed its outcome"
    # the app's own 400 handler answers the client-input classes (BadRequest subclasses):
    # flaskfix adds no handler there, and the body is the app's
    key = "bad" if config == "app handler for a code 400" else "error"
    if config == "app handler for the same class":
        assert after_sites["/api/ratio?b=x"] == before_sites["/api/ratio?b=x"]  # the app answers ValueError itself
        assert "except ValueError" not in text
    else:
        assert after_sites["/api/ratio?b=x"] == (400, {key: VALUE})
    if config == "blueprint handler for a base class":
        assert after_sites["/api/ratio?b=0"] == before_sites["/api/ratio?b=0"]  # ArithmeticError's own answer
        assert "except ZeroDivisionError" not in text
    else:
        assert after_sites["/api/ratio?b=0"] == (400, {key: DIVISION})
    assert outcomes[1][1] == after_seen, "a wrapped site reached got_request_exception"


def test_a_helper_reached_by_a_view_whose_blueprint_answers_the_class_is_left_alone(tmp_path):
    """The fixture helper-reached-by-handled-view, executed: wrapping `per_head()` would
    hand the blueprint's ArithmeticError handler a ClientZeroDivisionError (a different
    text), so the helper keeps raising ZeroDivisionError; the conversions are fixed."""
    source = (Path(__file__).parents[1] / "fixtures/error-handler/helper-reached-by-handled-view/input.py").read_text()
    before, after = _versions(tmp_path, source)
    b, a = before.app.test_client(), after.app.test_client()
    for url in ["/stats/share?people=0", "/share?people=0", "/share?people=4", "/stats/share?people=4"]:
        assert _answer(a, "GET", url) == _answer(b, "GET", url), url
    assert b.get("/stats/share?people=0").get_json() == {"error": "division by zero"}
    for url in ["/share?people=x", "/stats/share?people=x"]:
        assert b.get(url).status_code == 500
        assert (a.get(url).status_code, a.get(url).get_json()) == (400, {"error": VALUE})


OWN_400_PAGE = """
    from flask import Blueprint, Flask, request

    app = Flask(__name__)
    api = Blueprint("api", __name__)


    def handle_bad_request(error):
        return f"<h1>Bad request</h1><p>{error.description}</p>", 400


    app.register_error_handler(400, handle_bad_request)


    @api.route("/split")
    def split():
        total = int(request.args.get("total", "0"))
        return {"each": total}


    @app.route("/echo", methods=["POST"])
    def echo():
        return {"name": request.get_json()["name"]}


    app.register_blueprint(api, url_prefix="/api")
"""


def test_the_projects_own_400_page_answers_the_client_input(tmp_path):
    """An app with its own 400 handler: flaskfix adds the client-input classes and the
    try/except, and no handler of its own, so bad input gets the project's 400 page (in the
    app and in a blueprint), like every other 400 of the app."""
    result = run_codemod("error-handler", textwrap.dedent(OWN_400_PAGE).lstrip("\n"))
    assert "errorhandler(ClientInputError)" not in result.new_text and "def handle_client_input_error" not in result.new_text
    assert all("answered 400 by the project's own handler for 400, `handle_bad_request()`" in c.message for c in result.changes)
    before, after = _versions(tmp_path, OWN_400_PAGE)
    b, a = before.app.test_client(), after.app.test_client()
    assert b.get("/api/split?total=x").status_code == 500
    assert _answer(a, "GET", "/api/split?total=x") == (400, f"<h1>Bad request</h1><p>{VALUE}</p>".encode(), None)
    assert b.post("/echo", json={}).status_code == 500
    assert _answer(a, "POST", "/echo", json={}) == (400, f"<h1>Bad request</h1><p>{KEY}</p>".encode(), None)
    for client in (a, b):  # good input, and the app's other 400s, as before
        assert client.get("/api/split?total=4").get_json() == {"each": 4}
        assert client.post("/echo", data="not json", content_type="application/json").status_code == 400


def test_a_helper_of_another_module_dividing_by_a_request_value_answers_400_at_the_call(tmp_path):
    """tests/fixtures/projects/error-handler-helper-in-other-module: `unit_price(total,
    quantity=parts)` divides in shop/helpers.py by what the view read from the request; the
    view's statement gets the fix, so parts=0 answers 400. A helper given a configuration
    zero, or one that also calls code flaskfix cannot see, keeps its 500."""
    import shutil

    from flaskfix.codemods.engine.run import execute, plan

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "error-handler-helper-in-other-module"
    before_root, after_root = tmp_path / "before", tmp_path / "after"
    shutil.copytree(fixture / "before", before_root)
    shutil.copytree(fixture / "before", after_root)
    for r in execute(plan([str(after_root)]), jobs=1, use_cache=False):
        if r.changed:
            Path(r.path).write_text(r.new_text or "", encoding="utf-8")

    def client(root: Path):  # type: ignore[no-untyped-def]
        from tests.behaviour.shop import fresh_package

        with fresh_package(root, "shop") as shop:
            app = shop.create_app()
        app.testing = False  # exceptions answer 500, as in production
        return app.test_client()

    old, new = client(before_root), client(after_root)
    for url, before_status, after_status in [
        ("/unit?total=10&parts=4", 200, 200), ("/unit?total=10&parts=0", 500, 400), ("/unit?total=x", 500, 400),
        ("/share?people=3", 200, 200), ("/share?people=0", 500, 400),
        ("/batch", 500, 500),  # the configuration's zero: a server bug, still a 500
        ("/noisy?parts=0", 500, 500),  # refused: noisy() also calls random.random()
    ]:
        a, b = old.get(url), new.get(url)
        assert (a.status_code, b.status_code) == (before_status, after_status), url
        if before_status == 200:
            assert a.get_json() == b.get_json()


def test_int_of_each_json_list_element_answers_400(tmp_path):
    """``[int(x) for x in payload["ids"]]``: each element is what the client sent ("x",
    null, a list...): a ValueError or TypeError there is the client's, answered 400; a
    well-formed body answers the same as before."""
    source = (Path(__file__).resolve().parents[1] / "fixtures" / "error-handler" / "json-list-elements-converted"
              / "input.py").read_text()
    before, after = _versions(tmp_path, source)
    old, new = before.app.test_client(), after.app.test_client()
    for body, after_status in [({"ids": ["1", 2, " 3 "]}, 200), ({"ids": []}, 200), ({"ids": ["x"]}, 400),
                               ({"ids": [None]}, 400), ({"ids": [[1]]}, 400), ({"ids": 5}, 400), ({}, 400), ([1], 400)]:
        a, b = old.post("/lines", json=body), new.post("/lines", json=body)
        assert (a.status_code, b.status_code) == (200 if after_status == 200 else 500, after_status), body
        if after_status == 200:
            assert a.get_json() == b.get_json()
    assert old.get("/server").get_json() == new.get("/server").get_json() == [1, 2]
    # total += int(value): total only ever holds numbers, so only int() can raise
    for values, after_status in [(["1", 2], 200), ([], 200), (["x"], 400), ([None], 400), ([[1]], 400)]:
        a, b = old.post("/each", json={"values": values}), new.post("/each", json={"values": values})
        assert (a.status_code, b.status_code) == (200 if after_status == 200 else 500, after_status), values
        if after_status == 200:
            assert a.get_json() == b.get_json()
    # the loop header's subscript stays unhandled (a finding): a missing "values" is still a 500
    assert (old.post("/each", json={}).status_code, new.post("/each", json={}).status_code) == (500, 500)


def test_list_append_and_running_total_answer_400(tmp_path):
    """``audit.append(request.get_json()["event"])`` (a module list, or global-to-g's
    ``g.setdefault("<module>.<name>", [])``) and ``total += int(raw)`` (``total`` a local
    that only ever holds numbers): the append and the ``+=`` cannot raise, so a bad body or
    number answers 400; the neighbours flaskfix cannot prove stay as they were."""
    source = (Path(__file__).resolve().parents[1] / "fixtures" / "error-handler" / "list-append-and-running-total"
              / "input.py").read_text()
    before, after = _versions(tmp_path, source)
    old, new = before.app.test_client(), after.app.test_client()
    for url, body, after_status in [
        ("/audit", {"event": "e1"}, 200), ("/audit", {}, 400), ("/audit", [1], 400), ("/audit", "text", 400),
        ("/scratch", {"event": "e2"}, 200), ("/scratch", {"other": 1}, 400), ("/scratch", 3, 400),
        ("/unknown-list", {}, 500),  # refused: sink() is not known to return a list
        ("/foreign-key", {}, 500),  # refused: a key without a dot
    ]:
        a, b = old.post(url, json=body), new.post(url, json=body)
        assert (a.status_code, b.status_code) == (200 if after_status == 200 else 500, after_status), (url, body)
        if after_status == 200:
            assert a.get_json() == b.get_json()
    for url, after_status in [("/sum?n=1&n=2&n=-3", 200), ("/sum", 200), ("/sum?n=1&n=two", 400),
                              ("/start-from-request?step=2", 500),  # str + int: a TypeError, the server's bug, stays 500
                              ("/start-from-request?step=x", 400)]:
        a, b = old.get(url), new.get(url)
        assert (a.status_code, b.status_code) == (200 if after_status == 200 else 500, after_status), url
        if after_status == 200:
            assert a.get_json() == b.get_json()


def test_url_segment_into_a_helper_and_raw_json_body_answer_400(tmp_path):
    """A URL segment passed to a helper that divides by it (every caller passes the
    client's value), and ``json.loads()`` of the raw body and a key read out of it: the
    client's mistakes answer 400; a helper that a server-side caller also feeds stays 500."""
    source = (Path(__file__).resolve().parents[1] / "fixtures" / "error-handler" / "url-segment-helper-and-raw-json"
              / "input.py").read_text()
    before, after = _versions(tmp_path, source)
    old, new = before.app.test_client(), after.app.test_client()
    for url, after_status in [("/split/4", 200), ("/split/0", 400), ("/ratio/2", 200), ("/ratio/0", 500)]:
        a, b = old.get(url), new.get(url)
        assert (a.status_code, b.status_code) == (200 if after_status == 200 else 500, after_status), url
        if after_status == 200:
            assert a.get_json() == b.get_json()
    for data, after_status in [('{"qty": 3}', 200), ("not json", 400), ("{}", 400), ("[1, 2]", 400), ('"text"', 400),
                               ("", 400)]:
        a, b = old.post("/loads", data=data), new.post("/loads", data=data)
        assert (a.status_code, b.status_code) == (200 if after_status == 200 else 500, after_status), data
        if after_status == 200:
            assert a.get_json() == b.get_json()
