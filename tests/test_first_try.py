"""Output a person reads on a first try: deleted versions, describe on a narrow terminal."""

import json

from conftest import ok, regctl
from test_output import on_terminal, width

MODEL = "iris-classifier"


def test_deleted_versions_read_deleted_in_tables_and_keep_mlflows_value_in_json(store3):
    ok(regctl("--store", str(store3), "delete", MODEL, "--version", "1", "--yes"))
    status, shown, _ = on_terminal("versions", MODEL, "--all", store=store3)
    assert status == 0
    assert "Deleted_Internal" not in shown and "deleted" in shown
    tsv = ok(regctl("--store", str(store3), "versions", MODEL, "--all"))
    assert "Deleted_Internal" not in tsv and "\tdeleted\t" in tsv
    views = json.loads(ok(regctl("--store", str(store3), "versions", MODEL, "--all", "--json")))
    assert "Deleted_Internal" in [v["current_stage"] for v in views]


def test_describe_fits_a_narrow_terminal_and_shows_every_value_whole(store3):
    status, shown, err = on_terminal("describe", MODEL, "--version", "1", columns=40, store=store3)
    assert status == 0, err
    lines = shown.splitlines()
    assert lines and max(width(line) for line in lines) <= 40
    source = json.loads(ok(regctl("--store", str(store3), "describe", MODEL, "--version", "1", "--json")))["source"]
    assert source in "".join(shown.split())  # folded onto several lines, never cut
