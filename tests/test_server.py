"""The same commands on every kind of store: MLflow's file store, and MLflow tracking servers
backed by SQLite and by PostgreSQL. Each test runs the real CLI and checks what it did with
``MlflowClient`` on the same store (the oracle). Model names are unique per test, so the
session's shared servers need no cleaning."""

import json
import os
import uuid
from pathlib import Path

import pytest
from conftest import regctl
from mlflow_oracle import import_mlflow, tracking_at

pytestmark = pytest.mark.server

KINDS = ["file", "sqlite", "postgres"]


class Target:
    """One store under test: the ``--store`` value, an oracle client, and where its artifacts live."""

    def __init__(self, kind: str, store: str, server=None, env=None):
        self.kind, self.store, self.server, self.env = kind, store, server, dict(env or {})

    @property
    def is_server(self) -> bool:
        return self.server is not None

    def client(self):
        from mlflow import MlflowClient

        if self.server is not None:
            return self.server.client()
        uri = Path(self.store).as_uri()
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    def run(self, *args, env=None, **kwargs):
        return regctl(*args, store=self.store, env={**self.env, **(env or {})}, **kwargs)

    def ok(self, *args, **kwargs) -> str:
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout

    def json(self, *args, **kwargs):
        return json.loads(self.ok(*args, "--json", **kwargs))

    def fails(self, code: int, *args, needle: str = "", **kwargs) -> str:
        result = self.run(*args, **kwargs)
        assert result.returncode == code, (args, result.returncode, result.stdout, result.stderr)
        assert result.stdout == "" and result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1, result.stderr
        assert needle in result.stderr
        return result.stderr


@pytest.fixture(params=KINDS)
def target(request, tmp_path, monkeypatch):
    import_mlflow()
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}  # the server journal, private to the test
    if request.param == "file":
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        target = Target("file", str(tmp_path / "mlruns"), env=env)
        target.client().search_experiments()  # MLflow creates the store, as a server exists already
        return target
    server = request.getfixturevalue(f"{request.param}_server")
    return Target(request.param, server.url, server=server, env=env)


@pytest.fixture
def name():
    return f"model-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """A small model directory: an MLmodel file, a nested weights file, a unicode file name."""
    directory = tmp_path / "local model"
    (directory / "data").mkdir(parents=True)
    (directory / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    (directory / "data" / "weights.bin").write_bytes(os.urandom(2048))
    (directory / "notes é.txt").write_text("unicode name\n")
    return directory


def files_of(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def oracle_version(mv, aliases: dict) -> dict:
    """What regctl must print for an MLflow ``ModelVersion`` (empty strings are nulls, as in a file store)."""
    return {
        "name": mv.name, "version": int(mv.version), "creation_timestamp": mv.creation_timestamp,
        "last_updated_timestamp": mv.last_updated_timestamp, "current_stage": mv.current_stage,
        "description": mv.description or None, "source": mv.source, "run_id": mv.run_id or None,
        "run_link": mv.run_link or None, "status": mv.status, "status_message": mv.status_message or None,
        "user_id": mv.user_id or None, "tags": dict(mv.tags),
        "aliases": sorted(a for a, v in aliases.items() if int(v) == int(mv.version)),
    }


def comparable(view: dict) -> dict:
    return {k: v for k, v in view.items() if k not in ("storage_location", "model_id", "lineage")}


def user_tags(tags: dict) -> dict:
    return {k: v for k, v in tags.items() if not k.startswith("regctl.")}


# ---------------------------------------------------------------- reads and register

def test_register_and_read_back(target, name, model_dir):
    result = target.run("register", model_dir, "--name", name, "--description", "First.\nR² 0.9",
                        "--tag", "team=ml", "--tag", "metrics/acc=0.9", "--alias", "champion")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\n" and result.stderr.startswith(f"registered {name} version 1 from ")
    assert target.ok("register", model_dir.as_uri(), "--name", name) == "2\n"
    client = target.client()
    model = client.get_registered_model(name)
    aliases = {a: int(v) for a, v in model.aliases.items()}
    assert aliases == {"champion": 1}

    views = target.json("versions", name)
    assert [v["version"] for v in views] == [2, 1]
    for view in views:
        oracle = oracle_version(client.get_model_version(name, str(view["version"])), aliases)
        assert comparable(view) == oracle
        assert view["status"] == "READY"
        if target.is_server:
            # uploaded as a logged model, the MLflow 3 way; regctl adds no tag
            assert view["source"].startswith("models:/m-") and view["model_id"] == view["source"][len("models:/"):]
            assert user_tags(view["tags"]) == view["tags"]
    assert views[1]["description"] == "First.\nR² 0.9"
    assert user_tags(views[1]["tags"]) == {"team": "ml", "metrics/acc": "0.9"}

    models = [m for m in target.json("models") if m["name"] == name]
    assert len(models) == 1
    assert models[0] == {"name": name, "creation_timestamp": model.creation_timestamp,
                         "last_updated_timestamp": model.last_updated_timestamp,
                         "description": model.description or None, "tags": dict(model.tags),
                         "aliases": aliases, "latest_version": 2}
    described = target.json("describe", name)
    assert described["version_count"] == 2 and [v["version"] for v in described["latest_versions"]] == [2]
    assert target.json("alias", "list", name) == {"champion": 1}
    one = target.json("describe", name, "--alias", "champion")
    assert one["version"] == 1 and one["aliases"] == ["champion"]
    assert one["lineage"]["artifact_path"]
    if target.is_server:
        assert one["storage_location"] == client.get_model_version_download_uri(name, "1")
    assert set(one) == set(views[0]) | {"lineage"}


def test_aliases_expect_and_rollback(target, name, model_dir):
    for _ in range(3):
        target.ok("register", model_dir, "--name", name)
    client = target.client()

    def aliases():
        return {a: int(v) for a, v in client.get_registered_model(name).aliases.items()}

    result = target.run("alias", "set", name, "champion", "1")
    assert result.returncode == 0 and result.stderr == "champion: (none) -> 1\n"
    result = target.run("alias", "set", name, "champion", "2", "--expect", "1")
    assert result.returncode == 0 and result.stderr == "champion: 1 -> 2\n"
    assert "nothing changed" in target.run("alias", "set", name, "champion", "2").stderr
    target.fails(3, "alias", "set", name, "champion", "3", "--expect", "1", needle="'champion'")
    target.fails(3, "alias", "set", name, "champion", "3", "--expect", "none")
    target.ok("alias", "set", name, "shadow", "3", "--expect", "none")
    assert aliases() == {"champion": 2, "shadow": 3}
    assert int(client.get_model_version_by_alias(name, "champion").version) == 2
    result = target.run("alias", "rollback", name, "champion")
    assert result.returncode == 0 and result.stderr == "champion: 2 -> 1\n"
    result = target.run("alias", "delete", name, "shadow")
    assert result.returncode == 0 and result.stderr == "shadow: 3 -> (deleted)\n"
    assert aliases() == {"champion": 1}
    target.fails(1, "alias", "delete", name, "shadow", needle="'shadow'")
    target.fails(1, "alias", "set", name, "champion", "9", needle="9")
    records = target.json("history", name, "--alias", "champion")
    assert [(r["old"], r["new"]) for r in records] == [("2", "1"), ("1", "2"), (None, "1")]


def test_tags_and_descriptions(target, name, model_dir):
    target.ok("register", model_dir, "--name", name)
    target.ok("register", model_dir, "--name", name, "--alias", "champion")
    client = target.client()
    assert target.run("tag", name, "stage=beta", "owner/lead=ada").stderr == "set 2 tag(s)\n"
    target.ok("tag", name, "--version", "1", "validation=passed", "k=v")
    target.ok("tag", name, "--delete", "stage")
    target.ok("tag", name, "--version", "1", "--delete", "k")
    target.fails(1, "tag", name, "--delete", "owner/lead", "--delete", "nope", needle="'nope'")
    assert dict(client.get_registered_model(name).tags) == {"owner/lead": "ada"}  # nothing removed
    assert user_tags(dict(client.get_model_version(name, "1").tags)) == {"validation": "passed"}
    target.fails(1, "tag", name, "--version", "7", "k=v")

    target.ok("describe", name, "--set", "# Model\n\nMarkdown: yes\n")
    target.ok("describe", name, "--version", "1", "--set", "v1 notes")
    target.ok("describe", name, "--alias", "champion", "--set-file", "-", input="from stdin")
    assert client.get_registered_model(name).description == "# Model\n\nMarkdown: yes\n"
    assert client.get_model_version(name, "1").description == "v1 notes"
    assert client.get_model_version(name, "2").description == "from stdin"
    view = target.json("describe", name)
    assert view["description"] == "# Model\n\nMarkdown: yes\n" and view["tags"] == {"owner/lead": "ada"}


def test_stage_rename_delete(target, name, model_dir):
    for _ in range(3):
        target.ok("register", model_dir, "--name", name)
    target.ok("alias", "set", name, "champion", "2")
    client = target.client()
    assert target.run("stage", name, "1", "production").stderr == "version 1: None -> Production\n"
    result = target.run("stage", name, "2", "Production", "--archive-existing")
    assert result.returncode == 0 and result.stderr == "version 2: None -> Production (archived 1)\n"
    assert [client.get_model_version(name, str(n)).current_stage for n in (1, 2, 3)] == ["Archived", "Production", "None"]
    assert target.ok("resolve", f"models:/{name}/production", "--json") and \
        target.json("resolve", f"models:/{name}/Production")["version"] == 2
    target.fails(2, "stage", name, "1", "bogus")

    renamed = name + " v2"
    assert target.run("rename", name, renamed).stderr == f"renamed {name} to {renamed}\n"
    target.fails(1, "versions", name)
    assert [v["version"] for v in target.json("versions", renamed)] == [3, 2, 1]
    assert {a: int(v) for a, v in client.get_registered_model(renamed).aliases.items()} == {"champion": 2}

    result = target.run("delete", renamed, "--version", "2", "--yes")
    assert result.returncode == 0 and result.stderr == f"deleted version 2 of {renamed}; removed aliases champion\n"
    assert [v["version"] for v in target.json("versions", renamed)] == [3, 1]
    all_versions = [v["version"] for v in target.json("versions", renamed, "--all")]
    # soft-deleted versions are visible in a file store only: the REST API hides them
    assert all_versions == ([3, 1] if target.is_server else [3, 2, 1])
    assert dict(client.get_registered_model(renamed).aliases) == {}
    target.fails(1, "resolve", f"models:/{renamed}/2")
    assert target.json("resolve", f"models:/{renamed}/latest")["version"] == 3
    target.fails(2, "delete", renamed)
    assert target.run("delete", renamed, "--yes").stderr == f"deleted model {renamed}\n"
    target.fails(1, "describe", renamed, needle=repr(renamed))
    assert target.ok("register", model_dir, "--name", renamed) == "1\n"


def test_resolve_download_verify(target, name, model_dir, tmp_path):
    target.ok("register", model_dir, "--name", name, "--alias", "champion")
    client = target.client()
    view = target.json("resolve", f"models:/{name}@champion")
    assert (view["name"], view["version"]) == (name, 1)
    if target.is_server:
        download_uri = client.get_model_version_download_uri(name, "1")
        assert view["location"] == view["path"] == download_uri
        assert target.ok("resolve", f"models:/{name}@champion") == f"{download_uri}\n"
        # the server's artifact store is on this machine: a local path
        local = target.json("resolve", f"models:/{name}/1",
                            env={"REGCTL_ARTIFACTS_DESTINATION": str(target.server.artifacts)})
        path = Path(local["path"])
        assert path == target.server.artifacts / download_uri[len("mlflow-artifacts:/"):]
    else:
        path = Path(view["path"])
        assert path == model_dir
    assert files_of(path) == files_of(model_dir)

    dest = tmp_path / "downloaded"
    result = target.run("download", f"models:/{name}@champion", dest)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{dest}\n"
    meta = f"model_name: {name}\nmodel_version: 1\n".encode()  # as MLflow's download of the alias writes it
    assert files_of(dest) == {**files_of(model_dir), "registered_model_meta": meta}
    target.fails(3, "download", f"models:/{name}/1", dest)  # not an empty directory

    result = target.run("verify", f"models:/{name}/1")
    assert result.returncode == 0 and result.stderr.endswith("3 file(s) match the registered digest\n"), result.stderr
    (path / "data" / "weights.bin").write_bytes(b"tampered")
    target.fails(4, "verify", f"models:/{name}@champion", needle="'data/weights.bin'")
    target.fails(4, "resolve", f"models:/{name}@champion", "--verify")


def test_errors_and_exit_codes(target, name, model_dir):
    target.fails(1, "describe", name, needle=repr(name))
    target.fails(1, "versions", name)
    target.fails(1, "resolve", f"models:/{name}/1")
    target.fails(2, "register", model_dir, "--name", "bad/name")
    target.fails(1, "register", model_dir.parent / "missing", "--name", name)
    target.fails(1, "describe", name)  # a failed register created nothing
    target.ok("register", model_dir, "--name", name)
    target.ok("register", model_dir, "--name", name + "-2")
    target.fails(3, "rename", name, name + "-2", needle="already exists")
    target.fails(1, "alias", "set", name, "champion", "2")
    target.fails(2, "alias", "set", name, "latest", "1")
    target.fails(1, "resolve", f"models:/{name}@nope")
    target.fails(1, "resolve", f"models:/{name}/staging")


def test_register_from_a_run(target, name, model_dir):
    """``runs:/`` sources are registered as MLflow's own ``register_model`` registers them."""
    mlflow = import_mlflow()
    tracking = target.store if target.is_server else Path(target.store).as_uri()
    with tracking_at(mlflow, tracking):
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(model_dir), "model")
        oracle = mlflow.register_model(f"runs:/{run.info.run_id}/model", name + "-oracle")
    assert target.ok("register", f"runs:/{run.info.run_id}/model", "--name", name) == "1\n"
    client = target.client()
    mine = client.get_model_version(name, "1")
    assert (mine.source, mine.run_id) == (oracle.source, oracle.run_id)
    view = target.json("describe", name, "--version", "1")
    assert view["lineage"]["run_id"] == run.info.run_id and view["lineage"]["experiment_id"] == run.info.experiment_id
    assert target.run("verify", f"models:/{name}/1").returncode == 0
    assert target.json("resolve", f"runs:/{run.info.run_id}/model")["run_id"] == run.info.run_id
    target.fails(1, "resolve", f"runs:/{run.info.run_id}/missing")
    target.fails(1, "register", f"runs:/{run.info.run_id}/missing", "--name", name)
    target.fails(1, "resolve", "runs:/0123456789abcdef0123456789abcdef/model")
    # a registered version as the source: the same files, its tags carried over
    target.ok("tag", name, "--version", "1", "origin=run")
    assert target.ok("register", f"models:/{name}/1", "--name", name + "-copy") == "1\n"
    copy = target.json("describe", name + "-copy", "--version", "1")
    assert copy["source"] == f"models:/{name}/1" and user_tags(copy["tags"]) == {}  # as MLflow's register_model


# ------------------------------------------------------------------ server only

def registry_state(target, prefix: str) -> dict:
    """Everything MLflow knows of the models named ``prefix...``, and regctl's journal of them."""
    client = target.client()
    state = {}
    for model in client.search_registered_models(f"name LIKE '{prefix}%'"):
        versions = client.search_model_versions(f"name = '{model.name}'")
        state[model.name] = (model.description, dict(model.tags), dict(model.aliases), model.last_updated_timestamp,
                             sorted((int(v.version), v.current_stage, v.description, dict(v.tags),
                                     v.last_updated_timestamp) for v in versions))
    state["logged models"] = len(client.search_logged_models(experiment_ids=["0"]))
    state["history"] = target.ok("history", "--json")
    return state


def test_a_dry_run_checks_everything_and_changes_nothing(target, name, model_dir):
    """Each write with --dry-run: what the real run then prints, prefixed "would: ", and no change."""
    for _ in range(3):
        target.ok("register", model_dir, "--name", name)
    target.ok("alias", "set", name, "champion", "2")
    target.ok("stage", name, "1", "Staging")
    target.ok("register", model_dir, "--name", name + "-taken")
    renamed = name + "-renamed"
    writes = [
        ("register", f"models:/{name}/1", "--name", name, "--alias", "candidate"),
        ("alias", "set", name, "champion", "1"),
        ("alias", "rollback", name, "champion"),
        ("alias", "delete", name, "candidate"),
        ("tag", name, "a=1", "b=2"),
        ("tag", name, "--version", "1", "k=v"),
        ("tag", name, "--delete", "a"),
        ("describe", name, "--set", "model text"),
        ("describe", name, "--alias", "champion", "--set", "version text"),
        ("stage", name, "2", "Staging", "--archive-existing"),
        ("rename", name, renamed),
        ("gc", renamed, "--keep", "2"),
        ("delete", renamed, "--version", "@champion", "--yes"),
        ("delete", renamed, "--yes"),
    ]
    for args in writes:
        before = registry_state(target, name)
        dry = target.run(*args, "--dry-run")
        assert dry.returncode == 0 and "Traceback" not in dry.stderr, (args, dry.stderr)
        assert registry_state(target, name) == before, args
        real = target.run(*args)
        assert real.returncode == 0, (args, real.stderr)
        assert (dry.stdout, dry.stderr) == (real.stdout, f"would: {real.stderr}"), args
        assert registry_state(target, name) != before, args

    # a local directory: checked, not uploaded
    before = registry_state(target, name)
    dry = target.run("register", model_dir, "--name", name, "--dry-run")
    assert dry.stdout == "1\n" and dry.stderr.startswith(f"would: registered {name} version 1 from "), dry.stderr
    target.fails(1, "register", model_dir.parent / "missing", "--name", name, "--dry-run")
    # what a real run would refuse, a dry run refuses, with the same line
    target.ok("register", model_dir, "--name", renamed)
    target.ok("register", model_dir, "--name", renamed)
    target.ok("alias", "set", renamed, "champion", "1")
    before = registry_state(target, name)
    for code, args in [(1, ("alias", "set", renamed, "champion", "9")),
                       (3, ("alias", "set", renamed, "champion", "2", "--expect", "none")),
                       (1, ("tag", renamed, "--delete", "nope")),
                       (1, ("tag", renamed, "--version", "7", "k=v")),
                       (1, ("stage", renamed, "7", "Production")),
                       (3, ("rename", renamed, name + "-taken")),
                       (1, ("delete", renamed, "--version", "5", "--yes")),
                       (1, ("describe", name + "-missing", "--set", "x"))]:
        assert target.fails(code, *args, "--dry-run") == target.fails(code, *args), args
    assert registry_state(target, name) == before


@pytest.fixture
def sqlite_target(sqlite_server, tmp_path):
    import_mlflow()
    return Target("sqlite", sqlite_server.url, server=sqlite_server, env={"XDG_STATE_HOME": str(tmp_path / "s")})


def test_store_from_mlflow_environment_variables(sqlite_target, name, model_dir):
    url = sqlite_target.server.url
    assert regctl("register", model_dir, "--name", name, env={"MLFLOW_TRACKING_URI": url}).stdout == "1\n"
    result = regctl("versions", name, "--json", env={"MLFLOW_REGISTRY_URI": url, "MLFLOW_TRACKING_URI": "/nowhere"})
    assert result.returncode == 0 and json.loads(result.stdout)[0]["version"] == 1
    # the resolve fast path reads them too, and answers as the full CLI does
    fast = regctl("resolve", f"models:/{name}/1", env={"MLFLOW_TRACKING_URI": url})
    full = regctl("--traceback", "resolve", f"models:/{name}/1", env={"MLFLOW_TRACKING_URI": url})
    assert fast.returncode == 0 and (fast.stdout, fast.stderr) == (full.stdout, full.stderr)


def test_server_history_is_kept_on_this_machine(sqlite_target, name, model_dir, tmp_path):
    sqlite_target.ok("register", model_dir, "--name", name, "--alias", "champion")
    records = sqlite_target.json("history", name)
    assert [r["operation"] for r in records] == ["alias.set", "version.create", "model.create"]
    journal = list((tmp_path / "s" / "regctl" / "servers").glob("127.0.0.1-*.jsonl"))
    assert len(journal) == 1
    # another machine (another state directory) has no record to roll back
    other = regctl("alias", "rollback", name, "champion", store=sqlite_target.store,
                   env={"XDG_STATE_HOME": str(tmp_path / "elsewhere")})
    assert other.returncode == 1 and "no recorded change" in other.stderr


def test_doctor_on_a_server(sqlite_target):
    report = sqlite_target.json("doctor")
    assert report["ok"] and report["store"] == sqlite_target.store and report["notes"]


def test_unreachable_server_is_one_line_and_exit_5(tmp_path):
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    for args in [("models",), ("resolve", "models:/m/1"), ("alias", "set", "m", "a", "1")]:
        result = regctl(*args, store=url, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
        assert result.returncode == 5, result.stderr
        assert result.stderr == f"regctl: cannot reach the MLflow server at {url}: connection refused\n"
        assert result.stdout == ""
    result = regctl("models", store=url, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
                                             "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0"})
    assert result.returncode == 5 and "after 2 retries" in result.stderr


def test_register_an_mlflow3_logged_model(sqlite_target, name, tmp_path):
    """A model logged with ``mlflow.sklearn.log_model`` lives in a logged model, not in the run's artifacts."""
    mlflow = import_mlflow()
    from mlflow_oracle import log_model_run

    with tracking_at(mlflow, sqlite_target.store):
        logged = log_model_run(mlflow, True, [1.0, 2.0], "server-logged")
        oracle = mlflow.register_model(f"runs:/{logged['run_id']}/model", name + "-oracle")
    assert sqlite_target.ok("register", f"runs:/{logged['run_id']}/model", "--name", name) == "1\n"
    assert sqlite_target.ok("register", f"models:/{logged['model_id']}", "--name", name) == "2\n"
    client = sqlite_target.client()
    for number in ("1", "2"):
        mine = client.get_model_version(name, number)
        assert (mine.source, mine.run_id or None) == (oracle.source, oracle.run_id or None)
        assert mine.source == f"models:/{logged['model_id']}"
    view = sqlite_target.json("describe", name, "--version", "1")
    assert view["model_id"] == logged["model_id"] and view["lineage"]["run_id"] == logged["run_id"]
    resolved = sqlite_target.json("resolve", f"models:/{logged['model_id']}")
    assert resolved["location"] == client.get_logged_model(logged["model_id"]).artifact_location
    assert sqlite_target.json("resolve", f"runs:/{logged['run_id']}/model")["model_id"] == logged["model_id"]
    dest = tmp_path / "m"
    sqlite_target.ok("download", f"models:/{name}/2", dest)
    oracle_dir = mlflow.artifacts.download_artifacts(artifact_uri=resolved["location"],
                                                     dst_path=str(tmp_path / "oracle"),
                                                     tracking_uri=sqlite_target.store)
    meta = f"model_name: {name}\nmodel_version: '2'\n".encode()  # as MLflow's download of models:/NAME/2
    assert (dest / "MLmodel").is_file() and files_of(dest) == {**files_of(Path(oracle_dir)),
                                                               "registered_model_meta": meta}
    assert sqlite_target.run("verify", f"models:/{name}/2").returncode == 0


def test_prompts_are_found_when_a_filter_asks_for_them(sqlite_target, name):
    """MLflow's SQL store returns prompts only to searches naming ``mlflow.prompt.is_prompt``;
    regctl on a server finds what MLflow's client and regctl on the same database find."""
    mlflow = import_mlflow()
    with tracking_at(mlflow, sqlite_target.store):
        mlflow.genai.register_prompt(name=name, template="Hello {{who}}")
    client = sqlite_target.client()
    wanted = "tags.`mlflow.prompt.is_prompt` = 'true'"
    assert name in [m.name for m in client.search_registered_models(wanted)]
    found = sqlite_target.json("search", "--models", f"{wanted} AND name = '{name}'")
    assert [m["name"] for m in found] == [name]
    versions = sqlite_target.json("search", f"{wanted} AND name = '{name}'")
    assert [(v["name"], v["version"]) for v in versions] == [(name, 1)]
    assert "is an MLflow prompt" in sqlite_target.fails(1, "versions", name)  # not a model, as MlflowClient says
    assert name not in [m["name"] for m in sqlite_target.json("models")]  # left out unless asked for


def test_searches_give_what_mlflow_gives_on_the_same_store(target, name, model_dir):
    """On a server the search is the server's own (whatever database it runs on); on a file store,
    regctl's reading of MLflow's file store. Versions made by uploading a directory have no run."""
    from mlflow.exceptions import MlflowException

    for tags in (("--tag", "team=ml"), ("--tag", "team=ops"), ()):
        target.ok("register", model_dir, "--name", name, *tags)
    target.ok("register", model_dir, "--name", name + "-other", "--tag", "team=ml")
    client = target.client()
    filters = [f"name = '{name}'", f"name = '{name}' AND run_id = ''", f"name = '{name}' AND run_id != 'x'",
               f"name = '{name}' AND run_id LIKE '%'", f"name LIKE '{name}%' AND tags.team = 'ml'",
               f"name ILIKE '{name.upper()}%'", f"name = '{name}' AND version_number > 1"]

    def theirs(call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except MlflowException:
            return "error"

    for order in ([], ["version_number ASC"], ["creation_timestamp DESC"]):
        for text in filters:
            found = theirs(client.search_model_versions, text, order_by=order)
            expected = found if found == "error" else [(v.name, int(v.version)) for v in found]
            result = target.run("search", text, *[a for o in order for a in ("--order-by", o)], "--json")
            mine = [(v["name"], v["version"]) for v in json.loads(result.stdout)] if result.returncode == 0 \
                else "error"
            assert mine == expected, (target.kind, text, order)
    for order in ([], ["name DESC"], ["timestamp DESC"]):
        found = theirs(client.search_registered_models, f"name LIKE '{name}%'", order_by=order)
        expected = found if found == "error" else [m.name for m in found]
        result = target.run("search", "--models", f"name LIKE '{name}%'",
                            *[a for o in order for a in ("--order-by", o)], "--json")
        mine = [m["name"] for m in json.loads(result.stdout)] if result.returncode == 0 else "error"
        assert mine == expected, (target.kind, order)


def test_a_version_made_from_a_runs_uri_is_resolved_and_downloaded(sqlite_target, name, model_dir, tmp_path):
    """``MlflowClient.create_model_version(name, "runs:/RUN/model")`` leaves the server a ``runs:/`` download
    URI; regctl follows it to the run's files, as MLflow's download does."""
    mlflow = import_mlflow()
    with tracking_at(mlflow, sqlite_target.store):
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(model_dir), "model")
    client = sqlite_target.client()
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    assert client.get_model_version_download_uri(name, "1").startswith("runs:/")
    resolved = sqlite_target.json("resolve", f"models:/{name}/1")
    assert resolved["version"] == 1 and not resolved["path"].startswith("runs:/")
    dest = tmp_path / "downloaded"
    assert sqlite_target.ok("download", f"models:/{name}/1", dest).strip() == str(dest)
    meta = f"model_name: {name}\nmodel_version: '1'\n".encode()
    assert files_of(dest) == {**files_of(model_dir), "registered_model_meta": meta}


def test_diff_reads_each_versions_mlmodel_and_requirements(target, name, tmp_path):
    """On a server the files are read through its artifact proxy: two versions that differ only in
    their MLmodel and requirements are not 'the same'."""
    for label, flavor, requirement in (("one", "sklearn", "scikit-learn==1.5"), ("two", "xgboost", "xgboost==2.1")):
        directory = tmp_path / label
        directory.mkdir()
        (directory / "MLmodel").write_text(f"flavors:\n  python_function: {{}}\n  {flavor}: {{}}\n")
        (directory / "requirements.txt").write_text(f"{requirement}\n")
        target.ok("register", directory, "--name", name)
    result = target.run("diff", f"models:/{name}/1", f"models:/{name}/2", "--json")
    assert result.returncode == 1, result.stderr
    changed = {d["field"]: (d["a"], d["b"]) for d in json.loads(result.stdout)["differences"]}
    assert changed["flavors"] == (["python_function", "sklearn"], ["python_function", "xgboost"])
    assert changed["requirements"] == (["scikit-learn==1.5"], ["xgboost==2.1"])
