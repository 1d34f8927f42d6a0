"""Regression tests for the findings of the outside attack on the write path (issue 8).

Each test names the finding it covers ("finding N"). Every refused write is
checked the same way: its exit code, exactly one ``regctl: `` line on stderr,
nothing on stdout, and the store unchanged byte for byte.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, copy_fixture_store, ok, regctl


def snapshot(root: Path) -> dict:
    """Every file's bytes, every directory and every symbolic link under ``root`` (links not followed).

    Iterative, so a very deep tree does not exhaust the recursion limit.
    """
    state, stack = {}, [Path(root)]
    while stack:
        directory = stack.pop()
        state[os.path.relpath(directory, root) + "/"] = None
        for entry in os.scandir(directory):
            rel = os.path.relpath(entry.path, root)
            if entry.is_symlink():
                state[rel] = ("link", os.readlink(entry.path))
            elif entry.is_dir():
                stack.append(Path(entry.path))
            else:
                state[rel] = Path(entry.path).read_bytes()
    return state


BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}


# ------------------------------------------------------------------ helpers

def refused(result, code: int) -> None:
    """A clean refusal: ``code``, one ``regctl: `` line on stderr, empty stdout, no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("regctl: "), result.stderr
    assert result.stdout == "", result.stdout
    assert "Traceback" not in result.stderr


def make_source(tmp_path: Path, name: str = "src") -> Path:
    source = tmp_path / name
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    (source / "model.bin").write_bytes(b"weights")
    return source


def new_store(tmp_path: Path, versions: int = 1, name: str = "m") -> Path:
    store = tmp_path / "mlruns"
    source = make_source(tmp_path)
    for _ in range(versions):
        ok(regctl("register", source, "--name", name, store=store))
    return store


def run_bytes(args, store=None, env=None, **kwargs) -> subprocess.CompletedProcess:
    """The real CLI with raw byte arguments (as a shell passes $'\\xff')."""
    command = [os.fsencode(sys.executable), b"-m", b"regctl"]
    if store is not None:
        command += [b"--store", os.fsencode(str(store))]
    return subprocess.run(command + [a if isinstance(a, bytes) else os.fsencode(str(a)) for a in args],
                          capture_output=True, text=True, env=dict(BASE_ENV, **(env or {})), **kwargs)


def spawn(*args, store=None, env=None, **kwargs) -> subprocess.Popen:
    command = [sys.executable, "-m", "regctl"] + (["--store", str(store)] if store else []) + [str(a) for a in args]
    return subprocess.Popen(command, env=dict(BASE_ENV, **(env or {})), **kwargs)


HOLD_LOCK = """
import sys, time
from pathlib import Path
from regctl.backends.file.edit import edit
from regctl.backends.file.store import Store
store, name, extra = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
with edit(Store(store), name):
    for path in extra:
        Path(path).write_text("x")
    print("held", flush=True)
    sys.stdin.readline()
    for path in extra:
        Path(path).unlink()
"""


class LockHolder:
    """Another process holding model ``name``'s lock (via ``edit``) until ``release()``."""

    def __init__(self, store: Path, name: str, *files: Path):
        env = dict(BASE_ENV, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(store), name, *map(str, files)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.wait(timeout=30) == 0


def lock_files(store: Path) -> list:
    models = store / "models"
    return sorted(p.name for p in models.iterdir() if p.name.startswith(".regctl%lock%")) if models.is_dir() else []


# ------------------------------------------------------------------ finding 1: failed commands that changed the store

def test_register_into_model_with_undecodable_alias_file_changes_nothing(tmp_path):
    """Finding 1: register into a model whose alias file is not UTF-8 used to create a version, then fail."""
    store = new_store(tmp_path)
    (store / "models/m/aliases").mkdir(exist_ok=True)
    (store / "models/m/aliases/bad").write_bytes(b"\xff\xfe")
    before = snapshot(store)
    for _ in range(3):  # retries must not pile up versions either
        refused(regctl("register", tmp_path / "src", "--name", "m", store=store), 4)
        assert snapshot(store) == before


@pytest.mark.parametrize("below", ["", "y/", "y"])
def test_tag_with_one_key_blocked_by_a_directory_writes_no_other_key(tmp_path, below):
    """Finding 1: ``tag M a=1 x=2`` with ``tags/x`` a directory wrote ``a`` and journalled it before failing."""
    store = new_store(tmp_path)
    (store / "models/m/tags/x").mkdir(parents=True)
    if below == "y/":
        (store / "models/m/tags/x/y").mkdir()
    elif below == "y":
        (store / "models/m/tags/x/y").write_text("below")
    before = snapshot(store)
    refused(regctl("tag", "m", "a=1", "x=2", store=store), 3)
    assert snapshot(store) == before
    assert not (store / "models/m/tags/a").exists()


def test_stage_archive_existing_with_a_damaged_older_version_archives_nothing(tmp_path):
    """Finding 1: ``stage --archive-existing`` archived some versions, then failed on a damaged one."""
    store = new_store(tmp_path, versions=4)
    for version in ("1", "2", "3"):
        ok(regctl("stage", "m", version, "Production", store=store))
    (store / "models/m/version-2/meta.yaml").write_text("{ this is: [not yaml\n")
    before = snapshot(store)
    refused(regctl("stage", "m", "4", "Production", "--archive-existing", store=store), 4)
    assert snapshot(store) == before


@pytest.mark.parametrize("damage", [b"\xff\xfe not utf-8\n", b"{ [ not: yaml\n"])
def test_rename_with_an_unreadable_version_meta_moves_nothing(tmp_path, damage):
    """Finding 1: ``rename`` moved the directory, rewrote some metas, then failed on an unreadable one."""
    store = new_store(tmp_path, versions=3)
    (store / "models/m/version-2/meta.yaml").write_bytes(damage)
    before = snapshot(store)
    refused(regctl("rename", "m", "n", store=store), 4)
    assert snapshot(store) == before
    assert not (store / "models/n").exists()


def test_non_utf8_tag_argument_writes_nothing(tmp_path):
    """Finding 1: a non-UTF-8 byte in a tag argument (``tag M a=1 $'b=\\xff'``) was written before failing."""
    store = new_store(tmp_path)
    before = snapshot(store)
    refused(run_bytes([b"tag", b"m", b"a=1", b"b=\xff"], store=store), 2)
    assert snapshot(store) == before


def test_non_utf8_register_source_writes_nothing(tmp_path):
    """Finding 1: ``register $'/src\\xff' --name new`` must be refused before anything is written."""
    store = new_store(tmp_path)
    odd = os.fsencode(str(tmp_path)) + b"/src\xff"
    os.mkdir(odd)
    with open(odd + b"/MLmodel", "w") as handle:
        handle.write("flavors: {}\n")
    before = snapshot(store)
    refused(run_bytes([b"register", odd, b"--name", b"new"], store=store), 2)
    assert snapshot(store) == before


def logged_model(store: Path) -> Path:
    return next(store.glob("*/models/m-0f627f604de5468f8ec0ee0ac3552d60"))


def test_register_logged_model_with_tags_symlinked_outside_writes_nothing(tmp_path):
    """Findings 1 and 5: a logged model whose ``tags/`` leads outside the store got a tag written there."""
    store = copy_fixture_store("mlflow3-store", tmp_path)
    model = logged_model(store)
    outside = tmp_path / "outside-tags"
    os.rename(model / "tags", outside)
    os.symlink(outside, model / "tags")
    before, outside_before = snapshot(store), snapshot(outside)
    refused(regctl("register", "models:/m-0f627f604de5468f8ec0ee0ac3552d60", "--name", "new", store=store), 4)
    assert snapshot(store) == before
    assert snapshot(outside) == outside_before


@pytest.mark.parametrize("value", ['{"name": "x"}', "not json at all", '[{"name": "iris-classifier", "version": 1}'])
def test_register_logged_model_whose_model_versions_tag_is_not_a_json_list(tmp_path, value):
    """Findings 1 and 13: a ``mlflow.modelVersions`` tag that is not a JSON list was silently replaced."""
    store = copy_fixture_store("mlflow3-store", tmp_path)
    (logged_model(store) / "tags/mlflow.modelVersions").write_text(value)
    before = snapshot(store)
    refused(regctl("register", "models:/m-0f627f604de5468f8ec0ee0ac3552d60", "--name", "new", store=store), 4)
    assert snapshot(store) == before


def test_refused_write_to_a_store_that_does_not_exist_creates_nothing(tmp_path):
    """Finding 1: a refused write on a store path that does not exist left the store directory behind."""
    store = tmp_path / "nothing" / "mlruns"
    source = make_source(tmp_path)
    for args in (["register", source, "--name", "m", "--alias", "latest"],
                 ["register", source, "--name", "m", "--alias", "bad alias!"],
                 ["register", tmp_path / "missing", "--name", "m"],
                 ["alias", "set", "m", "champion", "1"],
                 ["tag", "m", "a=1"]):
        result = regctl(*args, store=store)
        assert result.returncode != 0, args
        refused(result, result.returncode)
        assert not (tmp_path / "nothing").exists(), args


def test_alias_set_on_a_missing_model_leaves_no_lock_file(tmp_path):
    """Finding 1: ``alias set NoSuchModel champion 1`` (exit 1) left a lock file behind."""
    store = new_store(tmp_path)
    before = snapshot(store)
    refused(regctl("alias", "set", "NoSuchModel", "champion", "1", store=store), 1)
    assert lock_files(store) == []
    assert snapshot(store) == before


# ------------------------------------------------------------------ finding 2: register answers from what it wrote

def test_register_prints_the_version_it_wrote(tmp_path):
    """Finding 2: register's answer is the version it created, as ``versions --json`` shows it."""
    store = tmp_path / "mlruns"
    source = make_source(tmp_path)
    for expected in (1, 2, 3):
        out = ok(regctl("register", source, "--name", "m", "--alias", "champion", store=store))
        versions = json.loads(ok(regctl("versions", "m", "--json", store=store)))
        newest = max(versions, key=lambda v: int(v["version"]))
        assert out.strip().splitlines()[-1].strip() == str(newest["version"]) == str(expected)
        assert "champion" in newest["aliases"]


# ------------------------------------------------------------------ finding 3: rollback is conditional under one lock

def test_alias_rollback_refuses_when_the_alias_moved_outside_regctl(tmp_path):
    """Finding 3: ``alias rollback`` rolled back from a state it had not checked under the lock."""
    store = new_store(tmp_path, versions=3)
    ok(regctl("alias", "set", "m", "champion", "1", store=store))
    ok(regctl("alias", "set", "m", "champion", "2", store=store))
    (store / "models/m/aliases/champion").write_text("3")  # moved by someone else
    before = snapshot(store)
    refused(regctl("alias", "rollback", "m", "champion", store=store), 3)
    assert snapshot(store) == before


# ------------------------------------------------------------------ finding 5: symbolic links

def test_symlinked_journal_is_refused_and_the_outside_file_untouched(tmp_path):
    """Finding 5: a journal that is a symbolic link to a file outside the store got appended to."""
    store = new_store(tmp_path)
    journal = store / "models/.regctl%journal.jsonl"
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(journal.read_bytes())
    journal.unlink()
    os.symlink(outside, journal)
    before, outside_before = snapshot(store), outside.read_bytes()
    refused(regctl("alias", "set", "m", "champion", "1", store=store), 4)
    refused(regctl("tag", "m", "a=1", store=store), 4)
    assert snapshot(store) == before
    assert outside.read_bytes() == outside_before
    doctor = regctl("doctor", store=store)
    assert doctor.returncode == 4
    assert "journal" in doctor.stdout + doctor.stderr


def test_dangling_symlinked_lock_file_is_refused_and_not_followed(tmp_path):
    """Finding 5: a lock file that is a dangling symbolic link made regctl create the file it points to."""
    from regctl.backends.file.layout import model_key

    store = new_store(tmp_path)
    outside = tmp_path / "created-by-regctl"
    os.symlink(outside, store / "models" / f".regctl%lock%{model_key('m')}")
    before = snapshot(store)
    refused(regctl("alias", "set", "m", "champion", "1", store=store), 4)
    assert not os.path.lexists(outside)
    assert snapshot(store) == before


def test_doctor_fix_does_not_delete_temp_files_behind_a_symlinked_experiment(tmp_path):
    """Finding 5: ``doctor --fix`` followed a symlinked experiment directory and deleted files outside the store."""
    store = copy_fixture_store("mlflow3-store", tmp_path)
    outside = tmp_path / "elsewhere"
    (outside / "run1").mkdir(parents=True)
    (outside / "meta.yaml").write_text("experiment_id: '777'\nname: elsewhere\n")
    (outside / ".regctl-tmp-0123456789abcdef").write_text("not ours")
    (outside / "run1/.regctl-tmp-fedcba9876543210").write_text("not ours")
    os.symlink(outside, store / "777")
    # the same outside directory reached as a model and as a new model's staging directory
    from regctl.backends.file.layout import model_key

    (outside / "version-1").mkdir()
    (outside / "version-1/.regctl-tmp-00000000deadbeef").write_text("not ours")
    os.symlink(outside, store / "models" / "evil")
    os.symlink(outside, store / f"regctltmp-{model_key('evil')}-0badc0de")
    outside_before = snapshot(outside)
    for _ in range(2):
        result = regctl("doctor", "--fix", store=store)
        assert "Traceback" not in result.stderr
        assert snapshot(outside) == outside_before


# ------------------------------------------------------------------ finding 7: the journal append fails

def test_alias_set_with_an_unwritable_journal_changes_nothing(tmp_path):
    """Finding 7: when the journal append failed the alias was changed anyway."""
    store = new_store(tmp_path, versions=2)
    ok(regctl("alias", "set", "m", "champion", "1", store=store))
    journal = store / "models/.regctl%journal.jsonl"
    journal.unlink()
    journal.mkdir()
    before = snapshot(store)
    refused(regctl("alias", "set", "m", "champion", "2", store=store), 4)
    assert snapshot(store) == before
    assert (store / "models/m/aliases/champion").read_text() == "1"


# ------------------------------------------------------------------ finding 8: terminal escapes

NASTY = "x\x1b]52;c;aGVsbG8=\x07y\x1b[2Jz"


def test_terminal_escapes_are_shown_escaped_but_exact_in_json(tmp_path):
    """Finding 8: a tag value or description with terminal escapes reached the terminal raw."""
    store = new_store(tmp_path)
    ok(regctl("tag", "m", f"evil={NASTY}", store=store))
    ok(regctl("tag", "m", "--version", "1", f"evil={NASTY}", store=store))
    ok(regctl("register", tmp_path / "src", "--name", "m", "--description", NASTY, store=store))
    for args in (["models"], ["describe", "m"], ["describe", "m", "--version", "2"], ["history"],
                 ["history", "m"], ["versions", "m"]):
        result = regctl(*args, store=store)
        out = ok(result)
        assert "\x1b" not in out and "\x07" not in out, (args, out)
        assert "\x1b" not in result.stderr
    models = json.loads(ok(regctl("models", "--json", store=store)))
    assert models[0]["tags"]["evil"] == NASTY
    versions = json.loads(ok(regctl("versions", "m", "--json", store=store)))
    assert {str(v["version"]): v["description"] for v in versions}["2"] == NASTY


# ------------------------------------------------------------------ finding 12: clean messages

@pytest.mark.parametrize("digits", [300, 5000])
def test_huge_version_numbers_exit_2(tmp_path, digits):
    """Finding 12: a 300- or 5000-digit version crashed (int conversion limit) instead of a usage error."""
    store = new_store(tmp_path)
    before = snapshot(store)
    huge = "9" * digits
    for args in (["alias", "set", "m", "champion", huge], ["stage", "m", huge, "Production"],
                 ["delete", "m", "--version", huge], ["describe", "m", "--version", huge]):
        refused(regctl(*args, store=store), 2)
    assert snapshot(store) == before


def test_deeply_nested_journal_line_is_skipped(tmp_path):
    """Finding 12: one deeply nested JSON line in the journal crashed history, doctor and rollback."""
    store = new_store(tmp_path, versions=2)
    ok(regctl("alias", "set", "m", "champion", "1", store=store))
    with open(store / "models/.regctl%journal.jsonl", "ab") as journal:
        journal.write(b"[" * 100000 + b"\n")
    ok(regctl("alias", "set", "m", "champion", "2", store=store))
    for args in (["history"], ["history", "m", "--alias", "champion"], ["history", "--json"]):
        ok(regctl(*args, store=store))
    doctor = regctl("doctor", store=store)
    assert doctor.returncode in (0, 4) and "Traceback" not in doctor.stderr and "internal" not in doctor.stderr
    ok(regctl("alias", "rollback", "m", "champion", store=store))
    assert (store / "models/m/aliases/champion").read_text() == "1"


@pytest.mark.parametrize("text", ["9" * 5000 + "\n", "creation_timestamp: 99999999999999999999\n",
                                  "creation_timestamp: " + "9" * 5000 + "\n",
                                  "description: 2020-01-01\n"])
def test_odd_yaml_values_give_clean_answers(tmp_path, text):
    """Finding 12: a meta.yaml that is a huge integer, huge timestamps, YAML dates: never an internal error."""
    store = new_store(tmp_path, versions=2)
    meta = store / "models/m/version-2/meta.yaml"
    if text.startswith("9"):
        meta.write_text(text)
    else:
        key = text.split(":")[0]
        lines = [line for line in meta.read_text().splitlines() if not line.startswith(key + ":")]
        meta.write_text("\n".join(lines) + "\n" + text)
    for args in (["versions", "m"], ["versions", "m", "--json"], ["describe", "m", "--version", "2", "--json"],
                 ["models", "--json"], ["describe", "m"]):
        result = regctl(*args, store=store)
        if result.returncode == 0:
            if "--json" in args:
                json.loads(result.stdout)
        else:  # a listing may show what it can read, then name the damage
            assert result.returncode == 4, (args, result.stderr)
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("regctl: "), result.stderr
        assert "internal error" not in result.stderr


def test_non_string_locations_give_clean_answers(tmp_path):
    """Finding 12: a non-string ``artifact_location`` / ``storage_location`` crashed resolve."""
    store = new_store(tmp_path)
    meta = store / "models/m/version-1/meta.yaml"
    lines = [line for line in meta.read_text().splitlines() if not line.startswith("storage_location:")]
    meta.write_text("\n".join(lines) + "\nstorage_location: [1, 2]\n")
    result = regctl("resolve", "models:/m/1", store=store)
    if result.returncode:
        refused(result, 4)
    exp_store = copy_fixture_store("mlflow3-store", tmp_path / "fx")
    exp_meta = next(p for p in exp_store.glob("*/meta.yaml"))
    text = exp_meta.read_text()
    exp_meta.write_text("\n".join(line for line in text.splitlines() if not line.startswith("artifact_location:"))
                        + "\nartifact_location: 12345\n")
    for uri in ("models:/iris-classifier/1", "models:/m-0f627f604de5468f8ec0ee0ac3552d60",
                "runs:/ad43392a996b41dc9d2be361bb7b42a1/model"):
        result = regctl("resolve", uri, store=exp_store)
        if result.returncode:
            assert result.returncode in (1, 4)
            refused(result, result.returncode)


def test_run_whose_artifact_uri_points_at_itself(tmp_path):
    """Finding 12: a run whose ``artifact_uri`` is ``runs:/<its own id>/x`` recursed without end."""
    store = copy_fixture_store("mlflow3-store", tmp_path)
    run = "ad43392a996b41dc9d2be361bb7b42a1"
    meta = next(store.glob(f"*/{run}/meta.yaml"))
    lines = [line for line in meta.read_text().splitlines() if not line.startswith("artifact_uri:")]
    meta.write_text("\n".join(lines) + f"\nartifact_uri: runs:/{run}/x\n")
    refused(regctl("resolve", f"runs:/{run}/model", store=store), 4)
    before = snapshot(store)
    refused(regctl("register", f"runs:/{run}/model", "--name", "loop", store=store), 4)
    assert snapshot(store) == before


def test_delete_of_a_model_with_a_very_deep_tags_tree_is_all_or_nothing(tmp_path):
    """Finding 12: ``delete --yes`` on a model with a 1000-deep tags/ tree deleted part of it, then crashed."""
    store = new_store(tmp_path, versions=2)
    deep = store / "models/m/tags"
    deep.mkdir(exist_ok=True)
    fd = os.open(deep, os.O_RDONLY)
    try:
        for _ in range(1000):  # deeper than a path may be: walk down by descriptor
            os.mkdir("d", dir_fd=fd)
            next_fd = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "w") as handle:
            handle.write("v")
    finally:
        os.close(fd)
    try:
        before = snapshot(store)
        result = regctl("delete", "m", "--yes", store=store)
        if result.returncode == 0:
            assert not (store / "models/m").exists()
            assert not any(p.name.startswith("regctltmp-") for p in store.iterdir())
            ok(regctl("models", store=store))
        else:
            refused(result, 4)
            assert snapshot(store) == before
    finally:  # pytest's own clean-up recurses, and cannot remove a tree this deep
        subprocess.run(["rm", "-rf", str(store)], check=True)


def test_lock_timeout_nan_is_a_usage_error_at_once(tmp_path):
    """Finding 12: ``REGCTL_LOCK_TIMEOUT=nan`` waited for ever instead of exiting 2."""
    store = new_store(tmp_path)
    before = snapshot(store)
    for value in ("nan", "inf", "-1", "soon"):
        refused(regctl("alias", "set", "m", "champion", "1", store=store, env={"REGCTL_LOCK_TIMEOUT": value}), 2)
    assert snapshot(store) == before


# ------------------------------------------------------------------ finding 4: a pending change is completed first

def test_hand_written_pending_change_is_completed_by_the_next_write(tmp_path):
    """Finding 4: a change a killed writer left pending is completed (and committed) by the next write."""
    from regctl.backends.file import layout
    from regctl.backends.file.store import Store
    from regctl.core import journal

    store = new_store(tmp_path, versions=2)
    ok(regctl("alias", "set", "m", "champion", "1", store=store))
    changes = [{"op": "write", "path": "models/m/aliases/champion", "text": "2"}]
    intent = journal.intent_record("feedc0ffee123456", changes,
                                   [journal.entry("alias.set", "m", "champion", "1", "2")])
    journal.append(Store(store).journal_path(), intent)  # the killed writer got as far as its intent
    pending = layout.pending_of_key(store, layout.model_key("m"))
    pending.write_bytes(journal.encode(intent))
    # not committed yet: history does not show it
    assert [e["new"] for e in json.loads(ok(regctl("history", "m", "--alias", "champion", "--json",
                                                     store=store)))] == ["1"]
    ok(regctl("alias", "set", "m", "challenger", "1", store=store))
    assert not pending.exists()
    assert (store / "models/m/aliases/champion").read_text() == "2"
    shown = json.loads(ok(regctl("history", "m", "--alias", "champion", "--json", store=store)))
    assert [e["new"] for e in shown] == ["2", "1"]
    ok(regctl("doctor", store=store))


# ------------------------------------------------------------------ finding 6: verify is not fooled by symbolic links

def test_verify_sees_a_change_behind_a_symlinked_source_directory(tmp_path):
    """Finding 6: registering through a symlinked source directory digested the link, not the files."""
    store = tmp_path / "mlruns"
    real = make_source(tmp_path, "real")
    os.symlink(real, tmp_path / "link")
    ok(regctl("register", tmp_path / "link", "--name", "m", store=store))
    ok(regctl("verify", "models:/m/1", store=store))
    (real / "model.bin").write_bytes(b"tampered")
    refused(regctl("verify", "models:/m/1", store=store), 4)


def test_verify_sees_a_change_behind_symlinks_inside_the_tree(tmp_path):
    """Finding 6: a file or directory symlink inside the artifacts hid a change of what it points at."""
    store = tmp_path / "mlruns"
    source = make_source(tmp_path)
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    (shared / "weights.bin").write_bytes(b"w1")
    (shared / "sub/extra.txt").write_text("e1")
    os.symlink(shared / "weights.bin", source / "weights.bin")
    os.symlink(shared / "sub", source / "sub")
    os.symlink(source, source / "sub-loop")  # a cycle must not hang the digest
    ok(regctl("register", source, "--name", "m", store=store))
    ok(regctl("verify", "models:/m/1", store=store))
    (shared / "weights.bin").write_bytes(b"w2")
    refused(regctl("verify", "models:/m/1", store=store), 4)
    (shared / "weights.bin").write_bytes(b"w1")
    ok(regctl("verify", "models:/m/1", store=store))
    (shared / "sub/extra.txt").write_text("e2")
    refused(regctl("verify", "models:/m/1", store=store), 4)


# ------------------------------------------------------------------ finding 9: Ctrl-C

def test_ctrl_c_while_waiting_for_a_lock(tmp_path):
    """Finding 9: SIGINT while ``alias set`` waits for the lock printed a traceback."""
    store = new_store(tmp_path, versions=2)
    holder = LockHolder(store, "m")
    try:
        before = snapshot(store)
        proc = spawn("alias", "set", "m", "champion", "2", store=store, env={"REGCTL_LOCK_TIMEOUT": "60"},
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)  # started and waiting for the lock
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, (proc.returncode, err)
        assert err == "regctl: interrupted\n" and out == ""
        assert snapshot(store) == before
    finally:
        holder.release()
    assert not (store / "models/m/aliases/champion").exists()
    assert lock_files(store) == []


def test_ctrl_c_during_doctor_on_a_large_store(tmp_path):
    """Finding 9: SIGINT during a long ``doctor`` exits 130 with one line, no traceback."""
    import shutil

    store = new_store(tmp_path, versions=3)
    for i in range(1500):
        shutil.copytree(store / "models/m", store / f"models/m{i}")
    before = snapshot(store)
    for delay in (0.3, 0.6, 0.9):
        proc = spawn("doctor", store=store, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert "Traceback" not in err
        if proc.returncode == 130:
            assert err == "regctl: interrupted\n"
        else:
            assert proc.returncode in (0, 4), (proc.returncode, err)
    assert snapshot(store) == before


# ------------------------------------------------------------------ finding 10: output that cannot be written

def run_into_closed_pipe(*args, store) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        proc = spawn(*args, store=store, stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    _, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, "", err)


def test_reader_closing_the_pipe_early_ends_quietly(tmp_path):
    """Finding 10: ``regctl resolve ... | true`` and ``alias list | head -0`` printed a traceback."""
    store = new_store(tmp_path, versions=2)
    ok(regctl("alias", "set", "m", "champion", "1", store=store))
    ok(regctl("alias", "set", "m", "challenger", "2", store=store))
    for args in (["resolve", "models:/m/1"], ["alias", "list", "m"], ["versions", "m"], ["history"]):
        result = run_into_closed_pipe(*args, store=store)
        assert result.returncode == 141, (args, result.returncode, result.stderr)
        assert result.stderr == "", (args, result.stderr)


def test_a_write_whose_reader_left_early_still_succeeds(tmp_path):
    """``regctl register ... | head -c0`` made the version and exited 141: a CI script with
    ``set -o pipefail`` that retries on failure registered it twice. A change that is made is a success."""
    store = new_store(tmp_path, versions=1)
    source = make_source(tmp_path, "second")
    result = run_into_closed_pipe("register", source, "--name", "m", store=store)
    assert (result.returncode, result.stderr) == (0, f"registered m version 2 from {source}\n")
    assert ok(regctl("versions", "m", store=store)).count("\n") == 2
    dry = run_into_closed_pipe("register", source, "--name", "m", "--dry-run", store=store)
    assert dry.returncode == 141  # nothing was changed: the closed pipe is the news
    (store / "models" / "m" / "aliases").mkdir(exist_ok=True)
    (store / "models" / "m" / "aliases" / "ghost").write_text("9")
    fixed = run_into_closed_pipe("doctor", "--fix", store=store)
    assert fixed.returncode == 0 and not (store / "models" / "m" / "aliases" / "ghost").exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_write_whose_output_hits_a_full_disk_still_succeeds(tmp_path):
    """``register ... >/dev/full`` (a CI log on a full disk) made the version and exited 4, so a
    retry registered it twice; ``2>/dev/full`` also lost the version number on stdout."""
    store = new_store(tmp_path, versions=1)
    source = make_source(tmp_path, "second")
    with open("/dev/full", "w") as full:
        no_stdout = spawn("register", source, "--name", "m", store=store, stdout=full, stderr=subprocess.PIPE,
                          text=True)
        _, err = no_stdout.communicate(timeout=60)
        assert (no_stdout.returncode, err) == (0, f"registered m version 2 from {source}\n")
        no_stderr = spawn("register", source, "--name", "m", store=store, stdout=subprocess.PIPE, stderr=full,
                          text=True)
        out, _ = no_stderr.communicate(timeout=60)
        assert (no_stderr.returncode, out) == (0, "3\n")
        read = spawn("versions", "m", store=store, stdout=full, stderr=subprocess.PIPE, text=True)
        _, err = read.communicate(timeout=60)
    assert read.returncode == 4 and err == "regctl: cannot write output: No space left on device\n"
    assert ok(regctl("versions", "m", store=store)).count("\n") == 3


def test_resolve_with_stdout_closed(tmp_path):
    """Finding 10: ``regctl resolve ... >&-`` printed a traceback instead of one line and exit 4."""
    store = new_store(tmp_path)
    command = f"exec {sys.executable} -m regctl --store {store} resolve models:/m/1 >&-"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                            env=dict(BASE_ENV, PYTHONPATH=str(REPO)))
    refused(result, 4)


def test_latin1_terminal_shows_other_text_escaped(tmp_path):
    """Finding 10: ``PYTHONIOENCODING=latin-1`` with a non-latin tag value crashed with UnicodeEncodeError."""
    store = new_store(tmp_path)
    ok(regctl("tag", "m", "owner=模型团队", "--version", "1", store=store))
    ok(regctl("tag", "m", "team=模型团队", store=store))
    for args in (["models"], ["describe", "m"], ["versions", "m"], ["history"], ["models", "--json"]):
        result = regctl(*args, store=store, env={"PYTHONIOENCODING": "latin-1"}, process=True)
        out = ok(result)
        assert "模" not in out and ("\\u6a21" in out or "\\\\u6a21" in out or "\\u6a21".lower() in out.lower()), out


# ------------------------------------------------------------------ finding 11: readers racing a delete or rename

RACE_WRITER = """
import subprocess, sys
store, source, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def run(*args):
    subprocess.run([sys.executable, "-m", "regctl", "--store", store, *args], capture_output=True)
for _ in range(rounds):
    run("rename", "m", "n")
    run("rename", "n", "m")
    run("delete", "m", "--yes")
    run("register", source, "--name", "m", "--alias", "champion")
    run("register", source, "--name", "m")
"""


def test_readers_racing_delete_and_rename_never_fail_badly(tmp_path):
    """Finding 11: a reader racing a delete or rename reported an internal error."""
    store = new_store(tmp_path, versions=2)
    ok(regctl("alias", "set", "m", "champion", "1", store=store))
    writer = subprocess.Popen([sys.executable, "-c", RACE_WRITER, str(store), str(tmp_path / "src"), "8"],
                              env=dict(BASE_ENV, PYTHONPATH=str(REPO)))
    # describe and latest/stage lookups list the version directories, then read each: a version
    # removed in between is not there (it was an internal error)
    readers = [["versions", "m"], ["describe", "m"], ["models"], ["resolve", "models:/m@champion"],
               ["describe", "m", "--version", "1"], ["versions", "m", "--json"], ["resolve", "models:/m/latest"],
               ["describe", "m"], ["resolve", "models:/m/None"]]
    seen = {0: 0, 1: 0}
    try:
        i = 0
        while writer.poll() is None:
            args = readers[i % len(readers)]
            i += 1
            result = regctl(*args, store=store)
            assert result.returncode in (0, 1), (args, result.returncode, result.stderr)
            assert "internal error" not in result.stderr and "Traceback" not in result.stderr
            if result.returncode:
                lines = result.stderr.splitlines()
                assert len(lines) == 1 and lines[0].startswith("regctl: "), result.stderr
            seen[result.returncode] += 1
    finally:
        writer.wait(timeout=300)
    assert seen[0] > 0


# ------------------------------------------------------------------ finding 13: scale and noise

def test_history_and_rollback_on_a_100mb_journal_use_little_memory(tmp_path):
    """Finding 13: ``history --alias`` and ``alias rollback`` read the whole 100 MB journal into memory."""
    store = new_store(tmp_path, versions=2)
    journal = store / "models/.regctl%journal.jsonl"
    line = (json.dumps({"operation": "alias.set", "model": "other", "target": "champion", "old": "1",
                        "new": "2", "time": 1700000000000, "user": "u"}) + "\n").encode()
    block = line * (1 << 20 // len(line) + 1)
    with open(journal, "ab") as handle:
        for _ in range(100 * (1 << 20) // len(block) + 1):
            handle.write(block)
    assert journal.stat().st_size >= 100 << 20
    ok(regctl("alias", "set", "m", "champion", "1", store=store))
    ok(regctl("alias", "set", "m", "champion", "2", store=store))
    measure = """
import resource, subprocess, sys
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(result.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stderr.write(result.stdout + result.stderr)
"""
    for args in (["history", "m", "--alias", "champion", "--json"], ["alias", "rollback", "m", "champion"]):
        measured = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "regctl",
                                   "--store", str(store), *args], capture_output=True, text=True,
                                  env=dict(BASE_ENV, PYTHONPATH=str(REPO)), timeout=300)
        code, maxrss_kb = map(int, measured.stdout.split())
        assert code == 0, measured.stderr
        assert maxrss_kb < 300 * 1024, (args, maxrss_kb)
    assert (store / "models/m/aliases/champion").read_text() == "1"


def test_plain_doctor_does_not_report_a_live_writers_temp_files(tmp_path):
    """Finding 13: plain ``doctor`` reported the temp files of a writer still holding the lock."""
    store = new_store(tmp_path)
    for round_ in range(10):
        holder = LockHolder(store, "m")
        temp = store / "models/m" / f".regctl-tmp-{round_:016x}"
        try:
            temp.write_text("being written")
            result = regctl("doctor", store=store)
            assert result.returncode == 0, result.stdout + result.stderr
        finally:
            holder.release()
        result = regctl("doctor", store=store)
        assert result.returncode == 4 and temp.name in result.stdout, result.stdout + result.stderr
        ok(regctl("doctor", "--fix", store=store))
        assert not temp.exists()


def test_resolve_of_a_path_outside_the_store_ending_like_a_run(tmp_path):
    """Finding 13: ``resolve /nonexistent/x/<exp>/<run>`` was taken for the store's own run."""
    store = copy_fixture_store("mlflow3-store", tmp_path)
    run = "ad43392a996b41dc9d2be361bb7b42a1"
    experiment = next(store.glob(f"*/{run}")).parent.name
    for path in (f"/nonexistent/x/{experiment}/{run}", f"/nonexistent/x/{experiment}/{run}/artifacts/model"):
        refused(regctl("resolve", path, store=store), 1)


@pytest.mark.parametrize("path", ["%2e%2e/meta.yaml", "a%2F..%2F..%2Fmeta.yaml",
                                  "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/hostname"])
@pytest.mark.parametrize("command", [["resolve"], ["verify"], ["register", "--name", "m", "--dry-run"]])
def test_percent_encoded_dot_dot_does_not_leave_the_run(tmp_path, path, command):
    """A file: artifact location joined with a runs:/ path is percent-decoded: '%2e%2e' reached the run's
    meta.yaml (and any file on the machine) through resolve, exit 0."""
    store = copy_fixture_store("mlflow3-store", tmp_path)
    run = "ad43392a996b41dc9d2be361bb7b42a1"
    (store / "365814095808921414" / run / "artifacts").mkdir(exist_ok=True)
    before = snapshot(store)
    refused(regctl(command[0], f"runs:/{run}/{path}", *command[1:], store=store), 2)
    assert snapshot(store) == before


def test_register_copy_of_an_empty_directory_on_a_file_store(tmp_path):
    """An empty directory registers as it does without --copy (and on SQLite); the file store's copy
    made no artifacts/ directory, so the registration failed (exit 1) after its dry run said it would work."""
    store = new_store(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    ok(regctl("register", empty, "--name", "m", "--copy", "--dry-run", store=store))
    assert ok(regctl("register", empty, "--name", "m", "--copy", store=store)).strip() == "2"
    ok(regctl("verify", "models:/m/2", store=store))
