"""The three kinds of store every command runs on, as one fixture: ``any_store``.

``file``: a new ``mlruns/`` (regctl's first write creates it); ``sqlite``: a copy of the
database MLflow 3.17 wrote (tests/fixtures/mlflow3-db); ``server``: the session's live
``mlflow server`` on SQLite (tests/servers.py). Model names are unique per test
(``any_store.name``), so the shared server needs no cleaning.
"""

import json
import uuid
from pathlib import Path

import pytest
from conftest import copy_fixture_db, model_source, regctl, sqlite_uri

STORE_KINDS = ["file", "sqlite", "server"]


class AnyStore:
    """One store under test: the ``--store`` value, and the real CLI run on it."""

    def __init__(self, kind: str, store: str, tmp_path: Path, server=None):
        self.kind, self.store, self.server = kind, store, server
        self.env = {"XDG_STATE_HOME": str(tmp_path / "state")}  # a server's journal, private to the test
        self.name = f"model-{uuid.uuid4().hex[:10]}"
        self.tmp_path = tmp_path

    def model_dir(self, label: str = "m") -> Path:
        """A new local model directory (an MLmodel file) to register."""
        return model_source(self.tmp_path / "sources" / f"{label}-{uuid.uuid4().hex[:6]}")

    def run(self, *args, env=None, **kwargs):
        return regctl(*args, store=self.store, env={**self.env, **(env or {})}, **kwargs)

    def ok(self, *args, **kwargs) -> str:
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (self.kind, args, result.returncode, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout

    def json(self, *args, **kwargs):
        return json.loads(self.ok(*args, "--json", **kwargs))

    def fails(self, code: int, *args, **kwargs) -> str:
        """The one stderr line of a failure with exit ``code`` (nothing on stdout)."""
        result = self.run(*args, **kwargs)
        assert result.returncode == code, (self.kind, args, result.returncode, result.stdout, result.stderr)
        assert result.stdout == "" and result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1, \
            result.stderr
        return result.stderr


@pytest.fixture(params=[pytest.param(kind, marks=pytest.mark.server) if kind == "server" else kind
                        for kind in STORE_KINDS])
def any_store(request, tmp_path) -> AnyStore:
    """The same empty registry (as far as this test's names go) on a file store, SQLite and a server."""
    if request.param == "file":
        return AnyStore("file", str(tmp_path / "mlruns"), tmp_path)
    if request.param == "sqlite":
        database = copy_fixture_db("mlflow3-db", tmp_path / "db")
        return AnyStore("sqlite", sqlite_uri(database), tmp_path)
    server = request.getfixturevalue("sqlite_server")
    return AnyStore("server", server.url, tmp_path, server=server)
