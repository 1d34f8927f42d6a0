"""What a store can hold that stops a write half-way, and what a reader can meet in it:
files that cannot be replaced (immutable, append-only), special files (a FIFO),
leftover lock files, a pipe closed after a write. Each refused write exits 4 with
one line and leaves the store byte for byte as it was.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, model_source, one_line_failure, regctl, snapshot

MODEL = "iris-classifier"


@pytest.fixture
def store(tmp_path) -> Path:
    root = tmp_path / "mlruns"
    shutil.copytree(REPO / "examples" / "mlruns", root, symlinks=True)
    return root


@contextlib.contextmanager
def immutable(path: Path, flag: str = "i"):
    """``chattr +i path`` (``flag="a"``: append-only) for the block (skips where the file system or
    the user cannot)."""
    if not shutil.which("chattr"):
        pytest.skip("chattr is not installed")
    if subprocess.run(["chattr", f"+{flag}", str(path)], capture_output=True).returncode != 0:
        pytest.skip("this file system or user cannot make files immutable")
    try:
        yield path
    finally:
        subprocess.run(["chattr", f"-{flag}", str(path)], check=True)


IMMUTABLE_CASES = [  # (the file or directory made immutable, the write it must stop before anything changes)
    ("models/iris-classifier/meta.yaml",
     ["register", "models:/m-edcc948ee8684cc0a792f736d9f6e4f1", "--name", MODEL, "--alias", "newa", "--tag", "x=1"]),
    ("models/iris-classifier/meta.yaml", ["tag", MODEL, "a=1", "b=2"]),
    ("models/iris-classifier/aliases/champion", ["delete", MODEL, "--version", "2", "--yes"]),
    ("models/iris-classifier/version-1/meta.yaml", ["describe", MODEL, "--version", "1", "--set", "hello"]),
    ("models/iris-classifier/version-1/meta.yaml", ["rename", MODEL, "zz"]),
    ("models/iris-classifier/version-1/tags", ["delete", MODEL, "--yes"]),
    ("models/iris-classifier/aliases/champion", ["alias", "set", MODEL, "champion", "1"]),
]


@pytest.mark.parametrize("frozen, args", IMMUTABLE_CASES, ids=lambda v: v if isinstance(v, str) else v[0])
def test_a_file_that_cannot_be_replaced_stops_the_write_before_anything_changes(store, frozen, args):
    before = snapshot(store)
    with immutable(store / frozen):
        line = one_line_failure(regctl(*args, store=store), 4, "immutable")
        assert "nothing was changed" in line and frozen.split("/")[-1] in line
        assert snapshot(store) == before
    ok_after = regctl(*args, store=store)  # the same write, once the file can be replaced again
    assert ok_after.returncode == 0, ok_after.stderr


DIRECTORY_CASES = [  # (a directory, its flag, a write that would need to add, rename or remove entries in it)
    ("models/iris-classifier/aliases", "a", ["alias", "set", MODEL, "champion", "1"]),
    ("models/iris-classifier/tags", "a", ["tag", MODEL, "k=v"]),
    ("models/iris-classifier", "a", ["alias", "set", MODEL, "champion", "1"]),
    ("models", "a", ["alias", "set", MODEL, "champion", "1"]),
    (".", "a", ["delete", MODEL, "--yes"]),
    ("models/iris-classifier/version-1", "i", ["tag", MODEL, "--version", "1", "k=v"]),
]


@pytest.mark.parametrize("directory, flag, args", DIRECTORY_CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_a_directory_whose_entries_cannot_change_stops_the_write_before_anything_changes(store, directory, flag,
                                                                                          args):
    before = snapshot(store)
    with immutable(store / directory, flag):
        one_line_failure(regctl(*args, store=store), 4, "immutable or append-only", "nothing was changed")
        assert snapshot(store) == before


def test_a_journal_that_cannot_take_the_intent_leaves_nothing_behind(store, tmp_path):
    """A new model's files are built in a staging directory at the store root first: a refused
    write removes it, and a FIFO journal is refused, never written into (it would block)."""
    source = model_source(tmp_path / "src")
    journal = store / "models" / ".regctl%journal.jsonl"
    journal.write_bytes(b"")  # the example store has none yet: make one to freeze
    before = snapshot(store)
    with immutable(journal):
        one_line_failure(regctl("register", source, "--name", "fresh", store=store), 4, "journal")
        assert snapshot(store) == before
    journal.unlink()
    os.mkfifo(journal)
    big = tmp_path / "big.md"
    big.write_text("x" * 200_000)
    result = subprocess.run([sys.executable, "-m", "regctl", "--store", str(store), "describe", MODEL, "--set-file",
                             str(big)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 4 and "not a regular file" in result.stderr


def test_a_fifo_in_the_store_is_reported_never_opened(store):
    fifo = store / "models" / MODEL / "tags" / "evil"
    os.mkfifo(fifo)
    before = snapshot(store)
    for args in (["models"], ["describe", MODEL], ["search", "--models", "name = 'iris-classifier'"],
                 ["tag", MODEL, "k=v"], ["versions", MODEL]):
        result = subprocess.run([sys.executable, "-m", "regctl", "--store", str(store), *args],
                                capture_output=True, text=True, timeout=60)
        assert "Traceback" not in result.stderr, args
        if result.returncode != 0:
            assert result.returncode == 4 and "not a regular file" in result.stderr, (args, result.stderr)
    report = regctl("doctor", "--json", store=store)
    assert report.returncode == 4 and "not a regular file" in report.stdout
    assert snapshot(store) == before


def test_doctor_fix_keeps_the_aliases_of_a_version_behind_a_symbolic_link(store, tmp_path):
    """A version directory that is a link out of the store is reported, never followed; the version
    exists all the same (MLflow follows the link), so its aliases are not dangling and --fix keeps them."""
    version = store / "models" / MODEL / "version-1"
    outside = tmp_path / "outside" / "version-1"
    shutil.move(version, outside)
    version.symlink_to(outside)
    aliases_before = sorted(os.listdir(store / "models" / MODEL / "aliases"))
    outside_before = snapshot(outside.parent)
    report = regctl("doctor", "--fix", "--json", store=store)
    assert report.returncode == 4 and "symlink" in report.stdout and "dangling-alias" not in report.stdout
    assert sorted(os.listdir(store / "models" / MODEL / "aliases")) == aliases_before
    assert (store / "models" / MODEL / "aliases" / "challenger").read_text() == "1"
    assert snapshot(outside.parent) == outside_before


def test_a_commit_record_that_cannot_be_written_does_not_fail_a_made_change(store, tmp_path):
    """The change is applied before its commit record is appended: a journal that stops growing
    then (a full disk; here the file size limit) is a warning, the command succeeds, and the next
    write records the commit."""
    import resource
    import signal

    journal = store / "models" / ".regctl%journal.jsonl"
    probe = tmp_path / "probe"
    shutil.copytree(store, probe)
    assert regctl("alias", "set", MODEL, "champion", "1", store=probe).returncode == 0
    lines = (probe / "models" / ".regctl%journal.jsonl").read_bytes().splitlines(keepends=True)
    intent = len(lines[0])  # this write's intent, then its commit
    journal.write_bytes(b"\n" * 20000)
    limit = 20000 + intent + 8  # room for the intent, not for the commit after it

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run([sys.executable, "-m", "regctl", "--store", str(store), "alias", "set", MODEL,
                             "champion", "1"], capture_output=True, text=True, preexec_fn=limited, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "warning: the change is made" in result.stderr and "File too large" in result.stderr
    assert (store / "models" / MODEL / "aliases" / "champion").read_text() == "1"
    assert regctl("alias", "set", MODEL, "challenger", "2", store=store).returncode == 0  # records the commit
    history = json.loads(regctl("history", "--json", store=store).stdout)
    assert [(r["target"], r["new"]) for r in history][:2] == [
        ("challenger", "2"), ("champion", "1")]
    assert regctl("doctor", store=store).returncode == 0


def test_a_file_too_large_for_memory_is_one_line_not_an_internal_error(store):
    import resource

    huge = store / "models" / MODEL / "tags" / "huge"
    huge.touch()
    os.truncate(huge, 1 << 30)  # sparse: no disk used

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (600 << 20, 600 << 20))

    result = subprocess.run([sys.executable, "-m", "regctl", "--store", str(store), "models"], capture_output=True,
                            text=True, preexec_fn=limited, timeout=120)
    assert (result.returncode, result.stdout) == (4, "")
    assert result.stderr.startswith("regctl: out of memory") and result.stderr.count("\n") == 1


def test_a_description_file_that_never_ends_is_refused(store):
    before = snapshot(store)
    one_line_failure(regctl("describe", MODEL, "--set-file", "/dev/zero", store=store), 2, "longer than")
    assert snapshot(store) == before


def test_a_database_with_a_fifo_for_its_rollback_journal_is_reported_not_waited_on(tmp_path):
    from conftest import FixtureStore

    db = FixtureStore("mlflow3-db", tmp_path)
    os.mkfifo(f"{db.root}-journal")
    for args in (["models"], ["alias", "set", MODEL, "champion", "1"]):
        result = subprocess.run([sys.executable, "-m", "regctl", "--store", db.store, *args], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 4 and "not a regular file" in result.stderr, (args, result.stderr)


def test_a_database_in_an_append_only_directory_refuses_writes_before_sqlite_starts_one(tmp_path):
    """SQLite could write the database, but never remove its rollback journal again: the write would
    fail half-way and leave the database hot for every later reader."""
    from conftest import FixtureStore

    db = FixtureStore("mlflow3-db", tmp_path)
    data = db.root.read_bytes()
    with immutable(db.root.parent, "a"):
        one_line_failure(regctl("alias", "set", MODEL, "champion", "1", store=db), 4, "append-only")
        assert db.root.read_bytes() == data and not os.path.exists(f"{db.root}-journal")
        assert regctl("models", store=db).returncode == 0


def test_gc_of_every_model_says_which_models_it_collected_before_one_was_refused(store, tmp_path):
    source = model_source(tmp_path / "src")
    for _ in range(2):
        assert regctl("register", source, "--name", "a-first", store=store).returncode == 0
    with immutable(store / "models" / "iris.baseline model"):
        line = one_line_failure(regctl("gc", "--all-models", "--keep", "0", "--delete-staged", store=store), 4,
                                "model 'iris.baseline model'", "collected before it", "'a-first'")
    assert "nothing was changed; collected before it" in line


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_gc_json_into_a_full_disk_after_collecting_succeeds(store, tmp_path):
    source = model_source(tmp_path / "src")
    for _ in range(3):
        assert regctl("register", source, "--name", "gm", store=store).returncode == 0
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "regctl", "--store", str(store), "gc", "gm", "--keep", "0",
                                 "--json"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(regctl("versions", "gm", "--json", store=store).stdout) == []


def test_push_refused_at_a_later_model_names_the_models_it_copied(store, tmp_path):
    """Each model is its own change: when a later one is refused, the line says which were copied."""
    target = tmp_path / "target" / "mlruns"
    source = model_source(tmp_path / "src")
    assert regctl("register", source, "--name", "iris.baseline model", store=target).returncode == 0
    with immutable(target / "models" / "iris.baseline model"):
        line = one_line_failure(regctl("push", "--to", target, store=store), 4, "model 'iris.baseline model'",
                                "copied before it", "'iris-classifier'")
    assert "a rerun copies only what is missing" in line


def test_doctor_reports_a_fifo_among_a_logged_models_tags(store):
    model_id = json.loads(regctl("describe", MODEL, "--version", "1", "--json", store=store).stdout)["model_id"]
    [model_versions] = store.glob(f"*/models/{model_id}/tags/mlflow.modelVersions")
    model_versions.unlink()
    os.mkfifo(model_versions)
    report = regctl("doctor", "--json", store=store)
    assert report.returncode == 4
    assert [p["kind"] for p in json.loads(report.stdout)["problems"]] == ["special-file"]
    one_line_failure(regctl("register", "models:/iris-classifier/1", "--name", "copy", store=store), 4,
                     "not a regular file")


def test_a_writers_umask_does_not_change_who_can_read_the_store(store3, tmp_path):
    """A replaced file keeps the mode of the file it replaces; new directories and files take their
    store directory's: one write by a user with umask 077 must not lock other users out."""
    import stat
    import subprocess
    import sys

    model = store3 / "models" / "iris-classifier"
    for path in [model / "meta.yaml", *model.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(model, 0o755)
    source = tmp_path / "src"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")

    def regctl_with_umask(*args):
        return subprocess.run([sys.executable, "-m", "regctl", "--store", str(store3), *args],
                              capture_output=True, text=True, preexec_fn=lambda: os.umask(0o077))

    assert regctl_with_umask("alias", "set", "iris-classifier", "champion", "1").returncode == 0
    assert regctl_with_umask("register", str(source), "--name", "iris-classifier").returncode == 0
    assert stat.S_IMODE(os.stat(model / "meta.yaml").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(model / "aliases" / "champion").st_mode) == 0o644
    new_version = model / "version-4"
    assert stat.S_IMODE(os.stat(new_version).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(new_version / "meta.yaml").st_mode) == 0o644
