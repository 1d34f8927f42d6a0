"""The HTTP transport to a tracking server, against a scripted local HTTP server: credentials,
TLS, proxies, timeouts, retries, and the exit code of each failure (through the real CLI)."""

import json
import shutil
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import drain_pty, regctl

from regctl.backends.rest.client import Transport, Unconfirmed
from regctl.core.errors import AccessDenied, NoApi, NotFound, ServerUnreachable, StoreError

SEARCH = "/api/2.0/mlflow/registered-models/search"
EMPTY = (200, {"registered_models": []})


class _QuietServer(ThreadingHTTPServer):
    """A test server that never prints: a TLS handshake the client refuses (as it must, in the
    certificate tests) would otherwise print the server's traceback on this process's stderr,
    while an in-process regctl call has it captured as its own."""

    def handle_error(self, request, client_address):
        pass


class Scripted:
    """A local HTTP server answering from a script: each request pops the next answer.

    An answer is ``(status, json body)``, ``(status, bytes, headers)``, ``"drop"`` (close the
    connection without answering), ``("sleep", seconds)`` or ``("then-close", answer)`` (answer,
    then close the kept-alive connection without saying so). Requests are recorded."""

    def __init__(self, answers=(), tls=None):
        self.answers = list(answers)
        self.requests = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                script.requests.append({"method": self.command, "path": self.path,
                                        "headers": dict(self.headers), "body": body})
                answer = script.answers.pop(0) if script.answers else EMPTY
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    answer = EMPTY
                if isinstance(answer, tuple) and answer[0] == "then-close":  # as a keep-alive timeout does
                    self.close_connection = True
                    answer = answer[1]
                status, payload, *rest = answer
                headers = rest[0] if rest else {}
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    servers = []

    def start(answers=(), tls=None):
        server = Scripted(answers, tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


FAST = {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0", "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0"}


def one_line(result, code: int, *needles: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "" and result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1
    for needle in needles:
        assert needle in result.stderr, result.stderr
    return result.stderr


# ---------------------------------------------------------------- credentials

def test_basic_auth_bearer_token_and_user_agent(scripted, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.mlflow/credentials
    server = scripted()
    Transport(server.url, {"MLFLOW_TRACKING_USERNAME": "ada", "MLFLOW_TRACKING_PASSWORD": "s3cr:t",
                           "MLFLOW_TRACKING_TOKEN": "tok"}).request("GET", SEARCH)
    Transport(server.url, {"MLFLOW_TRACKING_TOKEN": "tok"}).request("GET", SEARCH)
    Transport(server.url, {}).request("GET", SEARCH)
    (tmp_path / ".mlflow").mkdir()
    (tmp_path / ".mlflow" / "credentials").write_text(
        "[mlflow]\nmlflow_tracking_username = file-user\nmlflow_tracking_password = file-pass\n")
    Transport(server.url, {}).request("GET", SEARCH)
    auth = [r["headers"].get("Authorization") for r in server.requests]
    assert auth == ["Basic YWRhOnMzY3I6dA==", "Bearer tok", None, "Basic ZmlsZS11c2VyOmZpbGUtcGFzcw=="]
    assert server.requests[0]["headers"]["User-Agent"].startswith("regctl/")


def test_unauthenticated_forbidden_and_not_an_api(scripted):
    server = scripted([(401, b"You are not authenticated.", {"WWW-Authenticate": 'Basic realm="mlflow"'}),
                       (403, {"error_code": "PERMISSION_DENIED", "message": "Permission denied"}),
                       (404, b"<html>Not Found</html>", {"Content-Type": "text/html"}),
                       (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Registered Model with name=x not found"}),
                       EMPTY,  # the listing a "did you mean" is drawn from
                       (500, {"error_code": "INTERNAL_ERROR", "message": "database is locked"})] * 1)
    one_line(regctl("models", store=server.url), 6, "401", "MLFLOW_TRACKING_USERNAME")
    one_line(regctl("models", store=server.url), 6, "403", "Permission denied")
    one_line(regctl("models", store=server.url), 7, "404", "not an MLflow tracking server API")
    one_line(regctl("describe", "x", store=server.url), 1, "registered model 'x' not found")
    one_line(regctl("models", store=server.url, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}), 4,
             "500", "database is locked")


# -------------------------------------------------------------------- retries

def test_retries_on_429_and_5xx_with_retry_after(scripted):
    server = scripted([(503, b"busy", {"Retry-After": "0"}), (429, {"error_code": "REQUEST_LIMIT_EXCEEDED"}),
                       (502, b"bad gateway"), EMPTY])
    transport = Transport(server.url, dict(FAST, MLFLOW_HTTP_REQUEST_MAX_RETRIES="3"))
    assert transport.request("GET", SEARCH).status == 200
    assert len(server.requests) == 4
    server.answers = [(500, b"x")] * 3
    with pytest.raises(StoreError, match="after 2 retries"):
        Transport(server.url, dict(FAST, MLFLOW_HTTP_REQUEST_MAX_RETRIES="2")).request("GET", SEARCH)
    server.answers = [(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad"})]
    count = len(server.requests)
    assert Transport(server.url, FAST).request("GET", SEARCH).status == 400  # not retried
    assert len(server.requests) == count + 1


def test_each_retry_is_told_to_notify_and_shown_on_a_terminal_and_in_a_log(scripted):
    server = scripted([(503, b"busy"), (502, b"bad gateway"), EMPTY])
    told = []
    transport = Transport(server.url, dict(FAST, MLFLOW_HTTP_REQUEST_MAX_RETRIES="3"), notify=told.append)
    assert transport.request("GET", SEARCH).status == 200
    assert len(told) == 2 and "503" in told[0] and "502" in told[1]
    assert all(f"retry {n} of 3 in 0 s (MLFLOW_HTTP_REQUEST_MAX_RETRIES)" in m for n, m in zip((1, 2), told))

    # a person at a terminal and a CI log both see why regctl waits, one line per retry
    import os
    import pty
    import sys

    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    env.update(FAST, MLFLOW_HTTP_REQUEST_MAX_RETRIES="2")
    for command in (["models"], ["resolve", "models:/m/1"]):  # the full CLI, and resolve's fast path
        master, slave = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "regctl", "--store", url, *command],
                                   stdout=subprocess.PIPE, stderr=slave, env=env)
        os.close(slave)
        shown = drain_pty(master).decode().replace("\r\n", "\n").splitlines()
        assert process.wait() == 5 and process.stdout.read() == b""
        refused = f"regctl: cannot reach the MLflow server at {url}: connection refused"
        assert shown == [f"{refused}; retry 1 of 2 in 0 s (MLFLOW_HTTP_REQUEST_MAX_RETRIES)",
                         f"{refused}; retry 2 of 2 in 0 s (MLFLOW_HTTP_REQUEST_MAX_RETRIES)",
                         f"{refused} (after 2 retries; MLFLOW_HTTP_REQUEST_MAX_RETRIES)"], shown
        piped = regctl(*command, store=url, env=dict(FAST, MLFLOW_HTTP_REQUEST_MAX_RETRIES="2"), process=True)
        assert piped.returncode == 5 and piped.stdout == "" and piped.stderr.splitlines() == shown, piped.stderr


@pytest.mark.parametrize("url", ["refused", "http://regctl-no-such-host.invalid"])
def test_an_unreachable_server_fails_within_30_seconds_and_says_each_retry(url):
    """With MLflow's default retry settings (7 retries, factor 2), a server nothing listens on, or a
    host that does not resolve, is given up within 30 s, each retry announced in the (piped) log."""
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}" if url == "refused" else url
    started = time.monotonic()
    result = regctl("models", store=url, process=True)
    elapsed = time.monotonic() - started
    assert result.returncode == 5 and result.stdout == "", result.stderr
    lines = result.stderr.splitlines()
    assert elapsed < 30, (elapsed, lines)
    assert len(lines) >= 3 and all(line.startswith("regctl: cannot reach the MLflow server") for line in lines)
    assert all(f"; retry {n} of 7 in " in line for n, line in enumerate(lines[:-1], 1)), lines
    assert "(after " in lines[-1] and "retries; MLFLOW_HTTP_REQUEST_MAX_RETRIES)" in lines[-1], lines


def test_mlflows_retry_variables_keep_their_meaning_for_an_unreachable_server():
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3"}
    assert Transport(url, env).unreachable_budget is None
    assert Transport(url, {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "4"}).unreachable_budget is None
    assert Transport(url, {}).unreachable_budget is not None
    transport = Transport(url, dict(env, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="0", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER="0"))
    with pytest.raises(ServerUnreachable, match=r"connection refused \(after 3 retries"):
        transport.request("GET", SEARCH)


def test_backoff_schedule_follows_mlflow():
    transport = Transport("http://127.0.0.1:1", {"MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0"})
    assert transport.max_retries == 7 and transport.timeout == 120
    assert [transport._backoff(n) for n in range(1, 9)] == [0, 4, 8, 16, 32, 64, 120, 120]


def test_a_lost_answer_is_retried_for_reads_only(scripted):
    server = scripted(["drop", EMPTY])
    assert Transport(server.url, FAST).request("GET", SEARCH).status == 200
    server.answers = ["drop", EMPTY]
    count = len(server.requests)
    with pytest.raises(Unconfirmed, match="closed the connection.*whether the server made the change is unknown") as lost:
        Transport(server.url, FAST).request("POST", "/api/2.0/mlflow/model-versions/create", json_body={})
    assert len(server.requests) == count + 1  # never sent twice: the version may have been created
    assert isinstance(lost.value.error, ServerUnreachable) and lost.value.exit_code == 5


def test_timeout(scripted):
    server = scripted([("sleep", 3)])
    result = regctl("models", store=server.url, env={"MLFLOW_HTTP_REQUEST_TIMEOUT": "1",
                                                     "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    one_line(result, 5, "timed out after 1 s", "MLFLOW_HTTP_REQUEST_TIMEOUT")


# ---------------------------------------------------------------------- proxy

def test_http_proxy_and_no_proxy(scripted):
    proxy, direct = scripted(), scripted()
    env = {"HTTP_PROXY": proxy.url}
    Transport("http://registry.internal:5000/prefix", env).request("GET", SEARCH, params={"max_results": 5})
    assert proxy.requests[-1]["path"] == f"http://registry.internal:5000/prefix{SEARCH}?max_results=5"
    Transport(direct.url, dict(env, NO_PROXY="localhost,127.0.0.1")).request("GET", SEARCH)
    assert direct.requests[-1]["path"] == SEARCH and len(proxy.requests) == 1
    Transport(direct.url, {"http_proxy": proxy.url, "no_proxy": "*"}).request("GET", SEARCH)
    assert len(direct.requests) == 2
    # through the CLI: the proxy answers for the server
    result = regctl("models", "--json", store="http://registry.internal:5000", env={"HTTP_PROXY": proxy.url})
    assert result.returncode == 0 and json.loads(result.stdout) == []


# ------------------------------------------------------------------------ TLS

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_tls_verification_insecure_and_server_cert(scripted, certificate):
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server = scripted([EMPTY] * 3, tls=context)
    one_line(regctl("models", store=server.url, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}), 5,
             "not trusted", "MLFLOW_TRACKING_SERVER_CERT_PATH")
    for env in ({"MLFLOW_TRACKING_INSECURE_TLS": "true"}, {"MLFLOW_TRACKING_SERVER_CERT_PATH": str(cert)}):
        result = regctl("models", "--json", store=server.url, env=env)
        assert result.returncode == 0 and json.loads(result.stdout) == [], result.stderr


def test_transport_errors_are_typed():
    with pytest.raises(ServerUnreachable, match="connection refused"):
        Transport("http://127.0.0.1:9", {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}).request("GET", SEARCH)
    assert issubclass(AccessDenied, StoreError) and AccessDenied.exit_code == 6
    assert NoApi.exit_code == 7 and ServerUnreachable.exit_code == 5 and NotFound.exit_code == 1


def test_credentials_in_the_url_are_used_but_never_shown(scripted):
    server = scripted([(302, b"", {"Location": "https://elsewhere/api"})])
    url = server.url.replace("http://", "http://ada:pa%24%24@")
    result = regctl("models", store=url)
    one_line(result, 4, "redirects", "https://elsewhere/api")
    assert "pa$$" not in result.stderr and "pa%24%24" not in result.stderr and "ada" not in result.stderr
    assert server.requests[0]["headers"]["Authorization"] == "Basic YWRhOnBhJCQ="


def test_client_certificate(scripted, certificate, tmp_path):
    cert, key = certificate
    client_cert, client_key = tmp_path / "client.pem", tmp_path / "client.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=regctl-client",
                    "-keyout", str(client_key), "-out", str(client_cert)], check=True, capture_output=True)
    bundle = tmp_path / "client-bundle.pem"  # one PEM with the certificate and its key, as requests takes it
    bundle.write_bytes(client_cert.read_bytes() + client_key.read_bytes())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(str(client_cert))
    server = scripted([EMPTY] * 2, tls=context)
    env = {"MLFLOW_TRACKING_SERVER_CERT_PATH": str(cert), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    refused = regctl("models", store=server.url, env=env)
    assert refused.returncode == 5 and refused.stderr.count("\n") == 1
    result = regctl("models", "--json", store=server.url, env=dict(env, MLFLOW_TRACKING_CLIENT_CERT_PATH=str(bundle)))
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stderr


# ------------------------------------------------------------ hostile servers

def test_a_search_whose_pages_never_end_stops(scripted):
    same = (200, {"registered_models": [{"name": "a"}], "next_page_token": "same"})
    server = scripted([same] * 3)
    one_line(regctl("models", store=server.url), 4, server.url, "GET /api/2.0/mlflow/registered-models/search",
             "next_page_token it sent before")
    assert len(server.requests) == 2
    server.answers = [(200, {"registered_model": {"name": "a"}})] + \
        [(200, {"model_versions": [{"name": "a", "version": "1"}], "next_page_token": 12})] * 3
    one_line(regctl("versions", "a", store=server.url), 4, "GET /api/2.0/mlflow/model-versions/search",
             "next_page_token is 12, not text")


DEEP = b'{"registered_models":' + b"[" * 100000 + b"]" * 100000 + b"}"
MISSHAPEN = [
    (["models"], [(200, b"null")], "registered-models/search", "the answer is null, not an object"),
    (["models"], [(200, b"[1, 2, 3]")], "registered-models/search", "the answer is an array, not an object"),
    (["describe", "a"], [(200, {})], "registered-models/get", "registered_model is missing"),
    (["describe", "a"], [(200, {"registered_model": {"name": ["x"]}})], "registered-models/get",
     "registered_model.name is an array, not text"),
    (["versions", "a"], [(200, {"registered_model": {"name": "a"}}),
                         (200, {"model_versions": [{"name": "a", "version": "abc"}]})],
     "model-versions/search", 'model_versions[0].version is "abc", not a version number'),
    (["models"], [(200, {"registered_models": [{"name": "a", "latest_versions": "x", "tags": {"a": 1}}]})],
     "registered-models/search", 'registered_models[0].tags is an object, not an array'),
    (["models"], [(200, b'{"registered_models": [{"name": "a", "creation_timestamp": NaN}]}')],
     "registered-models/search", "NaN is not a number"),
    (["models"], [(200, b'{"registered_models": [{"name": "a", "last_updated_timestamp": 1e400}]}')],
     "registered-models/search", "1e400 is too large a number"),
    (["models"], [(200, {"registered_models": [{"name": "a", "creation_timestamp": 10 ** 30}]})],
     "registered-models/search", "not a 64-bit integer"),
    (["models"], [(200, DEEP)], "registered-models/search", "nested too deeply"),
    (["resolve", "models:/a/1"], [(200, {"registered_model": {"name": "a"}}), (200, {"model_version": 4})],
     "model-versions/get", "model_version is 4, not an object"),
    (["describe", "a", "--version", "1"], [(200, {"registered_model": {"name": "a"}}),
                                           (200, {"model_version": {"name": "a", "version": "1", "tags": 3}})],
     "model-versions/get", "model_version.tags is 3, not an array"),
]


@pytest.mark.parametrize("command, answers, endpoint, reason", MISSHAPEN, ids=[case[3] for case in MISSHAPEN])
def test_an_answer_of_the_wrong_shape_is_one_line(scripted, command, answers, endpoint, reason):
    server = scripted(answers)
    one_line(regctl(*command, store=server.url), 4,
             f"the server at {server.url} answered GET /api/2.0/mlflow/{endpoint} with ", reason)


BAD_SETTINGS = [
    ({}, "http://[::1", "invalid server URL 'http://[::1'"),
    ({"HTTP_PROXY": "http://[::1"}, None, "HTTP_PROXY='http://[::1' is not a proxy URL"),
    ({"HTTP_PROXY": "http://\udcff:1"}, None, "HTTP_PROXY='http://\\udcff:1' is not a proxy URL: not UTF-8 text"),
    ({"MLFLOW_TRACKING_USERNAME": "\udcff", "MLFLOW_TRACKING_PASSWORD": "x"}, None,
     "MLFLOW_TRACKING_USERNAME is not UTF-8 text"),
    ({"MLFLOW_TRACKING_TOKEN": "a\nb"}, None, "MLFLOW_TRACKING_TOKEN holds characters an HTTP header cannot carry"),
]


@pytest.mark.parametrize("env, store, needle", BAD_SETTINGS, ids=[case[2][:30] for case in BAD_SETTINGS])
def test_a_bad_server_url_proxy_or_credential_is_bad_input(scripted, env, store, needle):
    server = scripted()
    for command in (["models"], ["resolve", "models:/a/1"]):  # the full CLI, and resolve's fast path
        result = regctl(*command, store=store or server.url, env=env, process=True)  # a real, non-UTF-8 environment
        one_line(result, 2, needle)
    assert server.requests == []


def test_proxy_credentials_are_sent_to_an_http_proxy(scripted):
    """``HTTP_PROXY=http://user:pass@proxy:port``: an authenticating proxy answers 407 without them,
    as MLflow's client (requests) sends them."""
    import base64
    import http.client
    import threading
    import urllib.parse
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    upstream = scripted([EMPTY])
    seen = []
    expected = "Basic " + base64.b64encode(b"ada:pa$$").decode()

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.headers.get("Proxy-Authorization"))
            if self.headers.get("Proxy-Authorization") != expected:
                self.send_response(407)
                self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            target = urllib.parse.urlsplit(self.path)
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
            connection.request("GET", target.path + ("?" + target.query if target.query else ""))
            answer = connection.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        url = f"http://ada:pa%24%24@127.0.0.1:{proxy.server_address[1]}"
        result = regctl("models", "--json", store=upstream.url, env={"HTTP_PROXY": url, "NO_PROXY": ""})
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stderr
    assert seen == [expected] and upstream.requests


# ---------------------------------------------------------------- searches

def _versions_of(names):
    return [{"name": n, "version": "1", "current_stage": "None", "source": "s"} for n in names]


def test_a_search_over_hundreds_of_models_reads_their_aliases_from_model_pages(scripted):
    """250 models: their aliases from registered-models/search pages (at most 2, stopping once all
    are found), a model the pages lack (a prompt) from registered-models/get; a few models: gets."""
    from regctl.api import Registry

    names = [f"m{i:03d}" for i in range(250)]
    page_one = [{"name": n, "aliases": [{"alias": "a", "version": "1"}] if n == "m007" else []} for n in names[:200]]
    page_two = [{"name": n} for n in names[200:249]]
    server = scripted([(200, {"model_versions": _versions_of(names)}),
                       (200, {"registered_models": page_one, "next_page_token": "t1"}),
                       (200, {"registered_models": page_two}),
                       (200, {"registered_model": {"name": "m249", "aliases": [{"alias": "b", "version": "1"}]}})])
    found = Registry(server.url).search_versions(max_results=1000)
    assert [(v.name, v.aliases) for v in found][6:8] == [("m006", ()), ("m007", ("a",))]
    assert found[-1].aliases == ("b",)
    paths = [r["path"].split("?")[0].rsplit("/", 2)[-2:] for r in server.requests]
    assert paths == [["model-versions", "search"], ["registered-models", "search"], ["registered-models", "search"],
                     ["registered-models", "get"]]
    assert "page_token=t1" in server.requests[2]["path"]

    server = scripted([(200, {"model_versions": _versions_of(["p", "q"])}),
                       (200, {"registered_model": {"name": "p", "aliases": [{"alias": "c", "version": "1"}]}}),
                       (200, {"registered_model": {"name": "q"}})])
    found = Registry(server.url).search_versions(max_results=1000)
    assert [(v.name, v.aliases) for v in found] == [("p", ("c",)), ("q", ())]
    assert [r["path"].split("?")[0].rsplit("/", 1)[-1] for r in server.requests] == ["search", "get", "get"]


def test_a_change_is_never_sent_on_a_connection_the_server_closed_while_idle(scripted):
    """A server that closes idle kept-alive connections (uvicorn after 5 s): the next POST goes on a
    new connection and is made, instead of being lost on the closed one (whether made: unknown)."""
    server = scripted([("then-close", EMPTY), (200, {"registered_model": {"name": "m"}})])
    transport = Transport(server.url, FAST)
    assert transport.request("GET", SEARCH).status == 200
    time.sleep(0.3)  # the server's end of the connection is closed meanwhile
    made = transport.request("POST", "/api/2.0/mlflow/registered-models/create", json_body={"name": "m"})
    assert made.status == 200 and [r["method"] for r in server.requests] == ["GET", "POST"]
