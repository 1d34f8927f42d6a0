"""The backend for an MLflow tracking server, over its REST API: ``RestBackend``.

The store is the server's URL (``--store http://HOST:PORT`` or ``https://...``,
or ``MLFLOW_REGISTRY_URI``/``MLFLOW_TRACKING_URI`` set to one). Requests go to
``/api/2.0/mlflow/...`` and, for files, to the server's artifact proxy
``/api/2.0/mlflow-artifacts/artifacts/...`` (``mlflow server`` serves it unless
started with ``--no-serve-artifacts``). Transport, credentials, TLS, proxies and
retries: ``regctl.restclient``. Every answer is checked against the shape of what is read
from it (``regctl.restanswers``) before anything reads it; an answer of another shape, or a
paged search whose server sends a page token again, is a StoreError naming the endpoint.

What a server store does differently, by necessity:

* ``register`` of a local directory (or ``file:`` URI) uploads the files through
  the artifact proxy as an MLflow 3 logged model (``POST logged-models``, one
  ``PUT`` per file, then the model marked READY), as ``mlflow.<flavor>.log_model``
  does, and registers ``models:/<model id>``; then it waits for the version to be
  READY.
* The digest: regctl adds no MLflow tag. It keeps the manifest (per-file SHA-256
  and the tree digest) in an artifact file of its own beside the version's files:
  ``<artifact location>.regctl-manifest.json`` (for a logged model,
  ``<experiment>/models/<model id>/artifacts.regctl-manifest.json``). ``verify``
  hashes the files again (locally when the server's artifact store is on this
  machine, else streamed through the proxy) and compares. A version pushed from a
  file store keeps that store's ``regctl.content_digest`` tag, which also counts.
* ``resolve`` prints a local path when the version's files are on this machine (a
  ``file:`` location that exists here, or a proxied one under
  ``REGCTL_ARTIFACTS_DESTINATION``, the server's ``--artifacts-destination`` as
  mounted here), else the server's download URI (``mlflow-artifacts:/...``).
* ``alias set --expect`` reads the alias, then moves it: the REST API has no
  compare-and-set, so another client can move it between the two requests.
* Soft-deleted versions are invisible through the REST API, so ``versions --all``
  lists the same versions as ``versions``.
* ``search`` is run by the server (``model-versions/search`` with the filter and
  order as written, once regctl has checked them): its answer, whatever its database.
* A dry run (``dry_run``) sends every read a real run sends, checks what the server
  would check (the model, the version, a free new name), and sends no request that
  changes anything. The version number a dry-run ``register`` shows is the one after
  the highest version the API lists; the server counts deleted versions too, so a
  real run may get a higher one.
* ``history`` and ``alias rollback`` use a journal of the changes regctl made,
  kept on this machine: ``$XDG_STATE_HOME/regctl/servers/<host>-<port>-<hash>.jsonl``
  (``~/.local/state/...`` by default). Changes made elsewhere are not in it.
* ``storage_location`` is the server's download URI in ``describe --version``,
  ``register`` and ``resolve``; listings leave it null (it costs a request per
  version). ``model_id`` is read from a ``models:/m-...`` source (the REST API
  does not return it).
"""

import json
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

from regctl import uris
from regctl.derived import DerivedOperations
from regctl.errors import Conflict, IntegrityError, InvalidInput, NotFound, StoreError
from regctl.names import DELETED_STAGE, canonical_stage, show, validate_artifact_path
from regctl.prompts import PROMPT_TAG
from regctl.remote import is_server, server_url  # noqa: F401  (re-exported)
from regctl.restanswers import (
    ARTIFACT_LIST,
    LOGGED_MODEL,
    MANIFEST,
    MODEL_VERSION,
    REGISTERED_MODEL,
    RUN,
    TEXT,
    Required,
    Unreadable,
    answer,
    page,
    read,
)
from regctl.results import (
    AliasChange,
    Deletion,
    DescriptionChange,
    DoctorReport,
    HistoryRecord,
    Lineage,
    Listing,
    ModelVersion,
    RegisteredModel,
    Rename,
    StageChange,
    TagChange,
    Verification,
)

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
MANIFEST_SUFFIX = ".regctl-manifest.json"
DIGEST_TAG = "regctl.content_digest"
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

class RestBackend(DerivedOperations):
    """An MLflow tracking server at ``url``."""

    def exists(self) -> bool:
        return True  # a server is there or unreachable, and every request says which

    def __init__(self, url: str, environ: Mapping[str, str] = os.environ,
                 notify: Optional[Callable[[str], None]] = None, *, dry_run: bool = False):
        from regctl.restclient import Transport

        self.environ = environ
        self.dry_run = dry_run  # reads and checks only; no request that changes the server
        self.http = Transport(url, environ, notify)
        self.location = self.http.url

    # ----------------------------------------------------------- raw calls

    def call(self, method: str, endpoint: str, body: Optional[dict] = None, *, api: str = API,
             shape: Optional[dict] = None) -> dict:
        """One REST call; its JSON answer, an object of ``shape`` (``restanswers``), or the typed error."""
        from regctl.restclient import http_error

        path = api + endpoint
        if method == "GET":
            response = self.http.request("GET", path, params=body)
        else:
            response = self.http.request(method, path, json_body=body or {})
        if not 200 <= response.status < 300:
            raise http_error(response, self.location, method, path)
        try:
            return read(response.body, shape or {})
        except Unreadable as exc:
            raise StoreError(f"the server at {self.location} answered {method} {path} with {exc}") from None

    def change(self, method: str, endpoint: str, body: Optional[dict] = None) -> Optional[dict]:
        """A call that changes the server: sent, or in a dry run not sent (None)."""
        return None if self.dry_run else self.call(method, endpoint, body)

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

    # -------------------------------------------------------- model lookups

    def _model(self, name: str) -> dict:
        try:
            return self.call("GET", "/registered-models/get", {"name": name},
                             shape=answer("registered_model", REGISTERED_MODEL))["registered_model"]
        except NotFound:
            raise NotFound(f"registered model {show(name)} not found") from None

    def _version(self, name: str, version: int) -> dict:
        try:
            data = self.call("GET", "/model-versions/get", {"name": name, "version": str(version)},
                             shape=answer("model_version", MODEL_VERSION))["model_version"]
        except NotFound as exc:
            raise self._version_not_found(name, version, exc) from None
        if data.get("current_stage") == DELETED_STAGE:
            raise NotFound(f"version {version} of model {show(name)} not found")
        return data

    def _version_not_found(self, name: str, version: int, exc: NotFound) -> NotFound:
        if "Registered Model" in exc.message and "Model Version" not in exc.message:
            return NotFound(f"registered model {show(name)} not found")
        try:
            self._model(name)
        except NotFound as missing:
            return missing
        return NotFound(f"version {version} of model {show(name)} not found")

    def _alias_version(self, name: str, alias: str) -> dict:
        """The version an alias points at, as the server answers (NotFound or InvalidInput if none)."""
        return self.call("GET", "/registered-models/alias", {"name": name, "alias": alias},
                         shape=answer("model_version", MODEL_VERSION))["model_version"]

    def _alias_target(self, name: str, alias: str) -> dict:
        try:
            return self._alias_version(name, alias)
        except (NotFound, InvalidInput):  # the SQL store answers a missing alias with INVALID_PARAMETER_VALUE
            self._model(name)  # NotFound for a missing model first
            raise NotFound(f"alias {show(alias)} of model {show(name)} not found") from None

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
        for prompts in ("", f" AND {PROMPTS_FILTER}"):
            params = {"filter": f"name={_quoted(name)}{prompts}", "order_by": "version_number DESC",
                      "max_results": min(VERSION_PAGE, limit or VERSION_PAGE)}
            found = [v for v in self._pages("/model-versions/search", params, "model_versions", MODEL_VERSION, limit)
                     if v.get("name") == name and v.get("current_stage") != DELETED_STAGE]
            if found:
                break
        found.sort(key=lambda v: -int(v["version"]))
        return found

    def _find(self, ref) -> dict:
        """The live version a ``models:/<name>...`` reference designates."""
        from regctl.names import validate_alias, validate_lookup_name

        name = validate_lookup_name(ref.name)
        if isinstance(ref, uris.VersionRef):
            return self._version(name, ref.version)
        if isinstance(ref, uris.AliasRef):
            validate_alias(ref.alias, allow_reserved=True)
            return self._alias_target(name, ref.alias)
        stage = None if isinstance(ref, uris.LatestRef) else canonical_stage(ref.stage)
        candidates = [v for v in self._model(name).get("latest_versions") or ()
                      if v.get("current_stage") != DELETED_STAGE and (stage is None or v.get("current_stage") == stage)]
        if not candidates:
            in_stage = f" in stage {stage}" if stage else ""
            raise NotFound(f"no versions of model {show(name)}{in_stage} found")
        best = max(candidates, key=lambda v: int(v["version"]))
        return self._version(name, int(best["version"]))  # with its tags

    def _download_uri(self, name: str, version: int) -> Optional[str]:
        return self.call("GET", "/model-versions/get-download-uri", {"name": name, "version": str(version)},
                         shape={"artifact_uri": TEXT}).get("artifact_uri") or None

    # ---------------------------------------------------------------- reads

    def models(self, *, include_prompts: bool = False) -> Listing:
        # MLflow's SQL store returns prompts only to a search that asks for them
        found = {}
        for search in ({}, {"filter": PROMPTS_FILTER}) if include_prompts else ({},):
            for data in self._pages("/registered-models/search", dict(search, max_results=MODEL_PAGE),
                                    "registered_models", REGISTERED_MODEL):
                model = model_of(data)
                if include_prompts or model.tags.get(PROMPT_TAG, "").lower() != "true":
                    found[model.name] = model
        return Listing(tuple(found[name] for name in sorted(found)))

    def search_versions(self, search, max_results, progress=None) -> Listing:
        """The server's own answer to the search (MLflow's SQL store, whatever its database), with aliases."""
        found = self._searched("/model-versions/search", "model_versions", MODEL_VERSION, search, VERSION_PAGE)
        aliases: dict = {}
        for data in found[:max_results]:
            if data["name"] not in aliases:
                aliases[data["name"]] = aliases_of(self._model(data["name"]))
        return Listing(tuple(version_of(d, aliases[d["name"]]) for d in found[:max_results]),
                       more=max(0, len(found) - max_results))

    def search_models(self, search, max_results, progress=None) -> Listing:
        found = self._searched("/registered-models/search", "registered_models", REGISTERED_MODEL, search,
                               MODEL_PAGE)
        return Listing(tuple(model_of(d) for d in found[:max_results]), more=max(0, len(found) - max_results))

    def _searched(self, endpoint: str, key: str, item: dict, search, page_size: int) -> list:
        """Every match of a search the server runs itself: the filter and order as the user wrote them
        (regctl has checked them first), so that the answer is the server's, to the letter."""
        params: dict = {"max_results": page_size}
        if search.text:
            params["filter"] = search.text
        if search.order_by:
            params["order_by"] = list(search.order_by)
        return list(self._pages(endpoint, params, key, item))

    def versions(self, name, *, include_deleted=False, limit=None) -> Listing:
        aliases = aliases_of(self._model(name))
        return Listing(tuple(version_of(v, aliases) for v in self._search_versions(name, limit)))

    def get_model(self, name) -> RegisteredModel:
        data = self._model(name)
        aliases = aliases_of(data)
        latest_by_stage: dict = {}
        live = self._search_versions(name)
        for version in live:
            latest_by_stage.setdefault(version.get("current_stage") or "None", version)
        latest = tuple(version_of(v, aliases) for v in latest_by_stage.values())
        return model_of(data, latest_versions=latest, version_count=len(live))

    def get_version(self, name, version=None, alias=None) -> ModelVersion:
        ref = uris.AliasRef(name, alias) if alias is not None else uris.VersionRef(name, version)
        data = self._find(ref)
        number = int(data["version"])
        aliases = aliases_of(self._model(name))
        location = self._download_uri(name, number)
        run_id = data.get("run_id") or None
        experiment_id = run_name = None
        if run_id:
            try:
                info = self.call("GET", "/runs/get", {"run_id": run_id}, shape=RUN)["run"]["info"]
                experiment_id, run_name = info.get("experiment_id"), info.get("run_name") or None
            except (NotFound, InvalidInput):
                pass
        path = self._local_path(location) if location else None
        lineage = Lineage(run_id=run_id, experiment_id=experiment_id, run_name=run_name,
                          model_id=data.get("model_id") or model_id_of(data.get("source")),
                          artifact_path=str(path) if path is not None else location)
        return version_of(data, aliases, storage_location=location, lineage=lineage)

    def aliases(self, name):
        return aliases_of(self._model(name))

    def resolve(self, uri, _depth: int = 0):
        from regctl.resolution import MAX_DEPTH, Resolution, too_deep

        ref = uris.parse_uri(uri)
        if isinstance(ref, uris.PathRef):
            from regctl.locations import exists, location_to_path

            path = location_to_path(uri)
            if not exists(path):
                raise NotFound(f"artifacts of {show(uri)} not found at {path}")
            return Resolution(uri, uri, path)
        if isinstance(ref, uris.RunRef):
            location, model_id = self._run_location(ref)
            return Resolution(uri, location, self._where(location), model_id=model_id, run_id=ref.run_id)
        if isinstance(ref, uris.LoggedModelRef):
            info = self._logged_model(ref.model_id)
            location = info.get("artifact_uri") or ""
            return Resolution(uri, location, self._where(location), model_id=ref.model_id,
                              run_id=info.get("source_run_id") or None)
        data = self._find(ref)
        number = int(data["version"])
        location = self._download_uri(ref.name, number) or data.get("source") or ""
        path = self._where(location)
        if uris.scheme_of(location) in ("runs", "models"):  # a version made from runs:/...: MLflow follows it
            if _depth >= MAX_DEPTH:
                raise too_deep(location)
            inner = self.resolve(location, _depth + 1)
            location, path = inner.location, inner.path
        return Resolution(uri, location, path, ref.name, number,
                          data.get("model_id") or model_id_of(data.get("source")), data.get("run_id") or None)

    def _where(self, location: str):
        """The local path of a location when its files are on this machine, else the location itself."""
        path = self._local_path(location)
        return path if path is not None else location

    def _local_path(self, location: str) -> Optional[Path]:
        from regctl.locations import exists, location_to_path

        scheme = uris.scheme_of(location)
        if scheme in (None, "file"):
            try:
                path = location_to_path(location)
            except InvalidInput:
                return None
            return path if exists(path) else None
        proxied = self._proxy_path(location)
        destination = self.environ.get("REGCTL_ARTIFACTS_DESTINATION")
        if proxied is not None and destination:
            path = location_to_path(destination) / proxied
            return path if exists(path) else None
        return None

    def _proxy_path(self, location: str) -> Optional[str]:
        """The path under the server's artifact proxy of an ``mlflow-artifacts:`` (or proxy URL) location."""
        from urllib.parse import unquote, urlsplit

        scheme = uris.scheme_of(location)
        if scheme == "mlflow-artifacts":
            parts = urlsplit(location)
            return unquote(parts.path).strip("/")
        if scheme in ("http", "https"):
            parts = urlsplit(location)
            marker = parts.path.find(ARTIFACTS)
            if marker >= 0:
                return unquote(parts.path[marker + len(ARTIFACTS):]).strip("/")
        return None

    def _logged_model(self, model_id: str) -> dict:
        from regctl.names import validate_logged_model_id

        validate_logged_model_id(model_id)
        try:
            return self.call("GET", f"/logged-models/{model_id}", shape=LOGGED_MODEL)["model"]["info"]
        except NotFound:
            raise NotFound(f"logged model {show(model_id)} not found") from None

    def _run(self, run_id: str) -> dict:
        from regctl.names import validate_run_id

        validate_run_id(run_id)
        try:
            return self.call("GET", "/runs/get", {"run_id": run_id}, shape=RUN)["run"]
        except (NotFound, InvalidInput):
            raise NotFound(f"run {show(run_id)} not found") from None

    def _run_location(self, ref: uris.RunRef, *, registering: bool = False) -> "tuple[str, Optional[str]]":
        """(location, logged model id) of ``runs:/<id>/<path>``: the run's artifacts, else (MLflow 3)
        its logged model called ``path``."""
        run = self._run(ref.run_id)
        path = validate_artifact_path(ref.path)
        root = (run["info"].get("artifact_uri") or "").rstrip("/")
        location = f"{root}/{path}" if path else root
        if not path:
            return location, None
        proxied = self._proxy_path(location)
        listing = self._list(proxied) if proxied is not None else None  # None: cannot look inside
        names = {entry["path"].rsplit("/", 1)[-1] for entry in listing or ()}
        if listing and (not registering or "MLmodel" in names):
            return location, None
        first = path if registering else path.split("/")[0]
        models = []
        for output in (run.get("outputs") or {}).get("model_outputs") or ():
            try:
                info = self._logged_model(output["model_id"])
            except (NotFound, InvalidInput):
                continue
            if info.get("name") == first:
                models.append((_int(output.get("step")) or 0, _int(info.get("creation_timestamp_ms")) or 0, info))
        if not models:
            if listing is None:  # artifacts the proxy does not serve: the location as MLflow records it
                return location, None
            if registering:
                raise NotFound(f"source {show(f'runs:/{ref.run_id}/{path}')} not found: "
                               f"the run has no {path}/MLmodel and no logged model named {show(path)}")
            raise NotFound(f"artifacts of {show(f'runs:/{ref.run_id}/{path}')} not found at {location}")
        if registering:  # MLflow registers the one logged at the highest step
            info = max(models, key=lambda m: (m[0], m[1]))[2]
            return info.get("artifact_uri") or "", info["model_id"]
        info = max(models, key=lambda m: m[1])[2]  # MLflow downloads the newest
        rest = path.split("/", 1)[1] if "/" in path else ""
        base = (info.get("artifact_uri") or "").rstrip("/")
        return (f"{base}/{rest}" if rest else base), info["model_id"]

    # --------------------------------------------------------- artifacts

    def _list(self, path: str) -> list:
        """Entries (``path``, ``is_dir``, ``file_size``) directly under ``path`` in the artifact proxy."""
        return self.call("GET", "", {"path": path}, api=ARTIFACTS, shape=ARTIFACT_LIST).get("files") or []

    def _walk(self, path: str) -> list:
        """Every file under ``path`` as relative paths, depth first."""
        found, pending = [], [""]
        while pending:
            relative = pending.pop()
            for entry in self._list(f"{path}/{relative}".rstrip("/") if relative else path):
                name = entry["path"].rsplit("/", 1)[-1]
                child = f"{relative}/{name}" if relative else name
                if name in ("", ".", ".."):
                    continue
                validate_artifact_path(child)
                if entry.get("is_dir"):
                    pending.append(child)
                else:
                    found.append(child)
        return sorted(found)

    def _fetch(self, path: str, sink) -> None:
        from regctl.restclient import http_error, quote_path

        target = f"{ARTIFACTS}/{quote_path(path)}"
        response = self.http.request("GET", target, sink=sink)
        if not 200 <= response.status < 300:
            error = http_error(response, self.location, "GET", target)
            if response.status in (404, 400) or isinstance(error, NotFound):
                raise NotFound(f"artifact {show(path)} not found on {self.location}")
            raise error

    def artifact_bytes(self, resolution, relative):
        """A file of a version's artifacts: read here when they are on this machine, else through the proxy."""
        import io

        if isinstance(resolution.path, Path):
            from regctl import common

            return common.local_artifact(resolution, relative)
        proxied = self._proxy_path(resolution.location)
        if proxied is None:
            return None
        sink = io.BytesIO()
        try:
            self._fetch(f"{proxied}/{relative}", sink.write)
        except NotFound:
            return None
        return sink.getvalue()

    def _put(self, path: str, local: Optional[str] = None, data: Optional[bytes] = None) -> None:
        """Upload one file (``local``) or bytes (``data``) to ``path`` in the artifact proxy."""
        from regctl.restclient import http_error, quote_path

        target = f"{ARTIFACTS}/{quote_path(path)}"
        headers = {"Content-Type": "application/octet-stream"}
        response = self.http.request("PUT", target, file_path=local, data=data, headers=headers)
        if not 200 <= response.status < 300:
            raise http_error(response, self.location, "PUT", target)

    def _proxied_or_fail(self, location: str, what: str) -> str:
        proxied = self._proxy_path(location)
        if proxied is None:
            raise StoreError(f"cannot {what} {show(location)}: only files behind the server's artifact proxy "
                             "(mlflow-artifacts:) can be reached through the server")
        return proxied

    def remote_manifest(self, location: str) -> dict:
        """``{relative path: sha256}`` of the files at ``location``, read where they are."""
        from regctl import digest

        local = self._local_path(location)
        if local is not None:
            return digest.manifest(local)
        proxied = self._proxied_or_fail(location, "read the artifacts at")
        files = self._walk(proxied)
        if not files:
            raise NotFound(f"no artifacts at {location}")
        entries = {}
        import hashlib

        for relative in files:
            hasher = hashlib.sha256()
            self._fetch(f"{proxied}/{relative}", hasher.update)
            entries[relative] = hasher.hexdigest()
        return entries

    def describe_difference(self, name, version, recorded, current, actual) -> str:
        """Which files differ, as far as the manifest beside the version's files tells."""
        from regctl import digest

        location = self._download_uri(name, version) or ""
        manifest = self._recorded_manifest(location) if location else None
        return digest.name_differences(manifest["files"] if manifest else None, recorded, current, actual)

    def fetch_files(self, uri: str, dest: Path) -> "tuple[str, int]":
        """Copy the files ``uri`` points at into ``dest`` (created); ``(location, number of files)``."""
        resolution = self.resolve(uri)
        location = resolution.location
        local = self._local_path(location)
        if local is not None:
            from regctl.transfer import copy_tree

            return location, copy_tree(local, dest)
        proxied = self._proxied_or_fail(location, "download")
        files = self._walk(proxied)
        if not files:
            raise NotFound(f"no artifacts at {location}")
        from regctl.transfer import write_stream

        for relative in files:
            with write_stream(dest / relative) as sink:
                self._fetch(f"{proxied}/{relative}", sink)
        return location, len(files)

    def _recorded_manifest(self, location: str) -> Optional[dict]:
        """The manifest regctl recorded beside the files at ``location``; None if none can be read."""
        proxied = self._proxy_path(location)
        chunks: list = []
        try:
            if proxied is not None:
                self._fetch(proxied + MANIFEST_SUFFIX, chunks.append)
            else:
                local = self._local_path(location)
                if local is None:
                    return None
                chunks.append(Path(str(local) + MANIFEST_SUFFIX).read_bytes())
            return read(b"".join(chunks), MANIFEST)
        except (NotFound, OSError, Unreadable):
            return None

    def _record_manifest(self, location: str, entries: dict) -> None:
        """Upload the manifest beside the files, unless one is there already (the first registration's wins)."""
        from regctl import digest

        proxied = self._proxy_path(location)
        if proxied is None or self._recorded_manifest(location) is not None:
            return
        data = {"algorithm": digest.ALGORITHM, "digest": digest.digest_of(entries),
                "files": dict(sorted(entries.items()))}
        text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        self._put(proxied + MANIFEST_SUFFIX, data=text.encode("utf-8", "surrogateescape"))

    def recorded_digest(self, name: str, version: int) -> Optional[str]:
        """The digest regctl recorded for a version: its manifest beside the files, else its digest tag."""
        data = self._version(name, version)
        location = self._download_uri(name, version) or ""
        manifest = self._recorded_manifest(location) if location else None
        if manifest is not None and isinstance(manifest.get("digest"), str):
            return manifest["digest"]
        return _tags(data.get("tags")).get(DIGEST_TAG)

    def verify(self, uri) -> Verification:
        from regctl import digest

        resolution = self.resolve(uri)
        if resolution.version is None:
            raise InvalidInput(f"cannot verify {show(uri)}: only models:/ URIs of registered versions have a digest")
        name, number = resolution.name, resolution.version
        manifest = self._recorded_manifest(resolution.location)
        recorded = manifest.get("digest") if manifest else None
        if not isinstance(recorded, str):
            recorded = _tags(self._version(name, number).get("tags")).get(DIGEST_TAG)
        if recorded is None:
            raise NotFound(f"version {number} of model {show(name)} has no digest recorded by regctl "
                           f"(no {MANIFEST_SUFFIX} beside its files, no {DIGEST_TAG} tag); nothing to verify")
        current = self.remote_manifest(resolution.location)
        actual = digest.digest_of(current)
        if actual != recorded:
            detail = digest.name_differences(manifest["files"] if manifest else None, recorded, current, actual)
            raise IntegrityError(f"artifacts of {show(uri)} at {resolution.path} differ from what was registered: {detail}")
        return Verification(uri=uri, name=name, version=number, path=str(resolution.path), digest=actual,
                            files=len(current))

    # -------------------------------------------------------------- journal

    def journal_path(self) -> Path:
        import hashlib

        base = self.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        key = hashlib.sha256(self.location.encode("utf-8")).hexdigest()[:16]
        host = "".join(c if c.isalnum() or c in "-." else "_" for c in f"{self.http.host}-{self.http.port}")
        return Path(base) / "regctl" / "servers" / f"{host}-{key}.jsonl"

    def _record(self, operation: str, model, target, old, new) -> None:
        from regctl import journal

        if self.dry_run:
            return
        path = self.journal_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # said by append_after
        # the change is made on the server; a journal that cannot be written must not hide that
        journal.append_after(path, journal.change_record(operation, model, target, old, new, server=self.location))

    def history(self, name=None, alias=None):
        from regctl import journal

        return tuple(HistoryRecord.from_record(r) for r in journal.history(self.journal_path(), name, alias)
                     if r.get("server") == self.location)

    # --------------------------------------------------------------- doctor

    def doctor(self, *, fix=False) -> DoctorReport:
        problems, notes = [], []
        models = self.models(include_prompts=True)
        for model in models:
            for version in self._search_versions(model.name):
                status = version.get("status") or "READY"
                if status != "READY":
                    problems.append({"kind": "version-not-ready", "model": model.name,
                                     "path": f"models:/{model.name}/{version['version']}",
                                     "message": f"status {status}: {version.get('status_message') or ''}".rstrip(": "),
                                     "fixable": False})
        notes.append("a server store is checked through its REST API: versions that are not READY; "
                     "the server keeps its own database consistent, and has nothing for --fix to repair")
        return DoctorReport(store=self.location, problems=tuple(problems), notes=tuple(notes))

    # ---------------------------------------------------------------- writes

    def _ensure_model(self, name: str) -> bool:
        """Create the model if missing; True when this call created it."""
        try:
            self.call("POST", "/registered-models/create", {"name": name})
        except Conflict:
            return False
        self._record("model.create", name, None, None, name)
        return True

    def _experiment_id(self) -> str:
        """Where uploaded models go: ``MLFLOW_EXPERIMENT_ID``, else ``MLFLOW_EXPERIMENT_NAME`` (created if
        missing), else the Default experiment, as MLflow's fluent API chooses."""
        if self.environ.get("MLFLOW_EXPERIMENT_ID"):
            return self.environ["MLFLOW_EXPERIMENT_ID"]
        name = self.environ.get("MLFLOW_EXPERIMENT_NAME")
        if not name:
            return "0"
        try:
            return self._experiment_by_name(name)
        except NotFound:
            pass
        try:
            return self.call("POST", "/experiments/create", {"name": name},
                             shape={"experiment_id": Required(TEXT)})["experiment_id"]
        except Conflict:
            return self._experiment_by_name(name)

    def _experiment_by_name(self, name: str) -> str:
        return self.call("GET", "/experiments/get-by-name", {"experiment_name": name},
                         shape=answer("experiment", {"experiment_id": Required(TEXT)}))["experiment"]["experiment_id"]

    def upload_model(self, local: Path, name: str = "model") -> "tuple[str, str, dict]":
        """Upload a local directory as a new logged model; ``(source, model id, manifest)``."""
        from regctl import digest

        entries = digest.manifest(local)
        if not entries:
            raise NotFound(f"source {local} holds no files")
        experiment_id = self._experiment_id()
        info = self.call("POST", "/logged-models", {"experiment_id": experiment_id, "name": name},
                         shape=LOGGED_MODEL)["model"]["info"]
        model_id, location = info["model_id"], info.get("artifact_uri") or ""
        try:
            proxied = self._proxied_or_fail(location, "upload to")
            for relative in sorted(entries):
                path = local / relative if local.is_dir() else local
                if path.is_symlink() or not path.is_file():
                    continue
                self._put(f"{proxied}/{relative}", local=str(path))
            self._record_manifest(location, entries)
            self.call("PATCH", f"/logged-models/{model_id}", {"model_id": model_id, "status": "LOGGED_MODEL_READY"})
        except BaseException:
            try:
                self.call("PATCH", f"/logged-models/{model_id}",
                          {"model_id": model_id, "status": "LOGGED_MODEL_UPLOAD_FAILED"})
            except Exception:
                pass
            raise
        return f"models:/{model_id}", model_id, entries

    def _registration_source(self, source: str, tags: dict) -> dict:
        """What to send to ``model-versions/create`` for ``source``, uploading local files first."""
        ref = uris.parse_uri(source)
        if isinstance(ref, uris.PathRef):
            from regctl.locations import location_to_path

            path = location_to_path(source)
            if not path.is_dir():
                raise NotFound(f"source {show(source)} not found: {path} is not a directory")
            return {"upload": path}
        if isinstance(ref, uris.RunRef):
            location, model_id = self._run_location(ref, registering=True)
            if model_id:
                return {"source": f"models:/{model_id}", "model_id": model_id, "run_id": ref.run_id,
                        "location": location}
            return {"source": location, "run_id": ref.run_id, "location": location}
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
                origin["source"], origin["model_id"], entries = self.upload_model(origin["upload"])
                origin["run_id"] = None
            else:
                entries = None
                location = origin.get("location")
                if location and self._proxy_path(location) is not None or location and self._local_path(location):
                    try:
                        entries = self.remote_manifest(location)
                    except NotFound:
                        entries = None
                    if entries:
                        self._record_manifest(location, entries)
            all_tags = dict(tags)
            body = {"name": name, "source": origin["source"],
                    "tags": [{"key": k, "value": v} for k, v in all_tags.items()]}
            for key, value in (("description", description), ("run_link", run_link)):
                if value is not None:
                    body[key] = value
            for key in ("run_id", "model_id"):
                if origin.get(key):
                    body[key] = origin[key]
            data = self.call("POST", "/model-versions/create", body,
                             shape=answer("model_version", MODEL_VERSION))["model_version"]
        except BaseException:
            if created:
                try:
                    self.call("DELETE", "/registered-models/delete", {"name": name})
                except Exception:
                    pass
            raise
        number = int(data["version"])
        self._record("version.create", name, number, None, origin["source"])
        data = self._await_ready(name, number, data)
        for alias in aliases:
            self.set_alias(name, alias, number, expect=None, expect_given=False)
        model = self._model(name)
        return version_of(data, aliases_of(model), storage_location=self._download_uri(name, number))

    def _planned_version(self, origin: dict, name: str, description, tags: dict, aliases) -> ModelVersion:
        """The version a registration would create, found by reads only."""
        if "upload" in origin:
            from regctl import digest

            if not digest.manifest(origin["upload"]):
                raise NotFound(f"source {origin['upload']} holds no files")
            origin["source"] = str(origin["upload"])
        try:
            current = aliases_of(self._model(name))
            versions = self._search_versions(name, limit=1)
        except NotFound:
            current, versions = {}, []
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
            data = self._version(name, number)
        if data.get("status") == "FAILED_REGISTRATION":
            raise StoreError(f"the server failed to register version {number} of model {show(name)}: "
                             f"{data.get('status_message') or 'no reason given'}")
        return data

    def set_alias(self, name, alias, version, *, expect, expect_given) -> AliasChange:
        # Two requests: read the alias, move it. The server checks that the model and the
        # version exist (and are not deleted) when it moves the alias.
        try:
            old = int(self._alias_version(name, alias)["version"])
        except (NotFound, InvalidInput):  # no such alias (or model: the move below says which)
            old = None
        if expect_given and old != expect:
            self._version(name, version)  # a missing model or version first, as in a file store
            raise Conflict(f"alias {show(alias)} of {show(name)} points at {old or 'nothing'}, "
                           f"expected {expect if expect is not None else 'none'}; not changed")
        if old == version:
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
            raise NotFound(f"alias {show(alias)} of model {show(name)} not found")
        self.change("DELETE", "/registered-models/alias", {"name": name, "alias": alias})
        self._record("alias.delete", name, alias, str(old), None)
        return AliasChange(name, alias, old, None, True)

    def rollback_alias(self, name, alias) -> AliasChange:
        moves = self.history(name, alias)
        if not moves:
            raise NotFound(f"no recorded change of alias {show(alias)} of {show(name)} to roll back "
                           f"(the journal on this machine: {self.journal_path()})")
        last = moves[0]
        current = self._read_alias(name, alias)
        if _int(last.new) != current:
            raise Conflict(f"alias {show(alias)} of {show(name)} was changed outside regctl; not rolled back")
        previous = _int(last.old)
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
            self.change("DELETE", "/registered-models/delete-tag", {"name": name, "key": key})
        else:
            self.change("DELETE", "/model-versions/delete-tag", {"name": name, "version": str(version), "key": key})

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
            where = f"version {version} of " if version else ""
            raise NotFound(f"tag {show(missing[0])} of {where}model {show(name)} not found")
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
        taken = Conflict(f"registered model {show(new)} already exists")
        if self.dry_run:
            try:
                self._model(new)
            except NotFound:
                pass
            else:
                raise taken
        try:
            self.change("POST", "/registered-models/rename", {"name": old, "new_name": new})
        except Conflict:
            raise taken from None
        self._record("model.rename", new, None, old, new)
        return Rename(old, new)

    def delete_model(self, name) -> Deletion:
        self._model(name)
        count = len(self._search_versions(name))
        self.change("DELETE", "/registered-models/delete", {"name": name})
        self._record("model.delete", name, None, f"{count} versions", None)
        return Deletion(name)

    def delete_version(self, name, version) -> Deletion:
        data = self._version(name, version)
        aliases = [a for a, v in aliases_of(self._model(name)).items() if v == version]
        self.change("DELETE", "/model-versions/delete", {"name": name, "version": str(version)})
        self._record("version.delete", name, f"version-{version}", data.get("current_stage") or "None", DELETED_STAGE)
        for alias in aliases:
            self._record("alias.delete", name, alias, str(version), None)
        return Deletion(name, version, tuple(aliases))
