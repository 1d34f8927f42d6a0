"""``download``: copy the artifacts a URI points at into a new directory, digest checked.

The files are copied into a temporary directory beside the destination, checked
against the digest recorded at registration (when regctl recorded one), and
renamed into place: the destination holds the whole, checked copy or nothing.
Like ``mlflow artifacts download -u models:/...``, the artifacts' files land
directly in the destination (``DEST/MLmodel``). Writes nothing in the store.
"""

import os
import shutil
import tempfile
from pathlib import Path

from regctl.core import digest
from regctl.core.atomic import os_reason
from regctl.core.errors import Conflict, IntegrityError, StoreError
from regctl.core.names import show

TEMP_PREFIX = ".regctl-download-"


def download(backend, uri: str, dest: str, progress=None) -> dict:
    """Copy ``uri``'s artifacts to ``dest``; Conflict if ``dest`` is a file or a non-empty directory.

    ``backend``: any backend (``regctl.core.backend.Backend``); the copy is local, the store is only read.
    """
    resolution = backend.resolve(uri)
    fetch = getattr(backend, "fetch_files", None)  # a store whose files may be elsewhere (a server)
    if fetch is None and resolution.remote:
        from regctl.core.rules import remote_artifacts

        raise remote_artifacts(uri, resolution.path, "download")
    source = Path(resolution.path) if fetch is None else resolution.location
    target = Path(os.path.abspath(dest))
    _check_destination(target)
    recorded = None
    if resolution.version is not None:
        recorded = backend.recorded_digest(resolution.name, resolution.version)
    files = [] if fetch is not None else _listing(source)
    total = sum(size for _, _, size in files)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=target.parent))
    except OSError as exc:
        raise StoreError(f"cannot create {target}: {os_reason(exc)}") from None
    try:
        if fetch is not None:
            source, count = fetch(uri, temp)
            files = [(None, None, 0)] * count
            total = sum(_size(p) for p in temp.rglob("*") if p.is_file())
        done = 0
        counts_files = getattr(progress, "counts_files", False)  # a callback that also shows files done/total
        for count, (relative, path, size) in enumerate(files if fetch is None else [], 1):
            copied = temp / relative
            copied.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                os.symlink(os.readlink(path), copied)
            else:
                shutil.copyfile(path, copied)
            done += size
            if progress and counts_files:
                progress(done, total, files=(count, len(files)))
            elif progress:
                progress(done, total)
        if recorded is not None:
            single = fetch is None and not Path(source).is_dir()
            entries = digest.manifest(temp / Path(source).name) if single else digest.manifest(temp)
            actual = digest.digest_of(entries)
            if actual != recorded:
                raise IntegrityError(
                    f"the copy of {show(uri)} differs from what was registered; nothing was left at {target}: "
                    + backend.describe_difference(resolution.name, resolution.version, recorded, entries, actual))
        if uri.lower().startswith("models:") and resolution.version is not None \
                and not temp.joinpath(Path(source).name).is_file() and temp.joinpath("MLmodel").is_file():
            _write_model_meta(temp, resolution.name, _meta_version(uri, resolution.version))
        _check_destination(target)
        if target.is_dir():
            target.rmdir()  # empty, checked above
        os.rename(temp, target)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise StoreError(f"cannot copy {source} to {target}: {os_reason(exc)}") from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return {"uri": uri, "source": str(source), "dest": str(target), "files": len(files), "bytes": total,
            "name": resolution.name, "version": resolution.version, "digest": recorded}


def _write_model_meta(directory: Path, name: str, version) -> None:
    """``registered_model_meta``, as MLflow's download of a ``models:`` URI leaves beside ``MLmodel``."""
    import yaml

    text = yaml.safe_dump({"model_name": name, "model_version": version}, default_flow_style=False,
                          allow_unicode=True)
    directory.joinpath("registered_model_meta").write_text(text, encoding="utf-8")


def _meta_version(uri: str, version):
    """The version as MLflow records it: the number as the URI writes it, an alias's as the store
    answers it (a number), a stage's or ``latest``'s as text."""
    path = uri.partition(":")[2].lstrip("/")
    if "@" in path:
        return int(version)
    tail = path.rpartition("/")[2]
    return tail if tail.isdigit() else str(version)


def _check_destination(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise Conflict(f"destination {target} already exists and is not a directory")
    if target.is_dir():
        try:
            empty = not any(os.scandir(target))
        except OSError as exc:
            raise StoreError(f"cannot read {target}: {os_reason(exc)}") from None
        if not empty:
            raise Conflict(f"destination {target} is a directory that is not empty; nothing was copied")


def _listing(source: Path) -> list:
    """``(relative path, path, size)`` of every file (symbolic links kept as links) under ``source``."""
    if source.is_file() or source.is_symlink():
        return [(source.name, source, _size(source))]
    found = []

    def fail(exc: OSError):
        raise StoreError(f"cannot read {exc.filename}: {os_reason(exc)}")

    for parent, dirs, names in os.walk(source, onerror=fail):
        base = Path(parent)
        dirs.sort()
        for name in sorted(dirs):
            if (base / name).is_symlink():
                names.append(name)
        for name in sorted(names):
            path = base / name
            if path.is_symlink() or path.is_file():
                found.append((path.relative_to(source).as_posix(), path, _size(path)))
    return found


def _size(path: Path) -> int:
    return 0 if path.is_symlink() else path.stat().st_size
