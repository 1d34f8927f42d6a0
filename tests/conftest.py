"""Shared test helpers: real stores in temporary directories and the real CLI."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["servers"]  # live MLflow servers, shared by every module (tests/servers.py)

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


def copy_fixture_store(kind: str, dest: Path) -> Path:
    """Copy ``tests/fixtures/<kind>/mlruns`` into ``dest`` with its empty directories recreated."""
    source = FIXTURES / kind
    # copy the bytes only: a checkout may carry read-only modes the test must not inherit
    shutil.copytree(source / "mlruns", dest / "mlruns", copy_function=shutil.copyfile)
    expected = json.loads((source / "expected.json").read_text())
    for directory in expected["empty_dirs"]:
        (dest / directory).mkdir(parents=True, exist_ok=True)
    return dest / "mlruns"


def expected_of(kind: str) -> dict:
    return json.loads((FIXTURES / kind / "expected.json").read_text())


@pytest.fixture
def store3(tmp_path) -> Path:
    """A private copy of the store written by MLflow 3.17."""
    return copy_fixture_store("mlflow3-store", tmp_path)


@pytest.fixture
def store2(tmp_path) -> Path:
    """A private copy of the store written by MLflow 2.22."""
    return copy_fixture_store("mlflow2-store", tmp_path)


@pytest.fixture(params=["mlflow3-store", "mlflow2-store"])
def fixture_store(request, tmp_path):
    """Each fixture store in turn: ``(kind, path)``."""
    return request.param, copy_fixture_store(request.param, tmp_path)


def regctl(*args, store=None, env=None, input=None, cwd=None) -> subprocess.CompletedProcess:
    """Run the real ``regctl`` command in a subprocess (``python -m regctl``)."""
    command = [sys.executable, "-m", "regctl"]
    if store is not None:
        command += ["--store", str(store)]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: compiled once, not on every call
    full_env.update(env or {})
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True,
                          env=full_env, input=input, cwd=cwd)


def snapshot(root: Path) -> dict:
    """Every file's bytes and every directory under ``root``, to prove a store unchanged."""
    state = {}
    for parent, dirs, files in os.walk(root):
        rel = os.path.relpath(parent, root)
        state[rel + "/"] = None
        for name in files:
            state[os.path.join(rel, name)] = (Path(parent) / name).read_bytes()
    return state
