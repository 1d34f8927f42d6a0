#!/usr/bin/env python3
"""Benchmark regctl against MLflow's client on a live local MLflow tracking server.

Starts ``mlflow server`` (SQLite backend, artifact proxy) on 127.0.0.1 and a
free port, then times whole processes, interleaved in rounds so that load on a
shared machine affects all alike:

* ``regctl resolve models:/X@champion`` vs a script doing
  ``MlflowClient.get_model_version_by_alias`` + ``get_model_version_download_uri``;
* ``regctl alias set X bench N`` vs ``MlflowClient.set_registered_model_alias``;
* ``python -c pass`` (the floor for any Python CLI);

and ``regctl push`` of a local store of 200 versions with small artifacts to the
server (versions per second), the same push again (nothing to copy), the server
back into a new local store, and the server into a second server, once for each
``--jobs`` value (``push --jobs N``; between two values the pushed models are
renamed away on both servers, so every push copies all versions). ``--floor``
adds the same requests as a push into a server sent by a bare ``http.client``
loop (uploads on N threads, versions created in order): what the server allows;
and the versions' creation requests alone (their logged models made first, untimed):
the most versions per second the server registers, whatever the client does.
The results replace the block between ``<!-- begin server -->`` and
``<!-- end server -->`` in bench/RESULTS.md (``bench/run.py`` keeps that block
when it rewrites the file).

**Floors** (``--only floors``, or after the above): a second server on a copy of
bench/sqlite.py's 1,000 x 50 database; each listing (``models``, ``versions X``,
``versions X --limit 20``, ``search --max-results 50000``) by regctl beside
``bench/floor_http.py``, a bare http.client loop making the same REST calls
(the server's own time is the floor), as whole processes interleaved with
``python -c pass``, and in process (the library call against the loop's
``listing()``, alternating; the number of requests each made is checked equal).
Target: within 1.3x. These results replace the block between
``<!-- begin server floors -->`` and ``<!-- end server floors -->``.

Usage::

    python bench/server.py                 # 7 rounds, 200 versions, push with --jobs 1 and 4, then the floors
    python bench/server.py --rounds 3 --versions 50 --output /tmp/results.md
    python bench/server.py --only floors --rounds 5 --search-rounds 3
    python bench/server.py --push-only --jobs 1,4,8 --floor --server-workers 2
    python bench/server.py --push-only --regctl-root /path/to/other/checkout   # time another regctl

Needs MLflow (with its server) in this interpreter.
"""

import argparse
import datetime
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from run import cpu_model, run_once  # noqa: E402

BEGIN, END = "<!-- begin server -->", "<!-- end server -->"

MLFLOW_RESOLVE = """
import sys
from mlflow import MlflowClient
client = MlflowClient(sys.argv[1])
version = client.get_model_version_by_alias("X", "champion")
print(client.get_model_version_download_uri("X", version.version))
"""
MLFLOW_ALIAS = """
import sys
from mlflow import MlflowClient
MlflowClient(sys.argv[1]).set_registered_model_alias("X", "bench", sys.argv[2])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(work: Path, database: Optional[Path] = None, workers: int = 1):
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    command = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
               f"sqlite:///{database or work / 'mlflow.db'}", "--artifacts-destination", str(work / "artifacts"),
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "REGCTL_"))}
    log = open(work / "server.log", "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=work, env=env,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"mlflow server exited:\n{(work / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=5):
                return url, process
        except OSError:
            time.sleep(0.25)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("mlflow server did not come up in 180 s")


def stop_server(process) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def env_for(work: Path, root: Path = ROOT) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "REGCTL_"))}
    env.update(PYTHONPATH=str(root), PYTHONPYCACHEPREFIX=str(work / "pycache"), XDG_STATE_HOME=str(work / "state"),
               MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", GIT_PYTHON_REFRESH="quiet")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def checked(sample, label):
    if sample.code != 0:
        raise SystemExit(f"{label} failed ({sample.code}): {sample.stderr[-2000:]}")
    return sample


def floor(url: str, versions: int, jobs: int, name: str, creates_only: bool = False) -> float:
    """Versions/s of the requests a push into a server makes, sent by a bare http.client loop: per
    version a logged model, its two files and manifest, marked ready (on ``jobs`` threads), then the
    version created (in order, on this thread). ``creates_only``: the logged models are made first,
    untimed, and only the versions' creation is timed: the most versions/s the server registers."""
    import http.client
    import json
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    local = threading.local()

    def call(method, path, body=None, raw=None):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = json.dumps(body).encode() if body is not None else raw
        kind = "application/json" if body is not None else "application/octet-stream"
        conn.request(method, path, body=data, headers={"Content-Type": kind})
        answer = conn.getresponse()
        text = answer.read()
        if answer.status >= 300:
            raise SystemExit(f"floor: {method} {path}: HTTP {answer.status} {text[:200]!r}")
        return json.loads(text) if text.startswith(b"{") else None

    def upload(number):
        info = call("POST", "/api/2.0/mlflow/logged-models", {"experiment_id": "0", "name": "model"})["model"]["info"]
        where = info["artifact_uri"].split("mlflow-artifacts:/", 1)[1].lstrip("/")
        for file, size in (("MLmodel", 32), ("weights.bin", 2048), ("manifest.json", 300)):
            call("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{where}/{file}", raw=os.urandom(size))
        model_id = info["model_id"]
        call("PATCH", f"/api/2.0/mlflow/logged-models/{model_id}", {"model_id": model_id, "status": "LOGGED_MODEL_READY"})
        return model_id

    call("POST", "/api/2.0/mlflow/registered-models/create", {"name": name})
    made = [upload(number) for number in range(versions)] if creates_only else []
    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        for model_id in made or pool.map(upload, range(versions)):
            call("POST", "/api/2.0/mlflow/model-versions/create",
                 {"name": name, "source": f"models:/{model_id}", "model_id": model_id, "tags": [{"key": "n", "value": "1"}]})
    return versions / (time.perf_counter() - started)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per command (default 7)")
    parser.add_argument("--versions", type=int, default=200, help="versions to push (default 200)")
    parser.add_argument("--jobs", default="1,4", help="push --jobs values to time, comma-separated (default 1,4; "
                        "0: without --jobs, for a regctl that has none)")
    parser.add_argument("--push-only", action="store_true", help="time only the pushes (after a short warm-up)")
    parser.add_argument("--floor", action="store_true", help="also time a bare HTTP loop making a push's requests")
    parser.add_argument("--server-workers", type=int, default=1, help="mlflow server --workers (default 1)")
    parser.add_argument("--regctl-root", default=str(ROOT), help="the checkout whose regctl is timed (default: this one)")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--work", default=None, help="work directory (default: a temporary one, removed)")
    parser.add_argument("--only", choices=["client", "floors"], help="only regctl vs MLflow's client and push, "
                        "or only the floors (default: both)")
    parser.add_argument("--inner", type=int, default=7, help="in-process calls of each variant, floors (default 7)")
    parser.add_argument("--search-rounds", type=int, default=3,
                        help="rounds for the 50,000-version search, floors (default 3)")
    parser.add_argument("--db-work", default=str(Path(tempfile.gettempdir()) / "regctl-bench-sqlite"),
                        help="where bench/sqlite.py's databases are cached")
    args = parser.parse_args(argv)
    if args.only != "client" and not args.push_only:
        from server_floors import run_floors

        floors = Path(args.work) / "floors" if args.work else Path(tempfile.mkdtemp(prefix="regctl-bench-floors-"))
        floors.mkdir(parents=True, exist_ok=True)
        try:
            run_floors(args, floors, env_for(floors), start_server, stop_server)
        finally:
            if not args.work:
                shutil.rmtree(floors, ignore_errors=True)
        if args.only == "floors":
            return 0
    jobs_values = [int(j) for j in args.jobs.split(",") if j.strip()]
    work = Path(args.work or tempfile.mkdtemp(prefix="regctl-bench-server-"))
    work.mkdir(parents=True, exist_ok=True)
    env = env_for(work, Path(args.regctl_root))
    py = sys.executable
    regctl = [py, "-m", "regctl"]
    (work / "resolve.py").write_text(MLFLOW_RESOLVE)
    (work / "alias.py").write_text(MLFLOW_ALIAS)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    url, process = start_server(work, workers=args.server_workers)
    second = None
    try:
        model = work / "model"
        (model / "data").mkdir(parents=True, exist_ok=True)
        (model / "MLmodel").write_text("flavors: {}\n")
        (model / "data" / "weights.bin").write_bytes(os.urandom(4096))
        for alias in ("champion", None):
            command = regctl + ["--store", url, "register", str(model), "--name", "X"]
            checked(run_once(command + (["--alias", alias] if alias else []), env, work, 300), "register")
        cases = {
            "resolve": {"regctl": regctl + ["--store", url, "resolve", "models:/X@champion"],
                        "mlflow": [py, str(work / "resolve.py"), url]},
            "alias set": {"regctl": lambda n: regctl + ["--store", url, "alias", "set", "X", "bench", str(n)],
                          "mlflow": lambda n: [py, str(work / "alias.py"), url, str(n)]},
        }
        bare = []
        times = {(case, tool): [] for case in cases for tool in ("regctl", "mlflow")}
        rounds = 1 if args.push_only else args.rounds + 1  # round 0 warms up (the server too)
        for round_ in range(rounds):
            bare_sample = checked(run_once([py, "-c", "pass"], env, work, 60), "python")
            for case, tools in cases.items():
                for tool, command in tools.items():
                    if callable(command):
                        command = command(1 + round_ % 2 if tool == "regctl" else 2 - round_ % 2)
                    sample = checked(run_once(command, env, work, 300), f"{tool} {case}")
                    if round_:
                        times[(case, tool)].append(sample.seconds)
            if round_:
                bare.append(bare_sample.seconds)

        # push: a local store of N versions with small artifacts, written through the API
        sys.path.insert(0, str(ROOT))
        from regctl.api import Registry

        source = work / "source" / "mlruns"
        registry = Registry(str(source))
        for number in range(1, args.versions + 1):
            version_dir = work / "sources" / f"v{number}"
            version_dir.mkdir(parents=True)
            (version_dir / "MLmodel").write_text(f"flavors: {{}}\n# {number}\n")
            (version_dir / "weights.bin").write_bytes(os.urandom(2048))
            registry.register(str(version_dir), "pushed", tags={"n": str(number)})
        registry.set_alias("pushed", "champion", args.versions)
        second, second_process = start_server(work / "second", workers=args.server_workers)
        for server in (url, second):  # a new server is slow for its first requests: warmed up alike
            floor(server, 30, 2, "warm-up")
        pushes = {}
        floors = {}
        creates = 0.0
        for jobs in jobs_values:
            j = ["--jobs", str(jobs)] if jobs else []  # 0: no --jobs (a regctl that has none)
            for label, command in [
                ("push", regctl + ["--store", str(source), "push", "pushed", "--to", url, *j]),
                ("push again", regctl + ["--store", str(source), "push", "pushed", "--to", url, *j]),
                ("pull", regctl + ["push", "pushed", "--from", url, "--to", str(work / f"offline-{jobs}" / "mlruns"), *j]),
                ("server to server", regctl + ["push", "pushed", "--from", url, "--to", second, *j]),
            ]:
                pushes[(label, jobs)] = checked(run_once(command, env, work, 3600), f"{label} --jobs {jobs}")
            for store in (url, second):  # the next --jobs value copies every version again
                checked(run_once(regctl + ["--store", store, "rename", "pushed", f"pushed-{jobs}"], env, work, 300),
                        "rename")
            if args.floor and jobs:
                floors[jobs] = floor(url, args.versions, jobs, f"floor-{jobs}")
        if args.floor:
            creates = floor(url, args.versions, 1, "floor-creates", creates_only=True)
    finally:
        stop_server(process)
        if second is not None:
            stop_server(second_process)
    elapsed = time.perf_counter() - started

    def med(values):
        return statistics.median(values)

    workers = "one worker" if args.server_workers == 1 else f"{args.server_workers} workers (`--workers {args.server_workers}`)"
    command = "python bench/server.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [BEGIN, "## Tracking server", "",
             f"Written by `bench/server.py` (`{command.strip()}`), "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {elapsed:.0f} s; {cpu_model()}, "
             f"{os.cpu_count()} cores, load average {load_before:.2f} before / {os.getloadavg()[0]:.2f} after.", "",
             f"`mlflow server` 3.17 with a SQLite backend and the artifact proxy, on 127.0.0.1, {workers}."]
    if not args.push_only:
        lines[-1] += (f" Whole processes, median of {args.rounds} interleaved rounds after a warm-up; regctl as "
                      "`python -m regctl` from this checkout; the MLflow client as a short `MlflowClient` script (its "
                      f"time includes importing MLflow, as a CLI call would). A bare `python -c pass`: {med(bare) * 1000:.0f} ms.")
        lines += ["", "| command | regctl (ms) | MLflow client (ms) | MLflow ÷ regctl | goal |", "|---|---:|---:|---:|---|"]
        for case, what in [("resolve", "`resolve models:/X@champion` (alias lookup + download URI)"),
                           ("alias set", "`alias set X bench N` (moves the alias every call)")]:
            mine, theirs = med(times[(case, "regctl")]), med(times[(case, "mlflow")])
            ratio = theirs / mine
            lines.append(f"| {what} | {mine * 1000:.0f} | {theirs * 1000:.0f} | {ratio:.1f}x | "
                         f"{'met' if ratio >= 10 else 'missed'} (>= 10x) |")
    lines += ["", "| push | --jobs | versions | seconds | versions/s |", "|---|---:|---:|---:|---:|"]
    for label, what in [("push", f"`push` local mlruns/ -> server ({args.versions} versions, 2 small files each)"),
                        ("push again", "the same `push` again (everything already there: nothing copied)"),
                        ("pull", "`push --from server --to` a new local mlruns/"),
                        ("server to server", "`push --from server --to` a second server")]:
        for jobs in jobs_values:
            seconds = pushes[(label, jobs)].seconds
            lines.append(f"| {what} | {jobs or '-'} | {args.versions} | {seconds:.1f} | {args.versions / seconds:.1f} |")
    for jobs, rate in floors.items():
        lines.append(f"| a bare `http.client` loop making the requests of `push` mlruns/ -> server (uploads on "
                     f"{jobs} thread(s)) | {jobs} | {args.versions} | {args.versions / rate:.1f} | {rate:.1f} |")
    if args.floor:
        lines.append(f"| the same loop's `model-versions/create` requests alone (logged models made first, untimed): "
                     f"the most versions/s the server registers | 1 | {args.versions} | {args.versions / creates:.1f} | "
                     f"{creates:.1f} |")
    lines.append(END)
    block = "\n".join(lines) + "\n"
    output = Path(args.output)
    text = output.read_text(encoding="utf-8") if output.exists() else ""
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    output.write_text(text, encoding="utf-8")
    print(block)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
