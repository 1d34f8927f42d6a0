"""``regctl download``: a checked copy of a version's artifacts, whole or not at all."""

import json
import os
from pathlib import Path

from conftest import one_line_failure, regctl, snapshot
from mlflow_oracle import import_mlflow
from stores import any_store  # noqa: F401  (the fixture)


def registered_copy(store, tmp_path):
    """A version registered by regctl (so it has a digest) from a directory of its own; returns that directory."""
    source = tmp_path / "model-src"
    (source / "sub").mkdir(parents=True)
    (source / "MLmodel").write_text("flavors:\n  python_function: {python_version: 3.11.0}\n")
    (source / "sub" / "weights.bin").write_bytes(os.urandom(3000))
    (source / "link").symlink_to("MLmodel")
    assert regctl("register", source, "--name", "dl", "--alias", "champion", store=store).stdout == "1\n"
    return source


def tree(root):
    return {p.relative_to(root).as_posix(): (os.readlink(p) if p.is_symlink() else p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_symlink() or p.is_file()}


def test_download_copies_a_version_checks_its_digest_and_prints_the_destination(store3, tmp_path):
    source = registered_copy(store3, tmp_path)
    before = snapshot(store3)
    dest = tmp_path / "out" / "model"
    result = regctl("download", "models:/dl@champion", dest, store=store3)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{dest}\n"
    assert "3 file(s)" in result.stderr and "digest checked" in result.stderr
    # as MLflow's download of a models: URI, plus the name and version it writes beside MLmodel
    assert tree(dest) == {**tree(source), "registered_model_meta": b"model_name: dl\nmodel_version: 1\n"}
    assert snapshot(store3) == before
    assert os.listdir(dest.parent) == ["model"]  # no temporary directory left


def test_download_of_an_mlflow_version_and_a_run_without_a_digest(store3, tmp_path):
    result = regctl("download", "models:/iris-classifier/2", tmp_path / "v2", "--json", store=store3)
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert (view["name"], view["version"], view["digest"]) == ("iris-classifier", 2, None)
    resolved = regctl("resolve", "models:/iris-classifier/2", store=store3).stdout.strip()
    assert tree(tmp_path / "v2") == {**tree(Path(resolved)),
                                     "registered_model_meta": b"model_name: iris-classifier\nmodel_version: '2'\n"}
    assert (tmp_path / "v2" / "MLmodel").is_file() and view["files"] == len(tree(Path(resolved)))
    run = regctl("download", "runs:/43a5e07a68d34cb2b26fd2bafb0996f9/model", tmp_path / "run", store=store3)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "run" / "MLmodel").is_file()
    (tmp_path / "empty").mkdir()  # an empty directory is replaced
    assert regctl("download", "models:/iris-classifier@champion", tmp_path / "empty", store=store3).returncode == 0
    assert (tmp_path / "empty" / "MLmodel").is_file()


def test_a_changed_file_is_exit_4_and_leaves_nothing_behind(store3, tmp_path):
    source = registered_copy(store3, tmp_path)
    (source / "sub" / "weights.bin").write_bytes(b"tampered")
    dest = tmp_path / "out" / "model"
    line = one_line_failure(regctl("download", "models:/dl/1", dest, store=store3), 4, "weights.bin")
    assert "nothing was left" in line
    assert not dest.exists() and os.listdir(dest.parent) == []


def test_an_existing_destination_is_exit_3_and_untouched(store3, tmp_path):
    dest = tmp_path / "full"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    one_line_failure(regctl("download", "models:/iris-classifier/1", dest, store=store3), 3, "not empty")
    assert os.listdir(dest) == ["keep.txt"] and os.listdir(tmp_path).count("full") == 1
    (tmp_path / "file").write_text("x")
    one_line_failure(regctl("download", "models:/iris-classifier/1", tmp_path / "file", store=store3), 3)
    one_line_failure(regctl("download", "models:/iris-classifier/9", tmp_path / "new", store=store3), 1)
    assert not (tmp_path / "new").exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".regctl-download-")]


def _run_with_files(store, tmp_path) -> "tuple[str, str]":
    """A run MLflow made on ``store`` (any_store) with ``notes.txt`` and ``model/MLmodel`` among its
    artifacts; ``(MLflow's URI of the store, run id)``."""
    from mlflow import MlflowClient

    uri = Path(store.store).as_uri() if store.kind == "file" else store.store
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    where = None if store.kind == "server" else (tmp_path / "artifacts").as_uri()  # a server proxies its own
    experiment = client.create_experiment(f"files-{store.name}", artifact_location=where)
    run = client.create_run(experiment).info.run_id
    files = tmp_path / "logged"
    (files / "model").mkdir(parents=True)
    (files / "notes.txt").write_text("release notes\n")
    (files / "model" / "MLmodel").write_text("flavors: {}\n")
    client.log_artifact(run, str(files / "notes.txt"))
    client.log_artifacts(run, str(files / "model"), artifact_path="model")
    client.set_terminated(run)
    return uri, run


def test_a_runs_uri_naming_one_file_is_fetched_as_mlflow_fetches_it(any_store, tmp_path, monkeypatch):
    """``runs:/RUN/notes.txt`` and ``runs:/RUN/model/MLmodel`` name one file each: MLflow's
    download_artifacts fetches it into the destination directory, and so does regctl's download
    on every store (a server through its artifact proxy); resolve finds it too."""
    mlflow = import_mlflow()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri, run = _run_with_files(any_store, tmp_path)
    for path in ("notes.txt", "model/MLmodel"):
        theirs = Path(mlflow.artifacts.download_artifacts(f"runs:/{run}/{path}", dst_path=str(tmp_path / "theirs"),
                                                          tracking_uri=uri))
        assert theirs == tmp_path / "theirs" / Path(path).name and theirs.is_file()
        dest = tmp_path / "ours" / path.replace("/", "-")
        any_store.ok("download", f"runs:/{run}/{path}", dest)
        assert tree(dest) == {theirs.name: theirs.read_bytes()}
        resolved = any_store.ok("resolve", f"runs:/{run}/{path}").strip()
        assert resolved.endswith(path), resolved
        if any_store.kind != "server":  # a server's files are not on this machine
            assert Path(resolved).read_bytes() == theirs.read_bytes()
    one_line_failure(any_store.run("download", f"runs:/{run}/missing.txt", tmp_path / "none"), 1)
    assert not (tmp_path / "none").exists()
