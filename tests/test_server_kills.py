"""``register``, ``alias set`` and ``gc`` killed (SIGKILL) at random moments against a live
``mlflow server``: MlflowClient then sees the old state or the new one, never a version made
twice, an alias elsewhere, or an aliased version deleted. Bounded: a handful of rounds, each
kill within two seconds of the start."""

import os
import random
import signal
import subprocess
import sys
import time
import uuid

import pytest
from conftest import model_source, regctl

pytestmark = pytest.mark.server

ROUNDS = 4


def _killed(args, url, tmp_path, after: float) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    process = subprocess.Popen([sys.executable, "-m", "regctl", "--store", url, *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def _live(client, name):
    return sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))


def test_killed_register_alias_set_and_gc_leave_the_old_or_the_new_state(sqlite_server, tmp_path):
    client = sqlite_server.client()
    name = f"kill-{uuid.uuid4().hex[:10]}"
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    source = model_source(tmp_path / "src")
    assert regctl("register", source, "--name", name, "--alias", "champion", store=sqlite_server.url,
                  env=env).returncode == 0
    rng = random.Random(os.environ.get("REGCTL_TEST_SEED", "kills"))
    deadline = time.monotonic() + 120
    for _ in range(ROUNDS):
        if time.monotonic() > deadline:
            break
        before = _live(client, name)
        _killed(["register", str(source), "--name", name], sqlite_server.url, tmp_path, rng.uniform(0.3, 2.0))
        after = _live(client, name)
        assert after[: len(before)] == before and len(after) - len(before) <= 1, (before, after)  # never two

        current = int(client.get_model_version_by_alias(name, "champion").version)
        wanted = after[-1]
        _killed(["alias", "set", name, "champion", str(wanted)], sqlite_server.url, tmp_path, rng.uniform(0.2, 1.5))
        assert int(client.get_model_version_by_alias(name, "champion").version) in (current, wanted)

        aliased = int(client.get_model_version_by_alias(name, "champion").version)
        _killed(["gc", name, "--keep", "1"], sqlite_server.url, tmp_path, rng.uniform(0.2, 1.5))
        remaining = _live(client, name)
        assert aliased in remaining and remaining[-1] == after[-1], (aliased, remaining)  # gc keeps these
        assert set(remaining) <= set(after)
    # a register that runs to its end afterwards makes exactly one version
    highest = max(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
    done = regctl("register", source, "--name", name, store=sqlite_server.url, env=env)
    assert done.returncode == 0 and int(done.stdout) == highest + 1, done.stderr
