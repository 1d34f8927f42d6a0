"""Every command through the real CLI (a ``python -m regctl`` subprocess) on copies of the
fixture stores and on fresh stores: exit codes, stdout and stderr, and the files written.

Tests taking ``backend`` (the MLflow 3 fixture) or ``fixture_backend`` (both MLflow
versions) run once on a file store and once on a database (``sqlite:``): the same
commands give the same output; what each writes on disk is checked for file stores
here and for databases in test_sqlite.py."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, FixtureStore, drain_pty, expected_of, ok, ok_json, one_line_failure, snapshot
from conftest import regctl as run

import regctl

E3 = expected_of("mlflow3-store")
E2 = expected_of("mlflow2-store")
EXP3, EXP2 = E3["experiment"]["id"], E2["experiment"]["id"]
(RUN3_BASE, MODEL3_BASE), (RUN3_NOI, MODEL3_NOI) = [(r["run_id"], r["model_id"]) for r in E3["runs"]]
RUN2_BASE, RUN2_NOI = [r["run_id"] for r in E2["runs"]]
OLD_ROOT = "file:///srv/project/mlruns/"

# The key sets MLflow 3.17 writes (format notes, sections 4.2 and 5.2).
MODEL_KEYS_3 = {"aliases", "creation_timestamp", "deployment_job_id", "deployment_job_state", "description",
                "last_updated_timestamp", "name", "workspace"}
VERSION_KEYS_3 = {"creation_timestamp", "current_stage", "deployment_job_state", "description",
                  "last_updated_timestamp", "model_id", "name", "run_id", "run_link", "source", "status",
                  "status_message", "storage_location", "user_id", "version", "workspace"}
VERSION_JSON_KEYS = {"name", "version", "creation_timestamp", "last_updated_timestamp", "current_stage",
                     "description", "source", "run_id", "run_link", "status", "status_message", "user_id",
                     "storage_location", "model_id", "tags", "aliases"}
MODEL_JSON_KEYS = {"name", "creation_timestamp", "last_updated_timestamp", "description", "tags", "aliases",
                   "latest_version"}


def user_tags(tags: dict) -> dict:
    """The tags, after checking regctl added none of its own (the digest is in a file of its own)."""
    assert not [k for k in tags if k.startswith("regctl.")], tags
    return tags


def meta(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def on_disk(store: Path, location: str) -> Path:
    """Where a location recorded under /srv/project/mlruns lives in the copied store."""
    assert location.startswith(OLD_ROOT), location
    return store / location[len(OLD_ROOT):]


def model_dir(store: Path, name: str) -> Path:
    return store / "models" / name


def run_ids(store: FixtureStore):
    """``(run, model id)`` of the fixture's baseline and no-intercept runs."""
    return [(r["run_id"], r["model_id"]) for r in store.expected["runs"]]


def version_location(store: FixtureStore, name: str, version) -> str:
    """Where MLflow says the artifacts of a fixture version are (its download URI)."""
    return store.expected["registered_models"][name]["versions"][str(version)]["download_uri"]


@pytest.fixture
def model_files(tmp_path) -> Path:
    """A standalone model directory (outside any store), path with a space."""
    target = tmp_path / "local models" / "iris"
    shutil.copytree(FIXTURES / "mlflow3-store" / "mlruns" / EXP3 / "models" / MODEL3_BASE / "artifacts", target,
                    copy_function=shutil.copyfile)
    return target


# ---------------------------------------------------------------- register

def test_register_from_run_on_mlflow3_store_uses_the_logged_model(store3):
    result = run("register", f"runs:/{RUN3_BASE}/model", "--name", "fresh", store=store3)
    assert ok(result) == "1\n"
    assert result.stderr.startswith("registered fresh version 1 from ") and result.stderr.count("\n") == 1

    model = meta(model_dir(store3, "fresh") / "meta.yaml")
    assert set(model) == MODEL_KEYS_3
    assert model["name"] == "fresh" and model["aliases"] == {} and model["workspace"] == "default"
    version = meta(model_dir(store3, "fresh") / "version-1" / "meta.yaml")
    assert set(version) == VERSION_KEYS_3
    # the key set really is MLflow 3's: the fixture's own version file has the same keys
    assert set(meta(model_dir(store3, "iris-classifier") / "version-1" / "meta.yaml")) == VERSION_KEYS_3
    logged = meta(store3 / EXP3 / "models" / MODEL3_BASE / "meta.yaml")
    assert version["source"] == f"models:/{MODEL3_BASE}"
    assert version["storage_location"] == logged["artifact_location"]
    assert version["run_id"] == RUN3_BASE and version["model_id"] == MODEL3_BASE
    assert version["version"] == 1 and isinstance(version["version"], int)
    assert version["current_stage"] == "None" and version["status"] == "READY"
    assert version["creation_timestamp"] == version["last_updated_timestamp"]
    tag = store3 / EXP3 / "models" / MODEL3_BASE / "tags" / "mlflow.modelVersions"
    assert json.loads(tag.read_text()) == [{"name": "iris-classifier", "version": 1}, {"name": "fresh", "version": 1}]
    # no temporary or staging directories left behind
    assert sorted(p.name for p in model_dir(store3, "fresh").iterdir()) == ["meta.yaml", "version-1"]


def test_register_from_run_on_mlflow2_store_uses_run_artifacts(store2):
    assert ok(run("register", f"runs:/{RUN2_BASE}/model", "--name", "fresh", store=store2)) == "1\n"
    version = meta(model_dir(store2, "fresh") / "version-1" / "meta.yaml")
    expected = f"{OLD_ROOT}{EXP2}/{RUN2_BASE}/artifacts/model"
    assert version["source"] == version["storage_location"] == expected
    assert version["run_id"] == RUN2_BASE and version["model_id"] is None
    assert set(version) == VERSION_KEYS_3
    resolved = ok(run("resolve", "models:/fresh/1", store=store2))
    assert resolved == f"{store2 / EXP2 / RUN2_BASE / 'artifacts' / 'model'}\n"


def test_next_version_counts_soft_deleted_versions(fixture_backend):
    store = fixture_backend
    expected = store.expected["registered_models"]["iris-classifier"]["next_version"]
    run_id = store.expected["runs"][1]["run_id"]
    assert ok(run("register", f"runs:/{run_id}/model", "--name", "iris-classifier", store=store)) == f"{expected}\n"
    numbers = [v["version"] for v in ok_json("versions", "iris-classifier", "--all", store=store)]
    assert numbers == [4, 3, 2, 1]
    if store.is_file:
        # the model meta of an existing model keeps its own keys (MLflow 2 files are not upgraded)
        model = meta(model_dir(store.root, "iris-classifier") / "meta.yaml")
        assert model["aliases"] == {"challenger": "1", "champion": "2"}
        assert ("workspace" in model) == (store.fixture == "mlflow3-store")


def test_register_from_logged_model_id(backend):
    (_, _), (run_noi, model_noi) = run_ids(backend)
    assert ok(run("register", f"models:/{model_noi}", "--name", "from-id", store=backend)) == "1\n"
    view = ok_json("describe", "from-id", "--version", "1", store=backend)
    assert view["source"] == f"models:/{model_noi}"
    assert view["storage_location"] == version_location(backend, "iris-classifier", 2)
    assert view["run_id"] == run_noi and view["model_id"] == model_noi
    if backend.is_file:
        tag = backend.root / EXP3 / "models" / MODEL3_NOI / "tags" / "mlflow.modelVersions"
        assert json.loads(tag.read_text())[-1] == {"name": "from-id", "version": 1}


@pytest.mark.parametrize("source, version", [
    ("models:/iris-classifier/2", 2),
    ("models:/iris-classifier@champion", 2),
    ("models:/iris-classifier@challenger", 1),
    ("models:/iris-classifier/latest", 2),
    ("models:/iris-classifier/staging", 1),
])
def test_register_copy_of_a_version(backend, source, version):
    assert ok(run("register", source, "--name", "copy", store=backend)) == "1\n"
    copied = ok_json("describe", "copy", "--version", "1", store=backend)
    original = ok_json("describe", "iris-classifier", "--version", version, store=backend)
    assert copied["source"] == f"models:/iris-classifier/{version}"
    assert copied["storage_location"] == original["storage_location"]
    # MLflow's register_model passes no run; its file store fills it in from the logged model, a database does not
    assert copied["run_id"] == (original["run_id"] if backend.is_file else None)
    assert copied["model_id"] == original["model_id"]
    assert copied["lineage"]["artifact_path"] == original["lineage"]["artifact_path"]
    oracle = backend.expected["registered_models"]["iris-classifier"]["versions"][str(version)]
    assert oracle["tags"]
    assert copied["tags"] == {}  # MLflow's register_model copies no tags (only copy_model_version does)


def test_register_file_uri_and_local_directory(backend, model_files, tmp_path):
    uri = model_files.as_uri()
    assert "%20" in uri
    assert ok(run("register", uri, "--name", "local", store=backend)) == "1\n"
    assert ok(run("register", str(model_files), "--name", "local", store=backend)) == "2\n"
    relative = os.path.relpath(model_files, tmp_path)
    assert ok(run("register", relative, "--name", "local", store=backend, cwd=tmp_path)) == "3\n"
    v3, v2, v1 = ok_json("versions", "local", store=backend)
    assert v1["source"] == v1["storage_location"] == uri
    assert v2["source"] == v2["storage_location"] == str(model_files)
    assert v3["source"] == str(model_files)  # relative paths are stored absolute
    assert v1["run_id"] is None and v1["model_id"] is None
    for n in (1, 2, 3):
        assert ok(run("resolve", f"models:/local/{n}", store=backend)) == f"{model_files}\n"


def test_register_with_description_tags_and_aliases(backend):
    (_, _), (run_noi, _) = run_ids(backend)
    result = run("register", f"runs:/{run_noi}/model", "--name", "iris-classifier",
                 "--description", "Third try.\nWith R²: 0.93", "--tag", "team=ml", "--tag", "metrics/acc=0.9",
                 "--tag", "expr=a=b", "--alias", "champion", "--alias", "shadow", store=backend)
    assert ok(result) == "4\n"
    if backend.is_file:
        store3 = backend.root
        version_dir = model_dir(store3, "iris-classifier") / "version-4"
        assert meta(version_dir / "meta.yaml")["description"] == "Third try.\nWith R²: 0.93"
        assert (version_dir / "tags" / "team").read_bytes() == b"ml"
        assert (version_dir / "tags" / "metrics" / "acc").read_bytes() == b"0.9"
        assert (version_dir / "tags" / "expr").read_bytes() == b"a=b"
        aliases = model_dir(store3, "iris-classifier") / "aliases"
        assert (aliases / "champion").read_bytes() == b"4" and (aliases / "shadow").read_bytes() == b"4"
        assert meta(model_dir(store3, "iris-classifier") / "meta.yaml")["aliases"] == {
            "challenger": "1", "champion": "4", "shadow": "4"}
    view = ok_json("describe", "iris-classifier", "--alias", "shadow", store=backend)
    assert view["version"] == 4 and view["aliases"] == ["champion", "shadow"]
    assert view["description"] == "Third try.\nWith R²: 0.93"
    assert user_tags(view["tags"]) == {"team": "ml", "metrics/acc": "0.9", "expr": "a=b"}
    assert ok_json("alias", "list", "iris-classifier", store=backend) == {"challenger": 1, "champion": 4, "shadow": 4}


def test_register_into_a_fresh_store(tmp_path, model_files):
    store = tmp_path / "new" / "mlruns"
    assert ok(run("register", str(model_files), "--name", "first", store=store)) == "1\n"
    assert ok(run("register", str(model_files), "--name", "first", "--alias", "prod", store=store)) == "2\n"
    models = ok_json("models", store=store)
    assert [m["name"] for m in models] == ["first"]
    assert models[0]["latest_version"] == 2 and models[0]["aliases"] == {"prod": 2}
    assert set(models[0]) == MODEL_JSON_KEYS
    assert ok(run("resolve", "models:/first@prod", store=store)) == f"{model_files}\n"
    # regctl's own files: the journal in models/, nothing else (a lock file lives only while it is held)
    extra = sorted(p.name for p in (store / "models").iterdir() if p.name != "first")
    assert extra == [".regctl%journal.jsonl"]


# -------------------------------------------------------------- listings

def test_models_json_matches_the_oracle(fixture_backend):
    store = fixture_backend
    models = ok_json("models", store=store)
    expected = store.expected["registered_models"]
    assert [m["name"] for m in models] == sorted(expected)
    for model in models:
        oracle = expected[model["name"]]
        assert set(model) == MODEL_JSON_KEYS
        assert model["description"] == oracle["description"]
        assert model["tags"] == oracle["tags"]
        assert model["aliases"] == {a: int(v) for a, v in oracle["aliases"].items()}
        assert model["latest_version"] == max(int(v) for v in oracle["visible_versions"])


def test_models_table_and_prompts_hidden(backend):
    ok(run("tag", "iris.baseline model", "mlflow.prompt.is_prompt=true", store=backend))
    table = ok(run("models", store=backend))
    assert "iris-classifier" in table and "iris.baseline model" not in table
    assert [m["name"] for m in ok_json("models", store=backend)] == ["iris-classifier"]


def test_versions_newest_first_all_and_limit(fixture_backend):
    store = fixture_backend
    oracle = store.expected["registered_models"]["iris-classifier"]["versions"]
    visible = ok_json("versions", "iris-classifier", store=store)
    assert [v["version"] for v in visible] == [2, 1]
    for view in visible:
        assert set(view) == VERSION_JSON_KEYS
        expected = oracle[str(view["version"])]
        assert view["current_stage"] == expected["current_stage"]
        assert view["source"] == expected["source"] and view["run_id"] == expected["run_id"]
        # aliases from the model's mapping: MLflow's SQL search_model_versions returns versions without them
        aliases = store.expected["registered_models"]["iris-classifier"]["aliases"]
        assert view["tags"] == expected["tags"]
        assert view["aliases"] == sorted(a for a, v in aliases.items() if int(v) == view["version"])
        assert view["description"] == expected["description"]
    everything = ok_json("versions", "iris-classifier", "--all", store=store)
    assert [(v["version"], v["current_stage"]) for v in everything] == [
        (3, "Deleted_Internal"), (2, "Production"), (1, "Staging")]
    assert [v["version"] for v in ok_json("versions", "iris-classifier", "--limit", "1", store=store)] == [2]
    assert [v["version"] for v in ok_json("versions", "iris-classifier", "--all", "--limit", "2", store=store)] == [3, 2]
    piped = ok(run("versions", "iris-classifier", store=store))  # TSV, one version per line, no header
    assert [line.split("\t")[:2] for line in piped.splitlines()] == [["2", "Production"], ["1", "Staging"]]
    table = ok(run("versions", "iris-classifier", "--format", "table", store=store))
    lines = [line for line in table.splitlines() if line.strip()]
    assert lines[0].split()[0] == "VERSION" and lines[1].split()[0] == "2"
    assert "Deleted_Internal" not in table + piped


# ----------------------------------------------------------------- aliases

def test_alias_set_move_delete_list(backend):
    store3 = backend.root
    aliases = model_dir(store3, "iris-classifier") / "aliases"
    result = run("alias", "set", "iris-classifier", "champion", "1", store=backend)
    assert ok(result) == "" and result.stderr == "champion: 2 -> 1\n"
    if backend.is_file:
        assert (aliases / "champion").read_bytes() == b"1"
        assert meta(model_dir(store3, "iris-classifier") / "meta.yaml")["aliases"] == {"challenger": "1", "champion": "1"}
    result = run("alias", "set", "iris-classifier", "shadow", "2", store=backend)
    assert ok(result) == "" and result.stderr == "shadow: (none) -> 2\n"
    result = run("alias", "set", "iris-classifier", "shadow", "2", store=backend)
    assert ok(result) == "" and "nothing changed" in result.stderr
    assert ok_json("alias", "list", "iris-classifier", store=backend) == {"challenger": 1, "champion": 1, "shadow": 2}
    result = run("alias", "delete", "iris-classifier", "shadow", store=backend)
    assert ok(result) == "" and result.stderr == "shadow: 2 -> (deleted)\n"
    assert ok_json("alias", "list", "iris-classifier", store=backend) == {"challenger": 1, "champion": 1}
    assert ok_json("describe", "iris-classifier", store=backend)["aliases"] == {"challenger": 1, "champion": 1}
    table = ok(run("alias", "list", "iris-classifier", store=backend))
    assert "champion" in table and "shadow" not in table
    if backend.is_file:
        assert not (aliases / "shadow").exists()
        assert meta(model_dir(store3, "iris-classifier") / "meta.yaml")["aliases"] == {"challenger": "1", "champion": "1"}
        # nothing regctl wrote is left inside aliases/
        assert sorted(p.name for p in aliases.iterdir()) == ["challenger", "champion"]


def test_alias_expect(backend):
    def champion():
        return ok_json("alias", "list", "iris-classifier", store=backend)["champion"]

    ok(run("alias", "set", "iris-classifier", "champion", "1", "--expect", "2", store=backend))
    assert champion() == 1
    one_line_failure(run("alias", "set", "iris-classifier", "champion", "2", "--expect", "2", store=backend), 3,
          "'champion'", "points at 1, expected 2")
    assert champion() == 1
    one_line_failure(run("alias", "set", "iris-classifier", "champion", "2", "--expect", "none", store=backend), 3, "expected none")
    ok(run("alias", "set", "iris-classifier", "fresh", "2", "--expect", "none", store=backend))
    ok(run("alias", "set", "iris-classifier", "other", "1", "--expect", "NONE", store=backend))
    assert ok_json("alias", "list", "iris-classifier", store=backend) == {
        "challenger": 1, "champion": 1, "fresh": 2, "other": 1}
    if backend.is_file:
        assert (model_dir(backend.root, "iris-classifier") / "aliases" / "champion").read_bytes() == b"1"


def test_alias_rollback(backend):
    one_line_failure(run("alias", "rollback", "iris-classifier", "champion", store=backend), 1, "'champion'")
    ok(run("alias", "set", "iris-classifier", "champion", "1", store=backend))
    result = run("alias", "rollback", "iris-classifier", "champion", store=backend)
    assert ok(result) == "" and result.stderr == "champion: 1 -> 2\n"
    assert ok_json("alias", "list", "iris-classifier", store=backend)["champion"] == 2
    ok(run("alias", "set", "iris-classifier", "brand-new", "1", store=backend))
    result = run("alias", "rollback", "iris-classifier", "brand-new", store=backend)
    assert ok(result) == "" and result.stderr == "brand-new: 1 -> (deleted)\n"
    assert "brand-new" not in ok_json("alias", "list", "iris-classifier", store=backend)
    if backend.is_file:
        assert (model_dir(backend.root, "iris-classifier") / "aliases" / "champion").read_bytes() == b"2"
        assert not (model_dir(backend.root, "iris-classifier") / "aliases" / "brand-new").exists()


# -------------------------------------------------------------------- tags

def test_model_tags_set_and_delete_nested(backend):
    tags = model_dir(backend.root, "iris-classifier") / "tags"
    before = ok_json("describe", "iris-classifier", store=backend)["last_updated_timestamp"]
    result = run("tag", "iris-classifier", "stage=beta", "owner/lead=ada", "deep/a/b=x=y", store=backend)
    assert ok(result) == "" and result.stderr == "set 3 tag(s)\n"
    view = ok_json("describe", "iris-classifier", store=backend)
    if backend.is_file:
        assert (tags / "stage").read_bytes() == b"beta"
        assert (tags / "owner" / "lead").read_bytes() == b"ada"
        assert (tags / "owner" / "team").read_bytes() == b"ml-platform"
        assert (tags / "deep" / "a" / "b").read_bytes() == b"x=y"
        assert view["last_updated_timestamp"] > before
    else:
        assert view["last_updated_timestamp"] == before  # MLflow's SQL store does not touch it for tags
    assert view["tags"] == {"task": "classification", "notes": "first line\nsecond line", "owner/team": "ml-platform",
                            "owner/lead": "ada", "stage": "beta", "deep/a/b": "x=y"}
    # the same order on both backends: per level, plain keys first, each level sorted
    assert list(view["tags"]) == ["notes", "stage", "task", "deep/a/b", "owner/lead", "owner/team"]
    result = run("tag", "iris-classifier", "--delete", "deep/a/b", "--delete", "owner/team", store=backend)
    assert ok(result) == "" and result.stderr == "removed 2 tag(s)\n"
    assert ok_json("describe", "iris-classifier", store=backend)["tags"] == {
        "task": "classification", "notes": "first line\nsecond line", "owner/lead": "ada", "stage": "beta"}
    if backend.is_file:
        assert not (tags / "deep").exists()  # emptied directories go too
        assert sorted(os.listdir(tags / "owner")) == ["lead"]


def test_version_tags_set_and_delete(backend):
    tags = model_dir(backend.root, "iris-classifier") / "version-2" / "tags"
    ok(run("tag", "iris-classifier", "--version", "2", "metrics/f1=0.8", "validation_status=approved", store=backend))
    if backend.is_file:
        assert (tags / "metrics" / "f1").read_bytes() == b"0.8"
        assert (tags / "validation_status").read_bytes() == b"approved"
    ok(run("tag", "iris-classifier", "--version", "2", "--delete", "metrics/r2", store=backend))
    view = ok_json("describe", "iris-classifier", "--version", "2", store=backend)
    assert view["tags"] == {"metrics/f1": "0.8", "validation_status": "approved"}
    one_line_failure(run("tag", "iris-classifier", "--version", "3", "k=v", store=backend), 1, "3")
    one_line_failure(run("tag", "iris-classifier", store=backend), 2)
    one_line_failure(run("tag", "iris-classifier", "a=1", "--delete", "b", store=backend), 2)


# ----------------------------------------------------------------- describe

def test_describe_model(fixture_backend):
    store = fixture_backend
    oracle = store.expected["registered_models"]["iris-classifier"]
    view = ok_json("describe", "iris-classifier", store=store)
    assert set(view) == MODEL_JSON_KEYS | {"latest_versions", "version_count"}
    assert view["description"] == oracle["description"] and view["tags"] == oracle["tags"]
    assert view["version_count"] == 2 and view["latest_version"] == 2
    assert sorted((v["current_stage"], v["version"]) for v in view["latest_versions"]) == [
        ("Production", 2), ("Staging", 1)]
    text = ok(run("describe", "iris-classifier", store=store))
    assert "Iris classifier" in text and "R²" in text and "owner/team" in text


def test_describe_version_and_alias(fixture_backend):
    store = fixture_backend
    expected = store.expected
    view = ok_json("describe", "iris-classifier", "--version", "2", store=store)
    assert set(view) == VERSION_JSON_KEYS | {"lineage"}
    assert view["version"] == 2 and view["aliases"] == ["champion"]
    lineage = view["lineage"]
    assert set(lineage) == {"run_id", "experiment_id", "run_name", "model_id", "artifact_path"}
    assert lineage["run_id"] == expected["runs"][1]["run_id"] and lineage["run_name"] == "no-intercept"
    assert lineage["experiment_id"] == expected["experiment"]["id"]
    assert lineage["model_id"] == expected["runs"][1]["model_id"]
    download = expected["registered_models"]["iris-classifier"]["versions"]["2"]["download_uri"]
    assert lineage["artifact_path"] == str(store.on_disk(download))
    assert ok_json("describe", "iris-classifier", "--alias", "challenger", store=store)["version"] == 1
    text = ok(run("describe", "iris-classifier", "--version", "2", store=store))
    assert "Refit without an intercept term." in text and "no-intercept" in text


def test_describe_set(backend, tmp_path):
    def description(*args):
        return ok_json("describe", "iris-classifier", *args, store=backend)["description"]

    model_meta = model_dir(backend.root, "iris-classifier") / "meta.yaml"
    ok(run("describe", "iris-classifier", "--set", "New text: with a colon\n", store=backend))
    assert description() == "New text: with a colon\n"
    model_updated = ok_json("describe", "iris-classifier", store=backend)["last_updated_timestamp"]
    ok(run("describe", "iris-classifier", "--version", "1", "--set", "v1 notes", store=backend))
    assert description("--version", "1") == "v1 notes"
    # as MLflow's update_model_version (file and SQL stores): the version's time moves, not the model's
    assert ok_json("describe", "iris-classifier", store=backend)["last_updated_timestamp"] == model_updated
    source = tmp_path / "desc.md"
    source.write_text("# From a file\n\nR² = 0.93\n", encoding="utf-8")
    ok(run("describe", "iris-classifier", "--set-file", source, store=backend))
    assert description() == "# From a file\n\nR² = 0.93\n"
    ok(run("describe", "iris-classifier", "--alias", "champion", "--set-file", "-", input="piped\ntext", store=backend))
    assert description("--version", "2") == "piped\ntext"
    assert description() == "# From a file\n\nR² = 0.93\n"
    if backend.is_file:
        assert meta(model_meta)["description"] == "# From a file\n\nR² = 0.93\n"
        assert meta(model_dir(backend.root, "iris-classifier") / "version-2" / "meta.yaml")["description"] == "piped\ntext"


# ------------------------------------------------------------------ resolve

def test_resolve_every_oracle_uri(fixture_backend):
    store = fixture_backend
    expected = store.expected
    model_of_run = {r["run_id"]: r["model_id"] for r in expected["runs"]}
    for uri, answer in expected["resolve"].items():
        result = run("resolve", uri, store=store)
        if uri.endswith("@latest"):
            # regctl follows MLflow 3 for @latest, also on a store written by MLflow 2
            answer = expected["resolve"][uri.replace("@latest", "/latest")]
        if "error" in answer:
            code = 2 if "Invalid Model Version stage" in answer["message"] else 1
            one_line_failure(result, code)
            continue
        if uri.startswith("runs:/") and model_of_run[uri.split("/")[1]]:
            # MLflow 3 downloads the run's logged model called 'model'
            path = store.on_disk(expected["resolve"][f"models:/{model_of_run[uri.split('/')[1]]}"]["download_uri"])
        else:
            path = store.on_disk(answer.get("download_uri") or answer.get("underlying_uri"))
        assert ok(result) == f"{path}\n", uri
        assert (path / "MLmodel").is_file()


def test_resolve_json_and_paths(backend, model_files, tmp_path):
    (run_base, model_base), (run_noi, model_noi) = run_ids(backend)
    location = version_location(backend, "iris-classifier", 2)
    view = ok_json("resolve", "models:/iris-classifier@champion", store=backend)
    assert view == {
        "uri": "models:/iris-classifier@champion", "name": "iris-classifier", "version": 2,
        "location": location, "path": str(backend.on_disk(location)),
        "model_id": model_noi, "run_id": run_noi,
    }
    view = ok_json("resolve", f"models:/{model_base}", store=backend)
    assert view["path"] == str(backend.on_disk(version_location(backend, "iris-classifier", 1)))
    assert view["model_id"] == model_base and view["run_id"] == run_base and view["version"] is None
    view = ok_json("resolve", f"runs:/{run_base}/model", store=backend)
    assert view["run_id"] == run_base and view["model_id"] == model_base
    assert ok(run("resolve", model_files.as_uri(), store=backend)) == f"{model_files}\n"
    assert ok(run("resolve", str(model_files), store=backend)) == f"{model_files}\n"
    relative = os.path.relpath(model_files, tmp_path)
    assert ok(run("resolve", relative, store=backend, cwd=tmp_path)) == f"{model_files}\n"
    # a missing location is an error, never an empty success
    one_line_failure(run("resolve", str(tmp_path / "nowhere"), store=backend), 1, "nowhere")


def test_resolve_fast_path_matches_full_cli(backend, tmp_path):
    """``--traceback`` forces the Typer CLI; both paths must answer byte for byte the same."""
    store3 = backend
    store2 = FixtureStore(backend.fixture.replace("3", "2"), tmp_path / "two")
    (run3_base, _), (_, model3_noi) = run_ids(store3)
    run2_noi = store2.expected["runs"][1]["run_id"]
    cases = [
        ("resolve", "models:/iris-classifier@champion"),
        ("resolve", "models:/iris-classifier/Staging", "--json"),
        ("resolve", "--json", f"runs:/{run3_base}/model"),
        ("resolve", f"models:/{model3_noi}"),
        ("resolve", "models:/iris-classifier/3"),
        ("resolve", "models:/iris-classifier/bogus"),
        ("resolve", "models:/a?b/1"),
        ("resolve", "models:/no-such-model@x"),
        ("resolve", "s3://bucket/model"),
    ]
    for args in cases:
        fast, full = run(*args, store=store3), run("--traceback", *args, store=store3)
        assert (fast.returncode, fast.stdout, fast.stderr) == (full.returncode, full.stdout, full.stderr), args
    # store from the environment, and a missing store
    env = {"REGCTL_STORE": str(store2)}
    for args in [("resolve", "models:/iris-classifier/1"), ("resolve", "--json", f"runs:/{run2_noi}/model")]:
        fast, full = run(*args, env=env), run("--traceback", *args, env=env)
        assert fast.returncode == 0 and (fast.stdout, fast.stderr) == (full.stdout, full.stderr)
    missing = f"sqlite:///{tmp_path / 'missing.db'}" if backend.kind == "sqlite" else tmp_path / "missing"
    fast, full = (run(*a, "resolve", "models:/m/1", store=missing) for a in [(), ("--traceback",)])
    assert fast.returncode == 4 and (fast.returncode, fast.stdout, fast.stderr) == (full.returncode, full.stdout, full.stderr)


# -------------------------------------------------------------------- stage

def test_stage_transitions(backend):
    def stages():
        return {v["version"]: v for v in ok_json("versions", "iris-classifier", "--all", store=backend)}

    model_before = ok_json("describe", "iris-classifier", store=backend)["last_updated_timestamp"]
    result = run("stage", "iris-classifier", "2", "staging", store=backend)
    assert ok(result) == "" and result.stderr == "version 2: Production -> Staging\n"
    assert (stages()[2]["current_stage"], stages()[1]["current_stage"]) == ("Staging", "Staging")
    assert ok_json("describe", "iris-classifier", store=backend)["last_updated_timestamp"] > model_before
    assert ok_json("resolve", "models:/iris-classifier/Staging", store=backend)["version"] == 2  # highest in stage
    result = run("stage", "iris-classifier", "1", "PRODUCTION", "--archive-existing", store=backend)
    assert ok(result) == "" and result.stderr == "version 1: Staging -> Production\n"
    result = run("stage", "iris-classifier", "1", "Staging", "--archive-existing", store=backend)
    assert ok(result) == "" and result.stderr == "version 1: Production -> Staging (archived 2)\n"
    v1, v2, v3 = stages()[1], stages()[2], stages()[3]
    assert (v1["current_stage"], v2["current_stage"]) == ("Staging", "Archived")
    assert v1["last_updated_timestamp"] == v2["last_updated_timestamp"]
    assert v3["current_stage"] == "Deleted_Internal"
    ok(run("stage", "iris-classifier", "2", "none", store=backend))
    assert stages()[2]["current_stage"] == "None"
    if backend.is_file:
        versions = model_dir(backend.root, "iris-classifier")
        assert meta(versions / "version-2" / "meta.yaml")["current_stage"] == "None"
        assert meta(versions / "version-1" / "meta.yaml")["current_stage"] == "Staging"


# ------------------------------------------------------------------- rename

def test_rename_carries_everything(fixture_backend):
    store = fixture_backend

    def everything(name):
        model = ok_json("describe", name, store=store)
        versions = ok_json("versions", name, "--all", store=store)
        return ({k: model[k] for k in ("tags", "aliases", "description", "creation_timestamp")},
                [{k: v for k, v in view.items() if k not in ("name", "last_updated_timestamp")} for view in versions])

    before = everything("iris-classifier")
    old_dir = model_dir(store.root, "iris-classifier")
    if store.is_file:
        before_files = {p.relative_to(old_dir): p.read_bytes() for p in old_dir.rglob("*")
                        if p.is_file() and p.name != "meta.yaml"}
    result = run("rename", "iris-classifier", "iris v2", store=store)
    assert ok(result) == "" and result.stderr == "renamed iris-classifier to iris v2\n"
    assert everything("iris v2") == before  # model tags, aliases, versions and their tags, all carried over
    assert {v["name"] for v in ok_json("versions", "iris v2", "--all", store=store)} == {"iris v2"}
    assert [v["version"] for v in ok_json("versions", "iris v2", "--all", store=store)] == [3, 2, 1]
    assert ok_json("resolve", "models:/iris v2@champion", store=store)["version"] == 2
    one_line_failure(run("versions", "iris-classifier", store=store), 1, "'iris-classifier'")
    names = [m["name"] for m in ok_json("models", store=store)]
    assert names == ["iris v2", "iris.baseline model"]
    if store.is_file:
        assert not old_dir.exists()
        new_dir = model_dir(store.root, "iris v2")
        after_files = {p.relative_to(new_dir): p.read_bytes() for p in new_dir.rglob("*")
                       if p.is_file() and p.name != "meta.yaml"}
        assert after_files == before_files  # model tags, alias files, version tags, all carried over
        assert meta(new_dir / "meta.yaml")["name"] == "iris v2"
        assert meta(new_dir / "meta.yaml")["aliases"] == {"challenger": "1", "champion": "2"}
        for number in (1, 2, 3):
            assert meta(new_dir / f"version-{number}" / "meta.yaml")["name"] == "iris v2"
        assert meta(new_dir / "version-3" / "meta.yaml")["current_stage"] == "Deleted_Internal"
    one_line_failure(run("rename", "iris v2", "iris.baseline model", store=store), 3, "'iris.baseline model'")


# ------------------------------------------------------------------- delete

def test_delete_version_and_model(backend):
    store3 = backend.root
    result = run("delete", "iris-classifier", "--version", "2", "--yes", store=backend)
    assert ok(result) == "" and result.stderr == "deleted version 2 of iris-classifier; removed aliases champion\n"
    deleted = ok_json("versions", "iris-classifier", "--all", store=backend)[1]
    assert (deleted["version"], deleted["current_stage"]) == (2, "Deleted_Internal")
    assert deleted["tags"] == {"validation_status": "pending", "metrics/r2": "0.9300"}  # tags stay, as in MLflow
    if backend.is_file:
        assert not (model_dir(store3, "iris-classifier") / "aliases" / "champion").exists()
        assert (model_dir(store3, "iris-classifier") / "version-2" / "tags" / "metrics" / "r2").is_file()
    assert [v["version"] for v in ok_json("versions", "iris-classifier", store=backend)] == [1]
    assert [v["version"] for v in ok_json("versions", "iris-classifier", "--all", store=backend)] == [3, 2, 1]
    assert ok_json("alias", "list", "iris-classifier", store=backend) == {"challenger": 1}
    assert ok_json("resolve", "models:/iris-classifier/latest", store=backend)["version"] == 1
    one_line_failure(run("resolve", "models:/iris-classifier/2", store=backend), 1)
    one_line_failure(run("delete", "iris-classifier", "--version", "2", "--yes", store=backend), 1)
    result = run("delete", "iris-classifier", "--yes", store=backend)
    assert ok(result) == "" and result.stderr == "deleted model iris-classifier\n"
    assert not model_dir(store3, "iris-classifier").exists()
    assert [m["name"] for m in ok_json("models", store=backend)] == ["iris.baseline model"]
    one_line_failure(run("versions", "iris-classifier", "--all", store=backend), 1, "'iris-classifier'")
    # a new model with the old name starts again at version 1
    (run_base, _), _ = run_ids(backend)
    assert ok(run("register", f"runs:/{run_base}/model", "--name", "iris-classifier", store=backend)) == "1\n"


# ------------------------------------------------------------------ history

def test_history(backend):
    store3 = backend
    assert ok_json("history", store=store3) == []
    ok(run("alias", "set", "iris-classifier", "champion", "1", store=store3))
    ok(run("tag", "iris.baseline model", "k=v", store=store3))
    ok(run("alias", "set", "iris-classifier", "challenger", "2", store=store3))
    records = ok_json("history", store=store3)
    assert [(r["operation"], r["model"], r["target"], r["old"], r["new"]) for r in records] == [
        ("alias.set", "iris-classifier", "challenger", "1", "2"),
        ("tag.set", "iris.baseline model", "k", None, "v"),
        ("alias.set", "iris-classifier", "champion", "2", "1"),
    ]
    for record in records:
        assert set(record) == {"time", "user", "host", "operation", "model", "target", "old", "new"}
    assert [r["target"] for r in ok_json("history", "iris-classifier", store=store3)] == ["challenger", "champion"]
    only = ok_json("history", "iris-classifier", "--alias", "champion", store=store3)
    assert [(r["old"], r["new"]) for r in only] == [("2", "1")]
    table = ok(run("history", store=store3))
    assert "alias.set" in table and "tag.set" in table


# ---------------------------------------------------------- store location

@pytest.fixture(scope="module")
def located_stores(tmp_path_factory):
    """Five stores, each holding one model named after the way it is found."""
    base = tmp_path_factory.mktemp("where")
    source = base / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    stores = {}
    for label, path in [("option", base / "opt" / "mlruns"), ("regctl", base / "reg ctl%" / "mlruns"),
                        ("registry", base / "registry" / "mlruns"), ("tracking", base / "tracking" / "mlruns"),
                        ("cwd", base / "cwd" / "mlruns")]:
        ok(run("register", source, "--name", f"in-{label}", store=path))
        stores[label] = path
    return stores


def where(result) -> str:
    names = [m["name"] for m in json.loads(ok(result))]
    assert len(names) == 1
    return names[0][len("in-"):]


def test_store_location_precedence(located_stores):
    s = located_stores
    cwd = s["cwd"].parent
    env = {"REGCTL_STORE": str(s["regctl"]), "MLFLOW_REGISTRY_URI": s["registry"].as_uri(),
           "MLFLOW_TRACKING_URI": str(s["tracking"])}
    assert where(run("models", "--json", store=s["option"], env=env, cwd=cwd)) == "option"
    assert where(run("models", "--json", env=env, cwd=cwd)) == "regctl"
    del env["REGCTL_STORE"]
    assert where(run("models", "--json", env=env, cwd=cwd)) == "registry"
    del env["MLFLOW_REGISTRY_URI"]
    assert where(run("models", "--json", env=env, cwd=cwd)) == "tracking"
    assert where(run("models", "--json", env={}, cwd=cwd)) == "cwd"
    # as in MLflow, an empty MLflow variable counts as unset
    env = {"MLFLOW_REGISTRY_URI": "", "MLFLOW_TRACKING_URI": s["tracking"].as_uri()}
    assert where(run("models", "--json", env=env, cwd=cwd)) == "tracking"
    assert where(run("models", "--json", env={"MLFLOW_TRACKING_URI": ""}, cwd=cwd)) == "cwd"
    # a sqlite: registry URI names MLflow's database (relative to the current directory), before the tracking URI
    env = {"MLFLOW_REGISTRY_URI": "sqlite:///mlflow.db", "MLFLOW_TRACKING_URI": s["tracking"].as_uri()}
    one_line_failure(run("models", "--json", env=env, cwd=cwd), 4, f"no MLflow database at {cwd / 'mlflow.db'}")
    # an http(s) tracking URI is a tracking server (tests/test_server.py): here, one that is not running
    result = run("models", "--json", env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
                                          "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}, cwd=cwd)
    assert result.returncode == 5 and "cannot reach the MLflow server at http://127.0.0.1:9" in result.stderr
    # relative --store is relative to the current directory
    assert where(run("models", "--json", store="mlruns", cwd=cwd)) == "cwd"


UNSERVABLE = [  # (variable value, words the message must contain)
    ("postgresql://db.internal/mlflow", "through an MLflow tracking server"),
    ("databricks", "Databricks"),
    ("databricks-uc", "Databricks"),
    ("databricks://my-profile", "Databricks"),
    ("uc", "Unity Catalog"),
    ("s3://bucket/mlruns", "not supported"),
]


def _store_with_model(tmp_path) -> "tuple[Path, Path]":
    """``tmp_path/work/mlruns`` holding model X version 1, and the source directory it came from."""
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    ok(run("register", source, "--name", "X", store=tmp_path / "work" / "mlruns"))
    return tmp_path / "work", source


def _refused(cwd: Path, variable: str, value: str, words: str, commands, code: int = 4) -> None:
    before = snapshot(cwd)
    env, store = ({}, value) if variable == "--store" else ({variable: value}, None)
    env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # a server that cannot be reached fails at once
    shown = f"--store {value!r}" if variable == "--store" else f"{variable}={value!r}"
    for args in commands:
        one_line_failure(run(*args, env=env, store=store, cwd=cwd), code, *([shown, words] if code == 4 else [words]))
    assert snapshot(cwd) == before, "the store beside it, or a new directory, was written"


@pytest.mark.parametrize("variable, value, words", [
    (variable, value, words) for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI") for value, words in UNSERVABLE
] + [(variable, value, words) for variable in ("REGCTL_STORE", "--store") for value, words in UNSERVABLE[::4]])
def test_a_store_regctl_cannot_serve_is_an_error_never_a_fallback(tmp_path, variable, value, words):
    """Issue 7.2: a URI naming another kind of registry fails with exit 4 and one line naming
    the variable and its value (a write, and a read through the fast path), and neither the
    ./mlruns beside it nor a new ./<value> directory is touched."""
    cwd, _ = _store_with_model(tmp_path)
    _refused(cwd, variable, value, words, [("alias", "set", "X", "champion", "1"), ("resolve", "models:/X/1")])


@pytest.mark.parametrize("variable, value, code, words", [
    ("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000", 5, "cannot reach the MLflow server"),
    ("MLFLOW_REGISTRY_URI", "databricks-uc", 4, "not supported"),
    ("MLFLOW_REGISTRY_URI", "databricks", 4, "not supported")])
def test_the_issue_examples_fail_for_every_command(tmp_path, variable, value, code, words):
    """Issue 7.2: the store the variables name is the one used, never ./mlruns beside it: a
    tracking server that cannot be reached fails (exit 5), a registry regctl cannot serve too."""
    cwd, source = _store_with_model(tmp_path)
    commands = [("register", source, "--name", "X"), ("register", source, "--name", "Y"), ("models",),
                ("versions", "X"), ("alias", "set", "X", "champion", "1"), ("alias", "list", "X"),
                ("tag", "X", "k=v"), ("describe", "X"), ("resolve", "models:/X/1"),
                ("resolve", "models:/X/1", "--json"), ("verify", "models:/X/1"), ("stage", "X", "1", "Staging"),
                ("rename", "X", "Z"), ("delete", "X", "--yes"), ("doctor",), ("doctor", "--fix")]
    _refused(cwd, variable, value, words, commands + ([] if code == 5 else [("history",)]), code)


def test_the_registry_uri_wins_over_the_tracking_uri_even_when_regctl_cannot_serve_it(located_stores):
    """MLflow's precedence: a set MLFLOW_REGISTRY_URI is the registry, whatever the tracking URI says."""
    s = located_stores
    env = {"MLFLOW_REGISTRY_URI": "databricks-uc", "MLFLOW_TRACKING_URI": s["tracking"].as_uri()}
    one_line_failure(run("models", env=env, cwd=s["cwd"].parent), 4, "MLFLOW_REGISTRY_URI='databricks-uc'")
    env = {"MLFLOW_REGISTRY_URI": s["registry"].as_uri(), "MLFLOW_TRACKING_URI": "http://mlflow.internal:5000"}
    assert where(run("models", "--json", env=env)) == "registry"
    # a store chosen explicitly makes the MLflow variables irrelevant
    env = {"MLFLOW_REGISTRY_URI": "databricks-uc", "MLFLOW_TRACKING_URI": "databricks"}
    assert where(run("models", "--json", store=s["option"], env=env)) == "option"
    assert where(run("models", "--json", env=dict(env, REGCTL_STORE=str(s["regctl"])))) == "regctl"


def test_credentials_in_a_store_uri_are_not_printed(tmp_path):
    result = run("models", env={"MLFLOW_TRACKING_URI": "https://alice:s3cret@mlflow.example.com/",
                                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}, cwd=tmp_path)
    one_line_failure(result, 5, "mlflow.example.com")
    assert "s3cret" not in result.stderr
    result = run("models", env={"MLFLOW_TRACKING_URI": "postgresql://alice:s3cret@db.example.com/mlflow"}, cwd=tmp_path)
    one_line_failure(result, 4, "MLFLOW_TRACKING_URI='postgresql://alice:***@db.example.com/mlflow'")
    assert "s3cret" not in result.stderr


@pytest.mark.parametrize("how", ["--store", "--store=", "REGCTL_STORE", "REGCTL_STORE blank"])
def test_an_empty_store_is_an_error_not_the_default(tmp_path, how):
    """Issue 7.2: ``--store ""`` used to mean ./mlruns; it is exit 2, for the fast path too."""
    cwd, _ = _store_with_model(tmp_path)
    before = snapshot(cwd)
    if how.startswith("--store"):
        prefix, env = (["--store", ""] if how == "--store" else ["--store="]), {}
    else:
        prefix, env = [], {"REGCTL_STORE": "" if how == "REGCTL_STORE" else "  "}
    for args in [("alias", "set", "X", "champion", "1"), ("models",), ("resolve", "models:/X/1")]:
        one_line_failure(run(*prefix, *args, env=env, cwd=cwd), 2, "must not be empty")
    assert snapshot(cwd) == before


def test_store_file_uris_are_percent_decoded(located_stores):
    path = located_stores["regctl"]
    encoded = path.as_uri()
    assert "reg%20ctl%25" in encoded
    assert where(run("models", "--json", store=encoded)) == "regctl"
    assert where(run("models", "--json", env={"REGCTL_STORE": encoded})) == "regctl"
    assert where(run("models", "--json", env={"MLFLOW_TRACKING_URI": encoded})) == "regctl"
    assert where(run("models", "--json", store=f"file:{path}")) == "regctl"
    # the fast path reads the same variables
    assert ok(run("resolve", "models:/in-regctl/1", env={"REGCTL_STORE": encoded})).endswith("/model\n")


# -------------------------------------------------------------- presentation

def test_no_ansi_escapes_without_a_terminal(store3):
    ok(run("alias", "set", "iris-classifier", "champion", "1", store=store3))
    for args in [("models",), ("versions", "iris-classifier", "--all"), ("alias", "list", "iris-classifier"),
                 ("describe", "iris-classifier"), ("describe", "iris-classifier", "--version", "2"), ("history",)]:
        result = run(*args, store=store3, env={"TERM": "xterm-256color", "COLORTERM": "truecolor"})
        assert ok(result).strip() and "\x1b" not in result.stdout + result.stderr, args


def test_no_color_on_a_terminal(store3):
    """With NO_COLOR set, even a terminal gets no escape sequences (no colour, no bold)."""
    import pty

    def on_tty(env):
        master, slave = pty.openpty()
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_", "NO_COLOR"))}
        full_env.update(env, TERM="xterm-256color", COLUMNS="200")
        process = subprocess.Popen([sys.executable, "-m", "regctl", "--store", str(store3), "versions", "iris-classifier"],
                                   stdout=slave, stderr=subprocess.PIPE, env=full_env)
        os.close(slave)
        shown = drain_pty(master)
        assert process.wait() == 0
        return shown.decode()

    assert "\x1b[" in on_tty({})  # the check can see escapes when there are some
    plain = on_tty({"NO_COLOR": "1"})
    assert "\x1b" not in plain and "champion" in plain


def test_version_option():
    result = run("--version")
    assert ok(result) == f"regctl {regctl.__version__}\n" and result.stderr == ""


def test_version_answers_alike_with_and_without_the_cli_framework():
    """``regctl --version`` alone is answered before Typer loads; with anything else the CLI answers."""
    alone = run("--version", process=True)
    with_cli = run("--traceback", "--version")
    assert (alone.returncode, alone.stdout, alone.stderr) == (0, with_cli.stdout, "") and alone.stdout.startswith("regctl ")
