"""Start-up cost of the flaskfix command (what pre-commit hooks and cached re-runs pay).

    python bench/startup.py [--runs 15]

Runs each command as a new process (the installed ``flaskfix`` next to this Python) and
prints the median and the best wall time, and each as a multiple of a bare ``python -c
pass`` (the interpreter's own start-up, which no command can go below).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(cmd: list[str], cwd: str, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("flaskfix", path=str(Path(sys.executable).parent)) or "flaskfix"
    env_note = "" if os.environ.get("PYTHONDONTWRITEBYTECODE") != "1" else " (PYTHONDONTWRITEBYTECODE=1: unset it, or every run compiles)"
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "pyproject.toml").write_text("")
        Path(tmp, "plain.py").write_text("def add(a, b):\n    return a + b\n")
        os.environ["FLASKFIX_CACHE_DIR"] = str(Path(tmp, "cache"))
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("flaskfix --version", [exe, "--version"]),
            ("flaskfix list", [exe, "list"]),
            ("flaskfix --help", [exe, "--help"]),
            ("flaskfix diff plain.py (no candidate)", [exe, "diff", "plain.py"]),
            ("flaskfix diff --no-cache plain.py", [exe, "diff", "--no-cache", "plain.py"]),
        ]
        print(f"{exe}; {args.runs} runs each{env_note}\n")
        print("| command | median s | best s | x python |")
        print("|---|---:|---:|---:|")
        base = None
        for label, cmd in rows:
            med, best = measure(cmd, tmp, args.runs)
            base = base or med
            print(f"| {label} | {med:.3f} | {best:.3f} | {med / base:.1f} |")


if __name__ == "__main__":
    main()
