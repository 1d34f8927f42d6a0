"""Reading a server's registry: listings, searches, one model or version, aliases, history, resolve."""


import os
from pathlib import Path
from typing import Optional

from regctl.backends.rest.answers import (
    LOGGED_MODEL,
    MODEL_VERSION,
    REGISTERED_MODEL,
    RUN,
)
from regctl.backends.rest.connection import (
    ARTIFACTS,
    MODEL_PAGE,
    OPERATION_TAG,
    PROMPTS_FILTER,
    VERSION_PAGE,
    RestConnection,
    _int,
    _tags,
    aliases_of,
    model_id_of,
    model_of,
    version_of,
)
from regctl.core import uris
from regctl.core.errors import InvalidInput, NotFound, StoreError
from regctl.core.names import show, validate_artifact_path
from regctl.core.prompts import PROMPT_TAG
from regctl.core.results import (
    DoctorReport,
    HistoryRecord,
    Lineage,
    Listing,
    ModelVersion,
    RegisteredModel,
)
from regctl.core.rules import artifacts_missing, logged_model_not_found, run_not_found


class RestReads(RestConnection):
    """Reading a server's registry: listings, searches, one model or version, aliases, history, resolve."""

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
        aliases = self._aliases_of_models(list(dict.fromkeys(d["name"] for d in found[:max_results])))
        return Listing(tuple(version_of(d, aliases[d["name"]]) for d in found[:max_results]),
                       more=max(0, len(found) - max_results))

    def _aliases_of_models(self, names: list) -> dict:
        """``{name: aliases}`` of these models. A page of registered-models/search (1,000 models, with
        their aliases) costs the server about as much as 100 registered-models/get: with hundreds of
        models, their aliases come from up to one page per hundred of them, stopping once all are
        found; what the pages did not have (prompts, models past the last page read) one get each."""
        found: dict = {}
        wanted = set(names)
        budget = len(wanted) // 100 * MODEL_PAGE  # models read, at most
        for seen, data in enumerate(self._pages("/registered-models/search", {"max_results": MODEL_PAGE},
                                                "registered_models", REGISTERED_MODEL) if budget else (), 1):
            if data["name"] in wanted:
                found[data["name"]] = aliases_of(data)
                if len(found) == len(wanted):
                    break
            if seen >= budget:
                break
        for name in names:
            if name not in found:
                found[name] = aliases_of(self._model_data(name))  # a prompt's too: the filter asked for it
        return found

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

    def versions(self, name, *, include_deleted=False, limit=None, include_prompts=False) -> Listing:
        aliases = aliases_of(self._model_data(name) if include_prompts else self._model(name))
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
        from regctl.core.resolution import MAX_DEPTH, Resolution, too_deep

        ref = uris.parse_uri(uri)
        if isinstance(ref, uris.PathRef):
            from regctl.core.locations import exists, location_to_path

            path = location_to_path(uri)
            if not exists(path):
                raise artifacts_missing(uri, path)
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
        """Where a location the server named is on this machine, if the user said so.

        A server's answers name places on the server. Only under REGCTL_ARTIFACTS_DESTINATION, the
        server's artifact store as mounted here by the user's own choice, is one read as a local
        path: a ``file:`` location anywhere else (a compromised server naming ``file:///home/me/.ssh``)
        is never read, and files go through the artifact proxy or not at all.
        """
        from regctl.core.locations import exists, inside, location_to_path

        destination = self.environ.get("REGCTL_ARTIFACTS_DESTINATION")
        if not destination:
            return None
        root = location_to_path(destination)
        scheme = uris.scheme_of(location)
        if scheme in (None, "file"):
            try:
                path = location_to_path(location)
                inside(path, os.path.realpath(root))
            except (InvalidInput, StoreError):
                return None
            return path if exists(path) else None
        proxied = self._proxy_path(location)
        if proxied is not None:
            path = root / proxied
            try:
                inside(path, os.path.realpath(root))
            except StoreError:
                return None
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
        from regctl.core.names import validate_logged_model_id

        validate_logged_model_id(model_id)
        try:
            return self.call("GET", f"/logged-models/{model_id}", shape=LOGGED_MODEL)["model"]["info"]
        except NotFound:
            raise logged_model_not_found(model_id) from None

    def _run(self, run_id: str) -> dict:
        from regctl.core.names import validate_run_id

        validate_run_id(run_id)
        try:
            return self.call("GET", "/runs/get", {"run_id": run_id}, shape=RUN)["run"]
        except (NotFound, InvalidInput):
            raise run_not_found(run_id) from None

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
        if not registering and proxied is not None and listing == [] and self._is_file(proxied):  # one file: MLflow downloads it
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

    def history(self, name=None, alias=None):
        from regctl.core import journal

        return tuple(HistoryRecord.from_record(r) for r in journal.history(self.journal_path(), name, alias)
                     if r.get("server") == self.location)

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
                if OPERATION_TAG in _tags(version.get("tags")):
                    problems.append({"kind": "operation-id-left", "model": model.name,
                                     "path": f"models:/{model.name}/{version['version']}",
                                     "message": f"tag {OPERATION_TAG} left by a register that ended before removing it "
                                                f"(or is still running); remove it with: regctl tag {model.name} "
                                                f"--version {version['version']} --delete {OPERATION_TAG}",
                                     "fixable": False})
        notes.append("a server store is checked through its REST API: versions that are not READY; "
                     "the server keeps its own database consistent, and has nothing for --fix to repair")
        return DoctorReport(store=self.location, problems=tuple(problems), notes=tuple(notes))
