"""Content digests: register records them, ``verify`` and ``resolve --verify`` check them.

Everything runs the real CLI on real stores in temporary directories.
"""

import hashlib
import json
import os
from pathlib import Path

import pytest
from conftest import one_line_failure, regctl, snapshot

DIGEST_TAG = "regctl.content_digest"


def make_source(path: Path, files: dict) -> Path:
    for relative, data in files.items():
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return path


def independent_digest(root: Path) -> str:
    """The documented digest format, computed without regctl's code."""
    lines = []
    for parent, _, files in os.walk(root):
        for name in files:
            path = Path(parent) / name
            lines.append((path.relative_to(root).as_posix().encode(), hashlib.sha256(path.read_bytes()).hexdigest()))
    digest = hashlib.sha256()
    for relative, file_hash in sorted(lines):
        digest.update(relative + b"\0" + file_hash.encode() + b"\n")
    return "sha256:" + digest.hexdigest()


@pytest.fixture
def registered(tmp_path):
    """A store with version 1 of 'm' registered from a small local directory."""
    source = make_source(tmp_path / "model", {"MLmodel": b"flavors: {}\n", "model.pkl": b"\x00\x01weights",
                                              "sub/extra.txt": b"abc"})
    store = tmp_path / "mlruns"
    result = regctl("register", source, "--name", "m", store=store)
    assert result.returncode == 0, result.stderr
    return store, source


def test_register_records_the_documented_digest_in_its_own_file_not_a_tag(registered):
    """Issue 7.3.7: regctl adds no tag the user did not ask for (MLflow's rename fails on
    versions with tags); the digest lives in the manifest file MLflow ignores."""
    store, source = registered
    versions = json.loads(regctl("versions", "m", "--json", store=store).stdout)
    assert versions[0]["tags"] == {}
    assert not (store / "models/m/version-1/tags").exists()
    manifest = json.loads((store / "models/m/version-1/.regctl%manifest.json").read_text())
    assert manifest["digest"] == independent_digest(source)
    assert sorted(manifest["files"]) == ["MLmodel", "model.pkl", "sub/extra.txt"]


def test_verify_untouched_artifacts(registered):
    store, source = registered
    result = regctl("verify", "models:/m/1", store=store)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{independent_digest(source)}  {source}\n"
    resolved = regctl("resolve", "--verify", "models:/m/1", store=store)
    assert (resolved.returncode, resolved.stdout) == (0, f"{source}\n")


@pytest.mark.parametrize("tamper, named", [
    (lambda s: (s / "model.pkl").write_bytes(b"\x00\x01weightz"), "changed 'model.pkl'"),
    (lambda s: (s / "sub/extra.txt").unlink(), "removed 'sub/extra.txt'"),
    (lambda s: (s / "sub/new.bin").write_bytes(b""), "added 'sub/new.bin'"),
    (lambda s: (s / "MLmodel").rename(s / "MLmodel.bak"), "added 'MLmodel.bak'; removed 'MLmodel'"),
])
def test_tampered_artifacts_fail_verify_naming_the_file(registered, tamper, named):
    store, source = registered
    regctl("alias", "set", "m", "prod", "1", store=store)
    before = snapshot(store)
    tamper(source)
    for command in (["verify", "models:/m/1"], ["verify", "models:/m@prod"], ["resolve", "models:/m/1", "--verify"],
                    ["resolve", "--verify", "--json", "models:/m@prod"]):
        message = one_line_failure(regctl(*command, store=store), 4)
        assert "differ from what was registered" in message and named in message, message
    assert snapshot(store) == before
    # without --verify, resolve still answers
    assert regctl("resolve", "models:/m/1", store=store).stdout == f"{source}\n"


def test_tampered_manifest_still_fails_without_naming_files(registered):
    store, source = registered
    manifest = store / "models/m/version-1/.regctl%manifest.json"
    data = json.loads(manifest.read_text())
    data["files"]["model.pkl"] = "0" * 64
    manifest.write_text(json.dumps(data))
    assert regctl("verify", "models:/m/1", store=store).returncode == 0  # the digest decides, not the list
    (source / "model.pkl").write_bytes(b"other")
    message = one_line_failure(regctl("verify", "models:/m/1", store=store), 4)
    assert "no intact file list" in message


def test_verify_without_a_recorded_digest(store3):
    one_line_failure(regctl("verify", "models:/iris-classifier/1", store=store3), 1)
    one_line_failure(regctl("verify", "models:/iris-classifier/9", store=store3), 1)
    run_id = json.loads(regctl("resolve", "--json", "models:/iris-classifier/1", store=store3).stdout)["run_id"]
    one_line_failure(regctl("verify", f"runs:/{run_id}/model", store=store3), 2)


def test_registering_a_copy_records_a_fresh_digest(registered):
    store, source = registered
    assert regctl("register", "models:/m/1", "--name", "copy", store=store).returncode == 0
    assert json.loads(regctl("versions", "copy", "--json", store=store).stdout)[0]["tags"] == {}
    manifest = json.loads((store / "models/copy/version-1/.regctl%manifest.json").read_text())
    assert manifest["digest"] == independent_digest(source)
    assert regctl("verify", "models:/copy/1", store=store).returncode == 0


# ------------------------------------------------------------------ doctor

def as_regctl_0_1_left_it(store: Path, name: str = "m", version: int = 1) -> Path:
    """Add the version tag regctl 0.1 wrote beside the manifest at registration; return the tag file."""
    directory = store / "models" / name / f"version-{version}"
    digest = json.loads((directory / ".regctl%manifest.json").read_text())["digest"]
    (directory / "tags").mkdir(exist_ok=True)
    (directory / "tags" / DIGEST_TAG).write_text(digest)
    return directory / "tags" / DIGEST_TAG


def test_an_edited_digest_tag_that_disagrees_with_the_manifest_fails_verify(registered):
    store, _ = registered
    as_regctl_0_1_left_it(store).write_text("sha256:" + "0" * 64)
    message = one_line_failure(regctl("verify", "models:/m/1", store=store), 4)
    assert "disagree" in message


def test_verify_reports_a_damaged_manifest(registered):
    store, _ = registered
    (store / "models/m/version-1/.regctl%manifest.json").write_text("{")
    assert ".regctl%manifest.json" in one_line_failure(regctl("verify", "models:/m/1", store=store), 4)
