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

from regctl.backends.sqlite.writes import SqliteWrites
from regctl.core.derived import DerivedOperations


class SqliteBackend(SqliteWrites, DerivedOperations):
    """MLflow's SQLite database at ``path``."""
