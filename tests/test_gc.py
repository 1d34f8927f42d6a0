"""``regctl gc``: soft-deletes old versions as ``delete --version`` does, sparing aliased and staged ones."""

import json

import pytest
from conftest import one_line_failure, regctl, snapshot


def versions_of(store, name="g", all=False):
    args = ["versions", name, "--json"] + (["--all"] if all else [])
    return {v["version"]: v["current_stage"] for v in json.loads(regctl(*args, store=store).stdout)}


def six_versions(store, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    for _ in range(6):
        assert regctl("register", source, "--name", "g", store=store).returncode == 0
    regctl("alias", "set", "g", "champion", "2", store=store)
    regctl("stage", "g", "3", "Production", store=store)


def test_gc_keeps_the_newest_aliased_and_staged_versions(store3, tmp_path):
    six_versions(store3, tmp_path)
    result = regctl("gc", "g", "--keep", "2", store=store3)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "g: deleted versions 4, 1; kept 3 (stage Production); kept 2 (alias champion)\n"
    assert versions_of(store3) == {6: "None", 5: "None", 3: "Production", 2: "None"}
    assert versions_of(store3, all=True)[1] == "Deleted_Internal"
    history = json.loads(regctl("history", "g", "--json", store=store3).stdout)
    assert sorted((r["operation"], r["target"]) for r in history[:2]) == [("version.delete", "version-1"),
                                                                          ("version.delete", "version-4")]
    assert regctl("gc", "g", "--keep", "2", store=store3).stderr.startswith("g: nothing to delete")


def test_delete_staged_and_keep_aliased(store3, tmp_path):
    six_versions(store3, tmp_path)
    result = regctl("gc", "g", "--keep", "1", "--keep-aliased", "--delete-staged", "--json", store=store3)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"name": "g", "deleted": [5, 4, 3, 1], "kept": [6, 2], "protected": {}}]
    assert versions_of(store3) == {6: "None", 2: "None"}
    assert regctl("alias", "list", "g", "--json", store=store3).stdout == '{\n  "champion": 2\n}\n'


def test_gc_dry_run_changes_nothing_and_says_what_it_would_do(store3, tmp_path):
    six_versions(store3, tmp_path)
    before = snapshot(store3)
    result = regctl("gc", "g", "--keep", "2", "--dry-run", store=store3)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("would: g: deleted versions 4, 1;")
    assert snapshot(store3) == before


def test_gc_all_models_one_change_per_model(store3, tmp_path):
    six_versions(store3, tmp_path)
    result = regctl("gc", "--all-models", "--keep", "0", "--json", store=store3)
    assert result.returncode == 0, result.stderr
    found = {c["name"]: c for c in json.loads(result.stdout)}
    assert found["iris-classifier"]["deleted"] == [] and found["iris-classifier"]["protected"] == {
        "2": "alias champion", "1": "alias challenger"}
    assert found["iris.baseline model"]["deleted"] == [1]
    assert found["g"]["deleted"] == [6, 5, 4, 1]
    assert versions_of(store3, "iris.baseline model") == {}


def test_gc_refuses_bad_arguments(store3):
    before = snapshot(store3)
    one_line_failure(regctl("gc", "--keep", "1", store=store3), 2, "--all-models")
    one_line_failure(regctl("gc", "iris-classifier", "--all-models", "--keep", "1", store=store3), 2)
    one_line_failure(regctl("gc", "iris-classifier", store=store3), 2, "--keep")
    one_line_failure(regctl("gc", "iris-classifier", "--keep", "-1", store=store3), 2)
    one_line_failure(regctl("gc", "nothing", "--keep", "1", store=store3), 1)
    assert snapshot(store3) == before


@pytest.mark.server
def test_gc_on_a_server_never_deletes_a_version_an_alias_was_moved_to_meanwhile(sqlite_server, tmp_path):
    """Another client points an alias at version 2 while gc deletes version 3: gc checks each version
    again just before deleting it, so version 2 and its alias stay (the server would delete both)."""
    import json as jsonlib
    import uuid

    from conftest import model_source
    from proxy import FORWARD, FaultProxy

    name = f"gc-race-{uuid.uuid4().hex[:8]}"
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    for index in range(4):
        done = regctl("register", model_source(tmp_path / f"m{index}"), "--name", name, store=sqlite_server.url, env=env)
        assert done.returncode == 0, done.stderr
    moved = []

    def another_client(method, path, body):
        if "model-versions/delete" in path and not moved:
            moved.append(proxy.forward("POST", "/api/2.0/mlflow/registered-models/alias",
                                       {"Content-Type": "application/json"},
                                       jsonlib.dumps({"name": name, "alias": "late", "version": "2"}).encode()))
        return FORWARD

    proxy = FaultProxy(sqlite_server.url, another_client)
    try:
        done = regctl("gc", name, "--keep", "1", "--json", store=proxy.url, env=env)
    finally:
        proxy.close()
    assert done.returncode == 0, done.stderr
    assert moved and moved[0][0] == 200
    client = sqlite_server.client()
    live = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
    assert live == [2, 4]
    assert client.get_model_version_by_alias(name, "late").version == "2"
    report = jsonlib.loads(done.stdout)
    assert report[0]["deleted"] == [3, 1] and report[0]["protected"] == {"2": "alias late"}
