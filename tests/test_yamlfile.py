"""regctl's YAML reading and writing agree with PyYAML's safe loader and MLflow's files.

The flat parser must return exactly what PyYAML returns whenever it answers at
all; the C and pure-Python PyYAML paths must read and write the same bytes.
"""

import glob
import string

import pytest
import yaml
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from regctl.core import yamlfile

META_FILES = sorted(glob.glob(str(FIXTURES / "**" / "meta.yaml"), recursive=True))
MLFLOW_KEYS = ["name", "version", "source", "run_id", "storage_location", "current_stage",
               "description", "model_id", "status", "creation_timestamp", "aliases", "tags"]


@pytest.fixture(params=["libyaml", "pure-python"])
def flavour(request):
    if request.param == "libyaml" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml")
    yamlfile.use_pure_python(request.param == "pure-python")
    yield request.param
    yamlfile.use_pure_python(False)


def test_fixture_files_are_many_and_some_take_the_flat_path():
    flat = [f for f in META_FILES if yamlfile.loads_flat(open(f, encoding="utf-8").read()) is not None]
    assert len(META_FILES) >= 20
    assert 0 < len(flat) < len(META_FILES)  # both paths are exercised by the real files


@pytest.mark.parametrize("path", META_FILES, ids=lambda p: p.split("fixtures/")[1])
def test_every_mlflow_meta_file_reads_as_pyyaml_reads_it_and_writes_back_byte_for_byte(path, flavour):
    text = open(path, encoding="utf-8").read()
    data = yamlfile.loads(text)
    assert data == yaml.safe_load(text)
    assert yamlfile.dumps(data) == text


def test_the_flat_parser_declines_what_yaml_reads_differently():
    for text in ["on: x\n", "k: yes\n", "k: No\n", "k: 012\n", "k: 1.0\n", "k: 12:30\n",
                 "k: 2024-01-01\n", "k: 0b11\n", "k: 1_000\n", "k: ~\n", "k: a b\n", "k: 'a\n",
                 "k: x:\n", "k: &a x\n", "k: !!python/object x\n", "k:\n  - a\n", "---\nk: v\n",
                 "k: v \n", "k: v\r\n", "k: 'x'' '\n", "", "\n"]:
        assert yamlfile.loads_flat(text) is None, text


def test_invalid_yaml_is_a_syntax_error_with_one_line(flavour):
    with pytest.raises(yamlfile.YamlSyntaxError) as caught:
        yamlfile.loads("name: [unclosed\nversion: 1\n")
    assert "\n" not in str(caught.value) and str(caught.value)


TOKEN = st.text(alphabet=string.ascii_letters + string.digits + "_./:@+-'~ #!&*%|>{}[],\"\\", max_size=14)
HEX = st.text(alphabet="0123456789abcdef", min_size=1, max_size=32)
WORDS = st.sampled_from(["yes", "No", "ON", "off", "True", "null", "Null", "~", "y", "N", ".inf", "1_000",
                         "12:30", "2024-01-01", "0b11", "0x1f", "1e5", "1.0", "007", "''", "'a''b'", "' a'"])


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(MLFLOW_KEYS + ["on", "y"]), st.one_of(TOKEN, HEX, WORDS)), max_size=6))
def test_whenever_the_flat_parser_answers_it_is_pyyaml_s_answer(pairs):
    text = "".join(f"{key}: {value}\n" for key, value in pairs)
    flat = yamlfile.loads_flat(text)
    if flat is None:
        return
    expected = yaml.safe_load(text)
    assert flat == expected
    assert [type(v) for v in flat.values()] == [type(v) for v in expected.values()]


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(MLFLOW_KEYS),
                       st.one_of(st.none(), st.integers(), st.text(max_size=40), st.just({}), st.just([])),
                       min_size=1))
def test_what_regctl_writes_reads_back_identically(data):
    text = yamlfile.dumps(data)
    assert yamlfile.loads(text) == data == yaml.safe_load(text)


LINE = st.one_of(
    st.tuples(st.sampled_from(MLFLOW_KEYS + ["on"]), st.one_of(TOKEN, HEX, WORDS)).map(lambda p: f"{p[0]}: {p[1]}"),
    st.sampled_from(["aliases:", "tags:", "y:", "aliases: x:"]),
    st.tuples(st.sampled_from(["  ", " ", "   ", "\t"]), st.one_of(TOKEN, HEX, WORDS, st.sampled_from(
        ["champion", "prod-2", "a.b", "yes", "7", "x y", "a:b", "-"])), st.one_of(TOKEN, HEX, WORDS))
    .map(lambda p: f"{p[0]}{p[1]}: {p[2]}"),
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(LINE, max_size=8))
def test_one_level_of_nesting_reads_as_pyyaml_reads_it(lines):
    """A model's aliases (``aliases:`` and indented lines) take the flat path without changing the answer."""
    text = "".join(f"{line}\n" for line in lines)
    flat = yamlfile.loads_flat(text)
    if flat is None:
        return
    expected = yaml.safe_load(text)
    assert flat == expected
    assert [type(v) for v in flat.values()] == [type(v) for v in expected.values()]


def test_a_model_with_aliases_is_read_without_pyyaml():
    text = ("aliases:\n  champion: '7'\n  dev-2: '10'\ncreation_timestamp: 1700000000000\ndescription: null\n"
            "name: X\n")
    assert yamlfile.loads_flat(text) == yaml.safe_load(text) == {
        "aliases": {"champion": "7", "dev-2": "10"}, "creation_timestamp": 1700000000000, "description": None,
        "name": "X"}
