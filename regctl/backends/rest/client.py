"""HTTP transport to an MLflow tracking server, with the standard library's ``http.client``.

Imported only when the store is an ``http://`` or ``https://`` URL. It behaves
like MLflow's own client (``mlflow.utils.rest_utils``), reading the same
environment variables:

* ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (HTTP basic; also the
  ``[mlflow]`` section of ``~/.mlflow/credentials``), else ``MLFLOW_TRACKING_TOKEN``
  (bearer);
* ``MLFLOW_TRACKING_INSECURE_TLS`` (no certificate check),
  ``MLFLOW_TRACKING_SERVER_CERT_PATH`` (CA bundle), ``MLFLOW_TRACKING_CLIENT_CERT_PATH``
  (client certificate, PEM with its key);
* ``MLFLOW_HTTP_REQUEST_TIMEOUT`` (seconds, default 120),
  ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` (default 7),
  ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`` (default 2),
  ``MLFLOW_HTTP_REQUEST_BACKOFF_JITTER`` (default 1.0);
* ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (and their lower-case forms).

Retries follow urllib3's schedule as MLflow configures it: connection failures
and the statuses 408, 429, 500, 502, 503 and 504 are retried, the n-th retry
after ``factor * 2**(n-1)`` seconds (the first at once) plus up to ``jitter``
seconds, at most 120 seconds, or after ``Retry-After`` when a 429 or 503 sends
one; with neither variable set, a refused connection or unknown host is given up
after ``UNREACHABLE_BUDGET`` seconds. A request that reached the server and lost its
answer is retried only if it is idempotent (not a POST), so a version is never created twice.

The URL, the proxy and the credentials are checked before any request: a value
``http.client`` cannot send (a bad port or IPv6 address, bytes that are not UTF-8, a
newline in a header) is bad input naming its variable. Every failure becomes one of
regctl's typed errors with a one-line message.
"""

import http.client
import json
import os
import random
import socket
import ssl
import threading
import time
from typing import Any, Callable, Mapping, Optional
from urllib.parse import quote, unquote, urlencode

from regctl import __version__
from regctl.backends.rest.answers import Unreadable, decode, excerpt
from regctl.backends.rest.settings import (
    _authorization,
    _basic,
    _bypass_proxy,
    _env_float,
    _env_int,
    _env_true,
    _split,
)
from regctl.core.errors import (
    AccessDenied,
    Conflict,
    InvalidInput,
    NoApi,
    NotFound,
    ServerUnreachable,
    StoreError,
)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({413, 429, 503})


class Unconfirmed(StoreError):
    """A request that changes something may have reached the server and no answer says whether it
    took effect (a gateway's 5xx, a connection closed before the answer): the caller asks the
    server's state; where it cannot, this is the error, with the failure's own exit code."""
    def __init__(self, error: Exception):
        message = getattr(error, "message", str(error))
        super().__init__(f"{message}; whether the server made the change is unknown: check before running it again")
        self.error = error
        self.exit_code = getattr(error, "exit_code", self.exit_code)


MAX_BACKOFF = 120.0
UNREACHABLE_BUDGET = 20.0  # seconds of retries for a server nothing listens on (default settings)
_CHUNK = 1 << 20

#: MLflow's error codes, as regctl's errors.
_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}
_CONFLICT_CODES = {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS", "RESOURCE_CONFLICT", "ABORTED"}
_INVALID_CODES = {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE", "MALFORMED_REQUEST",
                  "INVALID_STATE_TRANSITION", "RESOURCE_LIMIT_EXCEEDED", "MAX_BLOCK_SIZE_EXCEEDED"}
_DENIED_CODES = {"PERMISSION_DENIED", "UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED"}


class Response:
    __slots__ = ("status", "reason", "headers", "body")

    def __init__(self, status: int, reason: str, headers: Mapping[str, str], body: bytes):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body


class Transport:
    """One tracking server: its base URL, credentials, TLS, proxy, timeout and retry policy."""

    def __init__(self, url: str, environ: Mapping[str, str] = os.environ,
                 notify: Optional[Callable[[str], None]] = None):
        self.notify = notify  # told, in one line, each time a failed request is about to be retried
        parts = _split(url, f"invalid server URL {url!r}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"invalid server URL {url!r}: expected http://HOST[:PORT][/PATH] or https://...")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.base_path = quote(parts.path.rstrip("/"), safe="/%:@!$&'()*+,;=~")
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        if parts.port:
            netloc += f":{parts.port}"
        self.netloc = netloc
        # for messages and the journal: never the credentials of http://user:password@host
        self.url = f"{self.scheme}://{netloc}{self.base_path}"
        self.timeout = _env_int(environ, "MLFLOW_HTTP_REQUEST_TIMEOUT", 120)
        self.max_retries = max(0, _env_int(environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7))
        self.backoff_factor = max(0.0, _env_float(environ, "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2))
        # MLflow's defaults give a refused connection or an unknown host UNREACHABLE_BUDGET seconds
        set_by_user = any(environ.get(f"MLFLOW_HTTP_REQUEST_{n}", "").strip() for n in ("MAX_RETRIES", "BACKOFF_FACTOR"))
        self.unreachable_budget: Optional[float] = None if set_by_user else UNREACHABLE_BUDGET
        self.backoff_jitter = max(0.0, _env_float(environ, "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1.0))
        self.respect_retry_after = environ.get("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", "true").lower() in ("true", "1")
        self.headers = {"User-Agent": f"regctl/{__version__}", "Accept": "application/json"}
        authorization = _authorization(environ, parts)
        if authorization:
            self.headers["Authorization"] = authorization
        self._ssl = self._ssl_context(environ) if self.scheme == "https" else None
        self._proxy = self._proxy_of(environ)
        if self._proxy is not None and self._proxy[2] and self.scheme == "http":
            # a plain-HTTP proxy reads each request itself (an https:// server's goes in the CONNECT)
            self.headers["Proxy-Authorization"] = self._proxy[2]
        # one kept-alive connection per thread: push moves files on several threads at once
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: dict = {}  # thread id -> its connection, for halt_others and close_others
        self._halted_by: Optional[int] = None

    # ------------------------------------------------------------- connection

    def _ssl_context(self, environ) -> ssl.SSLContext:
        cafile = environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None
        try:
            context = ssl.create_default_context(cafile=cafile)
            if _env_true(environ, "MLFLOW_TRACKING_INSECURE_TLS") and not cafile:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            client_cert = environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH")
            if client_cert:
                context.load_cert_chain(client_cert)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInput(f"cannot load the TLS certificates: {getattr(exc, 'strerror', None) or exc}") from None
        return context

    def _via(self) -> str:  # a failure to connect through a proxy is the proxy's: named
        return "" if self._proxy is None else f" through the proxy {self._proxy[0]}:{self._proxy[1]}"

    def _proxy_of(self, environ):
        """(host, port, auth header) of the proxy for this server, or None."""
        no_proxy = environ.get("NO_PROXY", environ.get("no_proxy", ""))
        if no_proxy and _bypass_proxy(self.host, self.port, no_proxy):
            return None
        names = ("HTTPS_PROXY", "https_proxy") if self.scheme == "https" else ("HTTP_PROXY", "http_proxy")
        name = next((n for n in (*names, "ALL_PROXY", "all_proxy") if environ.get(n)), None)
        if name is None:
            return None
        value = environ[name]
        proxy = _split(value if "://" in value else "http://" + value, f"{name}={value!r} is not a proxy URL")
        if not proxy.hostname:
            return None
        auth = _basic(unquote(proxy.username), unquote(proxy.password or "")) if proxy.username else None
        return proxy.hostname, proxy.port or (443 if proxy.scheme == "https" else 80), auth

    @property
    def _conn(self):
        return getattr(self._local, "conn", None)

    def _connection(self):
        if self._conn is not None:
            return self._conn
        if self._proxy is not None:
            proxy_host, proxy_port, auth = self._proxy
            if self.scheme == "https":
                conn = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=self.timeout, context=self._ssl)
                conn.set_tunnel(self.host, self.port, headers={"Proxy-Authorization": auth} if auth else None)
            else:
                conn = http.client.HTTPConnection(proxy_host, proxy_port, timeout=self.timeout)
        elif self.scheme == "https":
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.connect()
        try:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self._local.conn = conn
        with self._lock:
            stale = self._open.pop(threading.get_ident(), None)  # a thread id is reused once its thread ended
            self._open[threading.get_ident()] = conn
        if stale is not None:
            stale.close()
        return conn

    def close(self) -> None:
        """Close this thread's connection (the next request opens another)."""
        conn = self._conn
        if conn is not None:
            self._local.conn = None
            with self._lock:
                if self._open.get(threading.get_ident()) is conn:
                    del self._open[threading.get_ident()]
            conn.close()

    def halt_others(self) -> None:
        """End the requests other threads have under way (their connections are shut) and refuse
        their next ones until ``close_others``: a command that is ending (an error, Ctrl-C) does not
        wait for its helper threads' transfers, nor let them retry."""
        me = threading.get_ident()
        self._halted_by = me
        with self._lock:
            others = [conn for ident, conn in self._open.items() if ident != me]
        for conn in others:
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close_others(self) -> None:
        """Close the connections of the other threads, which are done with them; requests are allowed again."""
        me = threading.get_ident()
        with self._lock:
            others = [ident for ident in self._open if ident != me]
            closing = [self._open.pop(ident) for ident in others]
        for conn in closing:
            conn.close()
        self._halted_by = None

    def _check_halted(self) -> None:
        halted = self._halted_by
        if halted is not None and halted != threading.get_ident():
            raise StoreError(f"a request to {self.url} was stopped: the command is ending")

    def target(self, path: str, params: Optional[Mapping] = None) -> str:
        """The request target for an API path (``/api/2.0/...``), with the URL's own path prefix."""
        full = self.base_path + path
        if params:
            full += "?" + urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
        if self._proxy is not None and self.scheme == "http":
            return f"http://{self.netloc}{full}"
        return full

    # ---------------------------------------------------------------- request

    def request(self, method: str, path: str, *, params: Optional[Mapping] = None, json_body=None,
                data: Optional[bytes] = None, file_path: Optional[str] = None,
                headers: Optional[Mapping[str, str]] = None,
                sink: Optional[Callable[[bytes], None]] = None, idempotent: Optional[bool] = None) -> Response:
        """Send one request with retries; the body of a 2xx answer goes to ``sink`` when given.

        The request body is ``json_body`` (JSON), ``data`` (bytes) or the file at ``file_path``.
        A request that is not ``idempotent`` (by default a POST or a DELETE) is sent again only
        when it certainly did not reach the server, or the server said it did not act on it (408,
        429); after anything else it raises Unconfirmed.
        """
        send_headers = dict(self.headers)
        body = data
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            send_headers["Content-Type"] = "application/json"
        if headers:
            send_headers.update(headers)
        target = self.target(path, params)
        if idempotent is None:
            idempotent = method not in ("POST", "DELETE")
        failures = 0
        started = time.monotonic()
        while True:
            self._check_halted()
            try:
                return self._once(method, target, body, file_path, send_headers, sink)
            except _Retryable as retry:
                self._check_halted()
                if not idempotent and (retry.sent or retry.stale or (retry.status or 0) >= 500):
                    raise Unconfirmed(retry.error) from None
                if retry.stale:  # a kept-alive connection the server had closed: not a failure
                    continue
                failures += 1
                delay = retry.delay if retry.delay is not None else self._backoff(failures)
                over_budget = retry.unreachable and time.monotonic() - started + delay > (self.unreachable_budget or 1e9)
                if failures > self.max_retries or (retry.sent and not idempotent) or over_budget:
                    error: Any = retry.error
                    if failures > 1:
                        error.message += f" (after {failures - 1} retries; MLFLOW_HTTP_REQUEST_MAX_RETRIES)"
                        error.args = (error.message,)
                    raise error from None
                if self.notify is not None:
                    self.notify(f"{getattr(retry.error, 'message', retry.error)}; retry {failures} of "
                                f"{self.max_retries} in {delay:.0f} s (MLFLOW_HTTP_REQUEST_MAX_RETRIES)")
                time.sleep(delay)

    def _backoff(self, failures: int) -> float:
        if failures <= 1:
            return 0.0
        delay = self.backoff_factor * (2 ** (failures - 1))
        if self.backoff_jitter:
            delay += random.random() * self.backoff_jitter
        return max(0.0, min(MAX_BACKOFF, delay))

    def _once(self, method, target, body, file_path, headers, sink) -> Response:
        if self._conn is not None and _dropped(self._conn):
            self.close()  # closed by the server while idle (a keep-alive timeout): never send on it
        reused = self._conn is not None
        try:
            conn = self._connection()
        except ssl.SSLCertVerificationError as exc:
            raise ServerUnreachable(f"TLS certificate of {self.url} not trusted: {exc.verify_message or exc} "
                                    "(set MLFLOW_TRACKING_SERVER_CERT_PATH, or MLFLOW_TRACKING_INSECURE_TLS=true)") from None
        except ssl.SSLError as exc:
            raise ServerUnreachable(f"TLS handshake with {self.url} failed: {exc.reason or exc}") from None
        except socket.gaierror as exc:
            raise _Retryable(ServerUnreachable(f"cannot reach the MLflow server at {self.url}{self._via()}: unknown host "
                                               f"{(self._proxy or (self.host,))[0]!r} ({exc.strerror or exc})"),
                             sent=False, unreachable=True) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Retryable(ServerUnreachable(f"cannot reach the MLflow server at {self.url}{self._via()}: "
                                               f"{_os_reason(exc, self.timeout)}"), sent=False,
                             unreachable=isinstance(exc, ConnectionRefusedError)) from None
        handle = None
        answered = streamed = False
        try:
            if file_path is not None:
                handle = open(file_path, "rb")
                headers = dict(headers, **{"Content-Length": str(os.fstat(handle.fileno()).st_size)})
                conn.request(method, target, body=handle, headers=headers)
            else:
                conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            answered = True
            status = response.status
            if 200 <= status < 300 and sink is not None:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    streamed = True
                    sink(chunk)
                data = b""
            else:
                data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            if handle is not None and getattr(exc, "filename", None) == file_path:
                raise StoreError(f"cannot read {file_path}: {getattr(exc, 'strerror', None) or exc}") from None
            self.close()
            if streamed:  # part of the body went to the sink already: a retry would repeat it
                raise ServerUnreachable(f"the MLflow server at {self.url} broke off an answer: "
                                        f"{_os_reason(exc, self.timeout)}") from None
            if reused and not answered and isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError,
                                                            BrokenPipeError)):
                # a kept-alive connection the server had closed: try again at once, on a new one
                raise _Retryable(ServerUnreachable(f"the MLflow server at {self.url} closed the connection"),
                                 sent=False, stale=True) from None
            if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
                message = f"the MLflow server at {self.url} closed the connection: {_os_reason(exc, self.timeout)}"
            elif isinstance(exc, http.client.HTTPException):
                message = f"bad answer from the MLflow server at {self.url}: {type(exc).__name__} {exc}"
            else:
                message = f"no answer from the MLflow server at {self.url}: {_os_reason(exc, self.timeout)}"
            raise _Retryable(ServerUnreachable(message), sent=True) from None
        finally:
            if handle is not None:
                handle.close()
        response_headers = {k.lower(): v for k, v in response.getheaders()}
        if response.will_close:
            self.close()
        result = Response(status, response.reason, response_headers, data)
        if status in RETRY_STATUSES:
            delay = None
            if self.respect_retry_after and status in RETRY_AFTER_STATUSES:
                delay = _retry_after(response_headers.get("retry-after"))
            raise _Retryable(http_error(result, self.url, method, target), sent=False, delay=delay, status=status)
        return result


class _Retryable(Exception):
    def __init__(self, error: Exception, *, sent: bool, delay: Optional[float] = None, stale: bool = False,
                 status: Optional[int] = None, unreachable: bool = False):
        super().__init__(str(error))
        self.error, self.sent, self.delay, self.stale, self.status = error, sent, delay, stale, status
        self.unreachable = unreachable  # refused or not resolved: nothing listens there


def _dropped(conn) -> bool:
    """Whether a kept-alive connection was closed by the server: an idle socket with something to
    read has its end-of-file (or bytes no request asked for). A request that changes something sent
    on it would be lost with no way to tell whether it was made."""
    import select

    sock = conn.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return max(0.0, min(MAX_BACKOFF, float(value)))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, min(MAX_BACKOFF, parsedate_to_datetime(value).timestamp() - time.time()))
        except (TypeError, ValueError):
            return None


def _os_reason(exc: BaseException, timeout) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"timed out after {timeout} s (MLFLOW_HTTP_REQUEST_TIMEOUT)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def error_payload(response: Response) -> "tuple[Optional[str], Optional[str]]":
    """MLflow's ``(error_code, message)`` from an error answer, or (None, None)."""
    try:
        data = decode(response.body)
    except Unreadable:
        return None, None
    if not isinstance(data, dict):
        return None, None
    code, message = data.get("error_code"), data.get("message")
    return (code if isinstance(code, str) else None), (message if isinstance(message, str) else None)


def http_error(response: Response, url: str, method: str, target: str) -> Exception:
    """The regctl error for a failed answer."""
    code, message = error_payload(response)
    what = f"HTTP {response.status} {response.reason}".strip()
    endpoint = target.split("?", 1)[0]
    if response.status == 401 or code == "UNAUTHENTICATED":
        return AccessDenied(f"{url}: {what}: {message or 'authentication required'} "
                            "(set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN)")
    if response.status == 403 or code in _DENIED_CODES:
        return AccessDenied(f"{url}: {what}: {message or 'permission denied'}")
    if response.status in (301, 302, 303, 307, 308):
        location = response.headers.get("location", "")
        return StoreError(f"{url}: {what}: the server redirects {method} {endpoint} to {location or 'elsewhere'}; "
                          "use the URL it redirects to as the store")
    if code in _NOT_FOUND_CODES:
        return NotFound(message or f"not found: {endpoint}")
    if response.status == 404 or code == "ENDPOINT_NOT_FOUND":
        return NoApi(f"{url}: {what} for {method} {endpoint}: not an MLflow tracking server API "
                     "(check the URL, and that the server serves this API)")
    if code in _CONFLICT_CODES:
        return Conflict(message or what)
    if code in _INVALID_CODES:
        return InvalidInput(message or what)
    detail = message or (excerpt(response.body) if response.body.strip() else "")
    return StoreError(f"{url}: {what} for {method} {endpoint}" + (f": {detail}" if detail else ""))


def quote_path(path: str) -> str:
    """Percent-encode an artifact path for a URL, keeping '/'."""
    return quote(path, safe="/")
