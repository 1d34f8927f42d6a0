"""``regctl register`` on every kind of store: regctl's rule for a new model's name is one rule,
worded once; a model that already exists is registered into under the name it has; each
store's own limits are its own (a file store's names are file names, a database's are not)."""

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
