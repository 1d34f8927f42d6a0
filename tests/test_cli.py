"""Every command through the real CLI (a ``python -m regctl`` subprocess) on copies of the
fixture stores and on fresh stores: exit codes, stdout and stderr, and the files written."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import regctl
from conftest import copy_fixture_store, expected_of, regctl as run

E3 = expected_of("mlflow3-store")
E2 = expected_of("mlflow2-store")
EXP3, EXP2 = E3["experiment"]["id"], E2["experiment"]["id"]
(RUN3_BASE, MODEL3_BASE), (RUN3_NOI, MODEL3_NOI) = [(r["run_id"], r["model_id"]) for r in E3["runs"]]
RUN2_BASE, RUN2_NOI = [r["run_id"] for r in E2["runs"]]
OLD_ROOT = "file:///srv/project/mlruns/"
DIGEST_TAG = "regctl.content_digest"  # added by regctl to every version it registers

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


def ok(result) -> str:
    """Assert success without a traceback; return stdout."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def ok_json(*args, store, **kwargs):
    return json.loads(ok(run(*args, "--json", store=store, **kwargs)))


def fails(result, code: int, *needles: str) -> str:
    """Assert one ``regctl:`` line on stderr, nothing on stdout and exit ``code``."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr
    return result.stderr


def user_tags(tags: dict) -> dict:
    """Tags without the content digest regctl records at registration (checked once, below)."""
    assert tags.get(DIGEST_TAG, "sha256:").startswith("sha256:")
    return {k: v for k, v in tags.items() if k != DIGEST_TAG}


def meta(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def on_disk(store: Path, location: str) -> Path:
    """Where a location recorded under /srv/project/mlruns lives in the copied store."""
    assert location.startswith(OLD_ROOT), location
    return store / location[len(OLD_ROOT):]


def model_dir(store: Path, name: str) -> Path:
    return store / "models" / name


@pytest.fixture
def model_files(store3, tmp_path) -> Path:
    """A standalone model directory (outside any store), path with a space."""
    target = tmp_path / "local models" / "iris"
    shutil.copytree(store3 / EXP3 / "models" / MODEL3_BASE / "artifacts", target)
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


def test_next_version_counts_soft_deleted_versions(fixture_store):
    kind, store = fixture_store
    expected = expected_of(kind)["registered_models"]["iris-classifier"]["next_version"]
    run_id = expected_of(kind)["runs"][1]["run_id"]
    assert ok(run("register", f"runs:/{run_id}/model", "--name", "iris-classifier", store=store)) == f"{expected}\n"
    numbers = [v["version"] for v in ok_json("versions", "iris-classifier", "--all", store=store)]
    assert numbers == [4, 3, 2, 1]
    # the model meta of an existing model keeps its own keys (MLflow 2 files are not upgraded)
    model = meta(model_dir(store, "iris-classifier") / "meta.yaml")
    assert model["aliases"] == {"challenger": "1", "champion": "2"}
    assert ("workspace" in model) == (kind == "mlflow3-store")


def test_register_from_logged_model_id(store3):
    assert ok(run("register", f"models:/{MODEL3_NOI}", "--name", "from-id", store=store3)) == "1\n"
    version = meta(model_dir(store3, "from-id") / "version-1" / "meta.yaml")
    assert version["source"] == f"models:/{MODEL3_NOI}"
    assert version["storage_location"] == f"{OLD_ROOT}{EXP3}/models/{MODEL3_NOI}/artifacts"
    assert version["run_id"] == RUN3_NOI and version["model_id"] == MODEL3_NOI
    tag = store3 / EXP3 / "models" / MODEL3_NOI / "tags" / "mlflow.modelVersions"
    assert json.loads(tag.read_text())[-1] == {"name": "from-id", "version": 1}


@pytest.mark.parametrize("source, version", [
    ("models:/iris-classifier/2", 2),
    ("models:/iris-classifier@champion", 2),
    ("models:/iris-classifier@challenger", 1),
    ("models:/iris-classifier/latest", 2),
    ("models:/iris-classifier/staging", 1),
])
def test_register_copy_of_a_version(store3, source, version):
    assert ok(run("register", source, "--name", "copy", store=store3)) == "1\n"
    copied = meta(model_dir(store3, "copy") / "version-1" / "meta.yaml")
    original = meta(model_dir(store3, "iris-classifier") / f"version-{version}" / "meta.yaml")
    assert copied["source"] == f"models:/iris-classifier/{version}"
    assert copied["storage_location"] == original["storage_location"]
    assert copied["run_id"] == original["run_id"] and copied["model_id"] == original["model_id"]
    view = ok_json("describe", "copy", "--version", "1", store=store3)
    oracle = expected_of("mlflow3-store")["registered_models"]["iris-classifier"]["versions"][str(version)]
    assert user_tags(view["tags"]) == oracle["tags"]


def test_register_file_uri_and_local_directory(store3, model_files, tmp_path):
    uri = model_files.as_uri()
    assert "%20" in uri
    assert ok(run("register", uri, "--name", "local", store=store3)) == "1\n"
    assert ok(run("register", str(model_files), "--name", "local", store=store3)) == "2\n"
    relative = os.path.relpath(model_files, tmp_path)
    assert ok(run("register", relative, "--name", "local", store=store3, cwd=tmp_path)) == "3\n"
    v1, v2, v3 = (meta(model_dir(store3, "local") / f"version-{n}" / "meta.yaml") for n in (1, 2, 3))
    assert v1["source"] == v1["storage_location"] == uri
    assert v2["source"] == v2["storage_location"] == str(model_files)
    assert v3["source"] == str(model_files)  # relative paths are stored absolute
    assert v1["run_id"] is None and v1["model_id"] is None
    for n in (1, 2, 3):
        assert ok(run("resolve", f"models:/local/{n}", store=store3)) == f"{model_files}\n"


def test_register_with_description_tags_and_aliases(store3):
    result = run("register", f"runs:/{RUN3_NOI}/model", "--name", "iris-classifier",
                 "--description", "Third try.\nWith R²: 0.93", "--tag", "team=ml", "--tag", "metrics/acc=0.9",
                 "--tag", "expr=a=b", "--alias", "champion", "--alias", "shadow", store=store3)
    assert ok(result) == "4\n"
    version_dir = model_dir(store3, "iris-classifier") / "version-4"
    assert meta(version_dir / "meta.yaml")["description"] == "Third try.\nWith R²: 0.93"
    assert (version_dir / "tags" / "team").read_bytes() == b"ml"
    assert (version_dir / "tags" / "metrics" / "acc").read_bytes() == b"0.9"
    assert (version_dir / "tags" / "expr").read_bytes() == b"a=b"
    aliases = model_dir(store3, "iris-classifier") / "aliases"
    assert (aliases / "champion").read_bytes() == b"4" and (aliases / "shadow").read_bytes() == b"4"
    assert meta(model_dir(store3, "iris-classifier") / "meta.yaml")["aliases"] == {
        "challenger": "1", "champion": "4", "shadow": "4"}
    view = ok_json("describe", "iris-classifier", "--alias", "shadow", store=store3)
    assert view["version"] == 4 and view["aliases"] == ["champion", "shadow"]
    assert user_tags(view["tags"]) == {"team": "ml", "metrics/acc": "0.9", "expr": "a=b"}


def test_register_into_a_fresh_store(tmp_path, model_files):
    store = tmp_path / "new" / "mlruns"
    assert ok(run("register", str(model_files), "--name", "first", store=store)) == "1\n"
    assert ok(run("register", str(model_files), "--name", "first", "--alias", "prod", store=store)) == "2\n"
    models = ok_json("models", store=store)
    assert [m["name"] for m in models] == ["first"]
    assert models[0]["latest_version"] == 2 and models[0]["aliases"] == {"prod": 2}
    assert set(models[0]) == MODEL_JSON_KEYS
    assert ok(run("resolve", "models:/first@prod", store=store)) == f"{model_files}\n"
    # regctl's own files: a journal and a lock file in models/, nothing else
    extra = sorted(p.name for p in (store / "models").iterdir() if p.name != "first")
    assert extra[0] == ".regctl%journal.jsonl" and extra[1].startswith(".regctl%lock%") and len(extra) == 2


# -------------------------------------------------------------- listings

def test_models_json_matches_the_oracle(fixture_store):
    kind, store = fixture_store
    models = ok_json("models", store=store)
    expected = expected_of(kind)["registered_models"]
    assert [m["name"] for m in models] == sorted(expected)
    for model in models:
        oracle = expected[model["name"]]
        assert set(model) == MODEL_JSON_KEYS
        assert model["description"] == oracle["description"]
        assert model["tags"] == oracle["tags"]
        assert model["aliases"] == {a: int(v) for a, v in oracle["aliases"].items()}
        assert model["latest_version"] == max(int(v) for v in oracle["visible_versions"])


def test_models_table_and_prompts_hidden(store3):
    ok(run("tag", "iris.baseline model", "mlflow.prompt.is_prompt=true", store=store3))
    table = ok(run("models", store=store3))
    assert "iris-classifier" in table and "iris.baseline model" not in table
    assert [m["name"] for m in ok_json("models", store=store3)] == ["iris-classifier"]


def test_versions_newest_first_all_and_limit(fixture_store):
    kind, store = fixture_store
    oracle = expected_of(kind)["registered_models"]["iris-classifier"]["versions"]
    visible = ok_json("versions", "iris-classifier", store=store)
    assert [v["version"] for v in visible] == [2, 1]
    for view in visible:
        assert set(view) == VERSION_JSON_KEYS
        expected = oracle[str(view["version"])]
        assert view["current_stage"] == expected["current_stage"]
        assert view["source"] == expected["source"] and view["run_id"] == expected["run_id"]
        assert view["tags"] == expected["tags"] and view["aliases"] == expected["aliases"]
        assert view["description"] == expected["description"]
    everything = ok_json("versions", "iris-classifier", "--all", store=store)
    assert [(v["version"], v["current_stage"]) for v in everything] == [
        (3, "Deleted_Internal"), (2, "Production"), (1, "Staging")]
    assert [v["version"] for v in ok_json("versions", "iris-classifier", "--limit", "1", store=store)] == [2]
    assert [v["version"] for v in ok_json("versions", "iris-classifier", "--all", "--limit", "2", store=store)] == [3, 2]
    table = ok(run("versions", "iris-classifier", store=store))
    lines = [line for line in table.splitlines() if line.strip()]
    assert lines[0].split()[0] == "VERSION" and lines[1].split()[0] == "2"
    assert "Deleted_Internal" not in table


# ----------------------------------------------------------------- aliases

def test_alias_set_move_delete_list(store3):
    aliases = model_dir(store3, "iris-classifier") / "aliases"
    result = run("alias", "set", "iris-classifier", "champion", "1", store=store3)
    assert ok(result) == "" and result.stderr == "champion: 2 -> 1\n"
    assert (aliases / "champion").read_bytes() == b"1"
    assert meta(model_dir(store3, "iris-classifier") / "meta.yaml")["aliases"] == {"challenger": "1", "champion": "1"}
    result = run("alias", "set", "iris-classifier", "shadow", "2", store=store3)
    assert ok(result) == "" and result.stderr == "shadow: (none) -> 2\n"
    result = run("alias", "set", "iris-classifier", "shadow", "2", store=store3)
    assert ok(result) == "" and "nothing changed" in result.stderr
    assert ok_json("alias", "list", "iris-classifier", store=store3) == {"challenger": 1, "champion": 1, "shadow": 2}
    result = run("alias", "delete", "iris-classifier", "shadow", store=store3)
    assert ok(result) == "" and result.stderr == "shadow: 2 -> (deleted)\n"
    assert not (aliases / "shadow").exists()
    assert ok_json("alias", "list", "iris-classifier", store=store3) == {"challenger": 1, "champion": 1}
    assert meta(model_dir(store3, "iris-classifier") / "meta.yaml")["aliases"] == {"challenger": "1", "champion": "1"}
    table = ok(run("alias", "list", "iris-classifier", store=store3))
    assert "champion" in table and "shadow" not in table
    # nothing regctl wrote is left inside aliases/
    assert sorted(p.name for p in aliases.iterdir()) == ["challenger", "champion"]


def test_alias_expect(store3):
    alias = model_dir(store3, "iris-classifier") / "aliases" / "champion"
    ok(run("alias", "set", "iris-classifier", "champion", "1", "--expect", "2", store=store3))
    assert alias.read_bytes() == b"1"
    fails(run("alias", "set", "iris-classifier", "champion", "2", "--expect", "2", store=store3), 3, "'champion'")
    assert alias.read_bytes() == b"1"
    fails(run("alias", "set", "iris-classifier", "champion", "2", "--expect", "none", store=store3), 3)
    ok(run("alias", "set", "iris-classifier", "fresh", "2", "--expect", "none", store=store3))
    ok(run("alias", "set", "iris-classifier", "other", "1", "--expect", "NONE", store=store3))
    assert ok_json("alias", "list", "iris-classifier", store=store3) == {
        "challenger": 1, "champion": 1, "fresh": 2, "other": 1}


def test_alias_rollback(store3):
    fails(run("alias", "rollback", "iris-classifier", "champion", store=store3), 1, "'champion'")
    ok(run("alias", "set", "iris-classifier", "champion", "1", store=store3))
    result = run("alias", "rollback", "iris-classifier", "champion", store=store3)
    assert ok(result) == "" and result.stderr == "champion: 1 -> 2\n"
    assert (model_dir(store3, "iris-classifier") / "aliases" / "champion").read_bytes() == b"2"
    ok(run("alias", "set", "iris-classifier", "brand-new", "1", store=store3))
    result = run("alias", "rollback", "iris-classifier", "brand-new", store=store3)
    assert ok(result) == "" and result.stderr == "brand-new: 1 -> (deleted)\n"
    assert not (model_dir(store3, "iris-classifier") / "aliases" / "brand-new").exists()


# -------------------------------------------------------------------- tags

def test_model_tags_set_and_delete_nested(store3):
    tags = model_dir(store3, "iris-classifier") / "tags"
    before = meta(model_dir(store3, "iris-classifier") / "meta.yaml")["last_updated_timestamp"]
    result = run("tag", "iris-classifier", "stage=beta", "owner/lead=ada", "deep/a/b=x=y", store=store3)
    assert ok(result) == "" and result.stderr == "set 3 tag(s)\n"
    assert (tags / "stage").read_bytes() == b"beta"
    assert (tags / "owner" / "lead").read_bytes() == b"ada" and (tags / "owner" / "team").read_bytes() == b"ml-platform"
    assert (tags / "deep" / "a" / "b").read_bytes() == b"x=y"
    assert meta(model_dir(store3, "iris-classifier") / "meta.yaml")["last_updated_timestamp"] > before
    view = ok_json("describe", "iris-classifier", store=store3)
    assert view["tags"] == {"task": "classification", "notes": "first line\nsecond line", "owner/team": "ml-platform",
                            "owner/lead": "ada", "stage": "beta", "deep/a/b": "x=y"}
    result = run("tag", "iris-classifier", "--delete", "deep/a/b", "--delete", "owner/team", store=store3)
    assert ok(result) == "" and result.stderr == "removed 2 tag(s)\n"
    assert not (tags / "deep").exists()  # emptied directories go too
    assert sorted(os.listdir(tags / "owner")) == ["lead"]


def test_version_tags_set_and_delete(store3):
    tags = model_dir(store3, "iris-classifier") / "version-2" / "tags"
    ok(run("tag", "iris-classifier", "--version", "2", "metrics/f1=0.8", "validation_status=approved", store=store3))
    assert (tags / "metrics" / "f1").read_bytes() == b"0.8"
    assert (tags / "validation_status").read_bytes() == b"approved"
    ok(run("tag", "iris-classifier", "--version", "2", "--delete", "metrics/r2", store=store3))
    view = ok_json("describe", "iris-classifier", "--version", "2", store=store3)
    assert view["tags"] == {"metrics/f1": "0.8", "validation_status": "approved"}
    fails(run("tag", "iris-classifier", "--version", "3", "k=v", store=store3), 1, "3")
    fails(run("tag", "iris-classifier", store=store3), 2)
    fails(run("tag", "iris-classifier", "a=1", "--delete", "b", store=store3), 2)


# ----------------------------------------------------------------- describe

def test_describe_model(fixture_store):
    kind, store = fixture_store
    oracle = expected_of(kind)["registered_models"]["iris-classifier"]
    view = ok_json("describe", "iris-classifier", store=store)
    assert set(view) == MODEL_JSON_KEYS | {"latest_versions", "version_count"}
    assert view["description"] == oracle["description"] and view["tags"] == oracle["tags"]
    assert view["version_count"] == 2 and view["latest_version"] == 2
    assert sorted((v["current_stage"], v["version"]) for v in view["latest_versions"]) == [
        ("Production", 2), ("Staging", 1)]
    text = ok(run("describe", "iris-classifier", store=store))
    assert "Iris classifier" in text and "R²" in text and "owner/team" in text


def test_describe_version_and_alias(fixture_store):
    kind, store = fixture_store
    expected = expected_of(kind)
    view = ok_json("describe", "iris-classifier", "--version", "2", store=store)
    assert set(view) == VERSION_JSON_KEYS | {"lineage"}
    assert view["version"] == 2 and view["aliases"] == ["champion"]
    lineage = view["lineage"]
    assert set(lineage) == {"run_id", "experiment_id", "run_name", "model_id", "artifact_path"}
    assert lineage["run_id"] == expected["runs"][1]["run_id"] and lineage["run_name"] == "no-intercept"
    assert lineage["experiment_id"] == expected["experiment"]["id"]
    assert lineage["model_id"] == expected["runs"][1]["model_id"]
    download = expected["registered_models"]["iris-classifier"]["versions"]["2"]["download_uri"]
    assert lineage["artifact_path"] == str(on_disk(store, download))
    assert ok_json("describe", "iris-classifier", "--alias", "challenger", store=store)["version"] == 1
    text = ok(run("describe", "iris-classifier", "--version", "2", store=store))
    assert "Refit without an intercept term." in text and "no-intercept" in text


def test_describe_set(store3, tmp_path):
    model_meta = model_dir(store3, "iris-classifier") / "meta.yaml"
    ok(run("describe", "iris-classifier", "--set", "New text: with a colon\n", store=store3))
    assert meta(model_meta)["description"] == "New text: with a colon\n"
    ok(run("describe", "iris-classifier", "--version", "1", "--set", "v1 notes", store=store3))
    assert meta(model_dir(store3, "iris-classifier") / "version-1" / "meta.yaml")["description"] == "v1 notes"
    source = tmp_path / "desc.md"
    source.write_text("# From a file\n\nR² = 0.93\n", encoding="utf-8")
    ok(run("describe", "iris-classifier", "--set-file", source, store=store3))
    assert meta(model_meta)["description"] == "# From a file\n\nR² = 0.93\n"
    ok(run("describe", "iris-classifier", "--alias", "champion", "--set-file", "-", input="piped\ntext", store=store3))
    assert meta(model_dir(store3, "iris-classifier") / "version-2" / "meta.yaml")["description"] == "piped\ntext"
    assert meta(model_meta)["description"] == "# From a file\n\nR² = 0.93\n"
    assert ok_json("describe", "iris-classifier", "--version", "2", store=store3)["description"] == "piped\ntext"


# ------------------------------------------------------------------ resolve

@pytest.mark.parametrize("kind", ["mlflow3-store", "mlflow2-store"])
def test_resolve_every_oracle_uri(kind, tmp_path):
    store = copy_fixture_store(kind, tmp_path)
    expected = expected_of(kind)
    model_of_run = {r["run_id"]: r["model_id"] for r in expected["runs"]}
    for uri, answer in expected["resolve"].items():
        result = run("resolve", uri, store=store)
        if uri.endswith("@latest"):
            # regctl follows MLflow 3 for @latest, also on a store written by MLflow 2
            answer = expected["resolve"][uri.replace("@latest", "/latest")]
        if "error" in answer:
            code = 2 if "Invalid Model Version stage" in answer["message"] else 1
            fails(result, code)
            continue
        if uri.startswith("runs:/") and model_of_run[uri.split("/")[1]]:
            # MLflow 3 downloads the run's logged model called 'model'
            path = store / expected["experiment"]["id"] / "models" / model_of_run[uri.split("/")[1]] / "artifacts"
        else:
            path = on_disk(store, answer.get("download_uri") or answer.get("underlying_uri"))
        assert ok(result) == f"{path}\n", uri
        assert (path / "MLmodel").is_file()


def test_resolve_json_and_paths(store3, model_files, tmp_path):
    view = ok_json("resolve", "models:/iris-classifier@champion", store=store3)
    assert view == {
        "uri": "models:/iris-classifier@champion", "name": "iris-classifier", "version": 2,
        "location": f"{OLD_ROOT}{EXP3}/models/{MODEL3_NOI}/artifacts",
        "path": str(store3 / EXP3 / "models" / MODEL3_NOI / "artifacts"),
        "model_id": MODEL3_NOI, "run_id": RUN3_NOI,
    }
    view = ok_json("resolve", f"models:/{MODEL3_BASE}", store=store3)
    assert view["path"] == str(store3 / EXP3 / "models" / MODEL3_BASE / "artifacts")
    assert view["model_id"] == MODEL3_BASE and view["run_id"] == RUN3_BASE and view["version"] is None
    view = ok_json("resolve", f"runs:/{RUN3_BASE}/model", store=store3)
    assert view["run_id"] == RUN3_BASE and view["model_id"] == MODEL3_BASE
    assert ok(run("resolve", model_files.as_uri(), store=store3)) == f"{model_files}\n"
    assert ok(run("resolve", str(model_files), store=store3)) == f"{model_files}\n"
    relative = os.path.relpath(model_files, tmp_path)
    assert ok(run("resolve", relative, store=store3, cwd=tmp_path)) == f"{model_files}\n"
    # a missing location is an error, never an empty success
    fails(run("resolve", str(tmp_path / "nowhere"), store=store3), 1, "nowhere")


def test_resolve_fast_path_matches_full_cli(store3, tmp_path):
    """``--traceback`` forces the Typer CLI; both paths must answer byte for byte the same."""
    store2 = copy_fixture_store("mlflow2-store", tmp_path / "two")
    cases = [
        ("resolve", "models:/iris-classifier@champion"),
        ("resolve", "models:/iris-classifier/Staging", "--json"),
        ("resolve", "--json", f"runs:/{RUN3_BASE}/model"),
        ("resolve", f"models:/{MODEL3_NOI}"),
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
    for args in [("resolve", "models:/iris-classifier/1"), ("resolve", "--json", f"runs:/{RUN2_NOI}/model")]:
        fast, full = run(*args, env=env), run("--traceback", *args, env=env)
        assert fast.returncode == 0 and (fast.stdout, fast.stderr) == (full.stdout, full.stderr)
    missing = store2.parent / "missing"
    fast, full = (run(*a, "resolve", "models:/m/1", store=missing) for a in [(), ("--traceback",)])
    assert fast.returncode == 4 and (fast.returncode, fast.stdout, fast.stderr) == (full.returncode, full.stdout, full.stderr)


# -------------------------------------------------------------------- stage

def test_stage_transitions(store3):
    versions = model_dir(store3, "iris-classifier")
    result = run("stage", "iris-classifier", "2", "staging", store=store3)
    assert ok(result) == "" and result.stderr == "version 2: Production -> Staging\n"
    assert meta(versions / "version-2" / "meta.yaml")["current_stage"] == "Staging"
    assert meta(versions / "version-1" / "meta.yaml")["current_stage"] == "Staging"
    assert ok_json("resolve", "models:/iris-classifier/Staging", store=store3)["version"] == 2  # highest in stage
    result = run("stage", "iris-classifier", "1", "PRODUCTION", "--archive-existing", store=store3)
    assert ok(result) == "" and result.stderr == "version 1: Staging -> Production\n"
    result = run("stage", "iris-classifier", "1", "Staging", "--archive-existing", store=store3)
    assert ok(result) == "" and result.stderr == "version 1: Production -> Staging (archived 2)\n"
    v1, v2 = meta(versions / "version-1" / "meta.yaml"), meta(versions / "version-2" / "meta.yaml")
    assert (v1["current_stage"], v2["current_stage"]) == ("Staging", "Archived")
    assert v1["last_updated_timestamp"] == v2["last_updated_timestamp"]
    assert meta(versions / "version-3" / "meta.yaml")["current_stage"] == "Deleted_Internal"
    ok(run("stage", "iris-classifier", "2", "none", store=store3))
    assert meta(versions / "version-2" / "meta.yaml")["current_stage"] == "None"


# ------------------------------------------------------------------- rename

def test_rename_carries_everything(fixture_store):
    kind, store = fixture_store
    old_dir = model_dir(store, "iris-classifier")
    before_tags = {p.relative_to(old_dir) : p.read_bytes() for p in old_dir.rglob("*") if p.is_file() and p.name != "meta.yaml"}
    result = run("rename", "iris-classifier", "iris v2", store=store)
    assert ok(result) == "" and result.stderr == "renamed iris-classifier to iris v2\n"
    assert not old_dir.exists()
    new_dir = model_dir(store, "iris v2")
    after_tags = {p.relative_to(new_dir): p.read_bytes() for p in new_dir.rglob("*") if p.is_file() and p.name != "meta.yaml"}
    assert after_tags == before_tags  # model tags, alias files, version tags, all carried over
    assert meta(new_dir / "meta.yaml")["name"] == "iris v2"
    assert meta(new_dir / "meta.yaml")["aliases"] == {"challenger": "1", "champion": "2"}
    for number in (1, 2, 3):
        assert meta(new_dir / f"version-{number}" / "meta.yaml")["name"] == "iris v2"
    assert meta(new_dir / "version-3" / "meta.yaml")["current_stage"] == "Deleted_Internal"
    assert [v["version"] for v in ok_json("versions", "iris v2", "--all", store=store)] == [3, 2, 1]
    assert ok_json("resolve", "models:/iris v2@champion", store=store)["version"] == 2
    fails(run("versions", "iris-classifier", store=store), 1, "'iris-classifier'")
    names = [m["name"] for m in ok_json("models", store=store)]
    assert names == ["iris v2", "iris.baseline model"]


# ------------------------------------------------------------------- delete

def test_delete_version_and_model(store3):
    result = run("delete", "iris-classifier", "--version", "2", "--yes", store=store3)
    assert ok(result) == "" and result.stderr == "deleted version 2 of iris-classifier; removed aliases champion\n"
    version = meta(model_dir(store3, "iris-classifier") / "version-2" / "meta.yaml")
    assert version["current_stage"] == "Deleted_Internal"
    assert not (model_dir(store3, "iris-classifier") / "aliases" / "champion").exists()
    assert (model_dir(store3, "iris-classifier") / "version-2" / "tags" / "metrics" / "r2").is_file()
    assert [v["version"] for v in ok_json("versions", "iris-classifier", store=store3)] == [1]
    assert [v["version"] for v in ok_json("versions", "iris-classifier", "--all", store=store3)] == [3, 2, 1]
    assert ok_json("alias", "list", "iris-classifier", store=store3) == {"challenger": 1}
    assert ok_json("resolve", "models:/iris-classifier/latest", store=store3)["version"] == 1
    fails(run("resolve", "models:/iris-classifier/2", store=store3), 1)
    fails(run("delete", "iris-classifier", "--version", "2", "--yes", store=store3), 1)
    result = run("delete", "iris-classifier", "--yes", store=store3)
    assert ok(result) == "" and result.stderr == "deleted model iris-classifier\n"
    assert not model_dir(store3, "iris-classifier").exists()
    assert [m["name"] for m in ok_json("models", store=store3)] == ["iris.baseline model"]
    # a new model with the old name starts again at version 1
    assert ok(run("register", f"runs:/{RUN3_BASE}/model", "--name", "iris-classifier", store=store3)) == "1\n"


# ------------------------------------------------------------------ history

def test_history(store3):
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
        assert {"time", "user", "host", "operation", "model", "target", "old", "new"} <= set(record)
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
    # a registry URI that is not local is skipped; the tracking URI is used
    env = {"MLFLOW_REGISTRY_URI": "sqlite:///mlflow.db", "MLFLOW_TRACKING_URI": s["tracking"].as_uri()}
    assert where(run("models", "--json", env=env, cwd=cwd)) == "tracking"
    # an http(s) tracking URI is a tracking server (tests/test_server.py): here, one that is not running
    result = run("models", "--json", env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
                                          "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}, cwd=cwd)
    assert result.returncode == 5 and "cannot reach the MLflow server at http://127.0.0.1:9" in result.stderr
    # relative --store is relative to the current directory
    assert where(run("models", "--json", store="mlruns", cwd=cwd)) == "cwd"


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
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(master)
        assert process.wait() == 0
        return b"".join(chunks).decode()

    assert "\x1b[" in on_tty({})  # the check can see escapes when there are some
    plain = on_tty({"NO_COLOR": "1"})
    assert "\x1b" not in plain and "champion" in plain


def test_version_option():
    result = run("--version")
    assert ok(result) == f"regctl {regctl.__version__}\n" and result.stderr == ""
