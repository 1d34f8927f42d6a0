"""A compromised or broken tracking server never makes regctl read, copy or walk without end on
this machine. The server here is scripted (a local HTTP server answering as a hostile one
would); each test checks the one line regctl says and that nothing local was read or written."""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import regctl, snapshot

MODEL = {"name": "m", "creation_timestamp": 1, "last_updated_timestamp": 1, "aliases": []}


def version(location: str) -> dict:
    return {"name": "m", "version": "1", "creation_timestamp": 1, "last_updated_timestamp": 1,
            "current_stage": "None", "source": location, "run_id": "", "status": "READY"}


class HostileServer(ThreadingHTTPServer):
    """Answers registry reads for one model ``m`` whose version 1 lives at ``location``; artifact
    listings answer every directory with one more directory inside it, without end."""

    daemon_threads = True

    def __init__(self, location: str):
        self.location, self.listings = location, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                path = url.path
                if path.endswith("/registered-models/search"):
                    body = {"registered_models": [MODEL]}
                elif path.endswith("/registered-models/get"):
                    body = {"registered_model": MODEL}
                elif path.endswith("/model-versions/search"):
                    body = {"model_versions": [version(server.location)]}
                elif path.endswith("/model-versions/get"):
                    body = {"model_version": version(server.location)}
                elif path.endswith("/model-versions/get-download-uri"):
                    body = {"artifact_uri": server.location}
                elif path.endswith(".regctl-manifest.json"):  # a digest to check the files against
                    body = {"algorithm": "sha256", "digest": "sha256:" + "0" * 64, "files": {"MLmodel": "0" * 64}}
                elif path.endswith("/mlflow-artifacts/artifacts"):
                    server.listings += 1
                    asked = query.get("path", [""])[0]
                    body = {"files": [{"path": f"{asked}/d".lstrip("/"), "is_dir": True}]}
                else:
                    self._send(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "not found"})
                    return
                self._send(200, body)

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request, client_address):
        pass


@pytest.fixture
def hostile():
    servers = []

    def start(location):
        servers.append(HostileServer(location))
        return servers[-1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def secrets(tmp_path):
    """A local directory a compromised server would like copied: a fake ~/.ssh."""
    directory = tmp_path / "home" / ".ssh"
    directory.mkdir(parents=True)
    (directory / "id_ed25519").write_text("PRIVATE KEY\n")
    (directory / "MLmodel").write_text("flavors: {}\n")
    return directory


def test_push_never_uploads_a_local_directory_a_server_names(hostile, secrets, tmp_path):
    server = hostile(secrets.as_uri())
    target = tmp_path / "target" / "mlruns"
    result = regctl("push", "--from", server.url, "--to", target, env={"XDG_STATE_HOME": str(tmp_path / "s")})
    assert result.returncode == 4, result
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    assert "artifact proxy" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    copied = [p for p in (tmp_path / "target").rglob("*") if p.is_file()] if (tmp_path / "target").exists() else []
    assert not any(p.read_bytes() == b"PRIVATE KEY\n" for p in copied)


def test_download_and_verify_never_read_a_local_directory_a_server_names(hostile, secrets, tmp_path):
    server = hostile(secrets.as_uri())
    before = snapshot(secrets.parent)
    dest = tmp_path / "out"
    downloaded = regctl("download", "models:/m/1", dest, store=server.url)
    assert downloaded.returncode == 4 and "artifact proxy" in downloaded.stderr, downloaded
    assert not dest.exists()
    resolved = regctl("resolve", "models:/m/1", store=server.url)
    assert resolved.stdout != f"{secrets}\n"  # the server's location is named as the server's, never read here
    assert snapshot(secrets.parent) == before


@pytest.mark.parametrize("command", [("download", "models:/m/1", "DEST"), ("verify", "models:/m/1")])
def test_an_endless_artifact_listing_is_one_line_not_a_walk_without_end(hostile, tmp_path, command):
    server = hostile("mlflow-artifacts:/0/models/m-1/artifacts")
    args = [str(tmp_path / "dest") if a == "DEST" else a for a in command]
    result = regctl(*args, store=server.url, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert result.returncode == 4, result
    assert result.stderr.count("\n") == 1 and "more than 64 deep" in result.stderr, result.stderr
    assert server.listings <= 65  # the root and 64 directories below it
    assert not (tmp_path / "dest").exists()
