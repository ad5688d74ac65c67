"""Files that are not the project's code: virtual environments however they are named,
and files too large to read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flaskfix.codemods.engine.discovery import discover
from flaskfix.codemods.engine.source import SourceError, read_source

APP = "from flask import Flask\napp = Flask(__name__)\nscratch = []\n\n\n@app.route('/')\ndef index():\n    scratch.append(1)\n    return 'ok'\n"


def flaskfix(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flaskfix", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "NO_COLOR": "1"})


def committed_virtualenv(root: Path, name: str) -> None:
    """What a virtualenv looks like once committed without pyvenv.cfg (symlinks broken)."""
    lib = root / name / "lib" / "python3.7"
    (lib / "site-packages" / "flask").mkdir(parents=True)
    (lib / "site-packages" / "flask" / "app.py").write_text(APP)
    for i in range(5):
        (lib / f"mod{i}.py").symlink_to(f"/nonexistent/python3.7/mod{i}.py")
    (root / name / "bin").mkdir()
    (root / name / "bin" / "activate").write_text("# activate\n")


@pytest.mark.parametrize("layout", ["full", "lib-only", "bin-only"])
def test_virtualenvs_are_recognised_by_shape(tmp_path: Path, layout: str) -> None:
    committed_virtualenv(tmp_path, "env")
    if layout == "lib-only":
        (tmp_path / "env" / "bin" / "activate").unlink()
    if layout == "bin-only":
        import shutil

        shutil.rmtree(tmp_path / "env" / "lib")
        (tmp_path / "env" / "lib" / "x.py").parent.mkdir(parents=True)
        (tmp_path / "env" / "lib" / "x.py").symlink_to("/nonexistent/x.py")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "pyproject.toml").write_text("")
    found = discover([str(tmp_path)], tmp_path, [])
    assert [Path(d.path).name for d in found] == ["app.py"], found
    out = flaskfix(tmp_path, "diff", "--exit-zero", ".")
    assert out.returncode == 0, out.stderr
    assert "broken symlink" not in out.stderr


def test_a_folder_named_lib_or_bin_of_the_project_is_walked(tmp_path: Path) -> None:
    """The near neighbour: a project's own lib/ and bin/ hold code."""
    (tmp_path / "lib" / "helpers").mkdir(parents=True)
    (tmp_path / "lib" / "helpers" / "views.py").write_text(APP)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "serve.py").write_text(APP)
    found = sorted(Path(d.path).as_posix() for d in discover([str(tmp_path)], tmp_path, []))
    assert [p.split(str(tmp_path.as_posix()) + "/")[-1] for p in found] == ["bin/serve.py", "lib/helpers/views.py"]


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "generated.py"
    with open(huge, "wb") as fh:  # 8 GB, sparse: reading it would take the machine's memory
        fh.truncate(8 * 1024**3)
    with pytest.raises(SourceError, match=r"too large to read \(8589\.9 MB; the limit is 2 MB"):
        read_source(str(huge), 2_000_000)


def test_a_large_file_is_one_error_line_and_the_rest_is_processed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.flaskfix]\nmax-file-size = 1000000\n")
    (tmp_path / "big.py").write_text("x = 1\n" * 300_000)  # 1.8 MB, no candidate
    (tmp_path / "app.py").write_text(APP)
    out = flaskfix(tmp_path, "diff", ".")
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if "big.py" in line]
    assert errors == ["big.py: error: too large to read (1.8 MB; the limit is 1 MB: raise [tool.flaskfix] "
                      "max-file-size, or exclude the file)"]
    assert "+++ b/app.py" in out.stdout
