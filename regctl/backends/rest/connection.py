"""The server's REST API as entities: requests, pages, one model, version or alias, the local journal."""


import contextlib
import os
from pathlib import Path
from typing import Callable, Mapping, Optional

from regctl.backends.rest.answers import (
    ARTIFACT_LIST,
    MODEL_VERSION,
    REGISTERED_MODEL,
    TEXT,
    Unreadable,
    answer,
    page,
    read,
)
from regctl.core import prompts, uris
from regctl.core.errors import InvalidInput, NotFound, StoreError
from regctl.core.names import DELETED_STAGE, canonical_stage, show
from regctl.core.prompts import PROMPT_TAG
from regctl.core.results import (
    Lineage,
    ModelVersion,
    RegisteredModel,
)
from regctl.core.rules import AliasNotFound, ModelNotFound, no_versions, version_not_found

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
MANIFEST_SUFFIX = ".regctl-manifest.json"
DIGEST_TAG = "regctl.content_digest"
# a registration's operation id, carried by its model-versions/create request and removed once the
# command is done: a lost answer is looked up by it instead of creating the version twice
OPERATION_TAG = "regctl.operation"
PROMPTS_FILTER = f"tags.`{PROMPT_TAG}` = 'true'"
MODEL_PAGE = 1000   # the server's maximum for registered-models/search
VERSION_PAGE = 10000
REGISTRATION_WAIT = 300  # seconds, as MLflow's client waits for READY


# ----------------------------------------------------------------- conversions

def _int(value) -> Optional[int]:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _tags(entries) -> dict:
    return {t["key"]: t.get("value") or "" for t in entries or ()}


def model_id_of(source: Optional[str]) -> Optional[str]:
    """The logged model id of a ``models:/m-<id>`` source, else None."""
    if source and source[:7].lower() == "models:":
        try:
            ref = uris.parse_models_uri(source)
        except InvalidInput:
            return None
        if isinstance(ref, uris.LoggedModelRef) and ref.model_id.startswith("m-"):
            return ref.model_id
    return None


def version_of(data: dict, aliases: Mapping[str, Optional[int]], storage_location: Optional[str] = None,
               lineage: Optional[Lineage] = None) -> ModelVersion:
    number = int(data["version"])
    source = data.get("source") or None
    return ModelVersion(
        name=str(data.get("name")),
        version=number,
        creation_timestamp=_int(data.get("creation_timestamp")),
        last_updated_timestamp=_int(data.get("last_updated_timestamp")),
        current_stage=data.get("current_stage") or "None",
        description=data.get("description") or None,
        source=source,
        run_id=data.get("run_id") or None,
        run_link=data.get("run_link") or None,
        status=data.get("status") or "READY",
        status_message=data.get("status_message") or None,
        user_id=data.get("user_id") or None,
        storage_location=storage_location,
        model_id=data.get("model_id") or model_id_of(source),
        tags=_tags(data.get("tags")),
        aliases=tuple(sorted(a for a, v in aliases.items() if v == number)),
        lineage=lineage,
    )


def aliases_of(data: dict) -> dict:
    found = {a["alias"]: _int(a.get("version")) for a in data.get("aliases") or ()}
    return dict(sorted(found.items()))


def model_of(data: dict, latest_versions=None, version_count=None) -> RegisteredModel:
    latest = [_int(v.get("version")) for v in data.get("latest_versions") or ()
              if v.get("current_stage") != DELETED_STAGE]
    latest = [n for n in latest if n is not None]
    return RegisteredModel(
        name=str(data.get("name")),
        creation_timestamp=_int(data.get("creation_timestamp")),
        last_updated_timestamp=_int(data.get("last_updated_timestamp")),
        description=data.get("description") or None,
        tags=_tags(data.get("tags")),
        aliases=aliases_of(data),
        latest_version=max(n for n in latest if n is not None) if latest else None,
        latest_versions=latest_versions,
        version_count=version_count,
    )


def _quoted(name: str) -> str:
    """A model name as a string literal of MLflow's search filter."""
    if "'" not in name:
        return f"'{name}'"
    if '"' not in name:
        return f'"{name}"'
    raise InvalidInput(f"model name {show(name)} holds both kinds of quotes: the server's search cannot match it")


# -------------------------------------------------------------------- backend

class RestConnection:
    """The server's REST API as entities: requests, pages, one model, version or alias, the local journal."""

    name_bytes_limit = None  # the database's own columns decide, as for MLflow's SQL store
    parallel = True  # requests may be made from several threads at once (a connection each)

    def exists(self) -> bool:
        return True  # a server is there or unreachable, and every request says which

    def halt_parallel(self) -> None:
        """End the other threads' requests under way and refuse their next ones (a command ending)."""
        self.http.halt_others()

    def end_parallel(self) -> None:
        """The other threads are done: their connections are closed."""
        self.http.close_others()

    def __init__(self, url: str, environ: Mapping[str, str] = os.environ,
                 notify: Optional[Callable[[str], None]] = None, *, dry_run: bool = False):
        from regctl.backends.rest.client import Transport

        self.environ = environ
        self.dry_run = dry_run  # reads and checks only; no request that changes the server
        self.http = Transport(url, environ, notify)
        self.location = self.http.url

    def call(self, method: str, endpoint: str, body: Optional[dict] = None, *, api: str = API,
             shape: Optional[dict] = None, idempotent: Optional[bool] = None) -> dict:
        """One REST call; its JSON answer, an object of ``shape`` (``restanswers``), or the typed error.

        A call that changes something and is not ``idempotent`` (a POST or DELETE, unless said)
        raises ``client.Unconfirmed`` when the server may or may not have acted on it."""
        from regctl.backends.rest.client import http_error

        path = api + endpoint
        if method == "GET":
            response = self.http.request("GET", path, params=body)
        else:
            response = self.http.request(method, path, json_body=body or {}, idempotent=idempotent)
        if not 200 <= response.status < 300:
            raise http_error(response, self.location, method, path)
        try:
            return read(response.body, shape or {})
        except Unreadable as exc:
            raise StoreError(f"the server at {self.location} answered {method} {path} with {exc}") from None

    def change(self, method: str, endpoint: str, body: Optional[dict] = None, *,
               done: Optional[Callable[[], bool]] = None) -> Optional[dict]:
        """A call that changes the server: sent, or in a dry run not sent (None).

        ``done`` tells from the server's state whether the change is made. With it, a call whose
        outcome is unknown (``client.Unconfirmed``) is looked up, not resent blindly: made, it is
        done (None); not made, it is sent once more. Without it the call is idempotent: sending it
        again changes nothing more (setting an alias, a tag, a stage, a description).
        """
        from regctl.backends.rest.client import Unconfirmed

        if self.dry_run:
            return None
        if done is None:
            return self.call(method, endpoint, body, idempotent=True)
        try:
            return self.call(method, endpoint, body)
        except Unconfirmed as unknown:
            if done():
                return None
            try:
                return self.call(method, endpoint, body)
            except Unconfirmed:
                raise unknown.error from None

    def _pages(self, endpoint: str, params: dict, key: str, item: dict, limit: Optional[int] = None):
        """Every item (of shape ``item``) of a paged search (``page_token``/``next_page_token``).

        A token the server sent before would repeat the search forever: a StoreError."""
        token, seen, count = None, set(), 0
        while True:
            reply = self.call("GET", endpoint, dict(params, page_token=token) if token else params,
                              shape=page(key, item))
            for found in reply.get(key) or ():
                yield found
                count += 1
                if limit is not None and count >= limit:
                    return
            token = reply.get("next_page_token")
            if not token:
                return
            if token in seen:
                raise StoreError(f"the server at {self.location} answered GET {API}{endpoint} with a "
                                 f"next_page_token it sent before ({token[:40]!r}): its pages never end")
            seen.add(token)

    def _model_data(self, name: str) -> dict:
        """The server's answer for the registered model ``name``, a prompt's too (NotFound if none)."""
        try:
            return self.call("GET", "/registered-models/get", {"name": name},
                             shape=answer("registered_model", REGISTERED_MODEL))["registered_model"]
        except NotFound:
            raise ModelNotFound(name) from None

    def _model(self, name: str) -> dict:
        """The registered model ``name``; NotFound when there is none, or when it is an MLflow prompt."""
        data = self._model_data(name)
        prompts.refuse(name, _tags(data.get("tags")))
        return data

    def _version(self, name: str, version: int) -> dict:
        """A live version of a registered model (the model first: a prompt's versions are none)."""
        self._model(name)
        return self._version_data(name, version)

    def _version_data(self, name: str, version: int) -> dict:
        """The server's answer for a live version, of a prompt or a model."""
        try:
            data = self.call("GET", "/model-versions/get", {"name": name, "version": str(version)},
                             shape=answer("model_version", MODEL_VERSION))["model_version"]
        except NotFound as exc:
            raise self._version_not_found(name, version, exc) from None
        if data.get("current_stage") == DELETED_STAGE:
            raise version_not_found(name, version)
        return data

    def _version_not_found(self, name: str, version: int, exc: NotFound) -> NotFound:
        if "Registered Model" in exc.message and "Model Version" not in exc.message:
            return ModelNotFound(name)
        try:
            self._model(name)
        except NotFound as missing:
            return missing
        return version_not_found(name, version)

    def _alias_version(self, name: str, alias: str) -> dict:
        """The version an alias points at, as the server answers (NotFound or InvalidInput if none)."""
        return self.call("GET", "/registered-models/alias", {"name": name, "alias": alias},
                         shape=answer("model_version", MODEL_VERSION))["model_version"]

    def _alias_target(self, name: str, alias: str) -> dict:
        self._model(name)  # NotFound for a missing model (or a prompt) first
        try:
            return self._alias_version(name, alias)
        except (NotFound, InvalidInput):  # the SQL store answers a missing alias with INVALID_PARAMETER_VALUE
            raise AliasNotFound(name, alias) from None

    def _read_alias(self, name: str, alias: str) -> Optional[int]:
        try:
            return _int(self._alias_target(name, alias).get("version"))
        except NotFound as exc:
            if "alias" in exc.message:
                return None
            raise

    def _search_versions(self, name: str, limit: Optional[int] = None):
        """The live versions of ``name``, newest first; a prompt's too, which MLflow's SQL store
        returns only to a filter that asks for prompts (so a second search, when the first finds none)."""
        found: list = []
        for asking in ("", f" AND {PROMPTS_FILTER}"):
            params = {"filter": f"name={_quoted(name)}{asking}", "order_by": "version_number DESC",
                      "max_results": min(VERSION_PAGE, limit or VERSION_PAGE)}
            found = [v for v in self._pages("/model-versions/search", params, "model_versions", MODEL_VERSION, limit)
                     if v.get("name") == name and v.get("current_stage") != DELETED_STAGE]
            if found:
                break
        found.sort(key=lambda v: -int(v["version"]))
        return found

    def _find(self, ref) -> dict:
        """The live version a ``models:/<name>...`` reference designates."""
        from regctl.core.names import validate_alias, validate_lookup_name

        name = validate_lookup_name(ref.name, max_bytes=None)
        if isinstance(ref, uris.VersionRef):
            return self._version(name, ref.version)
        if isinstance(ref, uris.AliasRef):
            validate_alias(ref.alias, allow_reserved=True)
            return self._alias_target(name, ref.alias)
        stage = None if isinstance(ref, uris.LatestRef) else canonical_stage(ref.stage)
        candidates = [v for v in self._model(name).get("latest_versions") or ()
                      if v.get("current_stage") != DELETED_STAGE and (stage is None or v.get("current_stage") == stage)]
        if not candidates:
            raise no_versions(name, stage)
        best = max(candidates, key=lambda v: int(v["version"]))
        return self._version_data(name, int(best["version"]))  # with its tags

    def _download_uri(self, name: str, version: int) -> Optional[str]:
        remembered = self._locations
        if remembered is not None and (name, version) in remembered:
            return remembered[(name, version)]
        uri = self.call("GET", "/model-versions/get-download-uri", {"name": name, "version": str(version)},
                        shape={"artifact_uri": TEXT}).get("artifact_uri") or None
        if remembered is not None:
            remembered[(name, version)] = uri
        return uri

    _locations: Optional[dict] = None  # (name, number) -> download URI, inside ``remembering()``

    @contextlib.contextmanager
    def remembering(self):
        """Inside the block a version's download URI is asked once (push asks it to find the manifest,
        to read the files and to fetch them): a live version's files stay where it was registered, and
        MLflow never gives a model's number to a second version."""
        self._locations = {}
        try:
            yield
        finally:
            self._locations = None

    def _list(self, path: str) -> list:
        """Entries (``path``, ``is_dir``, ``file_size``) directly under ``path`` in the artifact proxy."""
        return self.call("GET", "", {"path": path}, api=ARTIFACTS, shape=ARTIFACT_LIST).get("files") or []

    def _is_file(self, path: str) -> bool:
        """Whether ``path`` names one file in the artifact proxy (whose listing of a file is empty, as of
        a directory that is not there): its parent's listing says."""
        parent, _, name = path.rstrip("/").rpartition("/")
        return bool(name) and any(not entry.get("is_dir") and entry["path"].rsplit("/", 1)[-1] == name
                                  for entry in self._list(parent))

    def journal_path(self) -> Path:
        import hashlib

        base = self.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        key = hashlib.sha256(self.location.encode("utf-8")).hexdigest()[:16]
        host = "".join(c if c.isalnum() or c in "-." else "_" for c in f"{self.http.host}-{self.http.port}")
        return Path(base) / "regctl" / "servers" / f"{host}-{key}.jsonl"

    def _record(self, operation: str, model, target, old, new) -> None:
        from regctl.core import journal

        if self.dry_run:
            return
        path = self.journal_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # said by append_after
        # the change is made on the server; a journal that cannot be written must not hide that
        journal.append_after(path, journal.change_record(operation, model, target, old, new, server=self.location))
