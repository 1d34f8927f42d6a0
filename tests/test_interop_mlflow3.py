"""Interoperability with real MLflow 3, in both directions.

* MLflow writes, regctl reads: MLflow builds a registry (runs:/ and models:/m-
  registrations, tags with nested keys and multi-line values, descriptions,
  stages, aliases, a soft delete) and regctl's ``--json`` output must agree
  with ``MlflowClient`` field by field.
* regctl writes, MLflow reads: MLflow logs the models, the real regctl CLI does
  every registry write, and MLflow must see exactly that registry, load the
  champion model and keep registering versions after it.
"""

import json
import shutil
from pathlib import Path

import pytest
from conftest import regctl, snapshot
from mlflow_oracle import (
    FEATURES,
    NAMES_MLFLOW3_ALLOWS,
    WRITTEN_DESCRIPTION,
    WRITTEN_MODEL,
    WRITTEN_MODEL_TAGS,
    WRITTEN_NEW_NAME,
    WRITTEN_OLD_NAME,
    WRITTEN_VERSION2_DESCRIPTION,
    client_of,
    exercise_every_command,
    file_store_allowed,  # noqa: F401 (module fixture)
    import_mlflow,
    location_path,
    log_model_run,
    model_as_regctl,
    model_files,
    regctl_json,
    regctl_ok,
    rename_and_delete,
    user_tags,
    using_store,
    version_as_regctl,
    without,
    write_registry_with_regctl,
)

import_mlflow()  # skips this module where MLflow is not installed
from mlflow.exceptions import MlflowException  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("file_store_allowed")]

MODEL = "interop-model"
SECOND = "second.model x"  # a dot and a space
EMPTY = "no-versions"
MODEL_TAGS = {"task": "regression", "owner/team": "ml-platform", "notes": "line one\nline two"}
MODEL_DESCRIPTION = "# Interop model\n\nWritten by **MLflow**, read by regctl.\n"
VERSION2_DESCRIPTION = "Second fit.\nNo intercept."


def same_files(a: Path, b: Path) -> bool:
    """Two model directories hold the same ``MLmodel`` (it names the model id and run)."""
    return (a / "MLmodel").read_bytes() == (b / "MLmodel").read_bytes()


def assert_one_line_error(result):
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1, result.stderr


# ====================================================== MLflow writes, regctl reads

@pytest.fixture(scope="module")
def mlflow_made(tmp_path_factory, file_store_allowed):
    """A registry built entirely by MLflow 3."""
    root = tmp_path_factory.mktemp("mlflow-writes") / "mlruns"
    client = client_of(root)
    with using_store(root) as fluent:
        fluent.set_experiment("interop")
        runs = [log_model_run(fluent, True, [2.0, -1.0], "first"),
                log_model_run(fluent, False, [-1.0, 3.0], "second")]
        client.create_registered_model(MODEL, tags=MODEL_TAGS, description=MODEL_DESCRIPTION)
        # v1 from the run (MLflow 3 falls back to the run's logged model), v2 from models:/m-...
        versions = [
            fluent.register_model(f"runs:/{runs[0]['run_id']}/model", MODEL),
            fluent.register_model(runs[1]["model_uri"], MODEL),
            fluent.register_model(f"runs:/{runs[1]['run_id']}/model", MODEL),
        ]
        assert [int(v.version) for v in versions] == [1, 2, 3]
        fluent.register_model(f"runs:/{runs[0]['run_id']}/model", SECOND)
        client.set_model_version_tag(MODEL, "1", "checks/data", "passed")  # nested key a/b
        client.set_model_version_tag(MODEL, "2", "review", "looks good\nship it")  # multi-line value
        client.update_model_version(MODEL, "2", description=VERSION2_DESCRIPTION)
        client.transition_model_version_stage(MODEL, "1", "staging")  # lower case on purpose
        client.transition_model_version_stage(MODEL, "2", "Production")
        client.set_registered_model_alias(MODEL, "champion", "2")
        client.set_registered_model_alias(MODEL, "challenger", "1")
        client.set_registered_model_alias(MODEL, "doomed", "3")
        client.delete_model_version(MODEL, "3")  # soft delete; MLflow removes "doomed"
        client.set_registered_model_tag(SECOND, "origin", "second model")
        client.set_registered_model_alias(SECOND, "prod", "1")
        client.create_registered_model(EMPTY)
    return {"root": root, "client": client, "runs": runs}


@pytest.fixture
def made(mlflow_made):
    """The MLflow-made store, with MLflow's global URIs on it for the test's duration.

    MLflow's file registry looks logged models up through the *global* tracking
    URI (``MlflowClient()``), so explicit client URIs alone are not enough.
    """
    with using_store(mlflow_made["root"]):
        yield mlflow_made


def test_models_agree_with_search_registered_models(made):
    root, client = made["root"], made["client"]
    views = regctl_json(root, "models")
    registered = client.search_registered_models()
    assert [v["name"] for v in views] == [rm.name for rm in registered] == sorted([MODEL, SECOND, EMPTY])
    for view, rm in zip(views, registered):
        assert without(view, "latest_version") == model_as_regctl(client.get_registered_model(rm.name))
        visible = [int(mv.version) for mv in client.search_model_versions(f"name = '{rm.name}'")]
        assert view["latest_version"] == (max(visible) if visible else None)
    model = next(v for v in views if v["name"] == MODEL)
    assert model["tags"] == MODEL_TAGS and model["description"] == MODEL_DESCRIPTION
    assert model["aliases"] == {"challenger": 1, "champion": 2}


def test_versions_agree_with_search_model_versions(made):
    root, client = made["root"], made["client"]
    for name in (MODEL, SECOND, EMPTY):
        mlflow_versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda mv: -int(mv.version))
        views = regctl_json(root, "versions", name)
        assert [without(v, "storage_location") for v in views] == [version_as_regctl(mv) for mv in mlflow_versions]
        for view in views:
            assert view["storage_location"] == client.get_model_version_download_uri(name, str(view["version"]))
    views = {v["version"]: v for v in regctl_json(root, "versions", MODEL, "--all")}
    assert sorted(views) == [1, 2, 3]
    assert views[3]["current_stage"] == "Deleted_Internal" and views[3]["aliases"] == []
    with pytest.raises(MlflowException):
        client.get_model_version(MODEL, "3")


def test_version_details_agree(made):
    root, client, runs = made["root"], made["client"], made["runs"]
    expected = {
        1: {"current_stage": "Staging", "tags": {"checks/data": "passed"}, "aliases": ["challenger"],
            "source": f"models:/{runs[0]['model_id']}", "model_id": runs[0]["model_id"], "run_id": runs[0]["run_id"]},
        2: {"current_stage": "Production", "tags": {"review": "looks good\nship it"}, "aliases": ["champion"],
            "description": VERSION2_DESCRIPTION, "source": runs[1]["model_uri"], "model_id": runs[1]["model_id"],
            "run_id": runs[1]["run_id"]},
    }
    for number, want in expected.items():
        view = regctl_json(root, "describe", MODEL, "--version", number)
        mv = client.get_model_version(MODEL, str(number))
        assert without(view, "storage_location", "lineage") == version_as_regctl(mv)
        assert {k: view[k] for k in want} == want
        download = client.get_model_version_download_uri(MODEL, str(number))
        assert view["lineage"]["artifact_path"] == str(location_path(download))
        assert view["lineage"]["model_id"] == mv.model_id
        assert view["lineage"]["run_name"] == client.get_run(mv.run_id).info.run_name
    for alias in ("champion", "challenger"):
        view = regctl_json(root, "describe", MODEL, "--alias", alias)
        assert view["version"] == int(client.get_model_version_by_alias(MODEL, alias).version)
    assert_one_line_error(regctl("describe", MODEL, "--version", "3", "--json", store=root))


def test_describe_model_agrees_with_latest_versions(made):
    root, client = made["root"], made["client"]
    for name in (MODEL, SECOND, EMPTY):
        view = regctl_json(root, "describe", name)
        rm = client.get_registered_model(name)
        assert without(view, "latest_version", "latest_versions", "version_count") == model_as_regctl(rm)
        latest = sorted(rm.latest_versions, key=lambda mv: mv.current_stage)
        assert sorted(view["latest_versions"], key=lambda v: v["current_stage"]) == [
            dict(version_as_regctl(mv), storage_location=client.get_model_version_download_uri(name, mv.version))
            for mv in latest
        ]
        assert view["version_count"] == len(client.search_model_versions(f"name = '{name}'"))


def test_alias_list_agrees_with_get_model_version_by_alias(made):
    root, client = made["root"], made["client"]
    for name in (MODEL, SECOND, EMPTY):
        aliases = regctl_json(root, "alias", "list", name)
        assert aliases == {a: int(v) for a, v in client.get_registered_model(name).aliases.items()}
        for alias, number in aliases.items():
            assert int(client.get_model_version_by_alias(name, alias).version) == number
    assert "doomed" not in regctl_json(root, "alias", "list", MODEL)
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(MODEL, "doomed")


def test_resolve_agrees_with_mlflow_download(made, tmp_path):
    """regctl's path holds what MLflow downloads for the same URI (MLmodel names the model id)."""
    root, client, runs = made["root"], made["client"], made["runs"]
    by_version = {n: location_path(client.get_model_version_download_uri(MODEL, str(n))) for n in (1, 2)}
    cases = {
        f"models:/{MODEL}/1": by_version[1],
        f"models:/{MODEL}/2": by_version[2],
        f"models:/{MODEL}@champion": by_version[2],
        f"models:/{MODEL}@challenger": by_version[1],
        f"models:/{MODEL}@latest": by_version[2],
        f"models:/{MODEL}/latest": by_version[2],
        f"models:/{MODEL}/Staging": by_version[1],
        f"models:/{MODEL}/production": by_version[2],
        f"models:/{SECOND}@prod": location_path(client.get_model_version_download_uri(SECOND, "1")),
        f"models:/{runs[0]['model_id']}": location_path(client.get_logged_model(runs[0]["model_id"]).artifact_location),
        f"runs:/{runs[1]['run_id']}/model": location_path(client.get_logged_model(runs[1]["model_id"]).artifact_location),
    }
    with using_store(root) as fluent:
        for index, (uri, where) in enumerate(cases.items()):
            result = regctl("resolve", uri, store=root)
            assert result.returncode == 0, (uri, result.stderr)
            path = Path(result.stdout.rstrip("\n"))
            assert path == where, uri
            downloaded = Path(fluent.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / str(index))))
            assert same_files(path, downloaded), uri
        for uri in (f"models:/{MODEL}/3", f"models:/{MODEL}/4", f"models:/{MODEL}@doomed",
                    f"models:/{MODEL}/Archived", f"models:/{EMPTY}/latest", "models:/no-such-model/1"):
            with pytest.raises(MlflowException):
                fluent.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / "error"))
            before = snapshot(root)
            assert_one_line_error(regctl("resolve", uri, store=root))
            assert snapshot(root) == before


# ====================================================== regctl writes, MLflow reads

X = WRITTEN_MODEL
OLD_NAME = WRITTEN_OLD_NAME
NEW_NAME = WRITTEN_NEW_NAME


@pytest.fixture(scope="module")
def regctl_made(tmp_path_factory, file_store_allowed):
    """MLflow 3 logs two runs with a model each; every registry write is done by the regctl CLI."""
    root = tmp_path_factory.mktemp("regctl-writes") / "mlruns"
    with using_store(root) as fluent:
        fluent.set_experiment("interop")
        runs = [log_model_run(fluent, True, [2.0, -1.0], "first"),
                log_model_run(fluent, False, [-1.0, 3.0], "second")]
    r1, r2 = runs
    # v1 from runs:/ (no run artifact: regctl falls back to the logged model as MLflow 3 does),
    # v2 from models:/m-..., v3 from runs:/ again.
    write_registry_with_regctl(root, f"runs:/{r1['run_id']}/model", f"models:/{r2['model_id']}",
                               f"runs:/{r2['run_id']}/model")
    return {"root": root, "client": client_of(root), "runs": runs}


@pytest.fixture
def written(regctl_made):
    """The regctl-written store, with MLflow's global URIs on it for the test's duration."""
    with using_store(regctl_made["root"]):
        yield regctl_made


def test_mlflow_reads_regctl_registered_model(written):
    root, client = written["root"], written["client"]
    rm = client.get_registered_model(X)
    assert rm.description == WRITTEN_DESCRIPTION
    assert dict(rm.tags) == WRITTEN_MODEL_TAGS
    assert {a: int(v) for a, v in rm.aliases.items()} == {"champion": 1, "challenger": 2}
    assert {mv.current_stage: int(mv.version) for mv in rm.latest_versions} == {"Production": 1, "Staging": 2}
    view = regctl_json(root, "describe", X)
    assert without(view, "latest_version", "latest_versions", "version_count") == model_as_regctl(rm)


def test_mlflow_reads_regctl_versions(written):
    root, client, (r1, r2) = written["root"], written["client"], written["runs"]
    mlflow_versions = sorted(client.search_model_versions(f"name = '{X}'"), key=lambda mv: -int(mv.version))
    views = regctl_json(root, "versions", X)
    assert [without(v, "storage_location") for v in views] == [version_as_regctl(mv) for mv in mlflow_versions]
    v2, v1 = (version_as_regctl(mv) for mv in mlflow_versions)
    # What MLflow's own register_model would have stored for the same sources.
    assert (v1["source"], v1["model_id"], v1["run_id"]) == (f"models:/{r1['model_id']}", r1["model_id"], r1["run_id"])
    assert (v2["source"], v2["model_id"], v2["run_id"]) == (f"models:/{r2['model_id']}", r2["model_id"], r2["run_id"])
    assert (v1["current_stage"], v2["current_stage"]) == ("Production", "Staging")
    assert user_tags(v1["tags"]) == {"validation_status": "approved"}
    assert user_tags(v2["tags"]) == {"checks/data": "passed"}
    assert v1["description"] is None and v2["description"] == WRITTEN_VERSION2_DESCRIPTION
    assert (v1["aliases"], v2["aliases"]) == (["champion"], ["challenger"])
    assert v1["status"] == v2["status"] == "READY"
    for view in views:
        download = client.get_model_version_download_uri(X, str(view["version"]))
        assert download == view["storage_location"]
        assert download == client.get_logged_model(view["model_id"]).artifact_location
    # The soft-deleted version (and its alias) are gone for MLflow too.
    with pytest.raises(MlflowException):
        client.get_model_version(X, "3")
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(X, "doomed")
    assert int(client.get_model_version_by_alias(X, "champion").version) == 1


def test_mlflow_reads_logged_model_version_tag(written):
    """regctl records registrations on the logged model like MLflow's register_model does."""
    client, (r1, r2) = written["client"], written["runs"]
    tag = json.loads(client.get_logged_model(r2["model_id"]).tags["mlflow.modelVersions"])
    assert tag == [{"name": X, "version": 2}, {"name": X, "version": 3}]
    tag = json.loads(client.get_logged_model(r1["model_id"]).tags["mlflow.modelVersions"])
    assert {"name": X, "version": 1} in tag


def test_mlflow_loads_the_champion(written):
    root, (r1, r2) = written["root"], written["runs"]
    with using_store(root) as fluent:
        champion = fluent.pyfunc.load_model(f"models:/{X}@champion").predict(FEATURES).tolist()
        staging = fluent.pyfunc.load_model(f"models:/{X}/Staging").predict(FEATURES).tolist()
    assert champion == pytest.approx(r1["predictions"])
    assert staging == pytest.approx(r2["predictions"])
    assert champion != pytest.approx(staging)
    resolved = Path(regctl_ok(root, "resolve", f"models:/{X}@champion").rstrip("\n"))
    assert resolved == location_path(written["client"].get_model_version_download_uri(X, "1"))
    # loading wrote MLflow's registered_model_meta into the stored files: not a change of the model
    assert (resolved / "registered_model_meta").is_file()
    regctl_ok(root, "verify", f"models:/{X}@champion")
    regctl_ok(root, "resolve", "--verify", f"models:/{X}@champion")


def test_mlflow_searches_whole_store_with_regctl_files_present(written):
    root, client = written["root"], written["client"]
    models_dir = root / "models"
    own_files = sorted(p.name for p in models_dir.iterdir() if p.is_file())
    assert ".regctl%journal.jsonl" in own_files
    assert not any(name.startswith(".regctl%lock%") for name in own_files)  # held only while writing
    assert not [p for p in root.rglob(".regctl-tmp-*")], "temporary files left behind"

    assert [rm.name for rm in client.search_registered_models()] == sorted([X, NEW_NAME])
    assert sorted((mv.name, int(mv.version)) for mv in client.search_model_versions()) == sorted([
        (NEW_NAME, 1), (X, 1), (X, 2)])
    assert [rm.name for rm in client.search_registered_models(filter_string="name LIKE 'renamed%'")] == [NEW_NAME]
    assert {e.name for e in client.search_experiments()} == {"Default", "interop"}
    experiment = client.get_experiment_by_name("interop")
    assert len(client.search_runs([experiment.experiment_id])) == 2
    assert [v["name"] for v in regctl_json(root, "models")] == sorted([X, NEW_NAME])


def test_mlflow_reads_regctl_deletes_archiving_and_guarded_moves(written, tmp_path):
    """The remaining writes: tag --delete, alias delete, --expect, stage --archive-existing,
    describe --set-file, delete of a whole model."""
    root = tmp_path / "mlruns"
    shutil.copytree(written["root"], root)
    regctl_ok(root, "tag", X, "--delete", "notes")
    regctl_ok(root, "alias", "delete", X, "challenger")
    regctl_ok(root, "alias", "set", X, "champion", "2", "--expect", "1")
    assert regctl("alias", "set", X, "champion", "1", "--expect", "1", store=root).returncode == 3
    regctl_ok(root, "stage", X, "2", "production", "--archive-existing")
    description = tmp_path / "description.md"
    description.write_text("# Version 1\n\nSuperseded.\n")
    regctl_ok(root, "describe", X, "--version", "1", "--set-file", str(description))
    regctl_ok(root, "delete", NEW_NAME, "--yes")
    with using_store(root) as fluent:
        client = fluent.MlflowClient()
        model = client.get_registered_model(X)
        assert "notes" not in model.tags and model.tags["owner/team"] == "ml-platform"
        assert {a: int(v) for a, v in model.aliases.items()} == {"champion": 2}
        with pytest.raises(MlflowException):
            client.get_model_version_by_alias(X, "challenger")
        stages = {int(v.version): v.current_stage for v in client.search_model_versions(f"name='{X}'")}
        assert stages == {1: "Archived", 2: "Production"}
        assert client.get_model_version(X, "1").description == "# Version 1\n\nSuperseded.\n"
        assert [rm.name for rm in client.search_registered_models()] == [X]
        with pytest.raises(MlflowException):
            client.get_registered_model(NEW_NAME)


def test_a_leftover_new_model_staging_directory_leaves_mlflow_searches_working(written, tmp_path):
    """What a ``register`` killed while creating a model can leave at the store root."""
    root = tmp_path / "mlruns"
    shutil.copytree(written["root"], root)
    staging = root / "regctltmp-0123456789abcdef0123456789abcdef-00112233" / "model"
    staging.mkdir(parents=True)
    (staging / "meta.yaml").write_text("name: half\n")
    with using_store(root) as fluent:
        client = fluent.MlflowClient()
        assert [rm.name for rm in client.search_registered_models()] == sorted([X, NEW_NAME])
        assert {e.name for e in client.search_experiments()} == {"Default", "interop"}
    assert "staging directory" in regctl("doctor", store=root).stdout
    assert regctl("doctor", "--fix", store=root).returncode == 0 and not staging.parent.exists()


def test_mlflow_reads_renamed_model(written):
    client = written["client"]
    with pytest.raises(MlflowException):
        client.get_registered_model(OLD_NAME)
    rm = client.get_registered_model(NEW_NAME)
    assert dict(rm.tags) == {"origin": "regctl"}
    assert {a: int(v) for a, v in rm.aliases.items()} == {"prod": 1}
    mv = client.get_model_version(NEW_NAME, "1")
    assert mv.name == NEW_NAME and user_tags(dict(mv.tags)) == {"k": "v"} and mv.aliases == ["prod"]
    assert int(client.get_model_version_by_alias(NEW_NAME, "prod").version) == 1


def test_mlflow_registers_after_regctl(written, tmp_path):
    """MLflow's own next registration continues regctl's numbering (deleted v3 included)."""
    root = tmp_path / "mlruns"
    shutil.copytree(written["root"], root)
    r1 = written["runs"][0]
    with using_store(root) as fluent:
        mv = fluent.register_model(f"runs:/{r1['run_id']}/model", X)
    highest = max(v["version"] for v in regctl_json(root, "versions", X, "--all") if v["version"] != int(mv.version))
    assert int(mv.version) == highest + 1 == 4
    views = regctl_json(root, "versions", X)
    assert [v["version"] for v in views] == [4, 2, 1]
    assert without(views[0], "storage_location") == version_as_regctl(client_of(root).get_model_version(X, "4"))
    assert regctl_ok(root, "register", f"runs:/{r1['run_id']}/model", "--name", X) == "5\n"


# ====================================================== disagreements with MLflow (issue 7.3)

def test_register_from_a_registered_version_copies_no_tags_as_mlflow(made, tmp_path):
    """MLflow's register_model("models:/X/1", "Y") gives the new version no tags, and keeps the
    source's run_id and model_id; regctl registers the same thing."""
    ours, theirs = tmp_path / "regctl" / "mlruns", tmp_path / "mlflow" / "mlruns"
    shutil.copytree(made["root"], ours)
    shutil.copytree(made["root"], theirs)
    source = f"models:/{MODEL}/1"
    assert made["client"].get_model_version(MODEL, "1").tags == {"checks/data": "passed"}
    with using_store(theirs) as fluent:
        mv = fluent.register_model(source, "copy")
    assert regctl_ok(ours, "register", source, "--name", "copy") == "1\n"
    view = regctl_json(ours, "describe", "copy", "--version", "1")
    expected = version_as_regctl(mv)
    assert expected["tags"] == {} and expected["run_id"] and expected["model_id"]
    for field in ("tags", "source", "run_id", "model_id", "aliases", "current_stage", "description"):
        assert view[field] == expected[field], field
    assert view["storage_location"] == client_of(theirs).get_model_version_download_uri("copy", "1")
    # and, as MLflow 3's file store, the new version is listed on the logged model
    listed = [json.loads(client_of(root).get_logged_model(expected["model_id"]).tags["mlflow.modelVersions"])
              for root in (ours, theirs)]
    assert listed[0] == listed[1] and {"name": "copy", "version": 1} in listed[0]

    # a source version with a run but no logged model: MLflow passes no run, and its file store has none
    # to take from a logged model, so the copy has no run
    run_id = made["client"].get_model_version(MODEL, "1").run_id
    files = str(location_path(made["client"].get_model_version_download_uri(MODEL, "1")))
    for root in (ours, theirs):
        client = client_of(root)
        client.create_registered_model("plain")
        client.create_model_version("plain", files, run_id=run_id)
    with using_store(theirs) as fluent:
        plain = version_as_regctl(fluent.register_model("models:/plain/1", "plain copy"))
    assert regctl_ok(ours, "register", "models:/plain/1", "--name", "plain copy") == "1\n"
    mine = regctl_json(ours, "describe", "plain copy", "--version", "1")
    assert plain["run_id"] is None and (mine["run_id"], mine["model_id"]) == (plain["run_id"], plain["model_id"])


def test_doctor_finds_no_problem_in_what_only_mlflow_wrote(tmp_path, file_store_allowed):
    """Issue 7.3.6: MLflow's own rename leaves a stale aliases mapping in meta.yaml (MLflow reads
    the alias files), and deleting an experiment moves the artifacts of versions registered
    from it to .trash. Neither is damage: doctor exits 0 and reports them as warnings."""
    root = tmp_path / "mlruns"
    client = client_of(root)
    with using_store(root) as fluent:
        doomed = fluent.set_experiment("doomed").experiment_id
        run = log_model_run(fluent, True, [2.0, -1.0], "doomed run")
        fluent.set_experiment("kept")
        kept = log_model_run(fluent, False, [-1.0, 3.0], "kept run")
        fluent.register_model(run["model_uri"], "from-doomed")
        fluent.register_model(kept["model_uri"], "before-rename")
        client.set_registered_model_alias("before-rename", "champion", "1")
        client.rename_registered_model("before-rename", "after-rename")
        client.delete_experiment(doomed)
        # MLflow reads the alias files, not the mapping its rename copied into meta.yaml
        assert client.get_registered_model("after-rename").aliases == {}
        assert "champion" in (root / "models/after-rename/meta.yaml").read_text()
        assert (root / ".trash" / doomed).is_dir() and not (root / doomed).exists()
        assert client.get_model_version("from-doomed", "1").version == 1
    before = snapshot(root)
    result = regctl("doctor", "--json", store=root)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["problems"] == []
    warnings = {w["kind"]: w for w in report["warnings"]}
    assert sorted(warnings) == ["stale-alias-snapshot", "trashed-artifacts"]
    assert warnings["stale-alias-snapshot"]["path"] == "models/after-rename/meta.yaml"
    trashed = warnings["trashed-artifacts"]
    assert trashed["path"] == "models/from-doomed/version-1/meta.yaml" and not trashed["fixable"]
    assert f".trash/{doomed}/" in trashed["message"] and f"experiment {doomed} was deleted" in trashed["message"]
    assert "missing" not in trashed["message"] and "no longer exist" not in trashed["message"]
    text = regctl("doctor", store=root)
    assert text.returncode == 0 and text.stdout.endswith("no problems found, 2 warning(s)\n")
    assert "warning: trashed-artifacts: models/from-doomed/version-1/meta.yaml" in text.stdout
    assert snapshot(root) == before
    assert regctl_json(root, "alias", "list", "after-rename") == {}  # what MLflow says
    # --fix refreshes the mapping (MLflow still reads the same) and leaves the trash alone
    fixed = regctl("doctor", "--fix", "--json", store=root)
    assert fixed.returncode == 0
    assert [w["kind"] for w in json.loads(fixed.stdout)["warnings"]] == ["trashed-artifacts"]
    assert "champion" not in (root / "models/after-rename/meta.yaml").read_text()
    assert client.get_registered_model("after-rename").aliases == {}


def test_mlflow_can_rename_a_model_regctl_registered(written, tmp_path):
    """Issue 7.3.7: MLflow's file-store rename crashes on a model whose versions carry any tag,
    so regctl adds none of its own: MLflow renames what regctl registered, while regctl's
    verify works on it before, and after regctl's own rename."""
    root = tmp_path / "mlruns"
    shutil.copytree(written["root"], root)
    r1, r2 = written["runs"]
    for name in ("fresh", "kept"):
        regctl_ok(root, "register", f"runs:/{r1['run_id']}/model", "--name", name, "--alias", "champion")
        regctl_ok(root, "register", f"models:/{r2['model_id']}", "--name", name)
        regctl_ok(root, "verify", f"models:/{name}/1")
    with using_store(root) as fluent:
        client = fluent.MlflowClient()
        assert all(mv.tags == {} for mv in client.search_model_versions("name = 'fresh'"))
        client.rename_registered_model("fresh", "renamed by mlflow")
        renamed = sorted(client.search_model_versions("name = 'renamed by mlflow'"), key=lambda mv: -int(mv.version))
        assert [int(mv.version) for mv in renamed] == [2, 1]
        with pytest.raises(MlflowException):
            client.get_registered_model("fresh")
    views = regctl_json(root, "versions", "renamed by mlflow")
    assert [without(v, "storage_location") for v in views] == [version_as_regctl(mv) for mv in renamed]
    # MLflow's rename copies only the meta files: the manifest stays behind, and the journal's
    # version.create record (found by number, source and creation time) still gives the digest
    for number in (1, 2):
        regctl_ok(root, "verify", f"models:/renamed by mlflow/{number}")
    # regctl's rename keeps everything, the manifest included
    regctl_ok(root, "rename", "kept", "renamed by regctl")
    for number in (1, 2):
        regctl_ok(root, "verify", f"models:/renamed by regctl/{number}")
    regctl_ok(root, "verify", "models:/renamed by regctl@champion")


def test_rename_sets_every_versions_last_update_as_mlflow(tmp_path, file_store_allowed):
    """Issue 7.3.3: MLflow's rename sets every version's last_updated_timestamp, soft-deleted
    ones included, to the model's new one (the rename time); regctl's rename does the same.
    Keeping the aliases and tags, which MLflow's rename drops, is regctl's documented extra."""
    import time

    import yaml

    artifacts = tmp_path / "model"
    artifacts.mkdir()
    (artifacts / "MLmodel").write_text("flavors: {}\n")
    base = tmp_path / "base" / "mlruns"
    client = client_of(base)
    client.create_registered_model("m", tags={"team": "ml"})
    for _ in range(3):
        client.create_model_version("m", str(artifacts))
    client.set_registered_model_alias("m", "champion", "2")
    client.delete_model_version("m", "3")
    time.sleep(0.01)
    stamps = {}
    for tool in ("mlflow", "regctl"):
        root = tmp_path / tool / "mlruns"
        shutil.copytree(base, root)
        started = int(time.time() * 1000)
        if tool == "mlflow":
            client_of(root).rename_registered_model("m", "renamed")
        else:
            regctl_ok(root, "rename", "m", "renamed")
        finished = int(time.time() * 1000)
        model = yaml.safe_load((root / "models/renamed/meta.yaml").read_text())
        versions = {n: yaml.safe_load((root / f"models/renamed/version-{n}/meta.yaml").read_text()) for n in (1, 2, 3)}
        assert started <= model["last_updated_timestamp"] <= finished, tool
        stamps[tool] = {n: v["last_updated_timestamp"] - model["last_updated_timestamp"] for n, v in versions.items()}
        assert versions[3]["current_stage"] == "Deleted_Internal"
        live = client_of(root).search_model_versions("name = 'renamed'")
        assert {int(mv.version): mv.last_updated_timestamp for mv in live} == {
            n: model["last_updated_timestamp"] for n in (1, 2)}, tool
    assert stamps["regctl"] == stamps["mlflow"] == {1: 0, 2: 0, 3: 0}
    renamed = client_of(tmp_path / "regctl" / "mlruns").get_registered_model("renamed")
    assert renamed.tags == {"team": "ml"} and renamed.aliases == {"champion": "2"}


def test_a_trailing_slash_resolves_as_in_mlflow(made, tmp_path):
    """Issue 7.3.4: MLflow drops trailing slashes of a models:/ URI before resolving it."""
    root, runs = made["root"], made["runs"]
    uris = [f"models:/{MODEL}/1/", f"models:/{MODEL}/2//", f"models:/{MODEL}@champion/", f"models:/{MODEL}/latest/",
            f"models:/{MODEL}/Staging/", f"models:/{runs[0]['model_id']}/"]
    with using_store(root) as fluent:
        for index, uri in enumerate(uris):
            downloaded = Path(fluent.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / str(index))))
            plain = regctl_ok(root, "resolve", uri.rstrip("/"))
            assert regctl_ok(root, "resolve", uri) == plain, uri  # the fast path
            assert regctl_json(root, "resolve", uri)["path"] == plain.strip()
            assert same_files(Path(plain.strip()), downloaded), uri
    copy = tmp_path / "copy" / "mlruns"
    shutil.copytree(root, copy)
    assert regctl_ok(copy, "register", f"models:/{MODEL}/2/", "--name", "from-trailing-slash") == "1\n"


def test_every_command_works_on_names_mlflow_created(tmp_path, file_store_allowed):
    """Issue 7.3.2: the strict name rules are for creating a model only; a model MLflow 3
    created ('what?', leading or trailing spaces, a tab) is addressed by its name as it is,
    by every command, and MLflow reads what regctl changed."""
    root = tmp_path / "mlruns"
    source = model_files(tmp_path / "model")
    client = client_of(root)
    for name in NAMES_MLFLOW3_ALLOWS:
        client.create_registered_model(name)
        client.create_model_version(name, str(source))
        client.set_registered_model_alias(name, "champion", "1")
    for name in NAMES_MLFLOW3_ALLOWS:
        exercise_every_command(root, name, source)
        rm = client.get_registered_model(name)
        assert rm.description == "A model MLflow named." and rm.tags == {"team": "ml"}
        assert {a: int(v) for a, v in rm.aliases.items()} == {"champion": 1}
        mlflow_versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda mv: -int(mv.version))
        views = regctl_json(root, "versions", name)
        assert [without(v, "storage_location") for v in views] == [version_as_regctl(mv) for mv in mlflow_versions]
        assert views[0]["tags"] == {"origin": "regctl", "reviewed": "yes"} and views[0]["current_stage"] == "Staging"
        assert views[1]["description"] == "First version."
    for index, name in enumerate(NAMES_MLFLOW3_ALLOWS):
        rename_and_delete(root, name, f"renamed-{index}")
        with pytest.raises(MlflowException):
            client.get_registered_model(name)
    assert client.search_registered_models() == []


def test_prompts_are_not_models_for_any_command_as_in_mlflow(tmp_path, file_store_allowed):
    """Issue 7.3.5: an MLflow 3 prompt is stored like a registered model (tagged
    mlflow.prompt.is_prompt). MlflowClient hides it from searches and answers "not found" to
    every model read and write on it; so does regctl, and it registers no version into one."""
    root = tmp_path / "mlruns"
    source = model_files(tmp_path / "model")
    client = client_of(root)
    client.create_registered_model("model")
    client.create_model_version("model", str(source))
    with using_store(root) as fluent:
        fluent.genai.register_prompt(name="greeting", template="Hello {{name}}")
        fluent.genai.set_prompt_alias("greeting", "prod", 1)
        assert fluent.genai.load_prompt("prompts:/greeting/1").template == "Hello {{name}}"
        # what MLflow answers for each read
        assert [rm.name for rm in client.search_registered_models()] == ["model"]
        assert client.search_model_versions("name = 'greeting'") == []
        assert [mv.name for mv in client.search_model_versions()] == ["model"]
        for read in (lambda: client.get_registered_model("greeting"),
                     lambda: client.get_model_version("greeting", "1"),
                     lambda: client.get_model_version_by_alias("greeting", "prod"),
                     lambda: client.get_model_version_download_uri("greeting", "1"),
                     lambda: client.set_registered_model_alias("greeting", "x", "1"),
                     lambda: client.set_registered_model_tag("greeting", "k", "v"),
                     lambda: client.rename_registered_model("greeting", "other"),
                     lambda: client.delete_registered_model("greeting"),
                     *[(lambda uri=uri: fluent.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "dl")))
                       for uri in ("models:/greeting/1", "models:/greeting@prod", "models:/greeting/latest")]):
            with pytest.raises(MlflowException, match="not found"):
                read()
    assert [m["name"] for m in regctl_json(root, "models")] == ["model"]
    before = snapshot(root)
    for args in [("versions", "greeting"), ("describe", "greeting"), ("describe", "greeting", "--version", "1"),
                 ("describe", "greeting", "--alias", "prod"), ("alias", "list", "greeting"),
                 ("resolve", "models:/greeting/1"), ("resolve", "models:/greeting@prod"),
                 ("resolve", "models:/greeting/latest", "--json"), ("verify", "models:/greeting/1"),
                 ("alias", "set", "greeting", "x", "1"), ("alias", "delete", "greeting", "prod"),
                 ("tag", "greeting", "k=v"), ("tag", "greeting", "k=v", "--version", "1"),
                 ("describe", "greeting", "--set", "x"), ("describe", "greeting", "--version", "1", "--set", "x"),
                 ("stage", "greeting", "1", "Staging"), ("rename", "greeting", "other"),
                 ("delete", "greeting", "--yes"), ("delete", "greeting", "--version", "1", "--yes"),
                 ("register", "models:/greeting/1", "--name", "copy")]:
        result = regctl(*args, store=root)
        assert_one_line_error(result)
        assert result.returncode == 1 and "not found" in result.stderr and "prompt" in result.stderr, args
    result = regctl("register", source, "--name", "greeting", store=root)
    assert_one_line_error(result)
    assert result.returncode == 3 and "prompt" in result.stderr
    # unchanged, but for the lock files of refused writes (the documented limit, see README)
    assert {k: v for k, v in snapshot(root).items() if "%lock%" not in k} == before
    assert regctl_json(root, "doctor")["problems"] == []  # a prompt's versions have no artifacts, and need none
    with using_store(root) as fluent:
        assert fluent.genai.load_prompt("prompts:/greeting@prod").template == "Hello {{name}}"


def test_a_stage_in_odd_case_is_in_no_latest_versions_as_in_mlflow(tmp_path):
    """A hand-edited ``current_stage: staging``: MLflow's file store lists only the four stages as it
    spells them among a model's latest versions; so does regctl's describe."""
    from conftest import copy_fixture_store

    root = copy_fixture_store("mlflow3-store", tmp_path)
    meta = root / "models" / "iris-classifier" / "version-1" / "meta.yaml"
    meta.write_text(meta.read_text().replace("current_stage: Staging", "current_stage: staging"))
    theirs = sorted((int(v.version), v.current_stage)
                    for v in client_of(root).get_registered_model("iris-classifier").latest_versions)
    mine = sorted((v["version"], v["current_stage"])
                  for v in regctl_json(root, "describe", "iris-classifier")["latest_versions"])
    assert mine == theirs and (1, "staging") not in mine
