"""regctl writes, MLflow 2.22 reads.

MLflow 2 runs in its own interpreter: ``$REGCTL_MLFLOW2_PYTHON`` if set (``.ci/run``
builds one and sets it), else a virtual environment built once at
``<repo>/.venv-mlflow2`` (``mlflow==2.22.5``, scikit-learn and ``sqlalchemy<2.1``;
about a minute; git-ignored). The tests are skipped only if
that environment cannot be built. Everything MLflow 2 does happens in
:data:`MLFLOW2_SCRIPT`, run in that interpreter, which answers in JSON.

Two stores are checked:

* a 2.x store: MLflow 2 logs two runs (models as run artifacts), regctl does
  every registry write, MLflow 2 lists and loads what regctl wrote and then
  registers the next version itself;
* a copy of the MLflow 3 fixture store after regctl changed it: MLflow 2 still
  reads every name, version, stage, alias, tag and description.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import REPO, copy_fixture_store, regctl
from mlflow_oracle import (
    FEATURES,
    NAMES_MLFLOW2_ALLOWS,
    WRITTEN_DESCRIPTION,
    WRITTEN_MODEL,
    WRITTEN_MODEL_TAGS,
    WRITTEN_NEW_NAME,
    WRITTEN_OLD_NAME,
    WRITTEN_VERSION2_DESCRIPTION,
    exercise_every_command,
    fit,
    location_path,
    model_files,
    regctl_json,
    regctl_ok,
    rename_and_delete,
    user_tags,
    write_registry_with_regctl,
)

pytestmark = pytest.mark.interop

MLFLOW2_VERSION = "2.22.5"
VENV = REPO / ".venv-mlflow2"
X = WRITTEN_MODEL

# Runs in the MLflow 2 interpreter: ``python -c MLFLOW2_SCRIPT REQUEST_JSON``; prints one JSON object.
MLFLOW2_SCRIPT = r'''
import json, os, sys, tempfile, warnings
warnings.filterwarnings("ignore")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


request = json.loads(sys.argv[1])
out = {"mlflow_version": mlflow.__version__}


def use(root):
    uri = root if "://" in root else "file://" + root  # a store path, or a database URI (sqlite:///...)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def version_view(mv):
    return {
        "name": mv.name, "version": int(mv.version), "creation_timestamp": mv.creation_timestamp,
        "last_updated_timestamp": mv.last_updated_timestamp, "current_stage": mv.current_stage,
        "description": mv.description, "source": mv.source, "run_id": mv.run_id or None,
        "run_link": mv.run_link or None, "status": mv.status, "status_message": mv.status_message or None,
        "user_id": mv.user_id or None, "tags": dict(mv.tags), "aliases": sorted(mv.aliases),
    }


def error_of(call):
    try:
        call()
    except MlflowException as exc:
        return str(exc).splitlines()[0]
    return None


if request["action"] == "log":
    import numpy as np
    from sklearn.linear_model import LinearRegression

    use(request["root"])
    out["experiment_id"] = mlflow.set_experiment("interop").experiment_id
    X = np.array(request["features"])
    out["runs"] = []
    for spec in request["runs"]:
        y = X @ np.array(spec["coefficients"]) + (0.5 if spec["fit_intercept"] else 0.0)
        model = LinearRegression(fit_intercept=spec["fit_intercept"]).fit(X, y)
        with mlflow.start_run(run_name=spec["name"]) as run:
            mlflow.sklearn.log_model(model, artifact_path="model", pip_requirements=["scikit-learn"])
        out["runs"].append({"run_id": run.info.run_id, "predictions": model.predict(X).tolist()})

elif request["action"] == "names":
    client = use(request["root"])
    for name in request["names"]:
        client.create_registered_model(name)
        client.create_model_version(name, request["source"])
        client.set_registered_model_alias(name, "champion", "1")

elif request["action"] == "read":
    out["stores"] = []
    for spec in request["stores"]:
        client = use(spec["root"])
        got = {"registered_models": [rm.name for rm in client.search_registered_models()],
               "all_versions": sorted([mv.name, int(mv.version)] for mv in client.search_model_versions("")),
               "models": {}, "missing": {}, "download_uri": {}, "predictions": {}}
        for name in got["registered_models"]:
            rm = client.get_registered_model(name)
            versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda mv: -int(mv.version))
            got["models"][name] = {
                "creation_timestamp": rm.creation_timestamp,
                "last_updated_timestamp": rm.last_updated_timestamp,
                "description": rm.description,
                "tags": dict(rm.tags),
                "aliases": {a: int(v) for a, v in rm.aliases.items()},
                "by_alias": {a: int(client.get_model_version_by_alias(name, a).version) for a in rm.aliases},
                "latest_versions": {mv.current_stage: int(mv.version) for mv in rm.latest_versions},
                # get_model_version: a SQL store's search leaves the aliases out
                "versions": [version_view(client.get_model_version(name, mv.version)) for mv in versions],
            }
        for name, version in spec.get("missing_versions", []):
            got["missing"][f"{name}/{version}"] = error_of(lambda: client.get_model_version(name, str(version)))
        for name, alias in spec.get("missing_aliases", []):
            got["missing"][f"{name}@{alias}"] = error_of(lambda: client.get_model_version_by_alias(name, alias))
        for name in spec.get("missing_models", []):
            got["missing"][name] = error_of(lambda: client.get_registered_model(name))
        for name, alias in spec.get("download", []):
            version = client.get_model_version_by_alias(name, alias).version
            got["download_uri"][f"models:/{name}@{alias}"] = client.get_model_version_download_uri(name, version)
        for uri in spec.get("load", []):
            got["predictions"][uri] = mlflow.pyfunc.load_model(uri).predict(request["features"]).tolist()
        if spec.get("register"):
            source, name = spec["register"]
            got["registered_version"] = int(mlflow.register_model(source, name).version)
        if spec.get("copy"):  # register_model from a models:/ URI of a registered version
            source, name = spec["copy"]
            got["copied"] = version_view(mlflow.register_model(source, name))
        out["stores"].append(got)

print(json.dumps(out))
'''


def _build_venv() -> Path:
    """Create ``.venv-mlflow2`` once (under a lock); skip the tests if it cannot be built."""
    from filelock import FileLock

    python = VENV / "bin" / "python"
    marker = VENV / ".regctl-complete"
    lock = Path(tempfile.gettempdir()) / f"regctl-venv-mlflow2-{hashlib.sha256(str(VENV).encode()).hexdigest()[:16]}.lock"
    with FileLock(str(lock), timeout=1800):
        if marker.is_file() and python.exists():
            return python
        if VENV.exists():
            import shutil

            shutil.rmtree(VENV)
        steps = [
            [sys.executable, "-m", "venv", str(VENV)],
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             f"mlflow=={MLFLOW2_VERSION}", "scikit-learn", "sqlalchemy<2.1"],  # as .ci/run builds it
        ]
        for step in steps:
            try:
                done = subprocess.run(step, capture_output=True, text=True, timeout=1500)
            except (OSError, subprocess.TimeoutExpired) as exc:
                pytest.skip(f"cannot build the MLflow {MLFLOW2_VERSION} environment in {VENV}: {exc}")
            if done.returncode != 0:
                lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
                pytest.skip(f"cannot build the MLflow {MLFLOW2_VERSION} environment in {VENV} "
                            f"({' '.join(step[:3])} ... failed): {lines[-1]}")
        marker.write_text(f"mlflow=={MLFLOW2_VERSION}\n")
    return python


@pytest.fixture(scope="module")
def mlflow2_python() -> str:
    configured = os.environ.get("REGCTL_MLFLOW2_PYTHON")
    if not configured:
        return str(_build_venv())
    if not os.access(configured, os.X_OK):
        pytest.fail(f"REGCTL_MLFLOW2_PYTHON={configured} is not an executable Python")
    return configured


def run_mlflow2(python: str, request: dict, cwd: Path) -> dict:
    """Run :data:`MLFLOW2_SCRIPT` with ``request`` in the MLflow 2 interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "REGCTL_", "PYTHON"))}
    env["GIT_PYTHON_REFRESH"] = "quiet"
    done = subprocess.run([python, "-c", MLFLOW2_SCRIPT, json.dumps(dict(request, features=FEATURES))],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["mlflow_version"] == MLFLOW2_VERSION, f"{python} runs MLflow {answer['mlflow_version']}"
    return answer


@pytest.fixture(scope="module")
def stores(mlflow2_python, tmp_path_factory):
    """Both stores written by regctl and MLflow 2's reading of them (two MLflow 2 processes in all)."""
    work = tmp_path_factory.mktemp("mlflow2")

    # 1. A 2.x store: MLflow 2 logs the runs, regctl registers.
    root2 = work / "two" / "mlruns"
    logged = run_mlflow2(mlflow2_python, {"action": "log", "root": str(root2), "runs": [
        {"name": "first", "fit_intercept": True, "coefficients": [2.0, -1.0]},
        {"name": "second", "fit_intercept": False, "coefficients": [-1.0, 3.0]},
    ]}, work)
    r1, r2 = (run["run_id"] for run in logged["runs"])
    write_registry_with_regctl(root2, f"runs:/{r1}/model", f"runs:/{r2}/model", f"runs:/{r2}/model")
    views2 = {name: regctl_json(root2, "versions", name) for name in (X, WRITTEN_NEW_NAME)}
    models2 = regctl_json(root2, "models")

    # 2. The MLflow 3 fixture store, changed by regctl.
    root3 = copy_fixture_store("mlflow3-store", work / "three")
    regctl_ok(root3, "alias", "set", "iris-classifier", "champion", "1")
    regctl_ok(root3, "alias", "delete", "iris-classifier", "challenger")
    regctl_ok(root3, "tag", "iris-classifier", "reviewed=yes", "--version", "2")
    regctl_ok(root3, "tag", "iris-classifier", "--delete", "notes")
    regctl_ok(root3, "describe", "iris-classifier", "--version", "1", "--set", "Baseline.\nKept for comparison.")
    regctl_ok(root3, "stage", "iris-classifier", "2", "Archived")
    assert regctl_ok(root3, "register", "models:/iris-classifier/2", "--name", "iris-classifier") == "4\n"
    regctl_ok(root3, "rename", "iris.baseline model", "iris baseline copy")
    views3 = {name: regctl_json(root3, "versions", name) for name in ("iris-classifier", "iris baseline copy")}
    models3 = regctl_json(root3, "models")

    read = run_mlflow2(mlflow2_python, {"action": "read", "stores": [
        {"root": str(root2), "missing_versions": [[X, 3]], "missing_aliases": [[X, "doomed"]],
         "missing_models": [WRITTEN_OLD_NAME], "download": [[X, "champion"]],
         "load": [f"models:/{X}@champion", f"models:/{X}/Staging", f"models:/{WRITTEN_NEW_NAME}@prod",
                  f"models:/{X}/2/", f"models:/{X}@champion/"],
         "register": [f"runs:/{r1}/model", X]},
        {"root": str(root3), "missing_versions": [["iris-classifier", 3]],
         "missing_aliases": [["iris-classifier", "challenger"]], "missing_models": ["iris.baseline model"],
         "download": [["iris-classifier", "champion"]], "copy": ["models:/iris-classifier/2", "mlflow2-copy"]},
    ]}, work)
    return {
        "two": {"root": root2, "runs": logged["runs"], "experiment_id": logged["experiment_id"], "versions": views2, "models": models2,
                "mlflow": read["stores"][0]},
        "three": {"root": root3, "versions": views3, "models": models3, "mlflow": read["stores"][1]},
    }


def assert_same_registry(regctl_models: list, regctl_versions: dict, seen: dict) -> None:
    """MLflow 2's view of every model and version equals regctl's, field by field."""
    assert seen["registered_models"] == [m["name"] for m in regctl_models]
    for model in regctl_models:
        theirs = seen["models"][model["name"]]
        for field in ("creation_timestamp", "last_updated_timestamp", "description", "tags", "aliases"):
            assert theirs[field] == model[field], (model["name"], field)
        assert theirs["by_alias"] == model["aliases"]
        ours = regctl_versions[model["name"]]
        assert len(theirs["versions"]) == len(ours)
        for mine, mv in zip(ours, theirs["versions"]):
            assert {k: mine[k] for k in mv} == mv  # every field MLflow 2 has (2.x has no model_id)
        newest_by_stage = {}
        for view in ours:
            newest_by_stage.setdefault(view["current_stage"], view["version"])
        assert theirs["latest_versions"] == newest_by_stage


# ------------------------------------------------------------ a 2.x store

def test_mlflow2_reads_what_regctl_wrote(stores):
    store = stores["two"]
    seen = store["mlflow"]
    assert_same_registry(store["models"], store["versions"], seen)
    assert seen["registered_models"] == sorted([X, WRITTEN_NEW_NAME])
    model = seen["models"][X]
    assert model["description"] == WRITTEN_DESCRIPTION
    assert model["tags"] == WRITTEN_MODEL_TAGS
    assert model["aliases"] == {"champion": 1, "challenger": 2}
    assert model["latest_versions"] == {"Production": 1, "Staging": 2}
    v2, v1 = model["versions"]
    r1, r2 = (run["run_id"] for run in store["runs"])
    # What MLflow 2's own register_model stores for runs:/: the resolved artifact location.
    for view, run_id in ((v1, r1), (v2, r2)):
        assert view["source"] == f"{store['root'].as_uri()}/{store['experiment_id']}/{run_id}/artifacts/model"
        assert view["run_id"] == run_id
    assert (v1["current_stage"], v2["current_stage"]) == ("Production", "Staging")
    assert user_tags(v1["tags"]) == {"validation_status": "approved"}
    assert user_tags(v2["tags"]) == {"checks/data": "passed"}
    assert (v1["description"], v2["description"]) == (None, WRITTEN_VERSION2_DESCRIPTION)
    assert (v1["aliases"], v2["aliases"]) == (["champion"], ["challenger"])
    assert seen["all_versions"] == sorted([[WRITTEN_NEW_NAME, 1], [X, 1], [X, 2]])


def test_mlflow2_does_not_see_deleted_or_renamed(stores):
    missing = stores["two"]["mlflow"]["missing"]
    assert "not found" in missing[f"{X}/3"].lower()
    assert missing[f"{X}@doomed"] and "doomed" in missing[f"{X}@doomed"]
    assert "not found" in missing[WRITTEN_OLD_NAME].lower()
    renamed = stores["two"]["mlflow"]["models"][WRITTEN_NEW_NAME]
    assert renamed["aliases"] == {"prod": 1} and renamed["tags"] == {"origin": "regctl"}
    assert user_tags(renamed["versions"][0]["tags"]) == {"k": "v"}
    assert renamed["versions"][0]["name"] == WRITTEN_NEW_NAME


def test_mlflow2_resolves_and_loads_the_champion(stores):
    store = stores["two"]
    seen = store["mlflow"]
    first, second = store["runs"]
    uri = f"models:/{X}@champion"
    download = seen["download_uri"][uri]
    assert download.endswith(f"/{first['run_id']}/artifacts/model")
    resolved = regctl("resolve", uri, store=store["root"])
    assert resolved.returncode == 0, resolved.stderr
    assert resolved.stdout == f"{location_path(download)}\n"
    assert seen["predictions"][uri] == pytest.approx(first["predictions"])
    assert seen["predictions"][f"models:/{X}/Staging"] == pytest.approx(second["predictions"])
    assert seen["predictions"][f"models:/{WRITTEN_NEW_NAME}@prod"] == pytest.approx(first["predictions"])
    assert first["predictions"] != pytest.approx(second["predictions"])
    assert first["predictions"] == pytest.approx(fit(True, [2.0, -1.0])[1])


def test_mlflow2_registers_after_regctl(stores):
    store = stores["two"]
    views = regctl_json(store["root"], "versions", X, "--all")
    assert store["mlflow"]["registered_version"] == 4  # after v3, soft-deleted by regctl
    assert [v["version"] for v in views] == [4, 3, 2, 1]
    new = views[0]
    assert new["source"].endswith(f"/{store['runs'][0]['run_id']}/artifacts/model")
    assert new["current_stage"] == "None" and new["aliases"] == []
    assert regctl_ok(store["root"], "register", new["source"], "--name", X) == "5\n"


# --------------------------------------------- the MLflow 3 fixture store

def test_mlflow2_reads_regctl_changes_to_an_mlflow3_store(stores):
    store = stores["three"]
    seen = store["mlflow"]
    assert_same_registry(store["models"], store["versions"], seen)
    assert seen["registered_models"] == ["iris baseline copy", "iris-classifier"]
    model = seen["models"]["iris-classifier"]
    assert model["aliases"] == {"champion": 1}
    assert "notes" not in model["tags"] and model["tags"]["owner/team"] == "ml-platform"
    versions = {v["version"]: v for v in model["versions"]}
    assert sorted(versions) == [1, 2, 4]
    assert versions[1]["description"] == "Baseline.\nKept for comparison."
    assert versions[2]["current_stage"] == "Archived"
    assert versions[2]["tags"]["reviewed"] == "yes"
    assert versions[4]["source"] == "models:/iris-classifier/2"
    assert model["latest_versions"] == {"None": 4, "Archived": 2, "Staging": 1}
    missing = seen["missing"]
    assert "not found" in missing["iris-classifier/3"].lower()
    assert missing["iris-classifier@challenger"] and "not found" in missing["iris.baseline model"].lower()
    # MLflow 2 downloads from the stored location (the store was made in /srv/project);
    # regctl resolves the same location rebased onto the copy.
    download = seen["download_uri"]["models:/iris-classifier@champion"]
    assert download.startswith("file:///srv/project/mlruns/")
    resolved = regctl("resolve", "models:/iris-classifier@champion", store=store["root"])
    assert resolved.stdout == f"{store['root'] / download[len('file:///srv/project/mlruns/'):]}\n"
    copy = seen["models"]["iris baseline copy"]
    assert copy["versions"][0]["name"] == "iris baseline copy"
    assert copy["tags"] == {"origin": "copy of iris-classifier v1"}


def test_register_from_a_registered_version_copies_no_tags_as_mlflow2(stores):
    """Issue 7.3.1: MLflow 2.22's register_model("models:/X/2", ...) gives the new version no
    tags, although version 2 has some; regctl's registration from the same URI agrees."""
    store = stores["three"]
    theirs = store["mlflow"]["copied"]
    ours = next(v for v in store["versions"]["iris-classifier"] if v["version"] == 4)
    source = next(v for v in store["versions"]["iris-classifier"] if v["version"] == 2)
    assert source["tags"] and theirs["tags"] == {} == ours["tags"]
    for field in ("source", "current_stage", "description", "aliases"):
        assert ours[field] == theirs[field], field
    # MLflow 2 leaves run_id empty here; regctl keeps the source's, as MLflow 3 does
    assert theirs["run_id"] is None and ours["run_id"] == source["run_id"]


def test_a_trailing_slash_resolves_as_in_mlflow2(stores):
    """Issue 7.3.4: MLflow 2.22 loads models:/X/2/ and models:/X@champion/ (it drops the trailing
    slash); regctl resolves them to the same directories as without the slash."""
    store = stores["two"]
    seen = store["mlflow"]["predictions"]
    first, second = store["runs"]
    assert seen[f"models:/{X}/2/"] == pytest.approx(second["predictions"])
    assert seen[f"models:/{X}@champion/"] == pytest.approx(first["predictions"])
    for uri in (f"models:/{X}/2/", f"models:/{X}@champion/"):
        assert regctl_ok(store["root"], "resolve", uri) == regctl_ok(store["root"], "resolve", uri.rstrip("/"))


def test_every_command_works_on_names_mlflow2_created(mlflow2_python, tmp_path):
    """Issue 7.3.2: MLflow 2.22 also allows '..dots' and 'team:churn'. Every regctl command
    works on each name MLflow 2 created, and MLflow 2 reads back exactly what regctl wrote."""
    root = tmp_path / "mlruns"
    source = model_files(tmp_path / "model")
    run_mlflow2(mlflow2_python, {"action": "names", "root": str(root), "source": str(source),
                                 "names": NAMES_MLFLOW2_ALLOWS}, tmp_path)
    for name in NAMES_MLFLOW2_ALLOWS:
        exercise_every_command(root, name, source)
    models = regctl_json(root, "models")
    versions = {name: regctl_json(root, "versions", name) for name in NAMES_MLFLOW2_ALLOWS}
    seen = run_mlflow2(mlflow2_python, {"action": "read", "stores": [{"root": str(root)}]}, tmp_path)["stores"][0]
    assert sorted(seen["registered_models"]) == sorted(NAMES_MLFLOW2_ALLOWS)
    assert_same_registry(models, versions, seen)
    for index, name in enumerate(NAMES_MLFLOW2_ALLOWS):
        rename_and_delete(root, name, f"renamed-{index}")
    seen = run_mlflow2(mlflow2_python, {"action": "read", "stores": [{"root": str(root)}]}, tmp_path)["stores"][0]
    assert seen["registered_models"] == []
