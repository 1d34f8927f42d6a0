"""A tracking server behind a gateway that fails: a version is created once, a change that was
made is not reported as failed, and only the command's own work is ever undone. A fault-injecting
proxy (tests/proxy.py) sits between regctl and a live ``mlflow server``; MlflowClient on the server
itself is the oracle."""

import json
import uuid

import pytest
from conftest import model_source, ok, regctl
from proxy import FORWARD, FORWARD_THEN_504, FORWARD_THEN_DROP, REFUSE_503, FaultProxy

pytestmark = pytest.mark.server


@pytest.fixture
def name():
    return f"fault-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def through(sqlite_server):
    proxies = []

    def start(hook):
        proxies.append(FaultProxy(sqlite_server.url, hook))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.close()


def once(endpoint: str, fault: str):
    """A hook that gives ``fault`` to the first request to ``endpoint`` and forwards the rest."""
    hit = []

    def hook(method, path, body):
        if endpoint in path and not hit:
            hit.append(path)
            return fault
        return FORWARD
    return hook


def live_versions(server, name):
    return sorted(int(v.version) for v in server.client().search_model_versions(f"name = '{name}'"))


@pytest.mark.parametrize("fault", [FORWARD_THEN_504, FORWARD_THEN_DROP])
def test_a_lost_answer_to_model_version_create_makes_one_version(sqlite_server, through, name, tmp_path, fault):
    proxy = through(once("model-versions/create", fault))
    env = {"XDG_STATE_HOME": str(tmp_path / "s"), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    done = regctl("register", model_source(tmp_path / "m"), "--name", name, store=proxy.url, env=env)
    assert (done.returncode, done.stdout) == (0, "1\n"), done.stderr
    assert live_versions(sqlite_server, name) == [1]
    tags = sqlite_server.client().get_model_version(name, "1").tags
    assert "regctl.operation" not in tags  # the operation id is gone once the command is done
    again = regctl("register", model_source(tmp_path / "m2"), "--name", name, store=proxy.url, env=env)
    assert again.stdout == "2\n" and live_versions(sqlite_server, name) == [1, 2]


def test_a_rename_the_server_made_is_not_reported_as_failed(sqlite_server, through, name, tmp_path):
    env = {"XDG_STATE_HOME": str(tmp_path / "s")}
    assert regctl("register", model_source(tmp_path / "m"), "--name", name, store=sqlite_server.url,
                  env=env).returncode == 0
    proxy = through(once("registered-models/rename", FORWARD_THEN_504))
    done = regctl("rename", name, name + "-new", store=proxy.url, env=env)
    assert done.returncode == 0, done.stderr
    assert sqlite_server.client().get_registered_model(name + "-new").name == name + "-new"


def test_a_failed_register_never_deletes_another_writers_version(sqlite_server, through, name, tmp_path):
    """regctl creates the model, another client registers a version into it, then regctl's own
    version fails: regctl deletes nothing of the other client's (it deleted the whole model)."""
    other = []

    def hook(method, path, body):
        if "model-versions/create" in path and b"regctl.operation" in body:
            if not other:
                other.append(proxy.forward("POST", "/api/2.0/mlflow/model-versions/create",
                                           {"Content-Type": "application/json"},
                                           json.dumps({"name": name, "source": "s3://bucket/other"}).encode()))
            return REFUSE_503
        return FORWARD

    proxy = through(hook)
    env = {"XDG_STATE_HOME": str(tmp_path / "s"), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    done = regctl("register", model_source(tmp_path / "m"), "--name", name, store=proxy.url, env=env)
    assert done.returncode != 0 and done.stderr.count("\n") == 1, done
    assert other and other[0][0] == 200
    client = sqlite_server.client()
    assert [v.source for v in client.search_model_versions(f"name = '{name}'")] == ["s3://bucket/other"]


def test_a_register_whose_alias_fails_is_undone_whole(sqlite_server, through, name, tmp_path):
    """The alias request fails (503, no retries): the command undoes its own version and the model it
    made, so a retried script registers once; the message says nothing was registered."""
    proxy = through(lambda method, path, body: REFUSE_503 if "registered-models/alias" in path and method == "POST"
                    else FORWARD)
    env = {"XDG_STATE_HOME": str(tmp_path / "s"), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    done = regctl("register", model_source(tmp_path / "m"), "--name", name, "--alias", "champion",
                  store=proxy.url, env=env)
    assert done.returncode != 0 and done.stdout == "", done
    assert f"alias 'champion' of '{name}' could not be set" in done.stderr
    assert "was deleted again: nothing was registered" in done.stderr and done.stderr.count("\n") == 1
    assert live_versions(sqlite_server, name) == []
    again = regctl("register", model_source(tmp_path / "m2"), "--name", name, "--alias", "champion",
                   store=sqlite_server.url, env=env)
    assert again.returncode == 0, again.stderr
    assert len(live_versions(sqlite_server, name)) == 1


def test_a_register_whose_alias_fails_and_cannot_be_undone_says_which_version_it_made(sqlite_server, through,
                                                                                     name, tmp_path):
    refused = ("registered-models/alias", "model-versions/delete")  # the alias, and the undoing of the version
    proxy = through(lambda method, path, body: REFUSE_503 if path.split("?")[0].endswith(refused) and method != "GET"
                    else FORWARD)
    env = {"XDG_STATE_HOME": str(tmp_path / "s"), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    done = regctl("register", model_source(tmp_path / "m"), "--name", name, "--alias", "champion",
                  store=proxy.url, env=env)
    assert done.returncode != 0 and done.stdout == "", done
    assert f"version 1 of '{name}' was registered, but alias 'champion' was not set" in done.stderr
    assert f"regctl alias set {name} champion 1" in done.stderr
    assert live_versions(sqlite_server, name) == [1]
    assert "regctl.operation" not in sqlite_server.client().get_model_version(name, "1").tags


def test_doctor_reports_an_operation_id_a_register_left(sqlite_server, name, tmp_path):
    """A register killed after the version was made and before it removed its operation id leaves
    the tag; doctor names the version and the command that removes it."""
    env = {"XDG_STATE_HOME": str(tmp_path / "s")}
    assert regctl("register", model_source(tmp_path / "m"), "--name", name, store=sqlite_server.url, env=env).returncode == 0
    sqlite_server.client().set_model_version_tag(name, "1", "regctl.operation", "0" * 32)
    report = regctl("doctor", "--json", store=sqlite_server.url, env=env)
    problems = [p for p in json.loads(report.stdout)["problems"] if p["model"] == name]
    assert [(p["kind"], p["path"]) for p in problems] == [("operation-id-left", f"models:/{name}/1")], report.stdout
    assert f"regctl tag {name} --version 1 --delete regctl.operation" in problems[0]["message"]
    assert regctl("tag", name, "--version", "1", "--delete", "regctl.operation", store=sqlite_server.url, env=env).returncode == 0
    again = json.loads(regctl("doctor", "--json", store=sqlite_server.url, env=env).stdout)
    assert not [p for p in again["problems"] if p["model"] == name]


def test_a_parallel_push_whose_uploads_fail_midway_converges_on_rerun(sqlite_server, through, name, tmp_path):
    """push --jobs 4 through a gateway that answers 504 to an upload of version 6's files and drops
    the answer to the 3rd version's creation (no retries): the lost answer is looked up by its
    operation id; the failed upload ends the push with one line, versions 1 to 5 registered under
    their own numbers; once the gateway is mended, the same push again copies the rest: every version
    once, numbered as in the source."""
    from test_push import numbered_source

    counts = {"create": 0}
    failing = [True]

    def hook(method, path, body):
        if not failing:
            return FORWARD
        if method == "PUT":
            return FORWARD_THEN_504 if f"# {name}-6\n".encode() in body else FORWARD
        if "model-versions/create" in path:
            counts["create"] += 1
            return FORWARD_THEN_DROP if counts["create"] == 3 else FORWARD
        return FORWARD

    proxy = through(hook)
    store, _ = numbered_source(tmp_path, name, 10)
    env = {"XDG_STATE_HOME": str(tmp_path / "s"), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    client = sqlite_server.client()
    before = {m.model_id for m in client.search_logged_models(experiment_ids=["0"])}
    failed = regctl("push", name, "--to", proxy.url, "--jobs", "4", store=store, env=env)
    assert failed.returncode != 0 and failed.stderr.count("\n") == 1 and "504" in failed.stderr, failed
    made = {int(v.version): v for v in client.search_model_versions(f"name = '{name}'")}
    assert sorted(made) == [1, 2, 3, 4, 5]
    assert all(v.tags["n"] == str(n) and "regctl.operation" not in v.tags for n, v in made.items())
    # the uploads made ahead for versions 7 and on are deleted again; version 6's is marked failed
    left = [m for m in client.search_logged_models(experiment_ids=["0"]) if m.model_id not in before]
    assert sorted(m.model_id for m in left if "FAILED" not in str(m.status)) == sorted(
        v.source.split("/")[1] for v in made.values())
    failing.clear()  # the gateway is mended
    again = regctl("push", name, "--to", proxy.url, "--jobs", "4", store=store, env=env)
    assert "5 version(s) copied, 5 already there" in ok(again) + again.stderr
    versions = client.search_model_versions(f"name = '{name}'")
    assert sorted((int(v.version), v.tags["n"]) for v in versions) == [(n, str(n)) for n in range(1, 11)]
    assert {k: int(v) for k, v in client.get_registered_model(name).aliases.items()} == {"champion": 10, "first": 1}
