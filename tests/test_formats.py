"""``flaskfix diff --format json|sarif|github`` (``cli/formats.py``) on real engine results.

The project: a global-to-g rewrite (``app.py``), the same rewrite in a file with CRLF
newlines and no final newline (``crlf.py``), a refused site that is reported as a finding
(``cache, v2:x.py``, a name that needs escaping), a syntax error (``broken.py``) and an
untouched file (``clean.py``). The SARIF log is validated against the OASIS SARIF 2.1.0
schema shipped in ``tests/data``, and its fixes are applied by an independent applier
written here, which must reproduce flaskfix's rewrite exactly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flaskfix import codemods as registry
from flaskfix.cli.formats import render, replacements
from flaskfix.codemods.base import Change, Finding
from flaskfix.codemods.engine.pipeline import FileResult
from flaskfix.codemods.engine.run import Summary, execute, plan

FIXTURES = Path(__file__).parent / "fixtures" / "global-to-g"
SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

ARTICLE = (FIXTURES / "article" / "input.py").read_text()
ARTICLE_FIXED = (FIXTURES / "article" / "expected.py").read_text()
READ_BEFORE_WRITE = (FIXTURES / "noop_read_before_write" / "input.py").read_text()
BROKEN = "def f(:\n    pass\n"
CLEAN = "from flask import Flask\n\napp = Flask(__name__)\n"
# another container and g name than app.py's (the same ones would make global-to-g namespace them)
CRLF = (
    'from flask import Flask\r\n\r\napp = Flask(__name__)\r\nmemo = {}\r\n\r\n\r\n@app.route("/other")\r\n'
    'def store_other():\r\n    memo["other"] = {"key": "value"}\r\n    return "Stored!"'
)
CRLF_FIXED = (
    'from flask import Flask, g\r\n\r\napp = Flask(__name__)\r\n\r\n\r\n@app.route("/other")\r\n'
    'def store_other():\r\n    g.other = {"key": "value"}\r\n    return "Stored!"'
)
ODD = "cache, v2:x.py"

CHANGE_MSG = "moved module-level `cache` to per-request storage on flask.g (g.data)"
CRLF_MSG = "moved module-level `memo` to per-request storage on flask.g (g.other)"
FINDING_MSG = (
    "`RESULTS` not moved to flask.g: `square()` reads the whole container, which holds what earlier"
    " requests stored; moving it to g would change the response. If it is meant as a cache, bound it"
    " (functools.lru_cache, cachetools.TTLCache or Flask-Caching)"
)
SYNTAX_MSG = (
    "syntax error at line 1: invalid syntax "
    f"(read as Python {sys.version_info[0]}.{sys.version_info[1]}, the Python running flaskfix)"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[FileResult], Summary, list, Path]:
    root = tmp_path_factory.mktemp("formats")
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (root / "app.py").write_text(ARTICLE)
    (root / "crlf.py").write_bytes(CRLF.encode())
    (root / ODD).write_text(READ_BEFORE_WRITE)
    (root / "broken.py").write_text(BROKEN)
    (root / "clean.py").write_text(CLEAN)
    p = plan([str(root)], select=["global-to-g"])
    summary = Summary()
    results = []
    for r in execute(p, jobs=1, use_cache=False):
        summary.add(r)
        results.append(r)
    return results, summary.finish(), p.codemods, root


def test_the_engine_did_what_the_tests_rely_on(run) -> None:
    results, summary, codemods, _ = run
    by_name = {Path(r.path).name: r for r in results}
    assert [Path(r.path).name for r in results] == ["app.py", "broken.py", ODD, "clean.py", "crlf.py"]
    assert by_name["app.py"].new_text == ARTICLE_FIXED
    assert by_name["crlf.py"].new_text == CRLF_FIXED
    assert not by_name[ODD].changed and not by_name["clean.py"].changed
    assert [c.ID for c in codemods] == ["global-to-g"]
    assert (summary.files, summary.changed_files, summary.failed) == (5, 2, 1)


# -- json ------------------------------------------------------------------------------


def test_json(run) -> None:
    results, summary, codemods, _ = run
    text = render("json", results, summary, codemods, "9.8.7")
    assert text.endswith("}\n")
    doc = json.loads(text)
    assert list(doc) == ["schema_version", "version", "files", "summary"] and doc["schema_version"] == 1
    assert doc["version"] == "9.8.7"
    files = doc["files"]
    assert [f["path"] for f in files] == ["app.py", "broken.py", ODD, "crlf.py"]  # clean.py has nothing to say
    for f in files:
        assert list(f) == ["path", "changes", "findings", "error", "patch"]
    app, broken, odd, crlf = files
    assert app["changes"] == [{"codemod": "global-to-g", "line": 4, "message": CHANGE_MSG, "role": "site"}]
    assert app["findings"] == [] and app["error"] is None
    assert app["patch"] == results[0].diff()
    assert app["patch"].startswith("--- a/app.py\n+++ b/app.py\n@@ ")
    assert "+    g.data = data  # kept for the rest of the request\n" in app["patch"]
    assert broken == {"path": "broken.py", "changes": [], "findings": [], "error": SYNTAX_MSG, "patch": None}
    assert odd == {
        "path": ODD,
        "changes": [],
        "findings": [{"codemod": "global-to-g", "line": 14, "message": FINDING_MSG}],
        "error": None,
        "patch": None,
    }
    assert crlf["changes"] == [{"codemod": "global-to-g", "line": 4, "message": CRLF_MSG, "role": "site"}]
    assert crlf["patch"].endswith("\\ No newline at end of file\n")
    s = doc["summary"]
    assert list(s) == [
        "files",
        "changed_files",
        "changes",
        "supporting_edits",
        "findings",
        "failed",
        "prefiltered_out",
        "libcst_parsed",
        "seconds",
        "codemods",
        "new_requirements",
    ]
    assert {k: v for k, v in s.items() if k != "seconds"} == {
        "files": 5,
        "changed_files": 2,
        "changes": 2,
        "supporting_edits": 0,
        "new_requirements": [],
        "findings": 1,
        "failed": 1,
        "prefiltered_out": 1,
        "libcst_parsed": 2,  # the two files that get an edit
        "codemods": {"global-to-g": {"changes": 2, "findings": 1}},
    }
    assert isinstance(s["seconds"], float) and s["seconds"] >= 0


def test_json_lists_every_selected_codemod_in_run_order(run) -> None:
    results, summary, _, _ = run
    everything = registry.all_codemods()
    doc = json.loads(render("json", results, summary, everything, "1"))
    assert list(doc["summary"]["codemods"]) == [c.ID for c in everything]
    assert doc["summary"]["codemods"]["cache-route"] == {"changes": 0, "findings": 0}


def test_json_of_a_clean_run_is_an_empty_file_list(run) -> None:
    results, _, codemods, _ = run
    clean = [r for r in results if r.path.endswith("clean.py")]
    summary = Summary()
    summary.add(clean[0])
    doc = json.loads(render("json", clean, summary.finish(), codemods, "1"))
    assert doc["files"] == []
    assert doc["summary"]["files"] == 1 and doc["summary"]["changes"] == 0


# -- sarif -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif(run) -> dict:
    results, summary, codemods, _ = run
    return json.loads(render("sarif", results, summary, codemods, "9.8.7", findings=True))


def test_sarif_validates_against_the_published_schema(sarif) -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(sarif)


def test_the_schema_check_can_fail(sarif) -> None:
    """The validation above is not vacuous: the same log with one wrong field fails."""
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(sarif))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(broken)
    broken = json.loads(json.dumps(sarif))
    del broken["runs"][0]["results"][0]["fixes"][0]["artifactChanges"][0]["replacements"][0]["deletedRegion"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(broken)


def test_sarif_rules_come_from_the_codemod_classes(run) -> None:
    results, summary, _, _ = run
    everything = registry.all_codemods()
    doc = json.loads(render("sarif", results, summary, everything, "9.8.7"))
    driver = doc["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"], driver["semanticVersion"]) == ("flaskfix", "9.8.7", "9.8.7")
    assert [r["id"] for r in driver["rules"]] == [c.ID for c in everything]
    for rule, cm in zip(driver["rules"], everything):
        assert rule["name"] == cm.ID
        assert rule["shortDescription"]["text"] == cm.SUMMARY
        assert " ".join(rule["fullDescription"]["text"].split()) == " ".join(cm.WHY.split())
        help_text = rule["help"]["text"]
        assert " ".join(cm.BEHAVIOUR.split()) in " ".join(help_text.split())
        for refusal in cm.REFUSES:
            assert f"\n- {refusal}" in help_text
            assert f"\n- {refusal}" in rule["help"]["markdown"]
    g2g = registry.get("global-to-g")
    assert doc["runs"][0]["results"][0]["ruleIndex"] == everything.index(g2g)


def test_sarif_results_and_notifications(sarif) -> None:
    run = sarif["runs"][0]
    assert sarif["version"] == "2.1.0"
    assert run["columnKind"] == "unicodeCodePoints"
    summary = [
        (
            r["ruleId"],
            r["ruleIndex"],
            r["level"],
            r["message"]["text"],
            r["locations"][0]["physicalLocation"]["artifactLocation"],
            r["locations"][0]["physicalLocation"]["region"],
            len(r.get("fixes", [])),
        )
        for r in run["results"]
    ]
    assert summary == [
        ("global-to-g", 0, "warning", CHANGE_MSG, {"uri": "app.py", "uriBaseId": "%SRCROOT%"}, {"startLine": 4}, 1),
        (
            "global-to-g",
            0,
            "note",
            FINDING_MSG,
            {"uri": "cache%2C%20v2%3Ax.py", "uriBaseId": "%SRCROOT%"},
            {"startLine": 14},
            0,
        ),
        ("global-to-g", 0, "warning", CRLF_MSG, {"uri": "crlf.py", "uriBaseId": "%SRCROOT%"}, {"startLine": 4}, 1),
    ]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"] == [
        {
            "level": "error",
            "message": {"text": f"broken.py: {SYNTAX_MSG}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "broken.py", "uriBaseId": "%SRCROOT%"}}}],
        }
    ]


def test_sarif_fixes_reproduce_the_rewrite(run, sarif) -> None:
    results, _, _, root = run
    fixed = [r for r in sarif["runs"][0]["results"] if r.get("fixes")]
    assert len(fixed) == 2
    for result in fixed:
        (fix,) = result["fixes"]
        (change,) = fix["artifactChanges"]
        assert change["artifactLocation"] == result["locations"][0]["physicalLocation"]["artifactLocation"]
        path = root / change["artifactLocation"]["uri"]
        original = path.read_bytes().decode()
        (r,) = [r for r in results if Path(r.path) == path]
        assert apply_replacements(original, change["replacements"]) == r.new_text
    app = fixed[0]["fixes"][0]["artifactChanges"][0]["replacements"]
    assert app == [  # one replacement per changed block: the import, the removed global, the write
        {
            "deletedRegion": {"startLine": 1, "startColumn": 1, "endLine": 2, "endColumn": 1},
            "insertedContent": {"text": "from flask import Flask, g\n"},
        },
        {
            "deletedRegion": {"startLine": 4, "startColumn": 1, "endLine": 5, "endColumn": 1},
            "insertedContent": {"text": ""},
        },
        {
            "deletedRegion": {"startLine": 10, "startColumn": 1, "endLine": 11, "endColumn": 1},
            "insertedContent": {"text": "    g.data = data  # kept for the rest of the request\n"},
        },
    ]


def test_sarif_without_errors_is_a_successful_execution(run) -> None:
    results, _, codemods, _ = run
    ok = [r for r in results if r.error is None]
    summary = Summary()
    for r in ok:
        summary.add(r)
    doc = json.loads(render("sarif", ok, summary.finish(), codemods, "1"))
    assert doc["runs"][0]["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]


def apply_replacements(text: str, reps: list[dict]) -> str:
    """An independent SARIF consumer: resolve each ``deletedRegion`` (line/column, 1-based,
    end exclusive, newline sequences ``\\r\\n`` and ``\\n``, columns in code points) to
    offsets in ``text``, check the regions are in order and disjoint, then splice."""
    starts = [0]
    i = 0
    while True:
        j = text.find("\n", i)
        if j < 0:
            break
        starts.append(j + 1)
        i = j + 1
    line_ends = starts[1:] + [len(text)]  # one past the newline (or the end of the text)
    if starts[-1] == len(text) and len(starts) > 1:  # text ends with a newline: no empty last line
        starts.pop()
        line_ends.pop()

    def offset(line: int, column: int) -> int:
        assert 1 <= line <= len(starts), line
        start = starts[line - 1]
        assert 1 <= column <= line_ends[line - 1] - start + 1, (line, column)
        return start + column - 1

    spans = []
    for rep in reps:
        region = rep["deletedRegion"]
        begin = offset(region["startLine"], region.get("startColumn", 1))
        end = offset(region.get("endLine", region["startLine"]), region["endColumn"])
        assert begin <= end
        spans.append((begin, end, rep["insertedContent"]["text"]))
    for (_, end, _), (begin, _, _) in zip(spans, spans[1:]):
        assert end <= begin, "replacements overlap or are out of order"
    for begin, end, inserted in reversed(spans):
        text = text[:begin] + inserted + text[end:]
    return text


_line = st.text(alphabet="ab\u00e9\U0001f600 \t", max_size=4)
_ending = st.sampled_from(["\n", "\r\n"])
_lines = st.lists(st.tuples(_line, _ending), max_size=8)


def _text_of(lines: list[tuple[str, str]], final_newline: bool) -> str:
    text = "".join(body + end for body, end in lines)
    if lines and not final_newline:
        text = text[: -len(lines[-1][1])]
    return text


@settings(max_examples=400, deadline=None)
@given(_lines, st.booleans(), _lines, st.booleans())
def test_replacements_turn_any_text_into_any_other(old_lines, old_eol, new_lines, new_eol) -> None:
    old, new = _text_of(old_lines, old_eol), _text_of(new_lines, new_eol)
    reps = replacements(old, new)
    assert apply_replacements(old, reps) == new
    assert (reps == []) == (old == new)


# -- github ----------------------------------------------------------------------------


def test_github(run) -> None:
    results, summary, codemods, _ = run
    assert render("github", results, summary, codemods, "1") == (
        f"::warning file=app.py,line=4,title=flaskfix global-to-g::would fix: {CHANGE_MSG}\n"
        f"::error file=broken.py::{SYNTAX_MSG}\n"
        f"::notice file=cache%2C v2%3Ax.py,line=14,title=flaskfix global-to-g::not fixed: {FINDING_MSG}\n"
        f"::warning file=crlf.py,line=4,title=flaskfix global-to-g::would fix: {CRLF_MSG}\n"
    )


def test_github_escapes_messages_and_properties() -> None:
    r = FileResult(
        "a:b,c%d.py",
        changes=[Change(3, "x-y", "50% done\r\nnext: a, b")],
        findings=[Finding(0, "x-y", "no line known")],
        error="bad\nthing: 100%",
    )
    assert render("github", [r], Summary(), [], "1") == (
        "::error file=a%3Ab%2Cc%25d.py::bad%0Athing: 100%25\n"
        "::warning file=a%3Ab%2Cc%25d.py,line=3,title=flaskfix x-y::would fix: 50%25 done%0D%0Anext: a, b\n"
        "::notice file=a%3Ab%2Cc%25d.py,title=flaskfix x-y::not fixed: no line known\n"
    )


def test_unknown_format_is_refused(run) -> None:
    results, summary, codemods, _ = run
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        render("xml", results, summary, codemods, "1")


def test_sarif_edge_locations_stay_valid() -> None:
    """A file outside the project gets an absolute file URI; a line the codemod could not
    tell (0) gets no region rather than an invalid one."""
    r = FileResult("/elsewhere/my app.py", findings=[Finding(0, "global-to-g", "no line known")])
    codemods = [registry.get("global-to-g")]
    doc = json.loads(render("sarif", [r], Summary(), codemods, "1", findings=True))
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(doc)
    (result,) = doc["runs"][0]["results"]
    assert result["locations"] == [{"physicalLocation": {"artifactLocation": {"uri": "file:///elsewhere/my%20app.py"}}}]


def test_a_change_that_spans_files_in_every_format(tmp_path: Path) -> None:
    """A cached view whose Flask-Caching line goes into requirements.txt: json says which
    file needs which, the SARIF fix carries both files, github adds a notice for the line."""
    (tmp_path / "requirements.txt").write_text("flask>=3\n")
    (tmp_path / "pyproject.toml").write_text('[tool.flaskfix]\nselect = ["cache-route"]\n')
    (tmp_path / "app.py").write_text(registry.get("cache-route").EXAMPLE_BEFORE)
    p = plan([str(tmp_path)])
    summary = Summary()
    results = []
    for r in execute(p, jobs=1, use_cache=False):
        summary.add(r)
        results.append(r)
    summary.finish()
    assert summary.files == 1 and summary.changed_files == 2
    doc = json.loads(render("json", results, summary, p.codemods, "0"))
    app, manifest = doc["files"]
    assert app["needs"] == ["requirements.txt"] and manifest["supports"] == ["app.py"]
    assert manifest["changes"] == [] and "+Flask-Caching>=2.0" in manifest["patch"]
    log = json.loads(render("sarif", results, summary, p.codemods, "0"))
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    fixes = [res["fixes"][0] for res in log["runs"][0]["results"] if "fixes" in res]
    assert fixes and all([c["artifactLocation"]["uri"] for c in f["artifactChanges"]] == ["app.py", "requirements.txt"]
                         for f in fixes)
    assert "with the requirement it needs in requirements.txt" in fixes[0]["description"]["text"]
    github = render("github", results, summary, p.codemods, "0")
    assert ("::notice file=requirements.txt,title=flaskfix requirement::adds Flask-Caching>=2.0, needed by the changes in "
            in github)


# -- the documented JSON schema; SARIF results per site, tracked across runs -----------------

JSON_SCHEMA = Path(__file__).parent.parent / "cli" / "json-schema.json"


def _schema_validator():  # type: ignore[no-untyped-def]
    schema = json.loads(JSON_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_json_validates_against_its_documented_schema(run) -> None:
    results, summary, codemods, _ = run
    doc = json.loads(render("json", results, summary, codemods, "9.8.7"))
    _schema_validator().validate(doc)
    # not vacuous: a removed field, an unknown one, a wrong role each fail
    for breaks in (lambda d: d["summary"].pop("changes"), lambda d: d.update(extra=1),
                   lambda d: d["files"][0]["changes"][0].update(role="helper")):
        broken = json.loads(json.dumps(doc))
        breaks(broken)
        with pytest.raises(jsonschema.ValidationError):
            _schema_validator().validate(broken)


SHOP = Path(__file__).parent.parent / "examples" / "shop"


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> tuple[list[FileResult], Summary, list]:
    """The bundled example: every codemod, with supporting edits (a Redis client, a Cache)."""
    import shutil

    root = tmp_path_factory.mktemp("shop") / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = root / "pyproject.toml"  # without the two packages the fixes bring: the changes add them
    manifest.write_text(manifest.read_text().replace('"flask-caching", "redis"', ""))
    p = plan([str(root)])
    summary, results = Summary(), []
    for r in execute(p, jobs=1, use_cache=False):
        summary.add(r)
        results.append(r)
    return results, summary.finish(), p.codemods


def test_counts_count_sites_not_supporting_edits(shop) -> None:
    results, summary, codemods = shop
    app = next(r for r in results if r.path.endswith("app.py"))
    sites = [c for c in app.changes if c.role == "site"]
    support = [c for c in app.changes if c.role == "support"]
    assert support, "the example's fixes need supporting edits (a Redis client, a Cache)"
    # error-handler: two conversions and a division; bulk-query: getlist ids; eager-load: a lookup
    # by the row's foreign key read through its relationship, and a lazy collection
    assert summary.total_changes == len(sites) == 9
    assert dict(summary.changes) == {"global-to-g": 1, "redis-counter": 1, "eager-load": 2, "bulk-query": 1,
                                     "error-handler": 3, "cache-route": 1}
    assert sum(summary.supporting.values()) == len(support)
    doc = json.loads(render("json", results, summary, codemods, "0"))
    _schema_validator().validate(doc)
    assert doc["summary"]["changes"] == 9 and doc["summary"]["supporting_edits"] == len(support)
    # what the rewritten app needs that it did not have, stated plainly
    needs = doc["summary"]["new_requirements"]
    assert any(n.startswith("`redis>=") and "(added to pyproject.toml)" in n for n in needs), needs
    assert any(n.startswith("`Flask-Caching>=") for n in needs), needs
    assert any("Redis server" in n and "REDIS_URL" in n for n in needs), needs


def test_sarif_one_result_per_site_one_fix_per_file(shop) -> None:
    results, summary, codemods = shop
    log = json.loads(render("sarif", results, summary, codemods, "0"))
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    out = log["runs"][0]["results"]
    app = next(r for r in results if r.path.endswith("app.py"))
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in out] == [
        (c.codemod, c.line) for c in app.changes if c.role == "site"]
    assert all(r["level"] == "warning" for r in out)  # refusals only with --findings
    assert [bool(r.get("fixes")) for r in out] == [True] + [False] * (len(out) - 1)
    first = out[0]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert all(f"is on the result at line {first}" in r["message"]["text"] for r in out[1:])
    # the supporting edits ride with their site's result: the Redis client with the INCR
    incr = next(r for r in out if r["ruleId"] == "redis-counter")
    assert "with it: added a module-level Redis client" in incr["message"]["text"]
    prints = [r["partialFingerprints"]["flaskfixSite/v1"] for r in out]
    assert len(set(prints)) == len(prints)


def test_sarif_fingerprints_survive_lines_moving(tmp_path: Path) -> None:
    """Code scanning matches results across runs by partialFingerprints: lines added above
    the sites keep each site's fingerprint; the finding notes come only with findings=True."""
    body = (FIXTURES / "article" / "input.py").read_text()
    prints = []
    for i, text in enumerate([body, "# a comment\n# another\n" + body]):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "app.py").write_text(text)
        (folder / "pyproject.toml").write_text('[tool.flaskfix]\nselect = ["global-to-g"]\n')
        p = plan([str(folder)])
        results = list(execute(p, jobs=1, use_cache=False))
        log = json.loads(render("sarif", results, Summary(), p.codemods, "0"))
        ((result,),) = [log["runs"][0]["results"]]
        prints.append((result["locations"][0]["physicalLocation"]["region"]["startLine"],
                       result["partialFingerprints"]["flaskfixSite/v1"]))
    (line_a, print_a), (line_b, print_b) = prints
    assert line_b == line_a + 2 and print_a == print_b


def test_sarif_identical_sites_get_distinct_fingerprints() -> None:
    same = [Finding(3, "global-to-g", "`x` not moved: because 7"), Finding(9, "global-to-g", "`x` not moved: because 8")]
    log = json.loads(render("sarif", [FileResult("a.py", findings=same)], Summary(), [registry.get("global-to-g")], "0",
                            findings=True))
    a, b = (r["partialFingerprints"]["flaskfixSite/v1"] for r in log["runs"][0]["results"])
    assert a != b and a.split(":")[0] == b.split(":")[0]  # same key (numbers blanked), occurrences 1 and 2
    assert json.loads(render("sarif", [FileResult("a.py", findings=same)], Summary(), [], "0"))["runs"][0]["results"] == []
