"""SIGTERM (a CI cancel, ``timeout``) and SIGHUP (a closed terminal) end a command as Ctrl-C does:
what the command created is cleaned up, one line says why it ended, and the exit code is
128 + the signal's number. The command is held in the middle of a download from a live
``mlflow server`` by a proxy (tests/proxy.py) that waits before forwarding the files."""

import os
import signal
import subprocess
import sys
import threading
import uuid

import pytest
from conftest import model_source, regctl
from proxy import FORWARD, FaultProxy

pytestmark = pytest.mark.server


@pytest.fixture
def held(sqlite_server):
    """A proxy that holds the first artifact download until released; ``entered`` is set then."""
    entered, release = threading.Event(), threading.Event()

    def hook(method, path, body):
        if method == "GET" and "/mlflow-artifacts/artifacts/" in path and not entered.is_set():
            entered.set()
            release.wait(30)
        return FORWARD

    proxy = FaultProxy(sqlite_server.url, hook)
    proxy.entered = entered  # type: ignore[attr-defined]
    yield proxy
    release.set()
    proxy.close()


def _ended_by(signum: int, args, proxy, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    env.update(TMPDIR=str(tmp_path / "tmp"), XDG_STATE_HOME=str(tmp_path / "state"))
    process = subprocess.Popen([sys.executable, "-m", "regctl", "--store", proxy.url, *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               cwd=tmp_path)
    try:
        assert proxy.entered.wait(60), "the command never asked for the files"
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, out, err


@pytest.fixture
def registered(sqlite_server, tmp_path):
    name = f"sig-{uuid.uuid4().hex[:10]}"
    source = model_source(tmp_path / "src")
    (source / "weights.bin").write_bytes(os.urandom(4096))
    done = regctl("register", source, "--name", name, store=sqlite_server.url,
                  env={"XDG_STATE_HOME": str(tmp_path / "state")})
    assert done.returncode == 0, done.stderr
    (tmp_path / "tmp").mkdir()
    return name


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_an_ending_signal_during_download_leaves_no_scratch_beside_dest(held, registered, tmp_path, signum):
    dest = tmp_path / "out" / "model"
    dest.parent.mkdir()
    code, out, err = _ended_by(signum, ["download", f"models:/{registered}/1", str(dest)], held, tmp_path)
    assert code == 128 + signum, err
    assert err == f"regctl: terminated by {signal.Signals(signum).name}\n"
    assert list(dest.parent.iterdir()) == []  # neither DEST nor .regctl-download-*


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_an_ending_signal_during_push_from_a_server_leaves_no_scratch(held, registered, tmp_path, signum):
    target = tmp_path / "target"
    code, out, err = _ended_by(signum, ["push", "--to", str(target), registered], held, tmp_path)
    assert code == 128 + signum, err
    assert err.splitlines()[-1] == f"regctl: terminated by {signal.Signals(signum).name}"
    assert list((tmp_path / "tmp").iterdir()) == []  # no regctl-push-* left in the temporary directory


def test_an_ending_signal_during_parallel_uploads_ends_at_once_and_leaves_no_scratch(sqlite_server, tmp_path):
    """push --jobs 4 into a server whose proxy holds the first upload: SIGTERM ends the command at
    once (the held transfer is cut, not waited for), with nothing left in the temporary directory."""
    import time

    from test_push import numbered_source

    entered, release = threading.Event(), threading.Event()

    def hook(method, path, body):
        if method == "PUT" and not entered.is_set():
            entered.set()
            release.wait(30)
        return FORWARD

    proxy = FaultProxy(sqlite_server.url, hook)
    proxy.entered = entered  # type: ignore[attr-defined]
    name = f"sigpush-{uuid.uuid4().hex[:10]}"
    store, _ = numbered_source(tmp_path, name, 6)
    (tmp_path / "tmp").mkdir()
    try:
        started = time.monotonic()
        code, out, err = _ended_by(signal.SIGTERM, ["push", "--from", str(store), "--to", proxy.url, "--jobs", "4"],
                                   proxy, tmp_path)
        assert time.monotonic() - started < 25  # not held until the proxy lets the upload go
    finally:
        release.set()
        proxy.close()
    assert code == 128 + signal.SIGTERM, err
    assert err.splitlines()[-1] == "regctl: terminated by SIGTERM"
    assert list((tmp_path / "tmp").iterdir()) == []
