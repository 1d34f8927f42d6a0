#!/usr/bin/env python3
"""Benchmark regctl against MLflow's MlflowClient and a bare interpreter.

Generates three synthetic MLflow file stores (cached in a work directory),
then times whole processes, side by side:

* ``regctl`` through its console script and through ``python -m regctl``;
* the same operation done by a short script using ``mlflow.MlflowClient``;
* ``python -c pass`` (the floor for any Python CLI).

Each command gets one warm-up run, then the median of several runs is
reported, with peak memory (``ru_maxrss`` of the child, from ``os.wait4``).
The table is printed and written to ``bench/RESULTS.md`` with the machine it
ran on and the performance targets, each marked met or missed.

Usage::

    python bench/run.py                     # full run (about an hour: see below)
    python bench/run.py --quick             # smoke run: fewer runs, slowest MLflow cases skipped
    python bench/run.py --skip-slow-mlflow  # full regctl runs, MLflow only where it takes seconds
    python bench/run.py --only deep --runs 11
    python bench/run.py --mlflow-python /path/to/python --work /var/tmp/regctl-bench

MLflow's file store parses every version file on most calls (all versions
of all models for a search), so on the deep store and for searches on the
wide one a single MLflow call takes minutes. Those cases run once, capped at
``--mlflow-timeout`` seconds (a capped time is reported as a lower bound), and
dominate the duration of a full run.

Standard library plus PyYAML (used to write the stores as MLflow does).
"""

import argparse
import datetime
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "RESULTS.md"

# --------------------------------------------------------------------- stores

GENERATOR_VERSION = 1
MODEL = "X"
ALIAS = "champion"
ALIAS_VERSION = 7
WRITE_ALIAS = "bench"  # the alias moved by the `alias set` benchmark (champion stays put)
ARTIFACT_DIRS = 4  # versions share a few artifact directories to keep generation fast
BASE_TS = 1_700_000_000_000

# models, versions per model, first version number. Tiny numbers its versions
# 5..7 (gaps are legal: MLflow numbers versions max+1) so that every store has
# a version 7 for the alias and for models:/X/7.
STORES = {
    "tiny": {"models": 1, "versions": 3, "first": 5},
    "wide": {"models": 1000, "versions": 50, "first": 1},
    "deep": {"models": 1, "versions": 10000, "first": 1},
}
STORE_LABEL = {"tiny": "tiny (1x3)", "wide": "wide (1000x50)", "deep": "deep (1x10000)"}

YAML_OPTIONS = {"default_flow_style": False, "allow_unicode": True, "sort_keys": True}
# Integers no real field holds; replaced textually in a safe_dump() output, which
# yields exactly what safe_dump() would write for the real integers (plain scalars).
_SENTINEL_VERSION = 987654321
_SENTINEL_CREATED = 1111111111111
_SENTINEL_UPDATED = 2222222222222

MLMODEL = """artifact_path: model
flavors:
  python_function:
    env:
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.skops
    python_version: 3.11.0
  sklearn:
    code: null
    pickled_model: model.skops
    serialization_format: skops
    sklearn_version: 1.9.1
mlflow_version: 3.17.2
model_size_bytes: 1024
model_uuid: 00000000000000000000000000000000
utc_time_created: '2023-11-14 22:13:20.000000'
"""


@dataclass
class StoreInfo:
    kind: str
    base: Path  # <work>/<kind>
    root: Path  # the mlruns/ directory
    model_names: List[str]
    version_numbers: List[int]  # of model X, ascending

    @property
    def latest(self) -> int:
        return self.version_numbers[-1]

    def artifact_dir(self, version: int) -> Path:
        return self.base / "artifacts" / f"a{version % ARTIFACT_DIRS}"


def _model_names(spec) -> List[str]:
    return [MODEL] + [f"model-{i:04d}" for i in range(1, spec["models"])]


def store_info(base: Path, kind: str) -> StoreInfo:
    spec = STORES[kind]
    first = spec["first"]
    return StoreInfo(kind, base, base / "mlruns", _model_names(spec), list(range(first, first + spec["versions"])))


def ensure_store(work: Path, kind: str, *, suffix: str = "", regenerate: bool = False) -> StoreInfo:
    """The store ``kind`` under ``work``, generated unless a complete copy is cached there."""
    base = work / (kind + suffix)
    info = store_info(base, kind)
    marker = base / "complete.json"
    wanted = {"generator": GENERATOR_VERSION, "spec": STORES[kind], "base": str(base)}
    if not regenerate and marker.is_file():
        try:
            if json.loads(marker.read_text()) == wanted:
                return info
        except ValueError:
            pass
    if base.exists():
        shutil.rmtree(base)
    started = time.perf_counter()
    generate(info)
    marker.write_text(json.dumps(wanted))
    print(f"  generated {kind}{suffix} store in {time.perf_counter() - started:.1f} s: {info.root}", flush=True)
    return info


def generate(info: StoreInfo) -> None:
    """Write an MLflow 3 style store: default experiment, registered models and their versions."""
    try:
        import yaml
    except ImportError:
        raise SystemExit("run.py: generating the stores needs PyYAML in the interpreter running this script") from None

    dump = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    def safe_dump(data) -> str:
        return yaml.dump(data, Dumper=dump, **YAML_OPTIONS)

    root = info.root
    for k in range(ARTIFACT_DIRS):
        directory = info.base / "artifacts" / f"a{k}"
        directory.mkdir(parents=True)
        (directory / "MLmodel").write_text(MLMODEL)
    (root / ".trash").mkdir(parents=True)
    (root / "0").mkdir()
    (root / "0" / "meta.yaml").write_text(safe_dump({
        "artifact_location": (root / "0").as_uri(), "creation_time": BASE_TS,
        "effective_trace_archival_retention": None, "experiment_id": "0",
        "last_update_time": BASE_TS, "lifecycle_stage": "active", "name": "Default",
        "trace_location": None, "workspace": "default",
    }))
    models = root / "models"
    models.mkdir()
    last_ts = BASE_TS + 1000 * info.version_numbers[-1] + 500
    for index, name in enumerate(info.model_names):
        model_dir = models / name
        model_dir.mkdir()
        aliases = {}
        if name == MODEL:
            aliases = {ALIAS: str(ALIAS_VERSION)}
            (model_dir / "aliases").mkdir()
            (model_dir / "aliases" / ALIAS).write_text(str(ALIAS_VERSION))
        (model_dir / "meta.yaml").write_text(safe_dump({
            "aliases": aliases, "creation_timestamp": BASE_TS + index, "deployment_job_id": None,
            "deployment_job_state": None, "description": None, "last_updated_timestamp": last_ts + index,
            "name": name, "workspace": "default",
        }))
        templates = []
        for k in range(ARTIFACT_DIRS):
            location = (info.base / "artifacts" / f"a{k}").as_uri()
            templates.append(safe_dump({
                "creation_timestamp": _SENTINEL_CREATED, "current_stage": "None", "deployment_job_state": None,
                "description": None, "last_updated_timestamp": _SENTINEL_UPDATED, "model_id": None,
                "name": name, "run_id": None, "run_link": None, "source": location, "status": "READY",
                "status_message": None, "storage_location": location, "user_id": None,
                "version": _SENTINEL_VERSION, "workspace": "default",
            }))
        for version in info.version_numbers:
            created = BASE_TS + 1000 * version + index
            text = (templates[version % ARTIFACT_DIRS]
                    .replace(f"version: {_SENTINEL_VERSION}\n", f"version: {version}\n")
                    .replace(f"creation_timestamp: {_SENTINEL_CREATED}\n", f"creation_timestamp: {created}\n")
                    .replace(f"last_updated_timestamp: {_SENTINEL_UPDATED}\n", f"last_updated_timestamp: {created}\n"))
            version_dir = model_dir / f"version-{version}"
            version_dir.mkdir()
            with open(version_dir / "meta.yaml", "w", encoding="utf-8") as handle:
                handle.write(text)
    # The textual substitution must give exactly what safe_dump writes.
    for path in (models / MODEL / f"version-{ALIAS_VERSION}" / "meta.yaml", models / MODEL / "meta.yaml"):
        text = path.read_text(encoding="utf-8")
        if safe_dump(yaml.safe_load(text)) != text:
            raise SystemExit(f"generator bug: {path} is not what PyYAML's safe_dump writes")


def reset_scratch(info: StoreInfo) -> None:
    """Undo what the write benchmarks did: versions above the generated ones, the bench alias."""
    model_dir = info.root / "models" / MODEL
    highest = info.latest
    for entry in os.listdir(model_dir):
        if entry.startswith("version-"):
            try:
                number = int(entry[len("version-"):])
            except ValueError:
                number = highest + 1
            if number > highest:
                shutil.rmtree(model_dir / entry)
        elif entry.startswith(".regctl-tmp-"):
            path = model_dir / entry
            shutil.rmtree(path) if path.is_dir() else path.unlink()


# -------------------------------------------------------------- MLflow script

MLFLOW_SCRIPT = '''\
"""One registry operation through mlflow.MlflowClient (written by bench/run.py)."""
import sys

op, uri, args = sys.argv[1], sys.argv[2], sys.argv[3:]
from mlflow import MlflowClient

client = MlflowClient(tracking_uri=uri, registry_uri=uri)
if op == "alias":
    name, alias = args
    mv = client.get_model_version_by_alias(name, alias)
    print(client.get_model_version_download_uri(name, mv.version))
elif op == "latest":
    (name,) = args
    mv = max(client.get_latest_versions(name), key=lambda m: int(m.version))
    print(client.get_model_version_download_uri(name, mv.version))
elif op == "version":
    name, version = args
    print(client.get_model_version_download_uri(name, version))
elif op == "versions":
    name = args[0]
    if len(args) > 1:
        mvs = client.search_model_versions(f"name='{name}'", max_results=int(args[1]),
                                           order_by=["version_number DESC"])
    else:  # one page holding every version (the largest page MLflow allows)
        mvs = client.search_model_versions(f"name='{name}'", max_results=200000)
    print("\\n".join(f"{m.version}\\t{m.current_stage}\\t{m.source}" for m in mvs))
elif op == "models":
    token, lines = None, []
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        lines += [f"{m.name}\\t{max((int(v.version) for v in m.latest_versions), default='')}" for m in page]
        token = page.token
        if not token:
            break
    print("\\n".join(lines))
elif op == "register":
    name, source = args
    print(client.create_model_version(name, source).version)
elif op == "alias-set":
    name, alias, version = args
    client.set_registered_model_alias(name, alias, version)
else:
    raise SystemExit(f"unknown operation {op}")
'''


# ------------------------------------------------------------------ the cases

@dataclass
class Op:
    key: str
    label: str
    regctl: Callable  # (StoreInfo, step) -> argv after "regctl --store ROOT"
    mlflow: Callable  # (StoreInfo, step) -> argv after "mlflow_op.py"
    check: Callable  # (StoreInfo, stdout, "regctl" or "mlflow", step) -> error text or None
    writes: bool = False


def _lines(stdout: str) -> int:
    return len([line for line in stdout.splitlines() if line.strip()])


def _expect_path(version_of: Callable):
    def check(info, out, variant, step):
        expected = info.artifact_dir(version_of(info))
        got = out.strip()
        if variant == "mlflow":
            got = got[len("file://"):] if got.startswith("file://") else got
        return None if got == str(expected) else f"printed {got[:200]!r}, expected {str(expected)!r}"
    return check


def _expect_rows(count_of: Callable):
    def check(info, out, variant, step):
        wanted = count_of(info)
        got = _lines(out)
        # piped, regctl prints TSV: one line per row, no header (the script prints one line per row too)
        ok = got == wanted
        return None if ok else f"printed {got} lines for {wanted} rows"
    return check


def _expect_register(info, out, variant, step):
    wanted = info.latest + 1
    if out.strip() != str(wanted):
        return f"printed {out.strip()[:200]!r}, expected {wanted}"
    meta = info.root / "models" / MODEL / f"version-{wanted}" / "meta.yaml"
    if not meta.is_file() or f"version: {wanted}\n" not in meta.read_text(encoding="utf-8"):
        return f"{meta} is missing or not version {wanted}"
    return None


def _expect_alias(info, out, variant, step):
    path = info.root / "models" / MODEL / "aliases" / WRITE_ALIAS
    got = path.read_text(encoding="utf-8") if path.is_file() else None
    return None if got == _alias_target(step) else f"{path} holds {got!r}, expected {_alias_target(step)!r}"


def _alias_target(step: int) -> str:
    return str(6 + step % 2)  # alternate, so every call really moves the alias


OPS = [
    Op("resolve-alias", f"resolve models:/X@{ALIAS}",
       lambda s, i: ["resolve", f"models:/{MODEL}@{ALIAS}"],
       lambda s, i: ["alias", MODEL, ALIAS],
       _expect_path(lambda s: ALIAS_VERSION)),
    Op("resolve-latest", "resolve models:/X/latest",
       lambda s, i: ["resolve", f"models:/{MODEL}/latest"],
       lambda s, i: ["latest", MODEL],
       _expect_path(lambda s: s.latest)),
    Op("resolve-version", f"resolve models:/X/{ALIAS_VERSION}",
       lambda s, i: ["resolve", f"models:/{MODEL}/{ALIAS_VERSION}"],
       lambda s, i: ["version", MODEL, str(ALIAS_VERSION)],
       _expect_path(lambda s: ALIAS_VERSION)),
    Op("versions", "versions X",
       lambda s, i: ["versions", MODEL],
       lambda s, i: ["versions", MODEL],
       _expect_rows(lambda s: len(s.version_numbers))),
    Op("versions-20", "versions X --limit 20",
       lambda s, i: ["versions", MODEL, "--limit", "20"],
       lambda s, i: ["versions", MODEL, "20"],
       _expect_rows(lambda s: min(20, len(s.version_numbers)))),
    Op("models", "models",
       lambda s, i: ["models"],
       lambda s, i: ["models"],
       _expect_rows(lambda s: len(s.model_names))),
    Op("register", "register DIR --name X",
       lambda s, i: ["register", str(s.artifact_dir(i)), "--name", MODEL],
       lambda s, i: ["register", MODEL, str(s.artifact_dir(i))],
       _expect_register, writes=True),
    Op("alias-set", f"alias set X {WRITE_ALIAS} N",
       lambda s, i: ["alias", "set", MODEL, WRITE_ALIAS, _alias_target(i)],
       lambda s, i: ["alias-set", MODEL, WRITE_ALIAS, _alias_target(i)],
       _expect_alias, writes=True),
]
OP_BY_KEY = {op.key: op for op in OPS}

# MLflow cases that take minutes per call: MLflow's file store parses every
# version of the model (every version of every model for a search), and builds
# a MlflowClient for each version it reads (about 15-20 ms per version file).
# One run, no separate warm-up, capped by --mlflow-timeout; skipped by --quick.
SLOW_MLFLOW = {("wide", "models"), ("wide", "versions"), ("wide", "versions-20")} | {
    ("deep", op.key) for op in OPS}


# ------------------------------------------------------------------- timing

@dataclass
class Sample:
    seconds: float
    code: int
    maxrss_kib: int
    stdout: str
    stderr: str
    timed_out: bool = False


def run_once(command: List[str], env: Dict[str, str], cwd: Path, timeout: float) -> Sample:
    """Run one process to completion (killed after ``timeout``); wall time and the child's own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd)
        killed = threading.Event()

        def kill():
            killed.set()
            process.kill()

        killer = threading.Timer(timeout, kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            elapsed = time.perf_counter() - started
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Sample(elapsed, process.returncode, usage.ru_maxrss, out.read().decode("utf-8", "replace"),
                      err.read().decode("utf-8", "replace"), timed_out=killed.is_set())


@dataclass
class Variant:
    key: str  # "regctl", "regctl -m", "mlflow"
    command: Callable  # step -> full argv
    env: Dict[str, str]
    runs: int
    timeout: float
    warmup: bool = True
    check: Optional[Callable] = None  # (stdout, step) -> error or None
    samples: List[Sample] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def median(self) -> Optional[float]:
        return statistics.median(s.seconds for s in self.samples) if self.samples and not self.error else None

    @property
    def lower_bound(self) -> bool:
        """True when a run was stopped at the time limit: the median is then only a lower bound."""
        return any(s.timed_out for s in self.samples)

    @property
    def peak_mib(self) -> Optional[float]:
        return max(s.maxrss_kib for s in self.samples) / 1024 if self.samples and not self.error else None


@dataclass
class Result:
    store: str
    op: Op
    variants: Dict[str, Variant]
    note: str = ""


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.work).resolve() if args.work else Path(tempfile.gettempdir()) / "regctl-bench"
        self.python = args.python
        self.script = Path(self.python).parent / "regctl"
        if not (self.script.is_file() and os.access(self.script, os.X_OK)):
            self.script = None
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
        for name in ("COLUMNS", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"):
            self.base_env.pop(name, None)
        if args.no_bytecode_cache:
            self.base_env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            # Installed packages run from cached bytecode; an editable install (or an
            # environment with PYTHONDONTWRITEBYTECODE=1) would otherwise recompile
            # regctl's modules on every call. The cache lives in the work directory.
            self.base_env["PYTHONPYCACHEPREFIX"] = str(self.work / "pycache")
        self.mlflow_env = dict(self.base_env, MLFLOW_ALLOW_FILE_STORE="true",
                               MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
        self.mlflow_python, self.mlflow_version, self.mlflow_note = find_mlflow(args.mlflow_python, args.no_mlflow)
        self.bare: List[Sample] = []
        self.results: List[Result] = []
        self.step = itertools.count()
        self.notes: List[str] = []

    # ---------------------------------------------------------------- runs

    def run_bare(self) -> None:
        sample = run_once([self.python, "-c", "pass"], self.base_env, self.work, self.args.timeout)
        if sample.code == 0:
            self.bare.append(sample)

    def sample(self, variant: Variant, step: int, timed: bool, before=None) -> None:
        if variant.error or variant.lower_bound:
            return
        if before:
            before()
        sample = run_once(variant.command(step), variant.env, self.work, variant.timeout)
        if sample.timed_out and variant.key == "mlflow":
            # Stopped at the limit (even in a warm-up): keep it as the one, lower-bound, measurement.
            variant.samples.append(sample)
            return
        if sample.timed_out:
            problem = f"killed after {variant.timeout:g} s"
        elif sample.code != 0:
            last = sample.stderr.strip().splitlines()[-1:] or [""]
            problem = f"exit {sample.code}: {last[0][:300]}"
        else:
            problem = variant.check(sample.stdout, step) if variant.check else None
        if problem:
            variant.error = problem
            return
        sample.stdout = sample.stderr = ""  # checked; do not keep large listings in memory
        if timed:
            variant.samples.append(sample)

    def measure(self, info: StoreInfo, op: Op) -> Result:
        args = self.args
        store_root = str(info.root)
        variants = []
        regctl_runs = args.runs
        if self.script:
            variants.append(Variant("regctl", lambda i: [str(self.script), "--store", store_root] + op.regctl(info, i),
                                    self.base_env, regctl_runs, args.timeout))
        variants.append(Variant("regctl -m", lambda i: [self.python, "-m", "regctl", "--store", store_root] + op.regctl(info, i),
                                self.base_env, regctl_runs, args.timeout))
        note = ""
        if self.mlflow_python:
            slow = (info.kind, op.key) in SLOW_MLFLOW
            if slow and (args.quick or args.skip_slow_mlflow):
                note = "skipped (slow)"
            else:
                uri = info.root.as_uri()
                # The store is also the global tracking/registry URI: MLflow's file store
                # builds MlflowClient() for each version it reads, which otherwise opens
                # (and creates) ./mlflow.db and is slower still.
                env = dict(self.mlflow_env, MLFLOW_TRACKING_URI=uri, MLFLOW_REGISTRY_URI=uri)

                def command(i):
                    operation, *rest = op.mlflow(info, i)
                    return [self.mlflow_python, str(self.work / "mlflow_op.py"), operation, uri] + rest

                variants.append(Variant("mlflow", command, env, args.slow_runs if slow else args.mlflow_runs,
                                        args.mlflow_timeout, warmup=not slow))
        for variant in variants:
            kind = "mlflow" if variant.key == "mlflow" else "regctl"
            variant.check = (lambda out, step, k=kind: op.check(info, out, k, step))
        before = (lambda: reset_scratch(info)) if op.writes else None
        for variant in variants:
            if variant.warmup:
                self.sample(variant, next(self.step), timed=False, before=before)
        # Interleave the variants (and a bare interpreter) run by run, so load
        # changes on a shared machine hit them alike.
        for round_index in range(max(v.runs for v in variants)):
            self.run_bare()
            for variant in variants:
                if round_index < variant.runs:
                    self.sample(variant, next(self.step), timed=True, before=before)
        if op.writes:
            reset_scratch(info)
        result = Result(info.kind, op, {v.key: v for v in variants}, note)
        self.report_line(result)
        return result

    def run(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "mlflow_op.py").write_text(MLFLOW_SCRIPT)
        kinds = self.args.only or list(STORES)
        print(f"work directory: {self.work}", flush=True)
        stores, scratch = {}, {}
        for kind in kinds:
            stores[kind] = ensure_store(self.work, kind, regenerate=self.args.regenerate)
            scratch[kind] = ensure_store(self.work, kind, suffix="-scratch", regenerate=self.args.regenerate)
            reset_scratch(scratch[kind])
        self.run_bare()  # warm-up
        if self.mlflow_python:
            # Fill the bytecode cache for MLflow once, so that the slow cases, which
            # have no warm-up of their own, do not pay for it.
            tiny = ensure_store(self.work, "tiny")
            uri = tiny.root.as_uri()
            run_once([self.mlflow_python, str(self.work / "mlflow_op.py"), "version", uri, MODEL, str(ALIAS_VERSION)],
                     dict(self.mlflow_env, MLFLOW_TRACKING_URI=uri, MLFLOW_REGISTRY_URI=uri), self.work,
                     self.args.mlflow_timeout)
        self.load_before = os.getloadavg()
        started = time.perf_counter()
        for kind in kinds:
            print(f"\n== {STORE_LABEL[kind]}", flush=True)
            for op in OPS:
                info = scratch[kind] if op.writes else stores[kind]
                self.results.append(self.measure(info, op))
        self.elapsed = time.perf_counter() - started
        self.load_after = os.getloadavg()

    # -------------------------------------------------------------- output

    @property
    def bare_median(self) -> Optional[float]:
        return statistics.median(s.seconds for s in self.bare) if self.bare else None

    def primary(self, result: Result) -> Optional[Variant]:
        """The variant targets are judged on: the console script users call, else ``-m``."""
        return result.variants.get("regctl") or result.variants.get("regctl -m")

    def report_line(self, result: Result) -> None:
        parts = []
        for key, variant in result.variants.items():
            parts.append(f"{key} {_cell(variant)}")
        extra = f"  [{result.note}]" if result.note else ""
        print(f"  {result.op.label:<28} " + " | ".join(parts) + extra, flush=True)
        for key, variant in result.variants.items():
            if variant.error:
                print(f"    {key} failed: {variant.error}", flush=True)

    def find(self, kind: str, op_key: str) -> Optional[Result]:
        for result in self.results:
            if result.store == kind and result.op.key == op_key:
                return result
        return None

    def table(self) -> List[str]:
        bare = self.bare_median
        rows = [
            "| store | command | regctl (ms) | python -m regctl (ms) | MLflow client (ms) | regctl/MLflow "
            "| MLflow÷regctl | regctl/python | peak RSS (MiB) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for result in self.results:
            main = self.primary(result)
            script = result.variants.get("regctl")
            module = result.variants.get("regctl -m")
            mlflow = result.variants.get("mlflow")
            ratio = speedup = vs_bare = ""
            if main and main.median and mlflow and mlflow.median:
                bound = mlflow.lower_bound
                ratio = ("< " if bound else "") + f"{main.median / mlflow.median:.4f}"
                speedup = ("> " if bound else "") + f"{mlflow.median / main.median:.0f}x"
            if main and main.median and bare:
                vs_bare = f"{main.median / bare:.2f}x"
            rows.append("| " + " | ".join([
                STORE_LABEL[result.store], f"`{result.op.label}`", _cell(script), _cell(module),
                _cell(mlflow, result.note or ("not run" if not self.mlflow_python else "")),
                ratio, speedup, vs_bare, _mib(main.peak_mib) if main else "",
            ]) + " |")
        return rows

    def targets(self) -> List[List[str]]:
        """Rows: target, case, measured, status."""
        bare = self.bare_median
        rows = []

        def value(kind, op_key, what):
            result = self.find(kind, op_key)
            if not result:
                return None
            main = self.primary(result)
            mlflow = result.variants.get("mlflow")
            if what == "time":
                return main.median if main else None
            if what == "bare":
                return main.median / bare if main and main.median and bare else None
            if what == "speedup":
                if not (main and main.median and mlflow and mlflow.median):
                    return None
                speedup = mlflow.median / main.median
                return (speedup, True) if mlflow.lower_bound else speedup
            if what == "mem":
                return main.peak_mib if main else None
            return None

        measured_stores = {r.store for r in self.results}

        def add(target, case, measured, ok, shown):
            if not any(case.startswith(STORE_LABEL[k]) for k in measured_stores):
                return  # a store left out with --only
            bound = isinstance(measured, tuple)  # (value, True): a lower bound on a speed-up
            if bound:
                measured = measured[0]
            if measured is None:
                status = "not measured"
            elif ok(measured):
                status = "met" + (" (MLflow hit the time limit; speed-up is a lower bound)" if bound else "")
            else:
                status = "undetermined (MLflow hit the time limit)" if bound else "MISSED"
            rows.append([target, case, "" if measured is None else (">= " if bound else "") + shown(measured), status])

        for kind in STORES:
            for op_key in ("resolve-alias", "resolve-version"):
                label = f"{STORE_LABEL[kind]} `{OP_BY_KEY[op_key].label}`"
                add("resolve by alias/version <= 3x bare python", label, value(kind, op_key, "bare"),
                    lambda v: v <= 3, lambda v: f"{v:.2f}x")
                add("resolve by alias/version >= 30x faster than MLflow", label, value(kind, op_key, "speedup"),
                    lambda v: v >= 30, lambda v: f"{v:.0f}x")
        for kind in ("wide", "deep"):
            for op_key in ("resolve-alias", "resolve-version"):
                here, tiny = value(kind, op_key, "time"), value("tiny", op_key, "time")
                add("resolve on wide/deep within 1.2x of tiny", f"{STORE_LABEL[kind]} `{OP_BY_KEY[op_key].label}`",
                    here / tiny if here and tiny else None, lambda v: v <= 1.2, lambda v: f"{v:.2f}x")
        for kind, op_key in (("deep", "resolve-latest"), ("wide", "models")):
            label = f"{STORE_LABEL[kind]} `{OP_BY_KEY[op_key].label}`"
            add("< 1 s", label, value(kind, op_key, "time"), lambda v: v < 1, _ms_unit)
            add(">= 10x faster than MLflow", label, value(kind, op_key, "speedup"), lambda v: v >= 10, lambda v: f"{v:.0f}x")
        add("versions --limit 20 < 150 ms", f"{STORE_LABEL['deep']} `{OP_BY_KEY['versions-20'].label}`",
            value("deep", "versions-20", "time"), lambda v: v < 0.150, _ms_unit)
        label = f"{STORE_LABEL['deep']} `{OP_BY_KEY['versions'].label}`"
        add("versions (all 10,000) < 2 s", label, value("deep", "versions", "time"), lambda v: v < 2, _ms_unit)
        add("versions (all) >= 5x faster than MLflow search_model_versions", label,
            value("deep", "versions", "speedup"), lambda v: v >= 5, lambda v: f"{v:.0f}x")
        for kind in STORES:
            for op_key in ("register", "alias-set"):
                add("register / alias set <= 5x bare python", f"{STORE_LABEL[kind]} `{OP_BY_KEY[op_key].label}`",
                    value(kind, op_key, "bare"), lambda v: v <= 5, lambda v: f"{v:.2f}x")
        for op in OPS:
            add("peak memory on wide < 60 MiB", f"{STORE_LABEL['wide']} `{op.label}`",
                value("wide", op.key, "mem"), lambda v: v < 60, lambda v: f"{v:.1f} MiB")
        return rows

    def machine(self) -> List[List[str]]:
        py = subprocess.run([self.python, "-c", "import platform, sys, yaml, regctl; print(platform.python_version());"
                             "print(regctl.__version__); print(yaml.__version__, 'with libyaml' if yaml.__with_libyaml__ "
                             "else 'pure Python')"], capture_output=True, text=True, env=self.base_env)
        python_version, regctl_version, yaml_version = (py.stdout.splitlines() + ["?"] * 3)[:3]
        return [
            ["date (UTC)", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")],
            ["CPU", cpu_model()],
            ["cores", f"{os.cpu_count()} ({len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'} usable)"],
            ["load average (1 min) before / after", f"{self.load_before[0]:.2f} / {self.load_after[0]:.2f}"],
            ["OS", platform.platform()],
            ["filesystem of the stores", filesystem_of(self.work)],
            ["Python (regctl)", f"{python_version} ({self.python})"],
            ["regctl", f"{regctl_version}; console script: {self.script or 'not installed'}"],
            ["PyYAML", yaml_version],
            ["MLflow", f"{self.mlflow_version} ({self.mlflow_python})" if self.mlflow_python else f"not run: {self.mlflow_note}"],
        ]

    def markdown(self) -> str:
        args = self.args
        bare = self.bare_median
        lines = [
            "# regctl benchmark results",
            "",
            "Written by `bench/run.py`" + (" in **quick mode** (smoke run: few runs, slow MLflow cases skipped; "
                                           "not representative)" if args.quick else "") + ".",
            f"Command: `{' '.join(['python', 'bench/run.py'] + sys.argv[1:])}`; "
            f"measuring took {self.elapsed:.0f} s.",
            "",
            "## Machine",
            "",
            "| | |",
            "|---|---|",
        ]
        lines += [f"| {k} | {v} |" for k, v in self.machine()]
        lines += [
            "",
            "## Method",
            "",
            "Whole processes are timed (fork to exit, `time.perf_counter`), each after one untimed warm-up, "
            f"the median of {args.runs} runs for regctl, {args.mlflow_runs} for MLflow "
            f"({args.slow_runs} without a separate warm-up for the slowest MLflow cases). Variants of one command "
            "run interleaved, together with a bare `python -c pass`, so load changes on a shared machine affect "
            "them alike. stdout and stderr go to temporary files; every run's output is checked "
            "(the path printed, the number of rows, the version registered).",
            "",
            "* **regctl**: the installed console script (what users call); **python -m regctl**: the module.",
            "  Targets are judged on the console script.",
            "* **MLflow client**: a short script using `mlflow.MlflowClient` on the same store "
            "(`MLFLOW_ALLOW_FILE_STORE=true`, the store also as `MLFLOW_TRACKING_URI`/`MLFLOW_REGISTRY_URI`, "
            "telemetry disabled): `get_model_version_by_alias` + "
            "`get_model_version_download_uri` (alias), `get_latest_versions` + download URI (latest), "
            "`get_model_version_download_uri` (version), `search_model_versions` (one page with every version; "
            "`max_results=20, order_by=version_number DESC` for `--limit 20`), `search_registered_models` "
            "(pages of 1000), `create_model_version`, `set_registered_model_alias`. Its time includes "
            "importing MLflow, as a CLI call would.",
            "* **bare python**: `python -c pass` with the same interpreter"
            + (f": median {_ms_unit(bare)} over {len(self.bare)} runs." if bare else "."),
            f"* MLflow runs are stopped after {args.mlflow_timeout:g} s (`--mlflow-timeout`); such a time is shown "
            "as `> N (time limit)` and gives only a lower bound on the speed-up. With a model of 10,000 versions "
            "(or a search over 1,000 x 50 versions) every MLflow call takes minutes: its file store parses every "
            "version file and builds a `MlflowClient` for each. "
            + ("These cases were skipped in this run." if args.quick or args.skip_slow_mlflow else ""),
            ("* Bytecode: every process runs with `PYTHONDONTWRITEBYTECODE=1` (`--no-bytecode-cache`), so regctl's "
             "modules (an editable install has no `.pyc`) are compiled on every call."
             if args.no_bytecode_cache else
             "* Bytecode: every process runs with `PYTHONPYCACHEPREFIX=<work>/pycache` (and without "
             "`PYTHONDONTWRITEBYTECODE`), so modules run from cached bytecode as they do after a normal install; "
             "the warm-ups fill the cache."),
            "* Peak RSS: `ru_maxrss` of the child process (`os.wait4`), the highest over the timed runs.",
            "",
            "Stores (generated by the script as MLflow 3.17 writes them, PyYAML `safe_dump`; cached in the work "
            "directory): **tiny** = 1 model x 3 versions (5, 6, 7); **wide** = 1,000 models x 50 versions; "
            f"**deep** = 1 model x 10,000 versions. Model `{MODEL}` has alias `{ALIAS}` -> version {ALIAS_VERSION}; "
            "each version's source and storage location is a local directory holding an `MLmodel` file. "
            "`register` and `alias set` run on a second copy of each store; every registered version is "
            "removed again before the next run, so the store keeps its size. `alias set` moves the alias "
            f"`{WRITE_ALIAS}` between versions 6 and 7 so that every call writes.",
            "",
            "## Results (medians)",
            "",
        ]
        lines += self.table()
        lines += ["", "Spread of the timed runs (ms):", "",
                  "| store | command | variant | runs | min | median | max |", "|---|---|---|---:|---:|---:|---:|"]
        for result in self.results:
            for key, variant in result.variants.items():
                if variant.samples and not variant.error:
                    times = [s.seconds for s in variant.samples]
                    lines.append(f"| {STORE_LABEL[result.store]} | `{result.op.label}` | {key} | {len(times)} "
                                 f"| {_ms(min(times))} | {_cell(variant)} | {_ms(max(times))} |")
        if self.bare:
            times = [s.seconds for s in self.bare]
            lines.append(f"| | `python -c pass` | bare python | {len(times)} | {_ms(min(times))} "
                         f"| {_ms(self.bare_median)} | {_ms(max(times))} |")
        lines += ["", "## Targets", "", "| target | case | measured | status |", "|---|---|---:|---|"]
        target_rows = self.targets()
        lines += ["| " + " | ".join(row) + " |" for row in target_rows]
        met = sum(1 for r in target_rows if r[3] == "met")
        missed = sum(1 for r in target_rows if r[3] == "MISSED")
        lines += ["", f"{met} met, {missed} missed, {len(target_rows) - met - missed} not measured."]
        failures = [(r, k, v) for r in self.results for k, v in r.variants.items() if v.error]
        if failures or self.notes or self.mlflow_note:
            lines += ["", "## Notes", ""]
            if self.mlflow_note and not self.mlflow_python:
                lines.append(f"* MLflow columns skipped: {self.mlflow_note}.")
            lines += [f"* {note}" for note in self.notes]
            lines += [f"* {STORE_LABEL[r.store]} `{r.op.label}` ({k}) failed: {v.error}" for r, k, v in failures]
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ helpers

def _ms(seconds: Optional[float]) -> str:
    return "" if seconds is None else f"{seconds * 1000:.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


def _ms_unit(seconds: float) -> str:
    return f"{_ms(seconds)} ms"


def _mib(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.1f}"


def _cell(variant: Optional[Variant], missing: str = "") -> str:
    if variant is None:
        return missing
    if variant.error:
        return "FAILED"
    if variant.lower_bound:
        return f"> {_ms(variant.median)} (time limit)"
    return _ms(variant.median)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def filesystem_of(path: Path) -> str:
    try:
        best = ("", "?")
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype = line.split()[:3]
            if str(path).startswith(mount) and len(mount) > len(best[0]):
                best = (mount, fstype)
        return f"{best[1]} (mounted at {best[0]})"
    except OSError:
        return "?"


def find_mlflow(requested: Optional[str], disabled: bool):
    """(python, version, note): the interpreter that runs the MLflow script, or None with a reason."""
    if disabled:
        return None, None, "--no-mlflow given"
    python = requested or sys.executable
    probe = subprocess.run([python, "-c", "import importlib.metadata as m, importlib.util as u; "
                            "print(m.version('mlflow') if u.find_spec('mlflow') else '')"],
                           capture_output=True, text=True)
    version = probe.stdout.strip()
    if probe.returncode != 0 or not version:
        note = f"{python} cannot import mlflow (use --mlflow-python)"
        if requested:
            raise SystemExit(f"run.py: {note}")
        return None, None, note
    return python, version, ""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter with regctl installed (default: this one); its bin/regctl is the console script")
    parser.add_argument("--mlflow-python", help="interpreter with mlflow installed (default: this one if it has mlflow)")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow columns")
    parser.add_argument("--work", help="directory for the generated stores (cached; default: $TMPDIR/regctl-bench)")
    parser.add_argument("--runs", type=int, help="timed runs per regctl command (default 7; 3 with --quick)")
    parser.add_argument("--mlflow-runs", type=int, help="timed runs per MLflow operation (default 3; 1 with --quick)")
    parser.add_argument("--slow-runs", type=int, default=1, help="timed runs for the slowest MLflow cases (default 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer runs, skip the slowest MLflow cases")
    parser.add_argument("--only", action="append", choices=list(STORES), help="only this store (repeatable)")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the stores even if cached")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="run with PYTHONDONTWRITEBYTECODE=1 and no cache prefix: modules without a .pyc "
                             "(an editable install's) are compiled on every call")
    parser.add_argument("--skip-slow-mlflow", action="store_true",
                        help="skip the MLflow cases that take minutes (every deep case; models/versions on wide)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds before a regctl run is killed and counted as a failure (default 120)")
    parser.add_argument("--mlflow-timeout", type=float, default=300.0,
                        help="seconds before an MLflow run is stopped; its time then counts as a lower bound (default 300)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="Markdown file to write (default bench/RESULTS.md)")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 3 if args.quick else 7
    if args.mlflow_runs is None:
        args.mlflow_runs = 1 if args.quick else 3
    if args.only:
        args.only = [k for k in STORES if k in args.only]
    return args


# the sections of RESULTS.md other benches write (bench/sqlite.py, server.py, pairwise.py, sqlfloor.py)
KEPT_SECTIONS = [("<!-- sqlite benchmark: begin", "<!-- sqlite benchmark: end -->"),
                 ("<!-- begin server -->", "<!-- end server -->"),
                 ("<!-- pairwise: begin -->", "<!-- pairwise: end -->"),
                 ("<!-- sqlfloor: begin -->", "<!-- sqlfloor: end -->"),
                 ("<!-- begin server floors -->", "<!-- end server floors -->")]


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench = Bench(args)
    if bench.mlflow_note:
        print(f"note: MLflow columns skipped: {bench.mlflow_note}")
    bench.run()
    text = bench.markdown()
    output = Path(args.output)
    old = output.read_text(encoding="utf-8") if output.exists() else ""
    for begin, end in KEPT_SECTIONS:  # the other benches' sections stay, in this order
        if begin in old and end in old:
            text = text.rstrip("\n") + "\n\n" + old[old.index(begin):old.index(end) + len(end)] + "\n"
    output.write_text(text, encoding="utf-8")
    print()
    print("\n".join(bench.table()))
    print()
    for row in bench.targets():
        print(f"  {row[3]:<12} {row[0]}: {row[1]} = {row[2]}")
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
