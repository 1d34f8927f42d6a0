"""Decisions and messages every store shares, written once.

A backend finds out *what is* (a model is missing, an alias points at 3); what that means
for the command, and the words the user reads, are decided here, so that the file store,
SQLite and a tracking server answer alike. ``with_suggestion`` adds the "did you mean" of a
missing model or alias for every store, from the names the store lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from regctl.core.errors import Conflict, InvalidInput, NotFound, RemoteArtifacts
from regctl.core.names import show


class ModelNotFound(NotFound):
    """A registered model that does not exist (or is an MLflow prompt)."""

    def __init__(self, name: str, suggestion: str = "", prompt: bool = False):
        self.name, self.suggestion = name, suggestion
        note = f" ({show(name)} is an MLflow prompt)" if prompt else suggestion
        super().__init__(f"registered model {show(name)} not found{note}")
        self.suggested = bool(suggestion) or prompt


class AliasNotFound(NotFound):
    """An alias a model does not have."""

    def __init__(self, name: str, alias: str, suggestion: str = ""):
        self.name, self.alias, self.suggestion = name, alias, suggestion
        super().__init__(f"alias {show(alias)} of model {show(name)} not found{suggestion}")
        self.suggested = bool(suggestion)


def version_not_found(name: str, version: int) -> NotFound:
    return NotFound(f"version {version} of model {show(name)} not found")


def no_versions(name: str, stage: str | None = None) -> NotFound:
    in_stage = f" in stage {stage}" if stage else ""
    return NotFound(f"no versions of model {show(name)}{in_stage} found")


def run_not_found(run_id: str) -> NotFound:
    return NotFound(f"run {show(run_id)} not found")


def logged_model_not_found(model_id: str) -> NotFound:
    return NotFound(f"logged model {show(model_id)} not found")


def tag_not_found(name: str, key: str, version: int | None = None) -> NotFound:
    where = "" if version is None else f"version {version} of "
    return NotFound(f"tag {show(key)} of {where}model {show(name)} not found")


def no_digest(name: str, version: int, where: str = "") -> NotFound:
    """``verify`` of a version with no digest on record: said without guessing who registered it."""
    return NotFound(f"version {version} of model {show(name)} has no recorded digest{where}; nothing to verify "
                    "(a digest is recorded when regctl registers a version, none when MLflow does)")


def not_verifiable(uri: str) -> InvalidInput:
    return InvalidInput(f"cannot verify {show(uri)}: only models:/ URIs of registered versions have a digest")


def source_without_artifacts(source: str, location: str | None) -> NotFound:
    return NotFound(f"source {show(source)} not found: no artifacts at {location or '(no location)'}")


def source_not_a_directory(source: str, path) -> NotFound:
    return NotFound(f"source {show(source)} not found: {path} is not a directory")


def artifacts_missing(uri: str, path) -> NotFound:
    return NotFound(f"artifacts of {show(uri)} not found at {path}")


def remote_artifacts(uri: str, location: str, doing: str) -> RemoteArtifacts:
    """A command that reads a version's files (verify, download, push) on files at a remote location."""
    from regctl.core.uris import scheme_of

    scheme = scheme_of(location)
    if scheme == "mlflow-artifacts":
        return RemoteArtifacts(f"cannot {doing} {show(uri)}: its artifacts are at {location}, which only the MLflow "
                               "server that recorded it serves, and no server is known here (run the command with "
                               "--store http://HOST:PORT of that server)")
    return RemoteArtifacts(f"cannot {doing} {show(uri)}: its artifacts are at {location}, and regctl reads no "
                           f"{scheme}: locations (regctl resolve prints the URI, for a tool that reads them)")


def remote_note(locations: list) -> list:
    """doctor's note on versions whose files are at remote locations: not checked, and not missing."""
    if not locations:
        return []
    from regctl.core.uris import scheme_of

    schemes = ", ".join(sorted({f"{scheme_of(location)}:" for location in locations}))
    return [f"{len(locations)} version(s) keep their artifacts at remote locations ({schemes}); doctor checks "
            "local artifacts only"]


def alias_moves(name: str, alias: str, old: int | None, version: int, expect: int | None,
                expect_given: bool) -> bool:
    """Whether ``alias set`` moves the alias: False when it already points at ``version`` (a rerun
    of a step that succeeded is a no-op, whatever ``--expect`` says: it guards a move only);
    Conflict when ``--expect`` was given and the alias is not where the caller last saw it."""
    if old == version:
        return False
    if expect_given and old != expect:
        shown = "none" if expect is None else str(expect)
        raise Conflict(f"alias {show(alias)} of {show(name)} points at {old or 'nothing'}, "
                       f"expected {shown}; not changed")
    return True


def rollback_target(name: str, alias: str, last: tuple | None, current, journal_note: str = "") -> int | None:
    """The version ``alias rollback`` moves ``alias`` back to (None: delete it).

    ``last`` is the alias's last recorded change as ``(old, new)`` (None when there is none),
    ``current`` where the alias points now; versions as the journal or the store hold them
    (text or numbers). ``journal_note`` says where the journal is, when it is not the store's.
    """
    from regctl.core.resolution import alias_version

    if last is None:
        raise NotFound(f"no recorded change of alias {show(alias)} of {show(name)} to roll back{journal_note}")
    old, new = last
    if alias_version(new) != alias_version(current):
        raise Conflict(f"alias {show(alias)} of {show(name)} was changed outside regctl; not rolled back")
    return alias_version(old)


def with_suggestion(error: NotFound, model_names: Callable[[], Iterable[str]],
                    aliases: Callable[[str], Iterable[str]]) -> NotFound:
    """``error`` with a "did you mean" added when it is a missing model or alias without one."""
    from regctl.core.suggest import did_you_mean  # loaded by the errors that suggest

    try:
        if isinstance(error, ModelNotFound) and not error.suggested:
            hint = did_you_mean(error.name, list(model_names()))
            if hint:
                return ModelNotFound(error.name, hint)
        if isinstance(error, AliasNotFound) and not error.suggested:
            hint = did_you_mean(error.alias, list(aliases(error.name)))
            if hint:
                return AliasNotFound(error.name, error.alias, hint)
    except Exception:  # a suggestion is a courtesy: a store that cannot list gets none
        pass
    return error


def model_exists(name: str) -> Conflict:
    return Conflict(f"registered model {show(name)} already exists")


def model_not_found(store, name: str) -> ModelNotFound:
    """ModelNotFound for ``name``, suggesting the closest name ``store.model_names()`` lists."""
    return with_suggestion(ModelNotFound(name), store.model_names, lambda _name: ())  # type: ignore[return-value]


def alias_not_found(store, name: str, alias: str) -> AliasNotFound:
    """AliasNotFound for ``alias`` of ``name``, suggesting the closest alias ``store.read_aliases`` lists."""
    return with_suggestion(AliasNotFound(name, alias), lambda: (), store.read_aliases)  # type: ignore[return-value]
