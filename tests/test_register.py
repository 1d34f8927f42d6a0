"""``regctl register`` on every kind of store: regctl's rule for a new model's name is one rule,
worded once; a model that already exists is registered into under the name it has; each
store's own limits are its own (a file store's names are file names, a database's are not)."""

import json
import sqlite3

import pytest
from conftest import copy_fixture_db, model_source, regctl, snapshot, sqlite_uri


@pytest.mark.parametrize("bad", ["x%y_z", "team:churn", " padded", "a?b"])
def test_a_new_model_name_regctl_refuses_is_refused_alike_on_every_store(any_store, bad):
    before = any_store.run("search", "--models", f"name = '{bad}'", "--json").stdout
    line = any_store.fails(2, "register", any_store.model_dir(), "--name", bad)
    assert line.startswith(f"regctl: invalid model name {bad!r}: "), line
    assert any_store.run("search", "--models", f"name = '{bad}'", "--json").stdout == before


def mlflow_made(database, name: str) -> None:
    """A registered model as MLflow's SQL store keeps it (a name regctl would not create)."""
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
                           "VALUES (?, 1, 1, NULL)", (name,))


@pytest.mark.parametrize("name", ["team:churn", " padded ", "what?", "x%y", "n" * 300])
def test_a_database_model_mlflow_made_takes_new_versions_under_its_name(tmp_path, name):
    database = copy_fixture_db("mlflow3-db", tmp_path / "db")
    mlflow_made(database, name)
    store = sqlite_uri(database)
    done = regctl("register", model_source(tmp_path / "m"), "--name", name, store=store)
    assert (done.returncode, done.stdout) == (0, "1\n"), done.stderr
    assert regctl("describe", name, "--json", store=store).returncode == 0
    assert regctl("alias", "set", name, "champion", "1", store=store).returncode == 0


def test_a_long_name_is_a_file_store_limit_only(tmp_path):
    long_name = "n" * 300
    on_file = regctl("register", model_source(tmp_path / "m"), "--name", long_name, store=tmp_path / "mlruns")
    assert on_file.returncode == 2 and "at most 255 bytes" in on_file.stderr
    assert not (tmp_path / "mlruns").exists()
    database = copy_fixture_db("mlflow3-db", tmp_path / "db")
    on_database = regctl("register", model_source(tmp_path / "m2"), "--name", long_name, store=sqlite_uri(database))
    assert (on_database.returncode, on_database.stdout) == (0, "1\n"), on_database.stderr


def test_a_refused_name_leaves_the_database_as_it_was(tmp_path):
    database = copy_fixture_db("mlflow3-db", tmp_path / "db")
    before = snapshot(tmp_path / "db")
    done = regctl("register", model_source(tmp_path / "m"), "--name", "x%y_z", store=sqlite_uri(database))
    assert done.returncode == 2 and done.stderr.startswith("regctl: invalid model name 'x%y_z'")
    assert snapshot(tmp_path / "db") == before


# ---------------------------------------------------------------- register --copy

MLFLOW_DOWNLOAD = ("import sys, os, mlflow\nmlflow.set_tracking_uri(sys.argv[1]); mlflow.set_registry_uri(sys.argv[1])\n"
                   "print(open(os.path.join(mlflow.artifacts.download_artifacts(sys.argv[2], dst_path=sys.argv[3]), "
                   "'MLmodel')).read(), end='')\n")


def test_register_copy_keeps_the_files_in_the_store_whatever_happens_to_the_directory(any_store):
    import os
    import shutil
    import subprocess
    import sys

    source = any_store.model_dir()
    (source / "MLmodel").write_text("flavors: {copied: 1}\n")
    assert any_store.ok("register", source, "--name", any_store.name, "--copy") == "1\n"
    shutil.rmtree(source)  # the version does not depend on the directory any more
    uri = f"models:/{any_store.name}/1"
    assert any_store.json("verify", uri)["files"] == 1
    if any_store.kind != "server":
        where = any_store.ok("resolve", uri).strip()
        inside = os.path.dirname(any_store.store[len("sqlite:///"):]) if any_store.kind == "sqlite" else any_store.store
        assert where.startswith(inside + os.sep) and os.path.isfile(os.path.join(where, "MLmodel")), where
    store = any_store.store if any_store.kind != "file" else "file://" + any_store.store
    env = dict(os.environ, MLFLOW_ALLOW_FILE_STORE="true", MLFLOW_TRACKING_URI=store)
    done = subprocess.run([sys.executable, "-c", MLFLOW_DOWNLOAD, store, uri, str(any_store.tmp_path / "dl")],
                          capture_output=True, text=True, timeout=180, env=env, cwd=any_store.tmp_path)
    assert (done.returncode, done.stdout) == (0, "flavors: {copied: 1}\n"), done.stderr


def test_register_copy_takes_only_a_local_directory(any_store):
    before = any_store.run("search", "--models", "--json").stdout
    line = any_store.fails(2, "register", "runs:/0123456789abcdef0123456789abcdef/model", "--name", any_store.name,
                           "--copy")
    assert "--copy takes a local directory" in line
    line = any_store.fails(2, "register", any_store.tmp_path / "nothing-here", "--name", any_store.name, "--copy")
    assert "no such directory" in line
    line = any_store.fails(2, "register", any_store.model_dir() / "MLmodel", "--name", any_store.name, "--copy")
    assert "not a directory" in line
    assert any_store.run("search", "--models", "--json").stdout == before


def test_a_register_copy_that_fails_after_copying_leaves_the_file_store_as_it_was(tmp_path):
    from test_push import JOURNAL, another_writer, logged_model_operations, without

    store = tmp_path / "mlruns"
    regctl("register", model_source(tmp_path / "first"), "--name", "m", store=store)
    before = snapshot(store)
    with another_writer(store, "m"):
        done = regctl("register", model_source(tmp_path / "m"), "--name", "m", "--copy", store=store,
                      env={"REGCTL_LOCK_TIMEOUT": "0.5"})
    assert done.returncode == 4 and "could not lock model 'm' within 0.5s" in done.stderr
    after = without(snapshot(store), JOURNAL)
    # no logged model is left behind; the Default experiment it needed stays, as MLflow makes it itself
    assert after.pop("0/") is None and b"name: Default" in after.pop("0/meta.yaml")
    assert after == without(before, JOURNAL)
    (_, _), (created, model_id), deleted = logged_model_operations(store)[-3:]
    assert created == "logged_model.create" and deleted == ("logged_model.delete", model_id)


def test_a_register_copy_that_fails_after_copying_leaves_the_database_as_it_was(tmp_path):
    database = copy_fixture_db("mlflow3-db", tmp_path / "db")
    before = snapshot(tmp_path / "db")
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")  # another writer: the registration cannot be made
    try:
        done = regctl("register", model_source(tmp_path / "m"), "--name", "m", "--copy",
                      store=f"{sqlite_uri(database)}?timeout=0.5")
    finally:
        connection.execute("ROLLBACK")
        connection.close()
    assert done.returncode == 4 and "could not lock the database" in done.stderr
    assert snapshot(tmp_path / "db") == before  # no regctl-artifacts/<id>


def test_the_files_of_a_deleted_version_copied_beside_a_database_are_no_damage(tmp_path):
    """A version registered from its copy and then deleted (MLflow's delete drops the row, gc redacts
    the source) leaves its files as MLflow leaves a deleted version's artifacts: doctor does not call
    them a killed push's leftover."""
    database = copy_fixture_db("mlflow3-db", tmp_path / "db")
    store = sqlite_uri(database)
    before = regctl("doctor", "--json", store=store)
    for name in ("gone", "collected"):
        assert regctl("register", model_source(tmp_path / name), "--name", name, "--copy", store=store).returncode == 0
    assert regctl("delete", "gone", "--yes", store=store).returncode == 0
    assert regctl("register", model_source(tmp_path / "newer"), "--name", "collected", store=store).returncode == 0
    assert regctl("gc", "collected", "--keep", "1", "--yes", store=store).returncode == 0
    after = regctl("doctor", "--json", store=store)
    assert after.returncode == before.returncode
    assert json.loads(after.stdout)["problems"] == json.loads(before.stdout)["problems"]
    assert len(list((tmp_path / "db" / "regctl-artifacts").iterdir())) == 2  # both copies stay


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_register_copy_copies_what_links_point_at_so_the_version_depends_on_nothing_outside(tmp_path, kind):
    import os
    import shutil

    outside = tmp_path / "outside"
    (outside / "weights").mkdir(parents=True)
    (outside / "model.pkl").write_bytes(b"pickled")
    (outside / "weights" / "w.bin").write_bytes(b"weights")
    source = model_source(tmp_path / "m")
    os.symlink("../outside/model.pkl", source / "model.pkl")  # a relative link leading out of the directory
    os.symlink(outside / "weights", source / "weights")  # a linked directory
    store = str(tmp_path / "mlruns") if kind == "file" else sqlite_uri(copy_fixture_db("mlflow3-db", tmp_path / "db"))
    done = regctl("register", source, "--name", "linked", "--copy", store=store)
    assert (done.returncode, done.stdout) == (0, "1\n"), done.stderr
    shutil.rmtree(outside)
    shutil.rmtree(source)
    checked = regctl("verify", "models:/linked/1", "--json", store=store)
    assert checked.returncode == 0 and json.loads(checked.stdout)["files"] == 3, checked.stderr
    got = regctl("download", "models:/linked/1", tmp_path / "dl", store=store)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "dl" / "model.pkl").read_bytes() == b"pickled" and not (tmp_path / "dl" / "model.pkl").is_symlink()
    assert (tmp_path / "dl" / "weights" / "w.bin").read_bytes() == b"weights"


@pytest.mark.parametrize("kind", ["file", "sqlite"])
@pytest.mark.parametrize("odd", ["dangling link", "loop", "fifo"])
def test_register_copy_refuses_what_has_no_file_content_before_changing_anything(tmp_path, kind, odd):
    import os

    source = model_source(tmp_path / "m")
    if odd == "dangling link":
        os.symlink("../nowhere", source / "gone")
    elif odd == "loop":
        os.symlink(".", source / "again")
    else:
        os.mkfifo(source / "pipe")
    store = str(tmp_path / "mlruns") if kind == "file" else sqlite_uri(copy_fixture_db("mlflow3-db", tmp_path / "db"))
    regctl("register", model_source(tmp_path / "first"), "--name", "m", store=store)
    root = tmp_path / ("mlruns" if kind == "file" else "db")
    before = snapshot(root)
    for dry in ([], ["--dry-run"]):
        done = regctl("register", source, "--name", "m", "--copy", *dry, store=store)
        assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
        assert "--copy copies files" in done.stderr
        assert snapshot(root) == before
