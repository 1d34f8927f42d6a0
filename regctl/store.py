"""Reading and writing registry entities in an ``mlruns/`` tree.

The only user of ``atomic``: every write goes through ``atomic.write_bytes``
(temp file, fsync, rename) and happens while ``Store.lock`` is held for the
model concerned. Entities are plain dicts keyed by MLflow's own field names.
"""

import contextlib
import errno
import os
import re
import time
from pathlib import Path

from regctl import atomic, layout, prompts, yamlfile
from regctl.errors import Conflict, NotFound, StoreError
from regctl.names import DELETED_STAGE, show

_VERSION_LINE = re.compile(rb"^version: *([0-9]+) *$", re.MULTILINE)
_TEXT, _INT = (str, type(None)), (int, type(None))
# Types of the meta fields regctl uses; anything else is reported as damage, never crashes a reader.
MODEL_FIELD_TYPES = {"name": _TEXT, "description": _TEXT, "creation_timestamp": _INT,
                     "last_updated_timestamp": _INT, "aliases": (dict, type(None))}
VERSION_FIELD_TYPES = {"name": _TEXT, "version": (int,), "current_stage": _TEXT, "description": _TEXT,
                       "source": _TEXT, "storage_location": _TEXT, "run_id": _TEXT, "model_id": _TEXT,
                       "status": _TEXT, "creation_timestamp": _INT, "last_updated_timestamp": _INT}


def now_ms() -> int:
    return int(time.time() * 1000)


class Store:
    """One MLflow file store, addressed by its root directory (the ``mlruns/`` folder)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._real_root = None

    # ----------------------------------------------------------------- basics

    def require(self) -> None:
        """Fail unless the store exists (reads never create it)."""
        if not self.root.is_dir():
            raise StoreError(f"no MLflow store at {self.root} (use --store or REGCTL_STORE)")

    def ensure(self) -> None:
        """Create the store's ``models/`` directory for a writing command."""
        try:
            layout.models_dir(self.root).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store at {self.root}: {atomic.describe_os_error(exc, self.root)}") from None

    @contextlib.contextmanager
    def lock(self, name: str):
        """Hold the write lock of registered model ``name``."""
        self.ensure()
        with atomic.locked(layout.model_lock(self.root, name), f"model {show(name)}"):
            self.inside(layout.model_dir(self.root, name))
            yield

    def inside(self, path: Path) -> Path:
        """``path``, unless a symbolic link makes it lead outside the store (StoreError)."""
        if self._real_root is None:
            self._real_root = os.path.realpath(self.root)
        real, root = os.path.realpath(path), self._real_root
        if real != root and not real.startswith(root + os.sep):
            raise StoreError(f"damaged store: {path} is a symbolic link leading outside the store "
                             f"(to {real}); refusing to use it")
        return path

    # ----------------------------------------------------------- raw reading

    def read_yaml(self, path: Path, *, missing_ok: bool = False):
        """Parse a meta file; None when missing and ``missing_ok``; StoreError when damaged."""
        for delay in (0.05, 0.1, None):
            try:
                text = path.read_bytes().decode("utf-8")
            except FileNotFoundError:
                if missing_ok:
                    return None
                raise StoreError(f"damaged store: {path} is missing") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise StoreError(f"cannot read {path}: {_reason(exc)}") from None
            if text.strip() or delay is None:
                break
            time.sleep(delay)  # an MLflow writer truncates before it writes; wait for it
        try:
            data = yamlfile.loads(text)
        except yamlfile.YamlSyntaxError as exc:
            raise StoreError(f"damaged file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise StoreError(f"damaged file {path}: expected a YAML mapping")
        return data

    def read_text(self, path: Path) -> str:
        try:
            return path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read {path}: {_reason(exc)}") from None

    def read_files(self, directory: Path) -> dict:
        """Every file under ``directory`` (recursively) as ``{relative/key: content}``."""
        found = {}
        if not self.inside(directory).is_dir():
            return found
        for parent, dirs, files in os.walk(directory):
            dirs.sort()
            base = os.path.relpath(parent, directory)
            for file_name in sorted(files):
                key = file_name if base == "." else f"{base}/{file_name}".replace(os.sep, "/")
                found[key] = self.read_text(self.inside(Path(parent) / file_name))
        return found

    # ------------------------------------------------------- registry reads

    def model_names(self) -> list:
        """Names of all registered model directories, sorted."""
        self.require()
        directory = layout.models_dir(self.root)
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot read {directory}: {_reason(exc)}") from None
        # symbolic links are listed too, so that reading them reports the damage instead of hiding the model
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith(layout.TEMP_PREFIX))

    def model_exists(self, name: str) -> bool:
        try:
            return layout.model_dir(self.root, name).is_dir()
        except (OSError, ValueError):  # a name the OS cannot hold (too long, NUL) names no model
            return False

    def read_model_meta(self, name: str) -> dict:
        """The model's meta.yaml; NotFound when the model does not exist."""
        self.require()
        path = self.inside(layout.model_meta(self.root, name))
        meta = self.read_yaml(path, missing_ok=True)
        if meta is None:
            if self.model_exists(name):
                raise StoreError(f"damaged store: model {show(name)} has no meta.yaml")
            raise NotFound(f"registered model {show(name)} not found")
        if prompts.is_prompt(self.root, name):  # MLflow: not a model, for every read and write
            raise prompts.not_found(name)
        return _check_fields(path, meta, MODEL_FIELD_TYPES)

    def read_model_tags(self, name: str) -> dict:
        return self.read_files(layout.model_tags_dir(self.root, name))

    def read_aliases(self, name: str) -> dict:
        """``{alias: version text}`` from the alias files (the authoritative source)."""
        return self.read_files(layout.aliases_dir(self.root, name))

    def read_alias(self, name: str, alias: str):
        """The version text an alias file holds, or None."""
        try:
            return self.inside(layout.alias_file(self.root, name, alias)).read_bytes().decode("utf-8")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read alias {show(alias)} of {show(name)}: {_reason(exc)}") from None

    def version_numbers(self, name: str) -> list:
        """Version numbers from ``version-<N>`` directory names, highest first."""
        directory = self.inside(layout.model_dir(self.root, name))
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            raise NotFound(f"registered model {show(name)} not found") from None
        except OSError as exc:
            raise StoreError(f"cannot read {directory}: {_reason(exc)}") from None
        numbers = (layout.version_number_of(n) for n in names)
        return sorted((n for n in numbers if n is not None), reverse=True)

    def read_version_meta(self, name: str, version: int):
        """The version's meta.yaml, or None when there is no such version directory."""
        path = self.inside(layout.version_meta(self.root, name, version))
        meta = self.read_yaml(path, missing_ok=True)
        if meta is None and path.parent.is_dir():
            raise StoreError(f"damaged store: {path} is missing")
        return meta if meta is None else _check_fields(path, meta, VERSION_FIELD_TYPES)

    def read_live_version_meta(self, name: str, version: int) -> dict:
        """The meta of a version that exists and is not deleted, else NotFound."""
        meta = self.read_version_meta(name, version)
        if meta is None or meta.get("current_stage") == DELETED_STAGE:
            if not self.model_exists(name):
                raise NotFound(f"registered model {show(name)} not found")
            raise NotFound(f"version {version} of model {show(name)} not found")
        return meta

    def read_version_tags(self, name: str, version: int) -> dict:
        return self.read_files(layout.version_tags_dir(self.root, name, version))

    def highest_version_number(self, name: str) -> int:
        """Highest version number ever used, soft-deleted versions included.

        MLflow takes it from the ``version`` field of every version file. Both
        MLflow and regctl name each directory ``version-<that field>``, so the
        directory names give the same answer without reading ten thousand files
        on a deep model; the highest directory's own field is read as a check.
        ``doctor`` reports a store where a field and its directory disagree.
        """
        numbers = self.version_numbers(name)
        if not numbers:
            return 0
        path = layout.version_meta(self.root, name, numbers[0])
        try:
            match = _VERSION_LINE.search(path.read_bytes())
        except FileNotFoundError:
            return numbers[0]
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {_reason(exc)}") from None
        return max(numbers[0], int(match.group(1))) if match else numbers[0]

    # ------------------------------------------------------- registry writes

    def create_model(self, name: str, meta: dict) -> None:
        """Create ``models/<name>/`` with its meta.yaml in one rename; Conflict if the name exists.

        MLflow treats every directory in ``models/`` as a model and fails on one
        without meta.yaml, so the model is built elsewhere first (see
        ``layout.new_model_staging``).
        """
        self.ensure()
        staging = layout.new_model_staging(self.root, name, os.urandom(4).hex())
        model = staging / "model"
        try:
            model.mkdir(parents=True)
        except OSError as exc:
            raise StoreError(f"cannot create model {show(name)}: {atomic.describe_os_error(exc, self.root)}") from None
        try:
            atomic.write_bytes(model / layout.META, yamlfile.dumps(dict(meta, aliases={})).encode("utf-8"))
            if not atomic.rename_dir(model, layout.model_dir(self.root, name)):
                raise Conflict(f"registered model {show(name)} already exists")
        finally:
            _remove_tree(staging)

    @contextlib.contextmanager
    def lock_key(self, key: str):
        """Hold the write lock of the model whose key (``layout.model_key``) is ``key``."""
        with atomic.locked(layout.lock_of_key(self.root, key), f"model key {key}"):
            yield

    def write_model_meta(self, name: str, meta: dict) -> None:
        """Write the model's meta.yaml, refreshing its ``aliases`` snapshot from the alias files."""
        meta = dict(meta)
        meta["aliases"] = dict(sorted(self.read_aliases(name).items()))
        path = layout.model_meta(self.root, name)
        atomic.write_bytes(path, yamlfile.dumps(meta).encode("utf-8"))

    def write_version_meta(self, name: str, version: int, meta: dict) -> None:
        path = layout.version_meta(self.root, name, version)
        atomic.write_bytes(path, yamlfile.dumps(meta).encode("utf-8"))

    def create_version_dir(self, name: str, version: int, meta: dict, tags: dict, files: "dict | None" = None) -> int:
        """Stage a complete version directory and rename it into place.

        A concurrent MLflow writer may take ``version`` first; then the next free
        number is used. Returns the number the version was stored under.
        ``files`` maps extra plain file names (regctl's own) to their bytes.
        """
        model = layout.model_dir(self.root, name)
        staging = model / atomic.temp_name()
        try:
            staging.mkdir()
        except OSError as exc:
            raise StoreError(f"cannot create a version of {show(name)}: {atomic.describe_os_error(exc, model)}") from None
        try:
            for file_name, data in (files or {}).items():
                atomic.write_bytes(staging / file_name, data)
            while True:
                meta = dict(meta, version=version)
                atomic.write_bytes(staging / layout.META, yamlfile.dumps(meta).encode("utf-8"))
                for key, value in tags.items():
                    self._write_tag_file(staging / layout.TAGS_DIR, key, value, staging)
                if atomic.rename_dir(staging, layout.version_dir(self.root, name, version)):
                    return version
                version += 1
        finally:
            if staging.exists():
                _remove_tree(staging)

    def write_version_file(self, name: str, version: int, file_name: str, data: bytes) -> None:
        """Write one of regctl's own plain files (not a tag) in a version directory."""
        atomic.write_bytes(layout.version_dir(self.root, name, version) / file_name, data)

    def set_tag(self, owner: Path, key: str, value: str) -> None:
        """Write tag ``key`` of the model or version directory ``owner``."""
        self._write_tag_file(owner / layout.TAGS_DIR, key, value, owner)

    def delete_tag(self, owner: Path, key: str) -> bool:
        """Remove tag ``key`` of ``owner``; False if it did not exist."""
        return self._remove_data_file(owner / layout.TAGS_DIR, key)

    def set_alias_file(self, name: str, alias: str, version: int) -> None:
        owner = layout.model_dir(self.root, name)
        self._write_tag_file(owner / layout.ALIASES_DIR, alias, str(version), owner)

    def delete_alias_file(self, name: str, alias: str) -> bool:
        return self._remove_data_file(layout.aliases_dir(self.root, name), alias)

    def rename_model_dir(self, old: str, new: str) -> None:
        """Move ``models/<old>`` to ``models/<new>``; Conflict if the new name exists."""
        target = layout.model_dir(self.root, new)
        if target.exists():
            raise Conflict(f"registered model {show(new)} already exists")
        if not atomic.rename_dir(layout.model_dir(self.root, old), target):
            raise Conflict(f"registered model {show(new)} already exists")

    def delete_model_dir(self, name: str) -> None:
        """Remove a registered model in place, versions first and ``meta.yaml`` last.

        Each version directory is renamed aside (MLflow ignores names not
        starting with ``version-``) before its files go, so an interrupted
        delete leaves a readable model with fewer versions, never a broken one.
        """
        model = layout.model_dir(self.root, name)
        for number in self.version_numbers(name):
            aside = model / atomic.temp_name()
            if atomic.rename_dir(layout.version_dir(self.root, name, number), aside):
                _remove_tree(aside)
        for entry in os.scandir(model):
            if entry.name != layout.META:
                if entry.is_dir(follow_symlinks=False):
                    _remove_tree(Path(entry.path))
                else:
                    atomic.remove_file(Path(entry.path))
        atomic.remove_file(layout.model_meta(self.root, name))
        try:
            model.rmdir()
        except OSError as exc:
            raise StoreError(f"cannot remove {model}: {_reason(exc)}") from None
        atomic.fsync_dir(model.parent)

    def remove_leftover(self, path: Path) -> None:
        """Remove a leftover temporary file or directory (gone already is fine)."""
        if path.is_dir() and not path.is_symlink():
            _remove_tree(path)
        else:
            atomic.remove_file(path)

    def append_journal(self, record: dict) -> None:
        """Append one JSON line to the store's append-only journal (caller holds a lock)."""
        import json

        line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        path = layout.journal_path(self.root)
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # never glue a record onto a line cut short by a crash
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(f"cannot append to the journal {path}: {_reason(exc)}") from None

    def read_journal(self) -> list:
        """Every journal record, oldest first; unreadable lines are skipped."""
        path = layout.journal_path(self.root)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot read the journal {path}: {_reason(exc)}") from None
        import json

        records = []
        for line in raw.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(record, dict):
                records.append(record)
        return records

    # ---------------------------------------------------------------- helpers

    def _write_tag_file(self, data_dir: Path, key: str, value: str, owner: Path) -> None:
        """Write one file under tags/ or aliases/, its temp file kept in ``owner``."""
        target = data_dir / key
        current = data_dir
        for part in key.split("/")[:-1]:
            current = current / part
            if current.is_file():
                raise Conflict(f"{show(key)} cannot be set: {show(os.path.relpath(current, data_dir))} is already a tag")
        if target.is_dir():
            raise Conflict(f"{show(key)} cannot be set: tags below {show(key + '/')} exist")
        atomic.write_bytes(target, value.encode("utf-8"), temp_dir=owner)

    def _remove_data_file(self, data_dir: Path, key: str) -> bool:
        target = data_dir / key
        if not target.is_file():
            return False
        removed = atomic.remove_file(target)
        parent = target.parent
        while parent != data_dir and parent.is_relative_to(data_dir):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return removed


def field_problems(meta: dict, types: dict) -> list:
    """One message for each field of ``meta`` whose value is not of its type in ``types``."""
    problems = []
    for field, expected in types.items():
        value = meta.get(field)
        if field in meta and (not isinstance(value, expected) or isinstance(value, bool)):
            kind = "an integer" if int in expected else "a mapping" if dict in expected else "text"
            problems.append(f"{field} is {repr(value)[:60]}, not {kind}")
    return problems


def _check_fields(path: Path, meta: dict, types: dict) -> dict:
    problems = field_problems(meta, types)
    if problems:
        raise StoreError(f"damaged file {path}: {problems[0]}")
    return meta


def _remove_tree(path: Path) -> None:
    import shutil

    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise StoreError(f"cannot remove {path}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not valid UTF-8"
    if isinstance(exc, OSError):
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        return exc.strerror or str(exc)
    return str(exc)
