"""Files through the server's artifact proxy: listing, download, upload, manifests and verify."""


import json
from pathlib import Path
from typing import Optional

from regctl.backends.rest.answers import (
    LOGGED_MODEL,
    MANIFEST,
    TEXT,
    Required,
    Unreadable,
    answer,
    read,
)
from regctl.backends.rest.connection import ARTIFACTS, DIGEST_TAG, MANIFEST_SUFFIX, _tags
from regctl.backends.rest.reads import RestReads
from regctl.core.errors import Conflict, IntegrityError, InvalidInput, NotFound, StoreError
from regctl.core.locations import is_remote
from regctl.core.names import show, validate_artifact_path
from regctl.core.results import (
    Verification,
)
from regctl.core.rules import no_digest, remote_artifacts

MAX_WALK_DEPTH = 64  # directories below a version's artifact root
MAX_WALK_ENTRIES = 100_000  # files and directories of one version
MAX_WALK_LISTINGS = 10_000  # listing requests for one version


class RestArtifacts(RestReads):
    """Files through the server's artifact proxy: listing, download, upload, manifests and verify."""

    def _walk(self, path: str) -> list:
        """Every file under ``path`` as relative paths, depth first.

        Bounded as the endless-paging guard is: a listing deeper than MAX_WALK_DEPTH directories,
        with more than MAX_WALK_ENTRIES entries or needing more than MAX_WALK_LISTINGS requests is
        a server answering without end, one line and exit 4, never a walk that does not stop.
        """
        found, pending, entries, listings = [], [""], 0, 0
        while pending:
            relative = pending.pop()
            listings += 1
            if listings > MAX_WALK_LISTINGS:
                raise self._endless(path, f"more than {MAX_WALK_LISTINGS} directories")
            for entry in self._list(f"{path}/{relative}".rstrip("/") if relative else path):
                name = entry["path"].rsplit("/", 1)[-1]
                child = f"{relative}/{name}" if relative else name
                if name in ("", ".", ".."):
                    continue
                entries += 1
                if entries > MAX_WALK_ENTRIES:
                    raise self._endless(path, f"more than {MAX_WALK_ENTRIES} entries")
                validate_artifact_path(child)
                if entry.get("is_dir"):
                    if child.count("/") + 1 >= MAX_WALK_DEPTH:
                        raise self._endless(path, f"directories more than {MAX_WALK_DEPTH} deep")
                    pending.append(child)
                else:
                    found.append(child)
        return sorted(found)

    def _endless(self, path: str, what: str) -> StoreError:
        return StoreError(f"the server's artifact listing of {show(path)} has {what}; "
                          f"{self.location} is not answering as an MLflow server does")

    def _fetch(self, path: str, sink) -> None:
        from regctl.backends.rest.client import http_error, quote_path

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
            from regctl.core import derived

            return derived.local_artifact(resolution, relative)
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
        from regctl.backends.rest.client import http_error, quote_path

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

    def remote_manifest(self, location: str, keep: Optional[Path] = None) -> dict:
        """``{relative path: sha256}`` of the files at ``location``, read where they are; those read
        through the proxy are also written under ``keep`` when given."""
        from regctl.core import digest

        local = self._local_path(location)
        if local is not None:
            return digest.manifest(local)
        proxied = self._proxied_or_fail(location, "read the artifacts at")
        files = self._walk(proxied)
        if not files:
            raise NotFound(f"no artifacts at {location}")
        entries = {}
        for relative in files:
            entries[relative] = self._fetch_hashed(f"{proxied}/{relative}", keep / relative if keep else None)
        return entries

    def _fetch_hashed(self, path: str, dest: Optional[Path]) -> str:
        """The SHA-256 of a file in the artifact proxy, written to ``dest`` too when given."""
        import hashlib

        hasher = hashlib.sha256()
        if dest is None:
            self._fetch(path, hasher.update)
            return hasher.hexdigest()
        from regctl.core.transfer import write_stream

        with write_stream(dest) as sink:
            def both(chunk: bytes) -> None:
                hasher.update(chunk)
                sink(chunk)

            self._fetch(path, both)
        return hasher.hexdigest()

    def describe_difference(self, name, version, recorded, current, actual) -> str:
        """Which files differ, as far as the manifest beside the version's files tells."""
        from regctl.core import digest

        location = self._download_uri(name, version) or ""
        manifest = self._recorded_manifest(location) if location else None
        return digest.name_differences(manifest["files"] if manifest else None, recorded, current, actual)

    def fetch_files(self, uri: str, dest: Path) -> "tuple[str, int]":
        """Copy the files ``uri`` points at into ``dest`` (created); ``(location, number of files)``."""
        resolution = self.resolve(uri)
        location = resolution.location
        local = self._local_path(location)
        if local is not None:
            from regctl.core.transfer import copy_tree

            return location, copy_tree(local, dest)
        if is_remote(location) and self._proxy_path(location) is None:  # s3:, ...; a file: one is the server's own
            raise remote_artifacts(uri, location, "download")
        proxied = self._proxied_or_fail(location, "download")
        files = self._walk(proxied)
        if not files and self._is_file(proxied):  # one file, into the destination as MLflow downloads it
            proxied, _, name = proxied.rstrip("/").rpartition("/")
            files = [name]
        if not files:
            raise NotFound(f"no artifacts at {location}")
        from regctl.core.transfer import write_stream

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

    def _record_manifest(self, location: str, entries: dict, *, new: bool = False) -> None:
        """Upload the manifest beside the files, unless one is there already (the first registration's
        wins); ``new``: there is none (the files were just uploaded, or it was just looked for)."""
        from regctl.core import digest

        proxied = self._proxy_path(location)
        if proxied is None or not new and self._recorded_manifest(location) is not None:
            return
        data = {"algorithm": digest.ALGORITHM, "digest": digest.digest_of(entries),
                "files": dict(sorted(entries.items()))}
        text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        self._put(proxied + MANIFEST_SUFFIX, data=text.encode("utf-8", "surrogateescape"))

    def recorded_digest(self, name: str, version: int) -> Optional[str]:
        """The digest regctl recorded for a version: its manifest beside the files, else its digest tag
        (the version is read only then: push lists the versions it asks about)."""
        location = self._version_location(name, version)
        manifest = self._recorded_manifest(location) if location else None
        if manifest is not None and isinstance(manifest.get("digest"), str):
            return manifest["digest"]
        return _tags(self._version(name, version).get("tags")).get(DIGEST_TAG)

    def _version_location(self, name: str, version: int) -> str:
        """Where a live version's files are, as ``resolve`` finds them: its download URI (a version
        made from a ``runs:/`` or ``models:/`` URI is resolved whole)."""
        from regctl.core import uris

        try:
            location = self._download_uri(name, version) or ""
        except NotFound as exc:
            raise self._version_not_found(name, version, exc) from None
        if not location or uris.scheme_of(location) in ("runs", "models"):
            location = self.resolve(f"models:/{name}/{version}").location
        return location

    def version_files(self, name: str, version: int, keep: Optional[Path] = None) -> "tuple[str, dict, Optional[Path]]":
        """Where a version's files are (a local path when they are on this machine), their manifest as
        they are now, read where they are, and ``keep`` when the files read were written there too
        (those read through the proxy: push copies them from there instead of fetching them again)."""
        from regctl.core import digest

        location = self._version_location(name, version)
        local = self._local_path(location)
        if local is not None:
            return str(local), digest.manifest(local), None
        return location, self.remote_manifest(location, keep), keep

    def fetch_checked(self, location: str, entries: dict, dest: Path) -> None:
        """Copy the files ``version_files`` found at ``location`` into ``dest``, without listing them
        again; each is checked against its hash in ``entries`` as it arrives, so the files copied are
        those push checked (an IntegrityError names those changed since)."""
        from regctl.core.transfer import copy_tree

        local = self._local_path(location)
        if local is not None:  # on this machine: copied as ``fetch_files`` copies them
            copy_tree(local, dest)
            return
        proxied = self._proxied_or_fail(location, "download")
        changed = [relative for relative, expected in sorted(entries.items())
                   if self._fetch_hashed(f"{proxied}/{relative}", dest / relative) != expected]
        if changed:
            raise IntegrityError(f"the artifacts at {location} changed while push copied them "
                                 f"({', '.join(show(c) for c in changed[:5])}): they were not copied")

    def verify(self, uri) -> Verification:
        from regctl.core import digest

        resolution = self.resolve(uri)
        if resolution.version is None:
            raise InvalidInput(f"cannot verify {show(uri)}: only models:/ URIs of registered versions have a digest")
        name, number = resolution.name, resolution.version
        if is_remote(resolution.location) and resolution.remote and self._proxy_path(resolution.location) is None:
            raise remote_artifacts(uri, resolution.location, "verify")  # s3:, ...; a file: one is the server's own
        manifest = self._recorded_manifest(resolution.location)
        recorded = manifest.get("digest") if manifest else None
        if not isinstance(recorded, str):
            recorded = _tags(self._version(name, number).get("tags")).get(DIGEST_TAG)
        if recorded is None:
            raise no_digest(name, number, f" (no {MANIFEST_SUFFIX} beside its files, no {DIGEST_TAG} tag)")
        current = self.remote_manifest(resolution.location)
        actual = digest.digest_of(current)
        if actual != recorded:
            detail = digest.name_differences(manifest["files"] if manifest else None, recorded, current, actual)
            raise IntegrityError(f"artifacts of {show(uri)} at {resolution.path} differ from what was registered: {detail}")
        return Verification(uri=uri, name=name, version=number, path=str(resolution.path), digest=actual,
                            files=len(current))

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
        from regctl.core import digest

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
            self._record_manifest(location, entries, new=True)
            self.call("PATCH", f"/logged-models/{model_id}", {"model_id": model_id, "status": "LOGGED_MODEL_READY"})
        except BaseException:
            try:
                self.call("PATCH", f"/logged-models/{model_id}",
                          {"model_id": model_id, "status": "LOGGED_MODEL_UPLOAD_FAILED"})
            except Exception:
                pass
            raise
        return f"models:/{model_id}", model_id, entries
