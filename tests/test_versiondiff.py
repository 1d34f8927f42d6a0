"""``regctl diff A B``: registry fields and MLmodel, exit 0 when equal, 1 when different."""

import json

from conftest import one_line_failure, regctl


def model_dir(root, flavor_version, requirements, signature='[{"type": "double", "name": "x"}]'):
    root.mkdir()
    (root / "MLmodel").write_text(
        "flavors:\n"
        "  python_function: {loader_module: mlflow.sklearn, python_version: 3.11.0}\n"
        f"  sklearn: {{sklearn_version: {flavor_version}, serialization_format: skops}}\n"
        "mlflow_version: 3.17.2\n"
        f"signature:\n  inputs: '{signature}'\n  outputs: '[{{\"type\": \"tensor\"}}]'\n")
    (root / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    return root


def test_equal_versions_exit_0(store3):
    result = regctl("diff", "models:/iris-classifier/2", "models:/iris-classifier@champion", store=store3)
    assert result.returncode == 0, result.stderr
    assert "no differences" in result.stdout


def test_differences_in_registry_fields_and_mlmodel_exit_1(store3, tmp_path):
    a = model_dir(tmp_path / "a", "1.9.1", ["mlflow==3.17.2", "scikit-learn==1.9.1"])
    b = model_dir(tmp_path / "b", "1.8.0", ["mlflow==3.17.2", "scikit-learn==1.8.0"],
                  signature='[{"type": "long", "name": "x"}]')
    for source in (a, b):
        assert regctl("register", source, "--name", "d", store=store3).returncode == 0
    regctl("tag", "d", "team=x", "--version", "1", store=store3)
    regctl("alias", "set", "d", "champion", "2", store=store3)
    regctl("stage", "d", "2", "Production", store=store3)
    result = regctl("diff", "models:/d/1", "models:/d@champion", "--json", store=store3)
    assert result.returncode == 1, result.stderr
    found = {d["field"]: (d["a"], d["b"]) for d in json.loads(result.stdout)["differences"]}
    assert found["stage"] == ("None", "Production")
    assert found["aliases"] == ([], ["champion"])
    assert found["tags.team"] == ("x", None)
    assert found["flavors.sklearn.sklearn_version"] == ("1.9.1", "1.8.0")
    assert found["signature.inputs"] == ([{"type": "double", "name": "x"}], [{"type": "long", "name": "x"}])
    assert found["requirements"][1] == ["mlflow==3.17.2", "scikit-learn==1.8.0"]
    assert "source" in found and "flavors" not in found and "signature.outputs" not in found
    table = regctl("diff", "models:/d/1", "models:/d/2", store=store3)
    assert table.returncode == 1 and table.stdout.splitlines()[0].split() == ["FIELD", "models:/d/1", "models:/d/2"]


def test_diff_needs_registered_versions(store3):
    one_line_failure(regctl("diff", "models:/iris-classifier/1", "runs:/43a5e07a68d34cb2b26fd2bafb0996f9/model",
                            store=store3), 2, "registered versions")
    one_line_failure(regctl("diff", "models:/iris-classifier/1", "models:/iris-classifier/3", store=store3), 1)


def alias_bomb() -> str:
    """Ten lines of YAML whose aliases expand to 10**8 items."""
    lines = ["a: &a [x,x,x,x,x,x,x,x,x,x]"]
    for before, name in zip("abcdefg", "bcdefgh"):
        lines.append(f"{name}: &{name} [{','.join(['*' + before] * 10)}]")
    return "\n".join(lines) + "\nflavors: {}\nmlflow_version: *h\n"


ODD_MLMODELS = {
    "alias-bomb": alias_bomb(),  # refused, never expanded
    "mixed-keys": "flavors:\n  1: {}\n  a: {}\n  sk:\n    1: x\n    b_version: 2\n  ~: {}\n",
    "deep-json": "flavors: {}\nsignature:\n  inputs: '" + "[" * 100_000 + "]" * 100_000 + "'\n",
    "nan": "flavors: {}\nmlflow_version: .nan\n",
}


def test_odd_mlmodel_files_give_an_answer_or_one_line(store3, tmp_path):
    """A file built to expand is refused (exit 4); mixed key types, deep JSON and NaN give an answer,
    and a version compared with itself is equal."""
    for number, (label, text) in enumerate(ODD_MLMODELS.items(), start=1):
        directory = tmp_path / label
        directory.mkdir()
        (directory / "MLmodel").write_text(text)
        assert regctl("register", directory, "--name", "odd", store=store3).returncode == 0
        uri = f"models:/odd/{number}"
        result = regctl("diff", uri, uri, "--json", store=store3, process=True)
        if label == "alias-bomb":
            one_line_failure(result, 4, "too large or too deeply nested")
        else:
            assert result.returncode == 0 and json.loads(result.stdout)["equal"], (label, result.stderr)
        other = regctl("diff", uri, "models:/iris-classifier/1", "--json", store=store3, process=True)
        assert other.returncode in (1, 4) and "internal error" not in other.stderr, (label, other.stderr)
