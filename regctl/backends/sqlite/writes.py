"""Every write as one SQLite transaction: register, aliases, tags, stages, descriptions, rename, delete, gc."""


import os
from pathlib import Path

from regctl.backends.sqlite import schema as sqlschema
from regctl.backends.sqlite import tracking as sqltracking
from regctl.backends.sqlite.connection import MODEL_VERSIONS_TAG, REDACTED, _tag_target, _translated, now_ms
from regctl.backends.sqlite.doctor import SqliteDoctor
from regctl.core import prompts, uris
from regctl.core.errors import NotFound, StoreError
from regctl.core.locations import inside, location_to_path
from regctl.core.names import (
    DELETED_STAGE,
    show,
    validate_alias,
    validate_artifact_path,
)
from regctl.core.resolution import run_location
from regctl.core.rules import (
    AliasNotFound,
    alias_moves,
    model_exists,
    remote_artifacts,
    rollback_target,
    source_not_a_directory,
    source_without_artifacts,
    tag_not_found,
)


class SqliteWrites(SqliteDoctor):
    """Every write as one SQLite transaction: register, aliases, tags, stages, descriptions, rename, delete, gc."""

    def _registration_source(self, connection, source: str) -> dict:
        """What MLflow would store for a registration from ``source``; NotFound if nothing is there."""
        ref = uris.parse_uri(source)
        if isinstance(ref, uris.RunRef):
            run = sqltracking.find_run(connection, self.schema, ref.run_id)
            path = validate_artifact_path(ref.path)
            location = run_location(run, path)
            local = self._location_path(connection, location)
            if not isinstance(local, str) and (local / "MLmodel").is_file():
                return uris.as_recorded(source, ref, {"source": location, "storage_location": location,
                                                              "run_id": ref.run_id, "model": None})
            model = sqltracking.logged_model_named(connection, self.schema, run, path, newest_first=False) if path else None
            if model is None and isinstance(local, str):  # MLflow lists the remote artifacts for an MLmodel
                raise remote_artifacts(f"runs:/{ref.run_id}/{path}", local, "register")
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
                raise source_not_a_directory(source, local)
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

    def _refuse_prompt_name(self, connection, name: str) -> None:
        """A Conflict when ``name`` is an MLflow prompt's: no model version is registered into one."""
        if self._model_row(connection, name) is not None:
            prompts.refuse_registration(name, self._model_tags(connection, name))

    def _require_dir(self, connection, location, source: str) -> None:
        path = self._location_path(connection, location) if location else None
        if isinstance(path, str):  # a remote location: MLflow records it without reading it, and so does regctl
            return
        if path is None or not path.is_dir():
            raise source_without_artifacts(source, location)

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
        from regctl.core import digest

        aliases = [validate_alias(a) for a in aliases]
        if isinstance(uris.parse_uri(source), uris.PathRef):
            self._registration_source(None, source)  # a missing directory is reported first, as for a file store
        connection = self._connect()
        sqlschema.check_writable(self.schema, self.path)  # before hashing: a refused write costs nothing
        self._refuse_prompt_name(connection, name)
        origin = self._registration_source(connection, source)  # a bad source changes nothing
        # Hash the artifacts before the transaction: it reads every file, and nobody needs to wait for that.
        files = self._location_path(connection, origin["storage_location"] or origin["source"])
        # files at a remote location are registered as MLflow does, without reading them: no digest
        entries = None if isinstance(files, str) else digest.manifest(files)
        registered = {} if entries is None else {"digest": digest.digest_of(entries), "algorithm": digest.ALGORITHM,
                                                 "files": dict(sorted(entries.items()))}
        with self._transaction() as records:
            now = now_ms()
            self._refuse_prompt_name(connection, name)
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
            self._record(records, "version.create", name, number, None, origin["source"], created=now, **registered)
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
        from regctl.core.results import AliasChange

        validate_alias(alias)
        with self._transaction() as records:
            connection = self._connection
            self._require_model(connection, name)
            self._live_version(connection, name, version)
            old = self._alias(connection, name, alias)
            if not alias_moves(name, alias, old, version, expect, expect_given):
                return AliasChange(name, alias, version, version, False)
            self._upsert_alias(connection, name, alias, version)
            self._record(records, "alias.set", name, alias, None if old is None else str(old), str(version))
        return AliasChange(name, alias, old, version, True)

    @_translated
    def delete_alias(self, name, alias):
        from regctl.core.results import AliasChange

        with self._transaction() as records:
            connection = self._connection
            self._require_model(connection, name)
            old = self._alias(connection, name, alias)
            if old is None:
                raise AliasNotFound(name, alias)
            connection.execute("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?" + self._ws,
                               (name, alias))
            self._record(records, "alias.delete", name, alias, str(old), None)
        return AliasChange(name, alias, old, None, True)

    @_translated
    def rollback_alias(self, name, alias):
        with self._reading() as connection:
            self._require_model(connection, name)
            current = self._alias(connection, name, alias)
        moves = self.history(name, alias)
        last = moves[0] if moves else None
        rollback_target(name, alias, (last.old, last.new) if last else None, current)
        current = None if current is None else str(current)
        if last.old is None:
            return self.delete_alias(name, alias)
        from regctl.core.resolution import alias_version  # the one reading of an alias's version text

        previous = alias_version(last.old)
        if previous is None:
            raise StoreError(f"damaged journal record of alias {show(alias)} of {show(name)}: "
                             f"{show(str(last.old))} is not a version")
        return self.set_alias(name, alias, previous, expect=None if current is None else int(current),
                              expect_given=True)

    def _current_tags(self, connection, name: str, version) -> dict:
        """The tags of a model (``version`` None) or of one live version; NotFound otherwise."""
        self._require_model(connection, name)
        if version is None:
            return self._model_tags(connection, name)
        self._live_version(connection, name, version)
        return self._version_tags(connection, name, [version]).get(version, {})

    @_translated
    def set_tags(self, name, tags, version=None):
        from regctl.core.results import TagChange

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
        from regctl.core.results import TagChange

        with self._transaction() as records:
            connection = self._connection
            current = self._current_tags(connection, name, version)
            missing = [k for k in keys if k not in current]
            if missing:
                raise tag_not_found(name, missing[0], version or None)
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
        from regctl.core.results import DescriptionChange

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
        from regctl.core.results import StageChange

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
        from regctl.core.results import Rename

        with self._transaction() as records:
            connection = self._connection
            self._require_model(connection, old)
            if self._model_row(connection, new) is not None:
                raise model_exists(new)
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
        from regctl.core.results import Deletion

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
        from regctl.core.results import Deletion

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
        from regctl.core import retention
        from regctl.core.results import Collection

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

    def importing(self, local):
        """Keep a local directory's files beside the database (``regctl-artifacts/<id>``) for the
        registration the block makes; removed again when it fails first (see ``copies``)."""
        from regctl.backends.sqlite import copies

        return copies.importing(self, local)

    def check_import(self) -> Path:
        """Where ``importing`` keeps files; StoreError when a symbolic link leads it out of the store."""
        return inside(self.root / "regctl-artifacts", os.path.realpath(self.root))
