"""regctl on MLflow's SQLite database, with real MLflow 3.17 (in this process) and 2.22 (in its own) as the oracle.

* MLflow 3.17 logs the models into ``sqlite:///.../mlflow.db``, the real regctl CLI
  does every registry write, and ``MlflowClient`` must read exactly what regctl's
  ``--json`` shows, field by field, load the champion, and see a soft delete
  redacted as its own delete redacts it. MLflow then writes (registers, moves
  aliases, deletes, renames) and regctl reads that; ``mlflow db upgrade`` runs
  on the database regctl wrote, and both keep reading and writing it.
* MLflow 2.22 creates its own database (schema without workspaces), regctl
  writes, MLflow 2 reads and registers after it; then MLflow 3.17's ``mlflow db
  upgrade`` brings it to the MLflow 3 schema, and regctl and MLflow 3 go on.

The MLflow 2 interpreter is found as in test_interop_mlflow2.py
(``REGCTL_MLFLOW2_PYTHON``, else ``<repo>/.venv-mlflow2``).
"""

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_fixture_db, model_source, regctl
from mlflow_oracle import (
    FEATURES,
    WRITTEN_DESCRIPTION,
    WRITTEN_MODEL,
    WRITTEN_MODEL_TAGS,
    WRITTEN_NEW_NAME,
    WRITTEN_OLD_NAME,
    WRITTEN_VERSION2_DESCRIPTION,
    import_mlflow,
    log_model_run,
    model_as_regctl,
    regctl_json,
    regctl_ok,
    version_as_regctl,
    write_registry_with_regctl,
)

import_mlflow()  # skips this module where MLflow is not installed
from mlflow.exceptions import MlflowException  # noqa: E402
from test_interop_mlflow2 import assert_same_registry, mlflow2_python, run_mlflow2  # noqa: E402,F401

X = WRITTEN_MODEL
MLFLOW3_HEAD = "dc11669786a5"
MLFLOW2_HEAD = "0584bdc529eb"


def db_uri(path: Path) -> str:
    return f"sqlite:///{path}"


def revision(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        connection.close()


@contextlib.contextmanager
def using_db(uri: str, cwd: Path):
    """MLflow's global tracking and registry URIs set to ``uri``, run from ``cwd`` (its artifacts go to ./mlruns)."""
    import mlflow
    from mlflow.tracking import fluent
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    # the active experiment too: another module may have set one, in another store
    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID")}
    saved = (tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id)
    saved_cwd = os.getcwd()
    os.chdir(cwd)
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    fluent._active_experiment_id = None
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield mlflow
    finally:
        os.chdir(saved_cwd)
        tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id = saved
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def client_of(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def mlflow_db_upgrade(uri: str) -> None:
    """``mlflow db upgrade`` with MLflow 3.17 (this interpreter's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "REGCTL_"))}
    done = subprocess.run([sys.executable, "-m", "mlflow", "db", "upgrade", uri], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def assert_mlflow_sees_regctl(uri: str) -> None:
    """Every model, live version and alias as MlflowClient reads them equals regctl's ``--json``."""
    client = client_of(uri)
    models = regctl_json(uri, "models")
    assert [rm.name for rm in client.search_registered_models(max_results=1000)] == [m["name"] for m in models]
    for model in models:
        name = model["name"]
        rm = client.get_registered_model(name)
        assert model_as_regctl(rm) == {k: v for k, v in model.items() if k != "latest_version"}
        described = regctl_json(uri, "describe", name)
        assert sorted((mv.current_stage, int(mv.version)) for mv in rm.latest_versions) == sorted(
            (v["current_stage"], v["version"]) for v in described["latest_versions"])
        versions = regctl_json(uri, "versions", name)
        assert sorted(int(mv.version) for mv in client.search_model_versions(f"name = '{name}'")) == sorted(
            v["version"] for v in versions)
        for view in versions:
            mv = client.get_model_version(name, str(view["version"]))
            theirs = version_as_regctl(mv)
            assert theirs.pop("model_id") is None  # MLflow's SQL store keeps no model_id; regctl derives it
            assert {k: view[k] for k in theirs} == theirs, (name, view["version"])
            download = client.get_model_version_download_uri(name, str(view["version"]))
            assert download == (view["storage_location"] or view["source"])
            resolved = regctl_json(uri, "resolve", f"models:/{name}/{view['version']}")
            assert resolved["location"] == download and Path(resolved["path"]).is_dir()
        for alias, version in model["aliases"].items():
            assert int(client.get_model_version_by_alias(name, alias).version) == version


# ---------------------------------------------------------------- MLflow 3

@pytest.fixture(scope="module")
def written3(tmp_path_factory):
    """A database MLflow 3.17 created and logged three runs into; every registry write by regctl."""
    work = tmp_path_factory.mktemp("sqlite3-interop")
    database = work / "mlflow.db"
    uri = db_uri(database)
    with using_db(uri, work) as mlflow:
        mlflow.set_experiment("sqlite-interop")
        runs = [log_model_run(mlflow, True, [2.0, -1.0], "first"),
                log_model_run(mlflow, False, [-1.0, 3.0], "second"),
                log_model_run(mlflow, False, [1.0, 1.0], "third")]
    assert revision(database) == MLFLOW3_HEAD
    first, second, third = runs
    write_registry_with_regctl(uri, f"runs:/{first['run_id']}/model", f"models:/{second['model_id']}",
                               f"runs:/{third['run_id']}/model")
    return {"work": work, "database": database, "uri": uri, "runs": runs}


def test_mlflow3_reads_what_regctl_wrote(written3):
    uri = written3["uri"]
    first, second, third = written3["runs"]
    assert_mlflow_sees_regctl(uri)
    client = client_of(uri)
    model = client.get_registered_model(X)
    assert model.description == WRITTEN_DESCRIPTION and dict(model.tags) == WRITTEN_MODEL_TAGS
    assert {a: int(v) for a, v in model.aliases.items()} == {"champion": 1, "challenger": 2}
    v1, v2 = client.get_model_version(X, "1"), client.get_model_version(X, "2")
    # what MLflow 3's register_model stores: the logged model's URI, its run, its artifact location
    assert (v1.source, v1.run_id) == (f"models:/{first['model_id']}", first["run_id"])
    assert (v2.source, v2.run_id) == (f"models:/{second['model_id']}", second["run_id"])
    assert client.get_model_version_download_uri(X, "1") == client.get_logged_model(first["model_id"]).artifact_location
    assert (v1.current_stage, v2.current_stage) == ("Production", "Staging")
    assert dict(v1.tags) == {"validation_status": "approved"} and dict(v2.tags) == {"checks/data": "passed"}
    assert v2.description == WRITTEN_VERSION2_DESCRIPTION
    views = {v["version"]: v for v in regctl_json(uri, "versions", X)}
    assert views[1]["model_id"] == first["model_id"] and views[2]["model_id"] == second["model_id"]
    renamed = client.get_registered_model(WRITTEN_NEW_NAME)
    assert dict(renamed.tags) == {"origin": "regctl"} and {a: int(v) for a, v in renamed.aliases.items()} == {"prod": 1}
    assert dict(client.get_model_version(WRITTEN_NEW_NAME, "1").tags) == {"k": "v"}
    with pytest.raises(MlflowException):
        client.get_registered_model(WRITTEN_OLD_NAME)
    # register_model's link on the logged model, written as MLflow writes it
    links = json.loads(client.get_logged_model(first["model_id"]).tags["mlflow.modelVersions"])
    assert links == [{"name": X, "version": 1}, {"name": WRITTEN_OLD_NAME, "version": 1}]


def test_mlflow3_sees_regctl_deletes_as_its_own(written3):
    """A soft delete: hidden from MLflow's reads, redacted as MLflow's own delete_model_version redacts it."""
    uri = written3["uri"]
    client = client_of(uri)
    with pytest.raises(MlflowException, match="not found"):
        client.get_model_version(X, "3")
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(X, "doomed")
    store = client._get_registry_client().store
    deleted = store._get_sql_model_version_including_deleted(X, 3)
    mine = regctl_json(uri, "versions", X, "--all")[0]
    theirs = version_as_regctl(deleted)
    assert theirs.pop("model_id") is None and mine["model_id"] is None
    assert mine["version"] == 3 and {k: mine[k] for k in theirs} == theirs
    assert (deleted.current_stage, deleted.source, deleted.run_id) == (
        "Deleted_Internal", "REDACTED-SOURCE-PATH", "REDACTED-RUN-ID")


def test_mlflow3_loads_the_champion(written3):
    first = written3["runs"][0]
    import numpy as np

    with using_db(written3["uri"], written3["work"]) as mlflow:
        predictions = mlflow.pyfunc.load_model(f"models:/{X}@champion").predict(np.array(FEATURES))
    assert list(predictions) == pytest.approx(first["predictions"])
    path = regctl_ok(written3["uri"], "resolve", f"models:/{X}@champion").strip()
    assert (Path(path) / "MLmodel").is_file()
    # loading writes MLflow's registered_model_meta into the stored files: not a change of the model
    assert (Path(path) / "registered_model_meta").is_file()
    regctl_ok(written3["uri"], "verify", f"models:/{X}@champion")
    regctl_ok(written3["uri"], "resolve", "--verify", f"models:/{X}@champion")


def test_register_from_a_registered_version_records_what_mlflow3_records(written3):
    """MLflow 3's register_model("models:/X/1", ...) on a database: the source as given, no tags and
    no run (a file store fills the run in from the logged model; a database does not)."""
    copy = written3["work"] / "copy-of-version.db"
    shutil.copyfile(written3["database"], copy)
    uri = db_uri(copy)
    with using_db(uri, written3["work"]) as mlflow:
        theirs = mlflow.register_model(f"models:/{X}/1", "copied by mlflow")
    assert regctl_ok(uri, "register", f"models:/{X}/1", "--name", "copied by regctl") == "1\n"
    client = client_of(uri)
    mine = client.get_model_version("copied by regctl", "1")
    assert theirs.run_id is None and dict(theirs.tags) == {}
    assert (mine.source, mine.run_id, dict(mine.tags)) == (theirs.source, theirs.run_id, dict(theirs.tags))


def test_mlflow3_writes_after_regctl_and_regctl_reads_it(written3):
    """On a copy: MLflow's own writes after regctl's, regctl reading them, ``mlflow db upgrade``, more writes."""
    copy = written3["work"] / "after.db"
    shutil.copyfile(written3["database"], copy)
    uri = db_uri(copy)
    first, second, third = written3["runs"]
    client = client_of(uri)
    with using_db(uri, written3["work"]) as mlflow:
        assert int(mlflow.register_model(f"runs:/{third['run_id']}/model", X).version) == 4  # after regctl's deleted 3
    client.set_registered_model_alias(X, "shadow", "4")
    client.set_model_version_tag(X, "4", "by", "mlflow")
    client.update_model_version(X, "4", description="From MLflow.")
    client.transition_model_version_stage(X, "4", "Staging", archive_existing_versions=True)
    client.delete_model_version(X, "2")
    client.rename_registered_model(WRITTEN_NEW_NAME, "renamed by mlflow")
    client.delete_registered_model_tag(X, "notes")
    assert_mlflow_sees_regctl(uri)
    views = {v["version"]: v for v in regctl_json(uri, "versions", X, "--all")}
    assert views[4]["source"] == f"models:/{third['model_id']}" and views[4]["aliases"] == ["shadow"]
    assert views[2]["source"] == "REDACTED-SOURCE-PATH" and "challenger" not in regctl_json(uri, "alias", "list", X)
    assert regctl_json(uri, "alias", "list", "renamed by mlflow") == {"prod": 1}

    mlflow_db_upgrade(uri)  # at MLflow 3.17's head already: a no-op that must not fail on regctl's rows
    assert revision(copy) == MLFLOW3_HEAD
    assert regctl_ok(uri, "register", f"models:/{first['model_id']}", "--name", X, "--alias", "champion") == "5\n"
    regctl_ok(uri, "alias", "rollback", X, "champion")
    regctl_ok(uri, "delete", "renamed by mlflow", "--yes")
    assert_mlflow_sees_regctl(uri)
    assert int(client.get_model_version_by_alias(X, "champion").version) == 1
    with pytest.raises(MlflowException):
        client.get_registered_model("renamed by mlflow")
    assert int(client.create_model_version(X, client.get_model_version_download_uri(X, "1")).version) == 6
    assert regctl_json(uri, "doctor")["ok"]


def test_verify_finds_the_digest_after_mlflow_renames_the_model(tmp_path):
    """MLflow's rename_registered_model writes no journal record: the version's registration is
    found by what a rename does not change (its number, source and creation time), on the first
    lookup (read back from the journal's end) and on later ones (the journal replayed once)."""
    from regctl import Registry

    uri = db_uri(copy_fixture_db("mlflow3-db", tmp_path / "db"))
    first, second = model_source(tmp_path / "first"), model_source(tmp_path / "second")
    regctl_ok(uri, "register", str(first), "--name", "before")
    regctl_ok(uri, "register", str(second), "--name", "before")
    client_of(uri).rename_registered_model("before", "after")
    for number in (1, 2):
        assert regctl_json(uri, "verify", f"models:/after/{number}")["version"] == number
    registry = Registry(uri)
    assert [registry.verify(f"models:/after/{n}").version for n in (1, 2, 1)] == [1, 2, 1]
    (second / "MLmodel").write_text("flavors: {changed: 1}\n")
    edited = regctl("verify", "models:/after/2", store=uri)
    assert edited.returncode == 4 and "differ from what was registered" in edited.stderr

    # a version MLflow registered has no digest: said without claiming who registered it
    assert int(client_of(uri).create_model_version("after", str(first)).version) == 3
    client_of(uri).rename_registered_model("after", "again")
    missing = regctl("verify", "models:/again/3", store=uri)
    assert missing.returncode == 1 and missing.stdout == "" and "no recorded digest" in missing.stderr
    assert "the versions it registers" not in missing.stderr and "not registered" not in missing.stderr
    regctl_ok(uri, "verify", "models:/again/1")


# ---------------------------------------------------------------- MLflow 2

@pytest.fixture(scope="module")
def written2(mlflow2_python, tmp_path_factory):
    """A database MLflow 2.22 created; regctl writes; MLflow 2 reads it and registers after regctl."""
    work = tmp_path_factory.mktemp("sqlite2-interop")
    database = work / "mlflow.db"
    uri = db_uri(database)
    logged = run_mlflow2(mlflow2_python, {"action": "log", "root": uri, "runs": [
        {"name": "first", "fit_intercept": True, "coefficients": [2.0, -1.0]},
        {"name": "second", "fit_intercept": False, "coefficients": [-1.0, 3.0]},
    ]}, work)
    assert revision(database) == MLFLOW2_HEAD
    r1, r2 = (run["run_id"] for run in logged["runs"])
    write_registry_with_regctl(uri, f"runs:/{r1}/model", f"runs:/{r2}/model", f"runs:/{r2}/model")
    versions = {name: regctl_json(uri, "versions", name) for name in (X, WRITTEN_NEW_NAME)}
    models = regctl_json(uri, "models")
    before_register = shutil.copyfile(database, work / "before-mlflow2-register.db")
    read = run_mlflow2(mlflow2_python, {"action": "read", "stores": [
        {"root": uri, "missing_versions": [[X, 3]], "missing_aliases": [[X, "doomed"]],
         "missing_models": [WRITTEN_OLD_NAME], "download": [[X, "champion"]],
         "load": [f"models:/{X}@champion", f"models:/{X}/Staging", f"models:/{WRITTEN_NEW_NAME}@prod"],
         "register": [f"runs:/{r1}/model", X]},
    ]}, work)
    return {"work": work, "database": database, "uri": uri, "runs": logged["runs"], "versions": versions,
            "models": models, "mlflow": read["stores"][0], "experiment_id": logged["experiment_id"],
            "before_register": Path(before_register)}


def test_mlflow2_reads_what_regctl_wrote(written2):
    seen = written2["mlflow"]
    assert_same_registry(written2["models"], written2["versions"], seen)
    model = seen["models"][X]
    assert model["description"] == WRITTEN_DESCRIPTION and model["tags"] == WRITTEN_MODEL_TAGS
    assert model["aliases"] == {"champion": 1, "challenger": 2}
    v2, v1 = model["versions"]
    for view, run in ((v1, written2["runs"][0]), (v2, written2["runs"][1])):
        # MLflow 2's register_model stores the run's artifact path for runs:/ (a plain path on a database)
        assert view["source"] == f"{written2['work']}/mlruns/{written2['experiment_id']}/{run['run_id']}/artifacts/model"
        assert view["run_id"] == run["run_id"]
    assert (v1["tags"], v2["tags"]) == ({"validation_status": "approved"}, {"checks/data": "passed"})
    missing = seen["missing"]
    assert "not found" in missing[f"{X}/3"].lower() and missing[f"{X}@doomed"]
    assert "not found" in missing[WRITTEN_OLD_NAME].lower()
    first, second = written2["runs"]
    assert seen["predictions"][f"models:/{X}@champion"] == pytest.approx(first["predictions"])
    assert seen["predictions"][f"models:/{X}/Staging"] == pytest.approx(second["predictions"])
    assert seen["predictions"][f"models:/{WRITTEN_NEW_NAME}@prod"] == pytest.approx(first["predictions"])
    resolved = regctl_ok(written2["uri"], "resolve", f"models:/{X}@champion")
    assert resolved == f"{seen['download_uri'][f'models:/{X}@champion']}\n"


def test_mlflow2_registers_after_regctl(written2):
    uri = written2["uri"]
    assert written2["mlflow"]["registered_version"] == 4
    views = regctl_json(uri, "versions", X, "--all")
    assert [v["version"] for v in views] == [4, 3, 2, 1]
    run_id = written2["runs"][0]["run_id"]
    assert views[0]["run_id"] == run_id and views[0]["source"].endswith(f"/{run_id}/artifacts/model")
    assert regctl_ok(uri, "register", views[0]["source"], "--name", X) == "5\n"
    # the deleted version, as MLflow 2's delete would have left it
    deleted = views[1]
    assert (deleted["current_stage"], deleted["source"], deleted["run_id"]) == (
        "Deleted_Internal", "REDACTED-SOURCE-PATH", "REDACTED-RUN-ID")


def test_mlflow2_database_upgraded_by_mlflow3(written2):
    """``mlflow db upgrade`` (3.17) on a database regctl wrote with MLflow 2's schema; then both keep going."""
    copy = written2["work"] / "upgraded.db"
    shutil.copyfile(written2["before_register"], copy)
    uri = db_uri(copy)
    before = {name: regctl_json(uri, "versions", name, "--all") for name in (X, WRITTEN_NEW_NAME)}
    mlflow_db_upgrade(uri)
    assert revision(copy) == MLFLOW3_HEAD
    connection = sqlite3.connect(copy)
    assert "workspace" in {row[1] for row in connection.execute("PRAGMA table_info(model_versions)")}
    connection.close()
    assert {name: regctl_json(uri, "versions", name, "--all") for name in before} == before
    assert_mlflow_sees_regctl(uri)
    source = before[X][-1]["source"]
    assert regctl_ok(uri, "register", source, "--name", X, "--alias", "fresh", "--tag", "k=v") == "4\n"
    regctl_ok(uri, "alias", "set", X, "champion", "2", "--expect", "1")
    regctl_ok(uri, "rename", WRITTEN_NEW_NAME, "after upgrade")
    assert_mlflow_sees_regctl(uri)
    client = client_of(uri)
    assert int(client.get_model_version_by_alias(X, "fresh").version) == 4
    assert dict(client.get_model_version(X, "4").tags) == {"k": "v"}
    assert int(client.create_model_version(X, source).version) == 5
