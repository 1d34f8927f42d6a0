"""Copying artifact files: local trees, streamed downloads, and ``download`` for any backend."""

import contextlib
import os
import shutil
from pathlib import Path

from regctl.core.errors import Conflict, NotFound, StoreError
from regctl.core.names import show


def copy_tree(source: Path, dest: Path) -> int:
    """Copy the regular files under ``source`` (a directory or one file) into ``dest``; the number copied.

    Symbolic links are copied as links, as the digest records them.
    """
    source = Path(source)
    count = 0
    try:
        if source.is_file():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest / source.name)
            return 1
        for parent, dirs, files in os.walk(source):
            relative = Path(parent).relative_to(source)
            (dest / relative).mkdir(parents=True, exist_ok=True)
            for name in dirs + files:
                path = Path(parent) / name
                target = dest / relative / name
                if path.is_symlink():
                    os.symlink(os.readlink(path), target)
                    count += 1
                elif name in files:
                    shutil.copyfile(path, target)
                    count += 1
    except OSError as exc:
        raise StoreError(f"cannot copy {exc.filename or source}: {exc.strerror or exc}") from None
    return count


@contextlib.contextmanager
def write_stream(path: Path):
    """A sink writing chunks to ``path`` (its directories created); the file is removed on failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "wb")
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield handle.write
    except BaseException:
        handle.close()
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    handle.close()


def download(registry, uri: str, dest: str) -> dict:
    """Copy the files ``uri`` points at, in the registry's store, into the new or empty directory ``dest``."""
    target = Path(os.path.abspath(dest))
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Conflict(f"destination {show(str(target))} exists and is not an empty directory")
    backend = registry.backend
    fetch = getattr(backend, "fetch_files", None)
    try:
        if fetch is not None:
            location, count = fetch(uri, target)
        else:
            resolution = registry.resolve(uri)
            location, count = resolution.location, copy_tree(Path(resolution.path), target)
    except BaseException:
        if target.exists() and not any(target.iterdir()):
            target.rmdir()
        raise
    if count == 0:
        raise NotFound(f"no files at {location}")
    return {"uri": uri, "location": location, "path": str(target), "files": count}
