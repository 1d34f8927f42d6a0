"""What a CI script relies on: a registry without models is a store, where a model is missing."""

import shutil

import pytest

from tests.conftest import copy_fixture_db, copy_fixture_store, ok, ok_json, one_line_failure, regctl, snapshot


@pytest.fixture
def runs_only(tmp_path):
    """An ``mlruns/`` MLflow made with experiments and runs, and no registered model yet."""
    root = copy_fixture_store("mlflow3-store", tmp_path)
    shutil.rmtree(root / "models")
    return root


@pytest.mark.parametrize("argv", [
    ("alias", "set", "NoSuch", "champion", "1"),
    ("alias", "delete", "NoSuch", "champion"),
    ("tag", "NoSuch", "team=risk"),
    ("versions", "NoSuch"),
])
def test_a_missing_model_in_a_registry_without_models_exits_1(runs_only, argv):
    before = snapshot(runs_only)
    one_line_failure(regctl(*argv, store=runs_only), 1, "registered model 'NoSuch' not found")
    assert snapshot(runs_only) == before


def test_a_missing_store_is_still_no_store(tmp_path):
    missing = tmp_path / "nowhere"
    one_line_failure(regctl("alias", "set", "NoSuch", "champion", "1", store=missing), 4, "no MLflow store at")
    assert not missing.exists()


def test_store_naming_a_project_directory_reads_its_database(tmp_path):
    project = tmp_path / "project"
    copy_fixture_db("mlflow3-db", project)  # mlflow.db, and mlruns/ holding only its artifacts
    before = snapshot(project)
    expected = ok_json("models", store=None, cwd=project)
    assert expected, "the fixture database holds models"
    assert ok_json("models", store=project) == expected
    assert ok_json("models", store=f"file://{project}") == expected
    assert ok(regctl("resolve", "models:/iris-classifier@champion", store=project, process=True)).strip()
    assert snapshot(project) == before


def test_store_naming_a_file_store_or_a_new_directory_is_unchanged(tmp_path, store3):
    assert ok_json("models", store=store3)  # the mlruns/ of a file store, beside no database
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "mlflow.db").write_bytes(b"")  # an mlflow.db inside a file store is not the store
    (fresh / "models").mkdir()
    assert ok_json("models", store=fresh) == []
