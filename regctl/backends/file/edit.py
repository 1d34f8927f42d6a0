"""``edit(store, name)``: the one way a use case changes a registered model.

    with edit(store, "fraud-detector") as change:
        meta = change.model_meta()                  # reads happen under the lock
        change.set_alias("champion", 3)             # writes are only planned
        change.touch_model(meta)
    # leaving the block applies the whole plan (see ``transaction``), or nothing

Inside the block the model's lock is held, a change a killed writer left
pending is completed first, and every method that changes something only
adds to the plan. An exception inside the block leaves the store untouched;
a store that did not exist before a refused write does not exist after it.
With ``store.dry_run`` the plan is made and checked, never applied.
"""

import contextlib
import os
from pathlib import Path
from typing import Iterable, Optional

from regctl.backends.file import layout, transaction
from regctl.backends.file.store import Store
from regctl.core import atomic, yamlfile
from regctl.core.atomic import now_ms
from regctl.core.errors import Conflict, StoreError
from regctl.core.names import show
from regctl.core.rules import model_exists, model_not_found


@contextlib.contextmanager
def edit(store: Store, name: str, *, create: bool = False, also_lock: Iterable[str] = ()):
    """Lock model ``name``, yield a ``ModelChange`` and apply it on success.

    ``create``: the store may not exist yet (a registration creates it).
    ``also_lock``: further lock names (a logged model) held until the change is applied.
    """
    created = _prepare(store, create, name)
    try:
        with contextlib.ExitStack() as locks:
            locks.enter_context(atomic.locked(store.lock_path(name), f"model {show(name)}"))
            for extra in also_lock:
                locks.enter_context(atomic.locked(store.lock_path(extra), extra))
            store.inside(layout.model_dir(store.root, name))
            transaction.recover(store, store.pending_path(name))
            change = ModelChange(store, name)
            yield change
            if store.dry_run:
                raise _DryRun()  # planned and checked, not applied: undo what the lock needed
            transaction.run(store, store.pending_path(name), change)
    except _DryRun:
        _remove_created(created)
    except BaseException:
        _remove_created(created)  # only a write that succeeds may create a store
        raise


@contextlib.contextmanager
def holding(store: Store, name: str):
    """Hold lock ``name`` for the block (a copy until it is registered), creating the store for it
    if needed; a store created for it is removed again when the block fails."""
    created = _prepare(store, True, name)
    try:
        with atomic.locked(store.lock_path(name), name):
            yield
    except BaseException:
        _remove_created(created)
        raise


class _DryRun(Exception):
    pass


def _remove_created(created: list) -> None:
    for directory in reversed(created):
        try:
            directory.rmdir()
        except OSError:
            pass


def _prepare(store: Store, create: bool, name: str) -> list:
    """The directories made for the lock, when ``create`` and the store is new; else require the store.

    A store that exists but holds no registered model yet (MLflow made ``mlruns/`` for runs
    only) is a store: what is missing there is the model ``name`` (exit 1), not the store."""
    if not create:
        store.require()
    created = []
    for directory in (store.root, layout.models_dir(store.root)):
        if directory.is_dir():
            continue
        if not create:
            if directory != store.root:
                raise model_not_found(store, name)
            raise StoreError(f"no MLflow store at {store.root} (use --store or REGCTL_STORE)")
        try:
            directory.mkdir(parents=directory == store.root)
        except FileExistsError:
            continue  # another writer made it meanwhile: not ours to remove
        except OSError as exc:
            raise StoreError(f"cannot create store at {store.root}: {atomic.os_reason(exc)}") from None
        created.append(directory)
    return created


class ModelChange(transaction.Plan):
    """The planned change to one registered model, with the reads a use case needs."""

    def __init__(self, store: Store, name: str):
        super().__init__(store)
        self.name = name
        self.now = now_ms()
        self._aliases: Optional[dict] = None

    # ------------------------------------------------------------------ reads

    def model_meta(self) -> dict:
        """The model's meta (NotFound if the model does not exist)."""
        return self.store.read_model_meta(self.name)

    def model_meta_or_none(self) -> Optional[dict]:
        return self.store.read_model_meta(self.name, missing_ok=True)

    def version_meta(self, number: int) -> dict:
        """A live version's meta (NotFound if missing or deleted)."""
        return self.store.read_live_version_meta(self.name, number)

    def version_numbers(self) -> list:
        return self.store.version_numbers(self.name)

    def aliases(self) -> dict:
        """``{alias: version text}`` as the change leaves them (read once, then kept up to date)."""
        if self._aliases is None:
            self._aliases = self.store.read_aliases(self.name)
        return self._aliases

    def tags(self, version: Optional[int] = None) -> dict:
        if version is None:
            return self.store.read_model_tags(self.name)
        return self.store.read_version_tags(self.name, version)

    # ------------------------------------------------------------------ changes

    def set_alias(self, alias: str, version: int) -> None:
        self._data_file(layout.aliases_dir(self.store.root, self.name), alias)
        self.write(layout.alias_file(self.store.root, self.name, alias), str(version))
        self.aliases()[alias] = str(version)

    def delete_alias(self, alias: str) -> None:
        aliases_dir = layout.aliases_dir(self.store.root, self.name)
        self.remove(aliases_dir / alias, aliases_dir)
        self.aliases().pop(alias, None)

    def set_tag(self, key: str, value: str, version: Optional[int] = None) -> None:
        tags_dir = self._tags_dir(version)
        self._data_file(tags_dir, key)
        self.write(tags_dir / key, value)

    def delete_tag(self, key: str, version: Optional[int] = None) -> None:
        tags_dir = self._tags_dir(version)
        self.remove(tags_dir / key, tags_dir)

    def write_version_meta(self, number: int, meta: dict) -> None:
        self.write(layout.version_meta(self.store.root, self.name, number), yamlfile.dumps(meta))

    def touch_model(self, meta: dict, **updates) -> dict:
        """Write the model's meta with ``updates``, a new ``last_updated_timestamp`` and the aliases snapshot."""
        meta = dict(meta, **updates)
        meta["last_updated_timestamp"] = self.now
        self.write(layout.model_meta(self.store.root, self.name), self.model_meta_text(meta))
        return meta

    def model_meta_text(self, meta: dict) -> str:
        # MLflow reads the alias files; the snapshot in meta.yaml is kept equal to them, as MLflow writes it.
        return yamlfile.dumps(dict(meta, aliases=dict(sorted(self.aliases().items()))))

    def create_version(self, number: int, meta: dict, tags: dict, files: dict) -> Path:
        """Plan the complete directory of a new version (built aside, renamed into place)."""
        target = layout.version_dir(self.store.root, self.name, number)
        self.create_dir(target, version_files(meta, tags, files), layout.model_dir(self.store.root, self.name))
        return target

    def create_model(self, meta: dict, versions: dict) -> None:
        """Plan a new model directory with its first versions ({number: files}), in one rename."""
        files = {layout.META: self.model_meta_text(meta).encode("utf-8")}
        for alias, version in self.aliases().items():
            files[f"{layout.ALIASES_DIR}/{alias}"] = str(version).encode("utf-8")
        for number, version_files_ in versions.items():
            for relative, data in version_files_.items():
                files[f"{layout.VERSION_PREFIX}{number}/{relative}"] = data
        staging = layout.new_model_staging(self.store.root, self.name, os.urandom(4).hex())
        target = layout.model_dir(self.store.root, self.name)
        if os.path.lexists(target):
            raise model_exists(self.name)
        self.create_dir(target, files, staging)
        self.remove_tree(staging)  # empty by then

    def move_model(self, new_name: str) -> None:
        target = layout.model_dir(self.store.root, new_name)
        if os.path.lexists(target):
            raise model_exists(new_name)
        self.move(layout.model_dir(self.store.root, self.name), target, new=True)

    def remove_model(self) -> None:
        """Plan the model's removal: one rename out of ``models/`` (readers see it gone at once), then delete."""
        aside = layout.new_model_staging(self.store.root, self.name, os.urandom(4).hex())
        self.move(layout.model_dir(self.store.root, self.name), aside / "model")
        self.remove_tree(aside)

    # ------------------------------------------------------------------ helpers

    def _tags_dir(self, version: Optional[int]) -> Path:
        if version is None:
            return layout.model_tags_dir(self.store.root, self.name)
        return layout.version_tags_dir(self.store.root, self.name, version)

    def _data_file(self, data_dir: Path, key: str) -> None:
        """Refuse a key that would need a file where a directory is, or the reverse."""
        current = data_dir
        for part in key.split("/")[:-1]:
            current = current / part
            if current.is_file():
                raise Conflict(f"{show(key)} cannot be set: {show(os.path.relpath(current, data_dir))} is already a tag")
        if (data_dir / key).is_dir():
            raise Conflict(f"{show(key)} cannot be set: tags below {show(key + '/')} exist")


def version_files(meta: dict, tags: dict, files: dict) -> dict:
    """The files of a version directory: meta.yaml, one file per tag, regctl's own files."""
    result = {layout.META: yamlfile.dumps(meta).encode("utf-8")}
    for key, value in tags.items():
        result[f"{layout.TAGS_DIR}/{key}"] = value.encode("utf-8")
    result.update(files)
    return result
