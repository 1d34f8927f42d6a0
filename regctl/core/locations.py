"""Turning stored locations (``file:`` URIs and plain paths) into local paths.

MLflow bakes absolute locations into meta files, so a store that was copied or
moved names its old place. When a location does not exist but the same
location relative to the store root does, that one is used.
"""

import os
from pathlib import Path

from regctl.core.errors import InvalidInput, StoreError
from regctl.core.names import show
from regctl.core.uris import scheme_of


def location_to_path(location: str) -> Path:
    """Convert a ``file:`` URI (percent-decoded) or a plain path to an absolute path."""
    if location[:5].lower() == "file:":
        rest = location[5:]
        if rest.startswith("//"):
            host, slash, path = rest[2:].partition("/")
            if host and host != "localhost":
                raise InvalidInput(f"location {show(location)} is on another host")
            rest = slash + path
        if "%" in rest:
            from urllib.parse import unquote

            rest = unquote(rest)
        return Path(os.path.abspath(rest))
    return Path(os.path.abspath(location))


def is_remote(location: str) -> bool:
    """Whether a stored location is on another system (``s3:``, ``gs:``, ``dbfs:``, ``mlflow-artifacts:``,
    ``http:``, ...): a URI, never a local path (``file:``, a plain path) or a reference (``runs:``, ``models:``)."""
    return scheme_of(location) not in (None, "file", "runs", "models")


def stored_path(location: str, root: Path) -> "Path | str":
    """The local path of a stored ``file:`` or plain location, rebased into a store that moved
    (``rebase``); a remote location is given back as it is, a ``str``: it is not this machine's."""
    return location if is_remote(location) else rebase(location_to_path(location), root)


def rebase(path: Path, root: Path) -> Path:
    """Return ``path`` if it exists, else the same tail under ``root`` if that exists.

    ``/old/place/mlruns/123/abc/artifacts/model`` missing, with the store now
    at ``root``: tries ``root/place/mlruns/123/...``, ``root/mlruns/123/...``,
    ``root/123/abc/...`` and so on; the first that exists wins. Costs one stat
    per path component, whatever the size of the store.
    """
    if exists(path):
        return path
    parts = path.parts[1:]
    for start in range(1, len(parts) - 1):  # keep at least two components
        candidate = root.joinpath(*parts[start:])
        if exists(candidate):
            return candidate
    return path


def inside(path: Path, real_root: str) -> Path:
    """``path``, unless a symbolic link makes it lead outside the store whose resolved root is
    ``real_root`` (StoreError): a link leading out is reported, never followed."""
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root + os.sep):
        raise StoreError(f"damaged store: {path} is a symbolic link leading outside the store "
                         f"(to {real}); refusing to use it")
    return path


def exists(path: Path) -> bool:
    """``path.exists()``, False (not an exception) for names the OS cannot hold (too long, NUL bytes)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


# Bare registry URIs MLflow gives a meaning of their own (not paths): Databricks and Unity Catalog.
_BARE_REGISTRY_URIS = {"databricks": "databricks", "databricks-uc": "databricks-uc", "uc": "uc"}
_DATABASES = ("sqlite", "postgresql", "mysql", "mssql")
STORE_VARIABLES = ("REGCTL_STORE", "MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_URI")


class StoreLocation(os.PathLike):
    """The store a command works on, and what chose it.

    ``scheme`` is the kind of store; today always ``file`` (MLflow's file
    store), and then the location is path-like: ``os.fspath`` gives its root
    directory, ``path``. ``origin`` names what chose it (``--store``,
    ``REGCTL_STORE``, ``MLFLOW_REGISTRY_URI``, ``MLFLOW_TRACKING_URI`` or
    ``default``) and ``value`` is what it said, for messages.
    """

    __slots__ = ("scheme", "path", "origin", "value")

    def __init__(self, scheme: str, path: Path, origin: str, value: str):
        self.scheme, self.path, self.origin, self.value = scheme, path, origin, value

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"StoreLocation({self.scheme!r}, {str(self.path)!r}, origin={self.origin!r})"


def chosen_value(option: "str | None", environ=os.environ) -> "tuple[str, str] | None":
    """``(value, where it came from)`` of the store the user named, or None when nothing names one.

    ``--store``, else ``REGCTL_STORE`` (both: set, even empty, counts), else MLflow's registry
    URI, else its tracking URI (as in MLflow, the registry URI wins, and an empty one is unset).
    The one precedence every kind of store (file, database, server) is chosen by.
    """
    if option is not None:
        return option, "--store"
    if environ.get("REGCTL_STORE") is not None:
        return environ["REGCTL_STORE"], "REGCTL_STORE"
    for variable in ("MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_URI"):
        if environ.get(variable):
            return environ[variable], variable
    return None


def store_root(option: "str | None", environ=os.environ, cwd: "str | None" = None) -> StoreLocation:
    """Which store to use: ``--store``, else ``REGCTL_STORE``, else MLflow's registry URI,
    else MLflow's tracking URI, else ``./mlruns``.

    As in MLflow, a set ``MLFLOW_REGISTRY_URI`` wins over ``MLFLOW_TRACKING_URI``,
    and the two count as unset when empty. The first value found decides: a
    ``file:`` URI or a path is the store; anything regctl cannot serve (another
    scheme, or MLflow's bare ``databricks``/``databricks-uc``/``uc``) is a
    StoreError naming where it came from, never a fallback to another store.
    An empty ``--store`` or ``REGCTL_STORE`` is InvalidInput.
    """
    chosen = chosen_value(option, environ)
    if chosen is not None:
        return _location(*chosen)
    return StoreLocation("file", Path(os.path.abspath(os.path.join(cwd or os.getcwd(), "mlruns"))),
                         "default", "./mlruns")


def _location(value: str, origin: str) -> StoreLocation:
    shown = f"{origin}={show(redact_credentials(value))}" if origin != "--store" else f"--store {show(redact_credentials(value))}"
    if not value.strip():
        raise InvalidInput(f"{shown}: the store must not be empty")
    if "\x00" in value or (value[:5].lower() == "file:" and "%00" in value):
        raise InvalidInput(f"{shown}: the path holds a NUL character")
    scheme = _BARE_REGISTRY_URIS.get(value) or scheme_of(value) or "file"
    if scheme != "file":
        raise StoreError(f"{shown}: {_kind(scheme)} are not supported; {_instead(scheme)}")
    try:
        path = location_to_path(value)
    except InvalidInput as exc:
        raise StoreError(f"{shown}: {exc.message}; regctl works on a local MLflow file store") from None
    return StoreLocation("file", path, origin, value)


def _instead(scheme: str) -> str:
    """What regctl can serve, said where a store it cannot serve was chosen."""
    if scheme.startswith(_DATABASES) and not scheme.startswith("sqlite"):
        return ("regctl reaches such a database through an MLflow tracking server on it "
                "(mlflow server --backend-store-uri ...; then the store is http://HOST:PORT)")
    return ("regctl works on MLflow's file store (a path or a file: URI), its SQLite database "
            "(sqlite:///path/to/mlflow.db) and MLflow tracking servers (http://HOST:PORT or https://...)")


def _kind(scheme: str) -> str:
    if scheme in ("http", "https"):
        return f"MLflow tracking servers ({scheme}:)"
    if scheme.startswith(_DATABASES):
        return f"database stores ({scheme}:)"
    if scheme in ("databricks", "uc") or scheme.startswith("databricks"):
        return "Databricks and Unity Catalog registries"
    return f"{scheme}: stores"


_SCHEME = None


def redact_credentials(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` in it shown as ``***``:
    error lines, tracebacks and journal records name URLs, never the secrets inside them.

    The password runs from the first ``:`` after ``scheme://`` to the last ``@`` before the URL
    ends (whitespace, or the quote it was opened with; ``/``, ``?``, ``#`` past the first ``@``):
    a password holding ``@``, a quote or a space (a typo) is hidden whole, not cut at its first one.
    """
    global _SCHEME
    if "@" not in text:
        return text
    if _SCHEME is None:
        import re

        _SCHEME = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://")
    out, done = [], 0
    for match in _SCHEME.finditer(text):
        start = match.end()
        if start < done:
            continue
        quote = text[match.start() - 1] if match.start() and text[match.start() - 1] in "'\"" else None
        end = text.find(quote, start) if quote else -1
        if end < 0:
            end = next((i for i in range(start, len(text)) if text[i].isspace()), len(text))
        url = text[start:end]
        colon, at = url.find(":"), url.rfind("@")
        first_at = url.find("@")
        # the password may not reach past the host part that follows the first '@'
        cuts = [cut for cut in (url.find(c, first_at) for c in "/?#") if cut >= 0] if first_at >= 0 else []
        if cuts:
            at = url.rfind("@", 0, min(cuts))
        port_end = next((i for i in range(colon + 1, len(url)) if url[i] == "/" or url[i].isspace()), len(url))
        port = port_end < first_at and url[colon + 1:port_end].isdigit()  # host:port/path@... or host:port and text
        if 0 <= colon < at and "/" not in url[:colon] and not port:
            out.append(text[done:start + colon + 1] + "***")
            done = start + at
    return "".join(out) + text[done:]


def same_store(a: str, b: str) -> bool:
    """Whether two store values name the same store (paths and ``file:`` URIs compared as paths)."""
    if scheme_of(a) in (None, "file") and scheme_of(b) in (None, "file"):
        try:
            return location_to_path(a) == location_to_path(b)
        except (InvalidInput, ValueError):
            return a == b
    return a.rstrip("/") == b.rstrip("/")


def shadowed(option: "str | None", environ=os.environ) -> "tuple[str, str] | None":
    """``(variable, value)`` of the MLflow variable a set ``REGCTL_STORE`` hides when the two
    name different stores (MLflow's own client would use that one), else None. ``--store``
    is asked for on the command line, so it shadows nothing worth a notice."""
    if option is not None or environ.get("REGCTL_STORE") is None:
        return None
    mlflow = chosen_value(None, {k: v for k, v in environ.items() if k != "REGCTL_STORE"})
    if mlflow is None or same_store(environ["REGCTL_STORE"], mlflow[0]):
        return None
    return mlflow[1], mlflow[0]


def shadow_notice(variable: str, value: str, environ=os.environ) -> str:
    return (f"REGCTL_STORE={show(redact_credentials(environ.get('REGCTL_STORE', '')))} wins over "
            f"{variable}={show(redact_credentials(value))}, which names another store (unset REGCTL_STORE to use it)")
