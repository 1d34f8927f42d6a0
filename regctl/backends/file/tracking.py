"""Read-only lookups on the tracking side of a store: runs and MLflow 3 logged models."""

import os
from pathlib import Path

from regctl.backends.file import layout
from regctl.backends.file.store import Store
from regctl.core.names import validate_logged_model_id, validate_run_id


def _experiment_dirs(store: Store):
    """Experiment directories, active ones first, then those in ``.trash``."""
    for parent in (store.root, store.root / layout.TRASH_DIR):
        try:
            entries = sorted(os.scandir(parent), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir() and layout.is_experiment_dir_name(entry.name):
                yield Path(entry.path)


def find_run(store: Store, run_id: str) -> dict:
    """The run's meta.yaml (with ``_dir``); NotFound when no experiment holds it."""
    validate_run_id(run_id)
    store.require()
    for experiment in _experiment_dirs(store):
        meta = store.read_yaml(experiment / run_id / layout.META, missing_ok=True)
        if meta is not None:
            return dict(meta, _dir=experiment / run_id)
    from regctl.core.rules import run_not_found  # (loaded on the error path only)

    raise run_not_found(run_id)


def find_logged_model(store: Store, model_id: str) -> dict:
    """A logged model's meta.yaml (with ``_dir``); NotFound when missing or deleted."""
    validate_logged_model_id(model_id)
    store.require()
    for experiment in _experiment_dirs(store):
        if experiment.parent.name == layout.TRASH_DIR:
            continue
        model_dir = experiment / layout.MODELS_DIR / model_id
        meta = store.read_yaml(model_dir / layout.META, missing_ok=True)
        if meta is not None:
            if meta.get("lifecycle_stage") == "deleted":
                break
            return dict(meta, _dir=model_dir)
    from regctl.core.rules import logged_model_not_found  # (loaded on the error path only)

    raise logged_model_not_found(model_id)


def logged_models_of_run(store: Store, run: dict) -> list:
    """The run's logged models (MLflow 3), each with the ``step`` of its output link."""
    outputs = run["_dir"] / "outputs"
    experiment = run["_dir"].parent
    try:
        model_ids = sorted(os.listdir(outputs))
    except OSError:
        return []
    models = []
    for model_id in model_ids:
        link = store.read_yaml(outputs / model_id / layout.META, missing_ok=True) or {}
        model_dir = experiment / layout.MODELS_DIR / model_id
        meta = store.read_yaml(model_dir / layout.META, missing_ok=True)
        if meta is None or meta.get("lifecycle_stage") == "deleted":
            continue
        step = link.get("step") if isinstance(link.get("step"), int) else 0
        models.append(dict(meta, _dir=model_dir, _step=step))
    return models
