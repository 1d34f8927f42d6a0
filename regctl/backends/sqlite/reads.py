"""Reading the registry tables: listings, one model or version, aliases, history; resolve and verify."""

import os
from pathlib import Path

from regctl.backends.sqlite import tracking as sqltracking
from regctl.backends.sqlite.connection import (
    _SELECT_VERSION,
    VERSION_COLUMNS,
    SqliteConnection,
    _existing,
    _ordered_tags,
    _translated,
)
from regctl.core import uris
from regctl.core.errors import InvalidInput, NotFound, StoreError
from regctl.core.locations import exists, location_to_path, rebase, stored_path
from regctl.core.names import (
    DELETED_STAGE,
    canonical_stage,
    show,
    validate_alias,
    validate_artifact_path,
    validate_lookup_name,
)
from regctl.core.prompts import PROMPT_TAG
from regctl.core.resolution import MAX_DEPTH, Resolution, run_location, too_deep
from regctl.core.rules import AliasNotFound, no_digest, no_versions, remote_artifacts

TYPE_CHECKING = False  # typing is not loaded at run time: the resolve fast path never needs it
if TYPE_CHECKING:
    from typing import Any


# the columns of filters.VERSIONS's order keys, and whether they can be NULL
_ORDER_COLUMNS = {"name": ("name COLLATE BINARY", False), "version_number": ("version", False),
                  "creation_timestamp": ("creation_time", True), "last_updated_timestamp": ("last_updated_time", True)}


def order_by(orders) -> str:
    """``filters.sort``'s order of versions as SQL: each key in turn, missing values (NULL) last."""
    terms = []
    for order in orders:
        column, nullable = _ORDER_COLUMNS[order.key]
        if not order.ascending:
            terms.append(column + " DESC")  # NULL is the least value: last already
        else:
            terms.append(f"{column} IS NULL, {column}" if nullable else column)
    return ", ".join(terms)


class SqliteReads(SqliteConnection):
    """Reading the registry tables: listings, one model or version, aliases, history; resolve and verify."""

    @_translated
    def models(self, *, include_prompts: bool = False):
        from types import MappingProxyType

        from regctl.core.record import EMPTY, draft, seal
        from regctl.core.results import Listing, RegisteredModel

        with self._reading() as connection:
            # each model's latest live version: one step down the (name, version) index per model,
            # not a scan of every version's row; names in Python's order of str (SQLite's BINARY)
            rows = connection.execute(
                "SELECT name, creation_time, last_updated_time, description, (SELECT version FROM model_versions "
                "WHERE model_versions.name = registered_models.name AND current_stage IS NOT ?" + self._ws
                + " ORDER BY version DESC LIMIT 1) FROM registered_models WHERE 1 = 1" + self._ws
                + " ORDER BY name COLLATE BINARY", (DELETED_STAGE,)).fetchall()
            tags: dict = {}
            aliases: dict = {}
            for name, key, value in connection.execute(
                    'SELECT name, "key", value FROM registered_model_tags WHERE 1 = 1' + self._ws):
                tags.setdefault(name, []).append((key, value))
            for name, alias, version in connection.execute(
                    "SELECT name, alias, version FROM registered_model_aliases WHERE 1 = 1" + self._ws):
                aliases.setdefault(name, {})[alias] = version
        # as _model_view makes them, drafted (core.record.draft): a listing's hot loop
        draft_class = draft(RegisteredModel)
        views: list = []
        append = views.append
        for row in rows:
            name = row[0]
            pairs = tags.get(name)
            model_tags = EMPTY
            if pairs is not None:
                ordered = _ordered_tags(pairs)
                if not include_prompts and str(ordered.get(PROMPT_TAG, "")).lower() == "true":
                    continue
                model_tags = MappingProxyType(ordered)
            found = aliases.get(name)
            view = draft_class()
            view.name, view.creation_timestamp, view.last_updated_timestamp, view.description = row[:4]
            view.tags = model_tags
            view.aliases = EMPTY if found is None else MappingProxyType(dict(sorted(found.items())))
            view.latest_version, view.latest_versions, view.version_count = row[4], None, None
            seal(view, "__class__", RegisteredModel)
            append(view)
        return Listing(views)

    @_translated
    def versions(self, name, *, include_deleted=False, limit=None, include_prompts=False):
        from regctl.core.results import Listing

        with self._reading() as connection:
            self._require_model(connection, name, include_prompts=include_prompts)
            sql = _SELECT_VERSION + " WHERE name = ?" + self._ws
            params = [name]
            if not include_deleted:
                sql += " AND current_stage IS NOT ?"
                params.append(DELETED_STAGE)
            sql += " ORDER BY version DESC"
            if limit is not None:
                sql += " LIMIT ?"
                params.append(int(limit))
            rows = connection.execute(sql, params).fetchall()
            tags = self._version_tags(connection, name, None if limit is None else [r[1] for r in rows])
            aliases = self._alias_rows(connection, name)
            return Listing(self._version_views(connection, rows, {name: tags}, {name: aliases}))

    @_translated
    def search_versions(self, search, max_results, progress=None):
        """MLflow's search over every model's live versions, read in one pass (three queries, not
        three per model), ordered by SQLite, then filtered as ``core.derived.search_versions`` does.

        The order is the one ``core.derived`` gives (the versions of the models listed, in name order,
        each model's newest first, then ``filters.sort``): every search's order ends with the name
        and the version number, so it is the order of its keys alone, which SQLite sorts as Python
        does (NULL last, numbers by value, text in code point order)."""
        from regctl.core import filters
        from regctl.core.results import Listing

        with self._reading() as connection:
            count = connection.execute("SELECT COUNT(*) FROM registered_models WHERE 1 = 1" + self._ws).fetchone()[0]
            if progress:
                progress(0, count)
            rows = connection.execute(
                _SELECT_VERSION + " WHERE current_stage IS NOT ?" + self._ws + " AND name IN (SELECT name FROM "
                "registered_models WHERE 1 = 1" + self._ws + ") ORDER BY " + order_by(search.order),
                (DELETED_STAGE,)).fetchall()
            found: dict = {}
            for model, version, key, value in connection.execute(
                    'SELECT name, version, "key", value FROM model_version_tags WHERE 1 = 1' + self._ws):
                found.setdefault(model, {}).setdefault(version, []).append((key, value))
            tags = {model: {v: _ordered_tags(pairs) for v, pairs in numbers.items()} for model, numbers in found.items()}
            aliases: dict = {}
            for model, alias, version in connection.execute(
                    "SELECT name, alias, version FROM registered_model_aliases WHERE 1 = 1" + self._ws):
                aliases.setdefault(model, {})[alias] = version
            if filters.only_prompts_hidden(search):
                # the rows are the answer once the prompts' are left out: views of the page only
                prompts = {(model, v) for model, numbers in tags.items() for v, t in numbers.items()
                           if t.get(PROMPT_TAG) == "true"}
                if prompts:
                    rows = [row for row in rows if row[:2] not in prompts]
                views = self._version_views(connection, rows[:max_results], tags, aliases)
                matched, more = views, max(0, len(rows) - max_results)
            else:
                wanted = filters.matcher(search, filters.VERSIONS, sql=True)
                matched = [v for v in self._version_views(connection, rows, tags, aliases) if wanted(v)]
                more = max(0, len(matched) - max_results)
        if progress:
            progress(count, count)
        return Listing(tuple(matched[:max_results]), (), more=more)

    @_translated
    def get_model(self, name):
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
        return view.replace(latest_versions=latest, version_count=len(live))

    @_translated
    def get_version(self, name, version=None, alias=None):
        from regctl.core.results import Lineage

        with self._reading() as connection:
            ref = uris.AliasRef(name, alias) if alias is not None else uris.VersionRef(name, version)
            number, row = self._find_version(connection, ref)
            view = self._version_view(connection, row, self._version_tags(connection, name, [number]),
                                      self._alias_rows(connection, name))
            lineage = self._lineage(connection, row, view.model_id)
        return view.replace(lineage=Lineage(**lineage))

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
            if isinstance(path, str) or path is not None and exists(path):  # a remote location: the URI
                info["artifact_path"] = str(path)
        return info

    @_translated
    def aliases(self, name):
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

    def _location_path(self, connection, location: str, depth: int = 0) -> "Path | str":
        """The local path a stored location names, ``runs:``/``models:`` ones followed; it may not exist.
        A remote location (``s3:``, ``mlflow-artifacts:``, ...) is the URI itself, a ``str``."""
        if uris.scheme_of(location) in ("runs", "models"):
            if depth >= MAX_DEPTH:
                raise too_deep(location)
            return self._resolve(connection, location, depth=depth + 1).path
        return stored_path(location, self.root)

    def _resolve_run(self, connection, ref, uri: str) -> Resolution:
        """``runs:/<id>/<path>``: the run's artifacts, else (MLflow 3) its newest logged model of that name."""
        run = sqltracking.find_run(connection, self.schema, ref.run_id)
        path = validate_artifact_path(ref.path)
        location = run_location(run, path)
        local = self._location_path(connection, location)
        if not path or (not isinstance(local, str) and exists(local)):  # a remote run's: its logged model, if any
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
        name = validate_lookup_name(ref.name, max_bytes=None)
        if isinstance(ref, uris.VersionRef):
            return ref.version, self._live_version(connection, name, ref.version)
        if isinstance(ref, uris.AliasRef):
            validate_alias(ref.alias, allow_reserved=True)
            version = self._alias(connection, name, ref.alias)
            if version is None:
                self._require_model(connection, name)
                raise AliasNotFound(name, ref.alias)
            return version, self._live_version(connection, name, version)
        stage = None if isinstance(ref, uris.LatestRef) else canonical_stage(ref.stage)
        self._require_model(connection, name)
        sql = _SELECT_VERSION + " WHERE name = ? AND current_stage IS NOT ?" + self._ws
        params = [name, DELETED_STAGE]
        if stage is not None:
            sql += " AND current_stage = ?"
            params.append(stage)
        row = connection.execute(sql + " ORDER BY version DESC LIMIT 1", params).fetchone()
        if row is None:
            raise no_versions(name, stage)
        row = dict(zip(VERSION_COLUMNS, row))
        return row["version"], row

    @_translated
    def verify(self, uri):
        from regctl.core import digest
        from regctl.core.errors import IntegrityError
        from regctl.core.results import Verification

        resolution = self.resolve(uri)
        if resolution.version is None:
            raise InvalidInput(f"cannot verify {show(uri)}: only models:/ URIs of registered versions have a digest")
        if resolution.remote:
            raise remote_artifacts(uri, resolution.path, "verify")
        name, version = resolution.name, resolution.version
        record = self._registration_record(name, version)
        if record is None:
            raise no_digest(name, version, f" in {self.journal_path}")
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

    def _registration_record(self, name: str, version: int):
        """The journal's ``version.create`` record of this live version, its model renamed since or not.

        Found by name and number, following the renames regctl journalled; a rename made by MLflow
        leaves no record, so then by what no rename changes: the number, the source and the creation
        time (a record only counts if it names the version's creation time).

        A command's first lookup reads the journal back from its end to the record (its cost is what
        was journalled since); a command that looks up more versions (push, a second verify) replays
        the journal once into the offsets of every registration and then reads only the record asked
        for, so its cost is one pass, not one pass per version. Memory stays flat either way.
        """
        from regctl.core import journal

        with self._reading() as connection:
            row = self._live_version(connection, name, version)
        created, source = row["creation_time"], row["source"]
        try:
            info = os.stat(self.journal_path)
        except FileNotFoundError:
            return None
        except OSError:
            info = None
        state = None if info is None else (info.st_ino, info.st_size, info.st_mtime_ns)
        cached: Any = getattr(self, "_registrations", None)
        if cached is None or cached[0] != state or state is None:
            if cached is None and state is not None:
                self._registrations = (None, None, None)  # the next lookup builds the index
                return self._scan_back(name, version, created) or self._scan_back_created(version, created, source)
            by_created: dict = {}
            cached = (state, journal.registrations(self.journal_path, by_created), by_created)
            self._registrations = cached
        offset = cached[1].get((name, version))
        record = None if offset is None else journal.record_at(self.journal_path, offset)
        if record is not None and record.get("created") == created:
            return record
        for offset in reversed(cached[2].get((version, created), ())):
            record = journal.record_at(self.journal_path, offset)
            if _registers(record, version, created, source):
                return record
        return None

    def _scan_back_created(self, version: int, created, source):
        """The newest registration record of this number, source and creation time, read from the end."""
        from regctl.core import journal

        if not isinstance(created, int):
            return None
        needle = b'"created": %d,' % created
        for line in journal.lines_from_end(self.journal_path):
            if needle in line and b'"version.create"' in line:
                record = journal.parse(line)
                if _registers(record, version, created, source):
                    return record
        return None

    def _scan_back(self, name: str, version: int, created):
        """The registration record, read from the journal's end back to it, in blocks: a rename met on
        the way back gives the model's earlier name, a deletion of the model ends the search (what is
        older belongs to a model of that name deleted since)."""
        from regctl.core import journal

        wanted = (b'"version.create"', b'"model.rename"', b'"model.delete"')
        for line in journal.lines_from_end(self.journal_path):
            if not any(marker in line for marker in wanted):
                continue
            record = journal.parse(line)
            if record is None:
                continue
            operation, model = record.get("operation"), record.get("model")
            if model != name:
                continue
            if operation == "model.rename":
                earlier = record.get("old")
                if not isinstance(earlier, str):
                    return None
                name = earlier
            elif operation == "model.delete":
                return None
            elif operation == "version.create" and record.get("target") == version and "digest" in record:
                return record if record.get("created") == created else None
        return None

    @_translated
    def history(self, name=None, alias=None):
        from regctl.core import journal
        from regctl.core.results import HistoryRecord

        self._connect()
        return tuple(HistoryRecord.from_record(r) for r in journal.history(self.journal_path, name, alias))

    def recorded_digest(self, name, version):
        record = self._registration_record(name, version)
        return None if record is None else record.get("digest")

    def describe_difference(self, name, version, recorded, current, actual) -> str:
        from regctl.core import digest

        record = self._registration_record(name, version) or {}
        return digest.name_differences(record.get("files"), recorded, current, actual)


def _registers(record, version: int, created, source) -> bool:
    """Whether a journal record is the registration of the version with this number, creation time and source."""
    return isinstance(record, dict) and record.get("operation") == "version.create" and "digest" in record \
        and record.get("target") == version and record.get("created") == created and record.get("new") == source
