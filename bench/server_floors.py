"""The floors part of bench/server.py: regctl's listings on a server beside bench/floor_http.py.

A server (``mlflow server``, SQLite backend, one worker) on a copy of bench/sqlite.py's 1,000 x 50
database; for each listing, whole processes interleaved round after round (regctl as ``python -m
regctl --store URL ...``, the bare HTTP loop, ``python -c pass``), then the library call against
the loop's ``listing()`` in one process, alternating; each in-process pair is checked to make the
same number of requests. The results replace the block between ``<!-- begin server floors -->``
and ``<!-- end server floors -->`` in bench/RESULTS.md.
"""

import datetime
import gc
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
import floor_http  # noqa: E402
from pairwise import run_once  # noqa: E402
from run import cpu_model  # noqa: E402
from sqlite import ensure_db  # noqa: E402

BEGIN, END = "<!-- begin server floors -->", "<!-- end server floors -->"
TARGET = 1.3
# (label, regctl argv, floor argv, library call, entries)
CASES = [
    ("models", ["models"], ["models"], lambda r: r.models(), 1000),
    ("versions X", ["versions", "X"], ["versions", "X"], lambda r: r.versions("X"), 50),
    ("versions X --limit 20", ["versions", "X", "--limit", "20"], ["versions", "X", "20"],
     lambda r: r.versions("X", limit=20), 20),
    ("search --max-results 50000", ["search", "--max-results", "50000"], ["search", "50000"],
     lambda r: r.search_versions(max_results=50000), 50000),
]


def _rounds(args, label):
    return args.search_rounds if label.startswith("search") else args.rounds


def whole(args, url, env, work):
    found = {}
    for label, argv, floor_argv, _call, entries in CASES:
        variants = {"regctl": [sys.executable, "-m", "regctl", "--store", url, *argv],
                    "floor": [sys.executable, str(HERE / "floor_http.py"), url, *floor_argv],
                    "python": [sys.executable, "-c", "pass"]}
        names = list(variants)
        samples = {n: [] for n in names}
        for name in names:
            run_once(variants[name], env, work)  # warm-up
        for r in range(_rounds(args, label)):
            for name in names[r % 3:] + names[:r % 3]:
                sample = run_once(variants[name], env, work)
                if name != "python" and sample[3] != entries:
                    raise SystemExit(f"server floors: {name} {label} printed {sample[3]} lines, not {entries}")
                samples[name].append(sample)
        found[label] = samples
        print(f"  `{label}`: " + ", ".join(f"{n} {statistics.median(s[0] for s in v) * 1000:.0f} ms"
                                          for n, v in samples.items()), flush=True)
    return found


def in_process(args, url):
    sys.path.insert(0, str(REPO))
    from regctl.api import Registry
    from regctl.backends.rest import client

    counted = [0]
    request = client.Transport.request

    def counting(self, *a, **k):
        counted[0] += 1
        return request(self, *a, **k)

    client.Transport.request = counting
    found = {}
    try:
        for label, _argv, floor_argv, call, entries in CASES:
            times = {"regctl": [], "floor": []}
            requests = {}
            for r in range(min(_rounds(args, label), args.inner) + 1):  # round 0 warms up
                for name in (("regctl", "floor") if r % 2 else ("floor", "regctl")):
                    gc.collect()
                    counted[0] = 0
                    started = time.perf_counter()
                    if name == "regctl":
                        result, made = call(Registry(url)), None
                    else:
                        result, made = floor_http.listing(url, *floor_argv)
                    took = time.perf_counter() - started
                    requests[name] = counted[0] if made is None else made
                    if len(result) != entries:
                        raise SystemExit(f"server floors: in process, {name} {label} gave {len(result)}, not {entries}")
                    if r:
                        times[name].append(took)
                    del result
            if requests["regctl"] != requests["floor"]:
                raise SystemExit(f"server floors: {label}: regctl made {requests['regctl']} requests, "
                                 f"the floor {requests['floor']}")
            found[label] = (times, requests["floor"])
            print(f"  in process `{label}` ({requests['floor']} requests): " + ", ".join(
                f"{n} {statistics.median(v) * 1000:.1f} ms" for n, v in times.items()), flush=True)
    finally:
        client.Transport.request = request
    return found


def _spread(values):
    values = sorted(v * 1000 for v in values)
    digits = 0 if values[-1] >= 100 else 1
    return f"{statistics.median(values):.{digits}f} [{values[0]:.{digits}f}-{values[-1]:.{digits}f}]"


def markdown(args, took, load_before, load_after, processes, inside) -> str:
    loaded = max(load_before, load_after) >= (os.cpu_count() or 1)
    out = [BEGIN, "## Tracking server listings beside the REST calls they need (bench/server.py floors)", "",
           f"`python bench/server.py --only floors --rounds {args.rounds} --search-rounds {args.search_rounds} "
           f"--inner {args.inner}`; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {took:.0f} s; "
           f"{cpu_model()}, {os.cpu_count()} cores; load average (1 min) {load_before:.2f} before, "
           f"{load_after:.2f} after" + (" (a loaded machine: absolute times are noisy, the interleaved ratios "
                                        "less so)" if loaded else "") + f"; Python {platform.python_version()}.", "",
           "`mlflow server` 3.17 (SQLite backend, one worker, 127.0.0.1) on a copy of the 1,000 x 50 database. "
           "The **floor** is `bench/floor_http.py`: a bare http.client loop on one kept-alive connection making "
           "the REST calls regctl makes for the listing (same endpoints, parameters and pages) and printing one "
           "line per entry, so the server's own time is in it. **Whole processes**: `python -m regctl` from this "
           f"checkout, the floor and `python -c pass`, {args.rounds} interleaved rounds after a warm-up "
           f"({args.search_rounds} for the search). **In process**: the library call (a new Registry each time) "
           "against the floor's `listing()`, alternating; both made the number of requests shown. Medians, "
           "min-max in brackets; ratios are of medians.", "",
           "| listing | entries | requests | regctl (ms) | floor (ms) | python -c pass (ms) | regctl/floor | "
           "in process: regctl (ms) | in process: floor (ms) | in process: regctl/floor |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    targets = []
    for label, _argv, _floor, _call, entries in CASES:
        p = processes[label]
        times, requests = inside[label]
        whole_ratio = statistics.median(s[0] for s in p["regctl"]) / statistics.median(s[0] for s in p["floor"])
        inner_ratio = statistics.median(times["regctl"]) / statistics.median(times["floor"])
        out.append(f"| `{label}` | {entries:,} | {requests} | {_spread([s[0] for s in p['regctl']])} | "
                   f"{_spread([s[0] for s in p['floor']])} | {_spread([s[0] for s in p['python']])} | "
                   f"{whole_ratio:.2f}x | {_spread(times['regctl'])} | {_spread(times['floor'])} | {inner_ratio:.2f}x |")
        targets += [(f"`{label}`, whole process", whole_ratio), (f"`{label}`, in process", inner_ratio)]
    out += ["", f"Target: listings on a server within {TARGET}x of the REST calls they need.", "",
            "| case | regctl/floor | status |", "|---|---:|---|"]
    out += [f"| {case} | {ratio:.2f}x | {'met' if ratio <= TARGET else 'MISSED'} |" for case, ratio in targets]
    out += ["", f"{sum(r <= TARGET for _, r in targets)} of {len(targets)} met.", END]
    return "\n".join(out) + "\n"


def run_floors(args, work: Path, env: dict, start_server, stop_server) -> None:
    database = work / "wide.db"
    shutil.copyfile(ensure_db(Path(args.db_work), "wide-db"), database)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    url, process = start_server(work, database)
    try:
        print(f"floors, server at {url}:", flush=True)
        processes = whole(args, url, env, work)
        inside = in_process(args, url)
    finally:
        stop_server(process)
    block = markdown(args, time.perf_counter() - started, load_before, os.getloadavg()[0], processes, inside)
    print(block)
    if args.output == "-":
        return
    path = Path(args.output)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block.rstrip("\n") + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")
