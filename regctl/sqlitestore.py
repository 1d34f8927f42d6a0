"""The backend for MLflow's SQLite database (``sqlite:///mlflow.db``): ``SqliteBackend``.

Reads and writes MLflow's registry tables with the standard library's ``sqlite3``
(no SQLAlchemy, no MLflow), and the tracking tables (``runs``, ``logged_models``,
``inputs``) only to resolve ``runs:/`` and ``models:/m-<id>`` sources. Schemas
with a ``workspace`` column (MLflow 3) are read and written in MLflow's
``default`` workspace; schemas without one (MLflow 2) as they are.

Every write is one transaction: ``BEGIN IMMEDIATE`` (with a busy timeout, so
concurrent writers queue), every check and change (the next version number
included) inside it, then ``COMMIT``; any failure rolls the whole change back.
What each write changes is what MLflow's SQL store changes for the same call
(``mlflow/store/model_registry/sqlalchemy_store.py``): soft deletes that redact
the version's source and run, ``last_updated_time`` only where MLflow sets it.

regctl's journal is a file beside the database, ``<database>.regctl-journal.jsonl``,
with the same records as the file store's journal; the ``version.create`` record
of each registration also holds the digest and per-file hashes of the version's
artifacts (``digest``, ``files``), which ``verify`` checks. The schema is never
changed and no tag is added that the user did not ask for.

This module stays import-light for the ``resolve`` fast path: typed results and
the journal are imported inside the methods that need them.
"""

import contextlib
import functools
import os
import sqlite3
from pathlib import Path
from typing import Any

from regctl import sqlschema, sqltracking, uris
from regctl.atomic import os_reason
from regctl.derived import DerivedOperations
from regctl.errors import Conflict, InvalidInput, NotFound, StoreError
from regctl.locations import exists, inside, location_to_path, rebase
from regctl.names import (
    DELETED_STAGE,
    STAGES,
    canonical_stage,
    show,
    validate_alias,
    validate_artifact_path,
    validate_lookup_name,
    validate_model_name,
)
from regctl.prompts import PROMPT_TAG
from regctl.resolution import MAX_DEPTH, Resolution, run_location, too_deep

JOURNAL_SUFFIX = ".regctl-journal.jsonl"
DELETED_VERSION_ALIAS = "deleted-version-alias"  # a warning: MLflow 2's SQL store leaves these
MODEL_VERSIONS_TAG = "mlflow.modelVersions"
REDACTED = {"source": "REDACTED-SOURCE-PATH", "run_id": "REDACTED-RUN-ID", "run_link": "REDACTED-RUN-LINK"}
VERSION_COLUMNS = ("name", "version", "creation_time", "last_updated_time", "current_stage", "description",
                   "source", "run_id", "run_link", "status", "status_message", "user_id", "storage_location")
_SELECT_VERSION = "SELECT " + ", ".join(VERSION_COLUMNS) + " FROM model_versions"
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


class SqliteBackend(DerivedOperations):
    """MLflow's SQLite database at ``path``."""

    def exists(self) -> bool:
        return True  # opened only once it answered (a database is never created by regctl)

    def __init__(self, path: Path, *, dry_run: bool = False):
        self.path = Path(path)
        self.dry_run = dry_run  # writes run their transaction, then roll it back
        self.location = str(self.path)
        self.root = self.path.parent  # where moved artifact locations are looked for (see locations.rebase)
        self.journal_path = Path(str(self.path) + JOURNAL_SUFFIX)
        self._connection: Any = None
        self.schema: Any = None  # sqlschema.Schema once connected
        self._ws = ""

    # ----------------------------------------------------------- connection

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
            beside = Path(f"{self.path}{suffix}")
            if os.path.lexists(beside) and not beside.is_file():
                raise StoreError(f"damaged database: {beside} is not a regular file")
        from regctl.atomic import lock_timeout

        # a file: URI for SQLite (mode=...): '%', '?' and '#' escaped; urllib.parse costs start-up time
        target = "file:" + str(self.path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
        mode = "rw" if os.access(self.path, os.W_OK) else "ro"
        connection = sqlite3.connect(f"{target}?mode={mode}", uri=True, timeout=lock_timeout(),
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
            from regctl.atomic import lock_timeout

            return StoreError(f"could not lock the database {self.path} within {lock_timeout():g}s; "
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
        does not: SIGINT and SIGTERM wait until both are done (the commit itself
        may wait for readers), and a SIGKILL between the two loses the record,
        never the change.
        """
        from regctl import journal
        from regctl.atomic import frozen, signals_held

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

    # ---------------------------------------------------------- the journal

    def _record(self, records: list, operation: str, model, target, old, new, **extra) -> None:
        from regctl import journal

        records.append(journal.change_record(operation, model, target, old, new, **extra))

    def _read_journal(self) -> list:
        from regctl import journal

        return journal.records(self.journal_path)

    # ------------------------------------------------------ row-level reads

    def _model_row(self, connection, name: str):
        return connection.execute(
            "SELECT name, creation_time, last_updated_time, description FROM registered_models WHERE name = ?"
            + self._ws, (name,)).fetchone()

    def _require_model(self, connection, name: str):
        row = self._model_row(connection, name)
        if row is None:
            raise NotFound(f"registered model {show(name)} not found")
        return row

    def _version_row(self, connection, name: str, version: int):
        row = connection.execute(_SELECT_VERSION + " WHERE name = ? AND version = ?" + self._ws,
                                 (name, version)).fetchone()
        return None if row is None else dict(zip(VERSION_COLUMNS, row))

    def _live_version(self, connection, name: str, version: int) -> dict:
        """A version that exists and is not deleted, else NotFound (the model first)."""
        row = self._version_row(connection, name, version)
        if row is None or row["current_stage"] == DELETED_STAGE:
            self._require_model(connection, name)
            raise NotFound(f"version {version} of model {show(name)} not found")
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

    # ----------------------------------------------------------------- views

    def _version_view(self, connection, row: dict, tags: dict, aliases: dict):
        from regctl.results import ModelVersion

        version = row["version"]
        return ModelVersion(
            name=row["name"], version=version, creation_timestamp=row["creation_time"],
            last_updated_timestamp=row["last_updated_time"], current_stage=row["current_stage"],
            description=row["description"], source=row["source"], run_id=row["run_id"],
            run_link=row["run_link"], status=row["status"], status_message=row["status_message"],
            user_id=row["user_id"], storage_location=row["storage_location"],
            model_id=self._model_id_of(connection, row.get("source")),
            tags=tags.get(version, {}), aliases=tuple(sorted(a for a, v in aliases.items() if v == version)))

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
        from regctl.results import RegisteredModel

        name, created, updated, description = row
        return RegisteredModel(name=name, creation_timestamp=created, last_updated_timestamp=updated,
                               description=description, tags=tags, aliases=dict(sorted(aliases.items())),
                               latest_version=latest)

    # ------------------------------------------------------------------ reads

    @_translated
    def models(self, *, include_prompts: bool = False):
        from regctl.results import Listing

        with self._reading() as connection:
            rows = connection.execute(
                "SELECT name, creation_time, last_updated_time, description FROM registered_models WHERE 1 = 1"
                + self._ws).fetchall()
            tags: dict = {}
            aliases: dict = {}
            for name, key, value in connection.execute(
                    'SELECT name, "key", value FROM registered_model_tags WHERE 1 = 1' + self._ws):
                tags.setdefault(name, []).append((key, value))
            for name, alias, version in connection.execute(
                    "SELECT name, alias, version FROM registered_model_aliases WHERE 1 = 1" + self._ws):
                aliases.setdefault(name, {})[alias] = version
            latest = dict(connection.execute(
                "SELECT name, MAX(version) FROM model_versions WHERE current_stage IS NOT ?" + self._ws
                + " GROUP BY name", (DELETED_STAGE,)).fetchall())
        views = []
        for row in sorted(rows, key=lambda r: r[0]):
            model_tags = _ordered_tags(tags.get(row[0], []))
            if include_prompts or str(model_tags.get(PROMPT_TAG, "")).lower() != "true":
                views.append(self._model_view(None, row, model_tags, aliases.get(row[0], {}), latest.get(row[0])))
        return Listing(tuple(views))

    @_translated
    def versions(self, name, *, include_deleted=False, limit=None):
        from regctl.results import Listing

        validate_lookup_name(name)
        with self._reading() as connection:
            self._require_model(connection, name)
            sql = _SELECT_VERSION + " WHERE name = ?" + self._ws
            params = [name]
            if not include_deleted:
                sql += " AND current_stage IS NOT ?"
                params.append(DELETED_STAGE)
            sql += " ORDER BY version DESC"
            if limit is not None:
                sql += " LIMIT ?"
                params.append(int(limit))
            rows = [dict(zip(VERSION_COLUMNS, r)) for r in connection.execute(sql, params)]
            tags = self._version_tags(connection, name, None if limit is None else [r["version"] for r in rows])
            aliases = self._alias_rows(connection, name)
            return Listing(tuple(self._version_view(connection, r, tags, aliases) for r in rows))

    @_translated
    def get_model(self, name):
        validate_lookup_name(name)
        with self._reading() as connection:
            row = self._require_model(connection, name)
            aliases = self._alias_rows(connection, name)
            live = [dict(zip(VERSION_COLUMNS, r)) for r in connection.execute(
                _SELECT_VERSION + " WHERE name = ? AND current_stage IS NOT ?" + self._ws + " ORDER BY version DESC",
                (name, DELETED_STAGE))]
            latest_by_stage = {}
            for version in live:
                latest_by_stage.setdefault(version["current_stage"], version)
            tags = self._version_tags(connection, name, [v["version"] for v in latest_by_stage.values()])
            view = self._model_view(connection, row, self._model_tags(connection, name), aliases,
                                    live[0]["version"] if live else None)
            latest = tuple(self._version_view(connection, v, tags, aliases) for v in latest_by_stage.values())
        from dataclasses import replace

        return replace(view, latest_versions=latest, version_count=len(live))

    @_translated
    def get_version(self, name, version=None, alias=None):
        from dataclasses import replace

        from regctl.results import Lineage

        validate_lookup_name(name)
        with self._reading() as connection:
            ref = uris.AliasRef(name, alias) if alias is not None else uris.VersionRef(name, version)
            number, row = self._find_version(connection, ref)
            view = self._version_view(connection, row, self._version_tags(connection, name, [number]),
                                      self._alias_rows(connection, name))
            lineage = self._lineage(connection, row, view.model_id)
        return replace(view, lineage=Lineage(**lineage))

    def _lineage(self, connection, row: dict, model_id) -> dict:
        info = {"run_id": row["run_id"], "experiment_id": None, "run_name": None, "model_id": model_id,
                "artifact_path": None}
        if row["run_id"]:
            try:
                run = sqltracking.find_run(connection, self.schema, row["run_id"])
                info["experiment_id"], info["run_name"] = run["experiment_id"], run["run_name"]
            except (NotFound, InvalidInput):
                pass
        location = row["storage_location"] or row["source"]
        if location:
            try:
                path = self._location_path(connection, location)
            except (NotFound, InvalidInput, StoreError):
                path = None
            if path is not None and exists(path):
                info["artifact_path"] = str(path)
        return info

    @_translated
    def aliases(self, name):
        validate_lookup_name(name)
        with self._reading() as connection:
            self._require_model(connection, name)
            return self._alias_rows(connection, name)

    @_translated
    def resolve(self, uri):
        ref = uris.parse_uri(uri)
        if isinstance(ref, uris.PathRef):  # needs no database, as for a file store
            return _existing(Resolution(uri, uri, rebase(location_to_path(uri), self.root)))
        connection = self._connect()
        return _existing(self._resolve(connection, uri, ref))

    def _resolve(self, connection, uri: str, ref=None, depth: int = 0) -> Resolution:
        ref = uris.parse_uri(uri) if ref is None else ref
        if isinstance(ref, uris.PathRef):
            return Resolution(uri, uri, rebase(location_to_path(uri), self.root))
        if isinstance(ref, uris.RunRef):
            return self._resolve_run(connection, ref, uri)
        if isinstance(ref, uris.LoggedModelRef):
            model = sqltracking.find_logged_model(connection, self.schema, ref.model_id)
            location = model["artifact_location"] or ""
            return Resolution(uri, location, self._location_path(connection, location, depth),
                              model_id=ref.model_id, run_id=model["source_run_id"])
        number, row = self._find_version(connection, ref)
        location = row["storage_location"] or row["source"] or ""
        if not location:
            raise StoreError(f"version {number} of model {show(ref.name)} has no source or storage location")
        path = self._location_path(connection, location, depth)
        return Resolution(uri, location, path, ref.name, number, self._model_id_of(connection, row["source"]),
                          row["run_id"])

    def _location_path(self, connection, location: str, depth: int = 0) -> Path:
        """The local path a stored location names, ``runs:``/``models:`` ones followed; it may not exist."""
        if uris.scheme_of(location) in ("runs", "models"):
            if depth >= MAX_DEPTH:
                raise too_deep(location)
            return self._resolve(connection, location, depth=depth + 1).path
        return rebase(location_to_path(location), self.root)

    def _resolve_run(self, connection, ref, uri: str) -> Resolution:
        """``runs:/<id>/<path>``: the run's artifacts, else (MLflow 3) its newest logged model of that name."""
        run = sqltracking.find_run(connection, self.schema, ref.run_id)
        path = validate_artifact_path(ref.path)
        location = run_location(run, path)
        local = self._location_path(connection, location)
        if exists(local) or not path:
            return Resolution(uri, location, local, run_id=ref.run_id)
        model = sqltracking.logged_model_named(connection, self.schema, run, path.split("/")[0], newest_first=True)
        if model is None:
            return Resolution(uri, location, local, run_id=ref.run_id)
        rest = path.split("/", 1)[1] if "/" in path else ""
        model_location = (model["artifact_location"] or "").rstrip("/")
        location = f"{model_location}/{rest}" if rest else model_location
        return Resolution(uri, location, self._location_path(connection, location), model_id=model["model_id"],
                          run_id=ref.run_id)

    def _find_version(self, connection, ref) -> "tuple[int, dict]":
        """The (version, row) a ``models:/<name>...`` reference designates; NotFound otherwise."""
        name = validate_lookup_name(ref.name)
        if isinstance(ref, uris.VersionRef):
            return ref.version, self._live_version(connection, name, ref.version)
        if isinstance(ref, uris.AliasRef):
            validate_alias(ref.alias, allow_reserved=True)
            version = self._alias(connection, name, ref.alias)
            if version is None:
                self._require_model(connection, name)
                raise NotFound(f"alias {show(ref.alias)} of model {show(name)} not found")
            return version, self._live_version(connection, name, version)
        stage = None if isinstance(ref, uris.LatestRef) else canonical_stage(ref.stage)
        sql = _SELECT_VERSION + " WHERE name = ? AND current_stage IS NOT ?" + self._ws
        params = [name, DELETED_STAGE]
        if stage is not None:
            sql += " AND current_stage = ?"
            params.append(stage)
        row = connection.execute(sql + " ORDER BY version DESC LIMIT 1", params).fetchone()
        if row is None:
            self._require_model(connection, name)
            in_stage = f" in stage {stage}" if stage else ""
            raise NotFound(f"no versions of model {show(name)}{in_stage} found")
        row = dict(zip(VERSION_COLUMNS, row))
        return row["version"], row

    # ------------------------------------------------------ verify, history

    @_translated
    def verify(self, uri):
        from regctl import digest
        from regctl.errors import IntegrityError
        from regctl.results import Verification

        resolution = self.resolve(uri)
        if resolution.version is None:
            raise InvalidInput(f"cannot verify {show(uri)}: only models:/ URIs of registered versions have a digest")
        name, version = resolution.name, resolution.version
        with self._reading() as connection:
            created = self._live_version(connection, name, version)["creation_time"]
        record = self._registration_record(name, version, created)
        if record is None:
            raise NotFound(f"version {version} of model {show(name)} has no recorded digest in {self.journal_path} "
                           "(it was not registered by regctl); nothing to verify")
        recorded = record.get("digest")
        if not isinstance(recorded, str) or not recorded.startswith(digest.ALGORITHM + ":") \
                or len(recorded) != len(digest.ALGORITHM) + 65:
            raise StoreError(f"damaged digest of version {version} of model {show(name)} in {self.journal_path}: "
                             f"{show(str(recorded))}")
        current = digest.manifest(resolution.path)
        actual = digest.digest_of(current)
        if actual != recorded:
            raise IntegrityError(f"artifacts of {show(uri)} at {resolution.path} differ from what was registered: "
                                 + digest.name_differences(record.get("files"), recorded, current, actual))
        return Verification(uri=uri, name=name, version=version, path=str(resolution.path), digest=actual,
                            files=len(current))

    def _registration_record(self, name: str, version: int, created):
        """The journal's ``version.create`` record of this version, its model renamed since or not.

        Replays the journal: renames carry the records along, a model's deletion drops
        them, and a record only counts if it names the version's creation time.
        """
        found = {}
        for record in self._read_journal():
            operation, model = record.get("operation"), record.get("model")
            if operation == "version.create" and "digest" in record:
                found[(model, record.get("target"))] = record
            elif operation == "model.rename":
                old = record.get("old")
                for key in [k for k in found if k[0] == old]:
                    found[(model, key[1])] = found.pop(key)
            elif operation == "model.delete":
                for key in [k for k in found if k[0] == model]:
                    del found[key]
        record = found.get((name, version))
        if record is None or record.get("created") != created:
            return None
        return record

    @_translated
    def history(self, name=None, alias=None):
        from regctl import journal
        from regctl.results import HistoryRecord

        self._connect()
        return tuple(HistoryRecord.from_record(r) for r in journal.history(self.journal_path, name, alias))

    # ------------------------------------------------------------------ doctor

    @_translated
    def doctor(self, *, fix=False):
        from regctl.results import DoctorReport

        fixed = []
        if fix:
            fixed = self._fix()
        problems, warnings, notes = self._check()
        return DoctorReport(store=self.location, problems=problems, warnings=warnings, fixed=fixed, notes=notes)

    def _check(self):
        connection = self._connect()
        problems, warnings = [], []

        def problem(kind, message, model=None, path=None, fixable=False, **extra):
            found = {"kind": kind, "model": model, "path": path or self.path.name, "message": message,
                     "fixable": fixable}
            found.update(extra)
            problems.append(found)

        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            more = f" ({len(integrity) - 1} more)" if len(integrity) > 1 else ""
            problem("integrity", f"PRAGMA integrity_check: {integrity[0]}{more}")
        for table, rowid, parent, _ in connection.execute("PRAGMA foreign_key_check"):
            if table in sqlschema.REGISTRY_COLUMNS:
                problem("orphan-row", f"a row of {table} (rowid {rowid}) refers to a missing row of {parent}",
                        path=table)
        if not self.schema.tested:
            warnings.append({"kind": "schema-revision", "model": None, "path": "alembic_version",
                             "message": f"schema revision {self.schema.describe_revision()}: reads work, "
                                        "writes are refused", "fixable": False})
        with self._reading() as connection:
            stages = {}
            for row in connection.execute(_SELECT_VERSION + " WHERE 1 = 1" + self._ws + " ORDER BY name, version"):
                version = dict(zip(VERSION_COLUMNS, row))
                name, number, stage = version["name"], version["version"], version["current_stage"]
                stages[(name, number)] = stage
                if not isinstance(number, int) or number < 1:
                    problem("bad-version", f"version number {number!r} is not a positive integer", model=name,
                            path="model_versions")
                if stage not in STAGES + (DELETED_STAGE,):
                    problem("bad-field", f"version {number}: current_stage is {stage!r}, not one of "
                            f"{', '.join(STAGES)}", model=name, path="model_versions")
                if stage != DELETED_STAGE:
                    self._check_location(connection, version, problem)
            for name, alias, number in connection.execute(
                    "SELECT name, alias, version FROM registered_model_aliases WHERE 1 = 1" + self._ws
                    + " ORDER BY name, alias"):
                stage = stages.get((name, number), None)
                if (name, number) not in stages:
                    problem("dangling-alias", f"alias {show(alias)} points at version {number}, which does not exist",
                            model=name, path="registered_model_aliases", fixable=True, alias=alias, version=number)
                elif stage == DELETED_STAGE:  # what MLflow 2's delete_model_version leaves: a warning
                    warnings.append({"kind": DELETED_VERSION_ALIAS, "model": name, "path": "registered_model_aliases",
                                     "message": f"alias {show(alias)} points at version {number}, which is deleted",
                                     "fixable": True, "alias": alias, "version": number})
        for found in self._check_journal():  # a damaged journal line is a warning, as on a file store
            (warnings if found["kind"] == "damaged-journal" else problems).append(found)
        notes = [f"database {self.path}, schema revision {self.schema.describe_revision()}",
                 f"regctl's journal (and the digests verify checks): {self.journal_path}"]
        return problems, warnings, notes

    def _check_location(self, connection, version: dict, problem) -> None:
        name, number = version["name"], version["version"]
        location = version["storage_location"] or version["source"]
        if not isinstance(location, str) or not location:
            problem("missing-artifacts", f"version {number} has no source or storage location", model=name,
                    path="model_versions")
            return
        try:
            path = self._location_path(connection, location)
        except (NotFound, InvalidInput, StoreError) as exc:
            problem("missing-artifacts", f"version {number}: location {location} cannot be used: {exc.message}",
                    model=name, path="model_versions")
            return
        if not exists(path):
            problem("missing-artifacts", f"artifacts of version {number} no longer exist at {path}", model=name,
                    path="model_versions")

    def _check_journal(self) -> list:
        from regctl import journal

        try:
            bad = journal.damaged_lines(self.journal_path)
        except StoreError as exc:
            return [{"kind": "unreadable-journal", "model": None, "path": self.journal_path.name,
                     "message": exc.message, "fixable": False}]
        if bad:
            return [{"kind": "damaged-journal", "model": None, "path": self.journal_path.name,
                     "message": journal.damage_message(bad), "fixable": False}]
        return []

    def _fix(self) -> list:
        """Remove aliases that point at missing or deleted versions, in one transaction."""
        fixed = []
        with self._transaction() as records:
            connection = self._connection
            rows = connection.execute(
                "SELECT a.name, a.alias, a.version, v.current_stage FROM registered_model_aliases AS a "
                "LEFT JOIN model_versions AS v ON v.name = a.name AND v.version = a.version"
                + (" AND v.workspace = a.workspace WHERE a.workspace = 'default'" if self._ws else " WHERE 1 = 1")
                + " AND (v.version IS NULL OR v.current_stage = ?) ORDER BY a.name, a.alias",
                (DELETED_STAGE,)).fetchall()
            for name, alias, version, stage in rows:
                deleted = stage == DELETED_STAGE
                what = "is deleted" if deleted else "does not exist"
                connection.execute("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?" + self._ws,
                                   (name, alias))
                kind = DELETED_VERSION_ALIAS if deleted else "dangling-alias"
                found = {"kind": kind, "model": name, "path": "registered_model_aliases",
                         "message": f"alias {show(alias)} points at version {version}, which {what}",
                         "fixable": True, "alias": alias, "version": version}
                fixed.append(found)
                self._record(records, "doctor.fix", name, f"registered_model_aliases:{alias}", kind, "repaired")
        return fixed

    # ----------------------------------------------------------------- writes

    def _registration_source(self, connection, source: str) -> dict:
        """What MLflow would store for a registration from ``source``; NotFound if nothing is there."""
        ref = uris.parse_uri(source)
        if isinstance(ref, uris.RunRef):
            run = sqltracking.find_run(connection, self.schema, ref.run_id)
            path = validate_artifact_path(ref.path)
            location = run_location(run, path)
            if (self._location_path(connection, location) / "MLmodel").is_file():
                return {"source": location, "storage_location": location, "run_id": ref.run_id, "model": None}
            model = sqltracking.logged_model_named(connection, self.schema, run, path, newest_first=False) if path else None
            if model is None:
                raise NotFound(f"source {show(f'runs:/{ref.run_id}/{path}')} not found: "
                               f"the run has no {path or '.'}/MLmodel and no logged model named {show(path)}")
            self._require_dir(connection, model["artifact_location"], f"runs:/{ref.run_id}/{path}")
            return {"source": f"models:/{model['model_id']}", "storage_location": model["artifact_location"],
                    "run_id": ref.run_id, "model": model}
        if isinstance(ref, uris.LoggedModelRef):
            model = sqltracking.find_logged_model(connection, self.schema, ref.model_id)
            self._require_dir(connection, model["artifact_location"], source)
            return {"source": f"models:/{ref.model_id}", "storage_location": model["artifact_location"],
                    "run_id": model["source_run_id"], "model": model}
        if isinstance(ref, uris.PathRef):
            local = location_to_path(source)
            if not local.is_dir():
                raise NotFound(f"source {show(source)} not found: {local} is not a directory")
            location = source if uris.scheme_of(source) == "file" else str(local)
            return {"source": location, "storage_location": location, "run_id": None, "model": None}
        number, row = self._find_version(connection, ref)
        location = row["storage_location"] or row["source"]
        if not location:
            raise StoreError(f"version {number} of model {show(ref.name)} has no source or storage location")
        self._require_dir(connection, location, source)
        # As MLflow 3's register_model from models:/NAME/N: the source as given, the download location
        # as storage location, no tags copied, and no run (register_model passes none for a models:/ source)
        return {"source": f"models:/{ref.name}/{number}", "storage_location": location, "run_id": None,
                "model": None}

    def _require_dir(self, connection, location, source: str) -> None:
        if not location or not self._location_path(connection, location).is_dir():
            raise NotFound(f"source {show(source)} not found: no artifacts at {location or '(no location)'}")

    def _insert(self, connection, table: str, values: dict) -> None:
        if self._ws:
            values = dict(values, workspace=sqlschema.WORKSPACE)
        columns = ", ".join(f'"{c}"' for c in values)
        connection.execute(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(values))})",
                           list(values.values()))

    def _upsert_alias(self, connection, name: str, alias: str, version: int) -> None:
        connection.execute("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?" + self._ws, (name, alias))
        self._insert(connection, "registered_model_aliases", {"name": name, "alias": alias, "version": version})

    def _touch_model(self, connection, name: str, now: int) -> None:
        connection.execute("UPDATE registered_models SET last_updated_time = ? WHERE name = ?" + self._ws, (now, name))

    @_translated
    def register(self, source, name, *, description, tags, aliases, run_link=None):
        from regctl import digest

        validate_model_name(name)
        aliases = [validate_alias(a) for a in aliases]
        if isinstance(uris.parse_uri(source), uris.PathRef):
            self._registration_source(None, source)  # a missing directory is reported first, as for a file store
        connection = self._connect()
        sqlschema.check_writable(self.schema, self.path)  # before hashing: a refused write costs nothing
        origin = self._registration_source(connection, source)  # a bad source changes nothing
        # Hash the artifacts before the transaction: it reads every file, and nobody needs to wait for that.
        entries = digest.manifest(self._location_path(connection, origin["storage_location"] or origin["source"]))
        content = digest.digest_of(entries)
        with self._transaction() as records:
            now = now_ms()
            if self._model_row(connection, name) is None:
                self._insert(connection, "registered_models", {"name": name, "creation_time": now,
                                                                "last_updated_time": now, "description": None})
                self._record(records, "model.create", name, None, None, name)
            highest = connection.execute("SELECT MAX(version) FROM model_versions WHERE name = ?" + self._ws,
                                         (name,)).fetchone()[0]
            number = (highest or 0) + 1
            self._insert(connection, "model_versions", {
                "name": name, "version": number, "creation_time": now, "last_updated_time": now,
                "description": description, "user_id": None, "current_stage": "None", "source": origin["source"],
                "storage_location": origin["storage_location"], "run_id": origin["run_id"], "run_link": run_link,
                "status": "READY", "status_message": None})
            for key, value in tags.items():
                self._insert(connection, "model_version_tags", {"key": key, "value": value, "name": name,
                                                                 "version": number})
            self._touch_model(connection, name, now)
            self._record(records, "version.create", name, number, None, origin["source"], created=now,
                         digest=content, algorithm=digest.ALGORITHM, files=dict(sorted(entries.items())))
            for alias in aliases:
                old = self._alias(connection, name, alias)
                self._upsert_alias(connection, name, alias, number)
                self._record(records, "alias.set", name, alias, None if old is None else str(old), str(number))
            if origin["model"] is not None:
                self._record_model_version(connection, origin["model"], name, number)
            row = self._version_row(connection, name, number)
            view = self._version_view(connection, row, self._version_tags(connection, name, [number]),
                                      self._alias_rows(connection, name))
        return view

    def _record_model_version(self, connection, model: dict, name: str, version: int) -> None:
        """Append to the logged model's ``mlflow.modelVersions`` tag, as MLflow 3's register_model does."""
        import json

        if not self.schema.has("logged_model_tags"):
            return
        row = connection.execute("SELECT tag_value FROM logged_model_tags WHERE model_id = ? AND tag_key = ?",
                                 (model["model_id"], MODEL_VERSIONS_TAG)).fetchone()
        entries = []
        if row is not None:
            try:
                entries = json.loads(row[0])
            except (TypeError, ValueError):
                entries = []
            if not isinstance(entries, list):
                entries = []
        entries.append({"name": name, "version": version})
        connection.execute("DELETE FROM logged_model_tags WHERE model_id = ? AND tag_key = ?",
                           (model["model_id"], MODEL_VERSIONS_TAG))
        connection.execute("INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) "
                           "VALUES (?, ?, ?, ?)", (model["model_id"], model["experiment_id"], MODEL_VERSIONS_TAG,
                                                   json.dumps(entries)))

    @_translated
    def set_alias(self, name, alias, version, *, expect, expect_given):
        from regctl.results import AliasChange

        validate_lookup_name(name)
        validate_alias(alias)
        with self._transaction() as records:
            connection = self._connection
            self._require_model(connection, name)
            self._live_version(connection, name, version)
            old = self._alias(connection, name, alias)
            if expect_given and old != expect:
                shown = "none" if expect is None else str(expect)
                raise Conflict(f"alias {show(alias)} of {show(name)} points at {old or 'nothing'}, "
                               f"expected {shown}; not changed")
            if old == version:
                return AliasChange(name, alias, version, version, False)
            self._upsert_alias(connection, name, alias, version)
            self._record(records, "alias.set", name, alias, None if old is None else str(old), str(version))
        return AliasChange(name, alias, old, version, True)

    @_translated
    def delete_alias(self, name, alias):
        from regctl.results import AliasChange

        validate_lookup_name(name)
        with self._transaction() as records:
            connection = self._connection
            self._require_model(connection, name)
            old = self._alias(connection, name, alias)
            if old is None:
                raise NotFound(f"alias {show(alias)} of model {show(name)} not found")
            connection.execute("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?" + self._ws,
                               (name, alias))
            self._record(records, "alias.delete", name, alias, str(old), None)
        return AliasChange(name, alias, old, None, True)

    @_translated
    def rollback_alias(self, name, alias):
        validate_lookup_name(name)
        moves = self.history(name, alias)
        if not moves:
            raise NotFound(f"no recorded change of alias {show(alias)} of {show(name)} to roll back")
        last = moves[0]
        with self._reading() as connection:
            current = self._alias(connection, name, alias)
        current = None if current is None else str(current)
        if last.new != current:
            raise Conflict(f"alias {show(alias)} of {show(name)} was changed outside regctl; not rolled back")
        if last.old is None:
            return self.delete_alias(name, alias)
        from regctl.resolution import alias_version  # the one reading of an alias's version text

        previous = alias_version(last.old)
        if previous is None:
            raise StoreError(f"damaged journal record of alias {show(alias)} of {show(name)}: "
                             f"{show(str(last.old))} is not a version")
        return self.set_alias(name, alias, previous, expect=int(current), expect_given=True)

    def _current_tags(self, connection, name: str, version) -> dict:
        """The tags of a model (``version`` None) or of one live version; NotFound otherwise."""
        self._require_model(connection, name)
        if version is None:
            return self._model_tags(connection, name)
        self._live_version(connection, name, version)
        return self._version_tags(connection, name, [version]).get(version, {})

    @_translated
    def set_tags(self, name, tags, version=None):
        from regctl.results import TagChange

        validate_lookup_name(name)
        with self._transaction() as records:
            connection = self._connection
            current = self._current_tags(connection, name, version)
            for key, value in tags.items():
                if version is None:
                    connection.execute('DELETE FROM registered_model_tags WHERE name = ? AND "key" = ?' + self._ws,
                                       (name, key))
                    self._insert(connection, "registered_model_tags", {"key": key, "value": value, "name": name})
                else:
                    connection.execute('DELETE FROM model_version_tags WHERE name = ? AND version = ? AND "key" = ?'
                                       + self._ws, (name, version, key))
                    self._insert(connection, "model_version_tags", {"key": key, "value": value, "name": name,
                                                                     "version": version})
                self._record(records, "tag.set", name, _tag_target(key, version), current.get(key), value)
        return TagChange(name, version, set=dict(tags))

    @_translated
    def delete_tags(self, name, keys, version=None):
        from regctl.results import TagChange

        validate_lookup_name(name)
        with self._transaction() as records:
            connection = self._connection
            current = self._current_tags(connection, name, version)
            missing = [k for k in keys if k not in current]
            if missing:
                where = f"version {version} of " if version else ""
                raise NotFound(f"tag {show(missing[0])} of {where}model {show(name)} not found")
            for key in keys:
                if version is None:
                    connection.execute('DELETE FROM registered_model_tags WHERE name = ? AND "key" = ?' + self._ws,
                                       (name, key))
                else:
                    connection.execute('DELETE FROM model_version_tags WHERE name = ? AND version = ? AND "key" = ?'
                                       + self._ws, (name, version, key))
                self._record(records, "tag.delete", name, _tag_target(key, version), current[key], None)
        return TagChange(name, version, deleted=tuple(keys))

    @_translated
    def set_description(self, name, text, version=None, alias=None):
        from regctl.results import DescriptionChange

        validate_lookup_name(name)
        with self._transaction() as records:
            connection = self._connection
            now = now_ms()
            if version is None and alias is None:
                row = self._require_model(connection, name)
                connection.execute("UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?"
                                   + self._ws, (text, now, name))
                self._record(records, "model.describe", name, None, row[3], text)
                return DescriptionChange(name, None, text)
            ref = uris.AliasRef(name, alias) if alias is not None else uris.VersionRef(name, version)
            number, row = self._find_version(connection, ref)  # the alias is read inside the transaction
            # MLflow's update_model_version: the version's description and time, not the model's
            connection.execute("UPDATE model_versions SET description = ?, last_updated_time = ? "
                               "WHERE name = ? AND version = ?" + self._ws, (text, now, name, number))
            self._record(records, "version.describe", name, f"version-{number}", row["description"], text)
        return DescriptionChange(name, number, text)

    @_translated
    def transition_stage(self, name, version, stage, *, archive_existing=False):
        from regctl.results import StageChange

        validate_lookup_name(name)
        archived = []
        with self._transaction() as records:
            connection = self._connection
            row = self._live_version(connection, name, version)
            now = now_ms()
            if archive_existing:
                archived = [r[0] for r in connection.execute(
                    "SELECT version FROM model_versions WHERE name = ? AND version != ? AND current_stage = ?"
                    + self._ws + " ORDER BY version DESC", (name, version, stage))]
                for other in archived:
                    connection.execute("UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ? "
                                       "WHERE name = ? AND version = ?" + self._ws, (now, name, other))
                    self._record(records, "version.stage", name, f"version-{other}", stage, "Archived")
            connection.execute("UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                               "WHERE name = ? AND version = ?" + self._ws, (stage, now, name, version))
            self._touch_model(connection, name, now)
            self._record(records, "version.stage", name, f"version-{version}", row["current_stage"], stage)
        return StageChange(name, version, row["current_stage"], stage, tuple(archived))

    @_translated
    def rename(self, old, new):
        from regctl.results import Rename

        validate_lookup_name(old)
        validate_model_name(new)
        with self._transaction() as records:
            connection = self._connection
            self._require_model(connection, old)
            if self._model_row(connection, new) is not None:
                raise Conflict(f"registered model {show(new)} already exists")
            now = now_ms()
            # MLflow renames the model and its versions; the schema's ON UPDATE CASCADE carries
            # the tags and aliases (foreign keys are on). The explicit updates below are no-ops
            # then, and keep a database whose cascades were lost consistent.
            connection.execute("UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?" + self._ws,
                               (new, now, old))
            for table in ("model_versions", "model_version_tags", "registered_model_tags", "registered_model_aliases"):
                connection.execute(f"UPDATE {table} SET name = ? WHERE name = ?" + self._ws, (new, old))
            connection.execute("UPDATE model_versions SET last_updated_time = ? WHERE name = ?" + self._ws, (now, new))
            self._record(records, "model.rename", new, None, old, new)
        return Rename(old, new)

    @_translated
    def delete_model(self, name):
        from regctl.results import Deletion

        validate_lookup_name(name)
        with self._transaction() as records:
            connection = self._connection
            self._require_model(connection, name)
            count = connection.execute("SELECT COUNT(*) FROM model_versions WHERE name = ?" + self._ws,
                                       (name,)).fetchone()[0]
            for table in ("model_version_tags", "registered_model_aliases", "registered_model_tags", "model_versions",
                          "registered_models"):
                connection.execute(f"DELETE FROM {table} WHERE name = ?" + self._ws, (name,))
            self._record(records, "model.delete", name, None, f"{count} versions", None)
        return Deletion(name)

    @_translated
    def _soft_delete(self, connection, name: str, version: int, now: int) -> None:
        """MLflow's delete_model_version: a soft delete that redacts where the version came from."""
        connection.execute(
            "UPDATE model_versions SET current_stage = ?, last_updated_time = ?, description = NULL, "
            "user_id = NULL, source = ?, run_id = ?, run_link = ?, status_message = NULL "
            "WHERE name = ? AND version = ?" + self._ws,
            (DELETED_STAGE, now, REDACTED["source"], REDACTED["run_id"], REDACTED["run_link"], name, version))

    def delete_version(self, name, version):
        from regctl.results import Deletion

        validate_lookup_name(name)
        with self._transaction() as records:
            connection = self._connection
            row = self._live_version(connection, name, version)
            now = now_ms()
            self._soft_delete(connection, name, version, now)
            self._record(records, "version.delete", name, f"version-{version}", row["current_stage"], DELETED_STAGE)
            removed = [alias for alias, number in self._alias_rows(connection, name).items() if number == version]
            for alias in removed:
                connection.execute("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?" + self._ws,
                                   (name, alias))
                self._record(records, "alias.delete", name, alias, str(version), None)
            self._touch_model(connection, name, now)
        return Deletion(name, version, tuple(removed))

    def collect(self, name, keep, *, keep_aliased, delete_staged):
        """Soft-delete old versions as ``delete_version`` does, all in one transaction."""
        from regctl import retention
        from regctl.results import Collection

        validate_lookup_name(name)
        with self._transaction() as records:
            connection = self._connection
            self._require_model(connection, name)
            rows = connection.execute(
                "SELECT version, current_stage FROM model_versions WHERE name = ? AND current_stage != ?" + self._ws
                + " ORDER BY version DESC", (name, DELETED_STAGE)).fetchall()
            live = {version: stage for version, stage in rows}
            aliased: dict = {}
            for alias, number in self._alias_rows(connection, name).items():
                aliased.setdefault(number, []).append(alias)
            deleted, protected = retention.choose(live, aliased, keep, keep_aliased=keep_aliased,
                                                  delete_staged=delete_staged)
            now = now_ms()
            for version in deleted:
                self._soft_delete(connection, name, version, now)
                self._record(records, "version.delete", name, f"version-{version}", live[version], DELETED_STAGE)
            if deleted:
                self._touch_model(connection, name, now)
        return Collection(name=name, deleted=tuple(deleted), kept=tuple(sorted(set(live) - set(deleted), reverse=True)),
                          protected=protected)

    def import_artifacts(self, local) -> str:
        """Keep a local directory's files beside the database for good (``regctl-artifacts/<id>``,
        built aside and renamed into place whole); the directory to register from."""
        import shutil
        import tempfile
        import uuid

        base = self.check_import()
        target = base / uuid.uuid4().hex
        try:
            base.mkdir(exist_ok=True)
            temp = Path(tempfile.mkdtemp(prefix=".regctl-tmp-", dir=base))
        except OSError as exc:
            raise StoreError(f"cannot create {base}: {os_reason(exc)}") from None
        try:
            shutil.copytree(local, temp / "files", symlinks=True)
            os.rename(temp / "files", target)
        except OSError as exc:
            raise StoreError(f"cannot copy {local} to {target}: {os_reason(exc)}") from None
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        return str(target)

    def check_import(self) -> Path:
        """Where ``import_artifacts`` keeps files; StoreError when a symbolic link leads it out of the store."""
        return inside(self.root / "regctl-artifacts", os.path.realpath(self.root))

    def recorded_digest(self, name, version):
        with self._reading() as connection:
            created = self._live_version(connection, name, version)["creation_time"]
        record = self._registration_record(name, version, created)
        return None if record is None else record.get("digest")

    def describe_difference(self, name, version, recorded, current, actual) -> str:
        from regctl import digest

        with self._reading() as connection:
            created = self._live_version(connection, name, version)["creation_time"]
        record = self._registration_record(name, version, created) or {}
        return digest.name_differences(record.get("files"), recorded, current, actual)


def _tag_target(key: str, version) -> str:
    return key if version is None else f"version-{version}:{key}"


def _existing(resolution: Resolution) -> Resolution:
    if not exists(resolution.path):
        raise NotFound(f"artifacts of {show(resolution.uri)} not found at {resolution.path}")
    return resolution

