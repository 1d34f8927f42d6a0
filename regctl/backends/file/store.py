"""Reading registry entities of an ``mlruns/`` tree, addressed by model name and version.

Entities are plain dicts keyed by MLflow's own field names. Writing goes
through ``edit`` (a plan per change) and ``transaction`` (applying it); this
module only says where the lock, the pending change and the journal live.
"""

import functools
import os
import re
import stat
import time
from pathlib import Path

from regctl.backends.file import layout
from regctl.core import locations, prompts, yamlfile
from regctl.core.atomic import os_reason, read_file
from regctl.core.errors import StoreError
from regctl.core.names import DELETED_STAGE, show

TYPE_CHECKING = False  # typing is not loaded at run time: the resolve fast path never needs it
if TYPE_CHECKING:
    from typing import Any

_VERSION_LINE = re.compile(rb"^version: *([0-9]+) *$", re.MULTILINE)
_TEXT, _INT = (str, type(None)), (int, type(None))
# Types of the meta fields regctl uses; anything else is reported as damage, never crashes a reader.
MODEL_FIELD_TYPES = {"name": _TEXT, "description": _TEXT, "creation_timestamp": _INT,
                     "last_updated_timestamp": _INT, "aliases": (dict, type(None))}
VERSION_FIELD_TYPES = {"name": _TEXT, "version": (int,), "current_stage": _TEXT, "description": _TEXT,
                       "source": _TEXT, "storage_location": _TEXT, "run_id": _TEXT, "model_id": _TEXT,
                       "status": _TEXT, "creation_timestamp": _INT, "last_updated_timestamp": _INT}


class Store:
    """One MLflow file store, addressed by its root directory (the ``mlruns/`` folder)."""

    def __init__(self, root: Path, *, dry_run: bool = False):
        self.root = Path(root)
        self.dry_run = dry_run  # writes plan and check their change, then leave the store as it is
        self._real_root: str | None = None
        self._creations: dict | None = None

    # ----------------------------------------------------------------- basics

    def require(self) -> None:
        """Fail unless the store exists (reads never create it)."""
        if not self.root.is_dir():
            raise StoreError(f"no MLflow store at {self.root} (use --store or REGCTL_STORE)")

    def lock_path(self, name: str) -> Path:
        """The lock file guarding writes to model ``name`` (or to another lock name, such as a logged model's)."""
        return layout.model_lock(self.root, name)

    def pending_path(self, name: str) -> Path:
        """Where a change to model ``name`` is kept while it is applied."""
        return layout.pending_of_key(self.root, layout.model_key(name))

    def journal_path(self) -> Path:
        return self.inside(layout.journal_path(self.root))

    def journal_creations(self) -> dict:
        """The journal's ``version.create`` offsets (``journal.creations``), read once per command."""
        if self._creations is None:
            from regctl.core import journal

            self._creations = journal.creations(self.journal_path())
        return self._creations

    def inside(self, path: Path) -> Path:
        """``path``, unless a symbolic link makes it lead outside the store (StoreError)."""
        if self._real_root is None:
            self._real_root = os.path.realpath(self.root)
        if self._no_link_below_root(path):
            return path
        return locations.inside(path, self._real_root)

    def _no_link_below_root(self, path: Path) -> bool:
        """Whether ``path`` is under the root with no symbolic link in any part below it (then it
        resolves inside the store): one lstat per part below the root instead of a realpath of
        every part from '/'. False whenever unsure; the caller then resolves the whole path."""
        text, root = os.fspath(path), os.fspath(self.root)
        if not text.startswith(root + os.sep):
            return False
        current = root
        for part in text[len(root) + 1:].split(os.sep):
            if part in ("", ".", ".."):
                return False
            current = f"{current}{os.sep}{part}"
            try:
                if stat.S_ISLNK(os.lstat(current).st_mode):
                    return False
            except FileNotFoundError:
                return True  # nothing below a missing part exists, so no link can lead out from there
            except (OSError, ValueError):
                return False
        return True

    # ----------------------------------------------------------- raw reading

    def read_yaml(self, path: Path, *, missing_ok: bool = False):
        """Parse a meta file; None when missing and ``missing_ok``; StoreError when damaged."""
        for delay in (0.05, 0.1, None):
            try:
                text = read_file(path).decode("utf-8")
            except FileNotFoundError:
                if missing_ok:
                    return None
                raise StoreError(f"damaged store: {path} is missing") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise StoreError(f"cannot read {path}: {os_reason(exc)}") from None
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

    def _read_plain_yaml(self, path: str):
        """``read_yaml(path, missing_ok=True)`` for a file in a directory known to be inside the store;
        ``_CAREFUL`` when the file is a link or anything unusual happens (the caller reads it carefully)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError:
            return _CAREFUL
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return _CAREFUL
            data = os.read(fd, 1 << 16)
            if len(data) == 1 << 16 or not data:
                return _CAREFUL  # large or empty (a writer between truncating and writing): read it carefully
        except OSError:
            return _CAREFUL
        finally:
            os.close(fd)
        try:
            text = data.decode("utf-8")
            meta = yamlfile.loads(text)
        except (UnicodeDecodeError, yamlfile.YamlSyntaxError):
            return _CAREFUL
        return meta if isinstance(meta, dict) else _CAREFUL

    def read_text(self, path: Path) -> str:
        """A text file's content; FileNotFoundError as it is (the caller knows what a missing file means)."""
        try:
            return read_file(path).decode("utf-8")
        except FileNotFoundError:
            raise
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read {path}: {os_reason(exc)}") from None

    def read_files(self, directory: "Path | str") -> dict:
        """Every file under ``directory`` (recursively) as ``{relative/key: content}``."""
        found: dict = {}
        try:  # most tag and alias directories do not exist: one failed open says so
            os.close(os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW))
        except FileNotFoundError:
            return found
        except OSError:
            pass  # a link, a file, no permission: the careful path below says what it is
        directory = Path(directory)
        if not self.inside(directory).is_dir():
            return found
        def fail(exc: OSError):
            if isinstance(exc, FileNotFoundError):
                return  # removed by a writer (a delete, a rename) since it was seen: not there
            raise StoreError(f"cannot read {exc.filename or directory}: {os_reason(exc)}")

        try:
            for parent, dirs, files in os.walk(directory, onerror=fail):
                dirs.sort()
                base = os.path.relpath(parent, directory)
                for file_name in sorted(files):
                    key = file_name if base == "." else f"{base}/{file_name}".replace(os.sep, "/")
                    try:
                        found[key] = self.read_text(self.inside(Path(parent) / file_name))
                    except FileNotFoundError:
                        continue  # removed by a writer since the directory was listed: not there
        except RecursionError:
            raise StoreError(f"damaged store: {directory} is nested too deeply") from None
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
            raise StoreError(f"cannot read {directory}: {os_reason(exc)}") from None
        # symbolic links are listed too, so that reading them reports the damage instead of hiding the model
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith(layout.TEMP_PREFIX))

    def model_exists(self, name: str) -> bool:
        try:
            return layout.model_dir(self.root, name).is_dir()
        except (OSError, ValueError):  # a name the OS cannot hold (too long, NUL) names no model
            return False

    def is_prompt(self, name: str) -> bool:
        """Whether the registered-model directory ``name`` holds an MLflow prompt."""
        try:
            return (layout.model_tags_dir(self.root, name) / prompts.PROMPT_TAG).is_file()
        except (OSError, ValueError):  # a name the OS cannot hold: no model, no prompt
            return False

    def read_model_meta(self, name: str, *, missing_ok: bool = False):
        """The model's meta.yaml; NotFound (None with ``missing_ok``) when the model does not exist."""
        self.require()
        path = self.inside(layout.model_meta(self.root, name))
        meta = self.read_yaml(path, missing_ok=True)
        if meta is None and self.model_exists(name):  # gone, then back: a writer replaced the model meanwhile
            meta = self.read_yaml(path, missing_ok=True)
        if meta is None:
            if self.model_exists(name):
                raise StoreError(f"damaged store: model {show(name)} has no meta.yaml")
            if missing_ok:
                return None
            raise self._model_not_found(name)
        if self.is_prompt(name):  # MLflow: not a model, for every read and write
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
            return read_file(self.inside(layout.alias_file(self.root, name, alias))).decode("utf-8")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read alias {show(alias)} of {show(name)}: {os_reason(exc)}") from None

    def _model_not_found(self, name: str):
        """The "not found" error for model ``name``; ``core.rules`` loads only on this path, not at start-up."""
        from regctl.core.rules import model_not_found

        return model_not_found(self, name)

    def version_numbers(self, name: str) -> list:
        """Version numbers from ``version-<N>`` directory names, highest first."""
        return [number for number, _entry in self.version_entries(name)]

    def version_entries(self, name: str) -> list:
        """``(number, entry)`` of each ``version-<N>`` directory entry, highest first; ``plain_dir(entry)``
        says whether it is a directory and no symbolic link (asked only of the entries read)."""
        directory = self.inside(layout.model_dir(self.root, name))
        try:
            with os.scandir(directory) as entries:
                found = []
                prefix, start = layout.VERSION_PREFIX, len(layout.VERSION_PREFIX)
                for entry in entries:  # layout.version_number_of, inlined: a listing reads 50,000 names
                    entry_name = entry.name
                    if entry_name.startswith(prefix):
                        digits = entry_name[start:]
                        if digits.isascii() and digits.isdigit():
                            found.append((int(digits), entry))
        except FileNotFoundError:
            raise self._model_not_found(name) from None
        except OSError as exc:
            raise StoreError(f"cannot read {directory}: {os_reason(exc)}") from None
        found.sort(key=_number, reverse=True)
        return found

    def read_version_meta(self, name: str, version: int, *, plain: bool = False):
        """The version's meta.yaml, or None when there is no such version directory.

        ``plain``: the version directory was listed as a directory that is no link, so only
        meta.yaml itself can lead elsewhere; it is opened without following a link, and a link
        takes the careful path (a realpath of the whole path)."""
        path = self._version_path(name, version, layout.META)
        meta = self._read_plain_yaml(path) if plain else _CAREFUL
        if meta is _CAREFUL:
            meta = self.read_yaml(self.inside(Path(path)), missing_ok=True)
        if meta is None and os.path.isdir(os.path.dirname(path)):  # gone, then back: a writer replaced it
            meta = self.read_yaml(Path(path), missing_ok=True)
            if meta is None and os.path.isdir(os.path.dirname(path)):
                raise StoreError(f"damaged store: {path} is missing")
        return meta if meta is None else _check_fields(path, meta, VERSION_FIELD_TYPES)

    def version_metas(self, name: str):
        """``(number, meta)`` of each version, highest first; a version a writer removed (a delete, a
        rename) since the directory was listed is not there."""
        for number, entry in self.version_entries(name):
            meta = self.read_version_meta(name, number, plain=plain_dir(entry))
            if meta is not None:
                yield number, meta

    def read_live_version_meta(self, name: str, version: int) -> dict:
        """The meta of a version that exists and is not deleted, else NotFound."""
        meta = self.read_version_meta(name, version)
        if meta is None or meta.get("current_stage") == DELETED_STAGE:
            if not self.model_exists(name):
                raise self._model_not_found(name)
            from regctl.core.rules import version_not_found  # (loaded on the error path only)

            raise version_not_found(name, version)
        return meta

    def read_version_tags(self, name: str, version: int) -> dict:
        return self.read_files(self._version_path(name, version, layout.TAGS_DIR))

    def _version_path(self, name: str, version: int, leaf: str) -> str:
        """``layout.version_dir(...) / leaf`` as text (a listing builds tens of thousands of these)."""
        return f"{_versions_prefix(self.root, name)}{version}{os.sep}{leaf}"

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
            match = _VERSION_LINE.search(read_file(path))
        except FileNotFoundError:
            return numbers[0]
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {os_reason(exc)}") from None
        return max(numbers[0], int(match.group(1))) if match else numbers[0]


_CAREFUL = object()


@functools.lru_cache(maxsize=4096)
def _versions_prefix(root: Path, name: str) -> str:
    """``<root>/models/<name>/version-``: a version's directory is this and its number."""
    return os.path.join(root, layout.MODELS_DIR, name, layout.VERSION_PREFIX)


def _number(pair: tuple) -> int:
    return pair[0]


def plain_dir(entry: os.DirEntry) -> bool:
    """Whether a listed entry is a directory and no symbolic link (from the listing itself, no stat)."""
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def field_problems(meta: dict, types: dict) -> list:
    """One message for each field of ``meta`` whose value is not of its type in ``types``."""
    problems = []
    for field, expected in types.items():
        value = meta.get(field)
        if field in meta and type(value) not in expected:  # exact types: a bool is no integer
            kind = "an integer" if int in expected else "a mapping" if dict in expected else "text"
            problems.append(f"{field} is {repr(value)[:60]}, not {kind}")
    return problems


def _check_fields(path: "Path | str", meta: "Any", types: dict) -> dict:
    problems = field_problems(meta, types)
    if problems:
        raise StoreError(f"damaged file {path}: {problems[0]}")
    return meta
