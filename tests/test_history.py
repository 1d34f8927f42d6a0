"""The journal answers "who changed this, when, from what to what", CI identity included.

Each test runs on a file store and on a database (``backend``), whose journal is a file beside it."""

import json

from conftest import regctl


def last_record(store):
    result = regctl("history", "iris-classifier", "--json", store=store)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


def test_github_actions_identity_and_run_url_are_recorded(backend):
    env = {"GITHUB_ACTOR": "alice", "GITHUB_RUN_ID": "42", "GITHUB_REPOSITORY": "org/repo",
           "GITHUB_SERVER_URL": "https://git.example"}
    assert regctl("alias", "set", "iris-classifier", "champion", "1", store=backend, env=env).returncode == 0
    record = last_record(backend)
    assert record["operation"] == "alias.set" and (record["old"], record["new"]) == ("2", "1")
    assert "github:alice" in record["user"]
    assert "https://git.example/org/repo/actions/runs/42" in record["user"]
    assert record["host"]


def test_gitlab_style_job_url_is_recorded(backend):
    env = {"CI_JOB_URL": "https://ci.example/jobs/7"}
    assert regctl("tag", "iris-classifier", "k=v", store=backend, env=env).returncode == 0
    assert "https://ci.example/jobs/7" in last_record(backend)["user"]


def test_without_ci_the_actor_is_the_local_user(backend):
    assert regctl("describe", "iris-classifier", "--set", "text", store=backend).returncode == 0
    record = last_record(backend)
    assert record["operation"] == "model.describe" and record["new"] == "text"
    assert "(" not in record["user"] and record["user"]


def test_rollback_is_itself_journalled_and_undoes_only_the_last_move(backend):
    for version in ("1", "2", "1"):
        assert regctl("alias", "set", "iris-classifier", "champion", version, store=backend).returncode == 0
    rolled = regctl("alias", "rollback", "iris-classifier", "champion", store=backend)
    assert rolled.returncode == 0, rolled.stderr
    assert json.loads(regctl("alias", "list", "iris-classifier", "--json", store=backend).stdout)["champion"] == 2
    moves = json.loads(regctl("history", "iris-classifier", "--alias", "champion", "--json", store=backend).stdout)
    assert [(m["old"], m["new"]) for m in moves] == [("1", "2"), ("2", "1"), ("1", "2"), ("2", "1")]
