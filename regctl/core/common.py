"""Operations any backend can build from its own reads: searches, listings by name, download, diff.

Functions of a backend (``regctl.core.backend.Backend``). A backend whose store offers
nothing faster delegates to them; the file backend has its own searches (they
read each model directory once), and a tracking server runs searches itself. The
searches here serve MLflow's SQLite database, so LIKE means what it means there
(``filters.sql_like``).
"""

from typing import Optional

from regctl.core import download as downloads
from regctl.core import filters, retention, versiondiff
from regctl.core.errors import StoreError
from regctl.core.results import Collection, Download, Listing, VersionDiff


def model_names(backend) -> list:
    listing = backend.models()
    damage = listing.damage()
    if damage:
        raise damage
    return [m.name for m in listing]


def search_models(backend, search, max_results, progress=None) -> Listing:
    listing = backend.models(include_prompts=True)
    found = [m for m in listing if filters.matches(search, m, filters.SQL_MODELS, sql=True)]
    return page(filters.sort(found, search, filters.SQL_MODELS), max_results, list(listing.damaged))


def search_versions(backend, search, max_results, progress=None) -> Listing:
    models = backend.models(include_prompts=True)
    damaged, found = list(models.damaged), []
    for done, model in enumerate(models):
        if progress:
            progress(done, len(models))
        listing = backend.versions(model.name)
        damaged += listing.damaged
        found += [v for v in listing if filters.matches(search, v, filters.VERSIONS, sql=True)]
    if progress:
        progress(len(models), len(models))
    return page(filters.sort(found, search, filters.VERSIONS), max_results, damaged)


def download(backend, uri, dest, progress=None) -> Download:
    return Download(**downloads.download(backend, uri, dest, progress))


def diff(backend, a, b) -> VersionDiff:
    return versiondiff.diff(backend, a, b)


def local_artifact(resolution, relative: str) -> Optional[bytes]:
    """The bytes of ``relative`` below a resolution's local path; None when there is no such file."""
    from pathlib import Path

    from regctl.core.atomic import os_reason, read_file

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
    deleted until then deleted, each of them whole)."""
    live = {v.version: v.current_stage for v in backend.versions(name)}
    aliased: dict = {}
    for alias, number in backend.aliases(name).items():
        aliased.setdefault(number, []).append(alias)
    deleted, protected = retention.choose(live, aliased, keep, keep_aliased=keep_aliased, delete_staged=delete_staged)
    if not getattr(backend, "dry_run", False):
        for version in deleted:
            backend.delete_version(name, version)
    return Collection(name=name, deleted=tuple(deleted), kept=tuple(sorted(set(live) - set(deleted), reverse=True)),
                      protected=protected)


def page(items: list, max_results: int, damaged: list) -> Listing:
    """The first ``max_results`` of ``items``, saying how many more there were."""
    return Listing(tuple(items[:max_results]), tuple(damaged), more=max(0, len(items) - max_results))
