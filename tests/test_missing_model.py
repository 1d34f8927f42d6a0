"""A model that does not exist is "not found" (exit 1) for every command, also in an ``mlruns/``
MLflow made for experiments and runs before any model was registered (no ``models/`` yet):
it is the model that is missing, not the store."""

import pytest
from conftest import one_line_failure, regctl, snapshot

COMMANDS = [
    ("alias", "set", "NoSuch", "champion", "1"), ("alias", "delete", "NoSuch", "champion"),
    ("alias", "rollback", "NoSuch", "champion"), ("tag", "NoSuch", "a=b"), ("stage", "NoSuch", "1", "Production"),
    ("describe", "NoSuch", "--set", "text"), ("rename", "NoSuch", "other"), ("delete", "NoSuch", "--yes"),
    ("delete", "NoSuch", "--version", "1", "--yes"), ("gc", "NoSuch", "--keep", "1"), ("versions", "NoSuch"),
    ("describe", "NoSuch"), ("resolve", "models:/NoSuch/1"),
]


@pytest.fixture
def experiments_only(store3):
    """A store MLflow made that has runs but no registered model yet."""
    import shutil

    shutil.rmtree(store3 / "models")
    return store3


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_a_missing_model_is_not_found_in_a_store_without_a_registry(experiments_only, args):
    before = snapshot(experiments_only)
    line = one_line_failure(regctl(*args, store=experiments_only), 1, "'NoSuch' not found")
    assert "no MLflow store" not in line
    assert snapshot(experiments_only) == before
