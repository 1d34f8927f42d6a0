"""SIGKILL real ``regctl`` writers at random moments, then check the store.

After every kill: every meta.yaml parses, every version-* directory has its
meta.yaml, no temp file sits under tags/ or aliases/, and the next command
works. At the end ``doctor`` finds only what ``doctor --fix`` repairs, and
MLflow itself sees the same registry as regctl.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import regctl as regctl_in_any_process

from regctl.backends.file.doctor import FIXABLE


def regctl(*args, **kwargs):
    """Real processes: what these tests are about."""
    return regctl_in_any_process(*args, process=True, **kwargs)


pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("REGCTL_CRASH_ROUNDS", "150"))  # up to two kills per round
LANES = 2
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}


def invariants(store: Path) -> None:
    models = store / "models"
    for model in models.iterdir():
        if not model.is_dir():
            continue
        assert not model.name.startswith(".regctl-tmp-"), model
        meta = model / "meta.yaml"
        assert isinstance(yaml.safe_load(meta.read_text()), dict), meta
        for entry in model.iterdir():
            if entry.name.startswith("version-"):
                assert isinstance(yaml.safe_load((entry / "meta.yaml").read_text()), dict), entry
        for data in ("tags", "aliases"):
            for parent, dirs, files in os.walk(model / data):
                assert not any(n.startswith(".regctl-tmp-") for n in dirs + files), parent
        for version in model.glob("version-*/tags"):
            for parent, dirs, files in os.walk(version):
                assert not any(n.startswith(".regctl-tmp-") for n in dirs + files), parent


def command_for(rng: random.Random, lane: int, store: Path, source: Path) -> list:
    kind = rng.choice(["register", "alias", "tag", "rename"])
    if kind == "register":
        tags = [a for i in range(30) for a in ("--tag", f"k{i}=v{rng.randrange(100)}")]
        return ["register", str(source), "--name", "m", *tags, "--alias", "a1", "--alias", "a2", "--alias", f"l{lane}"]
    if kind == "alias":
        return ["alias", "set", "m", rng.choice(["champion", "a1", f"l{lane}"]), str(rng.randint(1, 3))]
    if kind == "tag":
        return ["tag", "m", *[f"t{i}=w{rng.randrange(100)}" for i in range(40)]]
    old, new = ("r", "r2") if (store / "models/r").is_dir() else ("r2", "r")
    return ["rename", old, new] if lane == 0 else ["tag", old, *[f"x{i}=y" for i in range(20)]]


def test_random_kills_leave_a_usable_consistent_store(tmp_path):
    store = tmp_path / "mlruns"
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    for name in ("m", "m", "m", "r", "r", "r", "r", "r", "r"):
        assert regctl("register", source, "--name", name, store=store).returncode == 0
    journal = store / "models/.regctl%journal.jsonl"
    rng = random.Random(20240601)
    kills = completed = partial = 0
    started = time.monotonic()
    for _ in range(ROUNDS):
        size = journal.stat().st_size
        procs = []
        for lane in range(LANES):
            command = command_for(rng, lane, store, source)
            procs.append((command, subprocess.Popen(
                [sys.executable, "-m", "regctl", "--store", str(store), *command],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=BASE_ENV)))
        time.sleep(rng.uniform(0.02, 0.2))  # a command takes 35-150 ms: most die mid-way
        for _command, proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for command, proc in procs:
            out, err = proc.communicate()
            if proc.returncode == -signal.SIGKILL:
                kills += 1
            else:
                completed += 1
                # a command that ran to the end after earlier kills must have worked, except
                # where the other lane renamed its model first (the rename lane races the tag lane)
                raced = command[:2] in (["tag", "r"], ["tag", "r2"], ["rename", "r"], ["rename", "r2"])
                assert proc.returncode == 0 or (raced and ("already exists" in err or "not found" in err)), (
                    command, proc.returncode, err)
        partial += journal.stat().st_size != size and any(p.returncode == -signal.SIGKILL for _, p in procs)
        invariants(store)
    elapsed = time.monotonic() - started
    print(f"{kills} kills survived ({partial} rounds where a killed writer had already journaled a change), "
          f"{completed} commands completed, {elapsed:.1f}s")
    assert kills >= ROUNDS // 2  # many processes really were killed

    # the next command of every kind works
    for command in (["alias", "set", "m", "champion", "1"], ["tag", "m", "after=crash"],
                    ["register", str(source), "--name", "m"], ["versions", "m"], ["models"]):
        result = regctl(*command, store=store)
        assert result.returncode == 0, (command, result.stderr)

    # only repairable leftovers; after the repair the store is clean
    report = json.loads(regctl("doctor", "--json", store=store).stdout)
    assert {p["kind"] for p in report["problems"]} <= set(FIXABLE), report["problems"]
    fixed = regctl("doctor", "--fix", store=store)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    print(f"doctor repaired {len(report['problems'])} problem(s): "
          f"{sorted({p['kind'] for p in report['problems']})}")
    assert regctl("doctor", store=store).returncode == 0

    assert_mlflow_agrees(store)


MLFLOW_VIEW = """
import json, sys
from mlflow import MlflowClient

uri = sys.argv[1]
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
out = {}
for model in client.search_registered_models():
    versions = client.search_model_versions(f"name='{model.name}'")
    out[model.name] = {
        "aliases": {a: int(v) for a, v in model.aliases.items()},
        "versions": {int(v.version): {"tags": v.tags, "aliases": sorted(v.aliases), "name": v.name}
                     for v in versions},
    }
print(json.dumps(out))
"""


def assert_mlflow_agrees(store: Path) -> None:
    # MLflow looks logged models up through the global tracking URI: point it at the store,
    # or it creates an sqlite database in the working directory.
    env = dict(BASE_ENV, MLFLOW_ALLOW_FILE_STORE="true", MLFLOW_TRACKING_URI=store.as_uri())
    seen = subprocess.run([sys.executable, "-c", MLFLOW_VIEW, store.as_uri()], capture_output=True, text=True,
                          env=env, timeout=300, cwd=store.parent)
    assert seen.returncode == 0, seen.stderr[-2000:]
    mlflow_view = json.loads(seen.stdout.strip().splitlines()[-1])
    ours = {}
    for model in json.loads(regctl("models", "--json", store=store).stdout):
        versions = json.loads(regctl("versions", model["name"], "--json", store=store).stdout)
        ours[model["name"]] = {
            "aliases": model["aliases"],
            "versions": {v["version"]: {"tags": v["tags"], "aliases": v["aliases"], "name": v["name"]}
                         for v in versions},
        }
    assert mlflow_view == json.loads(json.dumps(ours))  # same JSON (version keys as text)


# ------------------------------------------------------------------ every writing command, killed (issue 8, finding 4)

KILL_ROUNDS = int(os.environ.get("REGCTL_KILL_ROUNDS", "6"))  # per command


def logical_state(store: Path) -> dict:
    """What a user sees of the registry (timestamps aside), through regctl itself."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if "timestamp" not in k}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    listed = regctl("models", "--json", store=store)
    assert listed.returncode == 0, listed.stderr
    state = {}
    for model in json.loads(listed.stdout):
        versions = regctl("versions", model["name"], "--json", store=store)
        assert versions.returncode == 0, versions.stderr
        state[model["name"]] = strip({"model": model, "versions": json.loads(versions.stdout)})
    return state


def killed_command_base(tmp_path: Path) -> "tuple[Path, Path]":
    base = tmp_path / "base" / "mlruns"
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    for name, count in (("m", 4), ("r", 6), ("d", 6)):
        for _ in range(count):
            assert regctl("register", source, "--name", name, "--tag", "k=v", "--tag", "j=w",
                          store=base).returncode == 0
    for args in (["stage", "m", "1", "Production"], ["stage", "m", "2", "Production"],
                 ["alias", "set", "m", "champion", "2"], ["alias", "set", "r", "champion", "3"],
                 ["tag", "d", *[f"t{i}=v" for i in range(20)]], ["tag", "m", "keep=1"]):
        assert regctl(*args, store=base).returncode == 0, args
    return base, source


def test_every_writing_command_killed_leaves_the_old_or_the_new_state(tmp_path):
    """Issue 8, finding 4: SIGKILL at random moments of delete, rename, register, tag, stage
    --archive-existing and delete --version: the store is always the old state or the new one, a
    pending change is completed by the next write, and doctor --fix leaves a clean store."""
    import shutil

    from regctl.backends.file.layout import PENDING_PREFIX, model_key

    base, source = killed_command_base(tmp_path)
    commands = {
        "delete": (["delete", "d", "--yes"], "d"),
        "rename": (["rename", "r", "r2"], "r"),
        "register": (["register", str(source), "--name", "m", "--alias", "champion", "--alias", "new",
                      *[a for i in range(30) for a in ("--tag", f"k{i}=v")]], "m"),
        "tag": (["tag", "m", *[f"t{i}=w" for i in range(40)]], "m"),
        "stage": (["stage", "m", "4", "Production", "--archive-existing"], "m"),
        "delete-version": (["delete", "m", "--version", "2", "--yes"], "m"),
    }
    old = logical_state(base)
    rng = random.Random(8)
    stats = {}
    for label, (command, locked_name) in commands.items():
        done = tmp_path / f"done-{label}" / "mlruns"
        shutil.copytree(base, done)
        started = time.monotonic()
        finished = regctl(*command, store=done)
        duration = time.monotonic() - started  # kills land inside this run's span, whatever the machine's speed
        assert finished.returncode == 0, (command, finished.stderr)
        new = logical_state(done)
        assert new != old
        killed = recovered = 0
        for round_ in range(KILL_ROUNDS):
            work = tmp_path / f"work-{label}-{round_}" / "mlruns"
            shutil.copytree(base, work)
            proc = subprocess.Popen([sys.executable, "-m", "regctl", "--store", str(work), *command],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=BASE_ENV)
            time.sleep(rng.uniform(0.2, 0.95) * duration)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate()
            if proc.returncode == -signal.SIGKILL:
                killed += 1
            else:
                assert proc.returncode == 0, (command, err)
            listed = regctl("models", store=work)
            assert listed.returncode == 0, listed.stderr
            pending = work / "models" / f"{PENDING_PREFIX}{model_key(locked_name)}"
            if pending.exists():
                # the next write to that model completes the change first, whatever it then does itself
                nudge = regctl("tag", locked_name, "--delete", "no-such-tag", store=work)
                assert "internal error" not in nudge.stderr, nudge.stderr
                assert not pending.exists()
                assert logical_state(work) == new
                recovered += 1
            fixed = regctl("doctor", "--fix", store=work)
            assert fixed.returncode == 0, fixed.stdout + fixed.stderr
            assert regctl("doctor", store=work).returncode == 0
            state = logical_state(work)
            assert state in (old, new), (label, round_)
            invariants(work)
            shutil.rmtree(work.parent)
        stats[label] = (killed, recovered)
    print("killed, completed from a pending file:", stats)
    assert sum(k for k, _ in stats.values()) >= len(commands) * KILL_ROUNDS // 2
