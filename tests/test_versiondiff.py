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
