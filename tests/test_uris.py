"""Table tests of the pure URI parser (``models:/``, ``runs:/``, ``file:`` and plain paths)."""

import pytest

from regctl.core.errors import InvalidInput
from regctl.core.uris import (
    AliasRef,
    LatestRef,
    LoggedModelRef,
    PathRef,
    RunRef,
    StageRef,
    VersionRef,
    parse_models_uri,
    parse_runs_uri,
    parse_uri,
    scheme_of,
)


@pytest.mark.parametrize("uri, expected", [
    # versions: ASCII digits only; leading zeros are still a number
    ("models:/m/1", VersionRef("m", 1)),
    ("models:/m/42", VersionRef("m", 42)),
    ("models:/m/01", VersionRef("m", 1)),
    ("models:/iris-classifier/2", VersionRef("iris-classifier", 2)),
    # the scheme is case-insensitive
    ("MODELS:/m/1", VersionRef("m", 1)),
    ("Models:/m@champion", AliasRef("m", "champion")),
    # an empty authority is accepted
    ("models:///m/1", VersionRef("m", 1)),
    ("models:///m@a", AliasRef("m", "a")),
    # spaces, dots, '#' and '%' are taken literally (no percent-decoding)
    ("models:/iris.baseline model/1", VersionRef("iris.baseline model", 1)),
    ("models:/a%20b/1", VersionRef("a%20b", 1)),
    ("models:/a#b/1", VersionRef("a#b", 1)),
    # latest in any case, as a suffix or as an alias
    ("models:/m/latest", LatestRef("m")),
    ("models:/m/LATEST", LatestRef("m")),
    ("models:/m/Latest", LatestRef("m")),
    ("models:/m@latest", LatestRef("m")),
    ("models:/m@LaTeSt", LatestRef("m")),
    # anything else after the name is a stage, validated later
    ("models:/m/Production", StageRef("m", "Production")),
    ("models:/m/staging", StageRef("m", "staging")),
    ("models:/m/bogus-stage", StageRef("m", "bogus-stage")),
    ("models:/m/v1", StageRef("m", "v1")),
    ("models:/m/ 1", StageRef("m", " 1")),
    ("models:/m/1 ", StageRef("m", "1 ")),
    # non-ASCII digits are not a version
    ("models:/m/²", StageRef("m", "²")),
    ("models:/m/١", StageRef("m", "١")),
    ("models:/m/1²", StageRef("m", "1²")),
    # '@' rules: split at the last '@' of a one-part path; '@' in a two-part name is part of it
    ("models:/m@champion", AliasRef("m", "champion")),
    ("models:/a@b@c", AliasRef("a@b", "c")),
    ("models:/a@b/1", VersionRef("a@b", 1)),
    ("models:/a@b/latest", LatestRef("a@b")),
    ("models:/m@v1", AliasRef("m", "v1")),
    ("models:/m@Champion", AliasRef("m", "Champion")),
    # one part without '@': a logged model id
    ("models:/m-0f627f604de5468f8ec0ee0ac3552d60", LoggedModelRef("m-0f627f604de5468f8ec0ee0ac3552d60")),
    ("models:/anything", LoggedModelRef("anything")),
    # trailing slashes are dropped, as MLflow drops them before resolving (issue 7.3.4)
    ("models:/m/1/", VersionRef("m", 1)),
    ("models:/m/1//", VersionRef("m", 1)),
    ("models:/m@champion/", AliasRef("m", "champion")),
    ("models:/m/latest/", LatestRef("m")),
    ("models:/m/Staging/", StageRef("m", "Staging")),
    ("models:/m-0f627f604de5468f8ec0ee0ac3552d60/", LoggedModelRef("m-0f627f604de5468f8ec0ee0ac3552d60")),
    ("models:/m/", LoggedModelRef("m")),  # as in MLflow: the id of a logged model, which "m" is not
    # a query is no part of the path; nor is a fragment after a name and a suffix, as MLflow reads them
    ("models:/m/1?x=y", VersionRef("m", 1)),
    ("models:/m/1?", VersionRef("m", 1)),
    ("models:/m@a?", AliasRef("m", "a")),
    ("models:/m@champion?x=1", AliasRef("m", "champion")),
    ("models:/m/latest?x", LatestRef("m")),
    ("models:/a?b/1", LoggedModelRef("a")),
    ("models:/m/1#frag", VersionRef("m", 1)),
    ("models:/m/1#", VersionRef("m", 1)),
    ("models:///m/1#x", VersionRef("m", 1)),
    ("models:/m/Staging#x?y", StageRef("m", "Staging")),
    ("models:/m@champion#x", AliasRef("m", "champion#x")),  # an invalid alias, as MLflow reads it
    ("models:/#m/1", VersionRef("#m", 1)),
])
def test_models_uri_forms(uri, expected):
    assert parse_models_uri(uri) == expected
    assert parse_uri(uri) == expected


@pytest.mark.parametrize("uri", [
    "models:/?m/1",           # '?' starts a query: no name left
    "models://host/m/1",      # a non-empty authority (Databricks profile form)
    "models://profile@x/m/1",
    "models:m/1",             # the path must start with '/'
    "models:",
    "models:/",
    "models://",
    "models:///",
    "models:/m/1/extra",      # more than two parts
    "models:/m/a/b/c",
    "models:/m/ ",            # whitespace suffix
    "models:/ /1",            # whitespace name
    "models://1",             # '1' is an authority, not a name
    "models:/m@",             # empty alias
    "models:/a@b@",
    "models:/@a",             # empty name
    "models:/ @a",
])
def test_models_uri_rejected(uri):
    with pytest.raises(InvalidInput) as info:
        parse_models_uri(uri)
    assert repr(uri) in info.value.message
    assert info.value.exit_code == 2
    with pytest.raises(InvalidInput):
        parse_uri(uri)


@pytest.mark.parametrize("uri, expected", [
    ("runs:/abc/model", RunRef("abc", "model")),
    ("RUNS:/abc/model", RunRef("abc", "model")),
    ("runs:///abc/model", RunRef("abc", "model")),
    ("runs:/abc", RunRef("abc", "")),
    ("runs:/abc/", RunRef("abc", "")),
    ("runs:/abc/a/b/c", RunRef("abc", "a/b/c")),
    ("runs:/ad43392a996b41dc9d2be361bb7b42a1/model", RunRef("ad43392a996b41dc9d2be361bb7b42a1", "model")),
    # normalized as MLflow's download reads the path; a query and a fragment are no part of it
    ("runs:/abc/a//b", RunRef("abc", "a/b")),
    ("runs:/abc//a/b", RunRef("abc", "a/b")),
    ("runs:/abc/./a", RunRef("abc", "a")),
    ("runs:/abc/a/../a", RunRef("abc", "a")),
    ("runs:/abc/a/.", RunRef("abc", "a")),
    ("runs:/abc/a/b/..", RunRef("abc", "a")),
    ("runs:/abc/.", RunRef("abc", "")),
    ("runs:/abc/model?x=1", RunRef("abc", "model")),
    ("runs:/abc/model#frag", RunRef("abc", "model")),
    ("runs:/abc/model?x#y/z", RunRef("abc", "model")),
    ("runs:/abc/a%2Fb", RunRef("abc", "a%2Fb")),  # no percent-decoding
])
def test_runs_uri_forms(uri, expected):
    assert parse_runs_uri(uri) == expected
    assert parse_uri(uri) == expected


@pytest.mark.parametrize("uri", [
    "runs:abc/model",       # no leading '/'
    "runs://x/y",           # authority
    "runs:/",               # no run id
    "runs://",
    "runs:/?x",
    "runs:/#x",
    "runs:/abc/..",           # leaves the run's artifacts
    "runs:/abc/../x",
    "runs:/abc/a/../../x",
    "runs:/abc/%2e%2e/meta.yaml",   # percent-encoded: a file: location joined with it is decoded
    "runs:/abc/%2E%2E/x",
    "runs:/abc/a/%2e%2e/%2e%2e/x",
    "runs:/abc/a%2F..%2F..%2Fx",
    "runs:/abc/..%2Fx",
])
def test_runs_uri_rejected(uri):
    with pytest.raises(InvalidInput) as info:
        parse_runs_uri(uri)
    assert repr(uri) in info.value.message
    with pytest.raises(InvalidInput):
        parse_uri(uri)


@pytest.mark.parametrize("uri", [
    "/srv/project/mlruns/1/abc/artifacts/model",
    "relative/dir",
    "model",
    "./model",
    "file:///srv/project/mlruns",
    "FILE:///srv/p%20q/mlruns",
    "file:relative",
    "C:/models/x",            # one letter before ':' is a Windows drive, not a scheme
    "rel/dir:with-colon",     # a '/' before the ':' makes it a path
])
def test_paths_and_file_uris_are_kept_verbatim(uri):
    assert parse_uri(uri) == PathRef(uri)


@pytest.mark.parametrize("uri, scheme", [
    ("s3://bucket/model", "s3"),
    ("http://example.com/m", "http"),
    ("dbfs:/x", "dbfs"),
    ("dir:with-colon", "dir"),
    ("mlflow-artifacts:/x", "mlflow-artifacts"),
])
def test_other_schemes_rejected(uri, scheme):
    with pytest.raises(InvalidInput) as info:
        parse_uri(uri)
    assert repr(scheme) in info.value.message and repr(uri) in info.value.message


def test_empty_uri_rejected():
    with pytest.raises(InvalidInput) as info:
        parse_uri("")
    assert "''" in info.value.message


@pytest.mark.parametrize("uri, scheme", [
    ("models:/m/1", "models"),
    ("MODELS:/m/1", "models"),
    ("Runs:/r/m", "runs"),
    ("file:///x", "file"),
    ("s3+x.y-z://b", "s3+x.y-z"),
    ("/abs/path", None),
    ("rel/path:x", None),     # '/' before ':' means it is a path
    ("C:/x", None),           # drive letter
    ("c:\\x", None),
    ("1abc:/x", None),        # a scheme starts with a letter
    ("ab c:/x", None),
    ("é:/x", None),
    ("plain", None),
    (":x", None),
])
def test_scheme_of(uri, scheme):
    assert scheme_of(uri) == scheme


def test_refs_are_frozen():
    ref = parse_uri("models:/m/1")
    with pytest.raises(AttributeError):
        ref.version = 2
