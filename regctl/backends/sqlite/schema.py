"""MLflow's SQLite database: which store a ``sqlite:`` URI names, and which schemas regctl knows.

Import-light (``os`` and ``sqlite3`` only, plus regctl's errors): the ``resolve``
fast path uses it.

A ``sqlite:`` URI is read as SQLAlchemy (and so MLflow) reads it:
``sqlite:///mlflow.db`` is ``mlflow.db`` relative to the current directory,
``sqlite:////abs/mlflow.db`` is absolute, the path is percent-decoded, and
``sqlite://`` or ``sqlite:///:memory:`` (an in-memory database) name no store.
"""

import os
from pathlib import Path

from regctl.core.errors import InvalidInput, StoreError
from regctl.core.names import show

#: The schema revisions (``alembic_version``) regctl writes to: each one is tested
#: against the MLflow release that created it (tests/test_interop_sqlite.py).
TESTED_REVISIONS = {
    "dc11669786a5": "MLflow 3.17",
    "0584bdc529eb": "MLflow 2.22",
}

#: The registry tables and the columns regctl reads (``workspace`` is optional: MLflow 3 only).
REGISTRY_COLUMNS = {
    "registered_models": ("name", "creation_time", "last_updated_time", "description"),
    "model_versions": ("name", "version", "creation_time", "last_updated_time", "description", "user_id",
                       "current_stage", "source", "run_id", "status", "status_message", "run_link",
                       "storage_location"),
    "registered_model_tags": ("key", "value", "name"),
    "model_version_tags": ("key", "value", "name", "version"),
    "registered_model_aliases": ("alias", "version", "name"),
}
WORKSPACE = "default"
ENV_VARIABLES = ("REGCTL_STORE", "MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_URI")
DEFAULT_DB = "mlflow.db"


def is_sqlite_uri(value: str) -> bool:
    head, sep, _ = value.partition(":")
    head = head.lower()
    return bool(sep) and (head == "sqlite" or head.startswith("sqlite+"))


def database_path(uri: str, where: str = "--store", cwd: "str | None" = None) -> Path:
    """The database file a ``sqlite:`` URI names (absolute), as SQLAlchemy reads the URI."""
    rest = uri.partition(":")[2]
    if not rest.startswith("//"):
        raise InvalidInput(f"{where}: invalid SQLite URI {show(uri)}: expected sqlite:///<path>")
    host, slash, database = rest[2:].partition("/")
    if host:
        raise InvalidInput(f"{where}: invalid SQLite URI {show(uri)}: a host ({show(host.rpartition('@')[2])}) is not supported")
    database, _, query = database.partition("?")
    if "%" in database:
        from urllib.parse import unquote

        database = unquote(database)
    if not database or database == ":memory:":
        raise InvalidInput(f"{where}: {show(uri)} is an in-memory database, not a store")
    if "\x00" in database:
        raise InvalidInput(f"{where}: invalid SQLite URI {show(uri)}: the path holds a NUL character")
    path = DatabaseFile(os.path.abspath(os.path.join(cwd or os.getcwd(), database)))
    path.timeout = _timeout(query, uri, where)
    return path


class DatabaseFile(type(Path())):  # type: ignore[misc]
    """The database's path, with what its URI says of it: ``timeout`` (seconds; None if not given)."""

    timeout: "float | None" = None


def _timeout(query: str, uri: str, where: str) -> "float | None":
    """``timeout`` from a URI's query, as SQLAlchemy's SQLite dialect passes it to ``sqlite3.connect``;
    the dialect's other parameters (``check_same_thread``, ``uri``, ...) mean nothing to regctl."""
    from urllib.parse import parse_qs

    values = parse_qs(query).get("timeout")
    if not values:
        return None
    try:
        seconds = float(values[-1])
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0 or seconds == float("inf"):
        raise InvalidInput(f"{where}: invalid SQLite URI {show(uri)}: timeout must be a number of seconds")
    return seconds


def chosen_database(option: "str | None", environ=os.environ, cwd: "str | None" = None) -> "Path | None":
    """The SQLite database to use, or None when the store is a file store (``locations.store_root``).

    The chosen value is ``--store``, else the first of REGCTL_STORE, MLFLOW_REGISTRY_URI and
    MLFLOW_TRACKING_URI that is set; a ``sqlite:`` URI there names a database. With nothing
    configured: ``./mlruns`` when it is a file store, else ``./mlflow.db`` when it exists, else
    ``./mlruns`` (created by the first write).
    """
    from regctl.core.locations import chosen_value

    chosen = chosen_value(option, environ)
    if chosen is not None:
        value, where = chosen
        if isinstance(value, str) and is_sqlite_uri(value):
            return database_path(value, where, cwd)
        return project_database(value, cwd)
    return _directory_rule(cwd or os.getcwd())


def _directory_rule(base: str) -> "Path | None":
    """``base/mlflow.db`` when it exists and ``base/mlruns`` holds no file store, else None."""
    default = os.path.join(base, DEFAULT_DB)
    if not os.path.isfile(default) or is_file_store(os.path.join(base, "mlruns")):
        return None
    return Path(os.path.abspath(default))


def project_database(value: str, cwd: "str | None" = None) -> "Path | None":
    """The database of a project directory named as the store (``--store DIR``), or None.

    A directory that is no file store itself but holds ``mlflow.db`` (and ``mlruns/`` only as
    MLflow's artifact folder) is read by the rule that applies with no store named: its
    ``mlflow.db``, unless its ``mlruns/`` holds a file store. Anything else stays a file store.
    """
    from regctl.core.locations import location_to_path
    from regctl.core.uris import scheme_of

    if not isinstance(value, str) or not value.strip() or "\x00" in value or scheme_of(value) not in (None, "file"):
        return None
    try:
        path = location_to_path(value if cwd is None or scheme_of(value) else os.path.join(cwd, value))
    except (InvalidInput, ValueError, OSError):
        return None
    if not os.path.isdir(path) or is_file_store(str(path)):
        return None
    return _directory_rule(str(path))


def is_file_store(path: str) -> bool:
    """Whether ``path`` holds a file store's data, not only a database's artifacts.

    MLflow (3.7+) keeps using ``./mlruns`` as its store when it holds an experiment
    (``<digits>/meta.yaml``), and otherwise puts only artifacts there, beside
    ``./mlflow.db``. A ``models/`` directory is a registry regctl or MLflow wrote.
    """
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir() and (entry.name == "models" or (
                        entry.name.isdigit() and os.path.lexists(os.path.join(entry.path, "meta.yaml")))):
                    return True
    except OSError:
        return False
    return False


class Schema:
    """What one database holds: its revision, its tables and their columns."""

    __slots__ = ("revision", "tables", "_columns", "_connection")

    def __init__(self, connection):
        self._connection = connection
        self._columns = {}
        self.tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.revision = None
        if "alembic_version" in self.tables:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            self.revision = row[0] if row else None

    def columns(self, table: str) -> frozenset:
        if table not in self._columns:
            self._columns[table] = frozenset(row[1] for row in self._connection.execute(f'PRAGMA table_info("{table}")'))
        return self._columns[table]

    def has(self, table: str, column: "str | None" = None) -> bool:
        return table in self.tables and (column is None or column in self.columns(table))

    @property
    def tested(self) -> bool:
        return self.revision in TESTED_REVISIONS

    def describe_revision(self) -> str:
        if self.revision is None:
            return "no alembic_version (not a database MLflow created)"
        label = TESTED_REVISIONS.get(self.revision)
        return f"{self.revision} ({label})" if label else f"{self.revision} (not tested with regctl)"


def check_registry(schema: Schema, path: Path) -> None:
    """StoreError unless the registry tables and the columns regctl reads are all there."""
    for table, columns in REGISTRY_COLUMNS.items():
        if table not in schema.tables:
            raise StoreError(f"{path} has no MLflow model registry (table {table} is missing; "
                             f"schema revision {schema.describe_revision()})")
        missing = [c for c in columns if c not in schema.columns(table)]
        if missing:
            raise StoreError(f"{path}: table {table} has no column {missing[0]} "
                             f"(schema revision {schema.describe_revision()}); regctl cannot read it")


def check_writable(schema: Schema, path: Path) -> None:
    """StoreError (exit 4) unless the schema revision is one regctl was tested against."""
    if not schema.tested:
        revision = schema.revision or "(none)"
        tested = ", ".join(f"{r} ({label})" for r, label in TESTED_REVISIONS.items())
        raise StoreError(f"{path}: schema revision {revision} has not been tested with regctl; writes refused "
                         f"(tested: {tested}; `mlflow db upgrade` brings a database to the newest)")
