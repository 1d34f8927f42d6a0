"""``regctl search``: MLflow's filter grammar, with MLflow 3.17 as the oracle on the same store."""

import json

import pytest
from conftest import copy_fixture_store, one_line_failure, regctl, snapshot
from mlflow_oracle import client_of, file_store_allowed, import_mlflow  # noqa: F401 (module fixture)

from regctl import Registry
from regctl.core import filters
from regctl.core.errors import InvalidInput

import_mlflow()
from mlflow.exceptions import MlflowException  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("file_store_allowed")]

VERSION_FILTERS = [
    None,
    "",
    "name = 'iris-classifier'",
    "name != 'iris-classifier'",
    'name = "iris.baseline model"',
    "name = 'Iris-Classifier'",
    "name LIKE 'iris%'",
    "name LIKE 'IRIS%'",
    "name ILIKE 'IRIS%'",
    "name LIKE '%model'",
    "name LIKE 'iris_classifier'",
    "name LIKE 'iris.%'",
    "name ilike '%BASE%'",
    "name IN ('iris-classifier', 'nothing')",
    "name NOT IN ('iris-classifier')",
    "name not in ('iris-classifier', 'search model')",
    "name IN ('search model')",
    "attribute.name = 'search model'",
    "version_number = 1",
    "version_number = '2'",
    "version_number != 1",
    "version_number > 1",
    "version_number >= 2",
    "version_number < 3",
    "version_number <= 1",
    "version_number = 3",  # iris-classifier 3 is soft-deleted: never found
    "name = 'iris-classifier' AND version_number = 3",
    "name = 'iris-classifier' AND version_number > 1",
    "name = 'iris-classifier' and version_number <= 2 AND tags.validation_status = 'approved'",
    "run_id = '43a5e07a68d34cb2b26fd2bafb0996f9'",
    "run_id != '43a5e07a68d34cb2b26fd2bafb0996f9'",
    "run_id IN ('43a5e07a68d34cb2b26fd2bafb0996f9', 'ad43392a996b41dc9d2be361bb7b42a1')",
    "run_id NOT IN ('43a5e07a68d34cb2b26fd2bafb0996f9')",
    "run_id LIKE '43a5%'",
    "source_path = 'models:/m-edcc948ee8684cc0a792f736d9f6e4f1'",
    "source_path LIKE 'models:/%'",
    "source_path LIKE 'file:%'",
    "source_path ILIKE '%M-0F627F%'",
    "tags.validation_status = 'approved'",
    "tags.validation_status != 'approved'",
    "tag.validation_status = 'pending'",
    "tags.`metrics/r2` = '0.9300'",
    "tags.`metrics/r2` LIKE '0.9%'",
    "tags.`data set` = 'iris v2'",
    'tags."data set" LIKE \'iris%\'',
    "tags.`data set` ILIKE 'IRIS_V_'",
    "tags.stage = 'qa'",
    "tags.notes LIKE 'line one%'",
    "tags.notes LIKE '%two'",
    "tags.notes = 'line one\nline two'",
    "tags.missing != 'x'",
    "tags.`mlflow.prompt.is_prompt` = 'false'",
    "tags.`mlflow.prompt.is_prompt` = 'true'",
    "tags.`mlflow.prompt.is_prompt` != 'true'",
    "tags.`with.dots` = '1'",
    "tags.pct LIKE '100\\%'",
    "tags.pct = '100%'",
    "tags.pct LIKE '100%'",
    "name = 'search model' AND tags.stage = 'qa' AND version_number >= 2",
]
INVALID_VERSION_FILTERS = [
    "name = iris",
    "name == 'x'",
    "name = 'x' OR name = 'y'",
    "(name = 'x')",
    "nam = 'x'",
    "creation_timestamp > 0",
    "metrics.r2 > 0",
    "tags.stage IN ('qa')",
    "tags.stage = 1",
    "source_path IN ('x')",
    "name = 'x'; name = 'y'",
    "name IN ()",
    "name IN (1, 2)",
    "name > 'a'",
    "tags.stage > 'a'",
]
MODEL_FILTERS = [
    None,
    "name = 'iris-classifier'",
    "name != 'iris-classifier'",
    "name LIKE 'iris%'",
    "name ILIKE '%MODEL%'",
    "name IN ('iris-classifier', 'search model')",
    "name NOT IN ('iris-classifier')",
    "tags.task = 'classification'",
    "tags.task != 'classification'",
    "tags.`owner/team` LIKE 'ml-%'",
    "tags.origin ILIKE 'COPY%'",
    "tags.`team name` = 'search team'",
    "tags.`mlflow.prompt.is_prompt` = 'true'",
    "tags.`mlflow.prompt.is_prompt` = 'false'",
    "name LIKE '%' AND tags.task = 'classification'",
]
INVALID_MODEL_FILTERS = ["version_number = 1", "run_id = 'x'", "name = x", "tags.task IN ('a')"]
VERSION_ORDERS = [
    [], ["name ASC"], ["name DESC"], ["version_number ASC"], ["version_number DESC", "name DESC"],
    ["creation_timestamp ASC"], ["last_updated_timestamp DESC"], ["attribute.name DESC"],
    ["name", "version_number asc"],
]
MODEL_ORDERS = [[], ["name DESC"], ["creation_timestamp DESC"], ["last_updated_timestamp ASC"], ["name asc"]]


@pytest.fixture(scope="module")
def searched(tmp_path_factory, file_store_allowed):
    """The MLflow 3 fixture store, plus a model MLflow made with tags that need quoting, and a prompt."""
    root = copy_fixture_store("mlflow3-store", tmp_path_factory.mktemp("search"))
    client = client_of(root)
    source = next(root.glob("*/models/m-*/artifacts"))
    client.create_registered_model("search model", tags={"team name": "search team"})
    for tags in ({"data set": "iris v1", "stage": "qa"}, {"data set": "iris v2", "stage": "qa", "with.dots": "1"},
                 {"notes": "line one\nline two", "pct": "100%"}, {"data set": "iris v3"}):
        client.create_model_version("search model", source.as_uri(), tags=tags)
    client.delete_model_version("search model", "4")
    try:
        client.register_prompt(name="a-prompt", template="Hello {{name}}")
    except Exception:  # pragma: no cover - a prompt API this MLflow lacks
        pass
    return {"root": root, "client": client}


def versions_of(found) -> list:
    return [(v.name, int(v.version)) for v in found]


def oracle(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except MlflowException:
        return "error"


@pytest.mark.parametrize("order_by", VERSION_ORDERS, ids=str)
def test_version_searches_agree_with_mlflow(searched, order_by):
    registry, client = Registry(str(searched["root"])), searched["client"]
    for text in VERSION_FILTERS:
        expected = versions_of(client.search_model_versions(text, order_by=order_by))
        assert versions_of(registry.search_versions(text, order_by)) == expected, (text, order_by)


def test_model_searches_agree_with_mlflow(searched):
    registry, client = Registry(str(searched["root"])), searched["client"]
    for order_by in MODEL_ORDERS:
        for text in MODEL_FILTERS:
            expected = [m.name for m in client.search_registered_models(text, order_by=order_by)]
            assert [m.name for m in registry.search_models(text, order_by)] == expected, (text, order_by)


def test_filters_mlflow_refuses_are_refused(searched):
    registry, client = Registry(str(searched["root"])), searched["client"]
    for text in INVALID_VERSION_FILTERS:
        assert oracle(client.search_model_versions, text) == "error", text
        with pytest.raises(InvalidInput):
            registry.search_versions(text)
    for text in INVALID_MODEL_FILTERS:
        assert oracle(client.search_registered_models, text) == "error", text
        with pytest.raises(InvalidInput):
            registry.search_models(text)
    for order in (["tags.stage"], ["run_id"], ["name UP"]):
        assert oracle(client.search_model_versions, order_by=order) == "error", order
        with pytest.raises(InvalidInput):
            registry.search_versions(None, order)


def test_max_results_cuts_as_mlflow_does(searched):
    registry, client = Registry(str(searched["root"])), searched["client"]
    for n in (1, 2, 5, 100):
        found = registry.search_versions("name LIKE '%'", max_results=n)
        assert versions_of(found) == versions_of(client.search_model_versions("name LIKE '%'", max_results=n))
        assert len(found) + found.more == len(client.search_model_versions("name LIKE '%'"))
    assert [m.name for m in registry.search_models(max_results=1)] == \
        [m.name for m in client.search_registered_models(max_results=1)]


def test_search_command_prints_json_tables_and_a_note_when_cut(searched):
    root = searched["root"]
    result = regctl("search", "tags.stage = 'qa'", "--json", store=root)
    assert result.returncode == 0, result.stderr
    assert [(v["name"], v["version"]) for v in json.loads(result.stdout)] == [("search model", 2), ("search model", 1)]
    table = regctl("search", "name = 'iris-classifier'", "--order-by", "version_number ASC", "--format", "csv",
                   store=root)
    assert table.returncode == 0 and table.stdout.splitlines()[0].startswith("NAME")
    piped = regctl("search", "name = 'iris-classifier'", "--order-by", "version_number ASC", store=root)
    assert [line.split("\t")[:2] for line in piped.stdout.splitlines()] == [["iris-classifier", "1"],
                                                                         ["iris-classifier", "2"]]
    models = regctl("search", "--models", "tags.task = 'classification'", "--json", store=root)
    assert [m["name"] for m in json.loads(models.stdout)] == ["iris-classifier"]
    cut = regctl("search", "--max-results", "1", store=root)
    assert cut.returncode == 0 and len(cut.stdout.splitlines()) == 1  # TSV when piped: no header
    assert "5 more" in cut.stderr and "--max-results 6" in cut.stderr
    assert regctl("search", "name = 'nothing'", "--json", store=root).stdout == "[]\n"


def test_a_bad_filter_is_one_line_pointing_at_the_error(store3):
    before = snapshot(store3)
    line = one_line_failure(regctl("search", "name = 'x' AND nam = 'y'", store=store3), 2, "unknown key 'nam'",
                            "character 16")
    assert "nam = 'y'" in line
    one_line_failure(regctl("search", "name = 'x", store=store3), 2, "unterminated string")
    one_line_failure(regctl("search", "--order-by", "size DESC", store=store3), 2, "order")
    one_line_failure(regctl("search", "--models", "version_number = 1", store=store3), 2, "unknown key")
    one_line_failure(regctl("search", "--max-results", "0", store=store3), 2)
    assert snapshot(store3) == before


def test_parsed_filters_are_small_frozen_objects():
    clauses = filters.parse_filter("tags.`a b` LIKE 'x%' AND name IN ('m', \"n\")", filters.VERSIONS)
    assert clauses == (filters.Comparison("tag", "a b", "LIKE", "x%"),
                       filters.Comparison("attribute", "name", "IN", ("m", "n")))
    with pytest.raises(AttributeError):
        clauses[0].key = "other"  # type: ignore[misc]


LIKE_TEXTS = ["", "\n", "a", "ab", "a\nb", "ab\n", "a\nb\n", "iris_v2", "IRIS V2", "100%", "100\\x", "ſK", "aXbXb"]
LIKE_PATTERNS = ["", "%", "%%", "a", "a%", "%b", "%a%b", "a%%b", "a_", "_", "%_%", "a\nb", "a\n%", "%\nb", "b%",
                 "iris_v_", "%V2", "100\\%", "100%", "s%", "%k", "a%b%b", "a%b"]


def test_like_agrees_with_mlflow_on_wildcards_newlines_and_case():
    from mlflow.utils.search_utils import _ilike, _like

    for text in LIKE_TEXTS:
        for pattern in LIKE_PATTERNS:
            assert filters.like(text, pattern) == _like(text, pattern), (text, pattern)
            assert filters.like(text, pattern, ignore_case=True) == _ilike(text, pattern), (text, pattern)


def test_a_like_pattern_of_many_percent_signs_is_answered(searched):
    # MLflow's regular expression for 80 "%" backtracks for longer than anyone waits: regctl answers at once
    import subprocess
    import sys

    filter_text = "name LIKE '" + "%" * 80 + "l' AND version_number < 3"
    result = subprocess.run([sys.executable, "-m", "regctl", "--store", str(searched["root"]), "search",
                             filter_text, "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = [(v["name"], v["version"]) for v in json.loads(result.stdout)]
    assert found == [("search model", 2), ("search model", 1), ("iris.baseline model", 1)]


SQL_NAMES = ["Abc", "abc", "ünï", "ÜNÏ", "a\nb", "ab\n", "İstanbul", "istanbul", "100%", "a_b", "ǅx"]
SQL_PATTERNS = ["abc", "ABC", "a%b", "A_B", "%b", "ünï", "ÜNÏ", "istanbul", "ab", "a%", "%\n", "100%", "_bc",
                "%", "ǆX", "a\\_b"]


def test_like_on_a_database_agrees_with_mlflows_sql_store(tmp_path):
    """In a SQLite database MLflow's LIKE is SQL's: % and _ match newlines, the whole name must match,
    and ILIKE folds ASCII letters only (SQLite's lower())."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in SQL_NAMES:
        client.create_registered_model(name)
    registry = Registry(uri)
    for op in ("LIKE", "ILIKE"):
        for pattern in SQL_PATTERNS:
            text = f"name {op} '{pattern}'"
            expected = sorted(m.name for m in oracle(client.search_registered_models, text))
            mine = sorted(m.name for m in registry.search_models(text))
            assert mine == expected, (text, mine, expected)


def test_models_order_by_the_keys_mlflows_sql_store_takes(tmp_path):
    """A database orders models by name and last update (also called ``timestamp``), not by creation."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in ("b", "a", "c"):
        client.create_registered_model(name)
    client.set_registered_model_tag("a", "k", "v")  # no change of last update in a database
    client.update_registered_model("b", description="moves b's last update")
    registry = Registry(uri)
    for order in (["timestamp DESC"], ["timestamp ASC"], ["last_updated_timestamp DESC"], ["name DESC"],
                  ["creation_timestamp DESC"]):
        found = oracle(client.search_registered_models, order_by=order)
        expected = found if found == "error" else [m.name for m in found]
        try:
            mine = [m.name for m in registry.search_models(None, order)]
        except InvalidInput:
            mine = "error"
        assert mine == expected, (order, mine, expected)


def test_a_number_beyond_64_bits_is_refused_before_any_store_sees_it(store3):
    """A database column cannot hold it: MLflow's server fails on it (HTTP 500, after its retries)."""
    before = snapshot(store3)
    for text in ("version_number = 99999999999999999999999", "version_number > '-9223372036854775809'"):
        one_line_failure(regctl("search", text, store=store3), 2, "out of range")
    assert regctl("search", "version_number < 9223372036854775807", store=store3).returncode == 0
    assert snapshot(store3) == before
