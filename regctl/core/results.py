"""Typed, immutable results of registry operations.

Every backend returns these; ``to_json()`` is exactly what the CLI prints with
``--json`` (MLflow's field names for models and versions). Mappings are
read-only views, sequences are tuples.
"""

from types import MappingProxyType
from typing import Any, Iterator, Mapping, Optional, Tuple

from regctl.core.errors import StoreError
from regctl.core.record import EMPTY, Record


def _freeze(instance, *names: str) -> None:
    """Make the named dict fields read-only and list fields tuples, on a record."""
    values = instance.__dict__
    for name in names:
        value = values[name]
        if isinstance(value, dict):
            values[name] = MappingProxyType(value.copy() if type(value) is dict else dict(value))
        elif isinstance(value, list):
            values[name] = tuple(value)


class Lineage(Record):
    """Where a version came from and where its files are, as far as the store knows."""

    run_id: Optional[str] = None
    experiment_id: Optional[str] = None
    run_name: Optional[str] = None
    model_id: Optional[str] = None
    artifact_path: Optional[str] = None

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.fields()}


class ModelVersion(Record):
    """One version of a registered model, as MLflow's client returns it, plus tags and aliases."""

    name: str
    version: int
    creation_timestamp: Optional[int] = None
    last_updated_timestamp: Optional[int] = None
    current_stage: Optional[str] = "None"
    description: Optional[str] = None
    source: Optional[str] = None
    run_id: Optional[str] = None
    run_link: Optional[str] = None
    status: Optional[str] = "READY"
    status_message: Optional[str] = None
    user_id: Optional[str] = None
    storage_location: Optional[str] = None
    model_id: Optional[str] = None
    tags: Mapping[str, str] = EMPTY
    aliases: Tuple[str, ...] = ()
    lineage: Optional[Lineage] = None  # filled by get_version only

    def __post_init__(self):
        _freeze(self, "tags", "aliases")

    def to_json(self) -> dict:
        data = {name: getattr(self, name) for name in self.fields() if name != "lineage"}
        data["tags"] = dict(self.tags)
        data["aliases"] = list(self.aliases)
        if self.lineage is not None:
            data["lineage"] = self.lineage.to_json()
        return data


class RegisteredModel(Record):
    """A registered model with its tags, aliases and latest version number."""

    name: str
    creation_timestamp: Optional[int] = None
    last_updated_timestamp: Optional[int] = None
    description: Optional[str] = None
    tags: Mapping[str, str] = EMPTY
    aliases: Mapping[str, Optional[int]] = EMPTY
    latest_version: Optional[int] = None
    # filled by get_model only: the latest version of each stage, and the number of live versions
    latest_versions: Optional[Tuple[ModelVersion, ...]] = None
    version_count: Optional[int] = None

    def __post_init__(self):
        _freeze(self, "tags", "aliases", "latest_versions")

    def to_json(self) -> dict:
        data: dict = {
            "name": self.name,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "description": self.description,
            "tags": dict(self.tags),
            "aliases": dict(self.aliases),
            "latest_version": self.latest_version,
        }
        if self.latest_versions is not None:
            data["latest_versions"] = [v.to_json() for v in self.latest_versions]
            data["version_count"] = self.version_count
        return data


class Listing(Record):
    """The entries a listing could read, and the damage it skipped on the way."""

    items: Tuple[Any, ...] = ()
    damaged: Tuple[StoreError, ...] = ()
    more: int = 0  # a search's matches left out by its max_results

    def __post_init__(self):
        _freeze(self, "items", "damaged")

    def __iter__(self) -> Iterator:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]

    def to_json(self) -> list:
        return [item.to_json() for item in self.items]

    def damage(self) -> Optional[StoreError]:
        """One error summarising what was skipped, or None."""
        if not self.damaged:
            return None
        more = f" ({len(self.damaged) - 1} more damaged entries skipped)" if len(self.damaged) > 1 else ""
        return StoreError(f"{self.damaged[0].message}{more}")


class AliasChange(Record):
    """What an alias pointed at before and after a command (None: unset)."""

    name: str
    alias: str
    old: Optional[int]
    new: Optional[int]
    changed: bool

    def to_json(self) -> dict:
        return {"name": self.name, "alias": self.alias, "old": self.old, "new": self.new, "changed": self.changed}


class TagChange(Record):
    """Tags set or removed on a model (``version`` None) or on one version."""

    name: str
    version: Optional[int]
    set: Mapping[str, str] = EMPTY
    deleted: Tuple[str, ...] = ()

    def __post_init__(self):
        _freeze(self, "set", "deleted")

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "set": dict(self.set), "deleted": list(self.deleted)}


class DescriptionChange(Record):
    name: str
    version: Optional[int]
    description: str

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "description": self.description}


class StageChange(Record):
    """A stage transition, with the versions it archived."""

    name: str
    version: int
    old_stage: Optional[str]
    current_stage: str
    archived: Tuple[int, ...] = ()

    def __post_init__(self):
        _freeze(self, "archived")

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "old_stage": self.old_stage,
                "current_stage": self.current_stage, "archived": list(self.archived)}


class Rename(Record):
    old: str
    new: str

    def to_json(self) -> dict:
        return {"old": self.old, "new": self.new}


class Deletion(Record):
    """A deleted model (``version`` None) or a soft-deleted version and the aliases it lost."""

    name: str
    version: Optional[int] = None
    aliases_removed: Tuple[str, ...] = ()

    def __post_init__(self):
        _freeze(self, "aliases_removed")

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "aliases_removed": list(self.aliases_removed)}


class Verification(Record):
    """A version whose artifacts match the digest recorded at registration."""

    uri: str
    name: str
    version: int
    path: str
    digest: str
    files: int

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.fields()}


class HistoryRecord(Record):
    """One change from regctl's journal: who changed what, when, from what to what."""

    time: Optional[int]
    user: Optional[str]
    host: Optional[str]
    operation: Optional[str]
    model: Optional[str]
    target: Optional[str]
    old: Any
    new: Any

    @classmethod
    def from_record(cls, record: dict) -> "HistoryRecord":
        return cls(*(record.get(name) for name in cls.fields()))

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.fields()}


class DoctorReport(Record):
    """What ``doctor`` found: problems (the store is damaged), warnings (worth knowing), repairs."""

    store: str
    problems: Tuple[Mapping[str, Any], ...] = ()
    warnings: Tuple[Mapping[str, Any], ...] = ()
    fixed: Tuple[Mapping[str, Any], ...] = ()
    notes: Tuple[str, ...] = ()

    def __post_init__(self):
        _freeze(self, "problems", "warnings", "fixed", "notes")

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"store": self.store, "ok": self.ok, "problems": [dict(p) for p in self.problems],
                "warnings": [dict(w) for w in self.warnings], "fixed": [dict(f) for f in self.fixed],
                "notes": list(self.notes)}


class Download(Record):
    """Artifacts copied to ``dest``; ``digest`` checked when one was recorded at registration."""

    uri: str
    source: str
    dest: str
    files: int
    bytes: int
    name: Optional[str] = None
    version: Optional[int] = None
    digest: Optional[str] = None  # the recorded digest the copy matched, None when there is none

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.fields()}


class Difference(Record):
    """One field that differs between two versions (None: absent on that side)."""

    field: str
    a: Any
    b: Any

    def to_json(self) -> dict:
        return {"field": self.field, "a": self.a, "b": self.b}


class VersionDiff(Record):
    """What differs between version ``a`` and version ``b``: registry fields and the model's MLmodel."""

    a: str
    b: str
    differences: Tuple[Difference, ...] = ()

    def __post_init__(self):
        _freeze(self, "differences")

    @property
    def equal(self) -> bool:
        return not self.differences

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "equal": self.equal,
                "differences": [d.to_json() for d in self.differences]}


class Collection(Record):
    """What ``gc`` soft-deleted (or would), and what it kept of the old versions and why."""

    name: str
    deleted: Tuple[int, ...] = ()
    kept: Tuple[int, ...] = ()
    protected: Mapping[int, str] = EMPTY  # old version -> why it was kept

    def __post_init__(self):
        _freeze(self, "deleted", "kept", "protected")

    def to_json(self) -> dict:
        return {"name": self.name, "deleted": list(self.deleted), "kept": list(self.kept),
                "protected": {str(k): v for k, v in self.protected.items()}}
