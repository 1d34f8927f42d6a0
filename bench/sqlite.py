#!/usr/bin/env python3
"""Benchmark regctl on MLflow's SQLite database against MLflow's client and a bare interpreter.

Builds two databases with MLflow 3.17's schema (a copy of the fixture database
``tests/fixtures/mlflow3-db/mlflow.db``, whose registry rows are replaced by
generated ones; cached in the work directory):

* **wide-db**: 1,000 models x 50 versions;
* **deep-db**: 1 model x 10,000 versions.

Model ``X`` has the alias ``champion`` -> version 7 and every version's
location is a local directory holding an ``MLmodel`` file. Whole processes are
timed as in ``bench/run.py`` (its helpers are reused): each command after one
untimed warm-up, the median of several runs, interleaved with MLflow's client
on the same database and a bare ``python -c pass``; peak RSS from ``os.wait4``.
The results replace the ``sqlite`` section of ``bench/RESULTS.md`` (``run.py``
keeps that section when it rewrites the file).

Usage::

    python bench/sqlite.py                 # about 5 minutes on 2 cores
    python bench/sqlite.py --runs 11 --mlflow-runs 5
"""

import argparse
import datetime
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from run import MLFLOW_SCRIPT, _mib, _ms, _ms_unit, cpu_model, filesystem_of, find_mlflow, run_once  # noqa: E402

BEGIN, END = "<!-- sqlite benchmark: begin (bench/sqlite.py) -->", "<!-- sqlite benchmark: end -->"
TEMPLATE = REPO / "tests" / "fixtures" / "mlflow3-db" / "mlflow.db"
GENERATOR_VERSION = 1
MODEL, ALIAS, ALIAS_VERSION, WRITE_ALIAS = "X", "champion", 7, "bench"
ARTIFACT_DIRS = 4
BASE_TS = 1_700_000_000_000
STORES = {"wide-db": (1000, 50), "deep-db": (1, 10000)}
LABEL = {"wide-db": "wide (1000x50) database", "deep-db": "deep (1x10000) database"}
REGISTRY_TABLES = ("model_version_tags", "registered_model_aliases", "registered_model_tags", "model_versions",
                   "registered_models")


# ------------------------------------------------------------------ databases

def artifact_dir(base: Path, version: int) -> Path:
    return base / "artifacts" / f"a{version % ARTIFACT_DIRS}"


def ensure_db(work: Path, kind: str, suffix: str = "") -> Path:
    """``<work>/<kind><suffix>/mlflow.db``, generated unless a complete copy is cached."""
    base = work / (kind + suffix)
    database = base / "mlflow.db"
    marker = base / "complete"
    wanted = f"{GENERATOR_VERSION} {STORES[kind]} {base}"
    if marker.is_file() and marker.read_text() == wanted:
        return database
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    started = time.perf_counter()
    for k in range(ARTIFACT_DIRS):
        directory = base / "artifacts" / f"a{k}"
        directory.mkdir(parents=True)
        (directory / "MLmodel").write_text("flavors: {}\n")
    shutil.copyfile(TEMPLATE, database)
    models, versions = STORES[kind]
    names = [MODEL] + [f"model-{i:04d}" for i in range(1, models)]
    connection = sqlite3.connect(database)
    with connection:
        for table in REGISTRY_TABLES:
            connection.execute(f"DELETE FROM {table}")
        last = BASE_TS + 1000 * versions + 500
        connection.executemany(
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description, workspace) "
            "VALUES (?, ?, ?, NULL, 'default')", [(name, BASE_TS + i, last + i) for i, name in enumerate(names)])
        rows = ((name, v, BASE_TS + 1000 * v + i, BASE_TS + 1000 * v + i, "None", str(artifact_dir(base, v)),
                 str(artifact_dir(base, v)), "READY")
                for i, name in enumerate(names) for v in range(1, versions + 1))
        connection.executemany(
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, current_stage, source, "
            "storage_location, status, workspace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'default')", rows)
        connection.execute("INSERT INTO registered_model_aliases (alias, version, name, workspace) "
                           "VALUES (?, ?, ?, 'default')", (ALIAS, ALIAS_VERSION, MODEL))
    connection.execute("VACUUM")
    connection.close()
    marker.write_text(wanted)
    print(f"  generated {kind}{suffix} in {time.perf_counter() - started:.1f} s: {database}", flush=True)
    return database


def reset(database: Path, versions: int) -> None:
    """Undo the write benchmarks: versions above the generated ones, the bench alias, the journal."""
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("DELETE FROM model_version_tags WHERE name = ? AND version > ?", (MODEL, versions))
        connection.execute("DELETE FROM model_versions WHERE name = ? AND version > ?", (MODEL, versions))
        connection.execute("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", (MODEL, WRITE_ALIAS))
    connection.close()
    Path(str(database) + ".regctl-journal.jsonl").unlink(missing_ok=True)


# ---------------------------------------------------------------------- cases

def cases(kind: str, base: Path):
    """(key, label, regctl argv, MLflow script argv, check(stdout, variant, step), writes)."""
    models, versions = STORES[kind]

    def path_of(version):
        def check(out, variant, step):
            return None if out.strip() == str(artifact_dir(base, version)) else f"printed {out.strip()[:200]!r}"
        return check

    def rows(count):
        def check(out, variant, step):
            got = len([line for line in out.splitlines() if line.strip()])
            return None if got == count + (variant != "mlflow") else f"printed {got} lines for {count} rows"
        return check

    def registered(out, variant, step):
        return None if out.strip() == str(versions + 1) else f"printed {out.strip()[:100]!r}"

    found = [
        ("resolve-alias", f"resolve models:/X@{ALIAS}", lambda i: ["resolve", f"models:/{MODEL}@{ALIAS}"],
         lambda i: ["alias", MODEL, ALIAS], path_of(ALIAS_VERSION), False),
        ("resolve-version", f"resolve models:/X/{ALIAS_VERSION}", lambda i: ["resolve", f"models:/{MODEL}/{ALIAS_VERSION}"],
         lambda i: ["version", MODEL, str(ALIAS_VERSION)], path_of(ALIAS_VERSION), False),
        ("resolve-latest", "resolve models:/X/latest", lambda i: ["resolve", f"models:/{MODEL}/latest"],
         lambda i: ["latest", MODEL], path_of(versions), False),
        ("versions-20", "versions X --limit 20", lambda i: ["versions", MODEL, "--limit", "20"],
         lambda i: ["versions", MODEL, "20"], rows(min(20, versions)), False),
        ("versions", "versions X", lambda i: ["versions", MODEL], lambda i: ["versions", MODEL], rows(versions), False),
        ("models", "models", lambda i: ["models"], lambda i: ["models"], rows(models), False),
        ("register", "register DIR --name X", lambda i: ["register", str(artifact_dir(base, i)), "--name", MODEL],
         lambda i: ["register", MODEL, str(artifact_dir(base, i))], registered, True),
        ("alias-set", f"alias set X {WRITE_ALIAS} N", lambda i: ["alias", "set", MODEL, WRITE_ALIAS, str(6 + i % 2)],
         lambda i: ["alias-set", MODEL, WRITE_ALIAS, str(6 + i % 2)], lambda out, variant, step: None, True),
    ]
    if kind == "deep-db":  # 10,000 versions: one model, so listing models says nothing new
        found = [c for c in found if c[0] != "models"]
    return found


# -------------------------------------------------------------------- running

class Variant:
    def __init__(self, key, command, env, runs, check):
        self.key, self.command, self.env, self.runs, self.check = key, command, env, runs, check
        self.samples, self.error = [], None

    @property
    def median(self):
        return statistics.median(s.seconds for s in self.samples) if self.samples and not self.error else None

    @property
    def peak_mib(self):
        return max(s.maxrss_kib for s in self.samples) / 1024 if self.samples and not self.error else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter running regctl (default: this one)")
    parser.add_argument("--mlflow-python", help="interpreter with mlflow (default: this one)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "regctl-bench-sqlite"))
    parser.add_argument("--runs", type=int, default=7, help="timed runs per regctl command (default 7)")
    parser.add_argument("--mlflow-runs", type=int, default=3, help="timed runs per MLflow operation (default 3)")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args(argv)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "mlflow_op.py").write_text(MLFLOW_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    for name in ("COLUMNS", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env.setdefault("PYTHONPATH", str(REPO))  # this checkout's regctl
    mlflow_env = dict(env, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    mlflow_python, mlflow_version, note = find_mlflow(args.mlflow_python, False)
    script = Path(args.python).parent / "regctl"
    script = script if script.is_file() and os.access(script, os.X_OK) else None
    bare, results, step = [], [], [0]
    load_before = os.getloadavg()
    started = time.perf_counter()
    for kind in STORES:
        database = ensure_db(work, kind)
        scratch = ensure_db(work, kind, "-scratch")
        versions = STORES[kind][1]
        print(f"\n== {LABEL[kind]}", flush=True)
        for key, label, regctl_args, mlflow_args, check, writes in cases(kind, database.parent):
            target = scratch if writes else database
            uri = f"sqlite:///{target}"
            variants = []
            if script:
                variants.append(Variant("regctl", lambda i, a=regctl_args, u=uri: [str(script), "--store", u] + a(i),
                                        env, args.runs, check))
            variants.append(Variant("regctl -m", lambda i, a=regctl_args, u=uri: [args.python, "-m", "regctl",
                                                                                   "--store", u] + a(i),
                                    env, args.runs, check))
            if mlflow_python:
                variants.append(Variant("mlflow", lambda i, a=mlflow_args, u=uri: [mlflow_python,
                                        str(work / "mlflow_op.py"), a(i)[0], u] + a(i)[1:],
                                        dict(mlflow_env, MLFLOW_TRACKING_URI=uri, MLFLOW_REGISTRY_URI=uri),
                                        args.mlflow_runs, check))

            def sample(variant, timed, writes=writes, target=target, versions=versions):
                if variant.error:
                    return
                if writes:
                    reset(target, versions)
                step[0] += 1
                done = run_once(variant.command(step[0]), variant.env, work, args.timeout)
                problem = (f"exit {done.code}: {done.stderr.strip()[-300:]}" if done.code else
                           "timed out" if done.timed_out else variant.check(done.stdout, variant.key, step[0]))
                if problem:
                    variant.error = problem
                elif timed:
                    done.stdout = done.stderr = ""
                    variant.samples.append(done)

            for variant in variants:
                sample(variant, timed=False)
            for round_index in range(max(v.runs for v in variants)):
                probe = run_once([args.python, "-c", "pass"], env, work, args.timeout)
                if probe.code == 0:
                    bare.append(probe)
                for variant in variants:
                    if round_index < variant.runs:
                        sample(variant, timed=True)
            if writes:
                reset(target, versions)
            results.append((kind, key, label, {v.key: v for v in variants}))
            print(f"  {label:<28} " + " | ".join(
                f"{v.key} {'FAILED: ' + v.error if v.error else _ms(v.median)}" for v in variants), flush=True)
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()
    text = markdown(args, results, bare, mlflow_python, mlflow_version, script, work, elapsed, load_before, load_after)
    output = Path(args.output)
    old = output.read_text(encoding="utf-8") if output.exists() else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + text + "\n"
    output.write_text(new, encoding="utf-8")
    print(f"\nwritten to {output}")
    return 0


def markdown(args, results, bare, mlflow_python, mlflow_version, script, work, elapsed, load_before, load_after) -> str:
    bare_median = statistics.median(s.seconds for s in bare) if bare else None
    lines = [BEGIN, "", "## MLflow's SQLite database (`--store sqlite:///...`)", "",
             f"Written by `python bench/sqlite.py` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
             f"in {elapsed:.0f} s; load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
             f"{cpu_model()}, {os.cpu_count()} cores, {platform.platform()}, {filesystem_of(work)}; "
             f"Python {platform.python_version()}; MLflow {mlflow_version or 'not run'}; "
             f"SQLite {sqlite3.sqlite_version}.", "",
             "Two databases with MLflow 3.17's schema (`alembic_version` dc11669786a5; a copy of the fixture database "
             "with generated registry rows): **wide** = 1,000 models x 50 versions, **deep** = 1 model x 10,000 "
             f"versions; model `{MODEL}` has alias `{ALIAS}` -> version {ALIAS_VERSION}. Method as above: whole "
             f"processes, one warm-up, median of {args.runs} runs for regctl and {args.mlflow_runs} for MLflow's client "
             "(the same `mlflow_op.py` operations, with the database as tracking and registry URI), interleaved "
             "with a bare `python -c pass`"
             + (f" (median {_ms_unit(bare_median)} over {len(bare)} runs)" if bare_median else "")
             + "; every output checked; peak RSS is `ru_maxrss` of the child. `register` and `alias set` run on a "
               "second copy, reset before every run.", "",
             "| store | command | regctl (ms) | python -m regctl (ms) | MLflow client (ms) | MLflow÷regctl "
             "| regctl/python | peak RSS (MiB) |", "|---|---|---:|---:|---:|---:|---:|---:|"]

    def cell(variant):
        return "" if variant is None else "FAILED" if variant.error else _ms(variant.median)

    targets = []
    for kind, key, label, variants in results:
        main = variants.get("regctl") or variants.get("regctl -m")
        mlflow = variants.get("mlflow")
        speedup = mlflow.median / main.median if main and main.median and mlflow and mlflow.median else None
        vs_bare = main.median / bare_median if main and main.median and bare_median else None
        lines.append("| " + " | ".join([LABEL[kind], f"`{label}`", cell(variants.get("regctl")),
                                         cell(variants.get("regctl -m")), cell(mlflow),
                                         f"{speedup:.0f}x" if speedup else "", f"{vs_bare:.2f}x" if vs_bare else "",
                                         _mib(main.peak_mib) if main else ""]) + " |")
        if kind == "wide-db" and key.startswith("resolve-") and key != "resolve-latest":
            targets.append(("resolve <= 3x bare python", f"{LABEL[kind]} `{label}`", vs_bare, lambda v: v <= 3,
                            lambda v: f"{v:.2f}x"))
            targets.append(("resolve >= 30x faster than MLflow's client", f"{LABEL[kind]} `{label}`", speedup,
                            lambda v: v >= 30, lambda v: f"{v:.0f}x"))
        if kind == "deep-db" and key == "versions-20":
            targets.append(("versions --limit 20 on 10,000 versions < 150 ms", f"{LABEL[kind]} `{label}`",
                            main.median if main else None, lambda v: v < 0.150, _ms_unit))
        if main:
            targets.append(("peak memory < 60 MiB", f"{LABEL[kind]} `{label}`", main.peak_mib, lambda v: v < 60,
                            lambda v: f"{v:.1f} MiB"))
    lines += ["", "| target | case | measured | status |", "|---|---|---:|---|"]
    met = 0
    for target, case, value, ok, shown in targets:
        status = "not measured" if value is None else "met" if ok(value) else "MISSED"
        met += status == "met"
        lines.append(f"| {target} | {case} | {'' if value is None else shown(value)} | {status} |")
    lines += ["", f"{met} of {len(targets)} targets met.", "", END]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
