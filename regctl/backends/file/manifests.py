"""The file store's record of what was registered: each version's manifest, and ``verify``.

The digest itself (what is hashed, how) is ``digest``'s; this module keeps it in
``.regctl%manifest.json`` inside the version directory and checks a version against it.
"""

import json
from typing import Optional

from regctl.backends.file import layout
from regctl.backends.file.resolve import location_path, resolve
from regctl.core.atomic import read_file
from regctl.core.digest import (
    ALGORITHM,
    DIGEST_TAG,
    MANIFEST_FILE,
    digest_of,
    manifest,
    manifest_bytes,
    name_differences,
)
from regctl.core.errors import IntegrityError, InvalidInput, StoreError
from regctl.core.names import show
from regctl.core.rules import no_digest, remote_artifacts


def registration_record(store, location: str) -> "tuple[dict, dict]":
    """``(tags, files)`` to store with a new version whose artifacts are at ``location``.

    No tags: the digest lives in the manifest file only; none for files at a remote location.
    """
    path = location_path(store, location)
    if isinstance(path, str):  # at a remote location: registered as MLflow does, without reading the files
        return {}, {}
    entries = manifest(path)
    return {}, {MANIFEST_FILE: manifest_bytes(digest_of(entries), entries)}


def read_manifest(store, name: str, version: int) -> Optional[dict]:
    """The version's manifest; None when there is none; StoreError when it cannot be read."""
    path = store.inside(layout.version_dir(store.root, name, version) / MANIFEST_FILE)
    try:
        data = json.loads(read_file(path).decode("utf-8", "surrogateescape"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StoreError(f"damaged file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not isinstance(data, dict):
        raise StoreError(f"damaged file {path}: not a JSON object")
    return data


def recorded_manifest(store, name: str, version: int) -> Optional[dict]:
    """The per-file hashes stored at registration, or None when absent or unreadable."""
    try:
        data = read_manifest(store, name, version)
    except StoreError:
        return None
    if data is None or not isinstance(data.get("files"), dict):
        return None
    return data


def recorded_digest(store, name: str, version: int) -> Optional[str]:
    """The digest recorded for a version: the manifest's, or a regctl 0.1 tag's; None if neither.

    StoreError when the manifest is damaged and no tag stands in for it;
    IntegrityError when both are present and disagree (one was edited).
    """
    tag = store.read_version_tags(name, version).get(DIGEST_TAG)
    try:
        data = read_manifest(store, name, version)
    except StoreError:
        if tag is None:
            raise
        data = None
    in_manifest = None if data is None else data.get("digest")
    if in_manifest is not None and tag is not None and in_manifest != tag:
        raise IntegrityError(f"version {version} of model {show(name)}: the digest in {MANIFEST_FILE} "
                             f"({show(str(in_manifest))}) and the {DIGEST_TAG} tag ({show(tag)}) disagree")
    if data is not None and in_manifest is None and tag is None:
        raise StoreError(f"damaged file {layout.version_dir(store.root, name, version) / MANIFEST_FILE}: no digest")
    if in_manifest is None and tag is None:
        return journalled_digest(store, name, version)
    return in_manifest if in_manifest is not None else tag


def journalled_digest(store, name: str, version: int) -> Optional[str]:
    """The digest of the journal's ``version.create`` record of this version, whatever the model
    is called now (MLflow's rename drops the manifest): the record naming the version's number,
    source and creation time, which a rename does not change."""
    from regctl.core import journal

    meta = store.read_version_meta(name, version) or {}
    created, source = meta.get("creation_timestamp"), meta.get("source")
    path = store.journal_path()
    if created is None or not path.is_file():
        return None
    offset = store.journal_creations().get((version, created))
    entry = None if offset is None else journal.creation_at(path, offset, version, created)
    if entry is None or entry.get("new") != source:
        return None
    return entry["digest"]


def verify(store, uri: str) -> dict:
    """Recompute the digest of the version ``uri`` names; IntegrityError on any difference."""
    resolution = resolve(store, uri)
    if resolution.version is None:
        raise InvalidInput(f"cannot verify {show(uri)}: only models:/ URIs of registered versions have a digest")
    if resolution.remote:
        raise remote_artifacts(uri, resolution.path, "verify")
    name, version = resolution.name, resolution.version
    recorded = recorded_digest(store, name, version)
    if recorded is None:
        raise no_digest(name, version)
    if not isinstance(recorded, str) or not recorded.startswith(ALGORITHM + ":") or len(recorded) != len(ALGORITHM) + 65:
        raise StoreError(f"damaged digest of version {version} of model {show(name)}: {show(str(recorded))}")
    current = manifest(resolution.path)
    actual = digest_of(current)
    if actual != recorded:
        raise IntegrityError(
            f"artifacts of {show(uri)} at {resolution.path} differ from what was registered: "
            + describe_difference(store, name, version, recorded, current, actual)
        )
    return {"uri": uri, "name": name, "version": version, "path": str(resolution.path),
            "digest": actual, "files": len(current)}


def describe_difference(store, name: str, version: int, recorded: str, current: dict, actual: str) -> str:
    """Which files changed, were added or were removed, as far as the manifest tells."""
    stored = recorded_manifest(store, name, version)
    return name_differences(stored["files"] if stored is not None else None, recorded, current, actual)
