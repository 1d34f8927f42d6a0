"""Table tests of name, alias, tag, version and stage validation."""

import pytest

from regctl.core.errors import InvalidInput
from regctl.core.names import (
    canonical_stage,
    parse_tag_assignment,
    parse_version,
    validate_alias,
    validate_artifact_path,
    validate_logged_model_id,
    validate_lookup_name,
    validate_model_name,
    validate_run_id,
    validate_tag_key,
    validate_tag_value,
)


def rejected(function, value, *args, **kwargs) -> str:
    """Call ``function`` expecting InvalidInput (exit code 2); return its message."""
    with pytest.raises(InvalidInput) as info:
        function(value, *args, **kwargs)
    assert info.value.exit_code == 2
    assert "\n" not in info.value.message
    return info.value.message


# ------------------------------------------------------------ model names

@pytest.mark.parametrize("name", [
    "iris-classifier",
    "iris.baseline model",      # dots and spaces
    "a@b",                      # '@' is allowed (addressed as models:/a@b/1)
    "a#b",
    "ünïcödé",
    "R²-model",
    ".hidden",
    "a..b",
    "x" * 255,                  # 255 bytes: the file-name limit
    "é" * 127,                  # 254 bytes in UTF-8
])
def test_valid_model_names(name):
    assert validate_model_name(name) == name


@pytest.mark.parametrize("name", [
    "",
    " ",
    "\t",
    "a/b",
    "a\\b",
    "a:b",
    "a%b",
    "a?b",
    ".",
    "..",
    "..x",
    " leading",
    "trailing ",
    "a\n",                      # trailing newline
    "a\nb",
    "a\tb",
    "a\x00b",
    "a\x7fb",
    "x" * 256,                  # 256 bytes
    "é" * 128,                  # 256 bytes in UTF-8
])
def test_invalid_model_names(name):
    message = rejected(validate_model_name, name)
    assert message.startswith("invalid model name ")
    assert repr(name if len(name) <= 80 else name[:77] + "...") in message


@pytest.mark.parametrize("name", ["what?", "trailing ", " leading", "tab\tname", "..dots", "team:churn", "a%b"])
def test_an_existing_model_is_addressed_by_its_name_as_it_is(name):
    """The strict rules are for a new model; an existing one only needs to be one path component."""
    rejected(validate_model_name, name)
    assert validate_model_name(name, existing=True) == name


@pytest.mark.parametrize("name", ["", "a/b", ".", "..", "a\x00b"])
def test_an_existing_name_still_cannot_leave_the_models_directory(name):
    rejected(lambda n: validate_model_name(n, existing=True), name)


@pytest.mark.parametrize("name, ok", [
    ("iris-classifier", True),
    (" legacy name ", True),    # MLflow may have written it; lookups accept it
    ("a:b", True),
    ("a/b", False),
    ("..", False),
    (".", False),
    ("", False),
    ("a\x00b", False),
])
def test_lookup_names(name, ok):
    if ok:
        assert validate_lookup_name(name) == name
    else:
        rejected(validate_lookup_name, name)


# ---------------------------------------------------------------- aliases

@pytest.mark.parametrize("alias", [
    "champion",
    "challenger",
    "a_b-c",
    "ünï",
    "v1a",
    "va",
    "v",
    "1",
    "V",
    "vv1",
    "latest2",
    "x" * 255,
])
def test_valid_aliases(alias):
    assert validate_alias(alias) == alias


@pytest.mark.parametrize("alias", ["latest", "LATEST", "Latest", "v1", "V12", "v0", "v١", "V١٢"])
def test_reserved_aliases(alias):
    message = rejected(validate_alias, alias)
    assert repr(alias) in message and "reserved" in message
    # reading (models:/m@v1 in a store MLflow 3 wrote) is allowed
    assert validate_alias(alias, allow_reserved=True) == alias


@pytest.mark.parametrize("alias", [
    "",
    "a.b",
    "a b",
    "a/b",
    "a:b",
    "a@b",
    "abc\n",                    # MLflow's '$' lets one trailing newline through; regctl does not
    "\nabc",
    "x" * 256,
])
def test_invalid_aliases(alias):
    message = rejected(validate_alias, alias)
    assert message.startswith("invalid alias ")
    assert repr(alias if len(alias) <= 80 else alias[:77] + "...") in message
    rejected(validate_alias, alias, allow_reserved=True)


# --------------------------------------------------------------- tag keys

@pytest.mark.parametrize("key", [
    "task",
    "owner/team",
    "metrics/r2",
    "a/b/c",
    "mlflow.modelVersions",
    "a.b",
    "a-b",
    "a b",
    "a:b",
    "ünï",
    ".a",
    "a..b",
    "x" * 250,
])
def test_valid_tag_keys(key):
    assert validate_tag_key(key) == key


@pytest.mark.parametrize("key", [
    "",
    ".",
    "..",
    "..a",
    "a//b",
    "/a",
    "a/",
    "./a",
    "a/./b",
    "a/../b",
    "a/..",
    "a@b",
    "a#b",
    "a\\b",
    "k\n",
    "x" * 251,
])
def test_invalid_tag_keys(key):
    message = rejected(validate_tag_key, key)
    assert message.startswith("invalid tag key ")
    assert repr(key if len(key) <= 80 else key[:77] + "...") in message


# ------------------------------------------------------------- tag values

@pytest.mark.parametrize("value", ["", "x", "first line\nsecond line", "ü" * 100_000, "v" * 100_000])
def test_valid_tag_values(value):
    assert validate_tag_value("k", value) == value


def test_tag_value_over_limit():
    with pytest.raises(InvalidInput) as info:
        validate_tag_value("my-key", "v" * 100_001)
    assert "'my-key'" in info.value.message and "100001" in info.value.message


@pytest.mark.parametrize("text, expected", [
    ("k=v", ("k", "v")),
    ("k=", ("k", "")),
    ("k=a=b", ("k", "a=b")),
    ("owner/team=ml platform", ("owner/team", "ml platform")),
    ("k=line1\nline2", ("k", "line1\nline2")),
])
def test_tag_assignments(text, expected):
    assert parse_tag_assignment(text) == expected


@pytest.mark.parametrize("text", ["k", "", "=v", "a//b=v", "k\n=v"])
def test_invalid_tag_assignments(text):
    rejected(parse_tag_assignment, text)


def test_tag_assignment_value_too_long():
    rejected(parse_tag_assignment, "k=" + "v" * 100_001)


# --------------------------------------------------------------- versions

@pytest.mark.parametrize("text, expected", [
    ("1", 1),
    ("12", 12),
    (" 1", 1),                  # MLflow 3 accepts surrounding whitespace
    ("1 ", 1),
    ("01", 1),                  # and leading zeros
    (7, 7),
])
def test_valid_versions(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["x", "1.0", "0", "00", "-1", "+1", "", " ", "1e3", "²", "١", "0x1", "1_0", 0, -3, True])
def test_invalid_versions(text):
    message = rejected(parse_version, text)
    assert message.startswith("invalid version ")
    assert repr(str(text)) in message


# ----------------------------------------------------------------- stages

@pytest.mark.parametrize("text, stage", [
    ("None", "None"), ("none", "None"), ("NONE", "None"),
    ("Staging", "Staging"), ("staging", "Staging"), ("STAGING", "Staging"),
    ("Production", "Production"), ("production", "Production"), ("pRoDuCtIoN", "Production"),
    ("Archived", "Archived"), ("archived", "Archived"),
])
def test_stages_any_case(text, stage):
    assert canonical_stage(text) == stage


@pytest.mark.parametrize("text", ["Deleted_Internal", "deleted_internal", "DELETED_INTERNAL", "bogus", "", "v1", "1", "Prod"])
def test_invalid_stages(text):
    message = rejected(canonical_stage, text)
    assert message.startswith("invalid stage ") and repr(text) in message
    assert "None, Staging, Production, Archived" in message


# ------------------------------------------------------ ids and artifact paths

@pytest.mark.parametrize("run_id, ok", [
    ("ad43392a996b41dc9d2be361bb7b42a1", True),
    ("abc", True),
    ("", False),
    ("../x", False),
    ("a/b", False),
    (".x", False),
])
def test_run_ids(run_id, ok):
    if ok:
        assert validate_run_id(run_id) == run_id
    else:
        rejected(validate_run_id, run_id)


@pytest.mark.parametrize("model_id, ok", [
    ("m-0f627f604de5468f8ec0ee0ac3552d60", True),
    ("m-x", True),
    ("0f627f604de5468f8ec0ee0ac3552d60", False),
    ("m-../x", False),
    ("m-a/b", False),
])
def test_logged_model_ids(model_id, ok):
    if ok:
        assert validate_logged_model_id(model_id) == model_id
    else:
        rejected(validate_logged_model_id, model_id)


@pytest.mark.parametrize("path, expected", [
    ("model", "model"),
    ("/model/", "model"),
    ("a/b", "a/b"),
    ("", ""),
    ("/", ""),
])
def test_artifact_paths(path, expected):
    assert validate_artifact_path(path) == expected


@pytest.mark.parametrize("path", ["..", "../x", "a/../b", "a//b", "./a", "a/.", "a\x00"])
def test_artifact_paths_escaping_rejected(path):
    rejected(validate_artifact_path, path)
