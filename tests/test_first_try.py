"""Output a person reads on a first try: deleted versions, describe on a narrow terminal."""

import json
import os

from conftest import ok, regctl, snapshot
from test_output import on_terminal, width

MODEL = "iris-classifier"


def test_deleted_versions_read_deleted_in_tables_and_keep_mlflows_value_in_json(store3):
    ok(regctl("--store", str(store3), "delete", MODEL, "--version", "1", "--yes"))
    status, shown, _ = on_terminal("versions", MODEL, "--all", store=store3)
    assert status == 0
    assert "Deleted_Internal" not in shown and "deleted" in shown
    tsv = ok(regctl("--store", str(store3), "versions", MODEL, "--all"))
    assert "Deleted_Internal" not in tsv and "\tdeleted\t" in tsv
    views = json.loads(ok(regctl("--store", str(store3), "versions", MODEL, "--all", "--json")))
    assert "Deleted_Internal" in [v["current_stage"] for v in views]


def test_describe_fits_a_narrow_terminal_and_shows_every_value_whole(store3):
    status, shown, err = on_terminal("describe", MODEL, "--version", "1", columns=40, store=store3)
    assert status == 0, err
    lines = shown.splitlines()
    assert lines and max(width(line) for line in lines) <= 40
    source = json.loads(ok(regctl("--store", str(store3), "describe", MODEL, "--version", "1", "--json")))["source"]
    assert source in "".join(shown.split())  # folded onto several lines, never cut


def _readme() -> str:
    from conftest import REPO

    return (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_says_how_to_read_the_manual_after_an_editable_install():
    text = " ".join(_readme().split())
    assert "An editable install" in text and "regctl man | man -l - shows the page after either install" \
        in text.replace("`", "")
    assert ok(regctl("man")).startswith(".")  # the page itself, on stdout


def test_register_of_a_local_directory_records_it_where_it_is_as_the_readme_says(store3, tmp_path):
    text = " ".join(_readme().split())
    assert "`register ./dir` records the directory where it is" in text
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    ok(regctl("--store", str(store3), "register", str(model), "--name", "local"))
    (model / "MLmodel").write_text("flavors: {changed: 1}\n")
    edited = regctl("--store", str(store3), "verify", "models:/local/1")
    assert edited.returncode == 4 and "differ from what was registered" in edited.stderr
    model.rename(tmp_path / "moved")
    moved = regctl("--store", str(store3), "resolve", "models:/local/1")
    assert moved.returncode == 1 and "not found at" in moved.stderr and moved.stdout == ""


def test_the_digest_survives_a_rename_made_by_mlflow(store3, tmp_path):
    import subprocess
    import sys

    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    ok(regctl("--store", str(store3), "register", str(model), "--name", "before-rename"))
    script = ("import sys\nfrom mlflow import MlflowClient\n"
              "MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])"
              ".rename_registered_model('before-rename', 'after-rename')\n")
    env = dict(os.environ, MLFLOW_ALLOW_FILE_STORE="true")
    done = subprocess.run([sys.executable, "-c", script, store3.as_uri()], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    verified = regctl("--store", str(store3), "verify", "models:/after-rename/1")
    assert verified.returncode == 0, verified.stderr
    (model / "MLmodel").write_text("flavors: {changed: 1}\n")
    edited = regctl("--store", str(store3), "verify", "models:/after-rename/1")
    assert edited.returncode == 4 and "differ from what was registered" in edited.stderr


def test_a_version_without_a_digest_is_not_said_to_be_unregistered_by_regctl(store3):
    before = snapshot(store3)
    done = regctl("--store", str(store3), "verify", "models:/iris-classifier/1")
    assert done.returncode == 1 and done.stdout == ""
    assert "has no recorded digest" in done.stderr and "not registered by regctl" not in done.stderr
    assert snapshot(store3) == before
