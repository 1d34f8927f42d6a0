"""The journal answers "who changed this, when, from what to what", CI identity included.

Each test runs on a file store and on a database (``backend``), whose journal is a file beside it."""

import json
import os
from pathlib import Path

import pytest
from conftest import model_source, regctl

from regctl.core import journal


def last_record(store):
    result = regctl("history", "iris-classifier", "--json", store=store)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


def test_github_actions_identity_and_run_url_are_recorded(backend):
    env = {"GITHUB_ACTOR": "alice", "GITHUB_RUN_ID": "42", "GITHUB_REPOSITORY": "org/repo",
           "GITHUB_SERVER_URL": "https://git.example"}
    assert regctl("alias", "set", "iris-classifier", "champion", "1", store=backend, env=env).returncode == 0
    record = last_record(backend)
    assert record["operation"] == "alias.set" and (record["old"], record["new"]) == ("2", "1")
    assert "github:alice" in record["user"]
    assert "https://git.example/org/repo/actions/runs/42" in record["user"]
    assert record["host"]


def test_gitlab_style_job_url_is_recorded(backend):
    env = {"CI_JOB_URL": "https://ci.example/jobs/7"}
    assert regctl("tag", "iris-classifier", "k=v", store=backend, env=env).returncode == 0
    assert "https://ci.example/jobs/7" in last_record(backend)["user"]


def test_without_ci_the_actor_is_the_local_user(backend):
    assert regctl("describe", "iris-classifier", "--set", "text", store=backend).returncode == 0
    record = last_record(backend)
    assert record["operation"] == "model.describe" and record["new"] == "text"
    assert "(" not in record["user"] and record["user"]


def test_rollback_is_itself_journalled_and_undoes_only_the_last_move(backend):
    for version in ("1", "2", "1"):
        assert regctl("alias", "set", "iris-classifier", "champion", version, store=backend).returncode == 0
    rolled = regctl("alias", "rollback", "iris-classifier", "champion", store=backend)
    assert rolled.returncode == 0, rolled.stderr
    assert json.loads(regctl("alias", "list", "iris-classifier", "--json", store=backend).stdout)["champion"] == 2
    moves = json.loads(regctl("history", "iris-classifier", "--alias", "champion", "--json", store=backend).stdout)
    assert [(m["old"], m["new"]) for m in moves] == [("1", "2"), ("2", "1"), ("1", "2"), ("2", "1")]


# ------------------------------------------------------------ the journal module

def _journal_file(store):
    return store / "models" / ".regctl%journal.jsonl"


def test_history_shows_committed_changes_only(store3):
    """An intent whose writer died before applying it changed nothing, so history does not show it."""
    from regctl.core import journal

    entry = journal.entry("alias.set", "iris-classifier", "ghost", None, "1")
    with _journal_file(store3).open("a") as handle:
        handle.write(json.dumps(journal.intent_record("t-uncommitted", [], [entry])) + "\n")
    assert json.loads(regctl("history", "--json", store=store3).stdout) == []
    with _journal_file(store3).open("a") as handle:
        handle.write(json.dumps(journal.commit_record("t-uncommitted")) + "\n")
    shown = json.loads(regctl("history", "--json", store=store3).stdout)
    assert [(r["operation"], r["target"]) for r in shown] == [("alias.set", "ghost")]


def test_history_reads_from_the_end_across_blocks_and_skips_damage(store3):
    """Old-format lines, a line longer than a read block, a cut line and one absurdly nested line."""
    from regctl.backends.file.store import Store
    from regctl.core import journal

    lines = [json.dumps({"operation": "tag.set", "model": "iris-classifier", "target": f"k{i}", "old": None,
                         "new": "v" * (70000 if i == 5 else 1)}) for i in range(3000)]
    lines.insert(10, "[" * 100000)
    lines.insert(20, '{"cut')
    _journal_file(store3).write_text("\n".join(lines) + "\n")
    targets = [r["target"] for r in journal.history_entries(Store(store3).journal_path(), "iris-classifier")]
    assert targets == [f"k{i}" for i in reversed(range(3000))]
    assert journal.damaged_lines(Store(store3).journal_path()) == 2
    newest = json.loads(regctl("history", "iris-classifier", "--json", store=store3).stdout)[0]
    assert newest["target"] == "k2999"


def test_a_journal_that_cannot_be_appended_to_fails_the_write_and_changes_nothing(store3):
    from conftest import one_line_failure, snapshot

    _journal_file(store3).mkdir()  # cannot be opened for appending
    before = snapshot(store3)
    result = regctl("alias", "set", "iris-classifier", "champion", "1", store=store3)
    one_line_failure(result, 4, "journal")
    assert snapshot(store3) == before


def test_a_journal_ending_in_a_long_run_without_line_breaks_is_read_in_linear_time(tmp_path):
    """A crash can leave a NUL-filled tail without any line break: ``history`` reads past it in one
    pass (it took minutes: each block re-copied the whole partial line) and skips it as damage."""
    import subprocess
    import sys

    store = tmp_path / "mlruns"
    source = model_source(tmp_path / "src")
    assert regctl("register", source, "--name", "m", store=store).returncode == 0
    journal = store / "models" / ".regctl%journal.jsonl"
    os.truncate(journal, journal.stat().st_size + (128 << 20))  # a sparse tail of NULs, no line break
    result = subprocess.run([sys.executable, "-m", "regctl", "--store", str(store), "history", "--json"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert [r["operation"] for r in json.loads(result.stdout)] == ["version.create", "model.create"]


def test_a_database_journal_is_replayed_once_per_command_not_once_per_version(tmp_path):
    """push looked up each version's registration by reading the journal back from its end: with
    60 MB journalled after 40 versions, a dry run read it 40 times (500 versions behind 197 MB: 745 s).
    Now a command replays it once into offsets; memory stays flat."""
    import subprocess
    import sys

    from conftest import copy_fixture_db, sqlite_uri

    from regctl.api import Registry
    from regctl.core import journal

    db = copy_fixture_db("mlflow3-db", tmp_path)
    source = model_source(tmp_path / "src")
    registry = Registry(sqlite_uri(db))
    for _ in range(40):
        registry.register(str(source), "deep")
    registry.rename("deep", "renamed")
    path = Path(str(db) + ".regctl-journal.jsonl")
    files = {f"d/f{i:05d}": "ab" * 32 for i in range(1000)}
    with open(path, "a") as handle:  # another model's registrations, journalled since
        for number in range(1, 801):
            handle.write(json.dumps({"created": number, "digest": "sha256:" + "0" * 64, "files": files,
                                     "model": "other", "operation": "version.create", "target": number},
                                    sort_keys=True) + "\n")
    target = tmp_path / "out"
    target.mkdir()
    result = subprocess.run([sys.executable, "-m", "regctl", "push", "--from", sqlite_uri(db), "--to", str(target),
                             "--dry-run", "renamed"], capture_output=True, text=True, timeout=600)  # a hang guard, not a speed check (bench/ measures)
    assert result.returncode == 0, result.stderr
    assert "40 version(s) to copy" in result.stderr
    verified = regctl("verify", "models:/renamed/3", store=sqlite_uri(db))
    assert verified.returncode == 0 and "match the registered digest" in verified.stderr
    index = journal.registrations(path)
    assert {key for key in index if key[0] == "renamed"} == {("renamed", n) for n in range(1, 41)}
    assert journal.record_at(path, index[("renamed", 7)])["target"] == 7


def test_the_registration_index_follows_renames_and_deletions(tmp_path):
    from regctl.core import journal

    path = tmp_path / "j.jsonl"
    lines = [{"operation": "version.create", "model": "a", "target": 1, "digest": "x", "created": 1},
             {"operation": "model.rename", "model": "b", "old": "a", "new": "b"},
             {"operation": "version.create", "model": "c", "target": 1, "digest": "y", "created": 2},
             {"operation": "model.delete", "model": "c"},
             {"operation": "version.create", "model": "c", "target": 2, "digest": "z", "created": 3}]
    path.write_bytes(b"".join(journal.encode(r) for r in lines) + b"{cut short")
    index = journal.registrations(path)
    assert sorted(index) == [("b", 1), ("c", 2)]
    assert journal.record_at(path, index[("b", 1)])["digest"] == "x"
    assert journal.record_at(path, index[("c", 2)])["digest"] == "z"


def test_the_journal_names_the_user_and_host_as_getpass_and_socket_do(monkeypatch):
    """Who and where a change was made are found without loading getpass and socket (a write's
    start-up), and read as they always were."""
    import getpass
    import socket

    assert journal.host() == socket.gethostname()
    for variables in ({"LOGNAME": "ana"}, {"USER": "bo"}, {}):
        for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        assert journal._login_name() == getpass.getuser()


@pytest.mark.parametrize("name", ["iris", "a b/é", "x" * 300, "\udcff-surrogate", ""])
def test_a_models_lock_key_is_the_sha256_other_writers_use(name):
    """Lock file names must agree with every regctl process (and the previous release): SHA-256."""
    import hashlib

    from regctl.backends.file import layout

    expected = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    assert layout.model_key(name) == expected
