#!/usr/bin/env python3
"""regctl's listings on MLflow's SQLite database beside the raw SQL queries they need.

    python bench/sqlfloor.py [--runs 7] [--inner 11] [--output bench/RESULTS.md|-]

On bench/sqlite.py's databases (**wide** = 1,000 models x 50 versions, **deep** = 1 model x
10,000 versions; generated and cached in --work), each listing is measured two ways:

* **whole processes**, interleaved round after round (the order rotates): ``python -m regctl
  --store sqlite:///DB ...`` from this checkout; the **floor**, ``python bench/floor_sql.py``, a
  bare sqlite3 script running the queries regctl's SQLite backend runs for that listing and
  printing one line per entry; and ``python -c pass``. Every output's line count is checked.
* **in process**, so that interpreter and import start-up do not hide the cost at scale: the
  library call (``Registry("sqlite:///DB").models()``, ``.versions("X")``,
  ``.versions("X", limit=20)``, ``.search_versions(max_results=50000)``, a new Registry each
  time) against ``floor_sql.listing`` (a new connection, the same queries, rows grouped with
  their tags and aliases), alternating, ``--inner`` times each after a warm-up.

Target: on the 1,000 x 50 database, listings within 1.5x of the raw SQL queries they need. The
results replace the block between ``<!-- sqlfloor: begin -->`` and ``<!-- sqlfloor: end -->``
in bench/RESULTS.md.
"""

import argparse
import datetime
import gc
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import floor_sql  # noqa: E402
from pairwise import run_once  # noqa: E402
from run import cpu_model  # noqa: E402
from sqlite import LABEL, STORES, ensure_db  # noqa: E402

BEGIN, END = "<!-- sqlfloor: begin -->", "<!-- sqlfloor: end -->"
TARGET = 1.5
# (store, label, regctl argv, floor argv, library call, entries)
CASES = [
    ("wide-db", "models", ["models"], ["models"], lambda r: r.models(), 1000),
    ("wide-db", "versions X", ["versions", "X"], ["versions", "X"], lambda r: r.versions("X"), 50),
    ("wide-db", "versions X --limit 20", ["versions", "X", "--limit", "20"], ["versions", "X", "20"],
     lambda r: r.versions("X", limit=20), 20),
    ("wide-db", "search --max-results 50000", ["search", "--max-results", "50000"], ["search", "50000"],
     lambda r: r.search_versions(max_results=50000), 50000),
    ("deep-db", "versions X", ["versions", "X"], ["versions", "X"], lambda r: r.versions("X"), 10000),
    ("deep-db", "versions X --limit 20", ["versions", "X", "--limit", "20"], ["versions", "X", "20"],
     lambda r: r.versions("X", limit=20), 20),
    ("deep-db", "search --max-results 50000", ["search", "--max-results", "50000"], ["search", "50000"],
     lambda r: r.search_versions(max_results=50000), 10000),
]


def whole(args, env, databases, work):
    """{(store, label): {variant: [(wall, cpu, rss, lines)]}}, rounds interleaved."""
    found = {}
    for store, label, argv, floor_argv, _call, entries in CASES:
        db = databases[store]
        variants = {
            "regctl": [args.python, "-m", "regctl", "--store", f"sqlite:///{db}", *argv],
            "floor": [args.python, str(HERE / "floor_sql.py"), str(db), *floor_argv],
            "python": [args.python, "-c", "pass"],
        }
        names = list(variants)
        samples = {n: [] for n in names}
        for name in names:
            run_once(variants[name], env, work)  # warm-up: bytecode and page caches
        for r in range(args.runs):
            for name in names[r % 3:] + names[:r % 3]:
                sample = run_once(variants[name], env, work)
                if name != "python" and sample[3] != entries:
                    raise SystemExit(f"sqlfloor.py: {name} {label} printed {sample[3]} lines, not {entries}")
                samples[name].append(sample)
        found[(store, label)] = samples
        print(f"  {LABEL[store]} `{label}`: " + ", ".join(
            f"{n} {statistics.median(s[0] for s in v) * 1000:.0f} ms" for n, v in samples.items()), flush=True)
    return found


def in_process(args, databases):
    """{(store, label): {"regctl": [seconds], "floor": [seconds]}}: one process, alternating."""
    sys.path.insert(0, str(REPO))
    from regctl.api import Registry

    found = {}
    for store, label, _argv, floor_argv, call, entries in CASES:
        db = databases[store]
        variants = {"regctl": lambda call=call, db=db: call(Registry(f"sqlite:///{db}")),
                    "floor": lambda db=db, floor_argv=floor_argv: floor_sql.listing(str(db), *floor_argv)}
        times = {n: [] for n in variants}
        for r in range(args.inner + 1):  # round 0 warms up
            for name in (("regctl", "floor") if r % 2 else ("floor", "regctl")):
                gc.collect()
                started = time.perf_counter()
                result = variants[name]()
                took = time.perf_counter() - started
                if len(result) != entries:
                    raise SystemExit(f"sqlfloor.py: in process, {name} {label} gave {len(result)}, not {entries}")
                if r:
                    times[name].append(took)
                del result
        found[(store, label)] = times
        print(f"  in process {LABEL[store]} `{label}`: " + ", ".join(
            f"{n} {statistics.median(v) * 1000:.1f} ms" for n, v in times.items()), flush=True)
    return found


def _spread(values, digits=None):
    values = sorted(v * 1000 for v in values)
    med = statistics.median(values)
    if digits is None:
        digits = 0 if values[-1] >= 100 else 1
    return f"{med:.{digits}f} [{values[0]:.{digits}f}-{values[-1]:.{digits}f}]"


def markdown(args, took, load_before, load_after, processes, inside):
    out = [BEGIN, "", "## SQLite listings beside the raw SQL queries (bench/sqlfloor.py)", "",
           f"`python bench/sqlfloor.py --runs {args.runs} --inner {args.inner}`; "
           f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {took:.0f} s; {cpu_model()}, "
           f"{os.cpu_count()} cores; load average (1 min) {load_before:.2f} before, {load_after:.2f} after"
           + ("" if max(load_before, load_after) < (os.cpu_count() or 1) else
              " (a loaded machine: absolute times are noisy, the interleaved ratios less so)")
           + f"; Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}.", "",
           "The **floor** is `bench/floor_sql.py`: a bare sqlite3 script running the queries regctl's SQLite "
           "backend runs for the listing (one read transaction: rows, tags, aliases, each model's latest "
           "version) and printing one line per entry. **Whole processes**: `python -m regctl` from this "
           f"checkout, the floor and `python -c pass`, {args.runs} interleaved rounds after a warm-up. "
           "**In process**: the library call (`Registry(...).models()`, `.versions(...)`, "
           "`.search_versions(...)`, a new Registry each time) against the floor's `listing()` (a new "
           f"connection each time), alternating, {args.inner} times each after a warm-up. Medians, min-max in "
           "brackets; ratios are of medians.", "",
           "| store | listing | entries | regctl (ms) | floor (ms) | python -c pass (ms) | regctl/floor | "
           "in process: regctl (ms) | in process: floor (ms) | in process: regctl/floor |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    targets = []
    for store, label, _argv, _floor, _call, entries in CASES:
        p, i = processes[(store, label)], inside[(store, label)]
        whole_ratio = statistics.median(s[0] for s in p["regctl"]) / statistics.median(s[0] for s in p["floor"])
        inner_ratio = statistics.median(i["regctl"]) / statistics.median(i["floor"])
        out.append(f"| {LABEL[store]} | `{label}` | {entries:,} | {_spread([s[0] for s in p['regctl']])} | "
                   f"{_spread([s[0] for s in p['floor']])} | {_spread([s[0] for s in p['python']])} | "
                   f"{whole_ratio:.2f}x | {_spread(i['regctl'], 1)} | {_spread(i['floor'], 1)} | {inner_ratio:.2f}x |")
        if store == "wide-db":
            targets.append((f"`{label}`, whole process", whole_ratio))
            targets.append((f"`{label}`, in process", inner_ratio))
    out += ["", f"Target: listings on the 1,000 x 50 database within {TARGET}x of the raw SQL queries they need.", "",
            "| case (wide, 1000x50) | regctl/floor | status |", "|---|---:|---|"]
    for case, ratio in targets:
        out.append(f"| {case} | {ratio:.2f}x | {'met' if ratio <= TARGET else 'MISSED'} |")
    met = sum(ratio <= TARGET for _, ratio in targets)
    out += ["", f"{met} of {len(targets)} met.", "", END]
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter with regctl's dependencies")
    parser.add_argument("--runs", type=int, default=7, help="interleaved whole-process rounds (default 7)")
    parser.add_argument("--inner", type=int, default=11, help="in-process calls of each variant (default 11)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "regctl-bench-sqlite"))
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"), help="'-' prints the block only")
    args = parser.parse_args(argv)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    databases = {kind: ensure_db(work, kind) for kind in STORES}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_", "PYTHON"))}
    env = dict(clean, PYTHONPATH=str(REPO), PYTHONPYCACHEPREFIX=str(work / "pycache-sqlfloor"), NO_COLOR="1")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    run_dir = Path(tempfile.mkdtemp(prefix="sqlfloor-"))
    print("whole processes:", flush=True)
    processes = whole(args, env, databases, run_dir)
    print("in process:", flush=True)
    inside = in_process(args, databases)
    os.rmdir(run_dir)
    block = markdown(args, time.perf_counter() - started, load_before, os.getloadavg()[0], processes, inside)
    if args.output == "-":
        print(block)
        return 0
    path = Path(args.output)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
