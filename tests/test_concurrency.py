"""Many real ``regctl`` processes writing and reading one model at once.

Every call is a separate ``python -m regctl`` process; threads in the test only
start them and wait.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import one_line_failure
from conftest import regctl as regctl_in_any_process


def regctl(*args, **kwargs):
    """Real processes: what these tests are about."""
    return regctl_in_any_process(*args, process=True, **kwargs)


pytestmark = pytest.mark.slow

ENV = {"REGCTL_LOCK_TIMEOUT": "120"}
# 32 processes x 10 calls; REGCTL_STRESS_CALLS changes the calls per process.
WORKERS, CALLS = 32, int(os.environ.get("REGCTL_STRESS_CALLS", "10"))


def make_sources(root: Path, count: int) -> list:
    sources = []
    for i in range(count):
        source = root / f"src-{i:03d}"
        source.mkdir(parents=True)
        (source / "MLmodel").write_text(f"flavors: {{}}\nid: {i}\n")
        sources.append(source)
    return sources


def clean_failure(result) -> bool:
    """A failure as users must see it (see conftest.one_line_failure), with any exit status 1-4."""
    try:
        one_line_failure(result, result.returncode)
    except AssertionError:
        return False
    return result.returncode in (1, 2, 3, 4)


def journal(store: Path) -> list:
    """The committed history entries, oldest first."""
    from regctl.backends.file.store import Store
    from regctl.core import journal as journal_module

    return list(reversed(list(journal_module.history_entries(Store(store).journal_path()))))


def test_parallel_registrations_get_distinct_consecutive_versions(tmp_path):
    """32 processes x 10 registrations of one model: versions 1..320, each source once, no failure."""
    store = tmp_path / "mlruns"
    sources = make_sources(tmp_path / "sources", WORKERS * CALLS)
    results = {}

    def worker(w: int) -> None:
        for j in range(CALLS):
            source = sources[w * CALLS + j]
            results[source] = regctl("register", source, "--name", "m", store=store, env=ENV)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(worker, range(WORKERS)))
    elapsed = time.monotonic() - started
    print(f"{WORKERS} processes x {CALLS} registrations: {len(results)} calls in {elapsed:.1f}s")

    failures = {s: r.stderr for s, r in results.items() if r.returncode != 0}
    assert failures == {}
    printed = {int(r.stdout): s for s, r in results.items()}
    assert sorted(printed) == list(range(1, WORKERS * CALLS + 1))  # every caller got its own number
    versions = json.loads(regctl("versions", "m", "--json", store=store).stdout)
    assert sorted(v["version"] for v in versions) == list(range(1, WORKERS * CALLS + 1))
    assert {v["version"]: v["source"] for v in versions} == {n: str(s) for n, s in printed.items()}
    creates = [r for r in journal(store) if r["operation"] == "version.create"]
    assert sorted(r["target"] for r in creates) == list(range(1, WORKERS * CALLS + 1))
    leftovers = [p for p in (store / "models/m").iterdir() if p.name.startswith(".regctl-tmp-")]
    assert leftovers == []


def test_aliases_and_tags_under_contention_end_as_the_journal_says(tmp_path):
    """16 processes move aliases and set tags while others register and readers loop."""
    store = tmp_path / "mlruns"
    sources = make_sources(tmp_path / "sources", 12)
    for source in sources[:4]:
        assert regctl("register", source, "--name", "m", "--alias", "a0", store=store).returncode == 0
    model = store / "models/m"
    old_versions = {n: (model / f"version-{n}/meta.yaml").read_bytes() for n in range(1, 5)}
    writes, reads = [], []
    done = threading.Event()

    def writer(w: int) -> None:
        rng = random.Random(w)
        for i in range(5):
            k = rng.randrange(3)
            if i % 2 == 0:
                version = rng.choice(["1", "2", "3", "4", "99"])  # 99 does not exist: a clean failure
                command = ["alias", "set", "m", f"a{k}", version]
            else:
                command = ["tag", "m", f"t{k}=w{w}-{i}"]
            writes.append((command, regctl(*command, store=store, env=ENV)))

    def registrar(w: int) -> None:
        for source in sources[4 + w * 4: 8 + w * 4]:
            command = ["register", str(source), "--name", "m"]
            writes.append((command, regctl(*command, store=store, env=ENV)))

    def reader(command: list) -> None:
        while not done.is_set():
            reads.append((command, regctl(*command, store=store, env=ENV)))

    with ThreadPoolExecutor(max_workers=21) as pool:
        readers = [pool.submit(reader, c) for c in (["resolve", "models:/m@a0"], ["versions", "m", "--json"],
                                                    ["resolve", "models:/m/latest"])]
        jobs = [pool.submit(writer, w) for w in range(16)] + [pool.submit(registrar, w) for w in range(2)]
        for job in jobs:
            job.result()
        done.set()
        for job in readers:
            job.result()
    print(f"{len(writes)} write calls by 18 processes, {len(reads)} read calls during them")

    for command, result in writes:
        if command[-1] == "99":
            assert result.returncode == 1 and clean_failure(result), result.stderr
        else:
            assert result.returncode == 0, (command, result.stderr)
    assert len(reads) >= 6
    for command, result in reads:
        assert result.returncode == 0 and result.stdout, (command, result.stderr)

    records = [r for r in journal(store) if r["model"] == "m"]
    last = {}
    for record in records:
        if record["operation"] in ("alias.set", "tag.set"):
            last[(record["operation"], record["target"])] = record["new"]
    aliases = {p.name: p.read_text() for p in (model / "aliases").iterdir()}
    tags = {p.name: p.read_text() for p in (model / "tags").iterdir()}
    assert aliases == {target: new for (op, target), new in last.items() if op == "alias.set"}
    assert tags == {target: new for (op, target), new in last.items() if op == "tag.set"}
    successful_tags = sum(1 for c, r in writes if c[0] == "tag" and r.returncode == 0)
    assert sum(1 for r in records if r["operation"] == "tag.set") == successful_tags
    # nothing else changed: old versions untouched, new ones are exactly the 8 registrations
    assert {n: (model / f"version-{n}/meta.yaml").read_bytes() for n in range(1, 5)} == old_versions
    assert sorted(p.name for p in model.iterdir()) == sorted(
        ["aliases", "tags", "meta.yaml"] + [f"version-{n}" for n in range(1, 13)])
    meta = json.loads(regctl("describe", "m", "--json", store=store).stdout)
    assert meta["aliases"] == {a: int(v) for a, v in aliases.items()}
    import yaml

    assert yaml.safe_load((model / "meta.yaml").read_text())["aliases"] == aliases  # the snapshot is current


HOLDER = """
import sys, time
from pathlib import Path
from regctl.backends.file.edit import edit
from regctl.backends.file.store import Store

with edit(Store(Path(sys.argv[1])), "m"):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_killed_lock_holder_does_not_block_others(tmp_path):
    store = tmp_path / "mlruns"
    (source,) = make_sources(tmp_path / "sources", 1)
    assert regctl("register", source, "--name", "m", store=store).returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(store)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        blocked = regctl("alias", "set", "m", "a", "1", store=store, env={"REGCTL_LOCK_TIMEOUT": "0.5"})
        assert blocked.returncode == 4 and clean_failure(blocked) and "could not lock" in blocked.stderr
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    started = time.monotonic()
    assert regctl("alias", "set", "m", "a", "1", store=store, env={"REGCTL_LOCK_TIMEOUT": "10"}).returncode == 0
    assert time.monotonic() - started < 5


def test_a_real_writer_killed_mid_write_does_not_block_others(tmp_path):
    """SIGKILL a ``regctl tag`` with many tags while it holds the lock and writes."""
    store = tmp_path / "mlruns"
    (source,) = make_sources(tmp_path / "sources", 1)
    assert regctl("register", source, "--name", "m", store=store).returncode == 0
    journal_file = store / "models/.regctl%journal.jsonl"
    size = journal_file.stat().st_size
    assignments = [f"k{i:03d}=v{i}" for i in range(400)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    writer = subprocess.Popen([sys.executable, "-m", "regctl", "--store", str(store), "tag", "m", *assignments],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while journal_file.stat().st_size == size and time.monotonic() < deadline:
        time.sleep(0.002)  # the intent appears once it holds the lock and starts applying its change
    os.kill(writer.pid, signal.SIGKILL)
    assert writer.wait() == -signal.SIGKILL, "the writer finished before it could be killed"
    pending = list((store / "models").glob(".regctl%pending%*"))
    started = time.monotonic()
    follow = regctl("tag", "m", "after=kill", store=store, env={"REGCTL_LOCK_TIMEOUT": "10"})
    assert follow.returncode == 0, follow.stderr
    assert time.monotonic() - started < 5
    tags = {p.name for p in (store / "models/m/tags").iterdir()}
    # the killed change was completed by the next writer (or never started): all 400 tags or none
    assert tags in ({"after"} | {a.split("=")[0] for a in assignments}, {"after"}), (pending, len(tags))
    assert not list((store / "models").glob(".regctl%pending%*"))
    # what a kill can leave is a temporary file of the killed writer, which doctor --fix removes
    fixed = regctl("doctor", "--fix", store=store)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert regctl("doctor", store=store).returncode == 0
