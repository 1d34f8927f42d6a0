"""MLflow's SQLite database: which schemas regctl knows and writes to.

Which database a ``sqlite:`` URI names is ``regctl.core.choice``'s: it is part of choosing
the store. Import-light: the ``resolve`` fast path uses it.
"""

from pathlib import Path

from regctl.core.errors import StoreError

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
        present = schema.columns(table)
        missing = [c for c in columns if c not in present]
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
