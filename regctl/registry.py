"""The use cases: register, list, alias, tag, describe, stage, rename, delete.

Every write validates its input first, takes the model's lock, re-reads what
it changes under the lock, writes through ``Store`` and appends one journal
record per change. Results are plain dicts with MLflow's field names.
"""

import os
from pathlib import Path
from typing import Iterable, Optional

from regctl import layout, tracking, uris
from regctl.errors import Conflict, InvalidInput, NotFound, StoreError
from regctl.locations import location_to_path, rebase
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
from regctl.resolve import find_version, logged_model_named, resolve
from regctl.store import Store, now_ms

VERSION_FIELDS = (
    "name", "version", "creation_timestamp", "last_updated_timestamp", "current_stage",
    "description", "source", "run_id", "run_link", "status", "status_message", "user_id",
    "storage_location", "model_id",
)
MODEL_VERSIONS_TAG = "mlflow.modelVersions"
PROMPT_TAG = "mlflow.prompt.is_prompt"


# ------------------------------------------------------------------ views

def version_view(store: Store, name: str, meta: dict, aliases: dict) -> dict:
    """A version as MLflow's client returns it, plus ``tags`` and ``aliases``."""
    version = _int_or_none(meta.get("version"))
    view = {field: meta.get(field) for field in VERSION_FIELDS}
    view["version"] = version
    view["tags"] = store.read_version_tags(name, version) if version else {}
    view["aliases"] = sorted(a for a, v in aliases.items() if v == str(version))
    return view


def model_view(store: Store, name: str, meta: dict) -> dict:
    """A registered model with its tags, aliases and latest version number."""
    aliases = store.read_aliases(name)
    return {
        "name": meta.get("name", name),
        "creation_timestamp": meta.get("creation_timestamp"),
        "last_updated_timestamp": meta.get("last_updated_timestamp"),
        "description": meta.get("description"),
        "tags": store.read_model_tags(name),
        "aliases": {alias: _int_or_none(text.strip()) for alias, text in sorted(aliases.items())},
        "latest_version": latest_version_number(store, name),
    }


def latest_version_number(store: Store, name: str) -> Optional[int]:
    """Highest version number that is not soft-deleted, or None."""
    for number in store.version_numbers(name):
        meta = store.read_version_meta(name, number)
        if meta.get("current_stage") != DELETED_STAGE:
            return number
    return None


# ------------------------------------------------------------------ reads

def list_models(store: Store, *, include_prompts: bool = False, damaged: Optional[list] = None) -> list:
    """Every registered model (MLflow prompts hidden unless asked for).

    With a ``damaged`` list, unreadable models are skipped and their errors appended to it.
    """
    models = []
    for name in store.model_names():
        try:
            view = model_view(store, name, store.read_model_meta(name))
        except StoreError as exc:
            if damaged is None:
                raise
            damaged.append(exc)
            continue
        if include_prompts or view["tags"].get(PROMPT_TAG, "").lower() != "true":
            models.append(view)
    return models


def list_versions(store: Store, name: str, *, include_deleted: bool = False, limit: Optional[int] = None,
                  damaged: Optional[list] = None) -> list:
    """Versions newest first; soft-deleted ones only with ``include_deleted``.

    With a ``damaged`` list, unreadable versions are skipped and their errors appended to it.
    """
    validate_lookup_name(name)
    store.read_model_meta(name)
    aliases = store.read_aliases(name)
    versions = []
    for number in store.version_numbers(name):
        if limit is not None and len(versions) >= limit:
            break
        try:
            meta = store.read_version_meta(name, number)
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
    return {a: _int_or_none(t.strip()) for a, t in sorted(store.read_aliases(name).items())}


def describe_model(store: Store, name: str) -> dict:
    """Everything about a model: its view plus the latest version of each stage."""
    validate_lookup_name(name)
    view = model_view(store, name, store.read_model_meta(name))
    latest_by_stage = {}
    aliases = store.read_aliases(name)
    live = 0
    for number in store.version_numbers(name):
        meta = store.read_version_meta(name, number)
        stage = meta.get("current_stage")
        if stage == DELETED_STAGE:
            continue
        live += 1
        if stage not in latest_by_stage:
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
        info["artifact_path"] = str(resolve(store, f"models:/{name}/{version}").path)
    except NotFound:
        pass
    return info


def history(store: Store, name: Optional[str] = None, alias: Optional[str] = None) -> list:
    """Journal records, newest first, optionally for one model (and one alias)."""
    store.require()
    records = store.read_journal()
    if name is not None:
        records = [r for r in records if r.get("model") == name]
    if alias is not None:
        records = [r for r in records if r.get("operation") in ("alias.set", "alias.delete") and r.get("target") == alias]
    return list(reversed(records))


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
    resolve(store, f"models:/{ref.name}/{number}")  # its files must exist
    return {"source": f"models:/{ref.name}/{number}",
            "storage_location": meta.get("storage_location") or meta.get("source"),
            "run_id": meta.get("run_id"), "model_id": meta.get("model_id"),
            "tags": store.read_version_tags(ref.name, number)}


def _source_from_run(store: Store, ref: uris.RunRef) -> dict:
    run = tracking.find_run(store, ref.run_id)
    path = validate_artifact_path(ref.path)
    artifact_uri = (run.get("artifact_uri") or "").rstrip("/")
    location = f"{artifact_uri}/{path}" if path else artifact_uri
    if (rebase(location_to_path(location), store.root) / "MLmodel").is_file():
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
    if not location or not rebase(location_to_path(location), store.root).is_dir():
        raise NotFound(f"source {show(source)} not found: no artifacts at {location or '(no location)'}")


def register(store: Store, source: str, name: str, *, description: Optional[str] = None,
             tags: Optional[dict] = None, aliases: Iterable[str] = ()) -> dict:
    """Create a new version of ``name`` (creating the model if needed); return the version view."""
    validate_model_name(name)
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
            if not store.model_exists(name):
                store.create_model_dir(name)
            model_meta = new_model_meta(name, now)
            store.write_model_meta(name, model_meta)
            _journal(store, "model.create", name, None, None, name)
        meta = new_version_meta(name, origin, description, now)
        number = store.create_version_dir(name, store.highest_version_number(name) + 1, meta,
                                          {**origin["tags"], **tags, **content_tags}, content_files)
        _journal(store, "version.create", name, number, None, origin["source"])
        for alias in aliases:
            old = store.read_alias(name, alias)
            store.set_alias_file(name, alias, number)
            _journal(store, "alias.set", name, alias, old, str(number))
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
        if expect is not None and _int_or_none(old) != expected:
            raise Conflict(f"alias {show(alias)} of {show(name)} points at {old or 'nothing'}, "
                           f"expected {expect}; not changed")
        if old == str(number):
            return {"name": name, "alias": alias, "old": number, "new": number, "changed": False}
        store.set_alias_file(name, alias, number)
        model_meta["last_updated_timestamp"] = now_ms()
        store.write_model_meta(name, model_meta)
        _journal(store, "alias.set", name, alias, old, str(number))
    return {"name": name, "alias": alias, "old": _int_or_none(old), "new": number, "changed": True}


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
        _journal(store, "alias.delete", name, alias, old, None)
    return {"name": name, "alias": alias, "old": _int_or_none(old), "new": None, "changed": True}


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
            _journal(store, "tag.set", name, _tag_target(key, number), current.get(key), value)
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
            _journal(store, "tag.delete", name, _tag_target(key, number), current[key], None)
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

def set_description(store: Store, name: str, text: str, version=None) -> dict:
    """Replace the description of a model or of one version."""
    validate_lookup_name(name)
    with store.lock(name):
        now = now_ms()
        if version is None:
            meta = store.read_model_meta(name)
            old = meta.get("description")
            meta.update(description=text, last_updated_timestamp=now)
            store.write_model_meta(name, meta)
            _journal(store, "model.describe", name, None, old, text)
            return {"name": name, "version": None, "description": text}
        number = parse_version(version)
        meta = store.read_live_version_meta(name, number)
        old = meta.get("description")
        meta.update(description=text, last_updated_timestamp=now)
        store.write_version_meta(name, number, meta)
        _journal(store, "version.describe", name, f"version-{number}", old, text)
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
                    _journal(store, "version.stage", name, f"version-{other}", stage, "Archived")
                    archived.append(other)
        meta.update(current_stage=stage, last_updated_timestamp=now)
        store.write_version_meta(name, number, meta)
        _journal(store, "version.stage", name, f"version-{number}", old, stage)
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
            store.write_version_meta(new, number, version_meta)
        meta.update(name=new, last_updated_timestamp=now)
        store.write_model_meta(new, meta)
        _journal(store, "model.rename", new, None, old, new)
    return {"old": old, "new": new}


def delete_model(store: Store, name: str) -> dict:
    """Delete a registered model and all its versions (MLflow's hard delete)."""
    validate_lookup_name(name)
    with store.lock(name):
        store.read_model_meta(name)
        versions = store.version_numbers(name)
        store.delete_model_dir(name)
        _journal(store, "model.delete", name, None, f"{len(versions)} versions", None)
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
        _journal(store, "version.delete", name, f"version-{number}", old_stage, DELETED_STAGE)
        removed = []
        for alias, text in store.read_aliases(name).items():
            if _int_or_none(text.strip()) == number:
                store.delete_alias_file(name, alias)
                _journal(store, "alias.delete", name, alias, text, None)
                removed.append(alias)
        model_meta["last_updated_timestamp"] = now
        store.write_model_meta(name, model_meta)
    return {"name": name, "version": number, "deleted": True, "aliases_removed": removed}


# ---------------------------------------------------------------- helpers

def actor() -> str:
    """Who is writing: the local user, plus the CI identity when one is present."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    ci = os.environ.get("GITHUB_ACTOR")
    if ci:
        run = ""
        if os.environ.get("GITHUB_RUN_ID"):
            server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
            run = f" {server}/{os.environ.get('GITHUB_REPOSITORY', '')}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
        return f"{user} (github:{ci}{run})"
    for variable in ("CI_JOB_URL", "BUILD_URL", "CIRCLE_BUILD_URL"):
        if os.environ.get(variable):
            return f"{user} ({os.environ[variable]})"
    return user


def _journal(store: Store, operation: str, model: str, target, old, new) -> None:
    import socket

    store.append_journal({
        "time": now_ms(), "user": actor(), "host": socket.gethostname(), "operation": operation,
        "model": model, "target": target, "old": old, "new": new,
    })


def _int_or_none(value) -> Optional[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
