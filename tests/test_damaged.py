"""Damaged stores: reads report the damage in one line (exit 4), listings go on with what is
readable, writes refuse, and nothing is lost or written outside the store."""

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import copy_fixture_store, ok, regctl, snapshot

MODEL = "iris-classifier"
OTHER = "iris.baseline model"


def damaged_line(result, code: int = 4) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.stderr


def state(root: Path) -> dict:
    """The store's bytes, minus the empty lock files a refused write may leave (flock needs a file)."""
    return {k: v for k, v in snapshot(root).items() if "/.regctl%lock%" not in "/" + k}


def rewrite(path: Path, text: str) -> None:
    path.write_text(text)


DAMAGE = {
    "truncated model meta": (lambda s: rewrite(s / f"models/{MODEL}/meta.yaml",
                                               (s / f"models/{MODEL}/meta.yaml").read_text()[:25] + '"cut'),
                             "meta.yaml"),
    "model meta not a mapping": (lambda s: rewrite(s / f"models/{MODEL}/meta.yaml", "- a\n- b\n"), "mapping"),
    "model meta wrong types": (lambda s: rewrite(s / f"models/{MODEL}/meta.yaml", (s / f"models/{MODEL}/meta.yaml")
                                                 .read_text().replace("creation_timestamp: ", "creation_timestamp: x\nx: ")),
                               "creation_timestamp"),
    "missing model meta": (lambda s: (s / f"models/{MODEL}/meta.yaml").unlink(), "no meta.yaml"),
    "invalid YAML in version meta": (lambda s: rewrite(s / f"models/{MODEL}/version-2/meta.yaml", "version: [2\n"),
                                     "version-2/meta.yaml"),
    "version meta wrong types": (lambda s: rewrite(s / f"models/{MODEL}/version-2/meta.yaml",
                                                   "version: abc\ncurrent_stage: [1]\nname: 12\nsource: {a: 1}\n"),
                                 "version-2/meta.yaml"),
    "version field as text": (lambda s: rewrite(s / f"models/{MODEL}/version-2/meta.yaml",
                                                (s / f"models/{MODEL}/version-2/meta.yaml").read_text()
                                                .replace("version: 2", "version: '2'")),
                              "version is '2', not an integer"),
    "version meta with a date": (lambda s: rewrite(s / f"models/{MODEL}/version-2/meta.yaml",
                                                   (s / f"models/{MODEL}/version-2/meta.yaml").read_text()
                                                   .replace("creation_timestamp: 1", "creation_timestamp: 2024-01-01\nx: 1")),
                                 "creation_timestamp"),
    "empty version meta": (lambda s: rewrite(s / f"models/{MODEL}/version-2/meta.yaml", ""), "version-2/meta.yaml"),
    "binary version meta": (lambda s: (s / f"models/{MODEL}/version-2/meta.yaml").write_bytes(b"\xff\xfe\x00"),
                            "UTF-8"),
    "missing version meta": (lambda s: (s / f"models/{MODEL}/version-2/meta.yaml").unlink(), "is missing"),
}
MODEL_META_DAMAGE = {k for k in DAMAGE if "model meta" in k}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_meta_files(tmp_path, case):
    store = copy_fixture_store("mlflow3-store", tmp_path)
    apply, clue = DAMAGE[case]
    apply(store)
    before = state(store)

    # reads that need the damaged file: one line, exit 4, nothing on stdout
    reads = [["describe", MODEL], ["versions", MODEL, "--json"]] if case in MODEL_META_DAMAGE else [
        ["describe", MODEL, "--version", "2"], ["resolve", "models:/iris-classifier@champion"],
        ["resolve", "models:/iris-classifier/2", "--json"], ["describe", MODEL]]
    for command in reads:
        result = regctl(*command, store=store)
        message = damaged_line(result)
        assert clue in message, message
        if command[0] != "versions":
            assert result.stdout == ""

    # listings go on with what is readable, then report the damage
    listing = regctl("models", "--json", store=store)
    damaged_line(listing)
    assert '"name": "iris.baseline model"' in listing.stdout and '"name": "iris-classifier"' not in listing.stdout
    if case not in MODEL_META_DAMAGE:
        versions = regctl("versions", MODEL, "--json", store=store)
        damaged_line(versions)
        assert '"version": 1' in versions.stdout and '"version": 2,' not in versions.stdout

    # other models are untouched by the damage
    ok(regctl("resolve", "models:/iris.baseline model/1", store=store))
    ok(regctl("versions", OTHER, store=store))

    # writes that need the damaged file refuse and change nothing
    writes = [["tag", MODEL, "k=v"], ["alias", "set", MODEL, "x", "1"], ["rename", MODEL, "renamed"]] \
        if case in MODEL_META_DAMAGE else [["tag", MODEL, "k=v", "--version", "2"], ["alias", "set", MODEL, "x", "2"],
                                           ["stage", MODEL, "2", "Archived"], ["describe", MODEL, "--version", "2",
                                                                                "--set", "t"]]
    for command in writes:
        damaged_line(regctl(*command, store=store))
    assert state(store) == before

    # doctor names the damaged file
    report = regctl("doctor", store=store)
    assert report.returncode == 4 and f"models/{MODEL}/" in report.stdout


@pytest.mark.parametrize("content, code", [("9", 1), ("3", 1), ("two", 4), ("", 4)])
def test_alias_to_missing_deleted_or_garbage_version(store3, content, code):
    (store3 / f"models/{MODEL}/aliases/champion").write_text(content)
    before = state(store3)
    message = damaged_line(regctl("resolve", "models:/iris-classifier@champion", store=store3), code)
    assert "champion" in message or "version" in message
    # listings still work: the alias is shown as it is
    ok(regctl("versions", MODEL, store=store3))
    ok(regctl("alias", "list", MODEL, store=store3))
    ok(regctl("resolve", "models:/iris-classifier@challenger", store=store3))
    assert state(store3) == before
    # moving the alias repairs it
    ok(regctl("alias", "set", MODEL, "champion", "2", store=store3))
    ok(regctl("resolve", "models:/iris-classifier@champion", store=store3))


def test_symlinked_tag_leading_outside_the_store(store3, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("do not read me")
    (store3 / f"models/{MODEL}/tags/leak").symlink_to(outside)
    (store3 / f"models/{MODEL}/version-1/tags/leak").symlink_to(outside)
    before = state(store3)
    for command in (["describe", MODEL, "--json"], ["describe", MODEL, "--version", "1", "--json"],
                    ["tag", MODEL, "k=v"], ["tag", MODEL, "leak=overwritten"], ["tag", MODEL, "k=v", "--version", "1"]):
        result = regctl(*command, store=store3)
        message = damaged_line(result)
        assert "outside the store" in message and "do not read me" not in result.stdout + result.stderr
    listing = regctl("models", "--json", store=store3)
    damaged_line(listing)
    assert "do not read me" not in listing.stdout and OTHER in listing.stdout
    assert outside.read_text() == "do not read me"
    assert state(store3) == before


def test_symlinked_model_directory_leading_outside_the_store(store3, tmp_path):
    outside = tmp_path / "elsewhere"
    shutil.move(str(store3 / "models" / OTHER), outside)
    (store3 / "models" / OTHER).symlink_to(outside)
    outside_before = state(outside)
    before = state(store3)
    for command in (["versions", OTHER], ["resolve", "models:/iris.baseline model/1"], ["tag", OTHER, "k=v"],
                    ["alias", "set", OTHER, "a", "1"], ["describe", OTHER, "--set", "x"],
                    ["delete", OTHER, "--yes"], ["rename", OTHER, "moved"]):
        assert "outside the store" in damaged_line(regctl(*command, store=store3))
    source = tmp_path / "src"
    source.mkdir()
    (source / "MLmodel").write_text("x")
    assert "outside the store" in damaged_line(regctl("register", source, "--name", OTHER, store=store3))
    listing = regctl("models", store=store3)
    damaged_line(listing)
    assert MODEL in listing.stdout
    assert state(outside) == outside_before
    assert state(store3) == before


def read_only(path: Path):
    """Make ``path`` read-only even for root: a read-only bind mount, else the immutable flag."""
    if subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True).returncode == 0:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], capture_output=True).returncode == 0:
            return lambda: subprocess.run(["umount", str(path)], check=True)
        subprocess.run(["umount", str(path)])
    if shutil.which("chattr"):
        targets = [str(p) for p in [path, *path.rglob("*")] if not p.is_symlink()]
        if subprocess.run(["chattr", "+i", *targets], capture_output=True).returncode == 0:
            return lambda: subprocess.run(["chattr", "-i", *targets], check=True)
    pytest.skip("cannot make a directory read-only for root here (no bind mount, no chattr +i)")


def test_read_only_store(store3, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "MLmodel").write_text("x")
    ok(regctl("alias", "set", MODEL, "x", "1", store=store3))  # lock files exist before the store turns read-only
    before = state(store3)
    undo = read_only(store3)
    try:
        probe = store3 / "probe"
        with pytest.raises(OSError):
            probe.write_text("x")
        # reads work
        ok(regctl("models", store=store3))
        ok(regctl("versions", MODEL, store=store3))
        ok(regctl("resolve", "models:/iris-classifier@champion", store=store3))
        ok(regctl("history", store=store3))
        ok(regctl("doctor", store=store3))
        # writes refuse in one line
        for command in (["register", source, "--name", MODEL], ["register", source, "--name", "new"],
                        ["alias", "set", MODEL, "x", "2"], ["alias", "delete", MODEL, "x"], ["tag", MODEL, "k=v"],
                        ["describe", MODEL, "--set", "t"], ["stage", MODEL, "1", "Archived"],
                        ["rename", MODEL, "other"], ["delete", OTHER, "--yes"], ["delete", MODEL, "--version", "1", "--yes"]):
            damaged_line(regctl(*command, store=store3))
        assert state(store3) == before
    finally:
        undo()
    assert state(store3) == before
    ok(regctl("alias", "set", MODEL, "x", "2", store=store3))
