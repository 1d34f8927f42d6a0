"""A fault-injecting HTTP proxy in front of a live ``mlflow server``, on 127.0.0.1.

Every request is forwarded to the server; a hook sees each one first and may act (call the
server itself, as another client would) or choose a fault: forward the request and then answer
504 as a gateway whose upstream timed out would, or forward it and close the connection
without an answer, as a load balancer dropping a kept-alive connection does. Bounded: it stops
with its test.
"""

import http.client
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORWARD, FORWARD_THEN_504, FORWARD_THEN_DROP = "forward", "forward-then-504", "forward-then-drop"
REFUSE_503 = "refuse-503"  # answered at the gateway, never forwarded


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class FaultProxy:
    """``FaultProxy(server_url, hook)``; ``hook(method, path, body) -> FORWARD | FORWARD_THEN_504 | ...``.

    ``requests`` lists ``(method, path, fault)`` of every request seen."""

    def __init__(self, upstream: str, hook=None):
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream_host, self.upstream_port = parsed.hostname, parsed.port
        self.hook = hook or (lambda method, path, body: FORWARD)
        self.requests: list = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.hook(self.command, self.path, body)
                proxy.requests.append((self.command, self.path, fault))
                if fault == REFUSE_503:
                    status, headers, data = 503, {"Content-Type": "text/html"}, b"<html>503 Service Unavailable</html>"
                else:
                    status, headers, data = proxy.forward(self.command, self.path, dict(self.headers), body)
                if fault == FORWARD_THEN_DROP:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == FORWARD_THEN_504:
                    status, headers, data = 504, {"Content-Type": "text/html"}, b"<html>504 Gateway Time-out</html>"
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def forward(self, method: str, path: str, headers: dict, body: bytes):
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            connection.request(method, path, body=body or None, headers=headers)
            answer = connection.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            connection.close()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
