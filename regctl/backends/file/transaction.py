"""All-or-nothing changes to a file store: plan, record the intent, apply, commit.

A writing use case first reads and validates everything it needs under the
model's lock, and describes its change as data in a ``Plan``: files to write,
files to remove, directories to move, trees to remove, plus its history
entries. Nothing is written until the whole plan is known. Then ``run``:

1. checks every path of the plan is inside the store once symbolic links are
   resolved, that the directories written to are writable, that every file and
   directory replaced, moved or removed can be (not immutable or append-only,
   not another user's in a sticky directory) and that the disk has room, bytes
   and inodes (nothing written yet, so a refusal leaves the store untouched);
2. builds new directories (a new version, a new model) under temporary names;
3. appends the *intent* (transaction id, the changes, the history entries) to
   the journal, fsynced, and leaves a copy of it as the model's *pending* file;
4. applies the changes, each of which can be applied again harmlessly;
5. appends the *commit* and removes the pending file (a commit that cannot be
   appended then is a warning: the change is made, and the next write records it).

A process killed in step 4 leaves the pending file behind; whoever next takes
that model's lock (or ``doctor --fix``) applies the changes again from it and
commits. So a store always ends up with the old state or the new one. SIGINT
and SIGTERM are held back during steps 3-5.
"""

import json
import os
from pathlib import Path
from typing import Optional

from regctl.backends.file import layout
from regctl.backends.file.store import Store, os_reason
from regctl.core import atomic, journal
from regctl.core.errors import Conflict, RegctlError, StoreError

WRITE, REMOVE, MOVE, REMOVE_TREE = "write", "remove", "move", "remove_tree"
_SPACE_MARGIN = 1 << 20
_INODE_MARGIN = 16


class Plan:
    """A change to a store, as data. Paths are kept relative to the store root."""

    def __init__(self, store: Store):
        self.store = store
        self.changes: list = []
        self.entries: list = []
        self.builds: list = []  # (temporary directory, {relative file: bytes}) built before the intent

    def _rel(self, path: Path) -> str:
        return Path(path).relative_to(self.store.root).as_posix()

    def write(self, path: Path, text: str) -> None:
        """Create or replace a file."""
        self.changes.append({"op": WRITE, "path": self._rel(path), "text": text})

    def remove(self, path: Path, prune_up_to: Path) -> None:
        """Remove a file, then its parent directories that become empty, up to ``prune_up_to``."""
        self.changes.append({"op": REMOVE, "path": self._rel(path), "prune": self._rel(prune_up_to)})

    def create_dir(self, target: Path, files: dict, build_in: Path) -> None:
        """Create directory ``target`` with ``files`` in one rename: {relative path: bytes, a Path
        to copy, or None for an empty directory}.

        It is built complete under a temporary name in ``build_in`` first, so
        readers never see it half made; the target must not exist.
        """
        temp = Path(build_in) / atomic.temp_name()
        self.builds.append((temp, files))
        self.changes.append({"op": MOVE, "src": self._rel(temp), "dst": self._rel(target), "new": True})

    def move(self, source: Path, target: Path, *, new: bool = False) -> None:
        """Rename a directory (its new parent is created if needed); ``new``: the target must not exist."""
        self.changes.append({"op": MOVE, "src": self._rel(source), "dst": self._rel(target), "new": new})

    def take(self, other: "Plan") -> None:
        """Make ``other``'s change part of this one (``other`` is left empty)."""
        self.changes += other.changes
        self.entries += other.entries
        self.builds += other.builds
        other.changes, other.entries, other.builds = [], [], []

    def remove_tree(self, path: Path) -> None:
        self.changes.append({"op": REMOVE_TREE, "path": self._rel(path)})

    def record(self, operation: str, model, target, old, new, **extra) -> None:
        """A history entry of this change (what ``history`` shows), with ``extra`` fields kept beside it."""
        self.entries.append({**journal.entry(operation, model, target, old, new), **extra})

    def __bool__(self) -> bool:
        return bool(self.changes)


# ------------------------------------------------------------------ running

def run(store: Store, pending: Path, plan: Plan) -> None:
    """Apply ``plan`` all or nothing (see the module docstring). The caller holds the lock."""
    if not plan:
        return
    _preflight(store, plan, pending)
    built = []
    try:
        for temp, files in plan.builds:
            _build(store, temp, files)
            built.append(temp)
        txn = os.urandom(8).hex()
        intent = journal.intent_record(txn, plan.changes, plan.entries)
        journal.append(store.journal_path(), intent)
    except BaseException:
        _discard(store, built)
        raise
    with atomic.signals_held():
        try:
            atomic.write_bytes(pending, journal.encode(intent))
        except RegctlError:
            _discard(store, built)  # nothing applied; history skips an intent without a commit
            raise
        try:
            _apply(store, plan.changes)
        except _TargetExists as exc:  # only ever the first change: nothing else was applied
            _abandon(store, pending, built)
            raise Conflict(str(exc)) from None
        except RegctlError as exc:
            raise StoreError(f"{exc.message}; the change is recorded in {pending.name} and will be completed "
                             "by the next write to this model or by doctor --fix") from None
        # the change is made and visible: a commit record that cannot be written (a full disk) is a
        # warning, and the pending file stays for the next write to this model to record it
        if journal.append_after(store.journal_path(), journal.commit_record(txn)):
            atomic.remove_file(pending)


def recover(store: Store, pending: Path) -> bool:
    """Complete the change a killed writer left in ``pending``; True if there was one. Caller holds the lock."""
    try:
        raw = atomic.read_file(pending)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreError(f"cannot read {pending}: {os_reason(exc)}") from None
    intent = journal.parse(raw.strip())
    if intent is None or not isinstance(intent.get("changes"), list):
        raise StoreError(f"damaged store: the interrupted change in {pending} cannot be read")
    refused = pending_refusal(store, pending, intent)
    if refused:
        raise StoreError(f"damaged store: the interrupted change in {pending} was not applied: {refused}; "
                         "nothing was changed (see regctl doctor)")
    with atomic.signals_held():
        try:
            _apply(store, intent["changes"])
        except _TargetExists:
            atomic.remove_file(pending)  # its first step never happened: nothing to complete
            return True
        journal.append(store.journal_path(), dict(journal.commit_record(str(intent.get("txn"))), recovered=True))
        atomic.remove_file(pending)
    return True


def refusal_of_pending_file(store: Store, path: Path) -> Optional[str]:
    """Why the pending change at ``path`` must not be applied (``pending_refusal``), or None."""
    try:
        intent = journal.parse(atomic.read_file(path).strip())
    except OSError:
        return None  # gone meanwhile, or reported as unreadable when it is recovered
    if intent is None or not isinstance(intent.get("changes"), list):
        return "it cannot be read"
    return pending_refusal(store, path, intent)


LOGGED_MODEL_OPS = ("logged_model.create", "logged_model.delete")  # named by their lock: logged-model:<id>
_FIELDS = {WRITE: ("path", "text"), REMOVE: ("path", "prune"), MOVE: ("src", "dst"), REMOVE_TREE: ("path",)}


def pending_refusal(store: Store, pending: Path, intent: dict) -> Optional[str]:
    """Why the change a pending file holds must not be applied, or None when it may.

    Checked whole before any of it is applied: every operation one this regctl makes, every path
    among the files a change of *that* model can touch (its own directory, regctl's staging and
    temporary directories, the logged models a registration copies into), the model the file is
    named for, and an intent of the same transaction in the journal.
    """
    key = pending.name[len(layout.PENDING_PREFIX):]
    named: set = set()
    for e in intent.get("entries") or ():
        if isinstance(e, dict):
            named |= {e.get("model"), e.get("old"), e.get("new")} if e.get("operation") == "model.rename" \
                else {layout.logged_model_lock_name(str(e.get("target")))} if e.get("operation") in LOGGED_MODEL_OPS \
                else {e.get("model")}
    names = {n for n in named if isinstance(n, str) and n}
    if not any(layout.model_key(n) == key for n in names):
        return "it does not name the model it belongs to"
    for change in intent["changes"]:
        if not isinstance(change, dict) or change.get("op") not in _FIELDS:
            return f"it holds a change this regctl does not make ({json.dumps(change)[:60]})"
        for field in _FIELDS[change["op"]]:
            value = change.get(field)
            if not isinstance(value, str):
                return f"a change lacks its {field}"
            if field in ("path", "src", "dst", "prune") and not _may_touch(value, names, change["op"], field):
                return f"it would touch {value!r}, outside what a change of this model touches"
    txn = intent.get("txn")
    if not isinstance(txn, str) or not _journal_has_intent(store, txn):
        return "the journal holds no intent of that transaction"
    return None


def _may_touch(relative: str, names: set, op: str, field: str) -> bool:
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return False
    if field == "prune":  # where emptied directories stop being removed: the model's own directory
        return len(parts) >= 2 and parts[0] == layout.MODELS_DIR and parts[1] in names
    if parts[0] == layout.MODELS_DIR and len(parts) >= 2:
        if parts[1] in names:
            return len(parts) >= 3 or op in (MOVE, REMOVE_TREE)  # a model directory moves or goes whole
        return len(parts) == 2 and parts[1].startswith(layout.TEMP_PREFIX)
    if parts[0].startswith(layout.STAGING_PREFIX):  # this model's staging directory: regctltmp-<its key>-...
        return any(parts[0].startswith(f"{layout.STAGING_PREFIX}{layout.model_key(n)}") for n in names)
    # a logged model a registration copies into the store: <experiment id>/models/m-<id>[/...]
    return parts[0].isdigit() and len(parts) >= 3 and parts[1] == "models" \
        and parts[2].startswith(("m-", layout.TEMP_PREFIX))


def _journal_has_intent(store: Store, txn: str) -> bool:
    """Whether the journal holds the intent of ``txn`` (read from its end, where a pending change's is)."""
    for line in journal.lines_from_end(store.journal_path()):
        if f'"{txn}"'.encode() in line:
            record = journal.parse(line)
            if record is not None and record.get("txn") == txn and record.get("phase") == journal.INTENT:
                return True
    return False


def _abandon(store: Store, pending: Path, built: list) -> None:
    atomic.remove_file(pending)
    _discard(store, built)


def _discard(store: Store, built: list) -> None:
    """Remove directories built for a change that will not be made, and the staging directories
    (``regctltmp-*``) they leave empty."""
    for temp in built:
        _remove_tree(temp)
        _prune(temp.parent, store.root)


# ------------------------------------------------------------------ checks

def _preflight(store: Store, plan: Plan, pending: Path) -> None:
    """Refuse, before anything is written, a plan that would leave the store or could not be applied."""
    _require_writable(pending.parent, pending)
    needed = _SPACE_MARGIN + sum(len(c.get("text", "")) * 2 for c in plan.changes)
    needed += sum(data.stat().st_size if isinstance(data, Path) else len(data or b"")
                  for _, files in plan.builds for data in files.values())
    moves = [(store.root / c["dst"], store.root / c["src"]) for c in plan.changes if c["op"] == MOVE]
    for change in plan.changes:
        _check_directories(store, change, moves)
        _check_what_goes(store, change, moves)
    journal.check_appendable(store.journal_path())
    for temp, _ in plan.builds:
        store.inside(temp.parent)
    _require_space(store, needed, len(plan.changes) + sum(len(files) for _, files in plan.builds))


def _check_directories(store: Store, change: dict, moves: list) -> None:
    """The change's paths stay inside the store, and the directories it writes to (its temporary
    files' included) are writable."""
    for key in ("path", "src", "dst"):
        if key in change:
            target = store.root / change[key]
            store.inside(target.parent)
            if change["op"] in (WRITE, REMOVE) or key in ("src", "dst"):
                _require_writable(_existing_ancestor(_before_moves(target.parent, moves)), target)
    if change["op"] == WRITE:
        target = _before_moves(store.root / change["path"], moves)
        _require_writable(_existing_ancestor(_temp_dir_for(target)), target)


def _check_what_goes(store: Store, change: dict, moves: list) -> None:
    """What the change replaces, moves or removes can be (where it is now, before the plan's moves)."""
    if change["op"] in (WRITE, REMOVE):
        _require_changeable(_before_moves(store.root / change["path"], moves))
    elif change["op"] == MOVE:
        _require_changeable(store.root / change["src"])
    elif change["op"] == REMOVE_TREE:
        tree = store.root / change["path"]
        for part in [tree] + [src for dst, src in moves if dst == tree or tree in dst.parents]:
            _require_tree_removable(part)


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _require_writable(directory: Path, target: Path) -> None:
    """Entries of ``directory`` can be created, renamed and removed (temporary files are renamed)."""
    if atomic.frozen(directory):
        raise StoreError(f"cannot write {target}: {directory} is immutable or append-only (chattr); "
                         "nothing was changed")
    if not os.access(directory, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only(directory) else "permission denied"
        raise StoreError(f"cannot write {target}: {reason} ({directory}); nothing was changed")


def _before_moves(path: Path, moves: list) -> Path:
    """Where ``path`` is now, when the plan moves a directory holding it to where it will be."""
    for destination, source in moves:
        if path == destination or destination in path.parents:
            return source / path.relative_to(destination)
    return path


def _require_changeable(path: Path) -> None:
    reason = atomic.why_unchangeable(path)
    if reason is not None:
        raise StoreError(f"cannot replace or remove {path}: {reason}; nothing was changed")


def _require_tree_removable(tree: Path) -> None:
    """Every directory and file of ``tree`` can go (a tree that does not exist yet has nothing in the way)."""
    if not os.path.isdir(tree) or os.path.islink(tree):
        return
    _require_changeable(tree)
    for directory, subdirectories, files in os.walk(tree):
        _require_writable(Path(directory), Path(directory))
        for name in subdirectories + files:
            _require_changeable(Path(directory) / name)


def _read_only(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _require_space(store: Store, needed: int, files: int) -> None:
    """Room for ``needed`` bytes and, with a margin for temporary and journal files, ``files`` new inodes."""
    try:
        stat = os.statvfs(store.root)
    except OSError:
        return
    free = stat.f_bavail * stat.f_frsize
    if free < needed:
        raise StoreError(f"not enough free space in {store.root} ({free} bytes free, about {needed} needed); "
                         "nothing was changed")
    inodes = 2 * files + _INODE_MARGIN
    if stat.f_files and stat.f_favail < inodes:  # f_files 0: a file system without an inode limit
        raise StoreError(f"not enough free inodes in {store.root} ({stat.f_favail} free, {inodes} needed); "
                         "nothing was changed")


# ------------------------------------------------------------------ applying

class _TargetExists(Exception):
    pass


def _build(store: Store, temp: Path, files: dict) -> None:
    try:
        temp.mkdir(parents=True)
    except OSError as exc:
        raise StoreError(f"cannot create {temp}: {os_reason(exc)}") from None
    for relative, data in files.items():
        if data is None:  # an empty directory
            (temp / relative).mkdir(parents=True, exist_ok=True)
        elif isinstance(data, Path):  # a file to copy, not held in memory
            try:
                (temp / relative).parent.mkdir(parents=True, exist_ok=True)
                import shutil  # (loads zlib, bz2 and lzma: only a change that copies files pays for it)

                shutil.copyfile(data, temp / relative)
            except OSError as exc:
                raise StoreError(f"cannot copy {data}: {os_reason(exc)}") from None
        else:
            atomic.write_bytes(temp / relative, data)
    _modes_like(temp, temp.parent)


def _modes_like(tree: Path, parent: Path) -> None:
    """The directories and copied files of a new tree take the modes of the store directory it goes
    into (files its read and write bits), not the writer's umask: every user of a shared store, and
    an MLflow server running as another user, must read what any of them registers."""
    try:
        mode = os.stat(parent).st_mode & 0o7777
        for directory, _dirs, names in os.walk(tree):
            os.chmod(directory, mode)
            for name in names:
                os.chmod(os.path.join(directory, name), mode & 0o666)
    except OSError as exc:
        raise StoreError(f"cannot set the modes of {tree}: {os_reason(exc)}") from None


def _apply(store: Store, changes: list) -> None:
    for index, change in enumerate(changes):
        op = change.get("op")
        if op == WRITE:
            target = store.inside(store.root / change["path"])
            atomic.write_bytes(target, change["text"].encode("utf-8", "surrogateescape"), _temp_dir_for(target))
        elif op == REMOVE:
            target = store.inside(store.root / change["path"])
            atomic.remove_file(target)
            _prune(target.parent, store.root / change["prune"])
        elif op == MOVE:
            _move(store, store.root / change["src"], store.root / change["dst"], change.get("new", False), index)
        elif op == REMOVE_TREE:
            _remove_tree(store.inside(store.root / change["path"]))
        else:
            raise StoreError(f"damaged journal: unknown change {json.dumps(change)[:80]}")


def _temp_dir_for(target: Path) -> Path:
    """Where to write a file's temporary copy: never inside tags/ or aliases/, which MLflow reads as data."""
    for parent in target.parents:
        if parent.name in (layout.TAGS_DIR, layout.ALIASES_DIR):
            return parent.parent
    return target.parent


def _move(store: Store, source: Path, target: Path, new: bool, index: int) -> None:
    store.inside(source.parent)
    store.inside(target.parent)
    if not os.path.lexists(source):
        if os.path.lexists(target):
            return  # applied already
        raise StoreError(f"damaged store: neither {source} nor {target} exists")
    if os.path.lexists(target):
        if new and index == 0:
            raise _TargetExists(f"{target.relative_to(store.root).as_posix()} was created by another writer "
                                "meanwhile; nothing was changed, try again")
        raise StoreError(f"cannot move {source} to {target}: the target exists")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {target.parent}: {os_reason(exc)}") from None
    if not atomic.rename_dir(source, target):
        raise StoreError(f"cannot move {source} to {target}: the target exists")


def _prune(directory: Path, stop: Path) -> None:
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _remove_tree(path: Path) -> None:
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        atomic.remove_file(path)
        return
    import shutil

    try:
        shutil.rmtree(path)
    except (OSError, RecursionError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else "too deeply nested"
        raise StoreError(f"cannot remove {path}: {reason}") from None
