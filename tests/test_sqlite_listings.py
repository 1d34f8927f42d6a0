"""The SQLite listings' fast paths give what the general ones give.

``models``, ``versions`` and ``search_versions`` on a database draft their results
(``core.record.draft``) and let SQLite sort a search; here they are checked against
the constructor-made results of ``get_model``/``get_version`` and against
``core.derived.search_versions`` (every model's versions, filtered and sorted in
Python), on both fixture databases with added tags, prompts, aliases, deleted
versions, missing and equal timestamps and ``models:`` sources.
"""

import random
import sqlite3

import pytest
from conftest import FixtureStore

from regctl.api import Registry
from regctl.core import derived, filters
from regctl.core.results import ModelVersion, RegisteredModel

PROMPT = "mlflow.prompt.is_prompt"


@pytest.fixture(scope="module", params=["mlflow3-db", "mlflow2-db"])
def db(request, tmp_path_factory) -> FixtureStore:
    store = FixtureStore(request.param, tmp_path_factory.mktemp(request.param))
    connection = sqlite3.connect(store.root)
    rng = random.Random(7)
    names = ["zeta", "Zeta", "émile", "Émile", "日本", "a b", "ab", "prompt-like", "tagged"]
    with connection:
        for name in names:
            connection.execute("INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
                               "VALUES (?, ?, ?, ?)", (name, rng.choice([None, 5]), None, rng.choice([None, "d"])))
            for version in range(1, 9):
                connection.execute(
                    "INSERT INTO model_versions (name, version, creation_time, last_updated_time, current_stage, "
                    "source, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (name, version, rng.choice([None, 10, 20]), rng.choice([None, 1000, 2000, 3000]),
                     rng.choice(["None", "Production", "Staging", "Deleted_Internal"]),
                     rng.choice(["models:/m-abc123", "Models:/m-Q", "models:/zeta/1", "/tmp/x", None]), "READY"))
                for key in rng.sample(["a", "a/b", "b", "x/y/z", PROMPT], 2):
                    connection.execute('INSERT INTO model_version_tags ("key", value, name, version) '
                                       "VALUES (?, ?, ?, ?)", (key, rng.choice(["true", "false", "x"]), name, version))
            for alias in rng.sample(["champion", "b", "a", "prod"], 2):
                connection.execute("INSERT INTO registered_model_aliases (alias, version, name) VALUES (?, ?, ?)",
                                   (alias, rng.randint(1, 8), name))
        for name, key, value in [("prompt-like", PROMPT, "true"), ("tagged", "x/y", "1"), ("tagged", "a", "2"),
                                 ("tagged", "x", "3")]:
            connection.execute('INSERT INTO registered_model_tags ("key", value, name) VALUES (?, ?, ?)',
                               (key, value, name))
    connection.close()
    return store


def test_listed_models_and_versions_equal_the_constructed_ones(db):
    registry = Registry(db.store)
    models = registry.models()
    assert "prompt-like" not in [m.name for m in models]
    assert [m.name for m in registry.models(include_prompts=True)] == sorted([m.name for m in models] + ["prompt-like"])
    for model in models:
        assert type(model) is RegisteredModel
        described = registry.get_model(model.name)  # made by the constructor
        assert model == described.replace(latest_versions=None, version_count=None)
        assert repr(model) == repr(described.replace(latest_versions=None, version_count=None))
        assert model.to_json() == {k: v for k, v in described.to_json().items()
                                   if k not in ("latest_versions", "version_count")}
        for limit in (None, 3):
            for version in registry.versions(model.name, limit=limit):
                assert type(version) is ModelVersion
                made = registry.get_version(model.name, version.version).replace(lineage=None)
                assert version == made and repr(version) == repr(made) and version.to_json() == made.to_json()
                assert vars(version) == vars(made)
                with pytest.raises(AttributeError):
                    version.tags = {}  # type: ignore[misc]
                with pytest.raises(TypeError):
                    version.tags["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize("text", [None, "name = 'zeta'", "tags.a = 'true'", f"tags.`{PROMPT}` = 'true'",
                                  f"tags.`{PROMPT}` = 'false'", f"tags.`{PROMPT}` LIKE 'tr%'",
                                  "version_number > 3", "source_path LIKE 'models:%'"])
def test_a_search_equals_the_general_one(db, text):
    registry = Registry(db.store)
    backend = registry.backend
    for order in [(), ("name",), ("version_number ASC",), ("creation_timestamp",), ("creation_timestamp DESC",),
                  ("last_updated_timestamp ASC", "name DESC"), ("name DESC", "creation_timestamp")]:
        search = filters.search(text, order, filters.VERSIONS, sql=True)
        for max_results in (1, 7, 1000):
            fast = registry.search_versions(text, order, max_results)
            general = derived.search_versions(backend, search, max_results)
            assert list(fast) == list(general) and fast.more == general.more, (text, order, max_results)
            assert fast.to_json() == general.to_json()
