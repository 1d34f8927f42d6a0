"""Live MLflow tracking servers for the tests, one per backend kind per test session.

``sqlite_server``: ``mlflow server`` on a SQLite database; ``postgres_server``:
on a real PostgreSQL 16 started by the ``pgserver`` package (MLflow connects
with ``psycopg``). Both proxy artifacts (``--artifacts-destination``), listen on
127.0.0.1 on a free port, and are stopped (their whole process group) at the
end of the session. A fixture skips, with the reason, only when the packages
to start it are missing; a server that is installed but does not come up is
an error, with the end of its log.

Loaded as a plugin by ``conftest.py``, so that every test module shares the
same servers.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

STARTUP_TIMEOUT = 180  # seconds: two shared cores, a cold MLflow import and its database migrations


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running ``mlflow server``: its URL, artifact destination and process."""

    def __init__(self, kind: str, url: str, artifacts: Path, process, log: Path, cleanup=()):
        self.kind, self.url, self.artifacts, self.process, self.log = kind, url, artifacts, process, log
        self.cleanup = list(cleanup)

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=3)  # its data is thrown away: no need to wait for a graceful stop
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        for action in reversed(self.cleanup):
            try:
                action()
            except Exception:
                pass


def _mlflow_command():
    script = Path(sys.executable).parent / "mlflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlflow"]


def start_mlflow_server(kind: str, backend_uri: str, workdir: Path, cleanup=()) -> Server:
    """Start ``mlflow server`` and wait for ``/health``."""
    pytest.importorskip("mlflow", reason="the mlflow package (with its server) is not installed")
    port = free_port()
    artifacts = workdir / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    log = workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "REGCTL_"))}
    env["GIT_PYTHON_REFRESH"] = "quiet"
    command = _mlflow_command() + [
        "server", "--backend-store-uri", backend_uri, "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=workdir, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    server = Server(kind, url, artifacts, process, log, cleanup)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            server.stop()
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"mlflow server ({kind}) exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"mlflow server ({kind}) not healthy after {STARTUP_TIMEOUT} s:\n{tail}")
        time.sleep(0.25)


@pytest.fixture(scope="session")
def sqlite_server():
    workdir = Path(tempfile.mkdtemp(prefix="regctl-srv-sqlite-"))
    server = start_mlflow_server("sqlite", f"sqlite:///{workdir / 'mlflow.db'}", workdir,
                                 cleanup=[lambda: shutil.rmtree(workdir, ignore_errors=True)])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    pgserver = pytest.importorskip("pgserver", reason="pgserver (a PostgreSQL for tests) is not installed")
    pytest.importorskip("psycopg", reason="psycopg (MLflow's PostgreSQL driver) is not installed")
    # short path: PostgreSQL's socket path must fit in 107 bytes
    workdir = Path(tempfile.mkdtemp(prefix="regctl-pg-", dir="/tmp"))
    database = pgserver.get_server(str(workdir / "pg"), cleanup_mode="stop")
    cleanups = [lambda: shutil.rmtree(workdir, ignore_errors=True), database.cleanup]
    try:
        database.psql("CREATE DATABASE mlflow;")
    except Exception:
        for action in reversed(cleanups):
            action()
        raise
    backend = f"postgresql+psycopg://postgres@/mlflow?host={workdir / 'pg'}"
    server = start_mlflow_server("postgres", backend, workdir, cleanup=cleanups)
    yield server
    server.stop()
