"""MLflow's client variables as regctl reads them: numbers, credentials (variables, the URL,
``~/.mlflow/credentials``) and which hosts bypass the proxy."""

import base64
import os
from typing import Optional
from urllib.parse import SplitResult, unquote, urlsplit

from regctl.core.errors import InvalidInput


def _env_int(environ, name: str, default: int) -> int:
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name}={value!r} is not an integer") from None


def _env_float(environ, name: str, default: float) -> float:
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(f"{name}={value!r} is not a number") from None


def _env_true(environ, name: str) -> bool:
    return environ.get(name, "").strip().lower() in ("true", "1")


def _credentials_file(environ) -> "tuple[Optional[str], Optional[str]]":
    """``[mlflow]`` username and password from ``~/.mlflow/credentials``, as MLflow reads it."""
    path = os.path.join(os.path.expanduser("~"), ".mlflow", "credentials")
    if not os.path.exists(path):
        return None, None
    import configparser

    config = configparser.ConfigParser()
    try:
        config.read(path)
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None, None
    if "mlflow" not in config:
        return None, None
    section = config["mlflow"]
    return section.get("mlflow_tracking_username"), section.get("mlflow_tracking_password")


def _split(url: str, what: str) -> SplitResult:
    """The parts of a URL the user gave (``what`` says which), checked as ``http.client`` will use
    them: text (not bytes that are not UTF-8), a port number, a host name IDNA can encode."""
    try:
        url.encode("utf-8")
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a ValueError for a port that is not a number)
        (parts.hostname or "").encode("idna")
    except ValueError as exc:  # UnicodeError too
        raise InvalidInput(f"{what}: {'not UTF-8 text' if isinstance(exc, UnicodeEncodeError) else exc}") from None
    return parts


def _env_text(environ, name: str, header: bool = False) -> Optional[str]:
    """A variable's value that goes to the server: text, or a header's (Latin-1, no control
    characters). A credential: never shown."""
    value = environ.get(name)
    if not value:
        return value
    try:
        value.encode("latin-1" if header else "utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not {'Latin-1' if header else 'UTF-8'} text") from None
    if header and not value.isprintable():
        raise InvalidInput(f"{name} holds characters an HTTP header cannot carry")
    return value


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.standard_b64encode(f"{username}:{password}".encode()).decode("ascii")


def _authorization(environ, parts: SplitResult) -> Optional[str]:
    """The Authorization header MLflow's client would send: user and password (variables, else
    ``~/.mlflow/credentials``, else the URL's), else the token."""
    username = _env_text(environ, "MLFLOW_TRACKING_USERNAME")
    password = _env_text(environ, "MLFLOW_TRACKING_PASSWORD")
    if not (username and password):
        file_user, file_password = _credentials_file(environ)
        username, password = username or file_user, password or file_password
    if parts.username and not username:  # http://user:pass@host, as requests reads it
        username, password = unquote(parts.username), unquote(parts.password or "")
    if username and password:
        return _basic(username, password)
    token = _env_text(environ, "MLFLOW_TRACKING_TOKEN", header=True)
    return f"Bearer {token}" if token else None


def _bypass_proxy(host: str, port: int, no_proxy: str) -> bool:
    """``NO_PROXY`` as requests reads it: ``*``, host names and domain suffixes, optional ports."""
    host = host.lower()
    for entry in no_proxy.replace(" ", "").split(","):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.lower().partition(":") if entry.count(":") == 1 else (entry.lower(), "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False
