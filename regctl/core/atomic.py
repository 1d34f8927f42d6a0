"""The one write path: a per-model file lock and atomic file replacement.

Readers never see a half-written file: every file is written completely to a
temporary file beside its directory, flushed and fsynced, then renamed over
its target. Temporary files start with ``.regctl-tmp-`` and are never placed
inside ``tags/`` or ``aliases/`` (MLflow reads every file there as data).
"""

import contextlib
import errno
import os
import sys
import time
from pathlib import Path

from regctl.core.errors import InvalidInput, StoreError
from regctl.core.names import TEMP_PREFIX

DEFAULT_LOCK_TIMEOUT = 60.0


def now_ms() -> int:
    """Milliseconds since the epoch, as MLflow stamps its records."""
    return int(time.time() * 1000)


def lock_timeout() -> float:
    """Seconds to wait for a model's lock (``REGCTL_LOCK_TIMEOUT``, default 60)."""
    raw = os.environ.get("REGCTL_LOCK_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    import math

    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"REGCTL_LOCK_TIMEOUT={raw!r}: must be a number of seconds, 0 or more")
    return value


@contextlib.contextmanager
def signals_held():
    """Hold SIGINT, SIGTERM and SIGHUP back while a change is applied; they take effect right after."""
    import signal

    wanted = {signal.SIGINT, signal.SIGTERM, *(getattr(signal, n) for n in ("SIGHUP",) if hasattr(signal, n))}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    except (AttributeError, ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def locked(lock_path: Path, what: str):
    """Hold an exclusive lock on ``lock_path`` for the duration of the block, as git does.

    The lock is an flock(2) on a lock file that exists only while it is held:
    the holder removes it before releasing, so no command leaves a file
    behind. A waiter that gets the lock on a file already removed (its inode
    is no longer at ``lock_path``) tries again. The kernel releases the lock
    when its holder dies, even on SIGKILL; such a holder leaves its lock file,
    which the next writer simply takes. On POSIX this calls fcntl directly
    (what filelock does underneath): importing filelock costs tens of
    milliseconds. Elsewhere filelock provides the same lock.
    """
    timeout = lock_timeout()
    try:
        import fcntl
    except ImportError:  # not POSIX
        with _filelock(lock_path, what, timeout):
            yield
        return
    import time

    if frozen(lock_path.parent):  # a lock file made there could never be removed again
        raise StoreError(f"cannot lock {what}: {lock_path.parent} is immutable or append-only (chattr); "
                         "nothing was changed")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StoreError(f"damaged store: lock file {lock_path} is a symbolic link; refusing to use it") from None
            raise StoreError(f"cannot lock {what}: {os_reason(exc)} (lock file {lock_path})") from None
        try:
            _flock_with_timeout(fcntl, fd, deadline, timeout, lock_path, what)
            if _same_file(fd, lock_path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # removed by its previous holder meanwhile: lock the new one
    try:
        yield
    finally:
        try:
            os.unlink(lock_path)
        except OSError:
            pass
        os.close(fd)  # closing the descriptor releases the lock


def is_locked(lock_path: Path) -> bool:
    """Whether a live writer holds the lock at ``lock_path`` (never creates the file)."""
    try:
        import fcntl

        fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (ImportError, OSError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _flock_with_timeout(fcntl, fd: int, deadline: float, timeout: float, lock_path: Path, what: str) -> None:
    import time

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
            raise StoreError(f"cannot lock {what}: {os_reason(exc)}") from None


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
        raise StoreError(f"cannot lock {what}: {os_reason(exc)}") from None
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
            _take_mode(fd, target)
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
        raise StoreError(f"cannot write {target}: {os_reason(exc)}") from None


def _take_mode(fd: int, target: Path) -> None:
    """Give a new file the mode (and group) of the file it replaces, or, for a new one, its directory's
    read and write bits: a writer's umask must not change who can read a shared store (MLflow
    rewrites its files in place, keeping their mode)."""
    try:
        before = os.stat(target)
        mode, group = before.st_mode & 0o7777, before.st_gid
    except FileNotFoundError:
        directory = os.stat(target.parent)
        mode, group = directory.st_mode & 0o666, directory.st_gid
    os.fchmod(fd, mode)
    if os.fstat(fd).st_gid != group:
        with contextlib.suppress(OSError):  # only a member of the group (or root) may give it
            os.fchown(fd, -1, group)


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
        raise StoreError(f"cannot remove {target}: {os_reason(exc)}") from None
    fsync_dir(target.parent)
    return True


def rename_dir(source: Path, target: Path) -> bool:
    """Rename a directory; False when ``target`` exists and is not empty."""
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise StoreError(f"cannot rename {source} to {target}: {os_reason(exc)}") from None
    fsync_dir(target.parent)
    return True


def read_file(path: Path) -> bytes:
    """The bytes of the regular file at ``path`` (links followed). Anything else raises OSError:
    a directory IsADirectoryError, a FIFO, socket or device "not a regular file" (it is never read:
    a FIFO would block its reader forever)."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        chunks: list = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def os_reason(exc: BaseException) -> str:
    """Why an OS call (or decoding what it read) failed, in the words of every regctl message."""
    if isinstance(exc, UnicodeDecodeError):
        return "not valid UTF-8"
    if isinstance(exc, OSError):
        if exc.errno == errno.EROFS:
            return "permission denied (read-only file system)"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        return exc.strerror or str(exc)
    return str(exc)


_FS_IOC_GETFLAGS = 0x80086601
_IMMUTABLE_OR_APPEND_ONLY = 0x10 | 0x20  # FS_IMMUTABLE_FL, FS_APPEND_FL (chattr +i, +a)


def why_unchangeable(path: Path) -> "str | None":
    """Why ``path`` (a file or directory) cannot be replaced, renamed or removed although its
    directory is writable: immutable or append-only (``chattr``), or another user's in a sticky
    directory such as /tmp. None when nothing stands in the way (or ``path`` does not exist)."""
    import stat

    try:
        info = os.lstat(path)
        parent = os.stat(os.path.dirname(path) or ".")
    except OSError:
        return None
    if parent.st_mode & stat.S_ISVTX and os.geteuid() not in (0, info.st_uid, parent.st_uid):
        return "it belongs to another user in a sticky directory"
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        return None  # a link is renamed, never opened; nothing else is opened either
    return "it is immutable or append-only (chattr)" if frozen(path) else None


def frozen(path: Path) -> bool:
    """Whether ``path`` (a regular file or a directory) is immutable or append-only (``chattr +i``,
    ``+a``): no entry of such a directory can be added, renamed or removed (``+a``: only added)."""
    try:
        import fcntl

        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except (ImportError, OSError):
        return False
    try:
        flags = int.from_bytes(fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8))[:4], sys.byteorder, signed=True)
    except OSError:  # a file system without these flags
        return False
    finally:
        os.close(fd)
    return bool(flags & _IMMUTABLE_OR_APPEND_ONLY)
