"""What a backend builds from its own reads: searches, model names, download, diff and gc.

Functions of a backend (``regctl.core.backend.Backend``), and ``DerivedOperations``, the mixin
a backend takes for what its store offers nothing faster for. The file backend has its own
searches (they read each model directory once) and a tracking server runs searches itself;
the searches here serve MLflow's SQLite database, so LIKE means what it means there
(``filters.sql_like``). What only some commands need (filters, results, downloads) is
imported on first use, so that ``resolve`` on such a store stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from regctl.core.errors import StoreError

if TYPE_CHECKING:
    from regctl.core.results import Download, Listing, VersionDiff


def model_names(backend) -> list:
    listing = backend.models()
    damage = listing.damage()
    if damage:
        raise damage
    return [m.name for m in listing]


def search_models(backend, search, max_results, progress=None) -> Listing:
    from regctl.core import filters

    listing = backend.models(include_prompts=True)
    wanted = filters.matcher(search, filters.SQL_MODELS, sql=True)
    found = [m for m in listing if wanted(m)]
    return page(filters.sort(found, search, filters.SQL_MODELS), max_results, list(listing.damaged))


def search_versions(backend, search, max_results, progress=None) -> Listing:
    from regctl.core import filters

    wanted = filters.matcher(search, filters.VERSIONS, sql=True)
    models = backend.models(include_prompts=True)
    damaged, found = list(models.damaged), []
    for done, model in enumerate(models):
        if progress:
            progress(done, len(models))
        listing = backend.versions(model.name, include_prompts=True)  # the filter decides, as MLflow's
        damaged += listing.damaged
        found += [v for v in listing if wanted(v)]
    if progress:
        progress(len(models), len(models))
    return page(filters.sort(found, search, filters.VERSIONS), max_results, damaged)


def download(backend, uri, dest, progress=None) -> Download:
    from regctl.core import download as downloads
    from regctl.core.results import Download

    return Download(**downloads.download(backend, uri, dest, progress))


def diff(backend, a, b) -> VersionDiff:
    from regctl.core import versiondiff

    return versiondiff.diff(backend, a, b)


def local_artifact(resolution, relative: str) -> Optional[bytes]:
    """The bytes of ``relative`` below a resolution's local path; None when there is no such file."""
    from pathlib import Path

    from regctl.core.atomic import os_reason, read_file

    if resolution.remote:  # not this machine's to read
        return None
    path = Path(resolution.path) / relative
    if not path.is_file():
        return None
    try:
        return read_file(path)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {os_reason(exc)}") from None


def collect(backend, name, keep, *, keep_aliased, delete_staged):
    """``gc`` of one model through ``delete_version``, one version after another (for a store
    without transactions, such as a tracking server: a failure part-way leaves the versions
    deleted until then deleted, each of them whole).

    Each version is checked again just before it is deleted: an alias another client pointed at it
    since the plan was made protects it (deleting it would delete that alias with it), as would a
    move into Staging or Production.
    """
    from regctl.core import retention
    from regctl.core.results import Collection

    live = {v.version: v.current_stage for v in backend.versions(name)}
    deleted, protected = retention.choose(live, _aliased(backend, name), keep, keep_aliased=keep_aliased,
                                          delete_staged=delete_staged)
    protected = dict(protected)
    if not getattr(backend, "dry_run", False):
        done = []
        for version in deleted:
            now = _aliased(backend, name).get(version)
            stage = backend.get_version(name, version).current_stage
            if now:
                protected[version] = f"alias {', '.join(now)}"
            elif stage in retention.ACTIVE_STAGES and not delete_staged:
                protected[version] = f"stage {stage}"
            else:
                backend.delete_version(name, version)
                done.append(version)
        deleted = done
    return Collection(name=name, deleted=tuple(deleted), kept=tuple(sorted(set(live) - set(deleted), reverse=True)),
                      protected=protected)


def _aliased(backend, name) -> dict:
    """``{version: [alias, ...]}`` as the store has it now."""
    aliased: dict = {}
    for alias, number in backend.aliases(name).items():
        aliased.setdefault(number, []).append(alias)
    return aliased


def page(items: list, max_results: int, damaged: list) -> Listing:
    """The first ``max_results`` of ``items``, saying how many more there were."""
    from regctl.core.results import Listing

    return Listing(tuple(items[:max_results]), tuple(damaged), more=max(0, len(items) - max_results))


class DerivedOperations:
    """``model_names``, ``search_models``, ``search_versions``, ``download``, ``diff`` and ``collect``."""

    search_dialect = "sql"  # searches mean what MLflow's SQL store makes of them (``filters.SQL_MODELS``)

    def model_names(self):
        return model_names(self)

    def search_models(self, search, max_results, progress=None):
        return search_models(self, search, max_results, progress)

    def search_versions(self, search, max_results, progress=None):
        return search_versions(self, search, max_results, progress)

    def download(self, uri, dest, progress=None):
        return download(self, uri, dest, progress)

    def diff(self, a, b):
        return diff(self, a, b)

    def artifact_bytes(self, resolution, relative):
        return local_artifact(resolution, relative)

    def collect(self, name, keep, *, keep_aliased, delete_staged):
        return collect(self, name, keep, keep_aliased=keep_aliased, delete_staged=delete_staged)
