"""The journal: the store's append-only log of changes, one JSON object per line.

Each write appends two lines (see ``transaction``): an *intent*, before
anything changes, holding a transaction id, who made the change, where and
when, the change itself and its history entries (``operation``, ``model``,
``target``, ``old``, ``new``); then a *commit* with the same id once the change
is applied. ``history`` and ``alias rollback`` read only committed changes.
Lines written by regctl 0.1 (one history entry per line, no transaction) are
read as committed.

The journal is read from its end, in blocks, so the newest records cost the
same whatever the journal's size. Every function takes the journal's path: the
file store keeps it in ``models/``, the SQLite backend beside the database, the
server backend on this machine; all three use this one module to write and read it.
"""

import json
import os
from pathlib import Path
from typing import Iterator, Optional

from regctl.core.atomic import now_ms, os_reason
from regctl.core.errors import StoreError

INTENT, COMMIT = "intent", "commit"
_BLOCK = 1 << 16
_MAX_LINE = 64 << 20  # a longer line is damage, not a record


def host() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it (without loading ``socket``)."""
    try:
        return os.uname().nodename
    except AttributeError:  # no uname (Windows)
        import socket

        return socket.gethostname()


def _login_name() -> str:
    """The user's login name, found as ``getpass.getuser()`` finds it (without loading ``termios``)."""
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if os.environ.get(variable):
            return os.environ[variable]
    try:
        import pwd

        return pwd.getpwuid(os.getuid())[0]
    except (ImportError, KeyError, OSError):
        return str(os.getuid())


def actor() -> str:
    """Who is writing: the local user, plus the CI identity when one is present."""
    user = _login_name()
    ci = os.environ.get("GITHUB_ACTOR")
    if ci:
        run = ""
        if os.environ.get("GITHUB_RUN_ID"):
            server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
            run = f" {server}/{os.environ.get('GITHUB_REPOSITORY', '')}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
        return f"{user} (github:{ci}{run})"
    for variable in ("CI_JOB_URL", "BUILD_URL", "CIRCLE_BUILD_URL"):
        if os.environ.get(variable):
            return f"{user} ({os.environ[variable]})"
    return user


def entry(operation: str, model, target, old, new) -> dict:
    """One history entry of a change."""
    return {"operation": operation, "model": model, "target": target, "old": old, "new": new}


def change_record(operation: str, model, target, old, new, **extra) -> dict:
    """One change as a record of its own (no transaction): who, where, when, and ``extra`` fields."""
    record = {"time": now_ms(), "user": actor(), "host": host(), **entry(operation, model, target, old, new)}
    record.update(extra)
    return record


def intent_record(txn: str, changes: list, entries: list) -> dict:
    return {"txn": txn, "phase": INTENT, "time": now_ms(), "user": actor(), "host": host(),
            "changes": changes, "entries": entries}


def commit_record(txn: str) -> dict:
    return {"txn": txn, "phase": COMMIT, "time": now_ms()}


def encode(record: dict) -> bytes:
    """One journal line. Text that is not valid Unicode (names from the OS) is escaped, never lost."""
    try:
        return (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, ensure_ascii=True, sort_keys=True) + "\n").encode("ascii")


def append(path: Path, *records: dict) -> int:
    """Append records in one write and fsync; StoreError (and nothing appended) when they cannot be
    written whole. Returns the journal's size before, so that a caller can take them back (``truncate``)."""
    line = b"".join(encode(record) for record in records)
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        raise StoreError(f"cannot append to the journal {path}: {os_reason(exc)}") from None
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # never glue a record onto a line cut short by a crash
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(28, "No space left on device")
            view = view[written:]
        os.fsync(fd)
    except OSError as exc:
        try:
            os.ftruncate(fd, size)  # a partial line must not stay behind
        except OSError:
            pass
        raise StoreError(f"cannot append to the journal {path}: {os_reason(exc)}") from None
    finally:
        os.close(fd)
    return size


def damage_message(bad: int) -> str:
    """What doctor says of journal lines that cannot be read: a warning, as the journal's readers
    skip them and the registry itself is not affected."""
    return (f"{bad} journal line(s) cannot be read (a write killed while it journaled cuts its line short); "
            "history and rollback skip them")


def check_appendable(path: Path) -> None:
    """StoreError unless records can be appended to ``path`` (a regular file, or none yet in a
    writable directory): what a backend that journals *after* its change checks *before* it."""
    target = path if os.path.lexists(path) else path.parent
    if os.path.islink(path) or (target is path and not path.is_file()):
        raise StoreError(f"cannot append to the journal {path}: not a regular file")
    if not os.access(target, os.W_OK):
        raise StoreError(f"cannot append to the journal {path}: permission denied")


def append_after(path: Path, *records: dict) -> bool:
    """Journal a change already made: a journal that cannot be written is said on stderr, as a
    warning, and does not turn the change into a failure. Whether the records were written."""
    try:
        append(path, *records)
    except StoreError as exc:
        from regctl.core import notices

        notices.warn(f"the change is made, but {exc.message}")
        return False
    return True


# ------------------------------------------------------------------ reading

def _open(path: Path) -> Optional[int]:
    """A read descriptor of the journal, None when there is none yet; never a link, never a FIFO's wait."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the journal {path}: {os_reason(exc)}") from None


def lines_from_end(path: Path) -> Iterator[bytes]:
    """The journal's lines, newest first, read in blocks from the end."""
    fd = _open(path)
    if fd is None:
        return
    try:
        yield from _lines_backwards(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def _lines_backwards(fd: int, position: int) -> Iterator[bytes]:
    """The lines of the first ``position`` bytes, last first. Each block is read and split once: the
    start of a line that spans blocks is kept as a list of pieces (newest read first), so a long
    line costs its length, not its length squared. A line over ``_MAX_LINE`` is damage, skipped."""
    pieces: list = []  # the partial line after the last newline seen, as blocks in reverse order
    size, skipping = 0, False
    while position > 0:
        step = min(_BLOCK, position)
        position -= step
        parts = os.pread(fd, step, position).split(b"\n")
        if len(parts) == 1:
            pieces.append(parts[0])
            size += len(parts[0])
            if size > _MAX_LINE:  # an absurd line: skip it rather than hold it in memory
                pieces, size, skipping = [], 0, True
            continue
        line = parts[-1] + b"".join(reversed(pieces))
        if line and not skipping:
            yield line
        yield from (line for line in reversed(parts[1:-1]) if line)
        pieces, size, skipping = [parts[0]], len(parts[0]), False
    line = b"".join(reversed(pieces))
    if line and not skipping:
        yield line


def parse(line: bytes) -> Optional[dict]:
    """A journal record, or None for a damaged line (cut short, not JSON, absurdly nested)."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def history_entries(path: Path, model: Optional[str] = None) -> Iterator[dict]:
    """Committed history entries (with ``time``, ``user``, ``host``), newest first."""
    committed = set()  # commits read whose intent (older, so read later) has not been reached yet
    needle = None if model is None else json.dumps(model, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass")
    for line in lines_from_end(path):
        if needle is not None and b'"phase": "commit"' not in line and needle not in line \
                and json.dumps(model)[1:-1].encode("ascii", "backslashreplace") not in line:
            committed.discard(_txn_of(line))  # another model's intent: its commit is done with
            continue  # cheap filter: a record of this model names it
        record = parse(line)
        if record is None:
            continue
        phase = record.get("phase")
        if phase == COMMIT:
            committed.add(record.get("txn"))
            continue
        if phase == INTENT:
            txn = record.get("txn")
            if txn not in committed:
                continue  # interrupted before it started: nothing was changed
            committed.discard(txn)  # one intent per transaction: memory stays flat in the journal's size
            entries = record.get("entries")
            if not isinstance(entries, list):
                continue
            for item in reversed(entries):
                if isinstance(item, dict) and (model is None or item.get("model") == model):
                    yield dict(item, time=record.get("time"), user=record.get("user"), host=record.get("host"))
        elif phase is None and (model is None or record.get("model") == model):
            yield record  # a record from before transactions


def _txn_of(line: bytes) -> Optional[str]:
    """The transaction id of a record regctl wrote (sorted keys: ``txn`` is near the end), read
    without parsing the line; None when it cannot be read that way."""
    at = line.rfind(b'"txn": "')
    if at < 0:
        return None
    end = line.find(b'"', at + 8)
    try:
        return line[at + 8:end].decode("ascii") if end > 0 else None
    except UnicodeDecodeError:
        return None


def history(path: Path, name: Optional[str] = None, alias: Optional[str] = None,
            limit: Optional[int] = None) -> list:
    """Committed history entries, newest first, optionally of one model (and one alias of it)."""
    found = []
    for record in history_entries(path, name):
        if alias is not None and not (record.get("operation") in ("alias.set", "alias.delete")
                                      and record.get("target") == alias):
            continue
        found.append(record)
        if limit is not None and len(found) >= limit:
            break
    return found


def damaged_lines(path: Path) -> int:
    """How many journal lines cannot be read as records."""
    return sum(1 for line in lines_from_end(path) if parse(line) is None)


# ------------------------------------------------------------------ registrations, by offset

def lines_with_offsets(path: Path) -> Iterator[tuple]:
    """``(offset, line)`` for each line, oldest first, read in blocks (a line over ``_MAX_LINE`` is skipped)."""
    fd = _open(path)
    if fd is None:
        return
    try:
        position, start, size = 0, 0, 0
        pieces: list = []
        while True:
            block = os.pread(fd, _BLOCK, position)
            if not block:
                break
            parts = block.split(b"\n")
            for index, part in enumerate(parts[:-1]):
                line = b"".join(pieces) + part if index == 0 and pieces else part
                if line and size + len(part) <= _MAX_LINE:
                    yield start, line
                start += (size if index == 0 else 0) + len(part) + 1
                pieces, size = [], 0
            tail = parts[-1]
            if size <= _MAX_LINE:
                pieces.append(tail)
            size += len(tail)
            if size > _MAX_LINE:
                pieces = []
            position += len(block)
        if pieces and size <= _MAX_LINE and b"".join(pieces):
            yield start, b"".join(pieces)
    finally:
        os.close(fd)


_CREATE, _RENAME, _DELETE = b'"version.create"', b'"model.rename"', b'"model.delete"'
_DECODER = json.JSONDecoder()


def _top_level(line: bytes, key: bytes):
    """The scalar value of a top-level key that follows ``files`` in a sorted record (``model``,
    ``target``, ``operation``); raises ValueError when it cannot be read that way."""
    at = line.rfind(b'"' + key + b'": ')
    if at < 0:
        raise ValueError(key)
    value, _ = _DECODER.raw_decode(line[at + len(key) + 4:].decode("utf-8"))
    if isinstance(value, (dict, list)):
        raise ValueError(key)
    return value


def _first_top_level(line: bytes, key: bytes):
    """The value of a top-level key that comes before ``files`` in a sorted record (``created``), or None."""
    at = line.find(b'"' + key + b'": ')
    files = line.find(b'"files": ')
    if at < 0 or 0 <= files < at:
        return None
    try:
        value, _ = _DECODER.raw_decode(line[at + len(key) + 4:].decode("utf-8", "replace"))
    except ValueError:
        return None
    return value


def registrations(path: Path, by_created: Optional[dict] = None) -> dict:
    """``{(model, version): offset}`` of each version's ``version.create`` record that holds a digest,
    the journal replayed once: a rename carries its model's records along, a deletion drops them.
    Only offsets are kept, so memory grows with the versions, not with the journal; a registration's
    large ``files`` map is never parsed here (``record_at`` reads the one a caller needs).

    ``by_created``, when given, also gets ``{(version, creation time): [offset, ...]}`` of every such
    record, oldest first: where a version is found again after a rename that left no record (MLflow's).
    """
    found: dict = {}

    def created(key, value) -> None:
        if by_created is not None and isinstance(value, int):
            by_created.setdefault((key[1], value), []).append(offset)

    for offset, line in lines_with_offsets(path):
        if _CREATE in line:
            try:  # sorted keys put model, operation and target after the files map: read them from the end
                if _top_level(line, b"operation") != "version.create" or b'"digest": ' not in line:
                    continue
                key = (_top_level(line, b"model"), _top_level(line, b"target"))
                found[key] = offset
                created(key, _first_top_level(line, b"created"))
                continue
            except (ValueError, UnicodeDecodeError):
                pass  # not a record regctl wrote this way: parse it whole
        elif _RENAME not in line and _DELETE not in line:
            continue
        record = parse(line)
        if record is None:
            continue
        operation, model = record.get("operation"), record.get("model")
        if operation == "version.create" and "digest" in record:
            try:
                found[(model, record.get("target"))] = offset
                created((model, record.get("target")), record.get("created"))
            except TypeError:  # an unhashable name or target: not a record of any version
                continue
        elif operation == "model.rename":
            old = record.get("old")
            for key in [k for k in found if k[0] == old]:
                found[(model, key[1])] = found.pop(key)
        elif operation == "model.delete":
            for key in [k for k in found if k[0] == model]:
                del found[key]
    return found


def creations(path: Path) -> dict:
    """``{(version, created): offset}`` of each ``version.create`` entry that holds a digest, keyed by
    what no rename changes (the version's number and creation time), in one pass over the journal:
    only lines naming that operation are parsed, and only offsets are kept, so memory grows with
    the registrations, not with the journal."""
    found: dict = {}
    for offset, line in lines_with_offsets(path):
        if _CREATE in line and b'"digest": ' in line:
            for entry in _creates(parse(line)):
                try:
                    found[(entry.get("target"), entry.get("created"))] = offset
                except TypeError:  # an unhashable target: not a record of any version
                    continue
    return found


def creation_at(path: Path, offset: int, version: int, created: int) -> Optional[dict]:
    """The ``version.create`` entry of ``version`` made at ``created`` on the line at ``offset``."""
    return next((entry for entry in _creates(record_at(path, offset))
                 if entry.get("target") == version and entry.get("created") == created), None)


def _creates(record: Optional[dict]) -> Iterator[dict]:
    """The ``version.create`` entries holding a digest in a record: an intent's entries, or the record itself."""
    entries = record.get("entries") if record is not None and record.get("phase") == INTENT else [record]
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and entry.get("operation") == "version.create" and "digest" in entry:
            yield entry


def record_at(path: Path, offset: int) -> Optional[dict]:
    """The record on the line that starts at ``offset``, or None when it is not one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise StoreError(f"cannot read the journal {path}: {os_reason(exc)}") from None
    try:
        pieces, position = [], offset
        while True:
            block = os.pread(fd, _BLOCK, position)
            end = block.find(b"\n")
            pieces.append(block if end < 0 else block[:end])
            position += len(block)
            if end >= 0 or not block or position - offset > _MAX_LINE:
                break
    finally:
        os.close(fd)
    return parse(b"".join(pieces))
