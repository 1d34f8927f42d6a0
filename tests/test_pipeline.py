"""regctl inside real shell pipelines: register, point an alias, use the resolved path."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import expected_of


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory) -> Path:
    """A directory whose ``regctl`` runs this checkout: the installed script, else a wrapper."""
    installed = Path(sys.executable).parent / "regctl"
    if installed.is_file() and os.access(installed, os.X_OK):
        return installed.parent
    directory = tmp_path_factory.mktemp("bin")
    wrapper = directory / "regctl"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m regctl "$@"\n')
    wrapper.chmod(0o755)
    return directory


def bash(script: str, bin_dir: Path, store: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}", REGCTL_STORE=str(store))
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, cwd=cwd)


PIPELINE = """
set -euo pipefail
V=$(regctl register "runs:/$1/model" --name "$2")
echo "version=$V"
regctl alias set "$2" champion "$V"
ls "$(regctl resolve "models:/$2@champion")"
"""


@pytest.mark.parametrize("name, version", [("pipeline model", "1"), ("iris-classifier", "4")])
def test_register_alias_resolve_pipeline(fixture_backend, bin_dir, tmp_path, name, version):
    store = fixture_backend  # each fixture as a file store and as a database
    run_id = store.expected["runs"][0]["run_id"]
    script = PIPELINE.replace("$1", run_id).replace("$2", name)
    result = bash(script, bin_dir, store, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"version={version}"
    assert "MLmodel" in lines[1:] and "requirements.txt" in lines[1:]
    confirmations = result.stderr.splitlines()
    assert len(confirmations) == 2 and confirmations[0].startswith(f"registered {name} version {version} from ")
    assert confirmations[1] == f"champion: {'(none)' if name == 'pipeline model' else '2'} -> {version}"
    if store.is_file:
        assert (store.root / "models" / name / "aliases" / "champion").read_text() == version
    check = bash(f'regctl alias list "{name}" --json', bin_dir, store, tmp_path)
    assert '"champion": ' + version in check.stdout


def test_pipeline_stops_on_failure(store3, bin_dir, tmp_path):
    script = """
set -euo pipefail
V=$(regctl register runs:/0123456789abcdef0123456789abcdef/model --name X)
echo "not reached: $V"
"""
    result = bash(script, bin_dir, store3, tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "regctl: run '0123456789abcdef0123456789abcdef' not found\n"
    assert not (store3 / "models" / "X").exists()


def test_pipeline_branches_on_exit_codes(store3, bin_dir, tmp_path):
    script = """
regctl resolve models:/iris-classifier@candidate >/dev/null 2>&1; echo "missing alias: $?"
regctl resolve 'models:/iris-classifier/bogus-stage' >/dev/null 2>&1; echo "invalid: $?"
regctl alias set iris-classifier champion 1 --expect 1 2>/dev/null; echo "conflict: $?"
regctl alias set iris-classifier champion 1 --expect 2 2>/dev/null; echo "moved: $?"
for v in $(regctl versions iris-classifier --json | python3 -c 'import json,sys; print(*[v["version"] for v in json.load(sys.stdin)])'); do
  echo "v$v at $(regctl resolve "models:/iris-classifier/$v")"
done
"""
    result = bash(script, bin_dir, store3, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["missing alias: 1", "invalid: 2", "conflict: 3", "moved: 0"]
    e = expected_of("mlflow3-store")
    models = {2: e["runs"][1]["model_id"], 1: e["runs"][0]["model_id"]}
    assert lines[4:] == [f"v{v} at {store3 / e['experiment']['id'] / 'models' / m / 'artifacts'}" for v, m in models.items()]
