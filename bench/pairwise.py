"""regctl side by side with the previous release, a bare Python loop and ``python -c pass``.

    python bench/pairwise.py --prev PATH_TO_PREVIOUS_CHECKOUT [--runs 7] [--only listings|memory|journal|startup]

Every case runs its variants interleaved, round after round (the order rotates each round), so
load from other processes on a shared machine hits them alike; each variant gets one untimed
warm-up. Whole processes are measured: wall time (fork to exit), CPU time (user + system of the
child, ``os.wait4``) and peak RSS (GNU time's ``%M`` where /usr/bin/time exists, else
``ru_maxrss``). Reported: medians with min-max, and ratios of medians. The stores are bench/run.py's (cached in --work). The results replace the block between
``<!-- pairwise: begin -->`` and ``<!-- pairwise: end -->`` in bench/RESULTS.md.

Variants: **now** = ``python -m regctl`` from this checkout; **prev** = the same from --prev;
**floor** = a bare Python loop that reads the same files the listing reads (directory listings and
every meta.yaml, parsing nothing) and prints one line per entry: what any reader must pay;
**python** = ``python -c pass``.
"""

import argparse
import datetime
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as base  # noqa: E402  (bench/run.py: the stores)
import sqlite as sqlite_bench  # noqa: E402  (bench/sqlite.py: the databases)

REPO = HERE.parent
BEGIN, END = "<!-- pairwise: begin -->", "<!-- pairwise: end -->"
base.STORES.setdefault("five", {"models": 5, "versions": 10000, "first": 1})  # 50,000 versions for search
sqlite_bench.STORES.setdefault("tiny-db", (1, 7))  # start-up on a database: model X, champion -> 7

FLOOR_VERSIONS = r"""
import os, sys
d = os.path.join(sys.argv[1], "models", sys.argv[2])
limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
nums = sorted((int(e.name[8:]) for e in os.scandir(d) if e.name.startswith("version-")), reverse=True)
out = []
for n in nums[:limit]:
    v = os.path.join(d, f"version-{n}")
    with open(os.path.join(v, "meta.yaml"), "rb") as f:
        data = f.read()
    try:
        os.listdir(os.path.join(v, "tags"))
    except FileNotFoundError:
        pass
    out.append(f"{n}\t{len(data)}")
sys.stdout.write("\n".join(out) + "\n")
"""

FLOOR_MODELS = r"""
import os, sys
m = os.path.join(sys.argv[1], "models")
out = []
for name in sorted(os.listdir(m)):
    d = os.path.join(m, name)
    if not os.path.isdir(d) or name.startswith("."):
        continue
    with open(os.path.join(d, "meta.yaml"), "rb") as f:
        f.read()
    top = max(int(e[8:]) for e in os.listdir(d) if e.startswith("version-"))
    with open(os.path.join(d, f"version-{top}", "meta.yaml"), "rb") as f:
        f.read()
    out.append(f"{name}\t{top}")
sys.stdout.write("\n".join(out) + "\n")
"""

FLOOR_SEARCH = r"""
import os, sys
m = os.path.join(sys.argv[1], "models")
out = []
for name in sorted(os.listdir(m)):
    d = os.path.join(m, name)
    if not os.path.isdir(d) or name.startswith("."):
        continue
    for e in os.scandir(d):
        if e.name.startswith("version-"):
            with open(os.path.join(e.path, "meta.yaml"), "rb") as f:
                out.append(f"{name}\t{e.name}\t{len(f.read())}")
sys.stdout.write("\n".join(out) + "\n")
"""


class Failed(Exception):
    """A measured process exited with an error."""


TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_once(argv, env, cwd):
    """Wall time, CPU time (user + system), peak RSS (MiB) and output lines of one process.

    Linux counts a forked (or vfork'ed) child's peak RSS from its parent's memory at the fork, so
    the command runs under GNU time, a small program, whose own child's peak RSS is the command's."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        command = [TIME, "-f", "%M", "-o", rss.name, *argv] if TIME else list(argv)
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().count(b"\n")
        if code != 0:
            err.seek(0)
            raise Failed(f"pairwise.py: {' '.join(map(str, argv))} failed ({code}): {err.read().decode()[:300]}")
        text = rss.read().split()
        peak = int(text[-1]) / 1024 if TIME and text and text[-1].isdigit() else usage.ru_maxrss / 1024
    return wall, usage.ru_utime + usage.ru_stime, peak, lines


class Bench:
    def __init__(self, args):
        self.args = args
        self.python = args.python
        self.work = Path(args.work)
        self.prev = Path(args.prev).resolve()
        self.tmp = Path(tempfile.mkdtemp(prefix="pairwise-"))
        self.scripts = {}
        for key, text in (("versions", FLOOR_VERSIONS), ("models", FLOOR_MODELS), ("search", FLOOR_SEARCH)):
            path = self.tmp / f"floor_{key}.py"
            path.write_text(text)
            self.scripts[key] = str(path)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_", "PYTHON"))}
        clean.update(PYTHONPYCACHEPREFIX=str(self.work / "pycache-pairwise"), NO_COLOR="1", COLUMNS="200")
        self.env = {"now": dict(clean, PYTHONPATH=str(REPO)), "prev": dict(clean, PYTHONPATH=str(self.prev)),
                    "plain": clean}
        self.rows = []  # (group, case, {variant: [(wall, cpu, rss, lines)]})

    def case(self, group, label, variants, before=None):
        """``variants``: {name: (argv, env key)}; rounds interleaved, rotating the order."""
        names = list(variants)
        samples = {n: [] for n in names}
        for name in list(names):  # warm-up (bytecode caches, page cache)
            if before:
                before(name)
            try:
                run_once(variants[name][0], self.env[variants[name][1]], self.tmp)
            except Failed as exc:
                if name != "prev":
                    raise SystemExit(str(exc)) from None
                names.remove(name)  # a command the previous release does not have
                samples[name] = []
        rounds = self.args.startup_runs if group == "startup" else self.args.runs
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                if before:
                    before(name)
                samples[name].append(run_once(variants[name][0], self.env[variants[name][1]], self.tmp))
        self.rows.append((group, label, samples))
        shown = ", ".join(f"{n} {statistics.median(s[0] for s in v) * 1000:.0f} ms" for n, v in samples.items() if v)
        print(f"  {label}: {shown}", flush=True)

    def regctl(self, which, *argv):
        return ([self.python, "-m", "regctl", *map(str, argv)], which)

    # ------------------------------------------------------------------ groups

    def listings(self):
        deep = base.ensure_store(self.work, "deep")
        wide = base.ensure_store(self.work, "wide")
        five = base.ensure_store(self.work, "five")
        plan = [
            ("deep (1x10000)", deep, ["versions", "X"], ["versions", "X"]),
            ("deep (1x10000)", deep, ["versions", "X", "--limit", "20"], ["versions", "X", "20"]),
            ("wide (1000x50)", wide, ["versions", "X", "--limit", "20"], ["versions", "X", "20"]),
            ("wide (1000x50)", wide, ["models"], ["models"]),
            ("five (5x10000)", five, ["versions", "X"], ["versions", "X"]),
            ("five (5x10000)", five, ["search", "--max-results", "50000"], ["search"]),
        ]
        for store_label, info, argv, floor in plan:
            kind = floor[0]
            variants = {
                "floor": ([self.python, self.scripts[kind], str(info.root), *floor[1:]], "plain"),
                "now": self.regctl("now", "--store", info.root, *argv),
                "prev": self.regctl("prev", "--store", info.root, *argv),
            }
            self.case("listings", f"{store_label} `{' '.join(argv)}`", variants)
        # flat in model size: the two stores side by side in one case, so host noise hits both alike
        limit = ["versions", "X", "--limit", "20"]
        self.case("flat", "`versions X --limit 20`: deep (1x10000) and wide (1000x50)",
                  {"deep": self.regctl("now", "--store", deep.root, *limit),
                   "wide": self.regctl("now", "--store", wide.root, *limit)})

    def memory(self):
        deep = base.ensure_store(self.work, "deep")
        commands = [["versions", "X"], ["versions", "X", "--json"], ["versions", "X", "--limit", "20"],
                    ["models"], ["alias", "list", "X"], ["describe", "X"], ["describe", "X", "--version", "7"],
                    ["resolve", "models:/X/latest"], ["resolve", "models:/X@champion"], ["history"],
                    ["search", "--max-results", "20000"], ["search", "--models"], ["doctor"]]
        for argv in commands:
            self.case("memory", f"deep (1x10000) `{' '.join(argv)}`",
                      {"now": self.regctl("now", "--store", deep.root, *argv),
                       "prev": self.regctl("prev", "--store", deep.root, *argv)})

    def journal(self):
        """Peak RSS with a journal of ``--journal-mb`` (default 200) MB, on a file store and on SQLite:
        the version ``X/8`` was registered first, so its digest record is the oldest thing in it."""
        for label, store, journal in self._journal_stores():
            _pad_journal(journal, self.args.journal_mb << 20)
            step = {"n": 0}

            def alias_argv(which, store=store, step=step):
                step["n"] += 1
                return self.regctl(which, "--store", store, "alias", "set", "X", "bench", str(7 + step["n"] % 2))

            cases = [["history", "X"], ["verify", "models:/X/8"], ["download", "models:/X/8", self.tmp / "dl"],
                     ["push", "X", "--to", self.tmp / "pushed", "--dry-run"], ["doctor"]]
            for argv in cases:
                before = (lambda _n: shutil.rmtree(self.tmp / "dl", ignore_errors=True)) if argv[0] == "download" else None
                self.case("journal", f"{label} `{' '.join(map(str, argv[:2]))}`",
                          {"now": self.regctl("now", "--store", store, *argv)}, before=before)
            variants = {"now": alias_argv("now")}
            self.case("journal", f"{label} `alias set X bench N`", variants,
                      before=lambda name, v=variants, f=alias_argv: v.update({name: f(name)}))

    def _journal_stores(self):
        """A copy of tiny (file store) and of the test database, each with X/8 registered by regctl."""
        folder = self.work / "journal"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        tiny = base.ensure_store(self.work, "tiny")
        files = folder / "mlruns"
        shutil.copytree(tiny.root, files, symlinks=True)
        database = folder / "mlflow.db"
        shutil.copy(REPO / "tests" / "fixtures" / "mlflow3-db" / "mlflow.db", database)
        with sqlite3.connect(database) as connection:  # MLflow's schema, an empty registry
            for table in ("registered_model_aliases", "model_version_tags", "registered_model_tags",
                          "model_versions", "registered_models"):
                connection.execute(f"DELETE FROM {table}")
        connection.close()
        model = folder / "model"
        model.mkdir()
        (model / "MLmodel").write_text("flavors: {}\n")
        stores = [("file store", str(files), files / "models" / ".regctl%journal.jsonl"),
                  ("SQLite", f"sqlite:///{database}", Path(f"{database}.regctl-journal.jsonl"))]
        for _label, store, _journal in stores:
            for _ in range(8):  # the database's X gets to version 8 as well
                done = subprocess.run([self.python, "-m", "regctl", "--store", store, "register", str(model),
                                       "--name", "X"], env=self.env["now"], capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"pairwise.py: cannot register into {store}: {done.stderr}")
                if done.stdout.strip() == "8":
                    break
        return stores

    def startup(self):
        tiny = base.ensure_store(self.work, "tiny")
        scratch = base.ensure_store(self.work, "tiny", suffix="-scratch-pairwise")
        source = scratch.artifact_dir(7)
        step = {"n": 0}

        def reset(_name):
            base.reset_scratch(scratch)
            step["n"] += 1

        def alias_argv(which):
            return self.regctl(which, "--store", scratch.root, "alias", "set", "X", "bench", str(6 + step["n"] % 2))

        def tag_argv(which):
            return self.regctl(which, "--store", scratch.root, "tag", "X", f"bench={step['n']}")

        database = f"sqlite:///{sqlite_bench.ensure_db(self.work, 'tiny-db')}"
        cases = [
            ("`--version`", lambda w: self.regctl(w, "--version"), None),
            ("`resolve models:/X@champion`", lambda w: self.regctl(w, "--store", tiny.root, "resolve",
                                                                   "models:/X@champion"), None),
            ("SQLite `resolve models:/X@champion`", lambda w: self.regctl(w, "--store", database, "resolve",
                                                                          "models:/X@champion"), None),
            ("`versions X`", lambda w: self.regctl(w, "--store", tiny.root, "versions", "X"), None),
            ("SQLite `versions X`", lambda w: self.regctl(w, "--store", database, "versions", "X"), None),
            ("`models`", lambda w: self.regctl(w, "--store", tiny.root, "models"), None),
            ("`__complete bash 'regctl --store S versions '`", lambda w: self.regctl(
                w, "__complete", "bash", f"regctl --store {tiny.root} versions "), None),
            ("`alias set X bench N`", alias_argv, reset),
            ("`tag X bench=N`", tag_argv, reset),
            ("`register DIR --name X`", lambda w: self.regctl(w, "--store", scratch.root, "register", source,
                                                              "--name", "X"), reset),
        ]
        for label, argv_of, before in cases:
            variants = {"python": ([self.python, "-c", "pass"], "plain"), "now": argv_of("now"),
                        "prev": argv_of("prev")}
            self.case("startup", label, variants, before=self._preparer(variants, argv_of, before))
        self.importtimes(tiny)

    @staticmethod
    def _preparer(variants, argv_of, before):
        def prepare(name):
            if before:
                before(name)
            if name != "python":
                variants[name] = argv_of(name)  # the argv for this step (alias set moves between 6 and 7)
        return prepare

    def importtimes(self, tiny):
        self.imports = []
        for which in ("now", "prev"):
            for label, argv in (("resolve", ["--store", str(tiny.root), "resolve", "models:/X/7"]),
                                ("versions", ["--store", str(tiny.root), "versions", "X"])):
                env = dict(self.env[which])
                done = subprocess.run([self.python, "-X", "importtime", "-m", "regctl", *argv], env=env,
                                      cwd=self.tmp, capture_output=True, text=True)
                rows = []
                for line in done.stderr.splitlines():
                    parts = line.split("|")
                    if len(parts) == 3 and parts[0].startswith("import time:") and parts[1].strip().isdigit():
                        rows.append((int(parts[1]), parts[2].rstrip()))
                top = sorted((r for r in rows if not r[1].startswith("   ")), reverse=True)[:6]
                total = sum(r[0] for r in rows if r[1].startswith(" ") and not r[1].startswith("  "))
                self.imports.append((which, label, len(rows), total, top))

    # ------------------------------------------------------------------ report

    def markdown(self, took):
        out = [BEGIN, "", "## Side by side with the previous release (bench/pairwise.py)", ""]
        load = os.getloadavg()[0]
        out.append(f"`python bench/pairwise.py --prev {self.args.prev} --runs {self.args.runs} "
                   f"--startup-runs {self.args.startup_runs}`; "
                   f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {took:.0f} s, "
                   f"load average (1 min) at the end {load:.2f}; {base.cpu_model()}, {os.cpu_count()} cores; "
                   f"Python {sys.version.split()[0]}. prev = {self._prev_rev()}. Medians of {self.args.runs} "
                   f"interleaved rounds ({self.args.startup_runs} for start-up; min-max in brackets); "
                   "ratios are of medians.")
        out.append("")
        out += self.targets()
        groups = {}
        for group, label, samples in self.rows:
            groups.setdefault(group, []).append((label, samples))
        if "listings" in groups:
            out += ["### File-store listings: wall time", "",
                    "| case | floor (ms) | now (ms) | prev (ms) | now/floor | now/prev | peak RSS now / prev (MiB) |",
                    "|---|---:|---:|---:|---:|---:|---:|"]
            for label, s in groups["listings"]:
                f, n, p = (_med(s[k], 0) for k in ("floor", "now", "prev"))
                out.append(f"| {label} | {_fmt(s['floor'], 0)} | {_fmt(s['now'], 0)} | {_fmt(s['prev'], 0)} | "
                           f"{n / f:.2f}x | {_ratio(n, p)} | {_peak(s['now']):.1f} / {_peak(s['prev']):.1f} |".replace("nan", "n/a"))
            out.append("")
        if "memory" in groups:
            out += ["### Peak RSS of reading commands on deep (1 x 10,000 versions)", "",
                    "| command | now (MiB) | prev (MiB) | now wall (ms) | prev wall (ms) |", "|---|---:|---:|---:|---:|"]
            for label, s in groups["memory"]:
                out.append(f"| {label} | {_peak(s['now']):.1f} | {_peak(s['prev']):.1f} | "
                           f"{_med(s['now'], 0) * 1000:.0f} | {_med(s['prev'], 0) * 1000:.0f} |".replace("nan", "n/a"))
            out.append("")
        if "journal" in groups:
            out += [f"### Peak RSS with a {self.args.journal_mb} MB journal (target: at most 64 MiB)", "",
                    "| command | now (MiB) | now wall (ms) | target |", "|---|---:|---:|---|"]
            for label, s in groups["journal"]:
                out.append(f"| {label} | {_peak(s['now']):.1f} | {_med(s['now'], 0) * 1000:.0f} | "
                           f"{'met' if _peak(s['now']) <= 64 else 'not met'} |")
            out.append("")
        if "startup" in groups:
            out += ["### Start-up: CPU time (user + system) per command on tiny (1 x 3)", "",
                    "| command | python -c pass (ms) | now (ms) | prev (ms) | now/prev | now - python (ms) | "
                    "now wall (ms) |", "|---|---:|---:|---:|---:|---:|---:|"]
            for label, s in groups["startup"]:
                b, n, p = (_med(s[k], 1) for k in ("python", "now", "prev"))
                out.append(f"| {label} | {_fmt(s['python'], 1)} | {_fmt(s['now'], 1)} | {_fmt(s['prev'], 1)} | "
                           f"{_ratio(n, p)} | {(n - b) * 1000:.1f} | {_med(s['now'], 0) * 1000:.1f} |")
            out.append("")
            out += ["`python -X importtime -m regctl ...` (one run each; microseconds, cumulative):", "",
                    "| tree | command | modules | top-level total (ms) | largest top-level imports (ms) |",
                    "|---|---|---:|---:|---|"]
            for which, label, count, total, top in self.imports:
                shown = ", ".join(f"{name.strip()} {us / 1000:.1f}" for us, name in top)
                out.append(f"| {which} | {label} | {count} | {total / 1000:.1f} | {shown} |")
            out.append("")
        out.append(END)
        return "\n".join(out)

    def targets(self) -> list:
        """The performance targets this run can judge, each met or not with its figure."""
        rows = {(group, label): samples for group, label, samples in self.rows}
        judged = []

        def judge(what, value, limit, shown):
            if value == value:  # not NaN: the case ran
                judged.append((what, shown, "met" if value <= limit else "not met"))

        def wall(label, variant="now"):
            return _med(rows.get(("listings", label), {}).get(variant, []), 0) * 1000

        judge("`versions X`, 1 x 10,000: at most 500 ms", wall("deep (1x10000) `versions X`"), 500,
              f"{wall('deep (1x10000) `versions X`'):.0f} ms")
        flat = rows.get(("flat", "`versions X --limit 20`: deep (1x10000) and wide (1000x50)"), {})
        deep20, wide20 = (_med(flat.get(k, []), 0) * 1000 for k in ("deep", "wide"))
        judge("`versions X --limit 20` flat in model size (10,000 vs 50 versions, interleaved; within 1.2x)",
              deep20 / wide20, 1.2, f"{deep20:.0f} vs {wide20:.0f} ms")
        judge("`models`, 1,000 x 50: at most 250 ms", wall("wide (1000x50) `models`"), 250,
              f"{wall('wide (1000x50) `models`'):.0f} ms")
        search, five = wall("five (5x10000) `search --max-results 50000`"), wall("five (5x10000) `versions X`")
        judge("`search` over 50,000 versions within 2x of `versions` over the same files (5 x `versions X`)",
              search / (5 * five), 2, f"{search:.0f} ms vs 5 x {five:.0f} ms = {search / (5 * five):.2f}x")
        peaks = [(label, _peak(s["now"])) for (group, label), s in rows.items() if group in ("memory", "journal")]
        if peaks:
            label, worst = max(peaks, key=lambda item: item[1])
            judge("peak RSS of every command, 1 x 10,000 and a 200 MB journal: at most 64 MiB", worst, 64,
                  f"largest {worst:.1f} MiB ({label})")
        for (group, label), s in rows.items():
            if group != "startup":
                continue
            now, prev, bare = (_med(s.get(k, []), 1) for k in ("now", "prev", "python"))
            judge(f"{label}: CPU at most the previous release's", now / prev, 1.0,
                  f"{now * 1000:.1f} vs {prev * 1000:.1f} ms ({now / prev:.2f}x)")
            if label.startswith(("`alias set", "`register", "`tag")):
                judge(f"{label}: CPU at most 5x a bare interpreter", now / bare, 5, f"{now / bare:.2f}x")
            if "`resolve" in label or label.startswith("`__complete"):
                judge(f"{label}: CPU at most 1.3x a bare interpreter", now / bare, 1.3, f"{now / bare:.2f}x")
        if not judged:
            return []
        return (["### Targets", "", "| target | figure | |", "|---|---|---|"]
                + [f"| {what} | {shown} | {verdict} |" for what, shown, verdict in judged] + [""])

    def _prev_rev(self):
        done = subprocess.run(["git", "-C", str(self.prev), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True)
        return f"`{done.stdout.strip() or self.prev}`"


def _pad_journal(path: Path, size: int) -> None:
    """Append committed alias changes of another model to the journal until it is ``size`` bytes."""
    import json

    with open(path, "ab") as journal:
        n = 0
        while journal.tell() < size:
            lines = []
            for _ in range(1000):
                n += 1
                txn = f"{n:016x}"
                lines.append(json.dumps({
                    "changes": [{"op": "write", "path": "models/other/aliases/a", "text": str(n)},
                                {"op": "write", "path": "models/other/meta.yaml", "text": "name: other\n" * 4}],
                    "entries": [{"model": "other", "new": str(n), "old": str(n - 1), "operation": "alias.set",
                                 "target": "a"}],
                    "host": "bench", "phase": "intent", "time": 1_700_000_000_000 + n, "txn": txn, "user": "bench"},
                    sort_keys=True))
                lines.append(json.dumps({"phase": "commit", "time": 1_700_000_000_000 + n, "txn": txn}))
            journal.write(("\n".join(lines) + "\n").encode())


def _ratio(a, b):
    return "n/a" if b != b else f"{a / b:.2f}x"  # b != b: NaN, a command the previous release lacks


def _med(samples, index):
    return statistics.median(s[index] for s in samples) if samples else float("nan")


def _fmt(samples, index):
    if not samples:
        return "n/a"
    values = sorted(s[index] * 1000 for s in samples)
    return f"{statistics.median(values):.0f} [{values[0]:.0f}-{values[-1]:.0f}]" if values[-1] >= 100 else \
        f"{statistics.median(values):.1f} [{values[0]:.1f}-{values[-1]:.1f}]"


def _peak(samples):
    return max((s[2] for s in samples), default=float("nan"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prev", required=True, help="a checkout of the previous release (git worktree)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with regctl's dependencies")
    parser.add_argument("--runs", type=int, default=7, help="interleaved rounds per case (default 7)")
    parser.add_argument("--startup-runs", type=int, default=21,
                        help="interleaved rounds per start-up case (default 21): a few milliseconds apart")
    parser.add_argument("--only", action="append", choices=["listings", "memory", "journal", "startup"])
    parser.add_argument("--journal-mb", type=int, default=200, help="journal size for the journal group (default 200)")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "regctl-bench"))
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"), help="'-' prints the block only")
    args = parser.parse_args(argv)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    bench = Bench(args)
    started = time.perf_counter()
    home = os.getcwd()
    os.chdir(bench.tmp)  # every process runs here (python -m puts its working directory first on sys.path)
    try:
        for group in args.only or ["listings", "memory", "journal", "startup"]:
            print(f"{group}:", flush=True)
            getattr(bench, group)()
    finally:
        os.chdir(home)
        shutil.rmtree(bench.tmp, ignore_errors=True)
    block = bench.markdown(time.perf_counter() - started)
    if args.output == "-":
        print(block)
        return
    path = Path(args.output)
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
