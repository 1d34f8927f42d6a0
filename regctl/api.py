"""regctl's Python API: ``Registry``, one method per CLI command.

    from regctl import Registry

    registry = Registry("mlruns")              # or None: found as the CLI finds it
    version = registry.register("runs:/<run id>/model", "fraud-detector")
    registry.set_alias("fraud-detector", "champion", version.version)
    print(registry.resolve("models:/fraud-detector@champion").path)

Every method checks its arguments (names, aliases, tag keys, versions,
stages) before the store is touched, then calls the store's backend, and
returns a typed result from ``regctl.results``. Errors are the typed
exceptions of ``regctl.errors``; each has an ``exit_code``.
"""

from typing import Iterable, Mapping, Optional, Sequence, Union

from regctl.backend import Backend
from regctl.errors import InvalidInput
from regctl.names import (
    ACTIVE_STAGES,
    canonical_stage,
    parse_version,
    validate_alias,
    validate_lookup_name,
    validate_model_name,
    validate_tag_key,
    validate_tag_value,
)
from regctl.results import (
    AliasChange,
    Deletion,
    DescriptionChange,
    DoctorReport,
    HistoryRecord,
    Listing,
    ModelVersion,
    RegisteredModel,
    Rename,
    StageChange,
    TagChange,
    Verification,
)

VersionArg = Union[int, str]


def open_backend(store: Optional[str] = None) -> Backend:
    """The backend serving ``store`` (a path or URI), found as the CLI finds it when None."""
    from regctl.remote import server_url

    url = server_url(store)
    if url is not None:  # an MLflow tracking server: http(s)://HOST[:PORT]
        from regctl.reststore import RestBackend

        return RestBackend(url)
    from regctl.filestore import FileBackend
    from regctl.locations import store_root

    return FileBackend(store_root(store))


class Registry:
    """A model registry in one store. ``store``: a path or URI; None finds it as the CLI does."""

    def __init__(self, store: Optional[str] = None, *, backend: Optional[Backend] = None):
        self.backend = backend if backend is not None else open_backend(store)

    @property
    def location(self) -> str:
        return self.backend.location

    # ------------------------------------------------------------------ reads

    def models(self, *, include_prompts: bool = False) -> Listing:
        """Every registered model (``Listing`` of ``RegisteredModel``), with what was skipped as damaged."""
        return self.backend.models(include_prompts=include_prompts)

    def versions(self, name: str, *, include_deleted: bool = False, limit: Optional[int] = None) -> Listing:
        """The versions of ``name``, newest first (``Listing`` of ``ModelVersion``)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise InvalidInput(f"invalid limit {limit!r}: must be a positive integer")
        return self.backend.versions(validate_lookup_name(name), include_deleted=include_deleted, limit=limit)

    def get_model(self, name: str) -> RegisteredModel:
        """A model with its latest version per stage and its number of live versions."""
        return self.backend.get_model(validate_lookup_name(name))

    def get_version(self, name: str, version: Optional[VersionArg] = None, *,
                    alias: Optional[str] = None) -> ModelVersion:
        """One live version, by number or by alias, with its lineage."""
        validate_lookup_name(name)
        if (version is None) == (alias is None):
            raise InvalidInput("give a version or an alias, not both or neither")
        if alias is not None:
            return self.backend.get_version(name, alias=validate_alias(alias, allow_reserved=True))
        return self.backend.get_version(name, parse_version(version))

    def aliases(self, name: str) -> Mapping[str, Optional[int]]:
        """``{alias: version}`` of a model."""
        return self.backend.aliases(validate_lookup_name(name))

    def resolve(self, uri: str):
        """Where ``uri`` points: a ``Resolution`` with ``path``, ``location``, ``name``, ``version``."""
        return self.backend.resolve(uri)

    def verify(self, uri: str) -> Verification:
        """Check a version's artifacts against the digest recorded at registration (IntegrityError)."""
        return self.backend.verify(uri)

    def history(self, name: Optional[str] = None, *, alias: Optional[str] = None) -> Sequence[HistoryRecord]:
        """regctl's recorded changes, newest first; optionally of one model, and one alias of it."""
        if name is not None:
            validate_lookup_name(name)
        if alias is not None:
            if name is None:
                raise InvalidInput("an alias's history needs the model's name")
            validate_alias(alias, allow_reserved=True)
        return self.backend.history(name, alias)

    def doctor(self, *, fix: bool = False) -> DoctorReport:
        """Check the whole store; with ``fix``, first repair what is safe to repair."""
        return self.backend.doctor(fix=fix)

    # ----------------------------------------------------------------- writes

    def register(self, source: str, name: str, *, description: Optional[str] = None,
                 tags: Optional[Mapping[str, str]] = None, aliases: Iterable[str] = ()) -> ModelVersion:
        """A new version of ``name`` (created if missing) from a ``runs:/``, ``models:/``, file URI or path."""
        tags = _checked_tags(tags or {})
        aliases = [validate_alias(a) for a in aliases]
        return self.backend.register(source, validate_lookup_name(name), description=description,
                                     tags=tags, aliases=aliases)

    def set_alias(self, name: str, alias: str, version: VersionArg, *,
                  expect: Optional[VersionArg] = None) -> AliasChange:
        """Point ``alias`` at ``version``; with ``expect`` (a version or 'none'), only if it points there now."""
        validate_lookup_name(name)
        validate_alias(alias)
        number = parse_version(version)
        expected = None if expect is None or str(expect).lower() == "none" else parse_version(expect)
        return self.backend.set_alias(name, alias, number, expect=expected, expect_given=expect is not None)

    def delete_alias(self, name: str, alias: str) -> AliasChange:
        """Remove ``alias`` of ``name``."""
        return self.backend.delete_alias(validate_lookup_name(name), validate_alias(alias, allow_reserved=True))

    def rollback_alias(self, name: str, alias: str) -> AliasChange:
        """Move ``alias`` back to where it pointed before its last recorded change."""
        return self.backend.rollback_alias(validate_lookup_name(name), validate_alias(alias))

    def set_tags(self, name: str, tags: Mapping[str, str], *, version: Optional[VersionArg] = None) -> TagChange:
        """Set tags of ``name``, or of one of its versions."""
        if not tags:
            raise InvalidInput("no tags to set")
        return self.backend.set_tags(validate_lookup_name(name), _checked_tags(tags), _optional_version(version))

    def delete_tags(self, name: str, keys: Sequence[str], *, version: Optional[VersionArg] = None) -> TagChange:
        """Remove tags of ``name``, or of one of its versions; all or none."""
        if not keys:
            raise InvalidInput("no tags to remove")
        keys = [validate_tag_key(k) for k in keys]
        return self.backend.delete_tags(validate_lookup_name(name), keys, _optional_version(version))

    def set_description(self, name: str, text: str, *, version: Optional[VersionArg] = None,
                        alias: Optional[str] = None) -> DescriptionChange:
        """Replace the description of ``name``, or of one version given by number or alias."""
        validate_lookup_name(name)
        if version is not None and alias is not None:
            raise InvalidInput("give a version or an alias, not both")
        if alias is not None:
            validate_alias(alias, allow_reserved=True)
        return self.backend.set_description(name, text, _optional_version(version), alias)

    def transition_stage(self, name: str, version: VersionArg, stage: str, *,
                         archive_existing: bool = False) -> StageChange:
        """Move a version to a stage; ``archive_existing`` archives the others in that stage."""
        validate_lookup_name(name)
        number = parse_version(version)
        stage = canonical_stage(stage)
        if archive_existing and stage not in ACTIVE_STAGES:
            raise InvalidInput(f"--archive-existing needs an active stage (Staging or Production), not {stage}")
        return self.backend.transition_stage(name, number, stage, archive_existing=archive_existing)

    def rename(self, old: str, new: str) -> Rename:
        """Rename a model, keeping its versions, tags and aliases."""
        validate_lookup_name(old)
        validate_model_name(new)
        if old == new:
            raise InvalidInput(f"cannot rename {old!r} to itself")
        return self.backend.rename(old, new)

    def delete_model(self, name: str) -> Deletion:
        """Delete a model and all its versions (MLflow's hard delete)."""
        return self.backend.delete_model(validate_lookup_name(name))

    def delete_version(self, name: str, version: VersionArg) -> Deletion:
        """Soft-delete one version; the aliases pointing at it are removed."""
        return self.backend.delete_version(validate_lookup_name(name), parse_version(version))

    # ------------------------------------------------------- between stores

    def push(self, target: Union["Registry", str], names: Optional[Sequence[str]] = None, *,
             dry_run: bool = False, progress=None):
        """Copy models (all when ``names`` is None) with their versions' files, tags, aliases, stages
        and descriptions to ``target`` (a Registry, or a store path or URI); a ``push.PushReport``."""
        from regctl.push import push

        for name in names or ():
            validate_lookup_name(name)
        target = target if isinstance(target, Registry) else Registry(target)
        return push(self, target, names, dry_run=dry_run, progress=progress)


def _checked_tags(tags: Mapping[str, str]) -> dict:
    checked = {}
    for key, value in tags.items():
        if not isinstance(value, str):
            raise InvalidInput(f"tag {key!r}: the value must be text")
        checked[validate_tag_key(key)] = validate_tag_value(key, value)
    return checked


def _optional_version(version: Optional[VersionArg]) -> Optional[int]:
    return None if version is None else parse_version(version)
