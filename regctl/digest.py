"""Content digests of registered artifacts, recorded at registration and checked by ``verify``.

The digest of an artifact tree is ``sha256:<hex>``, the SHA-256 of one line per
regular file, in byte order of the relative paths::

    <relative/path> NUL <sha256 hex of the file's bytes> LF

Symbolic links are not followed: a link contributes ``symlink:<target>`` in
place of a file hash, so a link cannot pull content from outside the tree.
A single-file artifact is a tree of that one file, named by its base name.

At registration the digest goes into the version tag ``regctl.content_digest``
(visible to MLflow) and the per-file hashes into ``.regctl%manifest.json`` in
the version directory (a plain file, which MLflow ignores), so a later
difference can be named file by file.
"""

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

from regctl import layout
from regctl.errors import IntegrityError, InvalidInput, NotFound, StoreError
from regctl.names import show

DIGEST_TAG = "regctl.content_digest"
MANIFEST_FILE = ".regctl%manifest.json"
ALGORITHM = "sha256"
_CHUNK = 1 << 20
_MAX_NAMED = 5


def file_hash(path: Path) -> str:
    """SHA-256 hex of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while True:
                chunk = handle.read(_CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def manifest(root: Path) -> dict:
    """``{relative/path: sha256 hex | 'symlink:<target>'}`` for every file under ``root``."""
    root = Path(root)
    if root.is_symlink() or root.is_file():
        return {root.name: _entry(root)}
    if not root.is_dir():
        raise NotFound(f"artifacts not found at {root}")
    entries = {}

    def fail(exc: OSError):
        raise StoreError(f"cannot read {exc.filename}: {exc.strerror or exc}")

    for parent, dirs, files in os.walk(root, onerror=fail):
        base = Path(parent)
        for name in dirs:
            if (base / name).is_symlink():  # os.walk lists links to directories here and never enters them
                files.append(name)
        for name in files:
            path = base / name
            relative = path.relative_to(root).as_posix()
            entries[relative] = _entry(path)
    return entries


def _entry(path: Path) -> str:
    if path.is_symlink():
        return "symlink:" + os.readlink(path)
    if not path.is_file():  # a FIFO or device: never open it (it could block or never end)
        return "special"
    return file_hash(path)


def digest_of(entries: dict) -> str:
    """The tree digest (``sha256:<hex>``) of a manifest."""
    digest = hashlib.sha256()
    for relative in sorted(entries, key=_sort_key):
        digest.update(_sort_key(relative) + b"\0" + entries[relative].encode("utf-8", "surrogateescape") + b"\n")
    return f"{ALGORITHM}:{digest.hexdigest()}"


def _sort_key(relative: str) -> bytes:
    return relative.encode("utf-8", "surrogateescape")


def tree_digest(root: Path) -> str:
    """The digest of the artifact tree at ``root``."""
    return digest_of(manifest(root))


def registration_record(store, location: str) -> "tuple[dict, dict]":
    """``(tags, files)`` to store with a new version whose artifacts are at ``location``."""
    from regctl.resolve import location_path

    entries = manifest(location_path(store, location))
    digest = digest_of(entries)
    data = {"algorithm": ALGORITHM, "digest": digest, "files": dict(sorted(entries.items()))}
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    return {DIGEST_TAG: digest}, {MANIFEST_FILE: text.encode("utf-8", "surrogateescape")}


def recorded_manifest(store, name: str, version: int) -> Optional[dict]:
    """The per-file hashes stored at registration, or None when absent or unreadable."""
    path = layout.version_dir(store.root, name, version) / MANIFEST_FILE
    try:
        data = json.loads(path.read_bytes().decode("utf-8", "surrogateescape"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return None
    return data


def verify(store, uri: str) -> dict:
    """Recompute the digest of the version ``uri`` names; IntegrityError on any difference."""
    from regctl.resolve import resolve

    resolution = resolve(store, uri)
    if resolution.version is None:
        raise InvalidInput(f"cannot verify {show(uri)}: only models:/ URIs of registered versions have a digest")
    name, version = resolution.name, resolution.version
    recorded = store.read_version_tags(name, version).get(DIGEST_TAG)
    if recorded is None:
        raise NotFound(f"version {version} of model {show(name)} has no {DIGEST_TAG} tag "
                       "(it was not registered by regctl); nothing to verify")
    if not recorded.startswith(ALGORITHM + ":") or len(recorded) != len(ALGORITHM) + 65:
        raise StoreError(f"damaged {DIGEST_TAG} tag of version {version} of model {show(name)}: {show(recorded)}")
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


def name_differences(before: Optional[dict], recorded: str, current: dict, actual: str) -> str:
    """Which files changed, were added or were removed, given the recorded per-file hashes (or None)."""
    if not isinstance(before, dict) or digest_of(before) != recorded:
        return f"digest is {actual}, recorded {recorded} (no intact file list to name the files)"
    changed = sorted(k for k in current if k in before and current[k] != before[k])
    added = sorted(k for k in current if k not in before)
    removed = sorted(k for k in before if k not in current)
    parts = []
    for label, keys in (("changed", changed), ("added", added), ("removed", removed)):
        if keys:
            more = f" and {len(keys) - _MAX_NAMED} more" if len(keys) > _MAX_NAMED else ""
            parts.append(f"{label} {', '.join(show(k) for k in keys[:_MAX_NAMED])}{more}")
    return "; ".join(parts)
