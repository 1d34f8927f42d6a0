"""The logged models push copies into a file store (``0/models/m-<id>``), from copy to registration.

Each is created in one change recorded as ``logged_model.create`` in the journal, which is how
regctl knows later that it made it (MLflow's own logged models, registered or not, are never
touched). From before the copy until the registration that follows is done, the command holds
the copy's own lock (``logged-model-copy:<id>``, an flock the kernel releases when its holder
dies); when the registration fails before a version refers to the copy, the copy is removed again
(``logged_model.delete``). ``doctor`` reports what a killed command left: such a logged model no
version refers to (none names it, it has no ``mlflow.modelVersions`` tag), never while its lock
is held, and the temporary directories of a copy being built in an experiment's ``models/``;
``doctor --fix`` removes them under the same locks, checked again there.
"""

import contextlib
import os
import uuid
from pathlib import Path

from regctl.backends.file import layout, tracking
from regctl.backends.file.edit import edit, holding
from regctl.backends.file.store import Store
from regctl.core import atomic, journal

UNREFERENCED = "unreferenced-copy"
TEMP = "temp-leftover"
CREATED = "logged_model.create"
MODEL_VERSIONS_TAG = "mlflow.modelVersions"
EXPERIMENT = "0"  # where regctl copies files: MLflow's Default experiment


@contextlib.contextmanager
def importing(store: Store, local):
    """Copy ``local``'s files into a new logged model; yields the ``models:/m-<id>`` URI to register.

    When the block fails (an error, Ctrl-C, SIGTERM) and no version refers to the copy, the copy
    is removed before the failure goes on.
    """
    from regctl.backends.file import writes

    model_id = "m-" + uuid.uuid4().hex
    with holding(store, layout.copy_lock_name(model_id)):
        uri = writes.import_logged_model(store, local, model_id)
        try:
            yield uri
        except BaseException:
            with contextlib.suppress(Exception):  # when it cannot be removed now, doctor finds it
                discard(store, model_id)
            raise


def discard(store: Store, model_id: str) -> bool:
    """Remove a logged model regctl copied in, unless a version refers to it; whether it was removed.
    The caller holds the copy's lock."""
    directory = layout.logged_model_dir(store.root, EXPERIMENT, model_id)
    with edit(store, layout.logged_model_lock_name(model_id)) as change:
        if directory.is_symlink() or not directory.is_dir() or _referenced(store, {model_id}):
            return False
        change.remove_tree(directory)
        change.record("logged_model.delete", None, model_id, f"models:/{model_id}", None)
    with contextlib.suppress(OSError):
        directory.parent.rmdir()  # only while empty: the experiment's models/ the copy made
    return True


def _live(store: Store, model_id: str) -> bool:
    """Whether a command is copying into, or registering, this logged model now."""
    return any(atomic.is_locked(store.lock_path(name))
               for name in (layout.copy_lock_name(model_id), layout.logged_model_lock_name(model_id)))


def _created_by_regctl(store: Store) -> set:
    """The ids of the logged models regctl's journal says it created."""
    found = set()
    needle = CREATED.encode()
    for line in journal.lines_from_end(store.journal_path()):
        if needle not in line:
            continue
        record = journal.parse(line)
        entries = record.get("entries") if record is not None else None
        for entry in entries if isinstance(entries, list) else [record]:
            if isinstance(entry, dict) and entry.get("operation") == CREATED and isinstance(entry.get("target"), str):
                found.add(entry["target"])
    return found


def _referenced(store: Store, ids: set) -> set:
    """Those of ``ids`` a version refers to (its meta.yaml names it, deleted versions included) or
    that carry ``mlflow.modelVersions``; all of them when a version's meta.yaml cannot be read."""
    found = {i for i in ids if os.path.lexists(layout.logged_model_dir(store.root, EXPERIMENT, i)
                                               / layout.TAGS_DIR / MODEL_VERSIONS_TAG)}
    for meta in layout.models_dir(store.root).glob(f"*/{layout.VERSION_PREFIX}*/{layout.META}"):
        if found == ids:
            break
        try:
            data = meta.read_bytes()
        except OSError:
            return set(ids)
        found |= {i for i in ids - found if i.encode() in data}
    return found


# ------------------------------------------------------------------ doctor

def check(store: Store, any_writer) -> list:
    """What killed commands left: copies no version refers to, temporary directories in
    experiments' ``models/`` (reported when no writer holds a lock: ``any_writer()``)."""
    problems = []
    for experiment in tracking._experiment_dirs(store):
        models = experiment / layout.MODELS_DIR
        if experiment.is_symlink() or models.is_symlink() or experiment.parent != store.root:
            continue  # never look for leftovers to remove outside the store, or in .trash
        entries = _scan(models)
        temps = [e for e in entries if e.name.startswith(layout.TEMP_PREFIX)]
        if temps and not any_writer():
            problems += [_problem(store, TEMP, Path(e.path), "leftover temporary directory of a logged model "
                                  "a killed command was copying files into") for e in temps]
        if experiment.name != EXPERIMENT:
            continue
        candidates = {e.name for e in entries if e.is_dir(follow_symlinks=False)} & _created_by_regctl(store)
        candidates = {i for i in candidates if not _live(store, i)}
        for model_id in sorted(candidates - _referenced(store, candidates)):
            problems.append(_problem(store, UNREFERENCED, models / model_id,
                                     "a logged model regctl copied files into that no version refers to, left "
                                     "by a push killed before it registered it (a rerun copies again)",
                                     logged_model=model_id))
    return problems


def remove(store: Store, problem: dict) -> bool:
    """Remove an unreferenced copy ``check`` found, under its locks, unless it is live or referenced now."""
    model_id = problem["logged_model"]
    if _live(store, model_id):
        return False
    with atomic.locked(store.lock_path(layout.copy_lock_name(model_id)), f"the copy {model_id}"):
        return discard(store, model_id)


def _problem(store: Store, kind: str, path: Path, message: str, **extra) -> dict:
    return {"kind": kind, "model": None, "path": path.relative_to(store.root).as_posix(), "message": message,
            "fixable": True, **extra}


def _scan(directory: Path) -> list:
    try:
        return sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return []
