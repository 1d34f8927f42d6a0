"""What a CI script relies on: a registry without models is a store, where a model is missing."""

import json
import shutil

import pytest

from tests.conftest import (
    copy_fixture_db,
    copy_fixture_store,
    ok,
    ok_json,
    one_line_failure,
    regctl,
    snapshot,
)


@pytest.fixture
def runs_only(tmp_path):
    """An ``mlruns/`` MLflow made with experiments and runs, and no registered model yet."""
    root = copy_fixture_store("mlflow3-store", tmp_path)
    shutil.rmtree(root / "models")
    return root


@pytest.mark.parametrize("argv", [
    ("alias", "set", "NoSuch", "champion", "1"),
    ("alias", "delete", "NoSuch", "champion"),
    ("tag", "NoSuch", "team=risk"),
    ("versions", "NoSuch"),
])
def test_a_missing_model_in_a_registry_without_models_exits_1(runs_only, argv):
    before = snapshot(runs_only)
    one_line_failure(regctl(*argv, store=runs_only), 1, "registered model 'NoSuch' not found")
    assert snapshot(runs_only) == before


def test_a_missing_store_is_still_no_store(tmp_path):
    missing = tmp_path / "nowhere"
    one_line_failure(regctl("alias", "set", "NoSuch", "champion", "1", store=missing), 4, "no MLflow store at")
    assert not missing.exists()


def test_store_naming_a_project_directory_reads_its_database(tmp_path):
    project = tmp_path / "project"
    copy_fixture_db("mlflow3-db", project)  # mlflow.db, and mlruns/ holding only its artifacts
    before = snapshot(project)
    expected = ok_json("models", store=None, cwd=project)
    assert expected, "the fixture database holds models"
    assert ok_json("models", store=project) == expected
    assert ok_json("models", store=f"file://{project}") == expected
    assert ok(regctl("resolve", "models:/iris-classifier@champion", store=project, process=True)).strip()
    assert snapshot(project) == before


def test_store_naming_a_file_store_or_a_new_directory_is_unchanged(tmp_path, store3):
    assert ok_json("models", store=store3)  # the mlruns/ of a file store, beside no database
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "mlflow.db").write_bytes(b"")  # an mlflow.db inside a file store is not the store
    (fresh / "models").mkdir()
    assert ok_json("models", store=fresh) == []


def test_store_says_which_store_its_kind_and_what_chose_it(tmp_path, store3):
    project = tmp_path / "project"
    copy_fixture_db("mlflow3-db", project)
    database = str(project / "mlflow.db")
    assert ok_json("store", store=store3) == {"store": str(store3), "kind": "file", "origin": "--store",
                                              "shadows": {}}
    assert ok_json("store", store=None, cwd=project)["kind"] == "sqlite"
    by_default = ok(regctl("store", cwd=project))
    assert by_default.splitlines() == [f"store: {database}", "kind: sqlite", "chosen by: the directory rule "
                                       "(no --store, REGCTL_STORE, MLFLOW_REGISTRY_URI or MLFLOW_TRACKING_URI)"]
    server = ok_json("store", store=None, env={"MLFLOW_TRACKING_URI": "http://user:secret@127.0.0.1:9"})
    assert server == {"store": "http://user:***@127.0.0.1:9", "kind": "server", "origin": "MLFLOW_TRACKING_URI",
                      "shadows": {}}


def test_an_exported_regctl_store_hiding_another_store_is_said_once(tmp_path, store3):
    project = tmp_path / "project"
    copy_fixture_db("mlflow3-db", project)
    env = {"REGCTL_STORE": str(store3), "MLFLOW_TRACKING_URI": f"sqlite:///{project}/mlflow.db"}
    before = snapshot(project)
    found = ok_json("store", store=None, env=env)
    assert (found["store"], found["origin"]) == (str(store3), "REGCTL_STORE")
    assert found["shadows"] == {"MLFLOW_TRACKING_URI": env["MLFLOW_TRACKING_URI"]}
    result = regctl("versions", "iris-classifier", env=env)
    ok(result)
    assert result.stderr.startswith("regctl: note: REGCTL_STORE='") and result.stderr.count("\n") == 1
    assert "' wins over MLFLOW_TRACKING_URI='sqlite:///" in result.stderr
    assert result.stderr.endswith("', which names another store (unset REGCTL_STORE to use it)\n")
    same = regctl("versions", "iris-classifier", env={"REGCTL_STORE": str(store3), "MLFLOW_TRACKING_URI": str(store3)})
    assert ok(same) and same.stderr == ""
    assert snapshot(project) == before


def test_write_commands_print_what_they_did_as_json(any_store):
    name, renamed = any_store.name, any_store.name + "-2"
    registered = any_store.json("register", any_store.model_dir(), "--name", name)
    version = registered["version"]
    assert registered == any_store.json("describe", name, "--version", version)
    assert any_store.json("alias", "set", name, "champion", version) == {
        "name": name, "alias": "champion", "old": None, "new": int(version), "changed": True}
    again = any_store.run("alias", "set", name, "champion", version, "--expect", "none", "--json")
    assert json.loads(again.stdout)["changed"] is False and again.returncode == 0
    assert any_store.json("tag", name, "team=risk") == {"name": name, "version": None, "set": {"team": "risk"},
                                                         "deleted": []}
    assert any_store.json("stage", name, version, "Staging")["current_stage"] == "Staging"
    assert any_store.json("describe", name, "--set", "for CI")["description"] == "for CI"
    assert any_store.json("alias", "delete", name, "champion")["new"] is None
    assert any_store.json("rename", name, renamed) == {"old": name, "new": renamed}
    assert any_store.json("delete", renamed, "--yes") == {"name": renamed, "version": None, "aliases_removed": []}


@pytest.mark.parametrize("command", [["diff", "a", "b"], ["gc", "x", "--keep", "1"], ["push", "--to", "t"],
                                     ["download", "a", "b"]])
def test_json_only_commands_do_not_promise_format(command):
    assert "same as --format" not in ok(regctl(*command[:1], "--help"))


def test_push_never_moves_a_target_alias_that_points_elsewhere_unless_asked(any_store, tmp_path):
    name = any_store.name
    local = tmp_path / "local" / "mlruns"
    for _ in range(2):
        ok(regctl("register", any_store.model_dir(), "--name", name, store=local))
    ok(regctl("alias", "set", name, "champion", "2", store=local))
    ok(regctl("alias", "set", name, "candidate", "2", store=local))
    any_store.ok("register", any_store.model_dir("team"), "--name", name)
    any_store.ok("alias", "set", name, "champion", "1")
    before = any_store.json("versions", name, "--all")
    for extra in (["--dry-run"], []):
        result = regctl("push", name, "--to", any_store.store, *extra, store=local, env=any_store.env)
        line = one_line_failure(result, 3, f"'{name}'@champion (at 1)", "--move-aliases")
        assert "candidate" not in line
        assert any_store.json("versions", name, "--all") == before
        assert any_store.json("alias", "list", name) == {"champion": 1}
    ok(regctl("push", name, "--to", any_store.store, "--move-aliases", store=local, env=any_store.env))
    aliases = any_store.json("alias", "list", name)
    assert aliases["champion"] == aliases["candidate"] != 1
