"""The files push keeps beside a database, ``<db dir>/regctl-artifacts/<id>``, from copy to registration.

A copy is made and registered under a lock of its own (``regctl-artifacts/.regctl%lock%<id>``, an
flock the kernel releases when its holder dies): it is built as ``.regctl-tmp-<id>``, renamed to
``<id>`` whole, and the command that made it removes it again when it fails before a version
refers to it. What a killed command left (a copy no version's source or storage location names,
a ``.regctl-tmp-<id>``) is found by ``doctor``, which never touches a copy whose lock is held,
and removed by ``doctor --fix`` while it holds that lock and the database's write lock.
"""

import contextlib
import os
import shutil
import uuid
from pathlib import Path

from regctl.core import atomic
from regctl.core.atomic import os_reason
from regctl.core.errors import StoreError
from regctl.core.names import TEMP_PREFIX

DIRECTORY = "regctl-artifacts"
LOCK_PREFIX = ".regctl%lock%"
UNREFERENCED = "unreferenced-copy"
TEMP = "temp-leftover"


def _lock(base: Path, copy_id: str) -> Path:
    return base / f"{LOCK_PREFIX}{copy_id}"


def _is_copy_id(name: str) -> bool:
    return len(name) == 32 and all(c in "0123456789abcdef" for c in name)


@contextlib.contextmanager
def importing(backend, local):
    """Copy a local directory's files beside the database; yields the directory to register from.

    Until the block ends the copy's lock is held; when the block fails (an error, Ctrl-C, SIGTERM)
    and no version refers to the copy, the copy is removed before the failure goes on.
    """
    base = backend.check_import()
    copy_id = uuid.uuid4().hex
    try:
        created = not base.is_dir()
        base.mkdir(exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {base}: {os_reason(exc)}") from None
    try:
        with atomic.locked(_lock(base, copy_id), f"the copy {base / copy_id}"):
            target = _copy(Path(local), base, copy_id)
            try:
                yield str(target)
            except BaseException:
                with contextlib.suppress(Exception):  # when it cannot be removed now, doctor finds it
                    if not _referenced(_locations(backend), copy_id):
                        _remove(base, copy_id)
                raise
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                base.rmdir()  # only while empty: another command's copies stay
        raise


def _copy(local: Path, base: Path, copy_id: str) -> Path:
    target, temp = base / copy_id, base / f"{TEMP_PREFIX}{copy_id}"
    try:
        temp.mkdir()
    except OSError as exc:
        raise StoreError(f"cannot create {temp}: {os_reason(exc)}") from None
    try:
        shutil.copytree(local, temp / "files", symlinks=True)
        os.rename(temp / "files", target)
    except OSError as exc:
        raise StoreError(f"cannot copy {local} to {target}: {os_reason(exc)}") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return target


def _remove(base: Path, copy_id: str, *, copy: bool = True) -> None:
    """Remove a copy's temporary directory, and with ``copy`` the copy, renamed to that name first
    so that a removal cut short leaves no half copy."""
    temp = base / f"{TEMP_PREFIX}{copy_id}"
    shutil.rmtree(temp, ignore_errors=True)
    if copy and os.path.lexists(base / copy_id):
        with atomic.signals_held():
            os.rename(base / copy_id, temp)
    if os.path.lexists(temp):
        shutil.rmtree(temp)


def _locations(backend) -> list:
    """Every version's source and storage location (deleted versions' and other workspaces' too)."""
    rows = backend._connect().execute("SELECT source, storage_location FROM model_versions").fetchall()
    return [value for row in rows for value in row if isinstance(value, str)]


def _referenced(locations: list, copy_id: str) -> bool:
    return any(copy_id in location for location in locations)


# ------------------------------------------------------------------ doctor

def check(backend) -> list:
    """What killed commands left in ``regctl-artifacts/``: unreferenced copies, temporary directories."""
    base = backend.root / DIRECTORY
    if base.is_symlink() or not base.is_dir():
        return []  # a link leading out is refused by push (check_import); nothing is looked for there
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError as exc:
        raise StoreError(f"cannot read {base}: {os_reason(exc)}") from None
    locations = None
    found = []
    for entry in entries:
        name = entry.name
        temp = name.startswith(TEMP_PREFIX)
        copy_id = name[len(TEMP_PREFIX):] if temp else name
        if not temp and not (_is_copy_id(name) and entry.is_dir(follow_symlinks=False)):
            continue
        if atomic.is_locked(_lock(base, copy_id)):
            continue  # a live command's copy
        if temp:
            message = "leftover temporary directory of a copy a killed command was making"
        else:
            locations = _locations(backend) if locations is None else locations
            if _referenced(locations, copy_id):
                continue
            message = ("a copy of a version's files that no version refers to, left by a push killed "
                       "before it registered it (a rerun copies again)")
        found.append({"kind": TEMP if temp else UNREFERENCED, "model": None, "path": f"{DIRECTORY}/{name}",
                      "message": message, "fixable": True, "copy": copy_id})
    registered = _once_registered(backend, {p["copy"] for p in found if p["kind"] == UNREFERENCED})
    return [p for p in found if p["kind"] != UNREFERENCED or p["copy"] not in registered]


def _once_registered(backend, copy_ids: set) -> set:
    """The copies a version was registered from, as the journal says: the files of a version deleted
    since (MLflow's delete drops its row, and a soft-deleted version's source is redacted), which
    stay as MLflow leaves a deleted version's artifacts; never what a killed push left."""
    if not copy_ids:
        return set()
    from regctl.core import journal

    named: set = set()
    needles = {copy_id: copy_id.encode("ascii") for copy_id in copy_ids}
    for line in journal.lines_from_end(backend.journal_path):
        if b'"version.create"' in line:
            named |= {copy_id for copy_id, needle in needles.items() if needle in line}
            if len(named) == len(needles):
                break
    return named


def fix(backend) -> list:
    """Remove what ``check`` finds, each under its copy's lock and the database's write lock (a
    registration cannot refer to it meanwhile), checked again there."""
    base = backend.root / DIRECTORY
    fixed = []
    for problem in check(backend):
        copy_id = problem["copy"]
        if atomic.is_locked(_lock(base, copy_id)):
            continue
        with atomic.locked(_lock(base, copy_id), f"the copy {base / copy_id}"):
            with backend._transaction() as records:
                if problem["kind"] == UNREFERENCED and _referenced(_locations(backend), copy_id):
                    continue
                path = base / (copy_id if problem["kind"] == UNREFERENCED else f"{TEMP_PREFIX}{copy_id}")
                if not os.path.lexists(path):
                    continue
                try:
                    _remove(base, copy_id, copy=problem["kind"] == UNREFERENCED)
                except OSError as exc:
                    raise StoreError(f"cannot remove {path}: {os_reason(exc)}") from None
                backend._record(records, "doctor.fix", None, problem["path"], problem["kind"], "repaired")
        fixed.append(problem)
    return fixed
