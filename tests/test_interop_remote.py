"""Versions whose artifacts are at a remote location (``s3:``, ``mlflow-artifacts:``, ``dbfs:``, ...), in
stores only MLflow wrote: a file store and a SQLite database made with ``MlflowClient``, and the live
server. A remote location is not a local path: ``resolve`` prints it as it is, ``doctor`` does not call
it missing, ``verify`` and ``download`` say in one line that regctl cannot read it (exit 8), and
``register models:/X/N`` records what MLflow's ``register_model`` records, without reading the files.
"""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import regctl, snapshot
from mlflow_oracle import import_mlflow

import_mlflow()  # skips this module where MLflow is not installed

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("file_store_allowed")]

S3, PROXIED, DBFS = "s3://bucket/team/model", "mlflow-artifacts:/0/abc123/artifacts/model", "dbfs:/databricks/mlflow/x"
EXIT_REMOTE = 8


@pytest.fixture(scope="module")
def file_store_allowed():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        yield


def _uri(kind: str, base: Path) -> str:
    return (base / "mlruns").as_uri() if kind == "file" else f"sqlite:///{base / 'mlflow.db'}"


def _store(kind: str, base: Path) -> str:
    return str(base / "mlruns") if kind == "file" else f"sqlite:///{base / 'mlflow.db'}"


@pytest.fixture(scope="module", params=["file", "sqlite"])
def written(request, tmp_path_factory, file_store_allowed):
    """A store only MLflow wrote: model X with versions at s3:, mlflow-artifacts: and dbfs:, and
    model Y, MLflow's register_model of models:/X/1 and models:/X/2."""
    import mlflow
    from mlflow import MlflowClient

    base = tmp_path_factory.mktemp(f"remote-{request.param}")
    uri = _uri(request.param, base)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("X")
    for source in (S3, PROXIED, DBFS):
        client.create_model_version("X", source)
    run = client.create_run(client.create_experiment("lake", artifact_location="s3://bucket/lake"))
    client.set_terminated(run.info.run_id)
    saved = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        mlflow.register_model("models:/X/1", "Y")
        mlflow.register_model("models:/X/2", "Y")
    finally:
        mlflow.set_tracking_uri(saved[0])
        mlflow.set_registry_uri(saved[1])
    (base / "run_id").write_text(run.info.run_id)
    return request.param, base


@pytest.fixture
def store(written, tmp_path):
    """A private copy of the store MLflow wrote: ``(kind, --store value, MLflow's URI)``."""
    kind, base = written
    shutil.copytree(base, tmp_path / "copy")
    return kind, _store(kind, tmp_path / "copy"), _uri(kind, tmp_path / "copy")


def _fails(code: int, *args, store, env=None) -> str:
    result = regctl(*args, store=store, env=env)
    assert result.returncode == code, (args, result.returncode, result.stdout, result.stderr)
    assert result.stdout == "" and result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1
    return result.stderr


def test_resolve_prints_a_remote_location_as_it_is(store):
    _, where, _ = store
    for uri, location in (("models:/X/1", S3), ("models:/X/2", PROXIED), ("models:/X/3", DBFS),
                          ("models:/Y/1", S3), ("models:/Y/latest", PROXIED)):
        for process in (False, True):  # the CLI, and the resolve fast path
            result = regctl("resolve", uri, store=where, process=process)
            assert (result.returncode, result.stdout, result.stderr) == (0, f"{location}\n", ""), uri
    run_id = _run_id(where)
    assert regctl("resolve", f"runs:/{run_id}/model", store=where).stdout == \
        f"s3://bucket/lake/{run_id}/artifacts/model\n"
    shown = json.loads(regctl("resolve", "models:/Y/1", "--json", store=where).stdout)
    assert (shown["location"], shown["path"], shown["name"], shown["version"]) == (S3, S3, "Y", 1)
    described = json.loads(regctl("describe", "X", "--version", "1", "--json", store=where).stdout)
    assert described["source"] == S3 and described["lineage"]["artifact_path"] == S3


def test_doctor_does_not_call_a_remote_location_missing(store):
    _, where, _ = store
    result = regctl("doctor", "--json", store=where)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["ok"], report
    assert not any(p["kind"] == "missing-artifacts" for p in report["problems"] + report["warnings"])
    assert any("5 version(s)" in note and "remote" in note for note in report["notes"]), report["notes"]
    plain = regctl("doctor", store=where)
    assert plain.returncode == 0 and "no longer exist" not in plain.stdout + plain.stderr


def test_verify_and_download_say_in_one_line_that_they_cannot_read_a_remote_location(store, tmp_path):
    _, where, _ = store
    before = snapshot(tmp_path / "copy")
    message = _fails(EXIT_REMOTE, "verify", "models:/X/1", store=where)
    assert S3 in message and "cannot verify" in message
    assert S3 in _fails(EXIT_REMOTE, "resolve", "models:/Y/1", "--verify", store=where)
    for uri, scheme in (("models:/X/1", "s3:"), ("models:/X/3", "dbfs:")):
        message = _fails(EXIT_REMOTE, "download", uri, str(tmp_path / "dest"), store=where)
        assert "cannot download" in message and scheme in message and "resolve" in message
    message = _fails(EXIT_REMOTE, "download", "models:/Y/2", str(tmp_path / "dest"), store=where)
    assert PROXIED in message and "server" in message and "--store http" in message
    assert not (tmp_path / "dest").exists() and not list(tmp_path.glob(".regctl-download-*"))
    message = _fails(EXIT_REMOTE, "push", "X", "--to", str(tmp_path / "target"), store=where)
    assert "cannot push" in message and S3 in message
    assert snapshot(tmp_path / "copy") == before


def test_register_of_a_remote_version_records_what_mlflow_records(store):
    kind, where, uri = store
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for number, theirs in ((1, 1), (2, 2)):
        assert regctl("register", f"models:/X/{number}", "--name", "Z", store=where).stdout == f"{number}\n"
        mine, oracle = client.get_model_version("Z", str(number)), client.get_model_version("Y", str(theirs))
        assert mine.source == f"models:/X/{number}" == oracle.source.replace("Y", "X")
        assert (mine.run_id, dict(mine.tags)) == (oracle.run_id, dict(oracle.tags))
        assert client.get_model_version_download_uri("Z", str(number)) == \
            client.get_model_version_download_uri("Y", str(theirs))
        assert _storage_location(kind, where, "Z", number) == _storage_location(kind, where, "Y", theirs)
    assert regctl("resolve", "models:/Z/1", store=where).stdout == f"{S3}\n"
    assert regctl("register", "models:/X/3", "--name", "Z", "--alias", "lake", store=where).returncode == 0
    assert regctl("resolve", "models:/Z@lake", store=where).stdout == f"{DBFS}\n"
    assert json.loads(regctl("doctor", "--json", store=where).stdout)["ok"]
    assert "cannot verify" in _fails(EXIT_REMOTE, "verify", "models:/Z/1", store=where)
    # MLflow lists a remote run's artifacts to find its MLmodel; regctl does not read them, and says so
    message = _fails(EXIT_REMOTE, "register", f"runs:/{_run_id(where)}/model", "--name", "Z", store=where)
    assert "cannot register" in message and "s3://bucket/lake/" in message


def _run_id(where: str) -> str:
    """The run MLflow made in an experiment whose artifacts are at s3://bucket/lake."""
    base = Path(where[len("sqlite:///"):]).parent if where.startswith("sqlite:") else Path(where).parent
    return (base / "run_id").read_text()


def _storage_location(kind: str, where: str, name: str, version: int) -> str:
    """The storage location as stored: the version's meta.yaml, or its row."""
    if kind == "file":
        import yaml

        meta = Path(where) / "models" / name / f"version-{version}" / "meta.yaml"
        return yaml.safe_load(meta.read_text())["storage_location"]
    connection = sqlite3.connect(where[len("sqlite:///"):])
    try:
        return connection.execute("SELECT storage_location FROM model_versions WHERE name = ? AND version = ?",
                                  (name, version)).fetchone()[0]
    finally:
        connection.close()


@pytest.mark.server
def test_a_server_version_at_s3_is_resolved_and_said_unreadable(sqlite_server, tmp_path):
    import uuid

    client, name = sqlite_server.client(), f"remote-{uuid.uuid4().hex[:10]}"
    client.create_registered_model(name)
    client.create_model_version(name, S3)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    result = regctl("resolve", f"models:/{name}/1", store=sqlite_server.url, env=env)
    assert (result.returncode, result.stdout) == (0, f"{S3}\n"), result.stderr
    assert "cannot verify" in _fails(EXIT_REMOTE, "verify", f"models:/{name}/1", store=sqlite_server.url,
                                         env=env)
    message = _fails(EXIT_REMOTE, "download", f"models:/{name}/1", str(tmp_path / "dest"), store=sqlite_server.url,
                     env=env)
    assert "cannot download" in message and "s3:" in message
    assert not (tmp_path / "dest").exists()


@pytest.mark.server
def test_a_database_mlflow_server_wrote_names_its_proxy_and_the_server_downloads(sqlite_server, tmp_path):
    """The database behind ``mlflow server`` read directly: its versions are at ``mlflow-artifacts:``
    locations, which resolve prints as they are and only the server downloads."""
    import uuid

    from conftest import model_source

    name, env = f"served-{uuid.uuid4().hex[:10]}", {"XDG_STATE_HOME": str(tmp_path / "state")}
    registered = regctl("register", str(model_source(tmp_path / "model")), "--name", name, store=sqlite_server.url,
                        env=env)
    assert registered.returncode == 0, registered.stderr
    copy = tmp_path / "mlflow.db"
    source, target = sqlite3.connect(sqlite_server.artifacts.parent / "mlflow.db"), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close(), target.close()
    local = f"sqlite:///{copy}"
    location = regctl("resolve", f"models:/{name}/1", store=local).stdout
    assert location.startswith("mlflow-artifacts:/") and location.endswith("/artifacts\n"), location
    report = json.loads(regctl("doctor", "--json", store=local).stdout)
    assert not [p for p in report["problems"] if p["model"] == name], report["problems"]
    message = _fails(EXIT_REMOTE, "download", f"models:/{name}/1", str(tmp_path / "here"), store=local)
    assert "no server is known" in message and "--store http" in message
    fetched = regctl("download", f"models:/{name}/1", str(tmp_path / "here"), store=sqlite_server.url, env=env)
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "here" / "MLmodel").read_text() == "flavors: {}\n"
