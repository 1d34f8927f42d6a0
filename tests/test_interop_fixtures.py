"""regctl against the oracle recorded from real MLflow (``tests/fixtures/*/expected.json``).

Both fixture stores were written by MLflow in ``/srv/project/mlruns``; the tests
run regctl's real CLI on copies in temporary directories, so every stored
location is also an exercise of regctl's "moved store" rebasing.
"""

import json
import os
from pathlib import Path

import pytest
from conftest import copy_fixture_store, expected_of, regctl, snapshot

KINDS = ["mlflow3-store", "mlflow2-store"]
ORIGINAL_ROOT = "/srv/project/mlruns"
DELETED = "Deleted_Internal"
DOWNLOAD_ONLY = {"registered_model_meta"}  # written by MLflow's download, not in the store


def rebased(location: str, root: Path) -> Path:
    """The local path of a ``file:///srv/project/mlruns/...`` location in the copy at ``root``."""
    prefix = "file://" + ORIGINAL_ROOT
    assert location.startswith(prefix + "/"), location
    return root / location[len(prefix) + 1:]


def run_json(root: Path, *args):
    result = regctl(*args, "--json", store=root)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def files_in(directory: Path) -> set:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def assert_one_line_error(result, code=None):
    assert result.returncode != 0
    if code is not None:
        assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("regctl: ")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr


@pytest.fixture(scope="module", params=KINDS)
def oracle(request, tmp_path_factory):
    """``(kind, root, expected)`` for a read-only copy shared by the read tests of one store."""
    root = copy_fixture_store(request.param, tmp_path_factory.mktemp(request.param))
    before = snapshot(root)
    yield request.param, root, expected_of(request.param)
    assert snapshot(root) == before, "a read-only command changed the store"


def assert_version_matches(view: dict, name: str, expected: dict) -> None:
    """One regctl version object against MLflow's ModelVersion (as recorded), field by field."""
    assert view["name"] == name
    assert view["version"] == int(expected["version"]) and isinstance(view["version"], int)
    for field in ("current_stage", "source", "run_id", "model_id", "description", "tags", "aliases"):
        assert view[field] == expected[field], field
    assert view["status"] == "READY"
    # MLflow's download URI is storage_location (or source when there is none).
    assert (view["storage_location"] or view["source"]) == expected["download_uri"]


# ----------------------------------------------------------------- listings

def test_models_json_matches_mlflow(oracle):
    kind, root, expected = oracle
    views = run_json(root, "models")
    models = expected["registered_models"]
    assert [v["name"] for v in views] == sorted(models)
    for view in views:
        want = models[view["name"]]
        assert view["description"] == want["description"]
        assert view["tags"] == want["tags"]
        assert view["aliases"] == {alias: int(v) for alias, v in want["aliases"].items()}
        assert view["latest_version"] == max(int(v) for v in want["visible_versions"])
        assert isinstance(view["creation_timestamp"], int)
        assert view["last_updated_timestamp"] >= view["creation_timestamp"]


def test_versions_match_mlflow_and_hide_deleted(oracle):
    kind, root, expected = oracle
    for name, want in expected["registered_models"].items():
        visible = run_json(root, "versions", name)
        assert [v["version"] for v in visible] == sorted(map(int, want["visible_versions"]), reverse=True)
        for view in visible:
            assert_version_matches(view, name, want["versions"][str(view["version"])])

        everything = run_json(root, "versions", name, "--all")
        deleted = sorted(map(int, want.get("deleted_versions", [])), reverse=True)
        assert [v["version"] for v in everything] == sorted([v["version"] for v in visible] + deleted, reverse=True)
        for view in everything:
            if view["version"] in deleted:
                assert view["current_stage"] == DELETED
                # MLflow removed the alias of the deleted version; the stale list the
                # MLflow 2 store keeps in version-3/meta.yaml must not come back.
                assert view["aliases"] == []
            else:
                assert view == next(v for v in visible if v["version"] == view["version"])


def test_versions_limit_keeps_newest(oracle):
    kind, root, expected = oracle
    views = run_json(root, "versions", "iris-classifier", "--all", "--limit", "1")
    assert [v["version"] for v in views] == [3]


def test_alias_list_matches_mlflow(oracle):
    kind, root, expected = oracle
    for name, want in expected["registered_models"].items():
        assert run_json(root, "alias", "list", name) == {a: int(v) for a, v in want["aliases"].items()}


def test_describe_model_matches_mlflow(oracle):
    kind, root, expected = oracle
    for name, want in expected["registered_models"].items():
        view = run_json(root, "describe", name)
        assert view["name"] == name
        assert view["description"] == want["description"]
        assert view["tags"] == want["tags"]
        assert view["aliases"] == {a: int(v) for a, v in want["aliases"].items()}
        assert view["version_count"] == len(want["visible_versions"])
        # MLflow's "latest versions": the newest visible version of each stage.
        newest_by_stage = {}
        for number in sorted(map(int, want["visible_versions"]), reverse=True):
            newest_by_stage.setdefault(want["versions"][str(number)]["current_stage"], number)
        assert {v["current_stage"]: v["version"] for v in view["latest_versions"]} == newest_by_stage


def test_describe_version_matches_mlflow(oracle):
    kind, root, expected = oracle
    runs = {r["run_id"]: r for r in expected["runs"]}
    for name, want in expected["registered_models"].items():
        for number, version in want["versions"].items():
            view = run_json(root, "describe", name, "--version", number)
            assert_version_matches(view, name, version)
            lineage = view["lineage"]
            assert lineage["run_id"] == version["run_id"]
            assert lineage["run_name"] == runs[version["run_id"]]["run_name"]
            assert lineage["experiment_id"] == expected["experiment"]["id"]
            assert lineage["model_id"] == version["model_id"]
            assert lineage["artifact_path"] == str(rebased(version["download_uri"], root))
        for alias, number in want["aliases"].items():
            by_alias = run_json(root, "describe", name, "--alias", alias)
            assert by_alias == run_json(root, "describe", name, "--version", number)


def test_describe_deleted_version_is_not_found(oracle):
    kind, root, expected = oracle
    for number in expected["registered_models"]["iris-classifier"]["deleted_versions"]:
        assert_one_line_error(regctl("describe", "iris-classifier", "--version", number, "--json", store=root), 1)


# ------------------------------------------------------------------ resolve

RESOLVE_CASES = [(kind, uri) for kind in KINDS for uri in expected_of(kind)["resolve"]]


@pytest.fixture(scope="module")
def resolve_roots(tmp_path_factory):
    """One copy of each store for all resolve cases (resolve never writes)."""
    roots = {kind: copy_fixture_store(kind, tmp_path_factory.mktemp(f"resolve-{kind}")) for kind in KINDS}
    before = {kind: snapshot(root) for kind, root in roots.items()}
    yield roots
    assert {kind: snapshot(root) for kind, root in roots.items()} == before


@pytest.mark.parametrize("kind, uri", RESOLVE_CASES, ids=[f"{k}:{u}" for k, u in RESOLVE_CASES])
def test_resolve_matches_mlflow(kind, uri, resolve_roots):
    root = resolve_roots[kind]
    expected = expected_of(kind)
    want = expected["resolve"][uri]
    plain = regctl("resolve", uri, store=root)
    as_json = regctl("resolve", uri, "--json", store=root)

    if kind == "mlflow2-store" and uri.endswith("@latest"):
        # MLflow 2 rejects '@latest' ("'latest' alias name ... is reserved"); regctl follows
        # MLflow 3, where '@latest' means the newest version, the same as '/latest'.
        assert "reserved" in want["message"]
        want = expected["resolve"][uri.replace("@latest", "/latest")]

    if "error" in want:
        code = 2 if want["message"].startswith("Invalid") else 1
        assert_one_line_error(plain, code)
        assert_one_line_error(as_json, code)
        return

    assert plain.returncode == 0 and as_json.returncode == 0, plain.stderr + as_json.stderr
    assert plain.stderr == "" and as_json.stderr == ""
    path = Path(plain.stdout.rstrip("\n"))
    assert plain.stdout == f"{path}\n"
    data = json.loads(as_json.stdout)
    assert data["path"] == str(path) and data["uri"] == uri

    if uri.startswith("runs:/"):
        run_id = uri.split("/")[1]
        underlying = rebased(want["underlying_uri"], root)
        run = next(r for r in expected["runs"] if r["run_id"] == run_id)
        if underlying.exists():  # MLflow 2: the model is a run artifact
            assert path == underlying
            assert data["location"] == want["underlying_uri"]
        else:  # MLflow 3: the run has no artifact there; download falls back to its logged model
            model = expected["resolve"][f"models:/{run['model_id']}"]
            assert path == rebased(model["download_uri"], root)
            assert data["model_id"] == run["model_id"]
        assert data["run_id"] == run_id
    else:
        assert path == rebased(want["download_uri"], root)
        assert data["location"] == want["download_uri"]  # the stored location, not rebased
        assert data["name"] == want["name"]
        assert data["version"] == (None if want["version"] is None else int(want["version"]))
        if want["version"] is not None:
            version = expected["registered_models"][want["name"]]["versions"][want["version"]]
            assert data["model_id"] == version["model_id"]
            assert data["run_id"] == version["run_id"]
        else:
            assert data["model_id"] == uri[len("models:/"):]
    assert files_in(path) == set(want["downloaded_files"]) - DOWNLOAD_ONLY


# ----------------------------------------------------------------- register

def test_register_takes_mlflows_next_version_number(fixture_store):
    kind, root = fixture_store
    expected = expected_of(kind)
    want = expected["registered_models"]["iris-classifier"]
    result = regctl("register", "models:/iris-classifier/2", "--name", "iris-classifier", store=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{want['next_version']}\n"  # the soft-deleted version 3 still counts
    views = run_json(root, "versions", "iris-classifier", "--all")
    assert [v["version"] for v in views] == [4, 3, 2, 1]
    new = views[0]
    assert new["current_stage"] == "None" and new["aliases"] == [] and new["description"] is None
    assert new["storage_location"] == want["versions"]["2"]["download_uri"]
    # MLflow's register_model passes no run: its file store takes the logged model's (MLflow 3), else none
    source = want["versions"]["2"]
    assert new["run_id"] == (source["run_id"] if source["model_id"] else None)
    assert new["model_id"] == want["versions"]["2"]["model_id"]
    # No tags, as MLflow's register_model (test_interop_mlflow3.py checks it against MLflow); only
    # MLflow's copy_model_version copies them (see `iris.baseline model`).
    assert want["versions"]["2"]["tags"] and new["tags"] == {}
    resolved = regctl("resolve", "models:/iris-classifier/latest", store=root)
    assert resolved.stdout == f"{rebased(want['versions']['2']['download_uri'], root)}\n"
    assert os.path.isdir(resolved.stdout.strip())
