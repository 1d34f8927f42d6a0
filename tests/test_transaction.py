"""All-or-nothing changes: a pending change is completed by the next writer; a refused plan writes nothing."""

import json
import os
from pathlib import Path

import pytest
from conftest import one_line_failure, regctl, snapshot

from regctl.backends.file import layout
from regctl.core import journal


def pending_file(store, name):
    return layout.pending_of_key(store, layout.model_key(name))


def test_the_next_writer_completes_a_change_a_killed_writer_left_pending(store3):
    """As if a writer died after recording its intent and applying one of its two changes."""
    model = store3 / "models" / "iris-classifier"
    changes = [{"op": "write", "path": "models/iris-classifier/aliases/staged", "text": "1"},
               {"op": "write", "path": "models/iris-classifier/tags/stage", "text": "done"}]
    entries = [journal.entry("alias.set", "iris-classifier", "staged", None, "1")]
    intent = journal.intent_record("t-killed", changes, entries)
    with (store3 / "models" / ".regctl%journal.jsonl").open("a") as handle:
        handle.write(json.dumps(intent) + "\n")
    pending_file(store3, "iris-classifier").write_text(json.dumps(intent) + "\n")
    (model / "aliases" / "staged").write_text("1")  # the first change was applied, the second not

    checked = regctl("doctor", store=store3)
    assert checked.returncode == 4 and "interrupted-change" in checked.stdout
    result = regctl("tag", "iris-classifier", "after=1", store=store3)
    assert result.returncode == 0, result.stderr
    assert (model / "tags" / "stage").read_text() == "done"
    assert not pending_file(store3, "iris-classifier").exists()
    history = json.loads(regctl("history", "iris-classifier", "--json", store=store3).stdout)
    assert [(r["operation"], r["target"]) for r in history][:2] == [("tag.set", "after"), ("alias.set", "staged")]
    assert regctl("doctor", store=store3).returncode == 0


def test_doctor_fix_completes_a_pending_change(store3):
    changes = [{"op": "write", "path": "models/iris-classifier/aliases/fixed", "text": "2"}]
    intent = journal.intent_record("t-fix", changes, [journal.entry("alias.set", "iris-classifier", "fixed", None, "2")])
    journal.append(store3 / "models" / ".regctl%journal.jsonl", intent)  # as a killed writer leaves it
    pending_file(store3, "iris-classifier").write_text(json.dumps(intent) + "\n")
    assert regctl("doctor", "--fix", store=store3).returncode == 0
    assert (store3 / "models/iris-classifier/aliases/fixed").read_text() == "2"
    assert regctl("doctor", store=store3).returncode == 0


def test_a_plan_leading_out_of_the_store_through_a_symlink_writes_nothing(store3, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    aliases = store3 / "models" / "iris-classifier" / "aliases"
    for entry in aliases.iterdir():
        (outside / entry.name).write_bytes(entry.read_bytes())
        entry.unlink()
    aliases.rmdir()
    aliases.symlink_to(outside)
    before, outside_before = snapshot(store3), snapshot(outside)
    one_line_failure(regctl("alias", "set", "iris-classifier", "champion", "1", store=store3), 4, "outside the store")
    assert snapshot(store3) == before and snapshot(outside) == outside_before


def test_a_refused_write_leaves_no_lock_file_and_creates_no_store(tmp_path, store3):
    before = snapshot(store3)
    one_line_failure(regctl("alias", "set", "NoSuchModel", "champion", "1", store=store3), 1)
    assert snapshot(store3) == before  # no lock file left behind
    missing = tmp_path / "nothing" / "mlruns"
    one_line_failure(regctl("register", tmp_path / "no-source", "--name", "m", store=missing), 1)
    one_line_failure(regctl("alias", "set", "m", "champion", "1", store=missing), 4)
    assert not os.path.exists(tmp_path / "nothing")


def test_a_dry_run_plans_and_checks_but_changes_nothing(store3, tmp_path):
    from regctl import Conflict, Registry

    dry = Registry(str(store3), dry_run=True)
    before = snapshot(store3)
    change = dry.set_alias("iris-classifier", "champion", 1)
    assert (change.old, change.new, change.changed) == (2, 1, True)  # what it would do
    assert dry.delete_version("iris-classifier", 2).aliases_removed == ("champion",)
    try:
        dry.set_alias("iris-classifier", "champion", 1, expect=1)
    except Conflict:
        pass
    else:
        raise AssertionError("a dry run still checks --expect")
    assert snapshot(store3) == before
    fresh = tmp_path / "fresh" / "mlruns"
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    assert Registry(str(fresh), dry_run=True).register(str(source), "new").version == 1
    assert not fresh.exists()


def crafted_pending(store, name: str, changes: list, txn: str = "t-crafted") -> Path:
    """A pending file for ``name`` holding ``changes``, with its intent in the journal (as a real one has)."""
    intent = journal.intent_record(txn, changes, [journal.entry("alias.set", name, "x", None, "1")])
    journal.append(store / "models" / ".regctl%journal.jsonl", intent)
    path = pending_file(store, name)
    path.write_text(json.dumps(intent) + "\n")
    return path


@pytest.mark.parametrize("changes", [
    [{"op": "remove_tree", "path": "models"}],                                            # the whole registry
    [{"op": "write", "path": "models/iris-classifier/aliases/x", "text": "1"},
     {"op": "chmod-everything", "path": "models/iris-classifier"}],                        # a newer regctl's op
    [{"op": "write", "path": "models/iris.baseline model/aliases/x", "text": "1"}],       # another model
    [{"op": "write", "path": "models/iris-classifier/../../../outside", "text": "1"}],    # a way out
])
def test_a_pending_change_that_fails_its_check_is_applied_not_at_all(store3, changes):
    pending = crafted_pending(store3, "iris-classifier", changes)
    before = snapshot(store3)
    refused = regctl("alias", "set", "iris-classifier", "champion", "1", store=store3)
    one_line_failure(refused, 4, "was not applied", "nothing was changed")
    assert snapshot(store3) == before
    report = regctl("doctor", "--json", store=store3)
    assert report.returncode == 4
    found = [p for p in json.loads(report.stdout)["problems"] if p["kind"] == "unsafe-pending"]
    assert found and not found[0]["fixable"] and "remove the file" in found[0]["message"]
    assert regctl("doctor", "--fix", store=store3).returncode == 4 and snapshot(store3)["models/"] is None
    assert pending.exists() and (store3 / "models" / "iris-classifier").is_dir()
    # other models are not blocked
    assert regctl("alias", "set", "iris.baseline model", "champion", "1", store=store3).returncode == 0


def test_a_pending_change_without_its_intent_in_the_journal_is_not_applied(store3):
    changes = [{"op": "write", "path": "models/iris-classifier/aliases/x", "text": "1"}]
    intent = journal.intent_record("t-nowhere", changes, [journal.entry("alias.set", "iris-classifier", "x", None, "1")])
    pending_file(store3, "iris-classifier").write_text(json.dumps(intent) + "\n")
    one_line_failure(regctl("alias", "set", "iris-classifier", "champion", "1", store=store3), 4,
                     "the journal holds no intent of that transaction")
    assert not (store3 / "models" / "iris-classifier" / "aliases" / "x").exists()


def test_doctor_fix_completes_the_removal_of_a_copied_logged_model_a_killed_writer_left_pending(store3):
    """Killed (SIGKILL) while removing a copy push made: the pending file names the logged model by
    its lock, and doctor --fix completes the removal instead of refusing it as unsafe."""
    model_id = "m-" + "ab" * 16
    copy = store3 / "0" / "models" / model_id
    (copy / "artifacts").mkdir(parents=True)
    (copy / "artifacts" / "MLmodel").write_text("flavors: {}\n")
    changes = [{"op": "remove_tree", "path": f"0/models/{model_id}"}]
    intent = journal.intent_record("t-copy", changes, [journal.entry("logged_model.delete", None, model_id,
                                                                      f"models:/{model_id}", None)])
    journal.append(store3 / "models" / ".regctl%journal.jsonl", intent)
    pending_file(store3, layout.logged_model_lock_name(model_id)).write_text(json.dumps(intent) + "\n")
    checked = regctl("doctor", "--json", store=store3)
    assert [p["kind"] for p in json.loads(checked.stdout)["problems"]] == ["interrupted-change"]
    assert regctl("doctor", "--fix", store=store3).returncode == 0
    assert not copy.exists() and not pending_file(store3, layout.logged_model_lock_name(model_id)).exists()
