"""The writing use cases: register, aliases, tags, descriptions, stages, rename, delete.

Each one reads and checks everything it needs inside ``edit(store, name)``
(under the model's lock), describes its change there, and returns what it did
from what it planned: the change is applied when the block ends, all or
nothing (see ``transaction``). Arguments arrive validated by ``regctl.api``.
"""

import json
from pathlib import Path
from typing import Iterable, Optional

from regctl.backends.file import layout, tracking
from regctl.backends.file.edit import ModelChange, edit, version_files
from regctl.backends.file.resolve import find_version, location_path, logged_model_named
from regctl.backends.file.store import Store
from regctl.backends.file.views import version_view
from regctl.core import journal, prompts, uris, yamlfile
from regctl.core.atomic import os_reason, read_file
from regctl.core.errors import Conflict, NotFound, StoreError
from regctl.core.locations import location_to_path
from regctl.core.names import DELETED_STAGE, show, validate_artifact_path, validate_model_name
from regctl.core.resolution import alias_version, run_location
from regctl.core.rules import (
    ModelNotFound,
    alias_moves,
    alias_not_found,
    remote_artifacts,
    rollback_target,
    source_not_a_directory,
    source_without_artifacts,
    tag_not_found,
)

MODEL_VERSIONS_TAG = "mlflow.modelVersions"


# ------------------------------------------------------------- register

def registration_source(store: Store, source: str) -> dict:
    """What MLflow would store for a registration from ``source``; NotFound if nothing is there."""
    ref = uris.parse_uri(source)
    if isinstance(ref, uris.RunRef):
        return uris.as_recorded(source, ref, _source_from_run(store, ref))
    if isinstance(ref, uris.LoggedModelRef):
        model = tracking.find_logged_model(store, ref.model_id)
        _require_dir(store, model.get("artifact_location") or "", source)
        return {"source": f"models:/{ref.model_id}", "storage_location": model["artifact_location"],
                "run_id": model.get("source_run_id"), "model_id": ref.model_id, "tags": {},
                "logged_model_dir": model["_dir"]}
    if isinstance(ref, uris.PathRef):
        path = location_to_path(source)
        if not path.is_dir():
            raise source_not_a_directory(source, path)
        location = source if uris.scheme_of(source) == "file" else str(path)
        return {"source": location, "storage_location": location, "run_id": None, "model_id": None, "tags": {}}
    number, meta = find_version(store, ref)
    location = str(meta.get("storage_location") or meta.get("source") or "")
    if not location:
        raise StoreError(f"version {number} of model {show(ref.name)} has no source or storage location")
    _require_dir(store, location, source)
    # As MLflow's register_model from models:/NAME/N: none of the version's tags (approvals must not
    # spread), its logged model, and no run of its own: MLflow passes none, and its file store takes
    # the run of the logged model (MLflow 3), which also lists the new version.
    origin: dict = {"source": f"models:/{ref.name}/{number}", "storage_location": location,
                    "run_id": None, "model_id": meta.get("model_id"), "tags": {}}
    if isinstance(meta.get("model_id"), str):
        try:
            model = tracking.find_logged_model(store, meta["model_id"])
        except NotFound:
            return origin
        origin.update(run_id=model.get("source_run_id"), logged_model_dir=model["_dir"])
    return origin


def _source_from_run(store: Store, ref: uris.RunRef) -> dict:
    run = tracking.find_run(store, ref.run_id)
    path = validate_artifact_path(ref.path)
    location = run_location(run, path)
    local = location_path(store, location)
    if not isinstance(local, str) and (local / "MLmodel").is_file():
        return {"source": location, "storage_location": location, "run_id": ref.run_id, "model_id": None, "tags": {}}
    model = logged_model_named(store, run, path, newest_first=False) if path else None
    if model is None and isinstance(local, str):  # MLflow lists the remote artifacts for an MLmodel: regctl cannot
        raise remote_artifacts(f"runs:/{ref.run_id}/{path}", local, "register")
    if model is None:
        raise NotFound(f"source {show(f'runs:/{ref.run_id}/{path}')} not found: "
                       f"the run has no {path or '.'}/MLmodel and no logged model named {show(path)}")
    _require_dir(store, model.get("artifact_location") or "", f"runs:/{ref.run_id}/{path}")
    return {"source": f"models:/{model['model_id']}", "storage_location": model["artifact_location"],
            "run_id": ref.run_id, "model_id": model["model_id"], "tags": {},
            "logged_model_dir": model["_dir"]}


def _require_dir(store: Store, location: str, source: str) -> None:
    path = location_path(store, location) if location else None
    if isinstance(path, str):  # a remote location: MLflow records it without reading it, and so does regctl
        return
    if path is None or not path.is_dir():
        raise source_without_artifacts(source, location)


def register(store: Store, source: str, name: str, *, description: Optional[str] = None,
             tags: Optional[dict] = None, aliases: Iterable[str] = (), run_link: Optional[str] = None) -> dict:
    """Create a new version of ``name`` (creating the model if needed); return the version view."""
    if store.is_prompt(name):
        raise prompts.name_taken(name)
    tags = dict(tags or {})
    aliases = list(aliases)
    origin = registration_source(store, source)  # before anything is created: a bad source changes nothing
    # Hash the artifacts before locking: it reads every file, and nobody needs to wait for that.
    from regctl.backends.file import manifests  # hashing: only a registration needs it

    content_tags, content_files = manifests.registration_record(store, origin["storage_location"] or origin["source"])
    version_tags = {**origin["tags"], **tags, **content_tags}
    _check_tag_paths(version_tags)
    logged_model = origin.get("logged_model_dir")
    also_lock = [layout.logged_model_lock_name(logged_model.name)] if logged_model else []
    with edit(store, name, create=True, also_lock=also_lock) as change:
        model_meta = change.model_meta_or_none()
        exists = model_meta is not None or store.model_exists(name)
        if not exists:
            validate_model_name(name)  # the strict rules are for new names; existing ones are used as they are
        number = store.highest_version_number(name) + 1 if exists else 1
        meta = dict(new_version_meta(name, origin, description, change.now, number), run_link=run_link)
        old_aliases = {alias: change.aliases().get(alias) for alias in aliases}
        if not exists:
            change.aliases().update((alias, str(number)) for alias in aliases)
            change.create_model(new_model_meta(name, change.now), {number: version_files(meta, version_tags, content_files)})
            change.record("model.create", name, None, None, name)
        else:
            change.create_version(number, meta, version_tags, content_files)
            if model_meta is None:  # a directory without meta.yaml, left by another tool
                model_meta = new_model_meta(name, change.now)
                change.record("model.create", name, None, None, name)
            for alias in aliases:
                change.set_alias(alias, number)
            change.touch_model(model_meta)
        # The digest and creation time also go into the journal: MLflow's rename rewrites the version
        # directories without the manifest, and the version is found again by source and creation time.
        registered = {"digest": json.loads(content_files[manifests.MANIFEST_FILE])["digest"]} if content_files else {}
        change.record("version.create", name, number, None, origin["source"], created=meta["creation_timestamp"],
                      **registered)
        for alias in aliases:
            change.record("alias.set", name, alias, old_aliases[alias], str(number))
        if logged_model:
            _record_model_version(change, logged_model, name, number)
        view = version_view(store, name, meta, change.aliases(), tags=version_tags)
    return view


def new_model_meta(name: str, now: int) -> dict:
    return {"aliases": {}, "creation_timestamp": now, "deployment_job_id": None,
            "deployment_job_state": None, "description": None, "last_updated_timestamp": now,
            "name": name, "workspace": "default"}


def new_version_meta(name: str, origin: dict, description: Optional[str], now: int, number: int) -> dict:
    return {"creation_timestamp": now, "current_stage": "None", "deployment_job_state": None,
            "description": description, "last_updated_timestamp": now, "model_id": origin["model_id"],
            "name": name, "run_id": origin["run_id"], "run_link": None, "source": origin["source"],
            "status": "READY", "status_message": None, "storage_location": origin["storage_location"],
            "user_id": None, "version": number, "workspace": "default"}


def _record_model_version(change: ModelChange, model_dir, name: str, version: int) -> None:
    """Plan the append to the logged model's ``mlflow.modelVersions`` tag, as MLflow 3 does."""
    tags_dir = change.store.inside(model_dir / layout.TAGS_DIR)
    tag = tags_dir / MODEL_VERSIONS_TAG
    try:
        text = read_file(change.store.inside(tag)).decode("utf-8")
    except FileNotFoundError:
        text = "[]"
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot read {tag}: {os_reason(exc)}") from None
    try:
        entries = json.loads(text)
    except (ValueError, RecursionError):
        entries = None
    if not isinstance(entries, list):
        raise StoreError(f"damaged tag {tag}: not a JSON list; nothing was changed (doctor shows it)")
    entries.append({"name": name, "version": version})
    change.write(tag, json.dumps(entries))


# ---------------------------------------------------------------- aliases

def set_alias(store: Store, name: str, alias: str, version: int, *, expect_given: bool = False,
              expect: Optional[int] = None) -> dict:
    """Point ``alias`` at ``version``; with ``expect_given``, only if it points at ``expect`` now (None: unset)."""
    with edit(store, name) as change:
        model_meta = change.model_meta()
        change.version_meta(version)
        old = change.aliases().get(alias)
        moves = alias_moves(name, alias, None if old is None else alias_version(old), version, expect, expect_given)
        if not moves and old == str(version):  # (a hand-written " 3 " is rewritten as MLflow writes it)
            return {"name": name, "alias": alias, "old": version, "new": version, "changed": False}
        change.set_alias(alias, version)
        change.touch_model(model_meta)
        change.record("alias.set", name, alias, old, str(version))
    return {"name": name, "alias": alias, "old": alias_version(old), "new": version, "changed": True}


def delete_alias(store: Store, name: str, alias: str) -> dict:
    """Remove ``alias``; NotFound if it does not exist."""
    with edit(store, name) as change:
        model_meta = change.model_meta()
        old = change.aliases().get(alias)
        if old is None:
            raise alias_not_found(store, name, alias)
        change.delete_alias(alias)
        change.touch_model(model_meta)
        change.record("alias.delete", name, alias, old, None)
    return {"name": name, "alias": alias, "old": alias_version(old), "new": None, "changed": True}


def rollback_alias(store: Store, name: str, alias: str) -> dict:
    """Move ``alias`` back to where it pointed before its last recorded change, if it is still what that left."""
    with edit(store, name) as change:
        model_meta = change.model_meta()
        moves = journal.history(store.journal_path(), name, alias, limit=1)
        current = change.aliases().get(alias)
        last = (moves[0].get("old"), moves[0].get("new")) if moves else None
        rollback_target(name, alias, last, current)  # NotFound or Conflict when it cannot be rolled back
        previous = last[0] if last else None
        if previous is None:
            change.delete_alias(alias)
            change.record("alias.delete", name, alias, current, None)
        else:
            number = alias_version(previous)
            if number is None:
                raise StoreError(f"damaged journal: alias {show(alias)} of {show(name)} was at {show(str(previous))}")
            change.version_meta(number)
            change.set_alias(alias, number)
            change.record("alias.set", name, alias, current, str(number))
        change.touch_model(model_meta)
    return {"name": name, "alias": alias, "old": alias_version(current),
            "new": None if previous is None else number, "changed": True}


# ------------------------------------------------------------------- tags

def set_tags(store: Store, name: str, tags: dict, version: Optional[int] = None) -> dict:
    """Set model tags, or tags of ``version``."""
    with edit(store, name) as change:
        model_meta = change.model_meta()
        if version is not None:
            change.version_meta(version)
        current = change.tags(version)
        _check_tag_paths(tags, current)
        for key, value in tags.items():
            change.set_tag(key, value, version)
            change.record("tag.set", name, _tag_target(key, version), current.get(key), value)
        change.touch_model(model_meta)
    return {"name": name, "version": version, "set": tags}


def delete_tags(store: Store, name: str, keys: list, version: Optional[int] = None) -> dict:
    """Remove tags; NotFound (and nothing removed) if any key does not exist."""
    with edit(store, name) as change:
        model_meta = change.model_meta()
        if version is not None:
            change.version_meta(version)
        current = change.tags(version)
        missing = [k for k in keys if k not in current]
        if missing:
            raise tag_not_found(name, missing[0], version or None)
        for key in dict.fromkeys(keys):
            change.delete_tag(key, version)
            change.record("tag.delete", name, _tag_target(key, version), current[key], None)
        change.touch_model(model_meta)
    return {"name": name, "version": version, "deleted": list(keys)}


def _check_tag_paths(keys: Iterable[str], existing: Iterable[str] = ()) -> None:
    """Refuse before writing anything when a key would be both a tag file and a directory of tags."""
    every = set(existing) | set(keys)
    for key in keys:
        for other in every:
            if other.startswith(key + "/") or key.startswith(other + "/"):
                raise Conflict(f"tag {show(key)} cannot be set: it clashes with tag {show(other)} "
                               "(a key cannot also be a directory of keys)")


def _tag_target(key: str, version: Optional[int]) -> str:
    return key if version is None else f"version-{version}:{key}"


# ------------------------------------------------- descriptions and stages

def set_description(store: Store, name: str, text: str, version: Optional[int] = None,
                    alias: Optional[str] = None) -> dict:
    """Replace the description of a model, or of one version given by number or alias."""
    with edit(store, name) as change:
        model_meta = change.model_meta()
        if version is None and alias is None:
            change.touch_model(model_meta, description=text)
            change.record("model.describe", name, None, model_meta.get("description"), text)
            return {"name": name, "version": None, "description": text}
        ref = uris.AliasRef(name, alias) if alias is not None else uris.VersionRef(name, version)
        number, meta = find_version(store, ref)  # the alias is read under the lock
        change.write_version_meta(number, dict(meta, description=text, last_updated_timestamp=change.now))
        change.record("version.describe", name, f"version-{number}", meta.get("description"), text)
    return {"name": name, "version": number, "description": text}


def transition_stage(store: Store, name: str, version: int, stage: str, *, archive_existing: bool = False) -> dict:
    """MLflow's stage transition; with ``archive_existing`` other versions in the stage become Archived."""
    with edit(store, name) as change:
        model_meta = change.model_meta()
        meta = change.version_meta(version)
        old = meta.get("current_stage")
        archived = []
        if archive_existing:
            for other in change.version_numbers():
                if other == version:
                    continue
                other_meta = store.read_version_meta(name, other)  # a damaged one stops everything here
                if other_meta is not None and other_meta.get("current_stage") == stage:
                    change.write_version_meta(other, dict(other_meta, current_stage="Archived",
                                                          last_updated_timestamp=change.now))
                    change.record("version.stage", name, f"version-{other}", stage, "Archived")
                    archived.append(other)
        change.write_version_meta(version, dict(meta, current_stage=stage, last_updated_timestamp=change.now))
        change.record("version.stage", name, f"version-{version}", old, stage)
        change.touch_model(model_meta)
    return {"name": name, "version": version, "old_stage": old, "current_stage": stage, "archived": archived}


# ------------------------------------------------------ rename and delete

def rename_model(store: Store, old: str, new: str) -> dict:
    """Rename a model with everything it has: tags, aliases, versions and their tags.

    As MLflow does, every version's ``name`` and ``last_updated_timestamp`` change too.
    """
    store.require()
    if not layout.models_dir(store.root).is_dir():
        raise ModelNotFound(old)  # a store of experiments and runs, no registry yet
    first, second = sorted([old, new], key=lambda n: str(store.lock_path(n)))
    with edit(store, first) as outer, edit(store, second) as inner:
        change = outer if first == old else inner
        meta = change.model_meta()
        metas = {n: store.read_version_meta(old, n) for n in change.version_numbers()}  # all readable, or nothing
        change.aliases()
        change.move_model(new)
        renamed = ModelChange(store, new)
        renamed._aliases = change.aliases()
        for number, version_meta in metas.items():
            if version_meta is not None:
                renamed.write_version_meta(number, dict(version_meta, name=new, last_updated_timestamp=change.now))
        renamed.now = change.now
        renamed.touch_model(meta, name=new)
        change.take(renamed)
        change.record("model.rename", new, None, old, new)
        if change is outer:
            inner.take(outer)  # applied when the inner block ends, while both locks are still held
    return {"old": old, "new": new}


def delete_model(store: Store, name: str) -> dict:
    """Delete a registered model and all its versions (MLflow's hard delete)."""
    with edit(store, name) as change:
        change.model_meta()
        versions = change.version_numbers()
        change.aliases()
        change.tags()
        for number in versions:  # everything readable, or nothing is deleted
            change.tags(number)
        change.remove_model()
        change.record("model.delete", name, None, f"{len(versions)} versions", None)
    return {"name": name, "version": None, "deleted": True}


def delete_version(store: Store, name: str, version: int) -> dict:
    """Soft-delete a version (stage Deleted_Internal) and remove the aliases pointing at it."""
    with edit(store, name) as change:
        model_meta = change.model_meta()
        meta = change.version_meta(version)
        change.write_version_meta(version, dict(meta, current_stage=DELETED_STAGE, last_updated_timestamp=change.now))
        change.record("version.delete", name, f"version-{version}", meta.get("current_stage"), DELETED_STAGE)
        removed = []
        for alias, text in sorted(change.aliases().items()):
            if alias_version(text) == version:
                change.delete_alias(alias)
                change.record("alias.delete", name, alias, text, None)
                removed.append(alias)
        change.touch_model(model_meta)
    return {"name": name, "version": version, "deleted": True, "aliases_removed": removed}


# ------------------------------------------------------------------- gc


def collect(store: Store, name: str, keep: int, *, keep_aliased: bool = False, delete_staged: bool = False) -> dict:
    """Soft-delete the live versions of ``name`` older than the newest ``keep``, in one change.

    Each is deleted as ``delete_version`` deletes it. A version an alias points at is never
    deleted; one in Staging or Production only with ``delete_staged``. With ``keep_aliased``,
    aliased versions do not count towards ``keep``.
    """
    with edit(store, name) as change:
        model_meta = change.model_meta()
        metas = {n: store.read_version_meta(name, n) for n in change.version_numbers()}  # all readable, or nothing
        live = {n: meta.get("current_stage") for n, meta in metas.items()
                if meta is not None and meta.get("current_stage") != DELETED_STAGE}
        aliased: dict = {}
        for alias, text in sorted(change.aliases().items()):
            number = alias_version(text)
            if number is not None:
                aliased.setdefault(number, []).append(alias)
        from regctl.core import retention

        deleted, protected = retention.choose(live, aliased, keep, keep_aliased=keep_aliased,
                                              delete_staged=delete_staged)
        for number in deleted:
            meta = metas[number]
            change.write_version_meta(number, dict(meta, current_stage=DELETED_STAGE, last_updated_timestamp=change.now))
            change.record("version.delete", name, f"version-{number}", meta.get("current_stage"), DELETED_STAGE)
        if deleted:
            change.touch_model(model_meta)
    kept_all = sorted(set(live) - set(deleted), reverse=True)
    return {"name": name, "deleted": deleted, "kept": kept_all, "protected": protected}


def import_logged_model(store: Store, local, model_id: str) -> str:
    """Copy the files under ``local`` into a new MLflow 3 logged model ``model_id`` of the store's
    Default experiment (``0``), in one change; the ``models:/m-<id>`` URI to register from."""
    local = Path(local)
    experiment = store.root / "0"
    final = experiment / layout.MODELS_DIR / model_id
    files: dict = {f"{layout.TAGS_DIR}": None, "params": None, "metrics": None, "artifacts": None}
    for path in sorted(local.rglob("*")):
        if path.is_file():
            files[f"artifacts/{path.relative_to(local).as_posix()}"] = path
    with edit(store, layout.logged_model_lock_name(model_id), create=True) as change:
        now = change.now
        if not (experiment / layout.META).is_file():
            change.write(experiment / layout.META, yamlfile.dumps({
                "artifact_location": experiment.resolve().as_uri(), "creation_time": now,
                "effective_trace_archival_retention": None, "experiment_id": "0", "last_update_time": now,
                "lifecycle_stage": "active", "name": "Default", "trace_location": None, "workspace": "default"}))
        files[layout.META] = yamlfile.dumps({
            "artifact_location": (final / "artifacts").resolve().as_uri(), "creation_timestamp": now,
            "experiment_id": "0", "last_updated_timestamp": now, "model_id": model_id, "model_type": None,
            "name": "model", "source_run_id": None, "status": 2, "status_message": None}).encode("utf-8")
        change.create_dir(final, files, experiment / layout.MODELS_DIR)
        change.record("logged_model.create", None, model_id, None, f"models:/{model_id}")
    return f"models:/{model_id}"
