"""The backend for MLflow's file store (an ``mlruns/`` tree): ``FileBackend``."""

from pathlib import Path

from regctl.backends.file import reads
from regctl.backends.file.resolve import resolve
from regctl.backends.file.store import Store
from regctl.core import derived
from regctl.core.derived import page
from regctl.core.errors import StoreError
from regctl.core.names import MAX_FILE_NAME_BYTES
from regctl.core.results import (
    AliasChange,
    Collection,
    Deletion,
    DescriptionChange,
    DoctorReport,
    Download,
    HistoryRecord,
    Lineage,
    Listing,
    ModelVersion,
    RegisteredModel,
    Rename,
    StageChange,
    TagChange,
    Verification,
    VersionDiff,
)


def _writes():
    """The write half of the backend, loaded by the first write: a read never pays for it."""
    from regctl.backends.file import writes

    return writes


def version_of(view: dict) -> ModelVersion:
    data = dict(view)
    lineage = data.pop("lineage", None)
    return ModelVersion(**data, lineage=Lineage(**lineage) if lineage is not None else None)


def model_of(view: dict) -> RegisteredModel:
    data = dict(view)
    latest = data.pop("latest_versions", None)
    return RegisteredModel(**data, latest_versions=None if latest is None else tuple(version_of(v) for v in latest))


class FileBackend:
    """MLflow's file store at ``root``."""

    search_dialect = "file"  # searches mean what MLflow's file store makes of them

    def __init__(self, root: Path, *, dry_run: bool = False):
        self.store = Store(Path(root), dry_run=dry_run)
        self.location = str(root)

    @property
    def dry_run(self) -> bool:
        return self.store.dry_run

    # ------------------------------------------------------------------ reads

    def models(self, *, include_prompts: bool = False) -> Listing:
        damaged: list = []
        views = reads.list_models(self.store, include_prompts=include_prompts, damaged=damaged)
        return Listing(tuple(model_of(v) for v in views), tuple(damaged))

    def versions(self, name, *, include_deleted=False, limit=None, include_prompts=False) -> Listing:
        damaged: list = []
        views = reads.list_versions(self.store, name, include_deleted=include_deleted, limit=limit, damaged=damaged,
                                    include_prompts=include_prompts)
        return Listing(tuple(version_of(v) for v in views), tuple(damaged))

    def get_model(self, name) -> RegisteredModel:
        return model_of(reads.describe_model(self.store, name))

    def get_version(self, name, version=None, alias=None) -> ModelVersion:
        return version_of(reads.describe_version(self.store, name, version=version, alias=alias))

    def aliases(self, name):
        return reads.list_aliases(self.store, name)

    def resolve(self, uri):
        return resolve(self.store, uri)

    def verify(self, uri) -> Verification:
        from regctl.backends.file import manifests

        result = manifests.verify(self.store, uri)
        return Verification(**result)

    def history(self, name=None, alias=None):
        self.store.require()
        from regctl.core import journal

        return tuple(HistoryRecord.from_record(r) for r in journal.history(self.store.journal_path(), name, alias))

    def doctor(self, *, fix=False) -> DoctorReport:
        from regctl.backends.file import doctor, repair  # loaded by the one command that uses them

        result = repair.fix(self.store) if fix else doctor.check(self.store)
        return DoctorReport(store=result["store"], problems=result["problems"],
                            warnings=result.get("warnings", []), fixed=result["fixed"],
                            notes=result.get("notes", []))

    def search_versions(self, search, max_results, progress=None) -> Listing:
        from regctl.core import filters

        damaged: list = []
        found = []
        wanted = filters.matcher(search, filters.VERSIONS)
        names = self.store.model_names()
        for done, name in enumerate(names):
            if progress:
                progress(done, len(names))
            try:  # prompts too: the search leaves them out unless its filter names them, as MLflow's
                views = reads.list_versions(self.store, name, include_deleted=False, damaged=damaged,
                                              include_prompts=True)
            except StoreError as exc:
                damaged.append(exc)
                continue
            found += [v for v in map(version_of, views) if wanted(v)]
        if progress:
            progress(len(names), len(names))
        return page(filters.sort(found, search, filters.VERSIONS), max_results, damaged)

    def search_models(self, search, max_results, progress=None) -> Listing:
        from regctl.core import filters

        damaged: list = []
        views = reads.list_models(self.store, include_prompts=True, damaged=damaged)
        found = [m for m in map(model_of, views) if filters.matcher(search, filters.MODELS)(m)]
        return page(filters.sort(found, search, filters.MODELS), max_results, damaged)

    def download(self, uri, dest, progress=None) -> Download:
        return derived.download(self, uri, dest, progress)

    def diff(self, a, b) -> VersionDiff:
        return derived.diff(self, a, b)

    def artifact_bytes(self, resolution, relative):
        return derived.local_artifact(resolution, relative)

    def importing(self, local):
        """Keep a local directory's files in this store (as a logged model) for the registration the
        block makes; removed again when it fails first (see ``copies``)."""
        from regctl.backends.file import copies

        return copies.importing(self.store, local)

    def recorded_digest(self, name, version):
        from regctl.backends.file import manifests

        return manifests.recorded_digest(self.store, name, version)

    def describe_difference(self, name, version, recorded, current, actual) -> str:
        from regctl.backends.file import manifests

        return manifests.describe_difference(self.store, name, version, recorded, current, actual)

    name_bytes_limit = MAX_FILE_NAME_BYTES  # a model is a directory: its name is a file name

    def exists(self) -> bool:
        return self.store.root.is_dir()

    def model_names(self):
        damaged: list = []
        views = reads.list_models(self.store, damaged=damaged)
        if damaged:
            raise damaged[0]
        return [v["name"] for v in views]

    # ----------------------------------------------------------------- writes

    def register(self, source, name, *, description, tags, aliases, run_link=None) -> ModelVersion:
        view = _writes().register(self.store, source, name, description=description, tags=tags, aliases=aliases,
                                 run_link=run_link)
        return version_of(view)

    def set_alias(self, name, alias, version, *, expect, expect_given) -> AliasChange:
        return AliasChange(**_writes().set_alias(self.store, name, alias, version, expect=expect,
                                                expect_given=expect_given))

    def delete_alias(self, name, alias) -> AliasChange:
        return AliasChange(**_writes().delete_alias(self.store, name, alias))

    def rollback_alias(self, name, alias) -> AliasChange:
        return AliasChange(**_writes().rollback_alias(self.store, name, alias))

    def set_tags(self, name, tags, version=None) -> TagChange:
        _writes().set_tags(self.store, name, dict(tags), version=version)
        return TagChange(name, version, set=dict(tags))

    def delete_tags(self, name, keys, version=None) -> TagChange:
        _writes().delete_tags(self.store, name, list(keys), version=version)
        return TagChange(name, version, deleted=tuple(keys))

    def set_description(self, name, text, version=None, alias=None) -> DescriptionChange:
        return DescriptionChange(**_writes().set_description(self.store, name, text, version=version, alias=alias))

    def transition_stage(self, name, version, stage, *, archive_existing=False) -> StageChange:
        return StageChange(**_writes().transition_stage(self.store, name, version, stage,
                                                       archive_existing=archive_existing))

    def rename(self, old, new) -> Rename:
        return Rename(**_writes().rename_model(self.store, old, new))

    def delete_model(self, name) -> Deletion:
        _writes().delete_model(self.store, name)
        return Deletion(name)

    def delete_version(self, name, version) -> Deletion:
        result = _writes().delete_version(self.store, name, version)
        return Deletion(name, result["version"], tuple(result["aliases_removed"]))


    def collect(self, name, keep, *, keep_aliased, delete_staged) -> Collection:
        result = _writes().collect(self.store, name, keep, keep_aliased=keep_aliased, delete_staged=delete_staged)
        return Collection(**result)
