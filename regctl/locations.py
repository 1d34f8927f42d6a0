"""Turning stored locations (``file:`` URIs and plain paths) into local paths.

MLflow bakes absolute locations into meta files, so a store that was copied or
moved names its old place. When a location does not exist but the same
location relative to the store root does, that one is used.
"""

import os
from pathlib import Path

from regctl.errors import InvalidInput
from regctl.names import show


def location_to_path(location: str) -> Path:
    """Convert a ``file:`` URI (percent-decoded) or a plain path to an absolute path."""
    if location[:5].lower() == "file:":
        rest = location[5:]
        if rest.startswith("//"):
            host, slash, path = rest[2:].partition("/")
            if host and host != "localhost":
                raise InvalidInput(f"location {show(location)} is on another host")
            rest = slash + path
        if "%" in rest:
            from urllib.parse import unquote

            rest = unquote(rest)
        return Path(os.path.abspath(rest))
    return Path(os.path.abspath(location))


def path_to_location(path: Path) -> str:
    """The ``file://`` URI MLflow would write for a local path."""
    return Path(os.path.abspath(path)).as_uri()


def rebase(path: Path, root: Path) -> Path:
    """Return ``path`` if it exists, else the same tail under ``root`` if that exists.

    ``/old/place/mlruns/123/abc/artifacts/model`` missing, with the store now
    at ``root``: tries ``root/place/mlruns/123/...``, ``root/mlruns/123/...``,
    ``root/123/abc/...`` and so on; the first that exists wins. Costs one stat
    per path component, whatever the size of the store.
    """
    if exists(path):
        return path
    parts = path.parts[1:]
    for start in range(1, len(parts) - 1):  # keep at least two components
        candidate = root.joinpath(*parts[start:])
        if exists(candidate):
            return candidate
    return path


def exists(path: Path) -> bool:
    """``path.exists()``, False (not an exception) for names the OS cannot hold (too long, NUL bytes)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def store_root(option: "str | None", environ=os.environ, cwd: "str | None" = None) -> Path:
    """Where the store is: ``--store``, else ``REGCTL_STORE``, else MLflow's registry or
    tracking URI when it is a ``file:`` URI or a plain path, else ``./mlruns``."""
    for candidate in (option, environ.get("REGCTL_STORE")):
        if candidate:
            return _as_store_path(candidate, "--store/REGCTL_STORE")
    for variable in ("MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_URI"):
        value = environ.get(variable)
        if value and _is_local(value):
            return _as_store_path(value, variable)
    return Path(os.path.abspath(os.path.join(cwd or os.getcwd(), "mlruns")))


def _is_local(value: str) -> bool:
    head, sep, _ = value.partition(":")
    return not sep or head.lower() == "file" or len(head) == 1 or "/" in head


def _as_store_path(value: str, where: str) -> Path:
    if not _is_local(value):
        raise InvalidInput(f"{where}: {show(value)} is not a local store (file: URI or path)")
    return location_to_path(value)
