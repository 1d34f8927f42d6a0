"""Writes as REST requests: register, aliases, tags, stages, descriptions, rename and delete."""


import time
import uuid
from typing import Iterable, Optional

from regctl.backends.rest.answers import (
    MODEL_VERSION,
    answer,
)
from regctl.backends.rest.artifacts import RestArtifacts
from regctl.backends.rest.connection import (
    OPERATION_TAG,
    REGISTRATION_WAIT,
    _quoted,
    _tags,
    aliases_of,
    version_of,
)
from regctl.core import prompts, uris
from regctl.core.errors import Conflict, InvalidInput, NotFound, RegctlError, StoreError
from regctl.core.names import DELETED_STAGE, show
from regctl.core.results import (
    AliasChange,
    Deletion,
    DescriptionChange,
    ModelVersion,
    Rename,
    StageChange,
    TagChange,
)
from regctl.core.rules import (
    AliasNotFound,
    alias_moves,
    model_exists,
    rollback_target,
    source_not_a_directory,
    tag_not_found,
)


class RestWrites(RestArtifacts):
    """Writes as REST requests: register, aliases, tags, stages, descriptions, rename and delete."""

    def _ensure_model(self, name: str) -> bool:
        """Create the model if missing; True when this call certainly created it (only then may a
        failure later in the command delete it again). A prompt of that name is a Conflict."""
        from regctl.backends.rest.client import Unconfirmed

        try:
            self.call("POST", "/registered-models/create", {"name": name})
        except Conflict:  # there already: a model, or a prompt (no version goes into one)
            self._refuse_prompt(name)
            return False
        except Unconfirmed:
            if self._exists(lambda: self._model_data(name)):
                self._refuse_prompt(name)
                return False  # made by this request or by another client: not this command's to undo
            try:
                self.call("POST", "/registered-models/create", {"name": name})
            except Conflict:
                self._refuse_prompt(name)
                return False
        self._record("model.create", name, None, None, name)
        return True

    def _refuse_prompt(self, name: str) -> None:
        prompts.refuse_registration(name, _tags(self._model_data(name).get("tags")))

    def _exists(self, read) -> bool:
        """Whether ``read()`` finds what it reads (NotFound: no)."""
        try:
            read()
        except NotFound:
            return False
        return True

    def _undo_model(self, name: str) -> None:
        """Delete a model this command created, if it is still as the command left it: no version
        (another client may have registered one into it meanwhile; that is never undone)."""
        try:
            if not self._search_versions(name, limit=1):
                self.call("DELETE", "/registered-models/delete", {"name": name})
        except Exception:
            pass

    def _create_version(self, name: str, body: dict, *, fresh_model: Optional[str] = None) -> dict:
        """``model-versions/create``, exactly once: when the answer is lost, the version the request
        made is looked up instead of being created a second time. It is found by an operation id the
        request carries (a tag the command removes once it is done), or, with ``fresh_model``, by the
        logged model this command has just uploaded and registers here for the only time: its id is
        the operation id already, so nothing is tagged and nothing is left to remove."""
        from regctl.backends.rest.client import Unconfirmed

        if fresh_model is None:
            operation = uuid.uuid4().hex
            body = dict(body, tags=[*body["tags"], {"key": OPERATION_TAG, "value": operation}])
            params = {"filter": f"tags.`{OPERATION_TAG}` = '{operation}'", "max_results": 10}
        else:
            params = {"filter": f"name = {_quoted(name)} AND source_path = 'models:/{fresh_model}'", "max_results": 10}
        shape = answer("model_version", MODEL_VERSION)
        try:
            return self.call("POST", "/model-versions/create", body, shape=shape)["model_version"]
        except Unconfirmed as unknown:
            made = self._version_made(name, params, fresh_model)
            if made is not None:
                return made
            try:
                return self.call("POST", "/model-versions/create", body, shape=shape)["model_version"]
            except Unconfirmed:
                made = self._version_made(name, params, fresh_model)
                if made is None:
                    raise unknown.error from None
                return made

    def _version_made(self, name: str, params: dict, model_id: Optional[str]) -> Optional[dict]:
        """The live version of ``name`` a search for a registration's operation finds, if any."""
        for found in self._pages("/model-versions/search", params, "model_versions", MODEL_VERSION, 10):
            if found.get("name") == name and found.get("current_stage") != DELETED_STAGE and (
                    model_id is None or found.get("model_id") in (model_id, None, "")):
                return found
        return None

    def _end_operation(self, name: str, number: int) -> None:
        """Remove the operation id from the version made (best effort: doctor reports one left)."""
        try:
            self.call("DELETE", "/model-versions/delete-tag", {"name": name, "version": str(number), "key": OPERATION_TAG},
                      idempotent=True)
        except Exception:
            pass

    def _registration_source(self, source: str, tags: dict) -> dict:
        """What to send to ``model-versions/create`` for ``source``, uploading local files first."""
        ref = uris.parse_uri(source)
        if isinstance(ref, uris.PathRef):
            from regctl.core.locations import location_to_path

            path = location_to_path(source)
            if not path.is_dir():
                raise source_not_a_directory(source, path)
            return {"upload": path}
        if isinstance(ref, uris.RunRef):
            location, model_id = self._run_location(ref, registering=True)
            if model_id:
                return {"source": f"models:/{model_id}", "model_id": model_id, "run_id": ref.run_id,
                        "location": location}
            # the path as written, as MLflow's client sends it: the server decides what it accepts
            return {"source": uris.recorded_location(source, ref, location), "run_id": ref.run_id,
                    "location": location}
        if isinstance(ref, uris.LoggedModelRef):
            info = self._logged_model(ref.model_id)
            return {"source": f"models:/{ref.model_id}", "model_id": ref.model_id,
                    "run_id": info.get("source_run_id") or None, "location": info.get("artifact_uri") or ""}
        data = self._find(ref)
        number = int(data["version"])
        # as MLflow's register_model: the new version gets none of the source version's tags
        return {"source": f"models:/{ref.name}/{number}", "location": self._download_uri(ref.name, number) or ""}

    def register(self, source, name, *, description, tags, aliases, run_link=None) -> ModelVersion:
        origin = self._registration_source(source, tags)
        if self.dry_run:
            return self._planned_version(origin, name, description, tags, aliases)
        created = self._ensure_model(name)
        try:
            if "upload" in origin:
                origin["source"], origin["model_id"], _ = self.upload_model(origin["upload"])
                origin["run_id"] = None
            else:
                self._record_manifest_of(origin.get("location"))
            all_tags = dict(tags)
            body = {"name": name, "source": origin["source"],
                    "tags": [{"key": k, "value": v} for k, v in all_tags.items()]}
            for key, value in (("description", description), ("run_link", run_link)):
                if value is not None:
                    body[key] = value
            for key in ("run_id", "model_id"):
                if origin.get(key):
                    body[key] = origin[key]
            data = self._create_version(name, body)
        except BaseException:
            if created:
                self._undo_model(name)
            raise
        number = int(data["version"])
        self._record("version.create", name, number, None, origin["source"])
        try:
            data = self._await_ready(name, number, data)
            done: list = []
            for alias in aliases:
                try:
                    self.set_alias(name, alias, number, expect=None, expect_given=False)
                except RegctlError as exc:
                    raise self._unregister(name, number, created, done, alias, exc) from None
                done.append(alias)
        finally:
            self._end_operation(name, number)
        data = dict(data, tags=[t for t in data.get("tags") or () if t.get("key") != OPERATION_TAG])
        model = self._model(name)
        return version_of(data, aliases_of(model), storage_location=self._download_uri(name, number))

    def _record_manifest_of(self, location: Optional[str]) -> None:
        """Record the manifest of files registered where they are, unless one is there already
        (the first registration's wins: then the files are not read at all)."""
        if not location or self._proxy_path(location) is None and not self._local_path(location):
            return
        if self._recorded_manifest(location) is not None:
            return
        try:
            entries = self.remote_manifest(location)
        except NotFound:
            return
        if entries:
            self._record_manifest(location, entries, new=True)

    def register_uploaded(self, name: str, upload: tuple, *, description: Optional[str], tags: dict,
                          run_link: Optional[str] = None) -> int:
        """Register files ``upload_model`` stored (its ``(source, model id, manifest)``) as the next
        version of the existing model ``name``: the numbering request alone (push, which has checked
        the values, and creates a model through ``register``); its number. No live version refers to
        the upload before this one (a placeholder push registered from it is deleted already), so its
        model id finds the version when the answer is lost (``_create_version``)."""
        source, model_id, _ = upload
        body = {"name": name, "source": source, "model_id": model_id,
                "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        for key, value in (("description", description), ("run_link", run_link)):
            if value is not None:
                body[key] = value
        fresh = model_id if source == f"models:/{model_id}" and _is_model_id(model_id) else None
        data = self._create_version(name, body, fresh_model=fresh)
        number = int(data["version"])
        self._record("version.create", name, number, None, source)
        try:
            self._await_ready(name, number, data)
        finally:
            if fresh is None:
                self._end_operation(name, number)
        return number

    def discard_upload(self, upload: tuple) -> None:
        """Delete a logged model ``upload_model`` made that no version was registered from (push's
        uploads made ahead of a failure)."""
        model_id = upload[1]
        try:
            self.call("DELETE", f"/logged-models/{model_id}", {"model_id": model_id}, idempotent=True)
        except NotFound:
            pass

    def _unregister(self, name: str, number: int, created: bool, set_here: list, alias: str,
                    exc: RegctlError) -> RegctlError:
        """A registration whose alias could not be set is undone, so that the whole command is made or
        none of it, and a retried script registers once: this command's aliases, its version (only
        while no other alias points at it), its model (only while empty). Where that cannot be done,
        the error names the version that stays and the command that finishes the job."""
        try:
            for made in set_here:
                def moved_off(made: str = made) -> bool:
                    return self._read_alias(name, made) != number

                self.change("DELETE", "/registered-models/alias", {"name": name, "alias": made}, done=moved_off)
            if any(version == number for version in aliases_of(self._model(name)).values()):
                raise Conflict("another client pointed an alias at it")
            self.change("DELETE", "/model-versions/delete", {"name": name, "version": str(number)},
                        done=lambda: not self._exists(lambda: self._version(name, number)))
            self._record("version.delete", name, f"version-{number}", "None", DELETED_STAGE)
            if created:
                self._undo_model(name)
        except Exception:
            return type(exc)(f"version {number} of {show(name)} was registered, but alias {show(alias)} was not set: "
                             f"{exc.message}; set it with: regctl alias set {name} {alias} {number} (registering "
                             "again would make another version)")
        return type(exc)(f"alias {show(alias)} of {show(name)} could not be set: {exc.message}; the version this "
                         f"command registered ({number}) was deleted again: nothing was registered")

    def _planned_version(self, origin: dict, name: str, description, tags: dict, aliases) -> ModelVersion:
        """The version a registration would create, found by reads only."""
        if "upload" in origin:
            from regctl.core import digest

            if not digest.manifest(origin["upload"]):
                raise NotFound(f"source {origin['upload']} holds no files")
            origin["source"] = str(origin["upload"])
        try:
            model = self._model_data(name)
        except NotFound:
            current, versions = {}, []
        else:
            prompts.refuse_registration(name, _tags(model.get("tags")))
            current, versions = aliases_of(model), self._search_versions(name, limit=1)
        number = int(versions[0]["version"]) + 1 if versions else 1
        data = {"name": name, "version": str(number), "source": origin["source"], "run_id": origin.get("run_id"),
                "description": description, "current_stage": "None", "status": "READY",
                "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        return version_of(data, dict(current, **{alias: number for alias in aliases}))

    def _await_ready(self, name: str, number: int, data: dict) -> dict:
        deadline = time.monotonic() + REGISTRATION_WAIT
        delay = 0.05
        while (data.get("status") or "READY") == "PENDING_REGISTRATION":
            if time.monotonic() > deadline:
                raise StoreError(f"version {number} of model {show(name)} is still PENDING_REGISTRATION "
                                 f"after {REGISTRATION_WAIT} s")
            time.sleep(delay)
            delay = min(1.0, delay * 2)
            data = self._version_data(name, number)
        if data.get("status") == "FAILED_REGISTRATION":
            raise StoreError(f"the server failed to register version {number} of model {show(name)}: "
                             f"{data.get('status_message') or 'no reason given'}")
        return data

    def set_alias(self, name, alias, version, *, expect, expect_given) -> AliasChange:
        # Read the model (a prompt is none) and the alias, move it. The server checks that the
        # model and the version exist (and are not deleted) when it moves the alias.
        self._model(name)
        try:
            old = int(self._alias_version(name, alias)["version"])
        except (NotFound, InvalidInput):  # no such alias (or model: the move below says which)
            old = None
        if old != version and expect_given and old != expect:
            self._version(name, version)  # a missing model or version first, as in a file store
        if not alias_moves(name, alias, old, version, expect, expect_given):
            return AliasChange(name, alias, version, version, False)
        if self.dry_run:
            self._version(name, version)  # what the server checks when it moves the alias
        try:
            self.change("POST", "/registered-models/alias", {"name": name, "alias": alias, "version": str(version)})
        except (NotFound, InvalidInput) as exc:
            missing = self._version_not_found(name, version, NotFound(exc.message))
            try:
                self._version(name, version)
            except NotFound:
                raise missing from None
            raise
        self._record("alias.set", name, alias, None if old is None else str(old), str(version))
        return AliasChange(name, alias, old, version, True)

    def delete_alias(self, name, alias) -> AliasChange:
        old = self._read_alias(name, alias)
        if old is None:
            raise AliasNotFound(name, alias)
        self.change("DELETE", "/registered-models/alias", {"name": name, "alias": alias},
                    done=lambda: self._read_alias(name, alias) is None)
        self._record("alias.delete", name, alias, str(old), None)
        return AliasChange(name, alias, old, None, True)

    def rollback_alias(self, name, alias) -> AliasChange:
        current = self._read_alias(name, alias)
        moves = self.history(name, alias)
        previous = rollback_target(name, alias, (moves[0].old, moves[0].new) if moves else None, current,
                                   f" (the journal on this machine: {self.journal_path()})")
        if previous is None:
            return self.delete_alias(name, alias)
        return self.set_alias(name, alias, previous, expect=current, expect_given=True)

    def _owner_tags(self, name: str, version: Optional[int]) -> dict:
        if version is None:
            return _tags(self._model(name).get("tags"))
        return _tags(self._version(name, version).get("tags"))

    def _set_tag(self, name: str, version: Optional[int], key: str, value: str) -> None:
        if version is None:
            self.change("POST", "/registered-models/set-tag", {"name": name, "key": key, "value": value})
        else:
            self.change("POST", "/model-versions/set-tag", {"name": name, "version": str(version), "key": key, "value": value})

    def _delete_tag(self, name: str, version: Optional[int], key: str) -> None:
        if version is None:
            self.change("DELETE", "/registered-models/delete-tag", {"name": name, "key": key},
                        done=lambda: key not in self._owner_tags(name, None))
        else:
            self.change("DELETE", "/model-versions/delete-tag", {"name": name, "version": str(version), "key": key},
                        done=lambda: key not in self._owner_tags(name, version))

    def _undo_tags(self, name, version, before: dict, keys: Iterable[str]) -> None:
        for key in keys:
            try:
                if key in before:
                    self._set_tag(name, version, key, before[key])
                else:
                    self._delete_tag(name, version, key)
            except Exception:
                pass

    def set_tags(self, name, tags, version=None) -> TagChange:
        before = self._owner_tags(name, version)
        done = []
        try:
            for key, value in tags.items():
                self._set_tag(name, version, key, value)
                done.append(key)
        except BaseException:
            self._undo_tags(name, version, before, done)
            raise
        for key, value in tags.items():
            target = key if version is None else f"version-{version}:{key}"
            self._record("tag.set", name, target, before.get(key), value)
        return TagChange(name, version, set=dict(tags))

    def delete_tags(self, name, keys, version=None) -> TagChange:
        before = self._owner_tags(name, version)
        missing = [k for k in keys if k not in before]
        if missing:
            raise tag_not_found(name, missing[0], version or None)
        done = []
        try:
            for key in keys:
                self._delete_tag(name, version, key)
                done.append(key)
        except BaseException:
            self._undo_tags(name, version, before, done)
            raise
        for key in keys:
            target = key if version is None else f"version-{version}:{key}"
            self._record("tag.delete", name, target, before[key], None)
        return TagChange(name, version, deleted=tuple(keys))

    def set_description(self, name, text, version=None, alias=None) -> DescriptionChange:
        if version is None and alias is None:
            old = self._model(name).get("description") or None
            self.change("PATCH", "/registered-models/update", {"name": name, "description": text})
            self._record("model.describe", name, None, old, text)
            return DescriptionChange(name, None, text)
        ref = uris.AliasRef(name, alias) if alias is not None else uris.VersionRef(name, version)
        data = self._find(ref)
        number = int(data["version"])
        self.change("PATCH", "/model-versions/update", {"name": name, "version": str(number), "description": text})
        self._record("version.describe", name, f"version-{number}", data.get("description") or None, text)
        return DescriptionChange(name, number, text)

    def transition_stage(self, name, version, stage, *, archive_existing=False) -> StageChange:
        data = self._version(name, version)
        old = data.get("current_stage") or "None"
        archived = []
        if archive_existing:
            archived = sorted((int(v["version"]) for v in self._search_versions(name)
                               if v.get("current_stage") == stage and int(v["version"]) != version), reverse=True)
        # The other versions are archived one request each, not with archive_existing_versions:
        # MLflow 3.17's server fails that query on PostgreSQL (integer <> varchar).
        self.change("POST", "/model-versions/transition-stage",
                    {"name": name, "version": str(version), "stage": stage, "archive_existing_versions": False})
        for other in archived:
            self.change("POST", "/model-versions/transition-stage",
                        {"name": name, "version": str(other), "stage": "Archived", "archive_existing_versions": False})
            self._record("version.stage", name, f"version-{other}", stage, "Archived")
        self._record("version.stage", name, f"version-{version}", old, stage)
        return StageChange(name, version, old, stage, tuple(archived))

    def rename(self, old, new) -> Rename:
        self._model(old)
        taken = model_exists(new)
        if self.dry_run:
            try:
                self._model_data(new)
            except NotFound:
                pass
            else:
                raise taken
        try:
            self.change("POST", "/registered-models/rename", {"name": old, "new_name": new},
                        done=lambda: self._exists(lambda: self._model_data(new))
                        and not self._exists(lambda: self._model_data(old)))
        except Conflict:
            raise taken from None
        self._record("model.rename", new, None, old, new)
        return Rename(old, new)

    def delete_model(self, name) -> Deletion:
        self._model(name)
        count = len(self._search_versions(name))
        self.change("DELETE", "/registered-models/delete", {"name": name},
                    done=lambda: not self._exists(lambda: self._model_data(name)))
        self._record("model.delete", name, None, f"{count} versions", None)
        return Deletion(name)

    def delete_version(self, name, version) -> Deletion:
        data = self._version(name, version)
        aliases = [a for a, v in aliases_of(self._model(name)).items() if v == version]
        self.change("DELETE", "/model-versions/delete", {"name": name, "version": str(version)},
                    done=lambda: not self._exists(lambda: self._version(name, version)))
        self._record("version.delete", name, f"version-{version}", data.get("current_stage") or "None", DELETED_STAGE)
        for alias in aliases:
            self._record("alias.delete", name, alias, str(version), None)
        return Deletion(name, version, tuple(aliases))


def _is_model_id(model_id: str) -> bool:
    from regctl.core.names import validate_logged_model_id

    try:
        validate_logged_model_id(model_id)
    except InvalidInput:
        return False
    return True
