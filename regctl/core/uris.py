"""Pure parsing of ``models:/`` and ``runs:/`` URIs into small frozen objects.

Follows MLflow's reading (urllib's): the scheme is case-insensitive, ``?`` starts a
query and ``#`` a fragment, which are not part of the path (a ``models:/`` URI keeps
a ``#`` literally unless its path has a name and a suffix, as MLflow's download
reads it), no percent-decoding, the path must start with '/', and an empty
authority (``models:///x/1``) is accepted while a non-empty one is refused.
A ``runs:/`` path is normalized as MLflow's download reads it ('.', '..' and
empty segments resolved); one that leaves the run's artifacts is refused.
"""

from regctl.core.errors import InvalidInput
from regctl.core.names import show

_ASCII_DIGITS = frozenset("0123456789")


class _Ref:
    """A small immutable value object (plain class: ``dataclasses`` costs start-up time)."""

    __slots__ = ()

    def __init__(self, *values):
        for field, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, field, value)

    def __setattr__(self, field, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self):
        return tuple(getattr(self, field) for field in self.__slots__)

    def __eq__(self, other):
        return type(other) is type(self) and other._values() == self._values()

    def __hash__(self):
        return hash((type(self).__name__,) + self._values())

    def __repr__(self):
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__)
        return f"{type(self).__name__}({inner})"


class VersionRef(_Ref):
    """``models:/<name>/<version>``"""

    __slots__ = ("name", "version")
    name: str
    version: int


class AliasRef(_Ref):
    """``models:/<name>@<alias>``"""

    __slots__ = ("name", "alias")
    name: str
    alias: str


class LatestRef(_Ref):
    """``models:/<name>/latest`` (also ``@latest``)"""

    __slots__ = ("name",)
    name: str


class StageRef(_Ref):
    """``models:/<name>/<stage>`` (stage not yet validated)"""

    __slots__ = ("name", "stage")
    name: str
    stage: str


class LoggedModelRef(_Ref):
    """``models:/m-<id>`` (MLflow 3 logged model)"""

    __slots__ = ("model_id",)
    model_id: str


class RunRef(_Ref):
    """``runs:/<run_id>/<artifact path>``"""

    __slots__ = ("run_id", "path")
    run_id: str
    path: str


class PathRef(_Ref):
    """A ``file:`` URI or a plain local path, kept as written."""

    __slots__ = ("location",)
    location: str


def scheme_of(uri: str) -> "str | None":
    """Return the lower-cased URI scheme, or None for a plain path."""
    head, sep, _ = uri.partition(":")
    if not sep or not head or "/" in head or len(head) == 1:
        # One letter before ':' is a Windows drive, not a scheme.
        return None
    if not (head[0].isascii() and head[0].isalpha()):
        return None
    if not all(c.isascii() and (c.isalnum() or c in "+-.") for c in head):
        return None
    return head.lower()


def _path_after_scheme(uri: str, scheme: str, *, fragments: bool = True) -> str:
    """The path after ``scheme:`` without its leading '/': a query left out, and a fragment too
    with ``fragments`` (else a ``#`` is part of the path)."""
    rest = uri[len(scheme) + 1:]
    if fragments:
        rest = rest.partition("#")[0]
    rest = rest.partition("?")[0]
    if rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        if authority:
            raise InvalidInput(f"invalid URI {show(uri)}: a host or profile ('{authority}') is not supported")
        rest = slash + path
    if not rest.startswith("/"):
        raise InvalidInput(f"invalid URI {show(uri)}: expected {scheme}:/...")
    return rest[1:]


def parse_models_uri(uri: str):
    """Parse a ``models:/`` URI; raise InvalidInput for malformed ones.

    Trailing slashes are dropped, as MLflow does before it resolves a
    ``models:/`` URI (``models:/X/7/`` is version 7 of X).
    """
    path = _path_after_scheme(uri, "models").rstrip("/")
    if path.count("/") < 1:  # no suffix after the name: MLflow reads a '#' as part of the path
        path = _path_after_scheme(uri, "models", fragments=False).rstrip("/")
    parts = path.split("/")
    if not path or not parts[0].strip():
        raise InvalidInput(f"invalid URI {show(uri)}: missing model name")
    if len(parts) > 2:
        raise InvalidInput(f"invalid URI {show(uri)}: expected models:/<name>/<version|stage|latest> or models:/<name>@<alias>")
    if len(parts) == 2:
        name, suffix = parts
        if not suffix.strip():
            raise InvalidInput(f"invalid URI {show(uri)}: empty version, stage or 'latest'")
        if set(suffix) <= _ASCII_DIGITS:
            return VersionRef(name, int(suffix))
        if suffix.lower() == "latest":
            return LatestRef(name)
        return StageRef(name, suffix)
    (single,) = parts
    if "@" in single:
        name, _, alias = single.rpartition("@")
        if not name.strip():
            raise InvalidInput(f"invalid URI {show(uri)}: missing model name")
        if not alias:
            raise InvalidInput(f"invalid URI {show(uri)}: empty alias")
        if alias.lower() == "latest":
            return LatestRef(name)
        return AliasRef(name, alias)
    return LoggedModelRef(single)


def _run_parts(uri: str) -> "tuple[str, str]":
    """The run id and the artifact path of a ``runs:/`` URI as written (its leading slashes left out)."""
    path = _path_after_scheme(uri, "runs")
    run_id, _, written = path.partition("/")
    if not run_id:
        raise InvalidInput(f"invalid URI {show(uri)}: missing run id")
    return run_id, written.lstrip("/")


def parse_runs_uri(uri: str) -> RunRef:
    """Parse a ``runs:/<run_id>/<path>`` URI; the path normalized (``a/./b``, ``a//b`` and
    ``a/../a/b`` are ``a/b``), InvalidInput when it leaves the run's artifacts."""
    run_id, written = _run_parts(uri)
    if "%" in written:  # a file: location joined with it is percent-decoded: '%2e%2e' must not leave either
        from urllib.parse import unquote

        _normalized(unquote(written), uri)
    return RunRef(run_id, _normalized(written, uri))


def _normalized(written: str, uri: str) -> str:
    parts: list = []
    for part in written.split("/"):
        if part == "..":
            if not parts:
                raise InvalidInput(f"invalid URI {show(uri)}: the path leaves the run's artifacts")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def recorded_location(uri: str, ref: RunRef, location: str) -> str:
    """What MLflow records as a version's source when it registers ``runs:/RUN/PATH`` whose files are
    at ``location`` (the run's artifact location joined with the normalized path): the path as
    written, '.', '..', '//' and a trailing slash kept (only a query, a fragment and leading
    slashes are left out)."""
    written = _run_parts(uri)[1]
    if written == ref.path:
        return location
    base = location[:len(location) - len(ref.path)].rstrip("/") if ref.path else location.rstrip("/")
    return f"{base}/{written}" if written else base


def as_recorded(uri: str, ref: RunRef, found: dict) -> dict:
    """A registration's source and storage location from the run's artifacts, as MLflow records them."""
    if found["source"] != found["storage_location"]:  # a logged model's: MLflow records its id
        return found
    location = recorded_location(uri, ref, found["source"])
    return {**found, "source": location, "storage_location": location}


def parse_uri(uri: str):
    """Parse any URI regctl accepts: ``models:/``, ``runs:/``, ``file:`` or a plain path."""
    if not uri:
        raise InvalidInput("invalid URI '': must not be empty")
    scheme = scheme_of(uri)
    if scheme == "models":
        return parse_models_uri(uri)
    if scheme == "runs":
        return parse_runs_uri(uri)
    if scheme is None or scheme == "file":
        return PathRef(uri)
    raise InvalidInput(f"unsupported URI scheme {show(scheme)} in {show(uri)}: only models:, runs:, file: and local paths")
