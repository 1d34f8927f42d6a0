"""An MLflow 3 prompt is not a registered model, on every store.

MLflow keeps a prompt in the registry's tables (or directories) as a model tagged
``mlflow.prompt.is_prompt``. ``MlflowClient`` answers "not found" to every model read or
write on one, and refuses to register a model version into it; regctl answers alike, in the
same words on every store, and leaves the prompt as MLflow made it (``load_prompt`` still
finds it afterwards). The prompt is made by real MLflow on each store.
"""

import json
import subprocess
from pathlib import Path

import pytest
from conftest import copy_fixture_db, regctl, sqlite_uri
from mlflow_oracle import import_mlflow
from stores import any_store  # noqa: F401  (the fixture)
from test_interop_mlflow2 import mlflow2_python  # noqa: F401  (the fixture: MLflow 2.22's interpreter)

TEMPLATE = "Hello {{name}}"


def _mlflow_uri(store) -> str:
    return Path(store.store).as_uri() if store.kind == "file" else store.store


def _client(store):
    from mlflow import MlflowClient

    uri = _mlflow_uri(store)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _commands(name: str, other: str, source: Path, dest: Path) -> list:
    """Every command that reads or writes a model, each naming the prompt ``name``."""
    return [
        ("versions", name), ("describe", name), ("describe", name, "--version", "1"),
        ("describe", name, "--alias", "prod"), ("describe", name, "--set", "new text"),
        ("describe", name, "--version", "1", "--set", "new text"),
        ("alias", "list", name), ("alias", "set", name, "x", "1"), ("alias", "delete", name, "prod"),
        ("alias", "rollback", name, "prod"),
        ("tag", name, "k=v"), ("tag", name, "k=v", "--version", "1"), ("tag", name, "--delete", "k"),
        ("stage", name, "1", "Staging"), ("rename", name, other),
        ("delete", name, "--yes"), ("delete", name, "--version", "1", "--yes"),
        ("gc", name, "--keep", "0"),
        ("resolve", f"models:/{name}/1"), ("resolve", f"models:/{name}@prod"),
        ("resolve", f"models:/{name}/latest"), ("resolve", f"models:/{name}/None"),
        ("verify", f"models:/{name}/1"), ("download", f"models:/{name}/1", str(dest)),
        ("diff", f"models:/{name}/1", f"models:/{name}/1"),
        ("register", f"models:/{name}/1", "--name", other),
    ]


def _refused_alike(run, name: str, source: Path, dest: Path) -> None:
    """Each command answers "not found" in one line, exit 1; registering into the prompt, exit 3."""
    shown = f"'{name}'"
    for args in _commands(name, f"{name}-other", source, dest):
        result = run(*args)
        assert (result.returncode, result.stdout) == (1, ""), (args, result.returncode, result.stdout, result.stderr)
        assert result.stderr == f"regctl: registered model {shown} not found ({shown} is an MLflow prompt)\n", \
            (args, result.stderr)
    result = run("register", str(source), "--name", name)
    assert (result.returncode, result.stdout) == (3, ""), (result.returncode, result.stdout, result.stderr)
    assert result.stderr == (f"regctl: {shown} is an MLflow prompt, not a registered model; "
                             "no version was registered\n"), result.stderr
    assert not dest.exists()


def test_a_prompt_is_not_a_model_for_any_command_on_any_store(any_store, tmp_path, monkeypatch):
    """describe, tag, alias, stage, rename, delete, gc, register, resolve, ... on a prompt MLflow
    made: "not found" (exit 1), the same line on every store, as MlflowClient answers; afterwards
    MLflow still loads the prompt by version and by alias."""
    import_mlflow()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    name = f"prompt-{any_store.name}"
    client = _client(any_store)
    client.register_prompt(name=name, template=TEMPLATE)
    client.set_prompt_alias(name, "prod", 1)
    assert client.load_prompt(f"prompts:/{name}/1").template == TEMPLATE
    with pytest.raises(Exception, match="not found"):
        client.get_registered_model(name)

    _refused_alike(any_store.run, name, any_store.model_dir(), tmp_path / "dl")
    assert name not in [m["name"] for m in any_store.json("models")]
    result = any_store.run("gc", "--all-models", "--keep", "0", "--json")  # prompts are not collected
    assert result.returncode == 0 and name not in result.stdout, result.stderr

    client = _client(any_store)
    assert client.load_prompt(f"prompts:/{name}/1").template == TEMPLATE
    assert client.load_prompt(f"prompts:/{name}@prod").template == TEMPLATE
    assert client.get_prompt(name).name == name


MLFLOW2_PROMPT = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import mlflow
uri, name, action = sys.argv[1], sys.argv[2], sys.argv[3]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
if action == "register":
    mlflow.register_prompt(name=name, template="Hello {{name}}")
    mlflow.set_prompt_alias(name, "prod", 1)
print(json.dumps({"version": mlflow.__version__, "template": mlflow.load_prompt(f"prompts:/{name}/1").template,
                  "by_alias": mlflow.load_prompt(f"prompts:/{name}@prod").template}))
"""


@pytest.mark.interop
def test_a_prompt_mlflow2_made_is_not_a_model_on_its_database(mlflow2_python, tmp_path):
    """The same on a database MLflow 2.22 made and wrote its prompt into."""
    uri = sqlite_uri(copy_fixture_db("mlflow2-db", tmp_path / "db"))
    name = "greeting"

    def mlflow2(action: str) -> dict:
        done = subprocess.run([mlflow2_python, "-c", MLFLOW2_PROMPT, uri, name, action], capture_output=True,
                              text=True, cwd=tmp_path, timeout=300, env={"GIT_PYTHON_REFRESH": "quiet"})
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    made = mlflow2("register")
    assert made["version"].startswith("2.") and made["template"] == TEMPLATE
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")

    def run(*args):
        return regctl(*args, store=uri, env={"XDG_STATE_HOME": str(tmp_path / "state")})

    _refused_alike(run, name, source, tmp_path / "dl")
    assert mlflow2("load") == made
