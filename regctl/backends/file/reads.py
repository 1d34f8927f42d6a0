"""The read-only use cases: list models and versions, describe, aliases, history.

Results are plain dicts with MLflow's field names, ready for ``--json``.
"""

from typing import Optional

from regctl.backends.file import layout, tracking
from regctl.backends.file.resolve import find_version, resolve_version
from regctl.backends.file.store import Store, plain_dir
from regctl.backends.file.views import model_view, version_view
from regctl.core import uris
from regctl.core.errors import InvalidInput, NotFound, StoreError
from regctl.core.names import DELETED_STAGE, STAGES, parse_version, validate_lookup_name
from regctl.core.resolution import alias_version

# ------------------------------------------------------------------ reads

def list_models(store: Store, *, include_prompts: bool = False, damaged: Optional[list] = None) -> list:
    """Every registered model (MLflow prompts hidden unless asked for).

    With a ``damaged`` list, unreadable models are skipped and their errors appended to it.
    """
    models = []
    for name in store.model_names():
        prompt = store.is_prompt(name)
        if prompt and not include_prompts:
            continue
        try:
            meta = store.read_yaml(layout.model_meta(store.root, name)) if prompt else store.read_model_meta(name)
            models.append(model_view(store, name, meta))
        except StoreError as exc:
            if damaged is None:
                raise
            damaged.append(exc)
    return models


def list_versions(store: Store, name: str, *, include_deleted: bool = False, limit: Optional[int] = None,
                  damaged: Optional[list] = None, include_prompts: bool = False) -> list:
    """Versions newest first; soft-deleted ones only with ``include_deleted``; a prompt's only
    with ``include_prompts`` (for searches, which MLflow lets name prompts).

    With a ``damaged`` list, unreadable versions are skipped and their errors appended to it.
    """
    validate_lookup_name(name)
    if include_prompts and store.is_prompt(name):
        store.read_yaml(layout.model_meta(store.root, name))
    else:
        store.read_model_meta(name)
    aliases = store.read_aliases(name)
    versions: list = []
    for number, entry in store.version_entries(name):
        if limit is not None and len(versions) >= limit:
            break
        try:
            meta = store.read_version_meta(name, number, plain=plain_dir(entry))
            if meta is None:
                continue  # removed by a writer since the directory was listed
            if include_deleted or meta.get("current_stage") != DELETED_STAGE:
                versions.append(version_view(store, name, meta, aliases))
        except StoreError as exc:
            if damaged is None:
                raise
            damaged.append(exc)
    return versions


def damage_report(damaged: list) -> StoreError:
    """One error summarising what a listing skipped."""
    more = f" ({len(damaged) - 1} more damaged entries skipped)" if len(damaged) > 1 else ""
    return StoreError(f"{damaged[0].message}{more}")


def list_aliases(store: Store, name: str) -> dict:
    """``{alias: version}`` of a model, from its alias files."""
    validate_lookup_name(name)
    store.read_model_meta(name)
    return {a: alias_version(t) for a, t in sorted(store.read_aliases(name).items())}


def describe_model(store: Store, name: str) -> dict:
    """Everything about a model: its view plus the latest version of each stage."""
    validate_lookup_name(name)
    view = model_view(store, name, store.read_model_meta(name))
    latest_by_stage = {}
    aliases = store.read_aliases(name)
    live = 0
    for _number, meta in store.version_metas(name):
        stage = meta.get("current_stage")
        if stage == DELETED_STAGE:
            continue
        live += 1
        if stage in STAGES and stage not in latest_by_stage:  # MLflow: the four stages, spelt as MLflow spells them
            latest_by_stage[stage] = version_view(store, name, meta, aliases)
    view["latest_versions"] = list(latest_by_stage.values())
    view["version_count"] = live
    return view


def describe_version(store: Store, name: str, version=None, alias=None) -> dict:
    """Everything about one version, with its lineage (run, experiment, logged model, path)."""
    validate_lookup_name(name)
    ref = uris.AliasRef(name, alias) if alias is not None else uris.VersionRef(name, parse_version(version))
    number, meta = find_version(store, ref)
    view = version_view(store, name, meta, store.read_aliases(name))
    view["lineage"] = lineage(store, name, number, meta)
    return view


def lineage(store: Store, name: str, version: int, meta: dict) -> dict:
    """Where a version came from and where its files are, as far as the store knows."""
    info = {"run_id": meta.get("run_id"), "experiment_id": None, "run_name": None,
            "model_id": meta.get("model_id"), "artifact_path": None}
    if meta.get("run_id"):
        try:
            run = tracking.find_run(store, meta["run_id"])
            info["experiment_id"] = run.get("experiment_id")
            info["run_name"] = run.get("run_name")
        except (NotFound, InvalidInput):
            pass
    try:
        info["artifact_path"] = str(resolve_version(store, name, version, meta, f"models:/{name}/{version}").path)
    except NotFound:
        pass
    return info
