"""Every class of failure through the real CLI: the exit code, exactly one ``regctl:`` line on
stderr naming the offending value, nothing on stdout, and the store left byte for byte as it was.

The cases run on the MLflow 3 fixture as a file store and as a database (``backend``),
except the few that only a file store refuses (tag keys that clash as files and
directories; MLflow's database accepts them)."""

import ctypes
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FixtureStore, copy_fixture_store, expected_of, one_line_failure, snapshot
from conftest import regctl as run

from regctl.backends.file import layout

E3 = expected_of("mlflow3-store")
RUN = "{run}"  # the fixture's first run, filled in per backend (see with_run)
SOURCE = f"runs:/{RUN}/model"
MISSING_RUN = "0123456789abcdef0123456789abcdef"
LOCK_PREFIX = ".regctl%lock%"


def assert_unchanged(before: dict, after: dict) -> None:
    """Byte-for-byte equality, except that a write may leave its (empty) per-model lock file.

    The lock is an flock on a file that stays in place so that every waiter locks
    the same inode; it is regctl's own file, which MLflow ignores.
    """
    created = set(after) - set(before)
    locks = {p for p in created if os.path.dirname(p) == "models" and os.path.basename(p).startswith(LOCK_PREFIX)}
    assert all(after[p] == b"" for p in locks)
    assert {p: v for p, v in after.items() if p not in locks} == before


LONG_VALUE = "v" * 100_001

CASES = [
    # (id, args, exit code, text the message must contain)
    ("model-name-slash", ("register", SOURCE, "--name", "a/b"), 2, "'a/b'"),
    ("model-name-colon", ("register", SOURCE, "--name", "a:b"), 2, "'a:b'"),
    ("model-name-dotdot", ("rename", "iris-classifier", "..x"), 2, "'..x'"),
    ("model-name-newline", ("register", SOURCE, "--name", "x\n"), 2, "'x\\n'"),
    ("alias-chars", ("alias", "set", "iris-classifier", "a.b", "1"), 2, "'a.b'"),
    ("alias-newline", ("alias", "set", "iris-classifier", "abc\n", "1"), 2, "'abc\\n'"),
    ("alias-reserved-latest", ("alias", "set", "iris-classifier", "Latest", "1"), 2, "'Latest'"),
    ("alias-reserved-v-digits", ("register", SOURCE, "--name", "iris-classifier", "--alias", "V12"), 2, "'V12'"),
    ("tag-key-double-slash", ("tag", "iris-classifier", "a//b=1"), 2, "'a//b'"),
    ("tag-key-leading-slash", ("register", SOURCE, "--name", "n", "--tag", "/a=1"), 2, "'/a'"),
    ("tag-key-dot", ("tag", "iris-classifier", ".=1"), 2, "'.'"),
    ("tag-key-dotdot", ("tag", "iris-classifier", "--version", "1", "a/../b=1"), 2, "'a/../b'"),
    ("tag-no-equals", ("tag", "iris-classifier", "novalue"), 2, "'novalue'"),
    ("tag-value-too-long", ("tag", "iris-classifier", "ok=1", "big=" + LONG_VALUE), 2, "'big'"),
    ("version-word", ("alias", "set", "iris-classifier", "champion", "x"), 2, "'x'"),
    ("version-decimal", ("describe", "iris-classifier", "--version", "1.0"), 2, "'1.0'"),
    ("version-zero", ("stage", "iris-classifier", "0", "Staging"), 2, "'0'"),
    ("version-negative", ("delete", "iris-classifier", "--version", "-1", "--yes"), 2, "'-1'"),
    ("version-expect", ("alias", "set", "iris-classifier", "champion", "1", "--expect", "two"), 2, "'two'"),
    ("stage-bogus", ("stage", "iris-classifier", "1", "bogus"), 2, "'bogus'"),
    ("stage-deleted-internal", ("stage", "iris-classifier", "1", "deleted_internal"), 2, "'deleted_internal'"),
    ("uri-query", ("resolve", "models:/a?b/1"), 2, "invalid logged model id 'a'"),  # MLflow drops the query
    ("uri-authority", ("resolve", "models://prod/iris-classifier/1"), 2, "'models://prod/iris-classifier/1'"),
    ("uri-too-many-parts", ("register", "models:/iris-classifier/1/x", "--name", "n"), 2, "'models:/iris-classifier/1/x'"),
    ("uri-scheme", ("resolve", "s3://bucket/model"), 2, "'s3'"),
    ("uri-stage-in-uri", ("resolve", "models:/iris-classifier/bogus-stage"), 2, "'bogus-stage'"),
    ("usage-unknown-option", ("resolve", "--bogus", "models:/iris-classifier/1"), 2, "--bogus"),
    ("usage-unknown-command", ("frobnicate",), 2, "frobnicate"),
    ("usage-missing-argument", ("alias", "set", "iris-classifier", "champion"), 2, "VERSION"),
    ("usage-bad-limit", ("versions", "iris-classifier", "--limit", "0"), 2, "--limit"),
    ("usage-both-version-and-alias", ("describe", "iris-classifier", "--version", "1", "--alias", "champion"), 2, "--alias"),
    ("missing-model-versions", ("versions", "nope"), 1, "'nope'"),
    ("missing-model-alias", ("alias", "set", "nope", "champion", "1"), 1, "'nope'"),
    ("missing-model-tag", ("tag", "nope", "k=v"), 1, "'nope'"),
    ("missing-model-stage", ("stage", "nope", "1", "None"), 1, "'nope'"),
    ("missing-model-rename", ("rename", "nope", "other"), 1, "'nope'"),
    ("missing-model-delete", ("delete", "nope", "--yes"), 1, "'nope'"),
    ("missing-model-resolve", ("resolve", "models:/nope/1"), 1, "'nope'"),
    ("missing-version-describe", ("describe", "iris-classifier", "--version", "4"), 1, "version 4"),
    ("missing-version-alias", ("alias", "set", "iris-classifier", "champion", "9"), 1, "version 9"),
    ("missing-version-stage", ("stage", "iris-classifier", "4", "Staging"), 1, "version 4"),
    ("deleted-version-resolve", ("resolve", "models:/iris-classifier/3"), 1, "version 3"),
    ("deleted-version-alias", ("alias", "set", "iris-classifier", "champion", "3"), 1, "version 3"),
    ("deleted-version-tag", ("tag", "iris-classifier", "--version", "3", "k=v"), 1, "version 3"),
    ("deleted-version-describe-set", ("describe", "iris-classifier", "--version", "3", "--set", "x"), 1, "version 3"),
    ("deleted-version-stage", ("stage", "iris-classifier", "3", "Production"), 1, "version 3"),
    ("deleted-version-delete", ("delete", "iris-classifier", "--version", "3", "--yes"), 1, "version 3"),
    ("deleted-version-register", ("register", "models:/iris-classifier/3", "--name", "n"), 1, "version 3"),
    ("missing-alias-resolve", ("resolve", "models:/iris-classifier@candidate"), 1, "'candidate'"),
    ("missing-alias-case", ("describe", "iris-classifier", "--alias", "Champion"), 1, "'Champion'"),
    ("missing-alias-delete", ("alias", "delete", "iris-classifier", "candidate"), 1, "'candidate'"),
    ("missing-tag-delete", ("tag", "iris-classifier", "--delete", "task", "--delete", "nope"), 1, "'nope'"),
    ("missing-run-register", ("register", f"runs:/{MISSING_RUN}/model", "--name", "n"), 1, MISSING_RUN),
    ("missing-run-resolve", ("resolve", f"runs:/{MISSING_RUN}/model"), 1, MISSING_RUN),
    ("missing-source-path", ("register", "/nonexistent/model", "--name", "n"), 1, "'/nonexistent/model'"),
    ("missing-source-run-path", ("register", f"runs:/{RUN}/nosuch", "--name", "n"), 1, "nosuch"),
    ("missing-source-logged-model", ("register", "models:/m-" + "0" * 32, "--name", "n"), 1, "m-" + "0" * 32),
    ("rename-onto-existing", ("rename", "iris-classifier", "iris.baseline model"), 3, "'iris.baseline model'"),
    ("expect-mismatch", ("alias", "set", "iris-classifier", "champion", "1", "--expect", "1"), 3, "'champion'"),
    ("expect-none-but-set", ("alias", "set", "iris-classifier", "champion", "1", "--expect", "none"), 3, "'champion'"),
    ("delete-model-without-yes", ("delete", "iris-classifier"), 2, "--yes"),
    ("delete-version-without-yes", ("delete", "iris-classifier", "--version", "1"), 2, "--yes"),
    ("archive-existing-none", ("stage", "iris-classifier", "1", "none", "--archive-existing"), 2, "None"),
    ("archive-existing-archived", ("stage", "iris-classifier", "1", "Archived", "--archive-existing"), 2, "Archived"),
    ("tag-over-nested-dir", ("tag", "iris-classifier", "owner=x"), 3, "'owner'"),
    ("tag-under-existing-tag", ("tag", "iris-classifier", "owner/team/lead=x"), 3, "'owner/team/lead'"),
    ("tag-version-over-nested-dir", ("tag", "iris-classifier", "--version", "2", "metrics=x"), 3, "'metrics'"),
    # nothing is written when a later key fails: the first key must not land
    ("tag-second-key-conflicts", ("tag", "iris-classifier", "fine=1", "task/sub=x"), 3, "'task/sub'"),
    ("tag-keys-clash-each-other", ("tag", "iris-classifier", "a=1", "a/b=2"), 3, "'a"),
    ("register-tags-clash-new-model", ("register", SOURCE, "--name", "brand-new", "--tag", "a=1", "--tag", "a/b=2"), 3, "'a"),
]
# A key that is both a tag and a directory of tags: only a file store cannot hold both.
FILE_STORE_ONLY = {"tag-over-nested-dir", "tag-under-existing-tag", "tag-version-over-nested-dir",
                   "tag-second-key-conflicts", "tag-keys-clash-each-other", "register-tags-clash-new-model"}


def with_run(args, store: FixtureStore) -> list:
    """The case's arguments with the fixture's own run id."""
    run_id = store.expected["runs"][0]["run_id"]
    return [a.replace(RUN, run_id) if isinstance(a, str) else a for a in args]


def changed_root(store: FixtureStore) -> Path:
    """What a failed command must leave unchanged: the mlruns/ tree, or the database with its artifacts."""
    return store.root if store.is_file else store.base


@pytest.mark.parametrize("case, args, code, needle", CASES, ids=[c[0] for c in CASES])
def test_failure_leaves_store_unchanged(backend, case, args, code, needle):
    if not backend.is_file and case in FILE_STORE_ONLY:
        pytest.skip("MLflow's database holds a tag key and keys below it side by side")
    before = snapshot(changed_root(backend))
    one_line_failure(run(*with_run(args, backend), store=backend), code, needle)
    assert_unchanged(before, snapshot(changed_root(backend)))


@pytest.mark.parametrize("args", [
    ("models",),
    ("versions", "iris-classifier"),
    ("history",),
    ("resolve", "models:/iris-classifier/1"),
    ("describe", "iris-classifier"),
])
@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_read_on_a_missing_store(tmp_path, args, kind):
    store = tmp_path / "absent" / ("mlruns" if kind == "file" else "mlflow.db")
    one_line_failure(run(*args, store=store if kind == "file" else f"sqlite:///{store}"), 4, str(store))
    assert not store.exists() and not store.parent.exists()


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_failed_register_does_not_create_a_store(tmp_path, kind):
    store = tmp_path / "absent" / ("mlruns" if kind == "file" else "mlflow.db")
    option = store if kind == "file" else f"sqlite:///{store}"
    one_line_failure(run("register", str(tmp_path / "no-model"), "--name", "n", store=option), 1, "no-model")
    source = SOURCE.replace(RUN, E3["runs"][0]["run_id"])
    one_line_failure(run("register", source, "--name", "n", store=option), 4, str(store))
    assert not store.exists() and not store.parent.exists()


def test_no_traceback_for_unexpected_input_shapes(backend, tmp_path):
    """Odd but legal inputs still end in a one-line message."""
    store = backend
    before = snapshot(changed_root(store))
    one_line_failure(run("resolve", "", store=store), 2, "''")
    one_line_failure(run("versions", "a/b", store=store), 2, "'a/b'")
    one_line_failure(run("describe", "iris-classifier", "--set-file", tmp_path / "none.md", store=store), 2, "none.md")
    assert_unchanged(before, snapshot(changed_root(store)))


# ------------------------------------------------------- store cannot be written

def _drop_file_permission_override():
    """In the child: give up root's CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH so file modes apply."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _run_without_override(store: Path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    preexec = _drop_file_permission_override if os.geteuid() == 0 else None
    return subprocess.run([sys.executable, "-m", "regctl", "--store", str(store), *map(str, args)],
                          capture_output=True, text=True, env=env, preexec_fn=preexec)


@pytest.fixture
def read_only_store(backend):
    store = backend
    if os.geteuid() == 0:
        # Root bypasses file modes; the child drops that power. Check it is possible here.
        probe = subprocess.run([sys.executable, "-c", "pass"], preexec_fn=_drop_file_permission_override,
                               capture_output=True)
        if probe.returncode != 0:
            pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE, so file modes are not enforced")
    for parent, _dirs, files in os.walk(store.base):
        for name in files:
            os.chmod(os.path.join(parent, name), 0o444)
        os.chmod(parent, 0o555)
    yield store
    for parent, _dirs, _files in os.walk(store.base):
        os.chmod(parent, 0o755)


@pytest.mark.parametrize("args", [
    ("alias", "set", "iris-classifier", "champion", "1"),
    ("tag", "iris-classifier", "k=v"),
    ("register", SOURCE, "--name", "iris-classifier"),
    ("register", SOURCE, "--name", "new-model"),
    ("describe", "iris-classifier", "--set", "x"),
    ("delete", "iris-classifier", "--version", "1", "--yes"),
    ("rename", "iris-classifier", "renamed"),
])
def test_read_only_store(read_only_store, args):
    before = snapshot(read_only_store.base)
    result = _run_without_override(read_only_store.store, *with_run(args, read_only_store))
    one_line_failure(result, 4, "permission denied")
    assert str(read_only_store.root) in result.stderr
    assert snapshot(read_only_store.base) == before
    # reads still work
    ok = _run_without_override(read_only_store.store, "resolve", "models:/iris-classifier@champion")
    assert ok.returncode == 0 and ok.stdout.endswith("/artifacts\n"), ok.stderr


# ---------------------------------------------------------------- lock timeout

def test_lock_not_obtained_in_time(tmp_path):
    store = copy_fixture_store("mlflow3-store", tmp_path)
    source = SOURCE.replace(RUN, E3["runs"][0]["run_id"])
    lock_path = layout.model_lock(store, "iris-classifier")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        before = snapshot(store)
        for args in [("alias", "set", "iris-classifier", "champion", "1"),
                     ("register", source, "--name", "iris-classifier")]:
            result = run(*args, store=store, env={"REGCTL_LOCK_TIMEOUT": "0.5"})
            one_line_failure(result, 4, str(lock_path))
            assert "'iris-classifier'" in result.stderr and "0.5s" in result.stderr
        assert snapshot(store) == before
        # another model's lock is independent
        result = run("tag", "iris.baseline model", "k=v", store=store, env={"REGCTL_LOCK_TIMEOUT": "0.5"})
        assert result.returncode == 0, result.stderr
    finally:
        os.close(fd)
    # once released, the same write goes through
    result = run("alias", "set", "iris-classifier", "champion", "1", store=store, env={"REGCTL_LOCK_TIMEOUT": "0.5"})
    assert result.returncode == 0, result.stderr
