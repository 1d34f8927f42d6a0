"""What every store's resolve shares: the result, the depth bound and two pure readings.

Imports nothing of regctl but ``errors`` and ``names``: the resolve fast path of every
store loads it.
"""

from __future__ import annotations

import re

from regctl.core.errors import StoreError
from regctl.core.names import show

MAX_DEPTH = 5  # models:/ and runs:/ locations followed through one another at most this often

_ALIAS_TEXT = re.compile(r"\s*([0-9]{1,18})\s*")


class Resolution:
    """Where a URI points: the stored location, the local path (or the remote URI) and what it came from."""

    __slots__ = ("uri", "location", "path", "name", "version", "model_id", "run_id")

    def __init__(self, uri, location, path, name=None, version=None, model_id=None, run_id=None):
        self.uri, self.location, self.path = uri, location, path
        self.name, self.version, self.model_id, self.run_id = name, version, model_id, run_id

    @property
    def remote(self) -> bool:
        """Whether the files are at a remote location (``s3:``, ``mlflow-artifacts:``, ...): ``path`` is then
        that URI, a ``str``, and not a local path."""
        return isinstance(self.path, str)

    def to_json(self) -> dict:
        return {
            "uri": self.uri,
            "name": self.name,
            "version": self.version,
            "location": self.location,
            "path": str(self.path),
            "model_id": self.model_id,
            "run_id": self.run_id,
        }


def too_deep(location: str) -> StoreError:
    """The error for a chain of locations longer than MAX_DEPTH."""
    return StoreError(f"{show(location)}: locations refer to each other more than {MAX_DEPTH} times")


def alias_version(text) -> int | None:
    """The version an alias's text names (ASCII digits, spaces around allowed), else None.

    The one reading of alias values, shared by every store's resolve, listings, writes and doctor.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _ALIAS_TEXT.fullmatch(text) if isinstance(text, str) else None
    return int(match.group(1)) if match else None


def stored_text(value, what: str) -> str:
    """A stored field that must be text, else damage named by ``what``."""
    if not isinstance(value, str):
        raise StoreError(f"damaged store: the {what} is {repr(value)[:60]}, not text")
    return value


def run_location(run: dict, path: str) -> str:
    """The location of ``path`` (a validated artifact path, '' for all) among a run's artifacts."""
    artifact_uri = stored_text(run.get("artifact_uri") or "", f"artifact_uri of run {run.get('run_id')}").rstrip("/")
    return f"{artifact_uri}/{path}" if path else artifact_uri
