"""The seam between the registry API and a store.

``Registry`` (``regctl.api``) validates every argument's syntax, then calls one
method of a ``Backend``. A backend serves one kind of store: MLflow's file
store (``regctl.backends.file.backend``), and further kinds behind the same methods. A
backend receives clean values (validated names, ``int`` versions, canonical
stages) and returns the typed results of ``regctl.core.results``; it raises the
typed errors of ``regctl.core.errors``. Every write is all-or-nothing: a backend
either applies the whole change or leaves its store as it was.
"""

from typing import TYPE_CHECKING, Callable, Mapping, Optional, Protocol, Sequence

from regctl.core.resolution import Resolution
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

if TYPE_CHECKING:
    from regctl.core.filters import Search

#: Called as ``progress(done, total)`` while long work goes on.
Progress = Optional[Callable[[int, int], None]]


class Backend(Protocol):
    """One store, as the registry use cases see it."""

    #: What the user named the store by (a path or a URI), for messages.
    location: str
    #: Whose reading of a search filter applies: MLflow's file store ("file") or its SQL store ("sql").
    search_dialect: str
    @property
    def dry_run(self) -> bool:
        """Whether writes only check and plan their change (``--dry-run``)."""

    # ------------------------------------------------------------------ reads
    def models(self, *, include_prompts: bool = False) -> Listing:
        """Every registered model, sorted by name; prompts (MLflow 3) only when asked."""

    def versions(self, name: str, *, include_deleted: bool = False, limit: Optional[int] = None,
                 include_prompts: bool = False) -> Listing:
        """Versions of ``name``, newest first; a prompt's (MLflow 3) only when asked (searches)."""

    def get_model(self, name: str) -> RegisteredModel:
        """One model, with ``latest_versions`` and ``version_count`` filled."""

    def get_version(self, name: str, version: Optional[int] = None, alias: Optional[str] = None) -> ModelVersion:
        """One live version, by number or by alias, with its ``lineage``."""

    def aliases(self, name: str) -> Mapping[str, Optional[int]]:
        """``{alias: version}`` of a model, sorted by alias."""

    def resolve(self, uri: str):
        """Where ``uri`` points (a ``resolution.Resolution``)."""

    def verify(self, uri: str) -> Verification:
        """Check a version's artifacts against the digest recorded at registration."""

    def history(self, name: Optional[str] = None, alias: Optional[str] = None) -> Sequence[HistoryRecord]:
        """regctl's recorded changes, newest first."""

    def doctor(self, *, fix: bool = False) -> DoctorReport:
        """Check the store; with ``fix``, first repair what is safe to repair."""

    def search_versions(self, search: "Search", max_results: int, progress: Progress = None) -> Listing:
        """Live versions of every model that match ``search``, in its order, at most ``max_results``."""

    def search_models(self, search: "Search", max_results: int, progress: Progress = None) -> Listing:
        """Registered models that match ``search``, in its order, at most ``max_results``."""

    def download(self, uri: str, dest: str, progress: Progress = None) -> Download:
        """Copy the artifacts ``uri`` points at to the new directory ``dest``, digest checked."""

    def diff(self, a: str, b: str) -> VersionDiff:
        """What differs between the registered versions ``a`` and ``b`` (``models:/`` URIs)."""

    def artifact_bytes(self, resolution: Resolution, relative: str) -> Optional[bytes]:
        """The bytes of the file ``relative`` below what ``resolution`` names (``MLmodel``), or None."""

    def recorded_digest(self, name: str, version: int) -> Optional[str]:
        """The digest regctl recorded when it registered the version, or None."""

    def describe_difference(self, name: str, version: int, recorded: str, current: dict, actual: str) -> str:
        """Which files differ from what was registered, as far as the store knows."""

    # ----------------------------------------------------------------- writes
    def register(self, source: str, name: str, *, description: Optional[str], tags: Mapping[str, str],
                 aliases: Sequence[str], run_link: Optional[str] = None) -> ModelVersion:
        """A new version of ``name`` (created if needed) from ``source``; ``run_link`` as MLflow's
        ``create_model_version`` takes it (a link to the run in another tracking system)."""

    def set_alias(self, name: str, alias: str, version: int, *, expect: Optional[int],
                  expect_given: bool) -> AliasChange:
        """Point ``alias`` at ``version``; with ``expect_given``, only if it points at ``expect`` now."""

    def delete_alias(self, name: str, alias: str) -> AliasChange:
        """Remove ``alias`` (NotFound if it does not exist)."""

    def rollback_alias(self, name: str, alias: str) -> AliasChange:
        """Undo the last recorded change of ``alias``, if it is still what that change left."""

    def set_tags(self, name: str, tags: Mapping[str, str], version: Optional[int] = None) -> TagChange:
        """Set tags of a model, or of one version."""

    def delete_tags(self, name: str, keys: Sequence[str], version: Optional[int] = None) -> TagChange:
        """Remove tags (NotFound, and nothing removed, if any is missing)."""

    def set_description(self, name: str, text: str, version: Optional[int] = None,
                        alias: Optional[str] = None) -> DescriptionChange:
        """Replace the description of a model, or of one version by number or alias."""

    def transition_stage(self, name: str, version: int, stage: str, *,
                         archive_existing: bool = False) -> StageChange:
        """MLflow's stage transition."""

    def rename(self, old: str, new: str) -> Rename:
        """Rename a model, keeping its versions, tags and aliases."""

    def delete_model(self, name: str) -> Deletion:
        """Delete a model and all its versions."""

    def delete_version(self, name: str, version: int) -> Deletion:
        """Soft-delete a version and remove the aliases pointing at it."""

    def model_names(self) -> Sequence[str]:
        """The registered models (prompts left out), sorted."""

    @property
    def name_bytes_limit(self) -> Optional[int]:
        """The store's own limit on a model name's length in UTF-8 bytes (a file store's file names), or None."""

    def exists(self) -> bool:
        """Whether the store is there: a file store may not be yet (its first write creates it)."""

    def collect(self, name: str, keep: int, *, keep_aliased: bool, delete_staged: bool) -> Collection:
        """Soft-delete the versions of ``name`` older than the newest ``keep``, sparing protected ones."""

class ArtifactTransfer(Protocol):
    """Optional methods a backend may add, used by ``download`` and ``push`` when present.

    Without them, ``regctl.core.transfer`` and ``regctl.push`` work from ``resolve``'s local path
    (file stores), and ``push`` cannot copy files into the store.
    """

    def fetch_files(self, uri: str, dest) -> "tuple[str, int]":
        """Copy the files ``uri`` points at into the directory ``dest``; ``(location, files copied)``."""

    def recorded_digest(self, name: str, version: int) -> Optional[str]:
        """The content digest regctl recorded for a version, when not in its ``regctl.content_digest`` tag."""

    def remote_manifest(self, location: str) -> dict:
        """``{relative path: sha256}`` of files that are not on this machine."""

    def upload_model(self, local_dir) -> "tuple[str, str, dict]":
        """Store a local directory's files for good; ``(source URI to register, model id, manifest)``."""

    def importing(self, local_dir):
        """A context: keeps a local directory's files in the store and yields the source URI to
        register; when the block fails and no version refers to the copy, the copy goes again."""

    def check_import(self):
        """Fail as ``importing`` would for what can be known before copying (a symbolic link leading out)."""

    #: True when the backend's reads and transfers may run on several threads at once (a server:
    #: a connection per thread); push then moves several versions' files at a time.
    parallel: bool

    def halt_parallel(self) -> None:
        """End the other threads' requests under way and refuse their next ones (the command is ending)."""

    def end_parallel(self) -> None:
        """The other threads are done: release what they held (their connections)."""

    def register_uploaded(self, name: str, upload: tuple, *, description: Optional[str], tags: dict,
                          run_link: Optional[str] = None) -> int:
        """Register, as the next version of an existing model, files ``upload_model`` stored; its number."""
