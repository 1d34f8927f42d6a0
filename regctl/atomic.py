"""The one write path: a per-model file lock and atomic file replacement.

Readers never see a half-written file: every file is written completely to a
temporary file beside its directory, flushed and fsynced, then renamed over
its target. Temporary files start with ``.regctl-tmp-`` and are never placed
inside ``tags/`` or ``aliases/`` (MLflow reads every file there as data).
"""

import contextlib
import errno
import os
from pathlib import Path

from regctl.errors import StoreError
from regctl.layout import TEMP_PREFIX

DEFAULT_LOCK_TIMEOUT = 60.0


def lock_timeout() -> float:
    """Seconds to wait for a model's lock (``REGCTL_LOCK_TIMEOUT``, default 60)."""
    raw = os.environ.get("REGCTL_LOCK_TIMEOUT", "")
    try:
        return float(raw) if raw else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT


@contextlib.contextmanager
def locked(lock_path: Path, what: str):
    """Hold an exclusive advisory lock on ``lock_path`` for the duration of the block.

    The lock is an flock(2) on an open file: the kernel releases it when the
    holder exits, even on SIGKILL, so a crashed writer never blocks others.
    On POSIX this calls fcntl directly (what filelock does underneath): importing
    filelock costs tens of milliseconds, a large share of a command's run time.
    Elsewhere filelock provides the same lock.
    """
    timeout = lock_timeout()
    try:
        import fcntl
    except ImportError:  # not POSIX
        with _filelock(lock_path, what, timeout):
            yield
        return
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise StoreError(f"cannot lock {what}: {describe_os_error(exc, lock_path)} (lock file {lock_path})") from None
    try:
        _flock_with_timeout(fcntl, fd, timeout, lock_path, what)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _flock_with_timeout(fcntl, fd: int, timeout: float, lock_path: Path, what: str) -> None:
    import time

    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"could not lock {what} within {timeout:g}s (lock file {lock_path}); "
                    "another writer holds it"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        except OSError as exc:
            raise StoreError(f"cannot lock {what}: {describe_os_error(exc, lock_path)}") from None


@contextlib.contextmanager
def _filelock(lock_path: Path, what: str, timeout: float):
    import filelock

    lock = filelock.FileLock(str(lock_path), timeout=timeout, mode=0o666)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise StoreError(
            f"could not lock {what} within {timeout:g}s (lock file {lock_path}); another writer holds it"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot lock {what}: {describe_os_error(exc, lock_path)}") from None
    try:
        yield
    finally:
        lock.release()


def temp_name() -> str:
    return TEMP_PREFIX + os.urandom(8).hex()


def write_bytes(target: Path, data: bytes, temp_dir: "Path | None" = None) -> None:
    """Replace ``target`` with ``data`` atomically (temp file, fsync, rename)."""
    temp_dir = temp_dir or target.parent
    temp = temp_dir / temp_name()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
        fsync_dir(target.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise StoreError(f"cannot write {target}: {describe_os_error(exc, target)}") from None


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_file(target: Path) -> bool:
    """Remove ``target`` and now-empty parent directories up to its tags/aliases root."""
    try:
        os.unlink(target)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreError(f"cannot remove {target}: {describe_os_error(exc, target)}") from None
    fsync_dir(target.parent)
    return True


def rename_dir(source: Path, target: Path) -> bool:
    """Rename a directory; False when ``target`` exists and is not empty."""
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise StoreError(f"cannot rename {source} to {target}: {describe_os_error(exc, target)}") from None
    fsync_dir(target.parent)
    return True


def describe_os_error(exc: OSError, path: Path) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EROFS:
        return "permission denied (read-only file system)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return reason
