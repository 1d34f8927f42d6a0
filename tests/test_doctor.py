"""``regctl doctor [--fix]``: problems and warnings, safe repairs through the write path.

Everything runs the real CLI on real stores in temporary directories.
"""

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from conftest import copy_fixture_db, copy_fixture_store, one_line_failure, regctl, snapshot, sqlite_uri
from test_digest import (  # noqa: F401 (registered: a fixture)
    DIGEST_TAG,
    as_regctl_0_1_left_it,
    independent_digest,
    make_source,
    registered,
)


@pytest.mark.parametrize("kind", ["mlflow3-store", "mlflow2-store"])
def test_doctor_finds_nothing_in_mlflow_made_stores(tmp_path, kind):
    store = copy_fixture_store(kind, tmp_path)
    before = snapshot(store)
    result = regctl("doctor", store=store)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith("no problems found\n")
    fixed = regctl("doctor", "--fix", "--json", store=store)
    assert fixed.returncode == 0 and json.loads(fixed.stdout)["problems"] == []
    assert snapshot(store) == before


def damage(store: Path, tmp_path: Path) -> None:
    """One instance of every kind of damage doctor knows, on a copy of the MLflow 3 fixture."""
    model = store / "models/iris-classifier"
    (model / ".regctl-tmp-0123456789abcdef").write_text("half")                       # temp file
    (model / "version-1/.regctl-tmp-00aa").mkdir()                                     # temp dir
    (model / "aliases/ghost").write_text("9")                                          # alias to nothing
    (model / "aliases/old").write_text("3")                                            # alias to a deleted version
    (model / "aliases/garbage").write_text("two")                                      # not a number
    meta = yaml.safe_load((model / "version-2/meta.yaml").read_text())
    meta["name"] = "someone-else"
    (model / "version-2/meta.yaml").write_text(yaml.safe_dump(meta))                   # wrong name field
    other = store / "models/iris.baseline model"
    meta = yaml.safe_load((other / "version-1/meta.yaml").read_text())
    meta["version"] = 7
    (other / "version-1/meta.yaml").write_text(yaml.safe_dump(meta))                   # wrong version field
    (other / "version-5").mkdir()                                                      # version without meta
    (store / "models/broken").mkdir()                                                  # model without meta
    (store / "models/.regctl%journal.jsonl").write_text('{"operation": "x"}\n{"cut')   # damaged journal
    (store / STAGING / "model").mkdir(parents=True)                                    # killed model creation
    (store / STAGING / "model/meta.yaml").write_text("name: new\n")


STAGING = "regctltmp-" + hashlib.sha256(b"new").hexdigest()[:32] + "-00112233"
EXPECTED = {
    ("temp-leftover", STAGING),
    ("temp-leftover", "models/iris-classifier/.regctl-tmp-0123456789abcdef"),
    ("temp-leftover", "models/iris-classifier/version-1/.regctl-tmp-00aa"),
    ("dangling-alias", "models/iris-classifier/aliases/ghost"),
    ("dangling-alias", "models/iris-classifier/aliases/old"),
    ("invalid-alias", "models/iris-classifier/aliases/garbage"),
    ("name-mismatch", "models/iris-classifier/version-2/meta.yaml"),
    ("version-mismatch", "models/iris.baseline model/version-1/meta.yaml"),
    ("missing-meta", "models/iris.baseline model/version-5/meta.yaml"),
    ("missing-meta", "models/broken/meta.yaml"),
}
# warnings: not damage, doctor exits 0 for them (the aliases added above make the snapshot stale)
EXPECTED_WARNINGS = {("stale-alias-snapshot", "models/iris-classifier/meta.yaml"),
                     ("damaged-journal", "models/.regctl%journal.jsonl")}
FIXABLE = {"temp-leftover", "dangling-alias", "name-mismatch", "stale-alias-snapshot", "digest-tag"}


def test_doctor_reports_every_problem_and_fixes_only_the_safe_ones(tmp_path):
    store = copy_fixture_store("mlflow3-store", tmp_path)
    damage(store, tmp_path)
    before = snapshot(store)
    checked = regctl("doctor", "--json", store=store)
    assert checked.returncode == 4
    assert checked.stderr.startswith("regctl: 10 problem(s) found") and checked.stderr.count("\n") == 1
    report = json.loads(checked.stdout)
    assert {(p["kind"], p["path"]) for p in report["problems"]} == EXPECTED
    assert {(p["kind"], p["path"]) for p in report["warnings"]} == EXPECTED_WARNINGS
    assert all(p["fixable"] == (p["kind"] in FIXABLE) for p in report["problems"] + report["warnings"])
    assert any("flock" in note for note in report["notes"])
    assert snapshot(store) == before  # checking changes nothing

    text = regctl("doctor", store=store)
    assert text.returncode == 4 and "dangling-alias: models/iris-classifier/aliases/ghost" in text.stdout

    fixed = regctl("doctor", "--fix", "--json", store=store)
    assert fixed.returncode == 4
    result = json.loads(fixed.stdout)
    assert {(p["kind"], p["path"]) for p in result["fixed"]} == {e for e in EXPECTED | EXPECTED_WARNINGS
                                                                  if e[0] in FIXABLE}
    assert {(p["kind"], p["path"]) for p in result["problems"]} == {e for e in EXPECTED if e[0] not in FIXABLE}
    assert [(p["kind"], p["path"]) for p in result["warnings"]] == [("damaged-journal", "models/.regctl%journal.jsonl")]
    after = snapshot(store)
    changed = {k for k in set(before) | set(after) if before.get(k, "gone") != after.get(k, "gone")}
    assert changed == {
        "models/iris-classifier/.regctl-tmp-0123456789abcdef", "models/iris-classifier/version-1/.regctl-tmp-00aa/",
        "models/iris-classifier/aliases/ghost", "models/iris-classifier/aliases/old",
        "models/iris-classifier/meta.yaml", "models/iris-classifier/version-2/meta.yaml",
        "models/.regctl%journal.jsonl", f"{STAGING}/", f"{STAGING}/model/", f"{STAGING}/model/meta.yaml",
    } | {k for k in after if "%lock%" in k}
    model_meta = yaml.safe_load(after["models/iris-classifier/meta.yaml"])
    assert model_meta["aliases"] == {"challenger": "1", "champion": "2", "garbage": "two"}
    assert yaml.safe_load(after["models/iris-classifier/version-2/meta.yaml"])["name"] == "iris-classifier"
    journal = json.loads(regctl("history", "--json", store=store).stdout)
    assert sorted((r["operation"], r["target"]) for r in journal) == sorted(
        [("doctor.fix", path) for kind, path in EXPECTED | EXPECTED_WARNINGS if kind in FIXABLE]
        + [("x", None)])  # x: the damaged journal's own line

    # the rest needs a human; once it is dealt with, the store is clean
    (store / "models/iris-classifier/aliases/garbage").unlink()
    (store / "models/iris.baseline model/version-5").rmdir()
    (store / "models/broken").rmdir()
    other = store / "models/iris.baseline model/version-1/meta.yaml"
    other.write_text(other.read_text().replace("version: 7", "version: 1"))
    (store / "models/.regctl%journal.jsonl").write_text("")
    assert regctl("doctor", "--fix", store=store).returncode == 0
    assert regctl("doctor", store=store).returncode == 0


def test_doctor_reports_missing_artifacts_and_symlinks(tmp_path):
    source = make_source(tmp_path / "model", {"MLmodel": b"x"})
    store = tmp_path / "mlruns"
    assert regctl("register", source, "--name", "m", store=store).returncode == 0
    (source / "MLmodel").unlink()
    source.rmdir()
    outside = tmp_path / "outside"
    outside.write_text("secret")
    (store / "models/m/tags").mkdir()
    (store / "models/m/tags/leak").symlink_to(outside)
    report = json.loads(regctl("doctor", "--json", store=store).stdout)
    kinds = {(p["kind"], p["path"]) for p in report["problems"]}
    assert kinds == {("missing-artifacts", "models/m/version-1/meta.yaml"), ("symlink", "models/m/tags/leak")}
    assert "outside the store" in [p for p in report["problems"] if p["kind"] == "symlink"][0]["message"]
    before = snapshot(store)
    assert regctl("doctor", "--fix", store=store).returncode == 4  # nothing here is safe to repair
    assert snapshot(store) == before
    assert outside.read_text() == "secret"


def test_doctor_on_a_missing_store_fails_cleanly(tmp_path):
    one_line_failure(regctl("doctor", store=tmp_path / "nothing"), 4)
    assert not (tmp_path / "nothing").exists()


def test_doctor_reports_each_field_of_the_wrong_type(tmp_path):
    store = copy_fixture_store("mlflow3-store", tmp_path)
    model = store / "models/iris-classifier"
    meta = model / "meta.yaml"
    meta.write_text(meta.read_text().replace("creation_timestamp: ", "creation_timestamp: x\nx: "))
    version = model / "version-1/meta.yaml"
    version.write_text(version.read_text().replace("source: ", "source: [a]\nx: ")
                       .replace("status: READY", "status: 3"))
    result = regctl("doctor", "--json", store=store)
    assert result.returncode == 4
    found = {(p["kind"], p["path"], p["message"]) for p in json.loads(result.stdout)["problems"]}
    assert found == {
        ("bad-field", "models/iris-classifier/meta.yaml", "creation_timestamp is 'x', not an integer"),
        ("bad-field", "models/iris-classifier/version-1/meta.yaml", "source is ['a'], not text"),
        ("bad-field", "models/iris-classifier/version-1/meta.yaml", "status is 3, not text"),
    }


# ------------------------------------------------- the digest tag of regctl 0.1

@pytest.mark.parametrize("manifest_left", ["intact", "missing", "damaged"])
def test_doctor_fix_moves_an_old_digest_tag_into_the_manifest(registered, manifest_left):
    """Issue 7.3.7: a store written by regctl 0.1 (digest tag on every version it registered)
    verifies before and after ``doctor --fix`` moves the tag into the manifest file."""
    store, source = registered
    tag = as_regctl_0_1_left_it(store)
    manifest = store / "models/m/version-1/.regctl%manifest.json"
    if manifest_left == "missing":
        manifest.unlink()
    elif manifest_left == "damaged":
        manifest.write_text('{"digest": "sha256:')
    expected = f"{independent_digest(source)}  {source}\n"
    assert regctl("verify", "models:/m/1", store=store).stdout == expected  # the tag stands in

    checked = regctl("doctor", "--json", store=store)
    assert checked.returncode == 0, checked.stderr  # a warning, not damage
    report = json.loads(checked.stdout)
    assert report["problems"] == []
    assert [(w["kind"], w["path"], w["fixable"]) for w in report["warnings"]] == [
        ("digest-tag", f"models/m/version-1/tags/{DIGEST_TAG}", True)]
    assert "warning: digest-tag" in regctl("doctor", store=store).stdout

    fixed = regctl("doctor", "--fix", "--json", store=store)
    assert fixed.returncode == 0
    assert [f["kind"] for f in json.loads(fixed.stdout)["fixed"]] == ["digest-tag"]
    assert not tag.exists()
    assert json.loads(regctl("versions", "m", "--json", store=store).stdout)[0]["tags"] == {}
    data = json.loads(manifest.read_text())
    assert data["digest"] == independent_digest(source)
    assert ("files" in data) == (manifest_left == "intact")
    assert regctl("verify", "models:/m/1", store=store).stdout == expected
    clean = json.loads(regctl("doctor", "--json", store=store).stdout)
    assert clean["problems"] == clean["warnings"] == []
    (source / "model.pkl").write_bytes(b"other")
    message = one_line_failure(regctl("verify", "models:/m/1", store=store), 4)
    assert ("changed 'model.pkl'" in message) == (manifest_left == "intact")


# ------------------------------------------------- a damaged database file

def test_doctor_reports_a_corrupt_database_page_as_a_finding(tmp_path):
    """A page overwritten in the middle of the file: doctor reports SQLite's message as a finding
    (exit 4, what to do), repairs nothing, and other commands keep their one-line error."""
    db = copy_fixture_db("mlflow3-db", tmp_path / "project")
    with sqlite3.connect(db) as connection:
        page = connection.execute("PRAGMA page_size").fetchone()[0]
        root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'model_versions'").fetchone()[0]
    connection.close()
    with open(db, "r+b") as handle:  # the root page of model_versions, 18 of the file's 233 pages
        handle.seek((root - 1) * page)
        handle.write(b"\xde\xad\xbe\xef" * (page // 4))
    before = snapshot(db.parent)
    for args in (["doctor"], ["doctor", "--fix"]):
        result = regctl(*args, store=sqlite_uri(db))
        assert result.returncode == 4, result.stderr
        assert result.stdout == (
            "corrupt-database: mlflow.db: SQLite cannot read the database: database disk image is malformed; "
            "nothing else was checked and nothing was changed: restore mlflow.db from a backup, or recover "
            "what SQLite can still read into a new file (sqlite3 mlflow.db .recover | sqlite3 recovered.db) "
            f"and check that copy with doctor before using it\n{db}: 1 problem(s) found\n")
        assert result.stderr == f"regctl: 1 problem(s) found in the store {db}\n"
    report = json.loads(regctl("doctor", "--fix", "--json", store=sqlite_uri(db)).stdout)
    assert [(p["kind"], p["path"], p["fixable"]) for p in report["problems"]] == [
        ("corrupt-database", "mlflow.db", False)]
    assert report["fixed"] == [] and report["ok"] is False
    assert snapshot(db.parent) == before
    one_line_failure(regctl("versions", "iris-classifier", store=sqlite_uri(db)), 4,
                     f"database {db}: database disk image is malformed")


# ------------------------------------------------- what a killed push copied and never registered

def test_doctor_finds_and_removes_what_a_killed_push_copied_into_a_file_store(tmp_path):
    from test_push import JOURNAL, another_writer, pushable, started_push, wait_for_copy, without

    source = pushable(tmp_path)
    target = copy_fixture_store("mlflow3-store", tmp_path / "target")
    mlflows_own = target / "0/models/m-0123456789abcdef0123456789abcdef"  # MLflow's, never registered
    shutil.copytree(next((target / "365814095808921414/models").iterdir()), mlflows_own)
    before = snapshot(target)
    with another_writer(target, "m"):
        push = started_push(tmp_path, source, target)
        try:
            copy = wait_for_copy(target / "0/models", push, before=[mlflows_own.name])
            live = regctl("doctor", "--fix", "--json", store=target)  # the push holds its copy: not touched
            assert live.returncode == 0 and json.loads(live.stdout)["problems"] == [], live.stdout
            assert (target / "0/models" / copy / "artifacts/MLmodel").is_file()
        finally:
            push.kill()  # SIGKILL: nothing of the push runs again
            push.communicate()
    (target / "0/models/.regctl-tmp-00112233").mkdir()  # what a push killed while copying leaves
    (target / "0/models/.regctl-tmp-00112233/MLmodel").write_text("half")

    checked = regctl("doctor", store=target)
    assert checked.returncode == 4 and checked.stderr == f"regctl: 2 problem(s) found in the store {target}\n"
    assert checked.stdout == (
        f"temp-leftover: 0/models/.regctl-tmp-00112233: leftover temporary directory of a logged model a killed "
        "command was copying files into (doctor --fix repairs this)\n"
        f"unreferenced-copy: 0/models/{copy}: a logged model regctl copied files into that no version refers "
        "to, left by a push killed before it registered it (a rerun copies again) (doctor --fix repairs this)\n"
        f"{target}: 2 problem(s) found\n")
    fixed = regctl("doctor", "--fix", "--json", store=target)
    assert fixed.returncode == 0, fixed.stdout
    assert sorted((p["kind"], p["path"]) for p in json.loads(fixed.stdout)["fixed"]) == [
        ("temp-leftover", "0/models/.regctl-tmp-00112233"), ("unreferenced-copy", f"0/models/{copy}")]
    assert without(snapshot(target), JOURNAL) == without(before)  # MLflow's own logged model stays
    history = [(r["operation"], r["target"]) for r in json.loads(regctl("history", "--json", store=target).stdout)]
    assert history[:2] == [("logged_model.delete", copy), ("doctor.fix", "0/models/.regctl-tmp-00112233")]


def test_doctor_finds_and_removes_what_a_killed_push_copied_beside_a_database(tmp_path):
    from test_push import pushable, started_push, wait_for_copy

    source = pushable(tmp_path)
    db = copy_fixture_db("mlflow3-db", tmp_path / "project")
    artifacts, uri = db.parent / "regctl-artifacts", sqlite_uri(db)

    def found(*args) -> "tuple[int, set, dict]":
        result = regctl("doctor", *args, "--json", store=uri)
        report = json.loads(result.stdout)
        return result.returncode, {(p["kind"], p["path"]) for p in report["problems"]}, report

    _, baseline, _ = found()  # the fixture's own: artifacts recorded under /srv/project
    before = snapshot(db.parent)
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")  # another writer: the push copies, then waits to register
    push = started_push(tmp_path, source, uri)
    try:
        copy = wait_for_copy(artifacts, push)
        assert found()[1] == baseline  # the live push holds its copy: not reported
        push.kill()
        push.communicate()
    finally:
        connection.execute("ROLLBACK")
        connection.close()
        if push.poll() is None:
            push.kill()
            push.communicate()
    temp = f".regctl-tmp-{'ab' * 16}"  # what a push killed while copying leaves
    (artifacts / temp).mkdir()
    (artifacts / temp / "MLmodel").write_text("half")

    code, problems, _ = found()
    assert code == 4 and problems - baseline == {("unreferenced-copy", f"regctl-artifacts/{copy}"),
                                                 ("temp-leftover", f"regctl-artifacts/{temp}")}
    text = regctl("doctor", store=uri).stdout
    assert (f"unreferenced-copy: regctl-artifacts/{copy}: a copy of a version's files that no version refers "
            "to, left by a push killed before it registered it (a rerun copies again) (doctor --fix repairs "
            "this)\n") in text
    assert (f"temp-leftover: regctl-artifacts/{temp}: leftover temporary directory of a copy a killed command "
            "was making (doctor --fix repairs this)\n") in text
    code, problems, report = found("--fix")
    assert problems == baseline
    assert sorted((p["kind"], p["path"]) for p in report["fixed"]) == [
        ("temp-leftover", f"regctl-artifacts/{temp}"), ("unreferenced-copy", f"regctl-artifacts/{copy}")]
    journal = "./mlflow.db.regctl-journal.jsonl"
    after = {k: v for k, v in snapshot(db.parent).items() if k not in (journal, "regctl-artifacts/")
             and "%lock%" not in k}
    assert after == before  # the database byte for byte; an empty regctl-artifacts/ stays
    assert [(r["operation"], r["target"]) for r in json.loads(regctl("history", "--json", store=uri).stdout)] == [
        ("doctor.fix", f"regctl-artifacts/{copy}"), ("doctor.fix", f"regctl-artifacts/{temp}")]  # newest first
