"""The writing use cases: register, aliases, tags, descriptions, stages, rename, delete.

Every write validates its input first, takes the model's lock, re-reads what
it changes under the lock, writes through ``Store`` and appends one journal
record per change. Results are plain dicts with MLflow's field names.
"""

from pathlib import Path
from typing import Iterable, Optional

from regctl import journal, layout, prompts, tracking, uris
from regctl.errors import Conflict, InvalidInput, NotFound, StoreError
from regctl.locations import location_to_path
from regctl.names import (
    ACTIVE_STAGES,
    DELETED_STAGE,
    canonical_stage,
    parse_version,
    show,
    validate_alias,
    validate_artifact_path,
    validate_lookup_name,
    validate_model_name,
    validate_tag_key,
    validate_tag_value,
)
from regctl.queries import history, int_or_none, version_view
from regctl.resolve import find_version, location_path, logged_model_named, run_location
from regctl.store import Store, now_ms

MODEL_VERSIONS_TAG = "mlflow.modelVersions"


# ------------------------------------------------------------- register

def registration_source(store: Store, source: str) -> dict:
    """What MLflow would store for a registration from ``source``; NotFound if nothing is there."""
    ref = uris.parse_uri(source)
    if isinstance(ref, uris.RunRef):
        return _source_from_run(store, ref)
    if isinstance(ref, uris.LoggedModelRef):
        model = tracking.find_logged_model(store, ref.model_id)
        _require_dir(store, model.get("artifact_location") or "", source)
        return {"source": f"models:/{ref.model_id}", "storage_location": model["artifact_location"],
                "run_id": model.get("source_run_id"), "model_id": ref.model_id, "tags": {},
                "logged_model_dir": model["_dir"]}
    if isinstance(ref, uris.PathRef):
        path = location_to_path(source)
        if not path.is_dir():
            raise NotFound(f"source {show(source)} not found: {path} is not a directory")
        location = source if uris.scheme_of(source) == "file" else str(path)
        return {"source": location, "storage_location": location, "run_id": None, "model_id": None, "tags": {}}
    number, meta = find_version(store, ref)
    location = meta.get("storage_location") or meta.get("source")
    if not location:
        raise StoreError(f"version {number} of model {show(ref.name)} has no source or storage location")
    _require_dir(store, location, source)
    # MLflow's register_model gives the new version no tags (only its copy_model_version copies them)
    return {"source": f"models:/{ref.name}/{number}", "storage_location": location,
            "run_id": meta.get("run_id"), "model_id": meta.get("model_id"), "tags": {}}


def _source_from_run(store: Store, ref: uris.RunRef) -> dict:
    run = tracking.find_run(store, ref.run_id)
    path = validate_artifact_path(ref.path)
    location = run_location(run, path)
    if (location_path(store, location) / "MLmodel").is_file():
        return {"source": location, "storage_location": location, "run_id": ref.run_id, "model_id": None, "tags": {}}
    model = logged_model_named(store, run, path, newest_first=False) if path else None
    if model is None:
        raise NotFound(f"source {show(f'runs:/{ref.run_id}/{path}')} not found: "
                       f"the run has no {path or '.'}/MLmodel and no logged model named {show(path)}")
    _require_dir(store, model.get("artifact_location") or "", f"runs:/{ref.run_id}/{path}")
    return {"source": f"models:/{model['model_id']}", "storage_location": model["artifact_location"],
            "run_id": ref.run_id, "model_id": model["model_id"], "tags": {},
            "logged_model_dir": model["_dir"]}


def _require_dir(store: Store, location: str, source: str) -> None:
    if not location or not location_path(store, location).is_dir():
        raise NotFound(f"source {show(source)} not found: no artifacts at {location or '(no location)'}")


def register(store: Store, source: str, name: str, *, description: Optional[str] = None,
             tags: Optional[dict] = None, aliases: Iterable[str] = ()) -> dict:
    """Create a new version of ``name`` (creating the model if needed); return the version view."""
    validate_model_name(name, existing=store.model_exists(validate_lookup_name(name)))
    if prompts.is_prompt(store.root, name):
        raise prompts.name_taken(name)
    tags = dict(tags or {})
    for key, value in tags.items():
        validate_tag_key(key)
        validate_tag_value(key, value)
    aliases = [validate_alias(a) for a in aliases]
    origin = registration_source(store, source)  # before anything is created: a bad source changes nothing
    # Hash the artifacts before locking: it reads every file, and nobody needs to wait for that.
    from regctl import digest

    content_tags, content_files = digest.registration_record(store, origin["storage_location"] or origin["source"])
    _check_tag_paths({**origin["tags"], **tags, **content_tags})
    with store.lock(name):  # creates the store's models/ directory when needed
        now = now_ms()
        model_meta = store.read_yaml(layout.model_meta(store.root, name), missing_ok=True)
        if model_meta is None:
            validate_model_name(name)  # a new model after all (another writer deleted it meanwhile)
            model_meta = new_model_meta(name, now)
            if store.model_exists(name):  # a directory without meta.yaml, left by another tool
                store.write_model_meta(name, model_meta)
            else:
                store.create_model(name, model_meta)
            journal.record(store, "model.create", name, None, None, name)
        meta = new_version_meta(name, origin, description, now)
        number = store.create_version_dir(name, store.highest_version_number(name) + 1, meta,
                                          {**origin["tags"], **tags, **content_tags}, content_files)
        journal.record(store, "version.create", name, number, None, origin["source"])
        for alias in aliases:
            old = store.read_alias(name, alias)
            store.set_alias_file(name, alias, number)
            journal.record(store, "alias.set", name, alias, old, str(number))
        model_meta["last_updated_timestamp"] = now
        store.write_model_meta(name, model_meta)
    if origin.get("logged_model_dir"):
        _record_model_version(store, origin["logged_model_dir"], name, number)
    return version_view(store, name, store.read_version_meta(name, number), store.read_aliases(name))


def new_model_meta(name: str, now: int) -> dict:
    return {"aliases": {}, "creation_timestamp": now, "deployment_job_id": None,
            "deployment_job_state": None, "description": None, "last_updated_timestamp": now,
            "name": name, "workspace": "default"}


def new_version_meta(name: str, origin: dict, description: Optional[str], now: int) -> dict:
    return {"creation_timestamp": now, "current_stage": "None", "deployment_job_state": None,
            "description": description, "last_updated_timestamp": now, "model_id": origin["model_id"],
            "name": name, "run_id": origin["run_id"], "run_link": None, "source": origin["source"],
            "status": "READY", "status_message": None, "storage_location": origin["storage_location"],
            "user_id": None, "version": 0, "workspace": "default"}


def _record_model_version(store: Store, model_dir: Path, name: str, version: int) -> None:
    """Append to the logged model's ``mlflow.modelVersions`` tag, as MLflow 3 does."""
    import json

    with store.lock(f"logged-model:{model_dir.name}"):
        tag = model_dir / layout.TAGS_DIR / MODEL_VERSIONS_TAG
        try:
            entries = json.loads(tag.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            entries = []
        if not isinstance(entries, list):
            entries = []
        entries.append({"name": name, "version": version})
        store.set_tag(model_dir, MODEL_VERSIONS_TAG, json.dumps(entries))


# ---------------------------------------------------------------- aliases

def set_alias(store: Store, name: str, alias: str, version, *, expect: Optional[str] = None) -> dict:
    """Point ``alias`` at ``version``; with ``expect``, only if it points at that now ('none': unset)."""
    validate_lookup_name(name)
    validate_alias(alias)
    number = parse_version(version)
    expected = _parse_expect(expect)
    with store.lock(name):
        model_meta = store.read_model_meta(name)
        store.read_live_version_meta(name, number)
        old = store.read_alias(name, alias)
        if expect is not None and int_or_none(old) != expected:
            raise Conflict(f"alias {show(alias)} of {show(name)} points at {old or 'nothing'}, "
                           f"expected {expect}; not changed")
        if old == str(number):
            return {"name": name, "alias": alias, "old": number, "new": number, "changed": False}
        store.set_alias_file(name, alias, number)
        model_meta["last_updated_timestamp"] = now_ms()
        store.write_model_meta(name, model_meta)
        journal.record(store, "alias.set", name, alias, old, str(number))
    return {"name": name, "alias": alias, "old": int_or_none(old), "new": number, "changed": True}


def _parse_expect(expect: Optional[str]) -> Optional[int]:
    if expect is None or expect.lower() == "none":
        return None
    return parse_version(expect)


def delete_alias(store: Store, name: str, alias: str) -> dict:
    """Remove ``alias``; NotFound if it does not exist."""
    validate_lookup_name(name)
    validate_alias(alias, allow_reserved=True)
    with store.lock(name):
        model_meta = store.read_model_meta(name)
        old = store.read_alias(name, alias)
        if old is None:
            raise NotFound(f"alias {show(alias)} of model {show(name)} not found")
        store.delete_alias_file(name, alias)
        model_meta["last_updated_timestamp"] = now_ms()
        store.write_model_meta(name, model_meta)
        journal.record(store, "alias.delete", name, alias, old, None)
    return {"name": name, "alias": alias, "old": int_or_none(old), "new": None, "changed": True}


def rollback_alias(store: Store, name: str, alias: str) -> dict:
    """Move ``alias`` back to where it pointed before its last change, per the journal."""
    validate_lookup_name(name)
    validate_alias(alias)
    moves = history(store, name, alias)
    if not moves:
        raise NotFound(f"no recorded change of alias {show(alias)} of {show(name)} to roll back")
    last = moves[0]
    current = store.read_alias(name, alias)
    if last.get("new") != current:
        raise Conflict(f"alias {show(alias)} of {show(name)} was changed outside regctl; not rolled back")
    previous = last.get("old")
    if previous is None:
        return delete_alias(store, name, alias)
    return set_alias(store, name, alias, previous, expect=current)


# ------------------------------------------------------------------- tags

def _owner(store: Store, name: str, version) -> "tuple[Path, Optional[int]]":
    if version is None:
        return layout.model_dir(store.root, name), None
    number = parse_version(version)
    store.read_live_version_meta(name, number)
    return layout.version_dir(store.root, name, number), number


def set_tags(store: Store, name: str, tags: dict, version=None) -> dict:
    """Set model tags, or tags of ``version``."""
    validate_lookup_name(name)
    for key, value in tags.items():
        validate_tag_key(key)
        validate_tag_value(key, value)
    with store.lock(name):
        model_meta = store.read_model_meta(name)
        owner, number = _owner(store, name, version)
        current = store.read_files(owner / layout.TAGS_DIR)
        _check_tag_paths(tags, current)
        for key, value in tags.items():
            store.set_tag(owner, key, value)
            journal.record(store, "tag.set", name, _tag_target(key, number), current.get(key), value)
        model_meta["last_updated_timestamp"] = now_ms()
        store.write_model_meta(name, model_meta)
    return {"name": name, "version": number, "set": tags}


def delete_tags(store: Store, name: str, keys: list, version=None) -> dict:
    """Remove tags; NotFound (and nothing removed) if any key does not exist."""
    validate_lookup_name(name)
    for key in keys:
        validate_tag_key(key)
    with store.lock(name):
        model_meta = store.read_model_meta(name)
        owner, number = _owner(store, name, version)
        current = store.read_files(owner / layout.TAGS_DIR)
        missing = [k for k in keys if k not in current]
        if missing:
            where = f"version {number} of " if number else ""
            raise NotFound(f"tag {show(missing[0])} of {where}model {show(name)} not found")
        for key in keys:
            store.delete_tag(owner, key)
            journal.record(store, "tag.delete", name, _tag_target(key, number), current[key], None)
        model_meta["last_updated_timestamp"] = now_ms()
        store.write_model_meta(name, model_meta)
    return {"name": name, "version": number, "deleted": list(keys)}


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

def set_description(store: Store, name: str, text: str, version=None, alias=None) -> dict:
    """Replace the description of a model, or of one version given by number or alias."""
    validate_lookup_name(name)
    number = None if version is None else parse_version(version)
    with store.lock(name):
        now = now_ms()
        if number is None and alias is None:
            meta = store.read_model_meta(name)
            old = meta.get("description")
            meta.update(description=text, last_updated_timestamp=now)
            store.write_model_meta(name, meta)
            journal.record(store, "model.describe", name, None, old, text)
            return {"name": name, "version": None, "description": text}
        ref = uris.AliasRef(name, alias) if alias is not None else uris.VersionRef(name, number)
        number, meta = find_version(store, ref)  # the alias is read under the lock
        old = meta.get("description")
        meta.update(description=text, last_updated_timestamp=now)
        store.write_version_meta(name, number, meta)
        journal.record(store, "version.describe", name, f"version-{number}", old, text)
    return {"name": name, "version": number, "description": text}


def transition_stage(store: Store, name: str, version, stage: str, *, archive_existing: bool = False) -> dict:
    """MLflow's stage transition; with ``archive_existing`` other versions in the stage become Archived."""
    validate_lookup_name(name)
    number = parse_version(version)
    stage = canonical_stage(stage)
    if archive_existing and stage not in ACTIVE_STAGES:
        raise InvalidInput(f"--archive-existing needs an active stage (Staging or Production), not {stage}")
    archived = []
    with store.lock(name):
        model_meta = store.read_model_meta(name)
        meta = store.read_live_version_meta(name, number)
        now = now_ms()
        old = meta.get("current_stage")
        if archive_existing:
            for other in store.version_numbers(name):
                other_meta = store.read_version_meta(name, other)
                if other != number and other_meta.get("current_stage") == stage:
                    other_meta.update(current_stage="Archived", last_updated_timestamp=now)
                    store.write_version_meta(name, other, other_meta)
                    journal.record(store, "version.stage", name, f"version-{other}", stage, "Archived")
                    archived.append(other)
        meta.update(current_stage=stage, last_updated_timestamp=now)
        store.write_version_meta(name, number, meta)
        journal.record(store, "version.stage", name, f"version-{number}", old, stage)
        model_meta["last_updated_timestamp"] = now
        store.write_model_meta(name, model_meta)
    return {"name": name, "version": number, "old_stage": old, "current_stage": stage, "archived": archived}


# ------------------------------------------------------ rename and delete

def rename_model(store: Store, old: str, new: str) -> dict:
    """Rename a model with everything it has: tags, aliases, versions and their tags."""
    validate_lookup_name(old)
    validate_model_name(new)
    if old == new:
        raise InvalidInput(f"cannot rename {show(old)} to itself")
    first, second = sorted([old, new], key=lambda n: str(layout.model_lock(store.root, n)))
    with store.lock(first), store.lock(second):
        meta = store.read_model_meta(old)
        store.rename_model_dir(old, new)
        now = now_ms()
        for number in store.version_numbers(new):
            version_meta = store.read_version_meta(new, number)
            version_meta["name"] = new
            version_meta["last_updated_timestamp"] = now  # as MLflow's rename does, deleted versions too
            store.write_version_meta(new, number, version_meta)
        meta.update(name=new, last_updated_timestamp=now)
        store.write_model_meta(new, meta)
        journal.record(store, "model.rename", new, None, old, new)
    return {"old": old, "new": new}


def delete_model(store: Store, name: str) -> dict:
    """Delete a registered model and all its versions (MLflow's hard delete)."""
    validate_lookup_name(name)
    with store.lock(name):
        store.read_model_meta(name)
        versions = store.version_numbers(name)
        store.delete_model_dir(name)
        journal.record(store, "model.delete", name, None, f"{len(versions)} versions", None)
    return {"name": name, "version": None, "deleted": True}


def delete_version(store: Store, name: str, version) -> dict:
    """Soft-delete a version (stage Deleted_Internal) and remove the aliases pointing at it."""
    validate_lookup_name(name)
    number = parse_version(version)
    with store.lock(name):
        model_meta = store.read_model_meta(name)
        meta = store.read_live_version_meta(name, number)
        now = now_ms()
        old_stage = meta.get("current_stage")
        meta.update(current_stage=DELETED_STAGE, last_updated_timestamp=now)
        store.write_version_meta(name, number, meta)
        journal.record(store, "version.delete", name, f"version-{number}", old_stage, DELETED_STAGE)
        removed = []
        for alias, text in store.read_aliases(name).items():
            if int_or_none(text.strip()) == number:
                store.delete_alias_file(name, alias)
                journal.record(store, "alias.delete", name, alias, text, None)
                removed.append(alias)
        model_meta["last_updated_timestamp"] = now
        store.write_model_meta(name, model_meta)
    return {"name": name, "version": number, "deleted": True, "aliases_removed": removed}
