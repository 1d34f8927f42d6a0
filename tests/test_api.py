"""The Python API: ``from regctl import Registry``, typed results whose ``to_json()`` is the CLI's JSON,
and the CLI using nothing of the library but the API, the renderer and the errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, regctl, snapshot

from regctl import (
    AliasChange,
    Conflict,
    InvalidInput,
    Listing,
    ModelVersion,
    NotFound,
    RegisteredModel,
    Registry,
    StageChange,
)


def cli_json(store: Path, *args) -> object:
    result = regctl(*args, "--json", store=store)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_registry_finds_the_store_as_the_cli_does(store3, monkeypatch, tmp_path):
    for variable in [v for v in os.environ if v.startswith(("REGCTL_", "MLFLOW_"))]:
        monkeypatch.delenv(variable)  # whatever other tests in this process left set
    monkeypatch.setenv("REGCTL_STORE", str(store3))
    assert Path(Registry().location) == store3
    monkeypatch.delenv("REGCTL_STORE")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store3.as_uri())
    assert Path(Registry().location) == store3
    monkeypatch.chdir(store3.parent)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert Path(Registry().location) == store3  # ./mlruns


def test_reads_are_typed_and_their_json_is_the_clis(fixture_store):
    _, store = fixture_store
    registry = Registry(str(store))
    models = registry.models()
    assert isinstance(models, Listing) and all(isinstance(m, RegisteredModel) for m in models)
    assert models.to_json() == cli_json(store, "models")
    versions = registry.versions("iris-classifier", include_deleted=True)
    assert all(isinstance(v, ModelVersion) for v in versions)
    assert versions.to_json() == cli_json(store, "versions", "iris-classifier", "--all")
    assert registry.get_model("iris-classifier").to_json() == cli_json(store, "describe", "iris-classifier")
    assert registry.get_version("iris-classifier", alias="champion").to_json() == \
        cli_json(store, "describe", "iris-classifier", "--alias", "champion")
    assert dict(registry.aliases("iris-classifier")) == cli_json(store, "alias", "list", "iris-classifier")
    resolution = registry.resolve("models:/iris-classifier@champion")
    assert resolution.to_json() == cli_json(store, "resolve", "models:/iris-classifier@champion")


def test_results_are_immutable(store3):
    version = Registry(str(store3)).versions("iris-classifier")[0]
    with pytest.raises(AttributeError, match="immutable"):
        version.version = 99  # type: ignore[misc]
    with pytest.raises(TypeError):
        version.tags["x"] = "y"  # type: ignore[index]


def test_writes_return_what_changed(store3, tmp_path):
    registry = Registry(str(store3))
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    new = registry.register(str(source), "api-model", tags={"team": "ml"}, aliases=["candidate"])
    assert (new.name, new.version, dict(new.tags), new.aliases) == ("api-model", 1, {"team": "ml"}, ("candidate",))
    assert new.to_json() == cli_json(store3, "versions", "api-model")[0]
    second = registry.register(str(source), "api-model")
    change = registry.set_alias("api-model", "champion", second.version, expect="none")
    assert change == AliasChange("api-model", "champion", None, 2, True)
    assert registry.set_alias("api-model", "champion", 2).changed is False
    stage = registry.transition_stage("api-model", 2, "production")
    assert stage == StageChange("api-model", 2, "None", "Production", ())
    assert registry.delete_version("api-model", 2).aliases_removed == ("champion",)
    assert [r.operation for r in registry.history("api-model")][:2] == ["alias.delete", "version.delete"]


def test_errors_are_typed_with_exit_codes_and_change_nothing(store3):
    registry = Registry(str(store3))
    before = snapshot(store3)
    with pytest.raises(NotFound) as missing:
        registry.set_alias("no-such-model", "champion", 1)
    assert missing.value.exit_code == 1
    with pytest.raises(Conflict) as conflict:
        registry.set_alias("iris-classifier", "champion", 1, expect=1)
    assert conflict.value.exit_code == 3
    with pytest.raises(InvalidInput) as invalid:
        registry.set_tags("iris-classifier", {"a": "b\udcff"})
    assert invalid.value.exit_code == 2
    assert snapshot(store3) == before


def test_readme_python_example_runs(tmp_path):
    """The README's "Python API" section, executed as written, on a copy of the example store."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    import shutil

    shutil.copytree(REPO / "examples" / "mlruns", tmp_path / "mlruns")
    for run in (1, 2):  # the example is re-runnable: a second run on the same store works too
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, (run, done.stderr)
        assert done.stdout.strip(), "the example prints what it did"


def test_resolve_loads_no_cli_framework(store3):
    """``resolve`` runs inside pipelines: it must not pay for Typer, Click or Rich."""
    probe = ("import sys\nfrom regctl.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('typer', 'click', 'rich', 'dataclasses') if m in sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, "--store", str(store3), "resolve",
                           "models:/iris-classifier@champion"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip().endswith("artifacts")
    assert done.stderr.strip() == "[]"


# ------------------------------------------------- argument types at the boundary

def test_a_string_where_a_list_is_expected_is_a_type_error_and_writes_nothing(store3, tmp_path):
    registry = Registry(str(store3))
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    before = snapshot(store3)
    with pytest.raises(TypeError, match="aliases must be a list of strings"):
        registry.register(str(source), "iris-classifier", aliases="champion")
    with pytest.raises(TypeError, match="keys must be a list of strings"):
        registry.delete_tags("iris-classifier", "abc")
    with pytest.raises(TypeError, match="names must be a list of strings"):
        registry.push(str(tmp_path / "copy"), names="m")
    with pytest.raises(TypeError, match="aliases must be a list of strings; it holds int"):
        registry.register(str(source), "iris-classifier", aliases=[1])
    with pytest.raises(TypeError, match="source must be a path or URI"):
        registry.register(42, "iris-classifier")
    assert snapshot(store3) == before and not (tmp_path / "copy").exists()


@pytest.mark.parametrize("call, message", [
    (lambda r, src: r.set_tags("iris-classifier", "abc"), "tags must be a mapping of str to str, not str"),
    (lambda r, src: r.set_tags("iris-classifier", [("a", "b")]), "tags must be a mapping of str to str, not list"),
    (lambda r, src: r.register(src, "iris-classifier", tags="ab"), "tags must be a mapping"),
    (lambda r, src: r.set_tags("iris-classifier", {1: "x"}), "tag key must be a str, not int"),
    (lambda r, src: r.set_alias("iris-classifier", ["x"], 1), "alias must be a str, not list"),
    (lambda r, src: r.get_model(3), "model name must be a str, not int"),
    (lambda r, src: r.history(3), "model name must be a str, not int"),
    (lambda r, src: r.gc(["iris-classifier"], keep=0), "model name must be a str, not list"),
    (lambda r, src: r.rename("iris-classifier", 5), "model name must be a str, not int"),
    (lambda r, src: r.verify(Path("models:/iris-classifier/1")), "URI must be a str, not PosixPath"),
    (lambda r, src: r.resolve(b"models:/iris-classifier/1"), "URI must be a str, not bytes"),
    (lambda r, src: r.set_description("iris-classifier", b"x"), "description must be a str, not bytes"),
])
def test_a_wrong_type_is_a_type_error_naming_the_argument_and_writes_nothing(store3, tmp_path, call, message):
    registry = Registry(str(store3))
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    before = snapshot(store3)
    with pytest.raises(TypeError, match=message):
        call(registry, str(source))
    assert snapshot(store3) == before


def test_paths_may_be_path_objects(store3, tmp_path):
    registry = Registry(store3)  # a pathlib.Path
    assert registry.get_version("iris-classifier", alias="champion").version == 2
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    version = registry.register(source, "from-a-path", aliases=["champion"])
    assert version.version == 1 and registry.aliases("from-a-path") == {"champion": 1}
    done = registry.download("models:/from-a-path@champion", tmp_path / "out")
    assert (tmp_path / "out" / "MLmodel").is_file() and done.dest == str(tmp_path / "out")
