"""How fast is `flaskfix diff` compared with just parsing the code?

Builds a corpus from what is installed here (the standard library, optionally the
installed site-packages, and generated Flask modules holding every anti-pattern; nothing
is downloaded), then measures, in one run on this machine:

  ast.parse floor       read + stdlib ast.parse of every file, one process
  LibCST parse floor    read + libcst.parse_module of every file, one process
  flaskfix --jobs 1     `flaskfix diff --no-cache --jobs 1` over the corpus
  flaskfix --jobs 2     the same with two worker processes
  cached re-run         `flaskfix diff --jobs 2` a second time, with the result cache
  peak memory           the largest resident set of each flaskfix run

and prints each time with its ratio to the ast.parse floor. Usage:

  python bench/corpus.py                    # stdlib + 300 generated Flask modules
  python bench/corpus.py --site-packages    # also every installed package
  python bench/corpus.py --limit 500        # a quick look

This is a measurement, never a test: it prints numbers and always exits 0.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def build_corpus(dest: Path, site_packages: bool, generated: int, limit: int | None) -> list[Path]:
    sources: list[tuple[Path, Path]] = []
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources += [(p, Path("stdlib") / p.relative_to(stdlib)) for p in sorted(stdlib.rglob("*.py")) if "site-packages" not in p.parts]
    if site_packages:
        purelib = Path(sysconfig.get_paths()["purelib"])
        sources += [(p, Path("packages") / p.relative_to(purelib)) for p in sorted(purelib.rglob("*.py"))]
    if limit:
        step = max(1, len(sources) // limit)
        sources = sources[::step][:limit]
    files = []
    for src, rel in sources:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(src, target)
        except OSError:
            continue
        files.append(target)
    # generated Flask apps: every fixture input of every codemod, with renamed globals
    inputs = sorted(FIXTURES.glob("*/*/input.py"))
    rng = random.Random(7)
    gen = dest / "generated"
    for i in range(generated):
        src = inputs[i % len(inputs)]
        text = src.read_text(encoding="utf-8")
        target = gen / f"app_{i:04d}" / "views.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"# generated from {src.parent.parent.name}/{src.parent.name} (seed {rng.random():.4f})\n" + text)
        files.append(target)
    (dest / "pyproject.toml").write_text("[tool.flaskfix]\n")
    return files


def floor(files: list[Path], parse) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for path in files:
        try:
            parse(path.read_bytes())
        except Exception:
            pass
    return time.perf_counter() - start


def libcst_parse(data: bytes) -> None:
    import libcst

    libcst.parse_module(data)


MEASURE = r"""
import resource, subprocess, sys, time, json
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
elapsed = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_mb": peak_kb / 1024, "rc": proc.returncode}))
"""


def flaskfix(corpus: Path, *args: str, cache_dir: Path) -> dict:
    env = {**os.environ, "FLASKFIX_CACHE_DIR": str(cache_dir), "NO_COLOR": "1"}
    cmd = [sys.executable, "-c", MEASURE, sys.executable, "-m", "flaskfix", "diff", str(corpus), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--site-packages", action="store_true", help="also every installed package")
    ap.add_argument("--generated", type=int, default=300, help="generated Flask modules (default 300)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many library files")
    ap.add_argument("--skip-libcst-floor", action="store_true", help="the LibCST floor takes minutes")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="flaskfix-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        files = build_corpus(corpus, args.site_packages, args.generated, args.limit)
        lines = sum(p.read_bytes().count(b"\n") for p in files)
        mb = sum(p.stat().st_size for p in files) / 1e6
        print(f"corpus: {len(files)} files, {lines:,} lines, {mb:.1f} MB; {os.cpu_count()} cores", flush=True)

        rows: list[tuple[str, float, str]] = []
        ast_s = floor(files, ast.parse)
        rows.append(("ast.parse floor (1 process)", ast_s, ""))
        print(f"  ast.parse floor ... {ast_s:.2f}s", flush=True)
        if not args.skip_libcst_floor:
            cst_s = floor(files, libcst_parse)
            rows.append(("LibCST parse floor (1 process)", cst_s, ""))
            print(f"  LibCST floor ... {cst_s:.2f}s", flush=True)
        cache_dir = Path(tmp) / "cache"
        j1 = flaskfix(corpus, "--no-cache", "--jobs", "1", cache_dir=cache_dir)
        rows.append(("flaskfix diff --jobs 1 --no-cache", j1["seconds"], f"{j1['peak_mb']:.0f} MB peak"))
        j2 = flaskfix(corpus, "--no-cache", "--jobs", "2", cache_dir=cache_dir)
        rows.append(("flaskfix diff --jobs 2 --no-cache", j2["seconds"], f"{j2['peak_mb']:.0f} MB peak"))
        first = flaskfix(corpus, "--jobs", "2", cache_dir=cache_dir)
        rows.append(("flaskfix diff --jobs 2 (fills the cache)", first["seconds"], f"{first['peak_mb']:.0f} MB peak"))
        again = flaskfix(corpus, "--jobs", "2", cache_dir=cache_dir)
        rows.append(("flaskfix diff --jobs 2 (cached re-run)", again["seconds"], f"{again['peak_mb']:.0f} MB peak"))

        print()
        print(f"| measurement | seconds | x ast.parse | notes |")
        print(f"|---|---:|---:|---|")
        for name, secs, note in rows:
            print(f"| {name} | {secs:.2f} | {secs / ast_s:.2f} | {note} |")
        print()
        print(f"cached re-run / first run: {again['seconds'] / first['seconds']:.0%}")
        print(f"--jobs 2 speed-up over --jobs 1: {j1['seconds'] / j2['seconds']:.2f}x")


if __name__ == "__main__":
    main()
