"""Where MLflow itself is the oracle: regctl's answer on the same store is MLflow's answer."""

import json
import warnings
from pathlib import Path

import pytest
from conftest import one_line_failure, regctl, snapshot, sqlite_uri
from mlflow_oracle import tracking_at
from stores import any_store  # noqa: F401  (the fixture)


def _mlflow():
    warnings.filterwarnings("ignore")
    return pytest.importorskip("mlflow")


@pytest.fixture
def db_with_prompt(tmp_path):
    """A database MLflow 3 wrote: models ``m`` (two versions) and ``n``, and the prompt ``p``."""
    mlflow = _mlflow()
    from mlflow import MlflowClient

    uri = sqlite_uri(tmp_path / "mlflow.db")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in ("m", "n"):
        client.create_registered_model(name)
        client.create_model_version(name, str(tmp_path / "src"))
    client.create_model_version("m", str(tmp_path / "src"))
    saved = mlflow.get_registry_uri()
    mlflow.set_registry_uri(uri)
    try:
        mlflow.genai.register_prompt(name="p", template="Hello {{x}}")
    finally:
        mlflow.set_registry_uri(saved)
    _until_unchanged(tmp_path / "mlflow.db")
    return uri, client


def _until_unchanged(database: Path, quiet: float = 1.5, limit: float = 20) -> None:
    """Wait until MLflow's background thread is done with the database: its file change counter
    (bytes 24-27 of the header) stays put for ``quiet`` seconds. ``register_prompt`` returns
    before that thread's last write, which would otherwise land inside a test's snapshot."""
    import time

    deadline, last, since = time.monotonic() + limit, None, time.monotonic()
    while time.monotonic() < deadline:
        counter = database.read_bytes()[24:28]
        if counter != last:
            last, since = counter, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)


def _regctl_versions(uri, text):
    result = regctl("search", text, "--json", store=uri)
    assert result.returncode == 0, result.stderr
    return sorted((v["name"], v["version"]) for v in json.loads(result.stdout))


def _mlflow_versions(client, text):
    return sorted((v.name, int(v.version)) for v in client.search_model_versions(text))


@pytest.mark.parametrize("text", [
    "tags.`mlflow.prompt.is_prompt` LIKE 'true'",
    "tags.`mlflow.prompt.is_prompt` ILIKE 'TRUE'",
    "tags.`mlflow.prompt.is_prompt` LIKE '%'",
    "tags.`mlflow.prompt.is_prompt` = 'false'",
    "tags.`mlflow.prompt.is_prompt` = 'true'",
    "tags.`mlflow.prompt.is_prompt` != 'false'",
    "tags.`mlflow.prompt.is_prompt` != 'true'",
    "name = 'p'",
])
def test_sqlite_prompt_tag_clauses_mean_what_mlflow_sql_store_makes_of_them(db_with_prompt, text):
    uri, client = db_with_prompt
    assert _regctl_versions(uri, text) == _mlflow_versions(client, text)
    models = json.loads(regctl("search", text, "--models", "--json", store=uri).stdout)
    assert sorted(m["name"] for m in models) == sorted(m.name for m in client.search_registered_models(text))


@pytest.mark.parametrize("text, models", [
    ("`name` = 'm'", False), ("`version_number` = 1", False), ("attribute.`name` = 'm'", False),
    ("`name` = 'm'", True), ("attribute.`name` = 'm'", True),
])
def test_backticked_attribute_keys_are_refused_as_mlflow_refuses_them(backend, text, models, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow import MlflowClient

    _mlflow()
    before = backend.snapshot()
    client = MlflowClient(registry_uri=backend.root.as_uri() if backend.is_file else str(backend.store))
    with pytest.raises(Exception, match="Invalid attribute key"):
        (client.search_registered_models if models else client.search_model_versions)(text)
    result = regctl("search", text, *(["--models"] if models else []), store=backend.store)
    one_line_failure(result, 2, "invalid attribute key", "backticks")
    assert backend.snapshot() == before


def test_sqlite_refuses_a_non_integer_version_number_as_mlflow_sql_store_does(db_with_prompt, tmp_path):
    uri, client = db_with_prompt
    with pytest.raises(Exception, match="Invalid value for numeric attribute 'version_number'"):
        client.search_model_versions("version_number = 1.5")
    before = snapshot(tmp_path)
    one_line_failure(regctl("search", "version_number = 1.5", store=uri), 2,
                     "invalid value for numeric attribute 'version_number': 1.5")
    assert snapshot(tmp_path) == before
    assert _regctl_versions(uri, "version_number = 2") == _mlflow_versions(client, "version_number = 2")


def test_file_store_still_truncates_a_decimal_version_number_as_mlflow_file_store_does(store3):
    ok = regctl("search", "version_number = 1.5", "--json", store=store3)
    assert ok.returncode == 0 and ok.stdout.strip() != "[]"


def _tree(root):
    from pathlib import Path

    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", ["sqlite", "file"])
@pytest.mark.parametrize("uri", ["models:/m/1", "models:/m@champion", "models:/m/latest", "models:/m/None"])
def test_download_of_a_models_uri_writes_what_mlflow_writes(tmp_path, monkeypatch, kind, uri):
    mlflow = _mlflow()
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    source = tmp_path / "model"
    (source / "data").mkdir(parents=True)
    (source / "MLmodel").write_text("flavors: {}\n")
    (source / "data" / "weights.bin").write_bytes(b"\x00\x01")
    store = sqlite_uri(tmp_path / "mlflow.db") if kind == "sqlite" else (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    client.create_registered_model("m")
    client.create_model_version("m", str(source))
    client.set_registered_model_alias("m", "champion", "1")
    saved = mlflow.get_registry_uri(), mlflow.get_tracking_uri()
    mlflow.set_registry_uri(store)
    mlflow.set_tracking_uri(store)
    try:
        (tmp_path / "theirs").mkdir()
        theirs = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / "theirs"))
    finally:
        mlflow.set_registry_uri(saved[0])
        mlflow.set_tracking_uri(saved[1])
    result = regctl("download", uri, tmp_path / "ours", store=store if kind == "sqlite" else tmp_path / "mlruns")
    assert result.returncode == 0, result.stderr
    ours = tmp_path / "ours"
    if (ours / "MLmodel").is_file() or not ours.is_file():
        from pathlib import Path

        theirs_root = Path(theirs) if Path(theirs).is_dir() else Path(theirs).parent
        assert _tree(ours if ours.is_dir() else ours.parent) == _tree(theirs_root)
    if uri.endswith("/1"):
        assert (ours / "registered_model_meta").read_text() == "model_name: m\nmodel_version: '1'\n"


def test_register_of_a_runs_uri_with_a_trailing_slash_keeps_it_as_mlflow_does(tmp_path):
    mlflow = _mlflow()
    from mlflow import MlflowClient

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "MLmodel").write_text("flavors: {}\n")
    uri = sqlite_uri(tmp_path / "mlflow.db")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(experiment).info.run_id
    client.log_artifacts(run, str(tmp_path / "d"), "model")
    saved = mlflow.get_registry_uri(), mlflow.get_tracking_uri()
    mlflow.set_registry_uri(uri)
    mlflow.set_tracking_uri(uri)
    try:
        theirs = mlflow.register_model(f"runs:/{run}/model/", "theirs")
    finally:
        mlflow.set_registry_uri(saved[0])
        mlflow.set_tracking_uri(saved[1])
    result = regctl("register", f"runs:/{run}/model/", "--name", "ours", store=uri)
    assert result.returncode == 0, result.stderr
    ours = client.get_model_version("ours", "1")
    assert ours.source == client.get_model_version("theirs", theirs.version).source
    assert ours.source.endswith("/model/")


RUN_SPELLINGS = ["a/b", "a//b", "//a/b", "./a/b", "a/./b", "a/../a/b", "a/b/.", "a/b/", "a/b?x=1", "a/b#frag"]
MODEL_SPELLINGS = ["models:/{m}/1", "models:/{m}/1?x=1", "models:/{m}/1#frag", "models:/{m}@champion?x=1",
                   "models:///{m}/1#x", "models:/{m}/latest?x"]


def test_uri_spellings_mlflow_accepts_are_read_as_mlflow_reads_them(any_store, tmp_path, monkeypatch):
    """runs:/RUN/a//b, ./a/b, a/../a/b, a/b/., a query, a fragment; models:/m/1?x=1 and a fragment:
    MLflow's download_artifacts fetches what the plain spelling names, and register_model records
    the runs:/ path as written (a server refuses some: then regctl is refused alike, exit 2).
    regctl's resolve, download and register agree on every store; a path leaving the run is refused."""
    _mlflow()
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = Path(any_store.store).as_uri() if any_store.kind == "file" else any_store.store
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    where = None if any_store.kind == "server" else (tmp_path / "artifacts").as_uri()
    run = client.create_run(client.create_experiment(f"e-{any_store.name}", artifact_location=where)).info.run_id
    files = tmp_path / "logged" / "a" / "b"
    files.mkdir(parents=True)
    (files / "MLmodel").write_text("flavors: {}\n")
    (files / "w.bin").write_bytes(b"weights")
    client.log_artifacts(run, str(tmp_path / "logged"))
    model = any_store.name
    any_store.ok("register", f"runs:/{run}/a/b", "--name", model, "--alias", "champion")
    plain = any_store.ok("resolve", f"runs:/{run}/a/b")
    expected = {"MLmodel": b"flavors: {}\n", "w.bin": b"weights"}
    with_meta = {**expected, "registered_model_meta": f"model_name: {model}\nmodel_version: '1'\n".encode()}
    for index, path in enumerate(RUN_SPELLINGS):
        source = f"runs:/{run}/{path}"
        try:
            theirs = Path(mlflow.artifacts.download_artifacts(source, dst_path=str(tmp_path / f"theirs-{index}"),
                                                              tracking_uri=uri))
            assert _files(theirs) == expected, path
        except mlflow.exceptions.MlflowException:  # a server's artifact proxy refuses '..' in a path
            assert any_store.kind == "server" and ".." in path, path
        assert any_store.ok("resolve", source) == plain, path
        any_store.ok("download", source, tmp_path / f"ours-{index}")
        assert _files(tmp_path / f"ours-{index}") == expected, path
        try:
            with tracking_at(mlflow, uri):
                recorded = mlflow.register_model(source, f"{model}-theirs").source
        except Exception:  # MlflowException, or the HTTP error of a server's artifact proxy
            recorded = None
        result = any_store.run("register", source, "--name", f"{model}-ours", "--json")
        if recorded is None:
            assert result.returncode == 2 and "source" in result.stderr, (path, result.stderr)
        else:
            assert result.returncode == 0, (path, result.stderr)
            assert json.loads(result.stdout)["source"] == recorded, path
    for index, spelling in enumerate(MODEL_SPELLINGS):
        source = spelling.format(m=model)
        with tracking_at(mlflow, uri):  # a models:/ download asks the registry MLflow's globals name
            theirs = Path(mlflow.artifacts.download_artifacts(source, dst_path=str(tmp_path / f"model-{index}"),
                                                              tracking_uri=uri, registry_uri=uri))
        assert _files(theirs) == {**expected, "registered_model_meta": _files(theirs)["registered_model_meta"]}
        assert any_store.ok("resolve", source) == plain, source
        any_store.ok("download", source, tmp_path / f"ours-model-{index}")
        assert _files(tmp_path / f"ours-model-{index}").keys() == with_meta.keys(), source
    line = one_line_failure(any_store.run("resolve", f"models:/{model}@champion#x"), 2, "alias")
    assert "champion#x" in line  # as MLflow: the fragment is part of the alias, which is invalid
    for leaving in ("..", "../x", "a/../../x"):
        one_line_failure(any_store.run("resolve", f"runs:/{run}/{leaving}"), 2, "leaves the run's artifacts")
    dest = tmp_path / "as uri"
    any_store.ok("download", f"models:/{model}/1", dest.as_uri())
    assert _files(dest) == with_meta and not Path("file:").exists()


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
