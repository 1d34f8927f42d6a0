"""doctor on a database: SQLite's own checks, then the registry's, and what --fix repairs."""

import sqlite3

from regctl.backends.sqlite import schema as sqlschema
from regctl.backends.sqlite.connection import _SELECT_VERSION, DELETED_VERSION_ALIAS, VERSION_COLUMNS, _translated
from regctl.backends.sqlite.reads import SqliteReads
from regctl.core.errors import InvalidInput, NotFound, StoreError
from regctl.core.locations import exists
from regctl.core.names import (
    DELETED_STAGE,
    STAGES,
    show,
)
from regctl.core.rules import remote_note

CORRUPT = "corrupt-database"


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite found the file damaged (a malformed page or schema), not busy or refused."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    return name.startswith("SQLITE_CORRUPT") or "malformed" in str(exc)


class SqliteDoctor(SqliteReads):
    """doctor on a database: SQLite's own checks, then the registry's, and what --fix repairs."""

    @_translated
    def doctor(self, *, fix=False):
        from regctl.core.results import DoctorReport

        try:
            fixed = []
            # no repair is written into a file SQLite finds damaged
            if fix and [row[0] for row in self._connect().execute("PRAGMA quick_check(1)")] == ["ok"]:
                from regctl.backends.sqlite import copies  # (shutil, uuid: only doctor and copies load them)

                fixed = self._fix() + copies.fix(self)
            problems, warnings, notes = self._check()
        except sqlite3.DatabaseError as exc:
            if not _corrupt(exc):
                raise
            return DoctorReport(store=self.location, problems=[self._corrupt(exc)],
                                notes=[f"database {self.path}"])
        return DoctorReport(store=self.location, problems=problems, warnings=warnings, fixed=fixed, notes=notes)

    def _corrupt(self, exc: sqlite3.DatabaseError) -> dict:
        """The finding for a database SQLite cannot read whole: its own message and what to do."""
        return {"kind": CORRUPT, "model": None, "path": self.path.name, "fixable": False,
                "message": f"SQLite cannot read the database: {exc}; nothing else was checked and nothing "
                           f"was changed: restore {self.path.name} from a backup, or recover what SQLite can "
                           f"still read into a new file (sqlite3 {self.path.name} .recover | sqlite3 "
                           "recovered.db) and check that copy with doctor before using it"}

    def _check(self):
        connection = self._connect()
        problems, warnings = [], []
        remote = []  # where the versions at remote locations keep their files

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
                    self._check_location(connection, version, problem, remote)
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
        from regctl.backends.sqlite import copies

        problems.extend(copies.check(self))
        for found in self._check_journal():  # a damaged journal line is a warning, as on a file store
            (warnings if found["kind"] == "damaged-journal" else problems).append(found)
        notes = [f"database {self.path}, schema revision {self.schema.describe_revision()}",
                 f"regctl's journal (and the digests verify checks): {self.journal_path}", *remote_note(remote)]
        return problems, warnings, notes

    def _check_location(self, connection, version: dict, problem, remote: list) -> None:
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
        if isinstance(path, str):  # a remote location (s3:, mlflow-artifacts:, ...): not missing, and not checked here
            remote.append(path)
        elif not exists(path):
            problem("missing-artifacts", f"artifacts of version {number} no longer exist at {path}", model=name,
                    path="model_versions")

    def _check_journal(self) -> list:
        from regctl.core import journal

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
