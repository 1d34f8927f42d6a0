"""``yamlfile.dumps_flat`` writes exactly what PyYAML writes, or leaves it to PyYAML."""

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from regctl.core import yamlfile

TRICKY = st.text(alphabet="aZ09 -_./:@+#'\"\\{}[],&*!|>%`~?=\n\té", max_size=12)
WORDS = st.sampled_from(["", "3", "007", "08", "-1", "None", "null", "Null", "yes", "Yes", "y", "n", "on", "OFF", "true",
                         "1e3", "1.5", ".inf", "2026-01-01", "0x1f", "12:30", "a:b", "a: b", "/tmp/x", "file:///tmp/x",
                         "READY", "0a1b2c3d", "m-0123abcd", "x" * 70])
SCALARS = st.one_of(st.none(), st.integers(), st.booleans(), TRICKY, WORDS)
KEYS = st.one_of(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), WORDS, TRICKY)
MAPPINGS = st.dictionaries(KEYS, st.one_of(SCALARS, st.dictionaries(KEYS, SCALARS, max_size=3)), max_size=8)
# the shapes of a store's meta files: plain keys, simple values (most written without PyYAML)
NAMES = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
SIMPLE = st.one_of(st.none(), st.integers(), WORDS, st.from_regex(r"[A-Za-z/][A-Za-z0-9_./:@+-]{0,20}", fullmatch=True))
META = st.dictionaries(NAMES, st.one_of(SIMPLE, st.dictionaries(NAMES, SIMPLE, max_size=3)), min_size=1, max_size=8)


def pyyaml(data) -> str:
    return yaml.safe_dump(data, default_flow_style=False, allow_unicode=True, sort_keys=True)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(MAPPINGS, META))
def test_what_it_writes_is_what_pyyaml_writes(data):
    text = yamlfile.dumps_flat(data)
    if text is not None:
        assert text == pyyaml(data)
        assert yamlfile.loads(text) == data


def test_a_store_s_meta_files_are_written_without_pyyaml():
    version = {"creation_timestamp": 1796576279859, "current_stage": "None", "description": "",
               "last_updated_timestamp": 1796576279859, "name": "fraud-detector", "run_id": "0a1b2c3d4e5f6789",
               "run_link": "", "source": "file:///srv/project/mlruns/1/models/m-0123/artifacts", "status": "READY",
               "status_message": None, "storage_location": "/srv/project/model", "user_id": None, "version": 3,
               "workspace": "default", "model_id": None}
    model = {"aliases": {"champion": "3", "challenger": "2"}, "creation_timestamp": 1, "description": None,
             "last_updated_timestamp": 2, "name": "fraud-detector", "deployment_job_id": None}
    for data in (version, model, dict(model, aliases={})):
        assert yamlfile.dumps_flat(data) == pyyaml(data)
