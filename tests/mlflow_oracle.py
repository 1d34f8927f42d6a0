"""Real MLflow as the oracle: shared helpers for the interoperability tests.

MLflow is imported lazily (``pytest.importorskip``) so that test modules that
use these helpers are skipped, not broken, where MLflow is not installed.
"""

import contextlib
import json
import os
import warnings
from pathlib import Path

import pytest
from conftest import regctl

# A tiny regression problem: a few rows, two features.
FEATURES = [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 5.0], [4.0, 2.0]]


def import_mlflow():
    """The installed MLflow (3.x expected), or skip the calling module."""
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    warnings.filterwarnings("ignore", module="mlflow")
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("sklearn")
    return mlflow


@pytest.fixture(scope="module")
def file_store_allowed():
    """MLflow >= 3.17 refuses a file store unless this variable is set; restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        yield


@contextlib.contextmanager
def using_store(root: Path):
    """Point MLflow's global tracking and registry URIs at ``root`` for the fluent API.

    Restores the previous URIs and environment variables on exit, so other test
    modules running in the same process are not affected.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    saved = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    uri = root.as_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield mlflow
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri = saved
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def client_of(root: Path):
    """An ``MlflowClient`` bound to ``root`` explicitly (no global state)."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=root.as_uri(), registry_uri=root.as_uri())


def fit(fit_intercept: bool, coefficients):
    """A fitted ``LinearRegression`` on :data:`FEATURES` and its predictions."""
    import numpy as np
    from sklearn.linear_model import LinearRegression

    X = np.array(FEATURES)
    y = X @ np.array(coefficients) + (0.5 if fit_intercept else 0.0)
    model = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    return model, model.predict(X).tolist()


def log_model_run(mlflow, fit_intercept: bool, coefficients, run_name: str) -> dict:
    """Log one run with a model named ``model`` (MLflow 3: a logged model ``m-...``)."""
    model, predictions = fit(fit_intercept, coefficients)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_param("fit_intercept", fit_intercept)
        # Explicit requirements: skips MLflow's slow requirement inference.
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    return {"run_id": run.info.run_id, "model_id": info.model_id, "model_uri": info.model_uri,
            "predictions": predictions}


def regctl_json(root: Path, *args):
    """Run ``regctl --store ROOT ARGS... --json`` and return the parsed output."""
    result = regctl(*args, "--json", store=root)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def regctl_ok(root: Path, *args) -> str:
    """Run a regctl command that must succeed; return its stdout."""
    result = regctl(*args, store=root)
    assert result.returncode == 0, f"regctl {' '.join(map(str, args))}: {result.stderr}"
    return result.stdout


def version_as_regctl(mv) -> dict:
    """An MLflow ``ModelVersion`` in regctl's JSON shape (everything but ``storage_location``)."""
    return {
        "name": mv.name,
        "version": int(mv.version),
        "creation_timestamp": mv.creation_timestamp,
        "last_updated_timestamp": mv.last_updated_timestamp,
        "current_stage": mv.current_stage,
        "description": mv.description,
        "source": mv.source,
        "run_id": mv.run_id or None,
        "run_link": mv.run_link or None,
        "status": mv.status,
        "status_message": mv.status_message or None,
        "user_id": mv.user_id or None,
        "model_id": getattr(mv, "model_id", None),
        "tags": dict(mv.tags),
        "aliases": sorted(mv.aliases),
    }


def user_tags(tags: dict) -> dict:
    """The tags, after checking regctl added none of its own: it keeps its content digest in a
    file MLflow ignores, as MLflow cannot rename a model whose versions carry tags."""
    assert not [k for k in tags if k.startswith("regctl.")], tags
    return dict(tags)


def without(view: dict, *keys) -> dict:
    return {k: v for k, v in view.items() if k not in keys}


def model_as_regctl(rm) -> dict:
    """An MLflow ``RegisteredModel`` in regctl's JSON shape (without ``latest_version``)."""
    return {
        "name": rm.name,
        "creation_timestamp": rm.creation_timestamp,
        "last_updated_timestamp": rm.last_updated_timestamp,
        "description": rm.description,
        "tags": dict(rm.tags),
        "aliases": {alias: int(v) for alias, v in sorted(rm.aliases.items())},
    }


def location_path(location: str) -> Path:
    """The local path of a ``file://`` location."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(location)
    assert parsed.scheme == "file", location
    return Path(unquote(parsed.path))


# ------------------------------------------------- one registry written by regctl

WRITTEN_MODEL = "churn-model"
WRITTEN_OLD_NAME = "old-name"
WRITTEN_NEW_NAME = "renamed model.v2"  # a dot and a space
WRITTEN_DESCRIPTION = "# Churn model\n\nRegistered with **regctl**; R² ≥ 0.9 on the holdout.\n"
WRITTEN_VERSION2_DESCRIPTION = "Second fit.\nNo intercept."
WRITTEN_MODEL_TAGS = {"owner/team": "ml-platform", "notes": "line one\nline two"}


def write_registry_with_regctl(root: Path, first_source: str, second_source: str, third_source: str) -> None:
    """Every registry write through the real regctl CLI.

    Result: ``churn-model`` v1 (Production, tag ``validation_status``, alias
    ``champion``), v2 (Staging, description, tag ``checks/data``, alias
    ``challenger``), v3 soft-deleted (its alias ``doomed`` removed with it); model
    tags with a nested key and a multi-line value and a Markdown description;
    ``old-name`` v1 (alias ``prod``, tags) renamed to ``renamed model.v2``.
    """
    name = WRITTEN_MODEL
    assert regctl_ok(root, "register", first_source, "--name", name) == "1\n"
    assert regctl_ok(root, "register", second_source, "--name", name, "--description",
                     WRITTEN_VERSION2_DESCRIPTION, "--tag", "checks/data=passed") == "2\n"
    assert regctl_ok(root, "register", third_source, "--name", name, "--alias", "doomed") == "3\n"
    regctl_ok(root, "delete", name, "--version", "3", "--yes")
    regctl_ok(root, "alias", "set", name, "champion", "1")
    regctl_ok(root, "alias", "set", name, "challenger", "2")
    regctl_ok(root, "tag", name, *(f"{k}={v}" for k, v in WRITTEN_MODEL_TAGS.items()))
    regctl_ok(root, "tag", name, "validation_status=approved", "--version", "1")
    regctl_ok(root, "describe", name, "--set", WRITTEN_DESCRIPTION)
    regctl_ok(root, "stage", name, "1", "Production")
    regctl_ok(root, "stage", name, "2", "staging")
    assert regctl_ok(root, "register", first_source, "--name", WRITTEN_OLD_NAME, "--alias", "prod") == "1\n"
    regctl_ok(root, "tag", WRITTEN_OLD_NAME, "origin=regctl")
    regctl_ok(root, "tag", WRITTEN_OLD_NAME, "k=v", "--version", "1")
    regctl_ok(root, "rename", WRITTEN_OLD_NAME, WRITTEN_NEW_NAME)


# ------------------------------------------- every command on a model MLflow created

# Names MLflow creates that regctl would refuse for a new model (issue 7.3.2). MLflow 3.17
# creates the first four; MLflow 2.22 all six ('..dots' and 'team:churn' break MLflow 3's
# searches of the whole store, so they live in an MLflow 2 store).
NAMES_MLFLOW3_ALLOWS = ["what?", "trailing ", " leading", "tab\tname"]
NAMES_MLFLOW2_ALLOWS = NAMES_MLFLOW3_ALLOWS + ["..dots", "team:churn"]


def model_files(path: Path) -> Path:
    """A directory holding a minimal model (an ``MLmodel`` file) to register."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "MLmodel").write_text("flavors: {}\n")
    return path


def exercise_every_command(root: Path, name: str, source: Path) -> None:
    """Run every regctl command on ``name``, a model MLflow created with version 1 and alias
    ``champion``; leaves version 2 (Staging, tagged, described) and the model tagged and described."""
    uri_safe = "?" not in name  # '?' starts a URI query, in MLflow as in regctl: no models:/ URI names it
    assert name in [m["name"] for m in regctl_json(root, "models")]
    assert [v["version"] for v in regctl_json(root, "versions", name)] == [1]
    assert regctl_json(root, "describe", name)["name"] == name
    assert regctl_json(root, "describe", name, "--version", "1")["lineage"]["artifact_path"] == str(source)
    assert regctl_json(root, "describe", name, "--alias", "champion")["version"] == 1
    assert regctl_json(root, "alias", "list", name) == {"champion": 1}
    assert regctl_ok(root, "register", source, "--name", name, "--tag", "origin=regctl") == "2\n"
    regctl_ok(root, "alias", "set", name, "challenger", "2", "--expect", "none")
    regctl_ok(root, "alias", "rollback", name, "challenger")
    regctl_ok(root, "alias", "set", name, "challenger", "2")
    regctl_ok(root, "alias", "delete", name, "challenger")
    regctl_ok(root, "tag", name, "team=ml", "scratch=x")
    regctl_ok(root, "tag", name, "--delete", "scratch")
    regctl_ok(root, "tag", name, "reviewed=yes", "--version", "2")
    regctl_ok(root, "describe", name, "--set", "A model MLflow named.")
    regctl_ok(root, "describe", name, "--version", "2", "--set", "Second version.")
    regctl_ok(root, "describe", name, "--alias", "champion", "--set", "First version.")
    regctl_ok(root, "stage", name, "2", "Staging")
    assert [r["operation"] for r in regctl_json(root, "history", name)][-1] == "version.create"
    if uri_safe:
        for uri in (f"models:/{name}/1", f"models:/{name}@champion", f"models:/{name}/latest", f"models:/{name}/Staging"):
            assert regctl_ok(root, "resolve", uri) == f"{source}\n", uri
        regctl_ok(root, "verify", f"models:/{name}/2")
        regctl_ok(root, "resolve", "--verify", f"models:/{name}/2")
    report = regctl_json(root, "doctor")
    assert report["problems"] == [], report["problems"]


def rename_and_delete(root: Path, name: str, new_name: str) -> None:
    """The last commands: rename (to a name valid for a new model) and delete, version then model."""
    regctl_ok(root, "delete", name, "--version", "2", "--yes")
    regctl_ok(root, "rename", name, new_name)
    assert regctl("versions", name, store=root).returncode == 1
    regctl_ok(root, "delete", new_name, "--yes")
    assert new_name not in [m["name"] for m in regctl_json(root, "models")]


@contextlib.contextmanager
def tracking_at(mlflow, uri: str):
    """MLflow's fluent API pointed at ``uri`` and its Default experiment, restored afterwards
    (other modules of the session set an active experiment of their own)."""
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils
    import mlflow.tracking.fluent as fluent

    saved = (tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id)
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        fluent._active_experiment_id = None
        mlflow.set_experiment(experiment_id="0")
        yield mlflow
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id = saved
