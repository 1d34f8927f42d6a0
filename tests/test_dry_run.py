"""``--dry-run`` on every write command: the confirmation prefixed "would: ", the store byte for byte
unchanged, on a file store and on a SQLite database (a tracking server: test_server.py)."""

import pytest
from conftest import ok_json, one_line_failure, regctl, snapshot

CHAMPION_RUN = "43a5e07a68d34cb2b26fd2bafb0996f9"

# (arguments, the confirmation a real run prints on stderr, its stdout)
WRITES = [
    (["register", "runs:/{run}/model", "--name", "iris-classifier", "--alias", "candidate"],
     "registered iris-classifier version 4 from models:/m-edcc948ee8684cc0a792f736d9f6e4f1", "4\n"),
    (["alias", "set", "iris-classifier", "champion", "1"], "champion: 2 -> 1", ""),
    (["alias", "delete", "iris-classifier", "challenger"], "challenger: 1 -> (deleted)", ""),
    (["tag", "iris-classifier", "a=1", "b=2"], "set 2 tag(s)", ""),
    (["tag", "iris-classifier", "--delete", "task", "--version", None], None, ""),
    (["describe", "iris-classifier", "--version", "1", "--set", "new text"], "description updated", ""),
    (["stage", "iris-classifier", "1", "Production", "--archive-existing"],
     "version 1: Staging -> Production (archived 2)", ""),
    (["rename", "iris.baseline model", "iris-baseline"], "renamed iris.baseline model to iris-baseline", ""),
    (["delete", "iris-classifier", "--version", "2", "--yes"], "deleted version 2 of iris-classifier; removed aliases champion", ""),
    (["delete", "iris.baseline model", "--yes"], "deleted model iris.baseline model", ""),
    (["gc", "iris-classifier", "--keep", "0", "--delete-staged"],
     "iris-classifier: nothing to delete; kept 2 (alias champion); kept 1 (alias challenger)", ""),
]


@pytest.mark.parametrize("args, confirmation, stdout", [w for w in WRITES if w[1]], ids=lambda v: str(v)[:40])
def test_a_dry_run_says_what_the_write_would_do_and_changes_nothing(backend, args, confirmation, stdout):
    champion_run = CHAMPION_RUN if backend.is_file else \
        ok_json("describe", "iris-classifier", "--alias", "champion", store=backend)["run_id"]
    args = [a.format(run=champion_run) for a in args]
    before = backend.snapshot()
    dry = regctl(*args, "--dry-run", store=backend)
    assert dry.returncode == 0, dry.stderr
    assert backend.snapshot() == before
    real = regctl(*args, store=backend.store)
    assert real.returncode == 0 and (dry.stdout, dry.stderr) == (real.stdout, f"would: {real.stderr}")
    if backend.is_file:  # the fixture's own sources and numbers
        assert (real.stdout, real.stderr) == (stdout, f"{confirmation}\n")
    assert backend.snapshot() != before or args[0] == "gc"


def test_a_dry_run_still_checks_everything(backend):
    before = backend.snapshot()
    one_line_failure(regctl("alias", "set", "iris-classifier", "champion", "1", "--expect", "1", "--dry-run",
                            store=backend), 3)
    one_line_failure(regctl("alias", "rollback", "iris-classifier", "champion", "--dry-run", store=backend), 1)
    one_line_failure(regctl("tag", "iris-classifier", "--delete", "nope", "--dry-run", store=backend), 1)
    one_line_failure(regctl("rename", "iris-classifier", "iris.baseline model", "--dry-run", store=backend), 3)
    assert backend.snapshot() == before


def test_alias_rollback_dry_run(store3):
    regctl("alias", "set", "iris-classifier", "champion", "1", store=store3)
    before = snapshot(store3)
    dry = regctl("alias", "rollback", "iris-classifier", "champion", "--dry-run", store=store3)
    assert (dry.returncode, dry.stderr) == (0, "would: champion: 1 -> 2\n")
    assert snapshot(store3) == before


def test_a_dry_run_registration_creates_no_store(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    store = tmp_path / "fresh" / "mlruns"
    result = regctl("register", source, "--name", "m", "--dry-run", store=store)
    assert (result.returncode, result.stdout) == (0, "1\n") and result.stderr.startswith("would: registered m version 1")
    assert not store.exists()
