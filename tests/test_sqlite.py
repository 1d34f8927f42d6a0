"""MLflow's SQLite database as a store, on copies of the fixture databases (no MLflow needed).

What regctl writes into each table, checked row by row against what MLflow's SQL
store writes for the same call; the schema revisions regctl accepts; which
database a ``sqlite:`` URI (or the default) names; verify, doctor, rollback and
the journal beside the database; the lock timeout; parallel writers; and reads
compared with the ``MlflowClient`` oracle recorded in the fixtures.

The commands shared with the file store run on both backends in test_cli.py and
test_errors.py; the live MLflow comparisons are in test_interop_sqlite.py.
"""

import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, FixtureStore, ok, ok_json, snapshot, sqlite_uri
from conftest import regctl as run

JOURNAL = ".regctl-journal.jsonl"


def fails(result, code: int, *needles: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    return result.stderr


def query(db: FixtureStore, sql: str, *params) -> list:
    connection = sqlite3.connect(db.root)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def one(db: FixtureStore, sql: str, *params):
    found = query(db, sql, *params)
    assert len(found) == 1, found
    return found[0]


def execute(db: FixtureStore, sql: str, *params) -> None:
    connection = sqlite3.connect(db.root)
    with connection:
        connection.execute(sql, params)
    connection.close()


def dump(db: FixtureStore) -> list:
    connection = sqlite3.connect(db.root)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def journal(db: FixtureStore) -> list:
    path = Path(str(db.root) + JOURNAL)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def version_row(db: FixtureStore, name: str, version: int) -> dict:
    cursor = sqlite3.connect(db.root).execute("SELECT * FROM model_versions WHERE name = ? AND version = ?",
                                             (name, version))
    row = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], row))


def times(db: FixtureStore, name: str = "iris-classifier") -> dict:
    """``{None: the model's last_updated_time, N: version N's}``."""
    found = {None: one(db, "SELECT last_updated_time FROM registered_models WHERE name = ?", name)[0]}
    for version, updated in query(db, "SELECT version, last_updated_time FROM model_versions WHERE name = ?", name):
        found[version] = updated
    return found


@pytest.fixture
def db3(tmp_path) -> FixtureStore:
    return FixtureStore("mlflow3-db", tmp_path)


@pytest.fixture
def db2(tmp_path) -> FixtureStore:
    return FixtureStore("mlflow2-db", tmp_path)


@pytest.fixture(params=["mlflow3-db", "mlflow2-db"])
def db(request, tmp_path) -> FixtureStore:
    return FixtureStore(request.param, tmp_path)


@pytest.fixture
def model_dir(tmp_path) -> Path:
    target = tmp_path / "local model"
    target.mkdir()
    (target / "MLmodel").write_text("flavors: {}\n")
    (target / "weights.bin").write_bytes(b"\x00\x01\x02")
    return target


def pause() -> None:
    time.sleep(0.005)  # timestamps are milliseconds: let the next write get a later one


# ------------------------------------------------------------ reads vs MLflow

def test_reads_equal_what_mlflow_client_returned(db):
    """Every field of every model and live version, as MlflowClient returned them when the fixture was made."""
    oracle = db.expected["oracle"]
    models = ok_json("models", store=db)
    assert [m["name"] for m in models] == sorted(oracle)
    for model in models:
        theirs = oracle[model["name"]]
        assert {k: model[k] for k in ("name", "creation_timestamp", "last_updated_timestamp", "description", "tags",
                                      "aliases")} == {k: theirs[k] for k in ("name", "creation_timestamp",
                                                                             "last_updated_timestamp", "description",
                                                                             "tags", "aliases")}
        assert model["latest_version"] == theirs["versions"][0]["version"]
        described = ok_json("describe", model["name"], store=db)
        assert sorted([v["current_stage"], v["version"]] for v in described["latest_versions"]) \
            == theirs["latest_versions"]
        assert ok_json("alias", "list", model["name"], store=db) == theirs["aliases"]
        versions = ok_json("versions", model["name"], store=db)
        assert len(versions) == len(theirs["versions"])
        for mine, mv in zip(versions, theirs["versions"]):
            download = mv.pop("download_uri")
            model_id = mv.pop("model_id")
            assert {k: mine[k] for k in mv} == mv
            # MLflow's SQL store has no model_id column (its client says None); regctl names the logged
            # model of a models:/m-<id> source, also through a models:/<name>/<N> copy
            assert model_id is None
            if db.major == 3:
                assert mine["model_id"] and mine["model_id"].startswith("m-")
                assert mine["model_id"] in download
            else:
                assert mine["model_id"] is None
            assert (mine["storage_location"] or mine["source"]) == download
            resolved = ok_json("resolve", f"models:/{model['name']}/{mine['version']}", store=db)
            assert resolved["path"] == str(db.on_disk(download)) and resolved["location"] == download


def test_deleted_versions_are_shown_as_mlflow_left_them(db):
    """MLflow redacts a soft-deleted version's source and run; ``versions --all`` shows that."""
    deleted = ok_json("versions", "iris-classifier", "--all", store=db)[0]
    assert (deleted["version"], deleted["current_stage"]) == (3, "Deleted_Internal")
    assert (deleted["source"], deleted["run_id"], deleted["run_link"]) == (
        "REDACTED-SOURCE-PATH", "REDACTED-RUN-ID", "REDACTED-RUN-LINK")
    fails(run("resolve", "models:/iris-classifier/3", store=db), 1, "version 3")


# --------------------------------------------------------------- registering

def test_register_from_a_run_writes_what_mlflow_writes(db3):
    (run_base, model_base), _ = [(r["run_id"], r["model_id"]) for r in db3.expected["runs"]]
    logged = one(db3, "SELECT artifact_location, experiment_id FROM logged_models WHERE model_id = ?", model_base)
    tag_before = one(db3, "SELECT tag_value FROM logged_model_tags WHERE model_id = ? AND tag_key = ?",
                     model_base, "mlflow.modelVersions")[0]
    result = run("register", f"runs:/{run_base}/model", "--name", "fresh", "--tag", "team=ml", "--alias", "prod",
                 "--description", "First.", store=db3)
    assert ok(result) == "1\n"
    name, created, updated, description, workspace = one(
        db3, "SELECT name, creation_time, last_updated_time, description, workspace FROM registered_models "
             "WHERE name = 'fresh'")
    assert (description, workspace) == (None, "default") and created == updated
    row = version_row(db3, "fresh", 1)
    assert row == {
        "name": "fresh", "version": 1, "creation_time": created, "last_updated_time": created, "description": "First.",
        "user_id": None, "current_stage": "None", "source": f"models:/{model_base}", "run_id": run_base,
        "status": "READY", "status_message": None, "run_link": None, "storage_location": logged[0],
        "workspace": "default"}
    # only the tags asked for: regctl's digest goes to its journal, not into MLflow's tags
    assert query(db3, 'SELECT "key", value, workspace FROM model_version_tags WHERE name = ?', "fresh") == [
        ("team", "ml", "default")]
    assert query(db3, "SELECT alias, version FROM registered_model_aliases WHERE name = ?", "fresh") == [("prod", 1)]
    tag_after = one(db3, "SELECT tag_value, experiment_id FROM logged_model_tags WHERE model_id = ? AND tag_key = ?",
                    model_base, "mlflow.modelVersions")
    assert json.loads(tag_after[0]) == json.loads(tag_before) + [{"name": "fresh", "version": 1}]
    assert tag_after[1] == logged[1]
    created_record = [r for r in journal(db3) if r["operation"] == "version.create"]
    assert len(created_record) == 1
    record = created_record[0]
    assert (record["model"], record["target"], record["new"], record["created"]) == (
        "fresh", 1, f"models:/{model_base}", created)
    assert record["digest"].startswith("sha256:") and "MLmodel" in record["files"]
    assert [r["operation"] for r in journal(db3)] == ["model.create", "version.create", "alias.set"]
    assert ok(run("verify", "models:/fresh@prod", store=db3)).startswith(record["digest"] + "  ")


def test_register_from_a_version_copies_no_tags(db3):
    """MLflow's register_model from models:/<name>/<N>: the source as given, the version's location, no tags."""
    assert ok(run("register", "models:/iris-classifier@champion", "--name", "copy", store=db3)) == "1\n"
    copied, original = version_row(db3, "copy", 1), version_row(db3, "iris-classifier", 2)
    assert copied["source"] == "models:/iris-classifier/2"
    assert copied["storage_location"] == original["storage_location"]
    assert original["run_id"] and copied["run_id"] is None and copied["description"] is None
    assert query(db3, "SELECT * FROM model_version_tags WHERE name = 'copy'") == []
    view = ok_json("describe", "copy", "--version", "1", store=db3)
    assert view["model_id"] == ok_json("describe", "iris-classifier", "--version", "2", store=db3)["model_id"]


def test_register_on_an_mlflow2_database(db2, model_dir):
    """No workspace column; the next number counts the soft-deleted version, as MLflow does."""
    assert ok(run("register", str(model_dir), "--name", "iris-classifier", store=db2)) == "4\n"
    row = version_row(db2, "iris-classifier", 4)
    assert "workspace" not in row
    assert (row["source"], row["storage_location"], row["run_id"]) == (str(model_dir), str(model_dir), None)
    assert one(db2, "SELECT last_updated_time FROM registered_models WHERE name = 'iris-classifier'")[0] \
        == row["creation_time"]
    assert ok(run("register", str(model_dir), "--name", "new one", "--alias", "a", store=db2)) == "1\n"
    assert one(db2, "SELECT COUNT(*) FROM registered_models WHERE name = 'new one'") == (1,)


# ------------------------------------------------------- what each write changes

def test_each_write_changes_what_mlflow_changes(db3):
    """last_updated_time moves exactly where MLflow's SQL store moves it."""
    t0 = times(db3)
    ok(run("alias", "set", "iris-classifier", "shadow", "1", store=db3))
    ok(run("alias", "delete", "iris-classifier", "shadow", store=db3))
    ok(run("tag", "iris-classifier", "k=v", store=db3))
    ok(run("tag", "iris-classifier", "--version", "1", "k=v", store=db3))
    ok(run("tag", "iris-classifier", "--version", "1", "--delete", "k", store=db3))
    assert times(db3) == t0  # aliases and tags: no timestamps (MLflow sets none)

    pause()
    ok(run("describe", "iris-classifier", "--version", "1", "--set", "v1", store=db3))
    t1 = times(db3)
    assert t1[1] > t0[1] and {k: v for k, v in t1.items() if k != 1} == {k: v for k, v in t0.items() if k != 1}

    pause()
    ok(run("describe", "iris-classifier", "--set", "model", store=db3))
    t2 = times(db3)
    assert t2[None] > t1[None] and {k: v for k, v in t2.items() if k} == {k: v for k, v in t1.items() if k}

    pause()
    ok(run("stage", "iris-classifier", "1", "Production", "--archive-existing", store=db3))
    t3 = times(db3)
    assert t3[None] == t3[1] == t3[2] > t2[1] and t3[3] == t2[3]  # model, target and archived version 2
    assert one(db3, "SELECT current_stage FROM model_versions WHERE name = 'iris-classifier' AND version = 2") == (
        "Archived",)

    pause()
    ok(run("delete", "iris-classifier", "--version", "1", "--yes", store=db3))
    t4 = times(db3)
    assert t4[None] == t4[1] > t3[1] and t4[2] == t3[2]
    row = version_row(db3, "iris-classifier", 1)
    assert {k: row[k] for k in ("current_stage", "description", "user_id", "source", "run_id", "run_link",
                                "status_message")} == {
        "current_stage": "Deleted_Internal", "description": None, "user_id": None, "source": "REDACTED-SOURCE-PATH",
        "run_id": "REDACTED-RUN-ID", "run_link": "REDACTED-RUN-LINK", "status_message": None}
    assert row["storage_location"]  # kept, as MLflow keeps it
    assert query(db3, "SELECT alias FROM registered_model_aliases WHERE version = 1") == []  # challenger went with it
    assert query(db3, "SELECT \"key\" FROM model_version_tags WHERE name = 'iris-classifier' AND version = 1") == [
        ("validation_status",)]  # tags stay

    pause()
    ok(run("rename", "iris-classifier", "renamed", store=db3))
    t5 = times(db3, "renamed")
    assert t5[None] == t5[1] == t5[2] == t5[3] > t4[None]  # the model and every version, deleted ones too
    for table in ("registered_models", "model_versions", "registered_model_tags", "model_version_tags",
                  "registered_model_aliases"):
        assert query(db3, f"SELECT COUNT(*) FROM {table} WHERE name = 'iris-classifier'") == [(0,)], table
    assert query(db3, "SELECT alias, version FROM registered_model_aliases WHERE name = 'renamed'") == [
        ("champion", 2)]
    assert query(db3, "PRAGMA foreign_key_check") == []

    ok(run("delete", "renamed", "--yes", store=db3))
    for table in ("registered_models", "model_versions", "registered_model_tags", "model_version_tags",
                  "registered_model_aliases"):
        assert query(db3, f"SELECT COUNT(*) FROM {table} WHERE name = 'renamed'") == [(0,)], table
    assert query(db3, "PRAGMA foreign_key_check") == [] and query(db3, "PRAGMA integrity_check") == [("ok",)]
    operations = [r["operation"] for r in journal(db3)]
    assert operations[-3:] == ["alias.delete", "model.rename", "model.delete"]


# --------------------------------------------------------- schema revisions

def test_an_untested_schema_revision_refuses_writes(db3, model_dir):
    execute(db3, "UPDATE alembic_version SET version_num = 'abcdef123456'")
    before, files = dump(db3), snapshot(db3.base)
    for args in [("alias", "set", "iris-classifier", "champion", "1"), ("register", str(model_dir), "--name", "n"),
                 ("tag", "iris-classifier", "k=v"), ("doctor", "--fix")]:
        message = fails(run(*args, store=db3), 4, "abcdef123456", "writes refused")
        assert str(db3.root) in message
    assert dump(db3) == before and snapshot(db3.base) == files
    # reads go on: the tables and columns regctl reads are there
    assert ok_json("alias", "list", "iris-classifier", store=db3) == {"challenger": 1, "champion": 2}
    report = json.loads(run("doctor", "--json", store=db3).stdout)
    assert [w["kind"] for w in report["warnings"]] == ["schema-revision"] and report["ok"]


def test_a_database_regctl_cannot_read(tmp_path, db3):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    fails(run("models", store=sqlite_uri(empty)), 4, "no MLflow model registry", "registered_models")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    fails(run("models", store=sqlite_uri(junk)), 4, str(junk), "not an SQLite database")
    execute(db3, "ALTER TABLE model_versions DROP COLUMN storage_location")
    fails(run("versions", "iris-classifier", store=db3), 4, "storage_location")
    fails(run("register", "/nonexistent", "--name", "x", store=sqlite_uri(tmp_path / "none.db")), 1, "/nonexistent")
    fails(run("register", str(tmp_path), "--name", "x", store=sqlite_uri(tmp_path / "none.db")), 4, "none.db")
    assert not (tmp_path / "none.db").exists()


# ---------------------------------------------------------- which database

def test_which_database_a_uri_or_the_default_names(tmp_path, db3):
    names = sorted(db3.expected["oracle"])
    work = tmp_path / "work dir"
    work.mkdir()
    shutil.copyfile(db3.root, work / "mlflow.db")

    def models(env=None, cwd=work, store=None):
        return [m["name"] for m in ok_json("models", env=env or {}, cwd=cwd, store=store)]

    assert models() == names  # nothing configured, no ./mlruns: ./mlflow.db
    assert models(store="sqlite:///mlflow.db") == names  # three slashes: relative to the current directory
    assert models(store=f"sqlite:///{work}/mlflow.db".replace(" ", "%20")) == names  # percent-decoded
    assert models(env={"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}) == names
    assert models(env={"MLFLOW_REGISTRY_URI": "SQLITE:///mlflow.db", "MLFLOW_TRACKING_URI": "file:///nowhere"}) \
        == names
    assert models(env={"REGCTL_STORE": f"sqlite:///{db3.root}"}, cwd=tmp_path) == names
    # the first set value decides: a file store named by REGCTL_STORE wins over a database elsewhere
    empty = tmp_path / "empty-store"
    (empty / "models").mkdir(parents=True)
    assert models(env={"REGCTL_STORE": str(empty), "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}) == []
    # ./mlruns holding a database's artifacts only (MLflow 3.7+ puts them there): still ./mlflow.db
    (work / "mlruns" / "1" / "run-id" / "artifacts").mkdir(parents=True)
    assert models() == names
    # ./mlruns holding a file store (an experiment's meta.yaml, as MLflow checks, or a registry) wins
    (work / "mlruns" / "0").mkdir()
    (work / "mlruns" / "0" / "meta.yaml").write_text("name: Default\n")
    assert models() == []
    (work / "mlruns" / "0" / "meta.yaml").unlink()
    assert models() == names
    (work / "mlruns" / "models").mkdir()
    assert models() == []
    # no ./mlflow.db: ./mlruns, created by the first write
    (work / "mlflow.db").unlink()
    shutil.rmtree(work / "mlruns")
    (tmp_path / "src").mkdir()
    assert ok(run("register", str(tmp_path / "src"), "--name", "first", cwd=work)) == "1\n"
    assert (work / "mlruns" / "models" / "first").is_dir() and not (work / "mlflow.db").exists()
    for bad, needle in [("sqlite://", "in-memory"), ("sqlite:///:memory:", "in-memory"),
                        ("sqlite://host/x.db", "'host'"), ("sqlite:///x.db?timeout=soon", "timeout")]:
        fails(run("models", store=bad, cwd=work), 2, needle)
        fails(run("resolve", "models:/x/1", env={"MLFLOW_TRACKING_URI": bad}, cwd=work), 2, "MLFLOW_TRACKING_URI")


def test_resolve_on_a_database_stays_import_light(db3):
    """The resolve fast path on a database imports neither dataclasses nor the CLI stack."""
    code = ("import sys; from regctl.cli import fastpath; "
            f"assert fastpath.run(['--store', {str(db3.store)!r}, 'resolve', 'models:/iris-classifier@champion']) == 0; "
            "sys.stderr.write(repr(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dataclasses', 'typer', 'click', 'rich', 'yaml', 'json'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))})
    assert done.returncode == 0, done.stderr
    assert done.stderr == "[]" and done.stdout.endswith("/artifacts\n")


# ------------------------------------------------ verify, doctor, rollback

def test_verify_follows_renames_and_finds_changed_files(db3, model_dir):
    assert ok(run("register", str(model_dir), "--name", "local", store=db3)) == "1\n"
    assert ok(run("verify", "models:/local/1", store=db3)).endswith(f"  {model_dir}\n")
    ok(run("rename", "local", "moved", store=db3))
    ok(run("verify", "models:/moved/latest", store=db3))
    assert ok(run("resolve", "--verify", "models:/moved/1", store=db3)) == f"{model_dir}\n"
    (model_dir / "weights.bin").write_bytes(b"changed")
    (model_dir / "extra.txt").write_text("new")
    fails(run("verify", "models:/moved/1", store=db3), 4, "changed 'weights.bin'", "added 'extra.txt'")
    fails(run("resolve", "--verify", "models:/moved/1", store=db3), 4, "weights.bin")
    # a version MLflow registered has no digest; a deleted-and-recreated model does not inherit one
    fails(run("verify", "models:/iris-classifier/1", store=db3), 1, "no recorded digest")
    ok(run("delete", "moved", "--yes", store=db3))
    ok(run("register", "models:/iris-classifier/1", "--name", "moved", store=db3))
    ok(run("verify", "models:/moved/1", store=db3))


def test_doctor_finds_and_fixes_an_alias_on_a_deleted_version(db2):
    """MLflow 2.22's SQL store leaves the alias of a version it deletes: a state MLflow itself produces,
    so a warning (exit 0), which --fix removes."""
    result = run("doctor", "--json", store=db2)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["ok"] and report["problems"] == []
    assert [(p["kind"], p["model"], p["alias"], p["version"]) for p in report["warnings"]] == [
        ("deleted-version-alias", "iris-classifier", "candidate", 3)]
    assert any("0584bdc529eb" in note for note in report["notes"])
    fixed = ok_json("doctor", "--fix", store=db2)
    assert fixed["ok"] and [p["alias"] for p in fixed["fixed"]] == ["candidate"]
    assert ok_json("alias", "list", "iris-classifier", store=db2) == {"challenger": 1, "champion": 2}
    assert [(r["operation"], r["target"], r["old"], r["new"]) for r in journal(db2)] == [
        ("doctor.fix", "registered_model_aliases:candidate", "deleted-version-alias", "repaired")]
    assert ok(run("doctor", store=db2)).strip().endswith("no problems found")


def test_doctor_reports_missing_artifacts_and_damage(db3):
    assert ok_json("doctor", store=db3)["ok"]
    shutil.rmtree(db3.on_disk(db3.expected["oracle"]["iris-classifier"]["versions"][0]["download_uri"]))
    execute(db3, "INSERT INTO registered_model_aliases (alias, version, name) VALUES ('ghost', 9, 'iris-classifier')")
    Path(str(db3.root) + JOURNAL).write_text('{"operation": "x"}\n{broken\n')
    result = run("doctor", "--json", store=db3)
    assert result.returncode == 4
    kinds = sorted(p["kind"] for p in json.loads(result.stdout)["problems"])
    # version 2's artifacts are gone; version 1 and its copy still have theirs
    assert kinds == ["dangling-alias", "missing-artifacts"]
    assert [w["kind"] for w in json.loads(result.stdout)["warnings"]] == ["damaged-journal"]
    text = run("doctor", store=db3).stdout  # a table is no place: the model is named
    assert "dangling-alias: registered_model_aliases (model iris-classifier): alias 'ghost'" in text


def test_rollback_refuses_a_move_made_outside_regctl(db3):
    ok(run("alias", "set", "iris-classifier", "champion", "1", store=db3))
    execute(db3, "UPDATE registered_model_aliases SET version = 2 WHERE alias = 'champion'")  # as MLflow would
    before = dump(db3)
    fails(run("alias", "rollback", "iris-classifier", "champion", store=db3), 3, "changed outside regctl")
    assert dump(db3) == before
    ok(run("alias", "set", "iris-classifier", "champion", "1", store=db3))
    ok(run("alias", "set", "iris-classifier", "champion", "2", store=db3))
    ok(run("alias", "rollback", "iris-classifier", "champion", store=db3))
    assert one(db3, "SELECT version FROM registered_model_aliases WHERE alias = 'champion'") == (1,)
    assert [(r["old"], r["new"]) for r in journal(db3)][-1] == ("2", "1")


# ------------------------------------------------------------- concurrency

def test_a_held_write_lock_times_out_cleanly(db3):
    # read before locking: closing any descriptor of the file would drop this process's POSIX locks
    before = db3.root.read_bytes()
    holder = sqlite3.connect(db3.root, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for args in [("alias", "set", "iris-classifier", "champion", "1"), ("tag", "iris-classifier", "k=v")]:
            started = time.monotonic()
            fails(run(*args, store=db3, env={"REGCTL_LOCK_TIMEOUT": "0.5"}), 4, "could not lock the database",
                  str(db3.root), "0.5s")
            assert time.monotonic() - started < 10
        # readers are not blocked by a writer that has not committed
        assert ok_json("alias", "list", "iris-classifier", store=db3)["champion"] == 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert db3.root.read_bytes() == before and journal(db3) == []
    ok(run("alias", "set", "iris-classifier", "champion", "1", store=db3, env={"REGCTL_LOCK_TIMEOUT": "0.5"}))


def _writer_waiting_for_a_reader(db: FixtureStore, *args):
    """``regctl ARGS`` in a process whose COMMIT waits: a reader holds the database (as an MLflow
    server's query does). Returns (process, reader) once the writer is in its COMMIT."""
    reader = sqlite3.connect(db.root, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM registered_models").fetchall()  # a SHARED lock, until COMMIT
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    env["REGCTL_LOCK_TIMEOUT"] = "30"
    process = subprocess.Popen([sys.executable, "-m", "regctl", "--store", db.store, *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not _holds_sigterm(process.pid) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # in COMMIT, which waits for the reader (SIGINT and SIGTERM are held from just before it)
    assert process.poll() is None and _holds_sigterm(process.pid), process.communicate()
    return process, reader


def _holds_sigterm(pid: int) -> bool:
    """Whether the process blocks SIGTERM now (Linux: the SigBlk mask in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    blocked = next((line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), "0")
    return bool(int(blocked, 16) & (1 << (15 - 1)))


@pytest.mark.parametrize("args", [("rename", "iris-classifier", "renamed"),
                                  ("alias", "set", "iris-classifier", "champion", "1")])
def test_a_write_killed_while_its_commit_waits_leaves_no_record(db3, args):
    """The journal only ever holds committed changes: SIGKILL before the commit leaves both as they
    were; SIGTERM is held until the commit and its record are both written."""
    before, records = dump(db3), journal(db3)
    process, reader = _writer_waiting_for_a_reader(db3, *args)
    process.kill()
    process.wait()
    reader.execute("COMMIT")
    reader.close()
    assert dump(db3) == before and journal(db3) == records
    assert not Path(str(db3.root) + JOURNAL).exists()

    process, reader = _writer_waiting_for_a_reader(db3, *args)
    process.terminate()
    time.sleep(0.3)
    reader.execute("COMMIT")  # the commit goes through, then SIGTERM takes effect
    reader.close()
    process.wait(timeout=30)
    assert dump(db3) != before
    assert [r["operation"] for r in journal(db3)] == [{"rename": "model.rename", "alias": "alias.set"}[args[0]]]
    ok(run("history", store=db3))


def test_a_commit_that_times_out_behind_a_reader_leaves_nothing(db3):
    before = dump(db3)
    reader = sqlite3.connect(db3.root, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM registered_models").fetchall()
    try:
        fails(run("alias", "set", "iris-classifier", "champion", "1", store=db3, process=True,
                  env={"REGCTL_LOCK_TIMEOUT": "0.5"}), 4, "could not lock the database", "a reader")
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert dump(db3) == before and sorted(p.name for p in db3.base.iterdir()) == ["mlflow.db", "mlruns"]


def test_a_journal_that_cannot_be_appended_refuses_the_write_before_it_commits(db3):
    before = dump(db3)
    Path(str(db3.root) + JOURNAL).mkdir()
    fails(run("alias", "set", "iris-classifier", "champion", "1", store=db3), 4, "journal", "not a regular file")
    assert dump(db3) == before


def test_parallel_registrations_get_distinct_contiguous_versions(db3, tmp_path):
    """8 processes x 5 registrations of one new model: versions 1..40, each source exactly once."""
    workers, calls = 8, 5
    sources = []
    for i in range(workers * calls):
        source = tmp_path / "sources" / f"src-{i:02d}"
        source.mkdir(parents=True)
        (source / "MLmodel").write_text(f"id: {i}\n")
        sources.append(source)
    results = {}

    def worker(w: int) -> None:
        for j in range(calls):
            source = sources[w * calls + j]
            results[source] = run("register", source, "--name", "parallel", store=db3, process=True,
                                  env={"REGCTL_LOCK_TIMEOUT": "120"})

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(worker, range(workers)))
    assert {s: r.stderr for s, r in results.items() if r.returncode != 0} == {}
    printed = {int(r.stdout): str(s) for s, r in results.items()}
    assert sorted(printed) == list(range(1, workers * calls + 1))
    assert dict(query(db3, "SELECT version, source FROM model_versions WHERE name = 'parallel'")) == printed
    creates = [r for r in journal(db3) if r["operation"] == "version.create"]
    assert sorted(r["target"] for r in creates) == list(range(1, workers * calls + 1))
    assert [r["operation"] for r in journal(db3)].count("model.create") == 1
    assert query(db3, "PRAGMA integrity_check") == [("ok",)]


def test_a_failing_write_leaves_the_database_unchanged(db3, model_dir):
    """Checked on the SQL dump, the file's bytes and the journal, for each kind of failure."""
    ok(run("alias", "set", "iris-classifier", "shadow", "1", store=db3))
    before, data, records = dump(db3), db3.root.read_bytes(), journal(db3)
    for args, code in [
        (("alias", "set", "iris-classifier", "champion", "1", "--expect", "1"), 3),
        (("rename", "iris-classifier", "iris.baseline model"), 3),
        (("tag", "iris-classifier", "--delete", "task", "--delete", "missing"), 1),
        (("register", str(model_dir), "--name", "iris-classifier", "--alias", "latest"), 2),
        (("register", "models:/iris-classifier/3", "--name", "iris-classifier"), 1),
        (("stage", "iris-classifier", "3", "Production", "--archive-existing"), 1),
        (("delete", "iris-classifier", "--version", "7", "--yes"), 1),
        (("describe", "iris-classifier", "--alias", "nope", "--set", "x"), 1),
    ]:
        fails(run(*args, store=db3), code)
        assert dump(db3) == before, args
        assert db3.root.read_bytes() == data and journal(db3) == records, args
    assert sorted(p.name for p in db3.base.iterdir()) == ["local model", "mlflow.db", "mlflow.db" + JOURNAL, "mlruns"]


# ------------------------------------------------------------------ README

def test_the_readme_walk_through_a_database_runs(tmp_path):
    """The README's commands on a database, run as written (in a scratch directory), the fixture untouched."""
    before = snapshot(FIXTURES / "mlflow3-db")
    section = (REPO / "README.md").read_text(encoding="utf-8").split("\n## MLflow's SQLite database\n", 1)[1]
    block = section.split("\n## ", 1)[0].split("```sh\n", 1)[1].split("```", 1)[0]
    assert "--store sqlite:///mlflow.db" in block
    script = block.replace("/tmp/regctl-db-tour", str(tmp_path / "tour"))
    prelude = (f"set -e\nregctl() {{ {shlex.quote(sys.executable)} -m regctl \"$@\"; }}\n"
               f"cd {shlex.quote(str(REPO))}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    done = subprocess.run(["bash", "-c", prelude + script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "no problems found" in done.stdout
    assert "match the registered digest" in done.stderr
    assert snapshot(FIXTURES / "mlflow3-db") == before


def test_a_timeout_in_the_uri_is_accepted_and_waits_that_long(db3):
    """``sqlite:///mlflow.db?timeout=N`` (SQLAlchemy passes it to sqlite3): MLflow accepts it, so does regctl."""
    import sqlite3
    import time

    uri = f"{db3.store}?timeout=0.5"
    assert ok(run("versions", "iris-classifier", store=uri)).startswith("2\t")
    holder = sqlite3.connect(db3.root)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        result = run("alias", "set", "iris-classifier", "champion", "1", store=uri, env={"REGCTL_LOCK_TIMEOUT": "60"})
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 4 and "within 0.5s" in result.stderr, result
    assert waited < 30
    bad = run("models", store=f"{db3.store}?timeout=soon")
    assert bad.returncode == 2 and "timeout must be a number of seconds" in bad.stderr
