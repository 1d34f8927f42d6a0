"""Which store a command works on, decided in one place: ``choose``.

``--store``, else ``REGCTL_STORE``, else MLflow's registry URI, else its tracking URI, else the
directory rule (``./mlruns`` when it holds a file store, else ``./mlflow.db`` when it exists, else
``./mlruns``); the value chosen is a tracking server (``http(s)://``), MLflow's SQLite database
(a ``sqlite:`` URI, or a project directory holding ``mlflow.db``) or a file store. The library,
the ``resolve`` fast path, completion and ``regctl store`` all ask ``choose``.

A ``sqlite:`` URI is read as SQLAlchemy (and so MLflow) reads it: ``sqlite:///mlflow.db`` is
``mlflow.db`` relative to the current directory, ``sqlite:////abs/mlflow.db`` is absolute, the
path is percent-decoded, and ``sqlite://`` or ``sqlite:///:memory:`` (in memory) name no store.
Import-light: the fast paths use it.
"""

import os
from pathlib import Path

from regctl.core.errors import InvalidInput
from regctl.core.names import show

DEFAULT_DB = "mlflow.db"


class Choice:
    """The store chosen: ``kind`` (``server``, ``sqlite`` or ``file``) and ``target`` (the server's
    URL, the database file, or the file store's root directory)."""

    __slots__ = ("kind", "target")

    def __init__(self, kind: str, target):
        self.kind, self.target = kind, target


SERVER_SCHEMES = ("http://", "https://")


def is_server(value: "str | None") -> bool:
    return isinstance(value, str) and value[:8].lower().startswith(SERVER_SCHEMES)


def server_url(option: "str | None", environ=os.environ) -> "str | None":
    """The server URL when the chosen store value is ``http(s)://...``, else None.

    The chosen value is ``--store``, else the first set of ``REGCTL_STORE``,
    ``MLFLOW_REGISTRY_URI`` and ``MLFLOW_TRACKING_URI`` (MLflow's client too uses
    the registry URI when set, else the tracking URI).
    """
    from regctl.core.locations import chosen_value

    chosen = chosen_value(option, environ)
    return chosen[0] if chosen is not None and is_server(chosen[0]) else None


def choose(option: "str | None", environ=os.environ, cwd: "str | None" = None) -> Choice:
    """The store ``option`` (``--store``; None: the environment, then the directory rule) names."""
    url = server_url(option, environ)
    if url is not None:
        return Choice("server", url)
    database = chosen_database(option, environ, cwd)
    if database is not None:
        return Choice("sqlite", database)
    from regctl.core.locations import store_root

    return Choice("file", store_root(option, environ, cwd).path)


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
