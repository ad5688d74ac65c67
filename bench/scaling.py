"""Does flaskfix's cost grow linearly with the size of a project?

Builds one project out of N copies of a real Flask app (``<tmp>/copy_1/ ... copy_N/``,
each a package, so their modules and handlers do not mix) for N in 1, 2, 4 (``--copies``),
and times ``flaskfix diff --no-cache --jobs 1 --format json --exit-zero .`` on each (the
fastest of ``--repeat`` runs), next to the ``ast.parse`` floor of the same files. Linear
cost keeps "seconds per copy" flat; a cost that grows with the square of the project
(a project-wide question asked per file) doubles it with each doubling.

  python bench/scaling.py APP_DIR                # e.g. a folder of bench/apps.tsv's corpus
  python bench/scaling.py APP_DIR --copies 1,2,4,8 --repeat 3

A measurement, never a test: it prints numbers and exits 0.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build(app: Path, copies: int, into: Path) -> int:
    files = 0
    for i in range(1, copies + 1):
        dest = into / f"copy_{i}"
        shutil.copytree(app, dest, ignore=shutil.ignore_patterns(".git", "__pycache__", "node_modules", "*.pyc"),
                        symlinks=True)
        (dest / "__init__.py").touch()
        files += sum(1 for _ in dest.rglob("*.py"))
    (into / "pyproject.toml").write_text("[tool.flaskfix]\n")
    return files


def floor(root: Path) -> float:
    start = time.perf_counter()
    for path in root.rglob("*.py"):
        try:
            ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            pass
    return time.perf_counter() - start


def run(root: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flaskfix", "diff", "--no-cache", "--jobs", "1", "--format", "json",
                    "--exit-zero", "."], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("app", type=Path)
    ap.add_argument("--copies", default="1,2,4")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"app: {args.app.name}")
    print("| copies | files | ast.parse floor s | flaskfix s | x floor | s per copy |")
    print("|---:|---:|---:|---:|---:|---:|")
    base = None
    for n in [int(x) for x in args.copies.split(",")]:
        with tempfile.TemporaryDirectory(prefix="flaskfix-scale-") as tmp:
            root = Path(tmp)
            files = build(args.app, n, root)
            f = min(floor(root) for _ in range(args.repeat))
            t = min(run(root, env) for _ in range(args.repeat))
            per = t / n
            base = base or per
            print(f"| {n} | {files} | {f:.2f} | {t:.2f} | {t / f:.1f} | {per:.2f} ({per / base:.2f}x the 1-copy cost) |")


if __name__ == "__main__":
    main()
