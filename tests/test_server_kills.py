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
    store = ["--store", url] if url is not None else []
    process = subprocess.Popen([sys.executable, "-m", "regctl", *store, *args], env=env,
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


def test_a_parallel_push_killed_at_random_moments_converges_on_rerun(sqlite_server, tmp_path):
    """push --jobs 4 from a file store, killed (SIGKILL) twice mid-way, then run to its end: every
    version is on the server once, under its own number, and the aliases are set."""
    from test_push import numbered_source

    client = sqlite_server.client()
    name = f"killpush-{uuid.uuid4().hex[:10]}"
    store, _ = numbered_source(tmp_path, name, 10)
    rng = random.Random(os.environ.get("REGCTL_TEST_SEED", "push-kills"))
    for _ in range(2):
        _killed(["--store", str(store), "push", name, "--to", sqlite_server.url, "--jobs", "4"], None, tmp_path,
                rng.uniform(0.5, 3.0))
        made = _live(client, name) if any(m.name == name for m in client.search_registered_models()) else []
        assert made == list(range(1, len(made) + 1)), made  # a prefix, never a version twice
    done = regctl("push", name, "--to", sqlite_server.url, "--jobs", "4", store=store,
                  env={"XDG_STATE_HOME": str(tmp_path / "state")})
    assert done.returncode == 0, done.stderr
    versions = client.search_model_versions(f"name = '{name}'")
    assert sorted((int(v.version), v.tags["n"]) for v in versions) == [(n, str(n)) for n in range(1, 11)]
    assert {k: int(v) for k, v in client.get_registered_model(name).aliases.items()} == {"champion": 10, "first": 1}
