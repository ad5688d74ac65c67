"""How fast is `flaskfix diff` on real Flask projects, compared with just parsing them?

"Real-project mode": CORPUS_DIR holds one folder per open-source app, extracted from the
pinned list in bench/apps.tsv (``<corpus>/<owner>+<name>/``; nothing is downloaded here).
Measures, in one run on this machine:

  ast.parse floor        read + stdlib ast.parse of every file flaskfix would scan, one process
                         (the fastest of 3 passes)
  flaskfix --jobs N      `flaskfix diff --no-cache --jobs N --format json --exit-zero .`, run
                         once per app (its own process, cwd = the app, so the app's own
                         [tool.flaskfix] applies); the wall times summed over the apps
  fills the cache        `flaskfix diff --jobs N` with an empty result cache
  cached re-run          the same again, every file now a cache hit
  peak memory            the largest resident set of any one process of a run (the CLI or
                         one of its workers), the largest over the apps
  one run, whole corpus  the same four runs once over CORPUS_DIR itself, as if it were one
                         project: the engine's throughput with the process start-up (about
                         0.13 s: Python, typer, flaskfix) and the pool start-up paid once instead
                         of once per app, which is what --jobs and the cache can act on. Its
                         findings are not the per-app ones (the apps' modules and handlers
                         mix), so only its times are reported (--no-one-run skips it)

and prints each time with its ratio to the ast.parse floor, then one row per app with
what flaskfix reported (its JSON summary). Usage:

  python bench/real_apps.py CORPUS_DIR                   # every app, --jobs 1 and 2
  python bench/real_apps.py CORPUS_DIR --apps 3          # the first 3 apps (by folder name)
  python bench/real_apps.py CORPUS_DIR --jobs-list 1,2,4 # more worker counts
  python bench/real_apps.py CORPUS_DIR --json out.json   # also write the raw numbers
  python bench/real_apps.py CORPUS_DIR --repeat 3        # each run 3 times, the fastest kept

Use the Python that has flaskfix installed (the repository's .venv). The result cache
goes to a temporary folder (XDG_CACHE_HOME and FLASKFIX_CACHE_DIR), never the user's.
This is a measurement, never a test: it prints numbers and always exits 0.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def find_apps(corpus: Path, limit: int | None) -> list[Path]:
    apps = sorted(p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith("."))
    return apps[:limit] if limit else apps


def discover_app(app: Path) -> dict:
    """The files `flaskfix diff .` run in ``app`` would scan: its own planning (the app's
    configuration and excludes, .gitignore files), falling back to a bare walk."""
    from flaskfix.codemods.engine import discovery

    here = os.getcwd()
    os.chdir(app)
    note = None
    try:
        try:
            from flaskfix.codemods.engine.run import plan

            p = plan(["."])
            found, root = p.files, p.config.root
        except Exception as exc:  # a configuration flaskfix refuses (the run reports it too)
            note = f"planning failed ({type(exc).__name__}: {exc}); plain discovery used"
            found, root = discovery.discover(["."], Path("."), []), Path(".").resolve()
        files = [app / d.path for d in found if d.error is None]
    finally:
        os.chdir(here)
    if Path(root).resolve() != app.resolve():
        note = (note + "; " if note else "") + f"project root is {root}, not the app folder"
    skip_file = 0
    try:
        from flaskfix.codemods.engine import suppress

        for f in files:
            try:  # flaskfix looks for the comment only in files that parse
                text = f.read_text(encoding="utf-8", errors="replace")
                ast.parse(text)
                skip_file += bool(suppress.parse(text)[0])
            except Exception:
                pass
    except ImportError:
        skip_file = -1
    lines = sum(f.read_bytes().count(b"\n") for f in files)
    return {"files": files, "discovered": len(found), "lines": lines, "skip_file_comments": skip_file, "note": note}


def ast_floor(files: list[Path], repeat: int = 3) -> tuple[float, int]:
    """Read + parse every file, ``repeat`` times; the fastest pass (like timeit: the
    slower ones measured the machine's other work, which varied the floor by 15-60%
    between runs here)."""
    best = float("inf")
    for _ in range(repeat):
        failed = 0
        start = time.perf_counter()
        for path in files:
            try:
                ast.parse(path.read_bytes(), filename=str(path))
            except Exception:
                failed += 1
        best = min(best, time.perf_counter() - start)
    return best, failed


def index_time(apps: list[Path], found: dict, as_runs_use_it: bool = False, repeat: int = 3) -> tuple[float, dict[str, int]]:
    """Build the project index and ask it the project-wide questions, in one process, with
    the garbage collector tuned as flaskfix's CLI tunes it: the fastest of ``repeat``
    passes (as for the floor), against the floor. ``as_runs_use_it``: the way a run builds
    it (lazily, through the project's word index: a question walks only the modules that
    mention what it needs); else every file is read and walked."""
    from flaskfix.codemods.engine.pipeline import tune_gc

    tune_gc()
    results = [_index_pass(apps, found, as_runs_use_it) for _ in range(repeat)]
    return min(r[0] for r in results), results[0][1]


def _index_pass(apps: list[Path], found: dict, as_runs_use_it: bool) -> tuple[float, dict[str, int]]:
    from flaskfix.codemods.index import Index
    from flaskfix.codemods.project import Project

    counts = {"apps": 0, "blueprints": 0, "handlers": 0, "models": 0, "extensions": 0}
    start = time.perf_counter()
    for app in apps:
        paths = [str(f) for f in found[app.name]["files"]]
        idx = Project(app, paths).index() if as_runs_use_it else Index.build(app, paths)
        counts["apps"] += len(idx.apps())
        counts["blueprints"] += len(idx.blueprints())
        counts["handlers"] += len(idx.error_handlers())
        counts["models"] += sum(len(v) for v in idx.models().values())
        counts["extensions"] += len(idx.extensions())
        idx.blueprint_registrations()
        idx.exception_observers()
    return time.perf_counter() - start, counts


def flaskfix_cmd() -> list[str]:
    # the console script, not `python -m flaskfix`: with -m the app folder (the cwd) would
    # come first on sys.path and its modules could shadow flaskfix's dependencies
    script = Path(sys.executable).parent / ("flaskfix.exe" if os.name == "nt" else "flaskfix")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flaskfix"]


def run_flaskfix(app: Path, args: list[str], env: dict[str, str]) -> dict:
    """One `flaskfix diff` in ``app``: wall seconds, peak RSS (MB), exit code, JSON output."""
    cmd = flaskfix_cmd() + ["diff", *args, "--format", "json", "--exit-zero", "."]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=app, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        peak_mb = None
        if hasattr(os, "wait4"):
            # the child's rusage: ru_maxrss is the largest of it and its reaped workers (KB on Linux)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            peak_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
        else:
            proc.wait()
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    result: dict = {"seconds": seconds, "peak_mb": peak_mb, "rc": proc.returncode, "doc": None, "error": None}
    try:
        result["doc"] = json.loads(stdout)
    except ValueError:
        result["error"] = f"exit {proc.returncode}, no JSON on stdout; stderr: {stderr.strip()[-500:]}"
    return result


def _index_in_child(args: argparse.Namespace, mode: str) -> tuple[float, dict[str, int]]:
    """The index timings, measured in a child process: built here, the index's memory
    stayed in this process, and Linux reports a forked child's peak memory as at least its
    parent's (every flaskfix run then showed this process's 307 MB)."""
    cmd = [sys.executable, os.path.abspath(__file__), str(args.corpus), "--index-pass", mode]
    if args.apps is not None:
        cmd += ["--apps", str(args.apps)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    return doc["seconds"], doc["counts"]


def _alternating(settings: list[tuple[str, list[str]]], repeat: int, run) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    """(label, fastest result) per setting, the settings run in turn ``repeat`` times."""
    tries: dict[str, list[dict]] = {label: [] for label, _ in settings}
    for _ in range(repeat):
        for label, flags in settings:
            tries[label].append(run(flags))
    return [(label, min(found, key=lambda r: r["seconds"])) for label, found in tries.items()]


def app_counts(doc: dict | None, skip_file_comments: int) -> dict:
    """What a run's JSON says about one app (``libcst_parsed``: the files LibCST parsed,
    which since the codemods plan on stdlib ast are the files that get an edit)."""
    if doc is None:
        return {}
    s = doc["summary"]
    errors = [f["error"] for f in doc.get("files", []) if f.get("error")]
    return {
        "scanned": s["files"],
        "prefiltered_out": s["prefiltered_out"],
        "failed": s["failed"],
        "decided": s["files"] - s["prefiltered_out"] - max(skip_file_comments, 0),
        "libcst_parsed": s["libcst_parsed"],
        "changed_files": s["changed_files"],
        # of those, supporting edits (a manifest line, a Cache in another module), which
        # LibCST never parses: they are made as text after every file
        "supporting_files": sum(1 for f in doc.get("files", []) if "supports" in f and f.get("patch")),
        "changes": s["changes"],
        "findings": s["findings"],
        "flaskfix_seconds": s.get("seconds"),
        "codemods": s.get("codemods", {}),
        "errors": errors,
    }


def comparable(doc: dict | None) -> object:
    """A run's output without its timings, to check that every run found the same."""
    if doc is None:
        return None
    # what a run did rather than what it found: a cached re-run parses nothing
    summary = {k: v for k, v in doc["summary"].items() if k not in ("seconds", "libcst_parsed")}
    return json.dumps({"files": doc["files"], "summary": summary}, sort_keys=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path, help="a folder with one folder per app (<owner>+<name>)")
    ap.add_argument("--jobs-list", default="1,2", help="worker counts for the --no-cache runs (default 1,2); "
                    "the cached runs use the last")
    ap.add_argument("--apps", type=int, default=None, help="only the first N apps (by folder name)")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the raw numbers here")
    ap.add_argument("--repeat", type=int, default=1,
                        help="run each app this many times per setting and keep the fastest (this machine's times vary)")
    ap.add_argument("--no-one-run", dest="one_run", action="store_false",
                    help="skip the runs over the whole corpus as one project")
    ap.add_argument("--index-pass", choices=["full", "lazy"], help=argparse.SUPPRESS)  # (a child: see _index_in_child)
    args = ap.parse_args()
    jobs_list = [int(j) for j in args.jobs_list.split(",") if j.strip()]

    apps = find_apps(args.corpus, args.apps)
    if args.index_pass:
        found = {app.name: discover_app(app) for app in apps}
        seconds, counts = index_time(apps, found, as_runs_use_it=args.index_pass == "lazy")
        print(json.dumps({"seconds": seconds, "counts": counts}))
        return
    if not apps:
        print(f"no app folders in {args.corpus}")
        return
    import flaskfix
    import flaskfix.cli as flaskfix_cli
    import flaskfix.codemods as flaskfix_codemods

    found = {app.name: discover_app(app) for app in apps}
    all_files = [f for d in found.values() for f in d["files"]]
    total_lines = sum(d["lines"] for d in found.values())
    mb = sum(f.stat().st_size for f in all_files) / 1e6
    print(f"flaskfix {flaskfix.__version__} ({Path(flaskfix.__file__).parent}); {os.cpu_count()} cores; Python "
          f"{sys.version.split()[0]}")
    print(f"corpus: {len(apps)} apps, {len(all_files)} files, {total_lines:,} lines of Python, {mb:.1f} MB", flush=True)
    for name, d in found.items():
        if d["note"]:
            print(f"  note: {name}: {d['note']}")

    floor_s, floor_failed = ast_floor(all_files)
    print(f"  ast.parse floor ... {floor_s:.2f}s ({floor_failed} files do not parse)", flush=True)
    index_s, index_counts = _index_in_child(args, "full")
    print(f"  project index, every file walked (build + questions) ... {index_s:.2f}s ({index_s / floor_s:.2f}x the floor; "
          "found " + ", ".join(f"{v} {k}" for k, v in index_counts.items()) + ")", flush=True)
    lazy_s, lazy_counts = _index_in_child(args, "lazy")
    print(f"  project index as a run uses it (same questions) ... {lazy_s:.2f}s ({lazy_s / floor_s:.2f}x the floor; same "
          f"answers: {'yes' if lazy_counts == index_counts else 'NO ' + str(lazy_counts)})", flush=True)

    raw: dict = {"flaskfix_version": flaskfix.__version__, "cores": os.cpu_count(), "python": sys.version.split()[0],
                 "apps": {}, "runs": {}, "floor": {"ast_parse_seconds": floor_s, "files": len(all_files),
                                                  "lines": total_lines, "failed_to_parse": floor_failed},
                 "index": {"seconds": index_s, "as_runs_use_it_seconds": lazy_s, **index_counts}}
    with tempfile.TemporaryDirectory(prefix="flaskfix-bench-") as tmp:
        cache_home = Path(tmp) / "xdg-cache"
        # flaskfix's own modules run from bytecode, as an installed package does (pip
        # compiles them); the bytecode goes to a temporary folder, not the checkout
        env = {**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": str(cache_home),
               "FLASKFIX_CACHE_DIR": str(cache_home / "flaskfix"), "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        package_dirs = sorted({str(Path(m.__file__).parent) for m in (flaskfix, flaskfix_codemods, flaskfix_cli)})
        subprocess.run([sys.executable, "-m", "compileall", "-q", *package_dirs], env=env, check=False,
                       stdout=subprocess.DEVNULL)
        plan_runs = [(f"--jobs {j} --no-cache", ["--no-cache", "--jobs", str(j)]) for j in jobs_list]
        cached_jobs = str(jobs_list[-1])
        plan_runs += [(f"--jobs {cached_jobs} (fills the cache)", ["--jobs", cached_jobs]),
                      (f"--jobs {cached_jobs} (cached re-run)", ["--jobs", cached_jobs])]
        runs: dict[str, dict[str, dict]] = {label: {} for label, _ in plan_runs}
        # the --no-cache runs of the --jobs settings take turns, --repeat times, and each
        # keeps its fastest: this machine's speed drifts by tens of percent over minutes,
        # and runs of one setting made back to back, then the other's, compared the drift
        uncached = [(label, flags) for label, flags in plan_runs if "--no-cache" in flags]
        for app in apps:
            for label, flags in _alternating(uncached, args.repeat, lambda flags: run_flaskfix(app, flags, env)):
                runs[label][app.name] = flags
        for label, flags in plan_runs:
            if "--no-cache" not in flags:
                if "fills the cache" in label:
                    shutil.rmtree(cache_home, ignore_errors=True)
                for app in apps:  # (a run that fills the cache is made once)
                    tries = [run_flaskfix(app, flags, env) for _ in range(1 if "fills the cache" in label else args.repeat)]
                    runs[label][app.name] = min(tries, key=lambda r: r["seconds"])
            total = sum(r["seconds"] for r in runs[label].values())
            print(f"  flaskfix diff {label} ... {total:.2f}s", flush=True)
        one: dict[str, dict] = {}
        if args.one_run and args.apps is None:  # (with --apps the corpus folder holds more than is measured)
            for label, best in _alternating(uncached, args.repeat, lambda flags: run_flaskfix(args.corpus, flags, env)):
                one[label] = best
            for label, flags in plan_runs:
                if "--no-cache" not in flags:
                    if "fills the cache" in label:
                        shutil.rmtree(cache_home, ignore_errors=True)
                    tries = [run_flaskfix(args.corpus, flags, env) for _ in range(1 if "fills the cache" in label else args.repeat)]
                    one[label] = min(tries, key=lambda r: r["seconds"])
                print(f"  flaskfix diff {label}, the whole corpus in one run ... {one[label]['seconds']:.2f}s", flush=True)

    first_label = plan_runs[0][0]
    rows = [("ast.parse floor (1 process)", floor_s, ""), ("project index, every file walked (1 process)", index_s, ""),
            ("project index as a run uses it (1 process)", lazy_s, "")]
    totals: dict[str, float] = {}
    for label, _ in plan_runs:
        per_app = runs[label]
        secs = sum(r["seconds"] for r in per_app.values())
        totals[label] = secs
        peaks = [r["peak_mb"] for r in per_app.values() if r["peak_mb"] is not None]
        own = sum((r["doc"] or {}).get("summary", {}).get("seconds", 0) for r in per_app.values())
        note = (f"{max(peaks):.0f} MB peak; " if peaks else "") + f"{own:.2f}s by flaskfix's own clock"
        rows.append((f"flaskfix diff {label}", secs, note))
        raw["runs"][label] = {
            "seconds": secs, "flaskfix_summary_seconds": own, "peak_mb": max(peaks) if peaks else None,
            "per_app": {n: {"seconds": r["seconds"], "peak_mb": r["peak_mb"], "rc": r["rc"], "error": r["error"]}
                        for n, r in per_app.items()},
        }

    print()
    print("| measurement | seconds | x ast.parse | notes |")
    print("|---|---:|---:|---|")
    for name, secs, note in rows:
        print(f"| {name} | {secs:.2f} | {secs / floor_s:.1f} | {note} |")

    print()
    print("| app | files | lines | decided on ast | LibCST-parsed | changed files | changes | findings | failed | seconds (jobs "
          f"{jobs_list[0]}) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    per_codemod: Counter[tuple[str, str]] = Counter()
    sums: Counter[str] = Counter()
    problems = []
    for app in apps:
        d = found[app.name]
        r = runs[first_label][app.name]
        c = app_counts(r["doc"], d["skip_file_comments"])
        raw["apps"][app.name] = {"files": len(d["files"]), "discovered": d["discovered"], "lines": d["lines"],
                                 "skip_file_comments": d["skip_file_comments"], "note": d["note"], **c}
        if r["error"]:
            problems.append(f"{app.name}: {r['error']}")
            print(f"| {app.name} | {len(d['files'])} | {d['lines']:,} | ? | ? | ? | ? | ? | ? | {r['seconds']:.2f} |")
            continue
        if c["scanned"] != d["discovered"]:
            problems.append(f"{app.name}: flaskfix scanned {c['scanned']} files, discovery here found {d['discovered']}")
        for cid, v in c["codemods"].items():
            per_codemod[(cid, "changes")] += v["changes"]
            per_codemod[(cid, "findings")] += v["findings"]
        for k in ("decided", "libcst_parsed", "changed_files", "supporting_files", "changes", "findings", "failed",
                  "prefiltered_out"):
            sums[k] += c[k]
        print(f"| {app.name} | {len(d['files'])} | {d['lines']:,} | {c['decided']} | {c['libcst_parsed']} | {c['changed_files']} | "
              f"{c['changes']} | {c['findings']} | {c['failed']} | {r['seconds']:.2f} |")
    print(f"| **total** | {len(all_files)} | {total_lines:,} | {sums['decided']} | {sums['libcst_parsed']} | {sums['changed_files']} | "
          f"{sums['changes']} | {sums['findings']} | {sums['failed']} | {totals[first_label]:.2f} |")

    print()
    print("| codemod | changes | findings |")
    print("|---|---:|---:|")
    for cid in sorted({cid for cid, _ in per_codemod}):
        print(f"| {cid} | {per_codemod[(cid, 'changes')]} | {per_codemod[(cid, 'findings')]} |")
    raw["codemods"] = {cid: {"changes": per_codemod[(cid, "changes")], "findings": per_codemod[(cid, "findings")]}
                       for cid in sorted({cid for cid, _ in per_codemod})}

    print()
    print(f"files pre-filtered out: {sums['prefiltered_out']} of {len(all_files)}; decided by a codemod on ast: "
          f"{sums['decided']}; LibCST-parsed: {sums['libcst_parsed']}; changed files: {sums['changed_files']} "
          f"({sums['changed_files'] - sums['supporting_files']} rewritten, {sums['supporting_files']} supporting edits)")
    ratios: dict[str, float] = {}
    for label, _ in plan_runs[: len(jobs_list)]:
        ratios[f"{label} / floor"] = totals[label] / floor_s
        print(f"{label} / ast.parse floor: {totals[label] / floor_s:.1f}x")
    for label, _ in plan_runs[1: len(jobs_list)]:
        ratios[f"speed-up {label} over {first_label}"] = totals[first_label] / totals[label]
        print(f"speed-up of {label} over {first_label}: {totals[first_label] / totals[label]:.2f}x")
    fill, again = plan_runs[-2][0], plan_runs[-1][0]
    ratios["cached / first"] = totals[again] / totals[fill]
    own = {label: sum((r["doc"] or {}).get("summary", {}).get("seconds", 0) for r in runs[label].values())
           for label in (fill, again)}
    ratios["cached / first, flaskfix's own clock"] = own[again] / own[fill] if own[fill] else 0.0
    print(f"cached re-run / first run (cache filling): {totals[again] / totals[fill]:.0%} of the wall time "
          f"({own[again] / max(own[fill], 1e-9):.0%} by flaskfix's own clock, which leaves out the "
          f"{len(apps)} process start-ups)")
    if one:
        fill_one, again_one = one[fill]["seconds"], one[again]["seconds"]
        print()
        print("the whole corpus as one project, one run each (start-up paid once):")
        print("| run | seconds | x ast.parse | notes |")
        print("|---|---:|---:|---|")
        for label, _ in plan_runs:
            r = one[label]
            own_s = ((r["doc"] or {}).get("summary") or {}).get("seconds", 0)
            print(f"| flaskfix diff {label} | {r['seconds']:.2f} | {r['seconds'] / floor_s:.1f} | "
                  f"{r['peak_mb'] or 0:.0f} MB peak; {own_s:.2f}s by flaskfix's own clock |")
        for label, _ in plan_runs[1: len(jobs_list)]:
            ratios[f"one run: speed-up {label} over {first_label}"] = one[first_label]["seconds"] / one[label]["seconds"]
            print(f"one run: speed-up of {label} over {first_label}: {one[first_label]['seconds'] / one[label]['seconds']:.2f}x")
        ratios["one run: cached / first"] = again_one / fill_one
        print(f"one run: cached re-run / first run (cache filling): {again_one / fill_one:.1%} of the wall time")
        raw["one_run"] = {label: {"seconds": r["seconds"], "peak_mb": r["peak_mb"], "rc": r["rc"], "error": r["error"],
                                  "flaskfix_summary_seconds": ((r["doc"] or {}).get("summary") or {}).get("seconds")}
                          for label, r in one.items()}
    raw["ratios"] = ratios

    # every run must report the same thing, whatever --jobs and the cache
    differing = [label for label, _ in plan_runs[1:]
                 for app in apps if comparable(runs[label][app.name]["doc"]) != comparable(runs[first_label][app.name]["doc"])]
    print("same output in every run: " + ("yes" if not differing else f"NO ({', '.join(sorted(set(differing)))})"))
    raw["same_output_in_every_run"] = not differing
    errors = [(n, e) for n, a in raw["apps"].items() for e in a.get("errors", [])]
    if errors:
        print(f"files flaskfix could not process ({len(errors)}):")
        for n, e in errors:
            print(f"  {n}: {e}")
    for p in problems:
        print(f"warning: {p}")

    if args.json:
        args.json.write_text(json.dumps(raw, indent=2, default=str) + "\n")
        print(f"raw numbers written to {args.json}")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a measurement never fails the caller
        print(f"real_apps.py: stopped: {type(exc).__name__}: {exc}")
    sys.exit(0)
