"""``regctl doctor``: check a whole store for damage and repair what is safe to repair.

Checks every registered model: meta files that are missing, unparsable, of the
wrong shape or inconsistent with their directory (name, version number),
version directories without ``meta.yaml``, aliases that name missing, deleted
or impossible versions, a stale ``aliases`` snapshot in the model's meta,
tag or alias files MLflow would refuse, symbolic links, versions whose
artifacts are gone, leftover ``.regctl-tmp-*`` files and directories (also in
logged models, where regctl records model versions), damaged journal lines, and
the logged models a killed push copied files into and never registered (``copies``).

Lock files are not checked: they are flock(2) locks, which the kernel releases
when their holder exits (even on SIGKILL), so a lock file left behind is never
stale and never a problem.

Findings come in two levels. Problems are damage (``doctor`` exits 4).
Warnings are states MLflow itself produces or that break nothing, worth
knowing but not damage: the stale ``aliases`` snapshot MLflow's own rename
leaves in ``meta.yaml`` (MLflow reads the alias files), a version whose
artifacts went to ``.trash`` with its deleted experiment, and the digest tag
regctl 0.1 added to the versions it registered.

``repair.fix`` repairs only what cannot lose information: it removes leftover temp
files and directories and unreferenced copies, removes alias files that point at missing or deleted
versions, rewrites ``name`` fields that differ from the directory name,
refreshes a stale ``aliases`` snapshot and moves a regctl 0.1 digest tag into
the version's manifest file. Each model is repaired under its lock after
re-checking it there, and each repair is journaled.
"""

import os
from pathlib import Path

from regctl.backends.file import copies, layout, tracking, transaction
from regctl.backends.file.resolve import location_path
from regctl.backends.file.store import MODEL_FIELD_TYPES, VERSION_FIELD_TYPES, Store, field_problems
from regctl.core import atomic, digest, journal
from regctl.core.atomic import os_reason
from regctl.core.errors import RegctlError, StoreError
from regctl.core.locations import exists, rebase
from regctl.core.names import DELETED_STAGE, STAGES, show, validate_tag_key
from regctl.core.resolution import alias_version
from regctl.core.rules import remote_note

LOCK_NOTE = ("lock files (.regctl%lock%*) are flock(2) locks released by the kernel when their holder "
             "exits, even on SIGKILL: a leftover lock file is never stale and is not a problem")

# kinds that ``fix`` repairs
TEMP = "temp-leftover"
DANGLING_ALIAS = "dangling-alias"
NAME_MISMATCH = "name-mismatch"
STALE_SNAPSHOT = "stale-alias-snapshot"
INTERRUPTED = "interrupted-change"
DIGEST_TAG = "digest-tag"
FIXABLE = (TEMP, DANGLING_ALIAS, NAME_MISMATCH, STALE_SNAPSHOT, DIGEST_TAG, INTERRUPTED, copies.UNREFERENCED)
TRASHED = "trashed-artifacts"
# kinds that are warnings, not problems: no damage, doctor still exits 0
DAMAGED_JOURNAL = "damaged-journal"
WARNINGS = (STALE_SNAPSHOT, TRASHED, DIGEST_TAG, DAMAGED_JOURNAL)
REMOTE = "remote-artifacts"  # neither: a version at a remote location, said in one note


def _problem(store: Store, kind: str, path: Path, message: str, model=None, **extra) -> dict:
    found = {"kind": kind, "model": model, "path": _relative(store, path), "message": message,
             "fixable": kind in FIXABLE}
    found.update(extra)
    return found


def _relative(store: Store, path: Path) -> str:
    try:
        return Path(path).relative_to(store.root).as_posix()
    except ValueError:
        return str(path)


# ------------------------------------------------------------------ checks

def check(store: Store) -> dict:
    """What the store holds, as ``{store, ok, problems, warnings, fixed, notes}``."""
    store.require()
    problems: list = []
    models = layout.models_dir(store.root)
    try:
        entries = sorted(os.scandir(models), key=lambda e: e.name) if models.is_dir() else []
    except OSError as exc:
        raise StoreError(f"cannot read {models}: {os_reason(exc)}") from None
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith(layout.TEMP_PREFIX):
            if not _any_writer(store):
                problems.append(_problem(store, TEMP, path, "leftover temporary entry of an interrupted write"))
        elif entry.name.startswith((layout.LOCK_PREFIX, layout.PENDING_PREFIX)) or entry.name == layout.JOURNAL_FILE:
            continue
        elif entry.is_symlink():
            problems.append(_problem(store, "symlink", path, _symlink_message(store, path), model=entry.name))
        elif entry.is_dir():
            problems.extend(check_model(store, entry.name))
    problems.extend(_check_new_model_leftovers(store))
    problems.extend(_check_journal(store))
    problems.extend(_check_pending(store))
    problems.extend(_check_logged_models(store))
    problems.extend(copies.check(store, lambda: _any_writer(store)))
    warnings = [p for p in problems if p["kind"] in WARNINGS]
    remote = [p["message"] for p in problems if p["kind"] == REMOTE]
    problems = [p for p in problems if p["kind"] not in WARNINGS + (REMOTE,)]
    return {"store": str(store.root), "ok": not problems, "problems": problems, "warnings": warnings,
            "fixed": [], "notes": [LOCK_NOTE, *remote_note(remote)]}


def check_model(store: Store, name: str, *, holding_lock: bool = False) -> list:
    """Problems of one registered model directory (``holding_lock``: the caller holds its lock)."""
    model = layout.model_dir(store.root, name)
    problems: list = []
    meta = _read_meta(store, layout.model_meta(store.root, name), name, problems)
    entries = _scan(model)
    if meta is None and not any(p["kind"] == "unreadable-meta" for p in problems):
        contents = [e for e in entries if not e.name.startswith(layout.TEMP_PREFIX)]
        problems.append(_problem(store, "missing-meta", model / layout.META,
                                 "model directory has no meta.yaml; MLflow's model search fails for the whole store"
                                 + (" (the directory is otherwise empty: remove it)" if not contents else ""),
                                 model=name))
    if meta is not None:
        problems.extend(_check_model_fields(store, name, meta))
    live: dict = {}
    # a live writer's temporary files are not leftovers
    writing = not holding_lock and atomic.is_locked(store.lock_path(name))
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith(layout.TEMP_PREFIX):
            if not writing:
                problems.append(_problem(store, TEMP, path, "leftover temporary entry of an interrupted write",
                                         model=name))
        elif entry.is_symlink():
            problems.append(_problem(store, "symlink", path, _symlink_message(store, path), model=name))
            if layout.version_number_of(entry.name) is not None:  # a version all the same (MLflow follows
                live[layout.version_number_of(entry.name)] = None  # the link): its aliases are not dangling
        elif entry.name in (layout.TAGS_DIR, layout.ALIASES_DIR):
            problems.extend(_check_data_dir(store, name, path, entry.name))
        elif layout.version_number_of(entry.name) is not None:
            number = layout.version_number_of(entry.name)
            found, stage = check_version(store, name, number, writing, prompt=store.is_prompt(name))
            problems.extend(found)
            live[number] = stage
    problems.extend(_check_aliases(store, name, meta, live))
    return problems


def check_version(store: Store, name: str, number: int, writing: bool = False,
                  prompt: bool = False) -> "tuple[list, object]":
    """Problems of one version directory, and its stage (None when unreadable).

    ``writing``: a live writer holds the model's lock (its temporary files are no leftovers).
    The version of an MLflow prompt (``prompt``) holds text, not artifacts: its location is not checked.
    """
    directory = layout.version_dir(store.root, name, number)
    problems: list = []
    if not directory.is_dir():
        return [_problem(store, "not-a-directory", directory, "a version entry that is not a directory", model=name)], None
    meta = _read_meta(store, directory / layout.META, name, problems)
    if meta is None:
        if not problems:
            problems.append(_problem(store, "missing-meta", directory / layout.META,
                                     "version directory has no meta.yaml; MLflow cannot read this model", model=name))
        stage = None
    else:
        stage = meta.get("current_stage")
        version = meta.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version != number:
            problems.append(_problem(store, "version-mismatch", directory / layout.META,
                                     f"version field is {version!r}, the directory says {number}", model=name))
        if meta.get("name") != name:
            problems.append(_problem(store, NAME_MISMATCH, directory / layout.META,
                                     f"name field is {meta.get('name')!r}, the model directory is {name!r}", model=name))
        if stage not in STAGES + (DELETED_STAGE,):
            problems.append(_problem(store, "bad-field", directory / layout.META,
                                     f"current_stage is {stage!r}, not one of {', '.join(STAGES)}", model=name))
        problems.extend(_type_problems(store, directory / layout.META, meta, name, VERSION_FIELD_TYPES,
                                       checked_above=("version", "name", "current_stage")))
        if stage != DELETED_STAGE and not prompt:
            problems.extend(_check_location(store, name, number, meta))
    for entry in _scan(directory):
        path = Path(entry.path)
        if entry.name.startswith(layout.TEMP_PREFIX):
            if not writing:
                problems.append(_problem(store, TEMP, path, "leftover temporary entry of an interrupted write",
                                         model=name))
        elif entry.is_symlink():
            problems.append(_problem(store, "symlink", path, _symlink_message(store, path), model=name))
        elif entry.name == layout.TAGS_DIR:
            problems.extend(_check_data_dir(store, name, path, entry.name))
            if (path / digest.DIGEST_TAG).is_file():
                problems.append(_problem(store, DIGEST_TAG, path / digest.DIGEST_TAG,
                                         f"version {number} carries the tag {digest.DIGEST_TAG} that regctl 0.1 "
                                         "added; MLflow's rename fails on a model whose versions have tags, and "
                                         f"regctl now keeps the digest in {digest.MANIFEST_FILE}",
                                         model=name, version=number))
    return problems, stage


def _check_model_fields(store: Store, name: str, meta: dict) -> list:
    path = layout.model_meta(store.root, name)
    problems: list = []
    if meta.get("name") != name:
        problems.append(_problem(store, NAME_MISMATCH, path,
                                 f"name field is {meta.get('name')!r}, the directory is {name!r}", model=name))
    problems.extend(_type_problems(store, path, meta, name, MODEL_FIELD_TYPES, checked_above=("name",)))
    return problems


def _type_problems(store: Store, path: Path, meta: dict, name: str, types: dict, checked_above) -> list:
    """A ``bad-field`` problem per field of the wrong type (fields checked more precisely elsewhere excluded)."""
    fields = {key: value for key, value in meta.items() if key not in checked_above}
    return [_problem(store, "bad-field", path, message, model=name) for message in field_problems(fields, types)]


def _check_location(store: Store, name: str, number: int, meta: dict) -> list:
    meta_path = layout.version_meta(store.root, name, number)
    location = meta.get("storage_location") or meta.get("source")
    if not isinstance(location, str) or not location:
        return [_problem(store, "missing-artifacts", meta_path, "version has no source or storage location", model=name)]
    try:
        path = location_path(store, location)
    except RegctlError as exc:
        return [_problem(store, "missing-artifacts", meta_path, f"location {location} cannot be used: {exc.message}",
                         model=name)]
    if isinstance(path, str):  # a remote location (s3:, mlflow-artifacts:, ...): not missing, and not checked here
        return [_problem(store, REMOTE, meta_path, path, model=name)]
    if not path.exists():
        trashed = _in_trash(store, path)
        if trashed is not None:
            experiment = trashed.relative_to(store.root / layout.TRASH_DIR).parts[0]
            return [_problem(store, TRASHED, meta_path,
                             f"artifacts of version {number} are in {_relative(store, trashed)}: experiment "
                             f"{experiment} was deleted in MLflow, which moved it to {layout.TRASH_DIR}/; the "
                             "version cannot be resolved or loaded until the experiment is restored",
                             model=name)]
        return [_problem(store, "missing-artifacts", meta_path,
                         f"artifacts of version {number} no longer exist at {path}", model=name)]
    return []


def _in_trash(store: Store, path: Path):
    """Where a missing artifact path is under ``.trash/``, if its experiment was deleted; else None."""
    trash = store.root / layout.TRASH_DIR
    found = rebase(path, trash)
    return found if found != path and exists(found) and found.is_relative_to(trash) else None


def _check_data_dir(store: Store, name: str, directory: Path, kind: str) -> list:
    """Files under tags/ or aliases/: each one is data to MLflow."""
    problems: list = []
    for parent, dirs, files in os.walk(directory):
        for entry in sorted(dirs + files):
            path = Path(parent) / entry
            key = path.relative_to(directory).as_posix()
            if entry.startswith(layout.TEMP_PREFIX):  # regctl never writes one there: not removed, as it may be data
                problems.append(_problem(store, "temp-in-data-dir", path,
                                         f"a file named like a regctl temporary file inside {kind}/, "
                                         "which MLflow reads as data", model=name))
            elif path.is_symlink():
                problems.append(_problem(store, "symlink", path, _symlink_message(store, path), model=name))
            elif entry in files and not path.is_file():
                problems.append(_problem(store, "special-file", path, f"not a regular file inside {kind}/ (a FIFO, "
                                         "socket or device): MLflow and regctl cannot read it as data", model=name))
            elif entry in files and kind == layout.TAGS_DIR:
                try:
                    validate_tag_key(key)
                except RegctlError as exc:
                    problems.append(_problem(store, "invalid-key", path,
                                             f"{exc.message}; MLflow refuses to read this model", model=name))
    return problems


def _check_aliases(store: Store, name: str, meta, live: dict) -> list:
    problems: list = []
    try:
        aliases = store.read_aliases(name)
    except RegctlError as exc:
        return [_problem(store, "unreadable-alias", layout.aliases_dir(store.root, name), exc.message, model=name)]
    for alias, text in sorted(aliases.items()):
        path = layout.alias_file(store.root, name, alias)
        if alias.startswith(layout.TEMP_PREFIX) or path.is_symlink():
            continue  # reported by _check_data_dir
        number = alias_version(text)
        if number is None:
            problems.append(_problem(store, "invalid-alias", path,
                                     f"alias {show(alias)} holds {show(text)}, not a version number", model=name))
        elif number not in live:
            problems.append(_problem(store, DANGLING_ALIAS, path,
                                     f"alias {show(alias)} points at version {number}, which does not exist",
                                     model=name, alias=alias, version=number))
        elif live[number] == DELETED_STAGE:
            problems.append(_problem(store, DANGLING_ALIAS, path,
                                     f"alias {show(alias)} points at version {number}, which is deleted",
                                     model=name, alias=alias, version=number))
    if isinstance(meta, dict) and isinstance(meta.get("aliases", {}), (dict, type(None))):
        snapshot = {str(k): str(v) for k, v in (meta.get("aliases") or {}).items()}
        if snapshot != {k: v for k, v in aliases.items() if not k.startswith(layout.TEMP_PREFIX)}:
            problems.append(_problem(store, STALE_SNAPSHOT, layout.model_meta(store.root, name),
                                     "the aliases mapping in meta.yaml differs from the alias files; MLflow "
                                     "reads the files and ignores the mapping, which MLflow's own rename "
                                     "leaves stale", model=name))
    return problems


def _check_new_model_leftovers(store: Store) -> list:
    """Staging directories of new models (at the store root) left by a killed ``register``."""
    problems: list = []
    for entry in _scan(store.root):
        key = layout.staging_key(entry.name)
        if key and entry.is_dir(follow_symlinks=False) and not atomic.is_locked(layout.lock_of_key(store.root, key)):
            problems.append(_problem(store, TEMP, Path(entry.path),
                                     "leftover staging directory of an interrupted model creation", model_key=key))
    return problems


def _check_journal(store: Store) -> list:
    path = layout.journal_path(store.root)
    if path.is_symlink():
        return [_problem(store, "symlink", path, _symlink_message(store, path))]
    try:
        bad = journal.damaged_lines(store.journal_path())
    except RegctlError as exc:
        return [_problem(store, "unreadable-journal", path, exc.message)]
    if bad:
        return [_problem(store, DAMAGED_JOURNAL, path, journal.damage_message(bad))]
    return []


def _check_pending(store: Store) -> list:
    """Changes a killed writer left half applied (completed by the next write, or by --fix)."""
    problems: list = []
    for entry in _scan(layout.models_dir(store.root)):
        if entry.name.startswith(layout.PENDING_PREFIX):
            key = entry.name[len(layout.PENDING_PREFIX):]
            lock = layout.lock_of_key(store.root, key)
            if entry.is_symlink():
                problems.append(_problem(store, "symlink", Path(entry.path), _symlink_message(store, Path(entry.path))))
            elif not atomic.is_locked(lock):  # a live writer's change is not a problem
                refused = transaction.refusal_of_pending_file(store, Path(entry.path))
                if refused:
                    problems.append(_problem(store, "unsafe-pending", Path(entry.path),
                                             f"an interrupted change regctl will not apply: {refused}; nothing of it "
                                             "was applied: check what it says and remove the file",
                                             model_key=key))
                else:
                    problems.append(_problem(store, INTERRUPTED, Path(entry.path),
                                             "a change interrupted while it was applied; --fix completes it",
                                             model_key=key))
        elif entry.name.startswith(layout.LOCK_PREFIX) and entry.is_symlink():
            problems.append(_problem(store, "symlink", Path(entry.path), _symlink_message(store, Path(entry.path))))
    return problems


def _check_logged_models(store: Store) -> list:
    """Leftover temp files in logged model directories (regctl writes their mlflow.modelVersions tag)."""
    problems: list = []
    for experiment in tracking._experiment_dirs(store):
        if experiment.is_symlink():
            continue  # never look for leftovers to remove outside the store
        for model in _scan(experiment / layout.MODELS_DIR):
            if model.is_symlink() or model.name.startswith(layout.TEMP_PREFIX):  # a copy being built: copies
                continue
            tags = Path(model.path) / layout.TAGS_DIR
            if tags.is_symlink():
                problems.append(_problem(store, "symlink", tags, _symlink_message(store, tags)))
            elif tags.is_dir():
                problems.extend(p for p in _check_data_dir(store, model.name, tags, layout.TAGS_DIR)
                                if p["kind"] == "special-file")
            if atomic.is_locked(store.lock_path(layout.logged_model_lock_name(model.name))):
                continue
            for entry in _scan(Path(model.path)):
                if entry.name.startswith(layout.TEMP_PREFIX):
                    problems.append(_problem(store, TEMP, Path(entry.path),
                                             "leftover temporary entry of an interrupted write",
                                             logged_model=model.name))
    return problems


def _any_writer(store: Store) -> bool:
    """Whether any writer holds a lock in ``models/`` now."""
    return any(atomic.is_locked(Path(e.path)) for e in _scan(layout.models_dir(store.root))
               if e.name.startswith(layout.LOCK_PREFIX))


def _read_meta(store: Store, path: Path, name: str, problems: list):
    if path.is_symlink():
        problems.append(_problem(store, "symlink", path, _symlink_message(store, path), model=name))
        return None
    try:
        return store.read_yaml(path, missing_ok=True)
    except RegctlError as exc:
        problems.append(_problem(store, "unreadable-meta", path, exc.message, model=name))
        return None


def _scan(directory: Path) -> list:
    try:
        return sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise StoreError(f"cannot read {directory}: {os_reason(exc)}") from None


def _symlink_message(store: Store, path: Path) -> str:
    target = os.path.realpath(path)
    root = os.path.realpath(store.root)
    where = "inside" if target == root or target.startswith(root + os.sep) else "outside"
    return f"symbolic link to {target} ({where} the store); regctl refuses to follow it"
