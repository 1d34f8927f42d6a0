"""Entities as the registry shows them: MLflow's fields, plus tags and aliases.

Results are plain dicts with MLflow's field names, the shape ``--json`` prints.
"""

from typing import Optional

from regctl.backends.file.store import Store
from regctl.core.names import DELETED_STAGE
from regctl.core.resolution import alias_version

VERSION_FIELDS = (
    "name", "version", "creation_timestamp", "last_updated_timestamp", "current_stage",
    "description", "source", "run_id", "run_link", "status", "status_message", "user_id",
    "storage_location", "model_id",
)


def version_view(store: Store, name: str, meta: dict, aliases: dict, tags: Optional[dict] = None) -> dict:
    """A version as MLflow's client returns it, plus ``tags`` (read unless given) and ``aliases``."""
    version = alias_version(meta.get("version"))
    view = {field: meta.get(field) for field in VERSION_FIELDS}
    view["version"] = version
    if tags is None:
        tags = store.read_version_tags(name, version) if version else {}
    view["tags"] = dict(sorted(tags.items()))
    view["aliases"] = sorted(a for a, v in aliases.items() if v == str(version))
    return view


def model_view(store: Store, name: str, meta: dict) -> dict:
    """A registered model with its tags, aliases and latest version number."""
    aliases = store.read_aliases(name)
    return {
        "name": meta.get("name", name),
        "creation_timestamp": meta.get("creation_timestamp"),
        "last_updated_timestamp": meta.get("last_updated_timestamp"),
        "description": meta.get("description"),
        "tags": store.read_model_tags(name),
        "aliases": {alias: alias_version(text.strip()) for alias, text in sorted(aliases.items())},
        "latest_version": latest_version_number(store, name),
    }


def latest_version_number(store: Store, name: str) -> Optional[int]:
    """Highest version number that is not soft-deleted, or None."""
    for number, meta in store.version_metas(name):
        if meta.get("current_stage") != DELETED_STAGE:
            return number
    return None


