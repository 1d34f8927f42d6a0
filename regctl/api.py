"""regctl's Python API: ``Registry``, one method per CLI command.

    from regctl import Registry

    registry = Registry("mlruns")              # or None: found as the CLI finds it
    version = registry.register("runs:/<run id>/model", "fraud-detector")
    registry.set_alias("fraud-detector", "champion", version.version)
    print(registry.resolve("models:/fraud-detector@champion").path)

Every method checks its arguments (names, aliases, tag keys, versions,
stages) before the store is touched, then calls the store's backend, and
returns a typed result from ``regctl.core.results``. Errors are the typed
exceptions of ``regctl.core.errors``; each has an ``exit_code``.
"""

import functools
import os
from typing import Callable, Iterable, Mapping, Optional, Sequence, Tuple, Union

from regctl.core.backend import Backend, Progress
from regctl.core.errors import IntegrityError, InvalidInput, NotFound, RegctlError, StoreError
from regctl.core.names import (
    ACTIVE_STAGES,
    canonical_stage,
    check_text,
    parse_tag_assignment,
    parse_version,
    show,
    validate_alias,
    validate_lookup_name,
    validate_model_name,
    validate_tag_key,
    validate_tags,
)
from regctl.core.results import (
    AliasChange,
    Collection,
    Deletion,
    DescriptionChange,
    DoctorReport,
    Download,
    HistoryRecord,
    Listing,
    ModelVersion,
    RegisteredModel,
    Rename,
    StageChange,
    TagChange,
    Verification,
    VersionDiff,
)
from regctl.core.rules import AliasNotFound, ModelNotFound, with_suggestion
from regctl.core.suggest import did_you_mean

VersionArg = Union[int, str]
#: MLflow's client defaults for ``search_model_versions`` and ``search_registered_models``.
SEARCH_VERSIONS_DEFAULT = 10000
SEARCH_MODELS_DEFAULT = 100
__all__ = ["Registry", "open_backend", "parse_tag_assignment", "store_in_use"]


def open_backend(store: Optional[str] = None, *, dry_run: bool = False,
                 notify: Optional[Callable[[str], None]] = None) -> Backend:
    """The backend serving ``store`` (a path or URI), found as the CLI finds it when None.

    With ``dry_run``, every write checks and plans its change, returns what it would do,
    and changes nothing. ``notify`` is told, in one line, whenever a tracking server's
    request fails and is about to be retried (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``).
    """
    from regctl.core.choice import choose

    choice = choose(store)  # only the chosen backend is loaded
    if choice.kind == "server":
        from regctl.backends.rest.backend import RestBackend

        return RestBackend(choice.target, notify=notify, dry_run=dry_run)
    if choice.kind == "sqlite":
        from regctl.backends.sqlite.backend import SqliteBackend

        return SqliteBackend(choice.target, dry_run=dry_run)
    from regctl.backends.file.backend import FileBackend

    return FileBackend(choice.target, dry_run=dry_run)


def store_in_use(store: Optional[str] = None, environ: Optional[Mapping[str, str]] = None,
                 cwd: Optional[str] = None) -> dict:
    """Which store ``store`` (or, when None, the environment and the directory rule) names:
    ``store`` (path, database file or server URL), ``kind`` (file, sqlite, server), ``origin``
    (``--store``, the variable that chose it, or ``default``: the directory rule) and
    ``shadows``: ``{variable: value}`` of an MLflow variable REGCTL_STORE hides. Reads nothing."""
    from regctl.core.choice import choose
    from regctl.core.locations import chosen_value, redact_credentials, shadowed

    env = os.environ if environ is None else environ
    chosen = chosen_value(store, env)
    choice = choose(store, env, cwd)
    where = redact_credentials(choice.target) if choice.kind == "server" else str(choice.target)
    hidden = shadowed(store, env)
    return {"store": where, "kind": choice.kind, "origin": chosen[1] if chosen else "default",
            "shadows": {} if hidden is None else {hidden[0]: redact_credentials(hidden[1])}}


class Registry:
    """A model registry in one store. ``store``: a path or URI; None finds it as the CLI does."""

    def __init__(self, store: Optional[str] = None, *, backend: Optional[Backend] = None, dry_run: bool = False,
                 notify: Optional[Callable[[str], None]] = None):
        if backend is None:
            backend = open_backend(None if store is None else _path(store, "store"), dry_run=dry_run, notify=notify)
        self.backend = backend
        self.notify = notify

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
        return self.backend.versions(self._name(name), include_deleted=include_deleted, limit=limit)

    def get_model(self, name: str) -> RegisteredModel:
        """A model with its latest version per stage and its number of live versions."""
        return self.backend.get_model(self._name(name))

    def get_version(self, name: str, version: Optional[VersionArg] = None, *,
                    alias: Optional[str] = None) -> ModelVersion:
        """One live version, by number or by alias, with its lineage."""
        self._name(name)
        if (version is None) == (alias is None):
            raise InvalidInput("give a version or an alias, not both or neither")
        if alias is not None:
            return self.backend.get_version(name, alias=validate_alias(alias, allow_reserved=True))
        return self.backend.get_version(name, self._number(name, version))  # type: ignore[arg-type]

    def aliases(self, name: str) -> Mapping[str, Optional[int]]:
        """``{alias: version}`` of a model."""
        return self.backend.aliases(self._name(name))

    def resolve(self, uri: str):
        """Where ``uri`` points: a ``Resolution`` with ``path``, ``location``, ``name``, ``version``."""
        return self.backend.resolve(check_text(uri, "URI"))

    def verify(self, uri: str) -> Verification:
        """Check a version's artifacts against the digest recorded at registration (IntegrityError)."""
        return self.backend.verify(check_text(uri, "URI"))

    def history(self, name: Optional[str] = None, *, alias: Optional[str] = None) -> Sequence[HistoryRecord]:
        """regctl's recorded changes, newest first; optionally of one model, and one alias of it."""
        if name is not None:
            self._name(name)
        if alias is not None:
            if name is None:
                raise InvalidInput("an alias's history needs the model's name")
            validate_alias(alias, allow_reserved=True)
        return self.backend.history(name, alias)

    def doctor(self, *, fix: bool = False) -> DoctorReport:
        """Check the whole store; with ``fix``, first repair what is safe to repair."""
        return self.backend.doctor(fix=fix)

    def search_versions(self, filter: Optional[str] = None, order_by: Sequence[str] = (),
                        max_results: int = SEARCH_VERSIONS_DEFAULT, *, progress: Progress = None) -> Listing:
        """Live versions of all models matching an MLflow filter (``name = 'x' AND tags.k LIKE 'v%'``).

        The same answer as MLflow's ``search_model_versions`` on the same store: its grammar,
        its ordering (default: newest update first), prompts left out unless the filter names
        ``mlflow.prompt.is_prompt``. ``Listing.more`` counts matches beyond ``max_results``.
        """
        from regctl.core import filters

        search = filters.search(_filter_text(filter), _order_list(order_by), filters.VERSIONS,
                                sql=self.backend.search_dialect == "sql")
        return self.backend.search_versions(search, _max_results(max_results), progress)

    def search_models(self, filter: Optional[str] = None, order_by: Sequence[str] = (),
                      max_results: int = SEARCH_MODELS_DEFAULT, *, progress: Progress = None) -> Listing:
        """Registered models matching an MLflow filter, as MLflow's ``search_registered_models``."""
        from regctl.core import filters

        kind = filters.SQL_MODELS if self.backend.search_dialect == "sql" else filters.MODELS
        search = filters.search(_filter_text(filter), _order_list(order_by), kind,
                                sql=self.backend.search_dialect == "sql")
        return self.backend.search_models(search, _max_results(max_results), progress)

    def download(self, uri: str, dest: str, *, progress: Progress = None) -> Download:
        """Copy the artifacts of ``uri`` (a version, alias, run, ...) into the new directory ``dest``.

        The copy is checked against the digest recorded at registration, when there is one
        (IntegrityError, and nothing left at ``dest``); ``dest`` must not be a non-empty
        directory or a file (Conflict).
        """
        dest = _local_destination(check_text(_path(dest, "dest"), "destination"))
        return self.backend.download(check_text(uri, "URI"), dest, progress)

    def diff(self, a: str, b: str) -> VersionDiff:
        """What differs between two registered versions (``models:/`` URIs): registry fields and MLmodel."""
        return self.backend.diff(check_text(a, "URI"), check_text(b, "URI"))

    # ----------------------------------------------------------------- writes

    def register(self, source: str, name: str, *, description: Optional[str] = None,
                 tags: Optional[Mapping[str, str]] = None, aliases: Iterable[str] = (),
                 run_link: Optional[str] = None, copy: bool = False) -> ModelVersion:
        """A new version of ``name`` (created if missing) from a ``runs:/``, ``models:/``, file URI or path.

        ``run_link``: MLflow's link to the run that made it (``push`` keeps the source version's).
        ``copy``: a local directory's files are copied into the store first (as ``push`` copies them),
        so the version no longer depends on the directory; the copy must hash as the directory did."""
        tags = validate_tags(tags or {})
        aliases = [validate_alias(a) for a in _strings(aliases, "aliases")]
        source = check_text(_path(source, "source"), "source")
        for text, what in ((description, "description"), (run_link, "run link")):
            if text is not None:
                check_text(text, what)
        name = self._new_or_existing(name)
        if copy:
            return self._register_a_copy(source, name, description=description, tags=tags, aliases=aliases,
                                         run_link=run_link)
        return self.backend.register(source, name, description=description,
                                     tags=tags, aliases=aliases, run_link=run_link)

    def _register_a_copy(self, source: str, name: str, **fields) -> ModelVersion:
        """``register(copy=True)``: the directory's files, links followed, copied into the store and
        registered from there; the copy must hash as the directory does."""
        from regctl.core import digest
        from regctl.versionfiles import copied_directory, copyable_files, imported_files, scratch_directory, staged_copy

        local = copied_directory(source)
        entries = copyable_files(source, local)  # a dangling link, a loop or a FIFO is refused, dry run or not
        if not hasattr(self.backend, "importing"):  # a server keeps what it is sent: register copies already
            return self.backend.register(source, name, **fields)
        if self.backend.dry_run:
            check_import = getattr(self.backend, "check_import", None)
            if check_import is not None:
                check_import()  # what can be known before copying: a link leading out of the store
            return self.backend.register(source, name, **fields)
        with scratch_directory() as scratch:
            staged = staged_copy(local, entries, scratch)  # regular files only: the copy depends on nothing outside
            if digest.manifest(staged) != entries:
                raise IntegrityError(f"{show(source)} changed while it was copied; nothing was registered")
            with imported_files(self, staged) as uri:
                return self.backend.register(uri, name, **fields)

    def set_alias(self, name: str, alias: str, version: VersionArg, *,
                  expect: Optional[VersionArg] = None) -> AliasChange:
        """Point ``alias`` at ``version``; with ``expect`` (a version or 'none'), only if it points there now."""
        self._name(name)
        validate_alias(alias)
        number = self._number(name, version)
        expected = None if expect is None or str(expect).lower() == "none" else parse_version(expect)
        return self.backend.set_alias(name, alias, number, expect=expected, expect_given=expect is not None)

    def delete_alias(self, name: str, alias: str) -> AliasChange:
        """Remove ``alias`` of ``name``."""
        return self.backend.delete_alias(self._name(name), validate_alias(alias, allow_reserved=True))

    def rollback_alias(self, name: str, alias: str) -> AliasChange:
        """Move ``alias`` back to where it pointed before its last recorded change."""
        return self.backend.rollback_alias(self._name(name), validate_alias(alias))

    def set_tags(self, name: str, tags: Mapping[str, str], *, version: Optional[VersionArg] = None) -> TagChange:
        """Set tags of ``name``, or of one of its versions."""
        if not tags:
            raise InvalidInput("no tags to set")
        return self.backend.set_tags(self._name(name), validate_tags(tags), self._optional_number(name, version))

    def delete_tags(self, name: str, keys: Sequence[str], *, version: Optional[VersionArg] = None) -> TagChange:
        """Remove tags of ``name``, or of one of its versions; all or none."""
        keys = [validate_tag_key(k) for k in _strings(keys, "keys")]
        if not keys:
            raise InvalidInput("no tags to remove")
        return self.backend.delete_tags(self._name(name), keys, self._optional_number(name, version))

    def set_description(self, name: str, text: str, *, version: Optional[VersionArg] = None,
                        alias: Optional[str] = None) -> DescriptionChange:
        """Replace the description of ``name``, or of one version given by number or alias."""
        self._name(name)
        check_text(text, "description")
        if version is not None and alias is not None:
            raise InvalidInput("give a version or an alias, not both")
        if alias is not None:
            validate_alias(alias, allow_reserved=True)
        return self.backend.set_description(name, text, self._optional_number(name, version), alias)

    def transition_stage(self, name: str, version: VersionArg, stage: str, *,
                         archive_existing: bool = False) -> StageChange:
        """Move a version to a stage; ``archive_existing`` archives the others in that stage."""
        self._name(name)
        number = self._number(name, version)
        stage = canonical_stage(stage)
        if archive_existing and stage not in ACTIVE_STAGES:
            raise InvalidInput(f"--archive-existing needs an active stage (Staging or Production), not {stage}")
        return self.backend.transition_stage(name, number, stage, archive_existing=archive_existing)

    def rename(self, old: str, new: str) -> Rename:
        """Rename a model, keeping its versions, tags and aliases."""
        self._name(old)
        validate_model_name(new, max_bytes=self.backend.name_bytes_limit)
        if old == new:
            raise InvalidInput(f"cannot rename {old!r} to itself")
        return self.backend.rename(old, new)

    def delete_model(self, name: str) -> Deletion:
        """Delete a model and all its versions (MLflow's hard delete)."""
        return self.backend.delete_model(self._name(name))

    def delete_version(self, name: str, version: VersionArg) -> Deletion:
        """Soft-delete one version; the aliases pointing at it are removed."""
        return self.backend.delete_version(self._name(name), self._number(name, version))

    # -------------------------------------------------------------- versions

    def _name(self, name: str) -> str:
        """A model name to look up, within the store's own limits."""
        return validate_lookup_name(name, max_bytes=self.backend.name_bytes_limit)

    def _new_or_existing(self, name: str) -> str:
        """A name to register under: regctl's rules for a new model, any name a model already has."""
        try:
            return validate_model_name(name, max_bytes=self.backend.name_bytes_limit)
        except InvalidInput as refused:
            if not self.backend.exists():
                raise
            try:
                self.backend.get_model(self._name(name))
            except (NotFound, InvalidInput):  # none of that name (a server may call the name invalid)
                raise refused from None
            return name

    def _number(self, name: str, version: VersionArg) -> int:
        """A version number; ``@ALIAS`` is the version the alias points at now (NotFound without it)."""
        if isinstance(version, str) and version.strip().startswith("@"):
            alias = validate_alias(version.strip()[1:], allow_reserved=True)
            aliases = self.aliases(name)
            number = aliases.get(alias, _MISSING)
            if number is _MISSING:
                raise AliasNotFound(name, alias, did_you_mean(alias, aliases))
            if not isinstance(number, int):
                raise StoreError(f"damaged alias {show(alias)} of model {show(name)}: it names no version")
            return number
        return parse_version(version)

    def _optional_number(self, name: str, version: Optional[VersionArg]) -> Optional[int]:
        return None if version is None else self._number(name, version)


    def gc(self, name: Optional[str] = None, *, keep: int, keep_aliased: bool = False,
           delete_staged: bool = False, progress: Progress = None) -> Tuple[Collection, ...]:
        """Soft-delete all but the newest ``keep`` versions of ``name`` (None: of every model).

        Never a version an alias points at; never one in Staging or Production unless
        ``delete_staged``. With ``keep_aliased`` the aliased versions do not count towards
        ``keep``. One all-or-nothing change per model, journalled like ``delete_version``.
        """
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise InvalidInput(f"invalid keep {keep!r}: must be a whole number, 0 or more")
        names = [self._name(name)] if name is not None else list(self.backend.model_names())
        collected = []
        for done, model in enumerate(names):
            if progress:
                progress(done, len(names))
            try:
                collected.append(self.backend.collect(model, keep, keep_aliased=keep_aliased,
                                                      delete_staged=delete_staged))
            except RegctlError as exc:
                before = [show(c.name) for c in collected if c.deleted]
                if not before:
                    raise
                raise type(exc)(f"model {show(model)}: {exc.message}; collected before it, each in its own "
                                f"change: {', '.join(before)}") from None
        if progress:
            progress(len(names), len(names))
        return tuple(collected)

    # ------------------------------------------------------- between stores

    def push(self, target: Union["Registry", str], names: Optional[Sequence[str]] = None, *,
             dry_run: bool = False, progress=None, move_aliases: bool = False, jobs: Optional[int] = None):
        """Copy models (all when ``names`` is None) with their versions' files, tags, aliases, stages
        and descriptions to ``target`` (a Registry, or a store path or URI); a ``push.PushReport``.
        An alias the target has that points elsewhere is moved only with ``move_aliases``: without
        it, such a push is a Conflict naming them all, before anything is written. ``jobs``: how
        many versions' files move at once to or from a server (default: ``REGCTL_PUSH_JOBS``, else
        4); versions are registered one at a time, in order, whatever it is."""
        from regctl.push import push

        names = None if names is None else _strings(names, "names")
        for name in names or ():
            self._name(name)
        jobs = _jobs(jobs)
        target = target if isinstance(target, Registry) else Registry(_path(target, "target"), notify=self.notify)
        return push(self, target, names, dry_run=dry_run, progress=progress, move_aliases=move_aliases, jobs=jobs)


_MISSING = object()


def _strings(values, argument: str) -> list:
    """A collection of strings as a list; a lone string (which would be taken letter by letter) or
    anything else is a TypeError naming the argument."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{argument} must be a list of strings, not {type(values).__name__} {values!r:.40}")
    values = list(values)
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"{argument} must be a list of strings; it holds {type(value).__name__} {value!r:.40}")
    return values


MAX_JOBS = 64


def _jobs(value: Optional[int]) -> int:
    """push's ``jobs``: a whole number from 1 to MAX_JOBS, else REGCTL_PUSH_JOBS, else 4; InvalidInput
    (naming the variable when it is the variable's) for anything else."""
    from regctl.push import DEFAULT_JOBS

    given: object = value
    what = "jobs"
    if value is None:
        text = os.environ.get("REGCTL_PUSH_JOBS", "").strip()
        if not text:
            return DEFAULT_JOBS
        given, what = text, "REGCTL_PUSH_JOBS"
        try:
            value = int(text, 10)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_JOBS:
        raise InvalidInput(f"{what}={given!r:.40}: expected a whole number from 1 to {MAX_JOBS}")
    return value


def _path(value, argument: str) -> str:
    """A path or URI given as ``str`` or ``os.PathLike``; anything else is a TypeError naming the argument."""
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str):
            return path
    raise TypeError(f"{argument} must be a path or URI (str or os.PathLike), not {type(value).__name__}")


def _suggesting(method):
    """``method`` with a "did you mean" added to a missing model or alias, on every store."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (ModelNotFound, AliasNotFound) as error:
            raise with_suggestion(error, self.backend.model_names, lambda name: self.backend.aliases(name)) from None
    return wrapper


for _name, _method in list(vars(Registry).items()):
    if not _name.startswith("_") and callable(_method) and _name != "push":
        setattr(Registry, _name, _suggesting(_method))


def _local_destination(dest: str) -> str:
    """A download's destination: a local path, or a ``file:`` URI of one (as MLflow takes a store's)."""
    from regctl.core.uris import scheme_of

    if not dest:
        raise InvalidInput("empty destination")
    scheme = scheme_of(dest)
    if scheme == "file":
        from regctl.core.locations import location_to_path

        return str(location_to_path(dest))
    if scheme is not None and dest.partition(":")[2].startswith("/"):
        raise InvalidInput(f"invalid destination {show(dest)}: a local path or a file: URI, not a {scheme}: URI")
    return dest


def _filter_text(text: Optional[str]) -> Optional[str]:
    return None if text is None else check_text(text, "filter")


def _order_list(order_by) -> list:
    if isinstance(order_by, str):
        order_by = [order_by]
    return [check_text(o, "order") for o in order_by or ()]


def _max_results(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"invalid max_results {value!r}: must be a positive integer")
    return value
