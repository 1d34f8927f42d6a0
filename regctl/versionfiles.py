"""A version's files as ``push`` and ``register --copy`` move them: the digest recorded for them,
where they are and whether they still match it, a local copy of them, a copy put into a target
store (removed again when its registration fails), and the scratch directory downloads go to."""

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from regctl.core import digest
from regctl.core.errors import IntegrityError, StoreError
from regctl.core.names import show
from regctl.core.rules import remote_artifacts

DIGEST_TAG = "regctl.content_digest"


def recorded_digest(registry, version) -> Optional[str]:
    """The digest regctl recorded for a version (its ``regctl.content_digest`` tag, else the backend's record)."""
    recorded = version.tags.get(DIGEST_TAG)
    if recorded:
        return recorded
    lookup = getattr(registry.backend, "recorded_digest", None)
    return lookup(version.name, version.version) if lookup is not None else None


def current_files(registry, version, keep: Optional[Path] = None) -> "tuple[str, dict, Optional[Path]]":
    """Where a version's files are, their manifest as they are now, read where they are, and where the
    files read were also written: ``keep`` (a new directory), when a server has read them through its
    proxy, else None."""
    files = getattr(registry.backend, "version_files", None)
    if files is not None:  # a server: without reading the version again
        return files(version.name, version.version, keep)
    uri = f"models:/{version.name}/{version.version}"
    resolution = registry.resolve(uri)  # NotFound when its files are gone
    path = Path(resolution.path) if not isinstance(resolution.path, str) else None
    if path is not None and path.exists():
        return str(path), digest.manifest(path), None
    remote = getattr(registry.backend, "remote_manifest", None)
    if remote is None and resolution.remote:
        raise remote_artifacts(uri, resolution.path, "push")
    if remote is None:
        raise StoreError(f"cannot read the files of {show(uri)} in {registry.location}")
    return resolution.location, remote(resolution.location), None


def version_digest(registry, version) -> str:
    """The content digest of a version: recorded by regctl if it was, else of its files hashed now."""
    return recorded_digest(registry, version) or digest.digest_of(current_files(registry, version)[1])


def check_files(registry, version, recorded: str, keep: Optional[Path] = None) -> "tuple[str, dict, Optional[Path]]":
    """IntegrityError, naming the files, unless a version's files still match the digest recorded for
    them; else what ``current_files`` found (the files kept in ``keep`` when a server sent them)."""
    location, current, kept = current_files(registry, version, keep)
    actual = digest.digest_of(current)
    if actual != recorded:
        difference = registry.backend.describe_difference(version.name, version.version, recorded, current, actual)
        raise IntegrityError(f"cannot push {show(f'models:/{version.name}/{version.version}')}: its artifacts at "
                             f"{location} differ from what was registered ({difference}); nothing was pushed")
    return location, current, kept


def local_files(registry, name: str, version: int, scratch: Path, checked: Optional[tuple] = None) -> Path:
    """A local directory holding the version's files: where they are, or fetched into ``scratch`` by
    a backend that fetches (a server: it resolves the version once, and copies or downloads).
    ``checked``: what ``current_files`` found: the files it kept are used as they are; else a
    server fetches those files without looking for them again, each checked against the manifest."""
    uri = f"models:/{name}/{version}"
    fetch_checked = getattr(registry.backend, "fetch_checked", None)
    if checked is not None and checked[2] is not None:
        return checked[2]
    if checked is not None and fetch_checked is not None:
        dest = Path(tempfile.mkdtemp(prefix=f"v{version}-", dir=scratch))
        fetch_checked(checked[0], checked[1], dest)
        return dest
    fetch = getattr(registry.backend, "fetch_files", None)
    if fetch is None:
        resolution = registry.resolve(uri)
        if not isinstance(resolution.path, str) and Path(resolution.path).exists():
            return Path(resolution.path)
        raise StoreError(f"cannot fetch the files of {show(uri)} from {registry.location}")
    dest = Path(tempfile.mkdtemp(prefix=f"v{version}-", dir=scratch))
    fetch(uri, dest)
    return dest


@contextlib.contextmanager
def imported_files(registry, local: Path):
    """Put ``local``'s files into the target store; yields the source URI to register. A copy that
    no version refers to when the block fails (an error, Ctrl-C, SIGTERM) is removed again."""
    backend = registry.backend
    importing = getattr(backend, "importing", None)
    if importing is not None:
        with importing(local) as uri:
            yield uri
        return
    upload = getattr(backend, "upload_model", None)
    if upload is None:
        raise StoreError(f"push cannot copy files into {registry.location}: its backend cannot store artifacts")
    yield upload(local)[0]


SCRATCH_PREFIX = "regctl-push-"


@contextlib.contextmanager
def scratch_directory():
    """A new ``regctl-push-<x>`` in the temporary directory for downloaded files, removed at the end
    (an error, Ctrl-C and SIGTERM included). It is held by a lock file beside it, ``regctl-push-<x>.lock``,
    taken before it is made: those a killed push left (their lock free) are removed first."""
    import os

    from regctl.core import atomic

    base = Path(tempfile.gettempdir())
    _remove_killed_scratch(base)
    name = SCRATCH_PREFIX + os.urandom(8).hex()
    with atomic.locked(base / f"{name}.lock", "a scratch directory"):
        scratch = base / name
        try:
            scratch.mkdir(mode=0o700)
        except OSError as exc:
            raise StoreError(f"cannot create {scratch}: {atomic.os_reason(exc)}") from None
        try:
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _remove_killed_scratch(base: Path) -> None:
    """Remove this user's scratch directories whose push is gone (its lock file is there, not held)."""
    import os

    from regctl.core import atomic

    try:
        entries = [e for e in os.scandir(base) if e.name.startswith(SCRATCH_PREFIX) and not e.name.endswith(".lock")]
    except OSError:
        return
    for entry in entries:
        lock = base / f"{entry.name}.lock"
        try:
            mine = entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_uid == os.getuid()
        except OSError:
            continue
        if mine and lock.is_file() and not lock.is_symlink() and not atomic.is_locked(lock):
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.lexists(entry.path):
                with contextlib.suppress(OSError):
                    os.unlink(lock)


def copied_directory(source: str):
    """The local directory ``register --copy`` copies: a path or ``file:`` URI naming a directory."""
    from regctl.core import uris
    from regctl.core.errors import InvalidInput
    from regctl.core.locations import location_to_path

    if not isinstance(uris.parse_uri(source), uris.PathRef):
        raise InvalidInput(f"--copy takes a local directory, not {show(source)}: runs:/ and models:/ "
                           "sources are in the store already")
    local = location_to_path(source)
    if not local.is_dir():
        reason = "not a directory" if local.exists() else "no such directory"
        raise InvalidInput(f"cannot copy {show(source)}: {reason}")
    return local


def copyable_files(source: str, local: Path) -> dict:
    """The digest's view of a directory ``register --copy`` copies (links followed), refusing what
    has no file content to copy: a dangling link, a link back up the tree, a FIFO or device."""
    from regctl.core.errors import InvalidInput

    entries = digest.manifest(local)
    for relative, entry in sorted(entries.items()):
        if entry == "special" or entry.startswith(("symlink:", "symlink-cycle:")):
            what = "a FIFO or device" if entry == "special" else "a link with nothing to copy behind it"
            raise InvalidInput(f"cannot copy {show(source)}: {relative} is {what}; --copy copies files")
    return entries


def staged_copy(local: Path, entries: dict, scratch: Path) -> Path:
    """``entries``' files (links followed) copied under ``scratch`` as plain files: what goes into the store."""
    staged = scratch / "copy"
    staged.mkdir()
    try:
        for relative in entries:
            target = staged / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local / relative, target)
    except OSError as exc:
        raise StoreError(f"cannot copy {exc.filename or local}: {exc.strerror or exc}") from None
    return staged
