"""The database connection: transactions, the journal beside the database, rows as MLflow's client shows them."""


import contextlib
import functools
import os
import sqlite3
from pathlib import Path

from regctl.backends.sqlite import schema as sqlschema
from regctl.core import prompts, uris
from regctl.core.errors import InvalidInput, StoreError
from regctl.core.locations import exists
from regctl.core.names import (
    DELETED_STAGE,
)
from regctl.core.resolution import MAX_DEPTH, Resolution
from regctl.core.rules import ModelNotFound, artifacts_missing, version_not_found

TYPE_CHECKING = False  # typing is not loaded at run time: the resolve fast path never needs it
if TYPE_CHECKING:
    from typing import Any

JOURNAL_SUFFIX = ".regctl-journal.jsonl"
DELETED_VERSION_ALIAS = "deleted-version-alias"  # a warning: MLflow 2's SQL store leaves these
MODEL_VERSIONS_TAG = "mlflow.modelVersions"
REDACTED = {"source": "REDACTED-SOURCE-PATH", "run_id": "REDACTED-RUN-ID", "run_link": "REDACTED-RUN-LINK"}
VERSION_COLUMNS = ("name", "version", "creation_time", "last_updated_time", "current_stage", "description",
                   "source", "run_id", "run_link", "status", "status_message", "user_id", "storage_location")
_SELECT_VERSION = "SELECT " + ", ".join(VERSION_COLUMNS) + " FROM model_versions"
_M = frozenset("mM")  # the first letter of a models: URI
# regctl's field names for MLflow's columns
_FIELD = {"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"}


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _translated(method):
    """Turn sqlite3 errors into one-line StoreErrors naming the database."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise self._store_error(exc) from None

    return wrapper


def _walk_key(key: str):
    """Tags in the order the file store lists them: per level, plain keys before nested ones."""
    parts = key.split("/")
    return tuple((0 if i == len(parts) - 1 else 1, part) for i, part in enumerate(parts))


def _ordered_tags(pairs) -> dict:
    return dict(sorted(pairs, key=lambda kv: _walk_key(kv[0])))


class SqliteConnection:
    """The database connection: transactions, the journal beside the database, rows as MLflow's client shows them."""

    name_bytes_limit = None  # the database's own columns decide, as for MLflow's SQL store

    def exists(self) -> bool:
        return True  # opened only once it answered (a database is never created by regctl)

    def __init__(self, path: Path, *, dry_run: bool = False):
        self.path = Path(path)
        self.timeout = getattr(path, "timeout", None)  # the URI's ?timeout=, if it had one
        self.dry_run = dry_run  # writes run their transaction, then roll it back
        self.location = str(self.path)
        self.root = self.path.parent  # where moved artifact locations are looked for (see locations.rebase)
        self.journal_path = Path(str(self.path) + JOURNAL_SUFFIX)
        self._connection: Any = None
        self.schema: Any = None  # sqlschema.Schema once connected
        self._ws = ""

    def _busy_timeout(self) -> float:
        """How long to wait for another writer: the URI's ``timeout``, else REGCTL_LOCK_TIMEOUT."""
        from regctl.core.atomic import lock_timeout

        return lock_timeout() if self.timeout is None else self.timeout

    def _connect(self) -> sqlite3.Connection:
        """The connection (opened once, read-write when possible); StoreError when there is no database."""
        if self._connection is not None:
            return self._connection
        if not self.path.is_file():
            if self.path.exists():
                raise StoreError(f"{self.path} is not a file, so not an MLflow database")
            raise StoreError(f"no MLflow database at {self.path} (use --store or REGCTL_STORE; regctl does not "
                             "create databases: MLflow creates one on first use)")
        for suffix in ("-journal", "-wal", "-shm"):  # SQLite's own files: a FIFO there would block it forever
            beside = f"{self.path}{suffix}"
            if os.path.lexists(beside) and not os.path.isfile(beside):
                raise StoreError(f"damaged database: {beside} is not a regular file")

        # a file: URI for SQLite (mode=...): '%', '?' and '#' escaped; urllib.parse costs start-up time
        target = "file:" + str(self.path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
        mode = "rw" if os.access(self.path, os.W_OK) else "ro"
        connection = sqlite3.connect(f"{target}?mode={mode}", uri=True, timeout=self._busy_timeout(),
                                     isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            schema = sqlschema.Schema(connection)
            sqlschema.check_registry(schema, self.path)
        except BaseException:
            connection.close()
            raise
        self._connection, self.schema = connection, schema
        self._ws = " AND workspace = 'default'" if schema.has("registered_models", "workspace") else ""
        return connection

    def _store_error(self, exc: sqlite3.Error, *, writing: bool = False) -> StoreError:
        text = str(exc)
        if "locked" in text or "busy" in text:

            return StoreError(f"could not lock the database {self.path} within {self._busy_timeout():g}s; "
                              "another connection holds it (a writer, or a reader a commit waits for)")
        if "readonly" in text or (writing and not (os.access(self.path, os.W_OK)
                                                   and os.access(self.path.parent, os.W_OK))):
            return StoreError(f"cannot write the database {self.path}: permission denied")
        if "not a database" in text:
            return StoreError(f"{self.path} is not an SQLite database")
        return StoreError(f"database {self.path}: {text}")

    @contextlib.contextmanager
    def _reading(self):
        """A consistent snapshot for a read of several queries."""
        connection = self._connect()
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")

    @contextlib.contextmanager
    def _transaction(self):
        """One write: BEGIN IMMEDIATE ... COMMIT, then its journal records.

        Yields a list that collects journal records. Any error rolls the database
        back and leaves the journal as it was. The records are appended only once
        the commit is made, so that the journal never holds a change the database
        does not: SIGINT, SIGTERM and SIGHUP wait until both are done (the commit itself
        may wait for readers), and a SIGKILL between the two loses the record,
        never the change.
        """
        from regctl.core import journal
        from regctl.core.atomic import frozen, signals_held

        connection = self._connect()
        sqlschema.check_writable(self.schema, self.path)
        if frozen(self.path.parent):  # SQLite could not remove its rollback journal: the database would stay hot
            raise StoreError(f"cannot write the database {self.path}: {self.path.parent} is immutable or "
                             "append-only (chattr); nothing was changed")
        records: list = []
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._store_error(exc, writing=True) from None
        try:
            yield records
            if self.dry_run:
                connection.execute("ROLLBACK")  # checked and planned by the database itself; nothing kept
                return
            if records:
                journal.check_appendable(self.journal_path)
            with signals_held():
                connection.execute("COMMIT")
                if records:
                    journal.append_after(self.journal_path, *records)
        except BaseException as exc:
            if connection.in_transaction:
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.Error):
                raise self._store_error(exc, writing=True) from None
            raise

    def _record(self, records: list, operation: str, model, target, old, new, **extra) -> None:
        from regctl.core import journal

        records.append(journal.change_record(operation, model, target, old, new, **extra))

    def _model_row(self, connection, name: str):
        return connection.execute(
            "SELECT name, creation_time, last_updated_time, description FROM registered_models WHERE name = ?"
            + self._ws, (name,)).fetchone()

    def _require_model(self, connection, name: str, *, include_prompts: bool = False):
        """The model's row; NotFound when there is none, or when it is an MLflow prompt (unless asked for)."""
        row = self._model_row(connection, name)
        if row is None:
            raise ModelNotFound(name)
        if not include_prompts:
            prompts.refuse(name, self._model_tags(connection, name))
        return row

    def _version_row(self, connection, name: str, version: int):
        row = connection.execute(_SELECT_VERSION + " WHERE name = ? AND version = ?" + self._ws,
                                 (name, version)).fetchone()
        return None if row is None else dict(zip(VERSION_COLUMNS, row))

    def _live_version(self, connection, name: str, version: int) -> dict:
        """A version that exists and is not deleted, else NotFound (the model first: a prompt is none)."""
        self._require_model(connection, name)
        row = self._version_row(connection, name, version)
        if row is None or row["current_stage"] == DELETED_STAGE:
            raise version_not_found(name, version)
        return row

    def _alias_rows(self, connection, name: str) -> dict:
        rows = connection.execute("SELECT alias, version FROM registered_model_aliases WHERE name = ?" + self._ws
                                  + " ORDER BY alias", (name,)).fetchall()
        return dict(sorted(rows))

    def _alias(self, connection, name: str, alias: str):
        row = connection.execute("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?"
                                 + self._ws, (name, alias)).fetchone()
        return None if row is None else row[0]

    def _model_tags(self, connection, name: str) -> dict:
        return _ordered_tags(connection.execute(
            'SELECT "key", value FROM registered_model_tags WHERE name = ?' + self._ws, (name,)).fetchall())

    def _version_tags(self, connection, name: str, versions=None) -> dict:
        """``{version: {key: value}}`` for some versions of a model (all of them when None)."""
        sql = 'SELECT version, "key", value FROM model_version_tags WHERE name = ?' + self._ws
        params = [name]
        if versions is not None:
            if not versions:
                return {}
            if len(versions) <= 500:
                sql += f" AND version IN ({', '.join('?' * len(versions))})"
                params += list(versions)
        found: dict = {}
        for version, key, value in connection.execute(sql, params):
            found.setdefault(version, []).append((key, value))
        return {v: _ordered_tags(pairs) for v, pairs in found.items()}

    def _version_view(self, connection, row: dict, tags: dict, aliases: dict):
        from regctl.core.results import ModelVersion

        version = row["version"]
        return ModelVersion(
            name=row["name"], version=version, creation_timestamp=row["creation_time"],
            last_updated_timestamp=row["last_updated_time"], current_stage=row["current_stage"],
            description=row["description"], source=row["source"], run_id=row["run_id"],
            run_link=row["run_link"], status=row["status"], status_message=row["status_message"],
            user_id=row["user_id"], storage_location=row["storage_location"],
            model_id=self._model_id_of(connection, row.get("source")),
            tags=tags.get(version, {}), aliases=tuple(sorted(a for a, v in aliases.items() if v == version)))

    def _version_views(self, connection, rows, tags: dict, aliases: dict) -> list:
        """Views of many version rows (tuples of VERSION_COLUMNS), equal to what ``_version_view``
        makes of them, with each version's alias list and tag map made once: ``tags`` is ``{name:
        {version: {key: value}}}``, ``aliases`` ``{name: {alias: version}}``. A listing's hot loop:
        the rows' values are final, so each view is drafted and sealed (``core.record.draft``)."""
        from types import MappingProxyType

        from regctl.core.record import EMPTY, draft, seal
        from regctl.core.results import ModelVersion

        named: dict = {}
        for model, found in aliases.items():
            for alias, number in sorted(found.items()):
                named.setdefault(model, {}).setdefault(number, []).append(alias)
        named = {model: {v: tuple(found) for v, found in numbers.items()} for model, numbers in named.items()}
        frozen = {model: {v: MappingProxyType(t) for v, t in numbers.items()} for model, numbers in tags.items()}
        model_id_of = self._model_id_of
        draft_class = draft(ModelVersion)
        views: list = []
        append = views.append
        for row in rows:
            view = draft_class()
            (view.name, view.version, view.creation_timestamp, view.last_updated_timestamp, view.current_stage,
             view.description, view.source, view.run_id, view.run_link, view.status, view.status_message,
             view.user_id, view.storage_location) = row
            source = row[6]
            # only a models: source names a logged model; _model_id_of decides
            view.model_id = model_id_of(connection, source) if source and source[:1] in _M else None
            found = frozen.get(row[0])
            view.tags = EMPTY if found is None else found.get(row[1], EMPTY)
            found = named.get(row[0])
            view.aliases = () if found is None else found.get(row[1], ())
            view.lineage = None
            seal(view, "__class__", ModelVersion)
            append(view)
        return views

    def _model_id_of(self, connection, source, _depth: int = 0):
        """The logged model a version comes from: ``models:/m-<id>``, followed through ``models:/<name>/<N>``.

        MLflow's SQL schema has no model_id column; MLflow itself derives the id from
        the source the same way (``_parse_model_id_if_present``).
        """
        if not source or source[:7].lower() != "models:" or _depth >= MAX_DEPTH:
            return None
        try:
            ref = uris.parse_uri(source)
        except InvalidInput:
            return None
        if isinstance(ref, uris.LoggedModelRef):
            return ref.model_id
        if isinstance(ref, uris.VersionRef):
            row = self._version_row(connection, ref.name, ref.version)
            return self._model_id_of(connection, row["source"], _depth + 1) if row else None
        return None

    def _model_view(self, connection, row, tags: dict, aliases: dict, latest):
        from regctl.core.results import RegisteredModel

        name, created, updated, description = row
        return RegisteredModel(name=name, creation_timestamp=created, last_updated_timestamp=updated,
                               description=description, tags=tags, aliases=dict(sorted(aliases.items())),
                               latest_version=latest)


def _tag_target(key: str, version) -> str:
    return key if version is None else f"version-{version}:{key}"


def _existing(resolution: Resolution) -> Resolution:
    if not resolution.remote and not exists(resolution.path):
        raise artifacts_missing(resolution.uri, resolution.path)
    return resolution

