"""From a URI to the local directory holding the model's artifacts.

A point lookup reads a constant number of files: an alias file and one
version meta.yaml for ``@alias``, one meta.yaml for ``/<version>``. Only
``latest`` and stage lookups walk versions, newest first, and stop at the
first match. Imports nothing beyond the standard library and PyYAML.
"""

from regctl.backends.file.store import Store
from regctl.core import prompts, uris
from regctl.core.errors import StoreError
from regctl.core.locations import exists, location_to_path, stored_path
from regctl.core.names import (
    DELETED_STAGE,
    canonical_stage,
    show,
    validate_alias,
    validate_artifact_path,
    validate_lookup_name,
)
from regctl.core.resolution import MAX_DEPTH, Resolution, alias_version, run_location, too_deep
from regctl.core.resolution import stored_text as _text


def find_version(store: Store, ref) -> "tuple[int, dict]":
    """The (version, meta) a ``models:/<name>...`` reference designates; NotFound otherwise."""
    name = validate_lookup_name(ref.name)
    if store.is_prompt(name):
        raise prompts.not_found(name)
    if isinstance(ref, uris.VersionRef):
        return ref.version, store.read_live_version_meta(name, ref.version)
    if isinstance(ref, uris.AliasRef):
        validate_alias(ref.alias, allow_reserved=True)
        text = store.read_alias(name, ref.alias)
        if text is None:
            store.read_model_meta(name)  # NotFound for a missing model first
            from regctl.core.rules import alias_not_found  # (loaded on the error path only)

            raise alias_not_found(store, name, ref.alias)
        version = alias_version(text)
        if version is None:
            raise StoreError(f"damaged alias {show(ref.alias)} of model {show(name)}: {show(text)} is not a version")
        return version, store.read_live_version_meta(name, version)
    stage = None if isinstance(ref, uris.LatestRef) else canonical_stage(ref.stage)
    for version, meta in store.version_metas(name):
        current = meta.get("current_stage")
        if current != DELETED_STAGE and (stage is None or current == stage):
            return version, meta
    from regctl.core.rules import no_versions  # (loaded on the error path only)

    raise no_versions(name, stage)


def resolve(store: Store, uri: str, _depth: int = 0) -> Resolution:
    """Resolve ``uri`` to an existing local artifact directory (NotFound if it is missing)."""
    ref = uris.parse_uri(uri)
    if isinstance(ref, uris.PathRef):  # the user's own path: taken as it is, never rebased into the store
        return _existing(Resolution(uri, uri, location_to_path(uri)))
    if isinstance(ref, uris.RunRef):
        return _existing(resolve_run(store, ref, uri, _depth))
    if isinstance(ref, uris.LoggedModelRef):
        from regctl.backends.file import tracking  # runs and logged models: read for these URIs only

        model = tracking.find_logged_model(store, ref.model_id)
        location = _text(model.get("artifact_location"), f"artifact_location of logged model {ref.model_id}")
        return _existing(Resolution(uri, location, location_path(store, location, _depth),
                                    model_id=ref.model_id, run_id=model.get("source_run_id")))
    store.require()
    version, meta = find_version(store, ref)
    return resolve_version(store, ref.name, version, meta, uri, _depth)


def resolve_version(store: Store, name: str, version: int, meta: dict, uri: str, _depth: int = 0) -> Resolution:
    """Where the files of a version already found are; ``uri`` only labels the result.

    Callers holding a name use this rather than building a ``models:/`` URI from
    it: a name MLflow allows (``what?``) need not survive being parsed as a URI.
    """
    location = _text(meta.get("storage_location") or meta.get("source") or "", f"location of version {version}")
    if not location:
        raise StoreError(f"version {version} of model {show(name)} has no source or storage location")
    path = location_path(store, location, _depth)
    return _existing(Resolution(uri, location, path, name, version, meta.get("model_id"), meta.get("run_id")))


def location_path(store: Store, location: str, _depth: int = 0):
    """The local path a stored location names, ``runs:``/``models:`` ones followed; it may not exist.
    A remote location (``s3:``, ``mlflow-artifacts:``, ...) is the URI itself, a ``str``."""
    if uris.scheme_of(location) in ("runs", "models"):
        if _depth >= MAX_DEPTH:
            raise too_deep(location)
        return resolve(store, location, _depth + 1).path
    return stored_path(location, store.root)


def resolve_run(store: Store, ref: uris.RunRef, uri: str, _depth: int = 0) -> Resolution:
    """``runs:/<id>/<path>``: the run's artifacts, else (MLflow 3) its logged model of that name."""
    from regctl.backends.file import tracking

    run = tracking.find_run(store, ref.run_id)
    path = validate_artifact_path(ref.path)
    location = run_location(run, path)
    local = location_path(store, location, _depth)
    if not path or (not isinstance(local, str) and exists(local)):  # a remote run's: its logged model, if any
        return Resolution(uri, location, local, run_id=ref.run_id)
    model = logged_model_named(store, run, path.split("/")[0], newest_first=True)
    if model is None:
        return Resolution(uri, location, local, run_id=ref.run_id)
    rest = path.split("/", 1)[1] if "/" in path else ""
    model_location = _text(model.get("artifact_location") or "", f"artifact_location of logged model "
                                                                 f"{model.get('model_id')}").rstrip("/")
    location = f"{model_location}/{rest}" if rest else model_location
    return Resolution(uri, location, location_path(store, location, _depth), model_id=model.get("model_id"),
                      run_id=ref.run_id)


def logged_model_named(store: Store, run: dict, name: str, *, newest_first: bool):
    """The run's logged model called ``name``: the newest (download rule) or the highest step (registration rule)."""
    from regctl.backends.file import tracking

    candidates = [m for m in tracking.logged_models_of_run(store, run) if m.get("name") == name]
    if not candidates:
        return None
    if newest_first:
        candidates.sort(key=lambda m: (-(m.get("creation_timestamp") or 0), m.get("model_id") or ""))
    else:
        candidates.sort(key=lambda m: (-m["_step"], -(m.get("creation_timestamp") or 0)))
    return candidates[0]


def _existing(resolution: Resolution) -> Resolution:
    if not resolution.remote and not exists(resolution.path):
        from regctl.core.rules import artifacts_missing  # (loaded on the error path only)

        raise artifacts_missing(resolution.uri, resolution.path)
    return resolution
