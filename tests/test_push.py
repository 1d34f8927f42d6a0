"""``regctl push`` between stores: local mlruns/ -> server -> new local store, re-runs that copy
nothing, renumbering into an existing model, dry runs. The targets are read back with
``MlflowClient`` and with regctl."""

import json
import os
import uuid
from pathlib import Path

import pytest
from conftest import FixtureStore, drain_pty, ok, one_line_failure, regctl, snapshot
from mlflow_oracle import import_mlflow

DIGEST_TAG = "regctl.content_digest"
# what a copy keeps of a version (timestamps, sources and locations belong to the target store)
KEPT = ("version", "current_stage", "description", "status", "aliases")


def files_of(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in Path(root).rglob("*") if p.is_file()}


def make_model(tmp_path: Path, label: str) -> Path:
    directory = tmp_path / "sources" / label
    (directory / "data").mkdir(parents=True)
    (directory / "MLmodel").write_text(f"flavors: {{}}\n# {label}\n")
    (directory / "data" / "weights.bin").write_bytes(os.urandom(512))
    return directory


def build_source(tmp_path: Path, prefix: str) -> "tuple[Path, dict]":
    """A file store written by regctl: model A with versions 1 and 3 live (2 deleted), stages,
    tags, descriptions, aliases; model B with one version."""
    store = tmp_path / "source" / "mlruns"
    a, b = f"{prefix}-a", f"{prefix} b"
    sources = {n: make_model(tmp_path, f"{n}") for n in ("a1", "a2", "a3", "b1")}
    run = lambda *args: ok(regctl(*args, store=store))  # noqa: E731
    run("register", sources["a1"], "--name", a, "--description", "first", "--tag", "team=ml", "--tag", "metrics/acc=0.9")
    run("register", sources["a2"], "--name", a)
    run("register", sources["a3"], "--name", a, "--alias", "champion")
    run("delete", a, "--version", "2", "--yes")
    run("alias", "set", a, "challenger", "1")
    run("stage", a, "1", "Production")
    run("stage", a, "3", "Staging")
    run("tag", a, "owner=ada", "notes=line one\nline two")
    run("describe", a, "--set", "# Model A\n\nR² 0.9\n")
    run("register", sources["b1"], "--name", b, "--tag", "k=v")
    return store, {"a": a, "b": b, "sources": sources}


def versions_json(store, name, env=None) -> list:
    return json.loads(ok(regctl("versions", name, "--json", store=store, env=env)))


def kept(view: dict) -> dict:
    data = {k: view[k] for k in KEPT}
    data["tags"] = {k: v for k, v in view["tags"].items() if k != DIGEST_TAG}
    return data


def model_kept(store, name, env=None) -> dict:
    view = json.loads(ok(regctl("describe", name, "--json", store=store, env=env)))
    return {k: view[k] for k in ("name", "description", "tags", "aliases", "latest_version", "version_count")}


@pytest.mark.server
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_push_round_trip_through_a_server(kind, request, tmp_path, monkeypatch):
    import_mlflow()
    server = request.getfixturevalue(f"{kind}_server")
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    source, names = build_source(tmp_path, f"push-{uuid.uuid4().hex[:8]}")
    a, b = names["a"], names["b"]

    result = regctl("push", a, b, "--to", server.url, store=source, env=env)
    # a new model keeps its numbers
    assert ok(result).splitlines() == [f"{a}: version 1 copied", f"{a}: version 3 copied",
                                       f"{a}: alias challenger -> 1", f"{a}: alias champion -> 3",
                                       f"{b}: version 1 copied"]
    assert result.stderr == f"pushed 2 model(s) to {server.url}: 3 version(s) copied, 0 already there, 2 alias(es) moved\n"

    client = server.client()
    model = client.get_registered_model(a)
    assert model.description == "# Model A\n\nR² 0.9\n"
    assert dict(model.tags) == {"owner": "ada", "notes": "line one\nline two"}
    assert {k: int(v) for k, v in model.aliases.items()} == {"champion": 3, "challenger": 1}
    live = {int(v.version): v for v in client.search_model_versions(f"name='{a}'")}
    assert sorted(live) == [1, 3]
    assert (live[1].current_stage, live[3].current_stage) == ("Production", "Staging")
    assert live[1].description == "first"
    assert {k: v for k, v in live[1].tags.items() if k != DIGEST_TAG} == {"team": "ml", "metrics/acc": "0.9"}
    for number, label in [(1, "a1"), (3, "a3")]:
        dest = tmp_path / "check" / str(number)
        ok(regctl("download", f"models:/{a}/{number}", dest, store=server.url, env=env))
        meta = f"model_name: {a}\nmodel_version: '{number}'\n".encode()  # as MLflow's download writes it
        assert files_of(dest) == {**files_of(names["sources"][label]), "registered_model_meta": meta}
        assert regctl("verify", f"models:/{a}/{number}", store=server.url, env=env).returncode == 0
    assert [kept(v) for v in versions_json(server.url, a, env)] == [kept(v) for v in versions_json(source, a)]
    assert model_kept(server.url, a, env) == model_kept(source, a)

    # a second push copies nothing
    again = regctl("push", a, b, "--to", server.url, store=source, env=env)
    assert ok(again) == ""  # nothing copied, nothing renumbered: nothing to print
    assert again.stderr == f"pushed 2 model(s) to {server.url}: 0 version(s) copied, 3 already there, 0 alias(es) moved\n"
    assert sorted(int(v.version) for v in client.search_model_versions(f"name='{a}'")) == [1, 3]

    # server -> a new local store, for offline work: the same registry, files included
    offline = tmp_path / "offline" / "mlruns"
    result = regctl("push", a, b, "--from", server.url, "--to", offline, env=env)
    assert "3 version(s) copied" in result.stderr and ok(result).count(" copied\n") == 3
    for name in (a, b):
        assert [kept(v) for v in versions_json(offline, name)] == [kept(v) for v in versions_json(source, name)]
        assert model_kept(offline, name) == model_kept(source, name)
    for number, label in [(1, "a1"), (3, "a3")]:
        path = Path(ok(regctl("resolve", f"models:/{a}/{number}", store=offline)).strip())
        assert path.is_relative_to(offline)  # a copy, not a reference to the source
        assert files_of(path) == files_of(names["sources"][label])
        assert regctl("verify", f"models:/{a}/{number}", store=offline).returncode == 0
    assert versions_json(offline, a)[0]["source"].startswith("models:/m-")
    assert json.loads(ok(regctl("doctor", "--json", store=offline)))["ok"]
    # and MLflow reads the new store
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow import MlflowClient

    local = MlflowClient(tracking_uri=offline.as_uri(), registry_uri=offline.as_uri())
    assert {k: int(v) for k, v in local.get_registered_model(a).aliases.items()} == {"champion": 3, "challenger": 1}
    assert local.get_model_version_download_uri(a, "3").startswith(offline.as_uri())
    again = regctl("push", "--from", server.url, "--to", offline, a, b, env=env)
    assert "0 version(s) copied, 3 already there" in ok(again) + again.stderr


def test_push_file_to_file_maps_versions_into_an_existing_model(tmp_path):
    source, names = build_source(tmp_path, "local")
    a = names["a"]
    target = tmp_path / "target" / "mlruns"
    other = make_model(tmp_path, "unrelated")
    ok(regctl("register", other, "--name", a, "--alias", "champion", store=target))
    # one version already there: the same files as source version 3
    ok(regctl("register", names["sources"]["a3"], "--name", a, store=target))

    dry = regctl("push", a, "--to", target, "--dry-run", "--move-aliases", store=source)
    assert ok(dry).splitlines() == [f"{a}: version 1 -> (new) (dry run)", f"{a}: version 3 = 2 (already there)",
                                    f"{a}: alias challenger -> the copy of version 1 (dry run)", f"{a}: alias champion -> 2 (dry run)"]
    assert "nothing changed" in dry.stderr
    assert [v["version"] for v in versions_json(target, a)] == [2, 1]

    result = regctl("push", a, "--to", target, "--move-aliases", store=source)
    assert ok(result).splitlines() == [f"{a}: version 1 -> 3", f"{a}: version 3 = 2 (already there)",
                                       f"{a}: alias challenger -> 3", f"{a}: alias champion -> 2"]
    views = {v["version"]: v for v in versions_json(target, a)}
    assert sorted(views) == [1, 2, 3]
    assert views[3]["current_stage"] == "Production" and views[3]["description"] == "first"
    assert views[2]["current_stage"] == "Staging"  # the matched version follows the source
    assert json.loads(ok(regctl("alias", "list", a, "--json", store=target))) == {"challenger": 3, "champion": 2}
    assert files_of(Path(ok(regctl("resolve", f"models:/{a}/3", store=target)).strip())) == \
        files_of(names["sources"]["a1"])
    again = regctl("push", a, "--to", target, "--json", store=source)
    report = json.loads(ok(again))
    assert report["copied"] == 0 and report["present"] == 2
    assert [(v["source"], v["target"], v["action"]) for v in report["models"][0]["versions"]] == [
        (1, 3, "present"), (3, 2, "present")]


def test_push_all_models_and_errors(tmp_path):
    source, names = build_source(tmp_path, "every")
    target = tmp_path / "all" / "mlruns"
    result = regctl("push", "--to", target, store=source)
    assert "2 model(s)" in ok(result) + result.stderr
    assert sorted(m["name"] for m in json.loads(ok(regctl("models", "--json", store=target)))) == sorted(
        [names["a"], names["b"]])
    missing = regctl("push", "no-such-model", "--to", target, store=source)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "'no-such-model'" in missing.stderr
    unreachable = regctl("push", "--to", "http://127.0.0.1:9", store=source, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert unreachable.returncode == 5 and unreachable.stderr.count("\n") == 1


def test_push_shows_a_progress_bar_on_a_terminal(tmp_path):
    """On a terminal: a progress bar on stderr; off a terminal (every other test): one summary line."""
    import pty
    import subprocess
    import sys

    source, names = build_source(tmp_path, "tty")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    env.update(TERM="xterm-256color", COLUMNS="120")
    process = subprocess.Popen([sys.executable, "-m", "regctl", "--store", str(source), "push", "--to",
                                str(tmp_path / "tty-target" / "mlruns")],
                               stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    shown = drain_pty(master).decode(errors="replace")
    stdout = process.stdout.read().decode()
    assert process.wait() == 0
    assert "pushing" in shown and "/3" in shown and "pushed 2 model(s)" in shown
    assert "version 1 copied" in stdout


def test_versions_with_the_same_files_are_each_copied_once(tmp_path):
    source, target = tmp_path / "same" / "mlruns", tmp_path / "same-target" / "mlruns"
    files = make_model(tmp_path, "twice")
    for _ in range(3):
        ok(regctl("register", files, "--name", "twice", store=source))
    ok(regctl("alias", "set", "twice", "champion", "2", store=source))
    first = regctl("push", "--to", target, store=source)
    assert "3 version(s) copied" in ok(first) + first.stderr
    assert [v["version"] for v in versions_json(target, "twice")] == [3, 2, 1]
    again = regctl("push", "--to", target, store=source)
    assert "0 version(s) copied, 3 already there" in ok(again) + again.stderr
    assert json.loads(ok(regctl("alias", "list", "twice", "--json", store=target))) == {"champion": 2}


def test_push_a_file_store_into_mlflows_sqlite_database(tmp_path):
    """Issue 11: mlruns/ -> mlflow.db, read back with regctl and with MLflow's own client."""
    import shutil

    from conftest import FIXTURES

    source, names = build_source(tmp_path, "todb")
    a, b = names["a"], names["b"]
    shutil.copytree(FIXTURES / "mlflow3-db", tmp_path / "db")
    target = f"sqlite:///{tmp_path / 'db' / 'mlflow.db'}"
    result = regctl("push", a, b, "--to", target, store=source)
    ok(result)
    for name in (a, b):
        assert [kept(v) for v in versions_json(target, name)] == [kept(v) for v in versions_json(source, name)]
        assert model_kept(target, name) == model_kept(source, name)
    copied = ok(regctl("resolve", f"models:/{a}@champion", store=target)).strip()
    assert files_of(Path(copied)) == files_of(names["sources"]["a3"])
    assert regctl("verify", f"models:/{a}@champion", store=target).returncode == 0
    again = json.loads(ok(regctl("push", a, b, "--to", target, "--json", store=source)))
    assert again["copied"] == 0
    mlflow = import_mlflow()
    client = mlflow.MlflowClient(tracking_uri=target, registry_uri=target)
    assert sorted(int(v.version) for v in client.search_model_versions(f"name = '{a}'")) == [1, 3]
    assert int(client.get_model_version_by_alias(a, "champion").version) == 3


# ---------------------------------------------- every check before the first write

def source_store(tmp_path: Path, kind: str) -> "tuple[object, Path]":
    """A source store of ``kind``: a new file store, or a copy of the MLflow 3 database; and its directory."""
    if kind == "sqlite":
        return FixtureStore("mlflow3-db", tmp_path / "db-source").store, tmp_path / "db-source"
    return tmp_path / "source" / "mlruns", tmp_path / "source"


def existing_target(tmp_path: Path) -> Path:
    """A file store with one model of its own, to prove a refused push leaves it as it was."""
    target = tmp_path / "target" / "mlruns"
    ok(regctl("register", make_model(tmp_path, "theirs"), "--name", "theirs", store=target))
    return target


def refused_both_ways(args: list, store, target, code: int, *needles: str, directory=None) -> str:
    """The dry run and the real run fail with the same line, and the target (in ``directory``) is
    left byte for byte."""
    directory = directory or target
    before = snapshot(directory)
    dry = one_line_failure(regctl("push", *args, "--to", target, "--dry-run", store=store), code, *needles)
    real = one_line_failure(regctl("push", *args, "--to", target, store=store), code, *needles)
    assert dry == real
    assert snapshot(directory) == before
    return real


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_push_refuses_a_version_whose_files_changed_since_registration(kind, tmp_path):
    store, _ = source_store(tmp_path, kind)
    ok(regctl("register", make_model(tmp_path, "good"), "--name", "good", store=store))
    changed = make_model(tmp_path, "changed")
    ok(regctl("register", changed, "--name", "zzz", store=store))
    with open(changed / "MLmodel", "a") as handle:
        handle.write("tampered\n")
    assert regctl("verify", "models:/zzz/1", store=store).returncode == 4
    target = existing_target(tmp_path)
    line = refused_both_ways([], store, target, 4, "'models:/zzz/1'", "'MLmodel'", "differ")
    assert "good" not in line
    assert [m["name"] for m in json.loads(ok(regctl("models", "--json", store=target)))] == ["theirs"]


@pytest.mark.server
def test_push_from_a_server_refuses_a_version_whose_files_changed(sqlite_server, tmp_path):
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    label = f"served-{uuid.uuid4().hex[:8]}"
    ok(regctl("register", make_model(tmp_path, label), "--name", label, store=sqlite_server.url, env=env))
    [served] = [p for p in sqlite_server.artifacts.rglob("MLmodel") if label in p.read_text()]
    with open(served, "a") as handle:
        handle.write("tampered\n")
    target = existing_target(tmp_path)
    before = snapshot(target)
    for dry_run in (["--dry-run"], []):
        one_line_failure(regctl("push", label, "--from", sqlite_server.url, "--to", target, *dry_run, env=env), 4,
                         f"'models:/{label}/1'", "'MLmodel'")
    assert snapshot(target) == before


def test_push_into_a_database_refuses_a_symlinked_artifact_directory(tmp_path):
    """As the file store does: a link leading out of the store is reported, never followed."""
    store, _ = source_store(tmp_path, "file")
    ok(regctl("register", make_model(tmp_path, "m"), "--name", "zzz", store=store))
    database = FixtureStore("mlflow3-db", tmp_path / "db-target")
    outside = tmp_path / "outside"
    outside.mkdir()
    (database.base / "regctl-artifacts").symlink_to(outside)
    refused_both_ways(["zzz"], store, database.store, 4, "symbolic link leading outside the store",
                      directory=database.base)
    assert list(outside.iterdir()) == []


def test_push_with_missing_files_fails_in_its_dry_run_and_writes_nothing(tmp_path):
    store, _ = source_store(tmp_path, "file")
    ok(regctl("register", make_model(tmp_path, "first"), "--name", "aaa", store=store))
    ok(regctl("register", make_model(tmp_path, "z1"), "--name", "zzz", store=store))
    gone = make_model(tmp_path, "z2")
    ok(regctl("register", gone, "--name", "zzz", store=store))
    gone.rename(tmp_path / "moved-away")
    target = existing_target(tmp_path)
    refused_both_ways([], store, target, 1, "'models:/zzz/2'", "not found")


def test_push_checks_names_the_target_would_refuse_before_writing(tmp_path):
    """A name MLflow 2 allowed (``team:churn``) cannot create a model: refused before any model is copied."""
    import sqlite3

    store, base = source_store(tmp_path, "sqlite")
    connection = sqlite3.connect(base / "mlflow.db")
    with connection:
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("UPDATE registered_models SET name = 'team:churn' WHERE name = 'iris.baseline model'")
    connection.close()
    target = existing_target(tmp_path)
    refused_both_ways([], store, target, 2, "'team:churn'")


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_push_keeps_the_run_link(tmp_path, kind):
    """MLflow's ``run_link`` (where the run lives in another tracking system) travels with the version."""
    import shutil

    from conftest import FIXTURES, ok_json

    from regctl import Registry

    link = "https://ci.example.org/runs/7"
    source = tmp_path / "source" / "mlruns"
    Registry(str(source)).register(str(make_model(tmp_path, "linked")), "linked", run_link=link)
    if kind == "sqlite":
        shutil.copytree(FIXTURES / "mlflow3-db", tmp_path / "db")
        target = f"sqlite:///{tmp_path / 'db' / 'mlflow.db'}"
    else:
        target = str(tmp_path / "target" / "mlruns")
    ok(regctl("push", "linked", "--to", target, store=source))
    assert ok_json("describe", "linked", "--version", "1", store=source)["run_link"] == link
    assert ok_json("describe", "linked", "--version", "1", store=target)["run_link"] == link
    if kind == "sqlite":
        mlflow = import_mlflow()
        assert mlflow.MlflowClient(tracking_uri=target, registry_uri=target).get_model_version("linked", "1").run_link == link


# ------------------------------------------------- a push that fails after copying a version's files

JOURNAL = "models/.regctl%journal.jsonl"


def pushable(tmp_path: Path, name: str = "m") -> Path:
    """A file store holding model ``name`` with one version, to push from."""
    store = tmp_path / "source" / "mlruns"
    ok(regctl("register", make_model(tmp_path, name), "--name", name, store=store))
    return store


def another_writer(store: Path, name: str):
    """Another command holding model ``name``'s lock in a file store (the flock regctl takes), so that
    a push has copied the version's files and waits to register them."""
    from regctl.backends.file import layout
    from regctl.core import atomic

    return atomic.locked(layout.model_lock(store, name), name)


def without(state: dict, *names: str) -> dict:
    """A snapshot without regctl's lock files and the files ``names``."""
    return {k: v for k, v in state.items() if "%lock%" not in k and k not in names}


def logged_model_operations(store: Path) -> list:
    records = [json.loads(line) for line in (store / JOURNAL).read_text().splitlines()]
    return [(e["operation"], e["target"]) for r in records for e in r.get("entries", [])]


def copies_in(directory: Path) -> list:
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith(".regctl%lock%")) \
        if directory.is_dir() else []


def started_push(tmp_path: Path, source: Path, target, env: "dict | None" = None):
    """``regctl push`` in a real process of its own (with its own TMPDIR, ``tmp_path/tmp``)."""
    import subprocess
    import sys

    (tmp_path / "tmp").mkdir(exist_ok=True)
    full = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    full.update(TMPDIR=str(tmp_path / "tmp"), REGCTL_LOCK_TIMEOUT="60", **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "regctl", "push", "--from", str(source), "--to", str(target), "m"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full, cwd=tmp_path)


def wait_for_copy(directory: Path, process, before: "list | None" = None) -> str:
    """The name of the copy a push made in ``directory`` (it then waits for a lock)."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = [n for n in copies_in(directory) if n not in (before or []) and not n.startswith(".regctl-tmp-")]
        if new:
            time.sleep(0.2)  # the copy is renamed into place whole; let the push reach the lock
            return new[0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the push never copied the files")


def test_a_push_that_fails_after_copying_removes_the_logged_model_it_made(tmp_path):
    source = pushable(tmp_path)
    target = FixtureStore("mlflow3-store", tmp_path / "target").store
    before = snapshot(target)
    with another_writer(target, "m"):
        result = regctl("push", "--from", source, "--to", target, "m", env={"REGCTL_LOCK_TIMEOUT": "0.5"})
    one_line_failure(result, 4, "could not lock model 'm' within 0.5s")
    assert without(snapshot(target), JOURNAL) == without(before)  # no 0/models/m-* left
    (created, model_id), deleted = logged_model_operations(target)
    assert created == "logged_model.create" and deleted == ("logged_model.delete", model_id)


def test_a_push_into_a_database_that_fails_after_copying_removes_its_copy(tmp_path):
    import sqlite3

    source = pushable(tmp_path)
    db = FixtureStore("mlflow3-db", tmp_path / "project").root
    before = snapshot(db.parent)
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")  # another writer: the registration cannot be made
    try:
        result = regctl("push", "--from", source, "--to", f"sqlite:///{db}?timeout=0.5", "m")
    finally:
        connection.execute("ROLLBACK")
        connection.close()
    one_line_failure(result, 4, f"could not lock the database {db} within 0.5s")
    assert snapshot(db.parent) == before  # no regctl-artifacts/<id>, nor the directory


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_a_push_ended_by_a_signal_after_copying_removes_the_logged_model_it_made(tmp_path, signum):
    import signal

    source = pushable(tmp_path)
    target = FixtureStore("mlflow3-store", tmp_path / "target").store
    before = snapshot(target)
    with another_writer(target, "m"):
        process = started_push(tmp_path, source, target)
        try:
            wait_for_copy(target / "0" / "models", process)
            process.send_signal(getattr(signal, signum))
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    number = getattr(signal, signum)
    assert process.returncode == 128 + number, err
    assert err.splitlines()[-1] == ("regctl: interrupted" if signum == "SIGINT" else "regctl: terminated by SIGTERM")
    assert without(snapshot(target), JOURNAL) == without(before)
    assert [op for op, _ in logged_model_operations(target)] == ["logged_model.create", "logged_model.delete"]
    assert list((tmp_path / "tmp").iterdir()) == []  # no regctl-push-* scratch either


def test_a_push_removes_the_scratch_directory_a_killed_push_left_never_a_live_ones(tmp_path):
    source = pushable(tmp_path)
    ok(regctl("register", make_model(tmp_path, "n"), "--name", "n", store=source))
    target, elsewhere = FixtureStore("mlflow3-store", tmp_path / "target").store, tmp_path / "elsewhere" / "mlruns"
    scratch = tmp_path / "tmp"

    def push_n() -> None:  # another push, in a process of its own with the same temporary directory
        ok(regctl("push", "--from", source, "--to", elsewhere, "n", process=True, env={"TMPDIR": str(scratch)}))

    with another_writer(target, "m"):
        killed = started_push(tmp_path, source, target)
        try:
            wait_for_copy(target / "0" / "models", killed)
            left = sorted(p.name for p in scratch.iterdir())  # regctl-push-<x>, and its lock file
            assert [p.name[:12] for p in scratch.iterdir() if p.is_dir()] == ["regctl-push-"]
            push_n()
            assert sorted(p.name for p in scratch.iterdir()) == left  # a live push's scratch stays
        finally:
            killed.kill()  # SIGKILL: its scratch directory stays behind
            killed.communicate()
    assert sorted(p.name for p in scratch.iterdir()) == left
    push_n()
    assert list(scratch.iterdir()) == []


# ---------------------------------------------- several versions at once (--jobs)

def numbered_source(tmp_path: Path, name: str, count: int, deleted=()) -> "tuple[Path, dict]":
    """A file store with ``count`` versions of ``name`` (each its own files, a tag ``n`` and a
    description), ``deleted`` versions deleted, a stage and two aliases."""
    store = tmp_path / "numbered" / "mlruns"
    from regctl import Registry

    registry = Registry(str(store))
    sources = {}
    for number in range(1, count + 1):
        sources[number] = make_model(tmp_path, f"{name}-{number}")
        registry.register(str(sources[number]), name, description=f"version {number}", tags={"n": str(number)})
    for number in deleted:
        registry.delete_version(name, number)
    registry.set_alias(name, "champion", count)
    registry.set_alias(name, "first", 1)
    registry.transition_stage(name, 2, "Staging")
    return store, sources


@pytest.mark.server
def test_push_with_jobs_keeps_order_numbers_tags_and_aliases_file_to_server_to_server(
        sqlite_server, postgres_server, tmp_path):
    """--jobs 4: the versions get the source's numbers (deleted ones used up), each its own files,
    tags, description and stage, the aliases where they were; then server -> server alike."""
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    store, sources = numbered_source(tmp_path, name, 12, deleted=(4, 9))
    live = [n for n in range(1, 13) if n not in (4, 9)]
    result = regctl("push", name, "--to", sqlite_server.url, "--jobs", "4", store=store, env=env)
    assert ok(result).splitlines() == [f"{name}: version {n} copied" for n in live] + [
        f"{name}: alias champion -> 12", f"{name}: alias first -> 1"]
    for server in (sqlite_server, postgres_server):
        if server is postgres_server:
            result = regctl("push", name, "--from", sqlite_server.url, "--to", server.url, "-j", "4", env=env)
            assert "10 version(s) copied" in ok(result) + result.stderr
        client = server.client()
        versions = {int(v.version): v for v in client.search_model_versions(f"name = '{name}'")}
        assert sorted(versions) == live
        for number, version in versions.items():
            assert version.tags["n"] == str(number) and version.description == f"version {number}"
            assert "regctl.operation" not in version.tags
            assert version.current_stage == ("Staging" if number == 2 else "None")
        assert {k: int(v) for k, v in client.get_registered_model(name).aliases.items()} == {"champion": 12, "first": 1}
        for number in (1, 7, 12):
            dest = tmp_path / "check" / server.kind / str(number)
            ok(regctl("download", f"models:/{name}/{number}", dest, store=server.url, env=env))
            got = files_of(dest)
            got.pop("registered_model_meta")
            assert got == files_of(sources[number])
        again = regctl("push", name, "--from", store, "--to", server.url, "--jobs", "4", env=env)
        assert "0 version(s) copied, 10 already there" in ok(again) + again.stderr


@pytest.mark.server
def test_push_with_jobs_has_at_most_n_uploads_in_flight(sqlite_server, tmp_path):
    """A proxy counts the artifact uploads under way at once: never more than --jobs, and more than one."""
    import threading
    import time

    from proxy import FORWARD, FaultProxy

    lock, state = threading.Lock(), {"now": 0, "most": 0, "uploads": 0}

    def hook(method, path, body):
        if method == "PUT" and "/mlflow-artifacts/artifacts/" in path:
            with lock:
                state["now"] += 1
                state["uploads"] += 1
                state["most"] = max(state["most"], state["now"])
            time.sleep(0.2)  # long enough for the others to arrive
            with lock:
                state["now"] -= 1
        return FORWARD

    proxy = FaultProxy(sqlite_server.url, hook)
    try:
        name = f"inflight-{uuid.uuid4().hex[:8]}"
        store, _ = numbered_source(tmp_path, name, 8)
        env = {"XDG_STATE_HOME": str(tmp_path / "state")}
        ok(regctl("push", name, "--to", proxy.url, "--jobs", "3", store=store, env=env))
    finally:
        proxy.close()
    assert state["uploads"] == 8 * 3  # two files and the manifest per version
    assert 2 <= state["most"] <= 3, state
    versions = sqlite_server.client().search_model_versions(f"name = '{name}'")
    assert sorted((int(v.version), v.tags["n"]) for v in versions) == [(n, str(n)) for n in range(1, 9)]


@pytest.mark.parametrize("args, env, needle", [
    (["--jobs", "0"], {}, "'--jobs'"),
    (["-j", "65"], {}, "'--jobs'"),
    (["--jobs", "four"], {}, "'--jobs'"),
    ([], {"REGCTL_PUSH_JOBS": "0"}, "REGCTL_PUSH_JOBS='0'"),
    ([], {"REGCTL_PUSH_JOBS": "many"}, "REGCTL_PUSH_JOBS='many'"),
])
def test_push_refuses_a_bad_number_of_jobs(tmp_path, args, env, needle):
    source, names = build_source(tmp_path, "jobs")
    target = existing_target(tmp_path)
    before = snapshot(target)
    one_line_failure(regctl("push", "--to", target, *args, store=source, env=env), 2, needle)
    assert snapshot(target) == before


def test_push_with_one_job_or_many_copies_alike_between_local_stores(tmp_path):
    """Local stores move one version at a time whatever --jobs says: the same copy either way."""
    source, names = build_source(tmp_path, "local-jobs")
    copies = []
    for jobs, env in (("1", {}), (None, {"REGCTL_PUSH_JOBS": "8"})):
        target = tmp_path / f"target-{jobs}" / "mlruns"
        ok(regctl("push", "--to", target, *(["--jobs", jobs] if jobs else []), store=source, env=env))
        copies.append([kept(v) for name in (names["a"], names["b"]) for v in versions_json(target, name)])
    assert copies[0] == copies[1]


# ---------------------------------------------- requests per version (a counting proxy)

def _count(requests: list, *needles) -> int:
    """How many of ``requests`` (method, path, fault) match one of ``needles``: "METHOD part of the path"."""
    wanted = [needle.split(" ", 1) for needle in needles]
    return sum(1 for method, path, _ in requests if any(method == m and part in path for m, part in wanted))


@pytest.mark.server
def test_push_makes_few_requests_per_version_into_out_of_and_between_servers(sqlite_server, postgres_server, tmp_path):
    """A proxy counts what push asks of a server. Into a server, per version: a logged model, its two
    files and manifest, marked ready, the version (its logged model's id finds it if the answer is
    lost: no operation tag to remove). A push again: per version its download URI and manifest. Out
    of a server: per version its download URI, manifest, listings and files, each file read once (to
    check it, and kept for the copy), the version itself never read again."""
    from proxy import FaultProxy

    n = 12
    name = f"requests-{uuid.uuid4().hex[:8]}"
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    store, sources = numbered_source(tmp_path, name, n)
    into, other = FaultProxy(sqlite_server.url), FaultProxy(postgres_server.url)
    try:
        ok(regctl("push", name, "--to", into.url, "--jobs", "1", store=store, env=env))
        pushed = into.requests[:]
        assert _count(pushed, "POST /model-versions/create") == n
        assert _count(pushed, "DELETE /model-versions/delete-tag") <= 1  # the first version's, through register
        assert _count(pushed, "POST /logged-models", "PATCH /logged-models/") == 2 * n
        assert _count(pushed, "PUT /mlflow-artifacts/artifacts/") == 3 * n
        assert len(pushed) <= 6 * n + 20, len(pushed)  # was 7.6 per version (and 20 for the model)

        del into.requests[:]
        again = regctl("push", name, "--to", into.url, "--jobs", "1", store=store, env=env)
        assert f"0 version(s) copied, {n} already there" in ok(again) + again.stderr
        assert _count(into.requests, "GET /model-versions/get?", "GET /model-versions/get-download-uri") == n
        assert len(into.requests) <= 2 * n + 8, len(into.requests)  # was 4.3 per version

        del into.requests[:]
        offline = tmp_path / "offline" / "mlruns"
        ok(regctl("push", name, "--from", into.url, "--to", offline, "--jobs", "1", env=env))
        pulled = into.requests[:]
        assert _count(pulled, "GET /model-versions/get-download-uri") == n
        assert _count(pulled, "GET /model-versions/get?", "GET /registered-models/get") <= 3
        # its manifest and two files, each read once (kept from the check for the copy), and a
        # listing of each of its two directories
        assert _count(pulled, "GET /mlflow-artifacts/artifacts/") == 3 * n
        assert _count(pulled, "GET /mlflow-artifacts/artifacts?") == 2 * n
        assert len(pulled) <= 6 * n + 8, len(pulled)  # was 16.2 per version (4 listings, 7 files)
        for number in (1, n):
            path = Path(ok(regctl("resolve", f"models:/{name}/{number}", store=offline)).strip())
            assert files_of(path) == files_of(sources[number])

        del into.requests[:]
        ok(regctl("push", name, "--from", into.url, "--to", other.url, "--jobs", "4", env=env))
        assert len(into.requests) <= 6 * n + 8 and len(other.requests) <= 6 * n + 20, (len(into.requests),
                                                                                       len(other.requests))
        assert _count(other.requests, "DELETE /model-versions/delete-tag") <= 1
    finally:
        into.close()
        other.close()
    versions = postgres_server.client().search_model_versions(f"name = '{name}'")
    assert sorted((int(v.version), v.tags["n"]) for v in versions) == [(k, str(k)) for k in range(1, n + 1)]
    assert not any("regctl.operation" in v.tags for v in versions)


@pytest.mark.server
@pytest.mark.parametrize("kept", [True, False])
def test_push_from_a_server_copies_the_files_it_checked_or_none(sqlite_server, tmp_path, monkeypatch, kept):
    """Version 3's file changes on the server after push checked it and before push copies it. The
    files a server sends to be checked are kept for the copy (up to ``KEEP_CHECKED`` bytes): the copy
    is what was checked. Past that budget they are fetched again, each checked as it arrives: the
    push stops with one line, the versions before it copied, nothing of version 3 registered."""
    import importlib

    from proxy import FORWARD, FaultProxy

    if not kept and os.environ.get("REGCTL_TEST_SUBPROCESS"):
        pytest.skip("the budget is set in this process; REGCTL_TEST_SUBPROCESS runs the command in another")
    if not kept:  # the command runs in this process
        monkeypatch.setattr(importlib.import_module("regctl.push"), "KEEP_CHECKED", 0)
    name = f"changed-{uuid.uuid4().hex[:8]}"
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    store, sources = numbered_source(tmp_path, name, 4)
    ok(regctl("push", name, "--to", sqlite_server.url, store=store, env=env))

    def weights(number: int) -> Path:
        location = ok(regctl("resolve", f"models:/{name}/{number}", store=sqlite_server.url, env=env)).strip()
        return sqlite_server.artifacts / location.split("mlflow-artifacts:/", 1)[1].lstrip("/") / "data" / "weights.bin"

    third, fourth = weights(3), weights(4)
    assert third.is_file() and fourth.is_file()

    def hook(method, path, body):  # version 4 is checked after version 3: another client rewrites 3's file
        if method == "GET" and path.endswith(fourth.relative_to(sqlite_server.artifacts).as_posix()):
            third.write_bytes(b"changed")
        return FORWARD

    proxy = FaultProxy(sqlite_server.url, hook)
    offline = tmp_path / "offline" / "mlruns"
    try:
        result = regctl("push", name, "--from", proxy.url, "--to", offline, "--jobs", "1", env=env)
    finally:
        proxy.close()
    if kept:
        assert "4 version(s) copied" in ok(result) + result.stderr
        path = Path(ok(regctl("resolve", f"models:/{name}/3", store=offline)).strip())
        assert files_of(path) == files_of(sources[3])  # what was checked, not what is there now
        return
    assert result.returncode != 0 and result.stderr.count("\n") == 1, result
    assert "changed while push copied them" in result.stderr and "weights.bin" in result.stderr
    assert sorted(v["version"] for v in versions_json(offline, name)) == [1, 2]
