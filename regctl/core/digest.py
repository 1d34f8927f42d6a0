"""Content digests of registered artifacts, recorded at registration and checked by ``verify``.

The digest of an artifact tree is ``sha256:<hex>``, the SHA-256 of one line per
regular file, in byte order of the relative paths::

    <relative/path> NUL <sha256 hex of the file's bytes> LF

The digest covers what the files are, wherever symbolic links lead: a
symlinked artifact root is followed, a link to a file contributes the hash of
the file behind it, and a link to a directory is walked like a directory
(a link back to a directory already being walked contributes
``symlink-cycle:<target>``, a dangling link ``symlink:<target>``). So a change
behind a link is seen by ``verify``. A single-file artifact is a tree of that
one file, named by its base name.

At registration the digest and the per-file hashes go into
``.regctl%manifest.json`` in the version directory, a plain file that MLflow
ignores, so a later difference can be named file by file. regctl adds no tag
the user did not ask for: MLflow's file store cannot rename a model whose
versions carry any tag. Versions registered by regctl 0.1 carry the digest in
the version tag ``regctl.content_digest`` as well; ``verify`` still reads it,
and ``doctor --fix`` moves it into the manifest.
"""

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

from regctl.core.atomic import os_reason
from regctl.core.errors import NotFound, StoreError
from regctl.core.names import show

DIGEST_TAG = "regctl.content_digest"  # regctl 0.1 only; see the module docstring
MANIFEST_FILE = ".regctl%manifest.json"
# What MLflow itself writes into a model's directory when it loads the model (``pyfunc.load_model``
# of a ``models:/`` URI on a local store): not part of what was registered, so never hashed.
MLFLOW_LOAD_FILES = ("registered_model_meta",)
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
        raise StoreError(f"cannot read {path}: {os_reason(exc)}") from None
    return digest.hexdigest()


def manifest(root: Path) -> dict:
    """``{relative/path: sha256 hex | 'symlink:<target>' | ...}`` for every file under ``root``, links followed."""
    root = Path(root)
    if root.is_file():  # a file, or a link to one
        return {root.name: _entry(root)}
    if not root.is_dir():
        raise NotFound(f"artifacts not found at {root}")
    entries = {}
    stack: list[tuple[Path, str, tuple[str, ...]]] = [(root, "", (os.path.realpath(root),))]
    while stack:
        directory, prefix, ancestors = stack.pop()
        try:
            with os.scandir(directory) as listing:
                children = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            raise StoreError(f"cannot read {directory}: {os_reason(exc)}") from None
        for child in children:
            if not prefix and child.name in MLFLOW_LOAD_FILES:
                continue
            relative = prefix + child.name
            path = Path(child.path)
            try:
                is_dir = child.is_dir()  # follows a link
            except OSError:
                is_dir = False
            if is_dir:
                real = os.path.realpath(path)
                if real in ancestors:  # a link back up the tree: record it, never walk in circles
                    entries[relative] = "symlink-cycle:" + os.readlink(path)
                else:
                    stack.append((path, relative + "/", ancestors + (real,)))
            else:
                entries[relative] = _entry(path)
    return entries


def _entry(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return "symlink:" + os.readlink(path)  # dangling: nothing behind it to hash
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


def manifest_bytes(digest: str, entries: Optional[dict]) -> bytes:
    """The manifest file for ``digest``, with the per-file hashes when they are known."""
    data: dict = {"algorithm": ALGORITHM, "digest": digest}
    if entries is not None:
        data["files"] = dict(sorted(entries.items()))
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    return text.encode("utf-8", "surrogateescape")


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
