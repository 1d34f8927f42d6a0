"""Reading regctl's output: terminal tables at 80, 100 and 120 columns, TSV and CSV when
piped, empty listings, --store after the command, "did you mean", help examples, the delete
prompt and @ALIAS versions. Real stores, the real CLI, and a real pseudo-terminal."""

import csv
import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
from conftest import REPO, drain_pty, ok, snapshot
from conftest import regctl as run

MODEL = "iris-classifier"
LONG_TAG = "a fairly long tag value that will never fit next to everything else in 120 columns"


def one_error(result, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "" and result.stderr.startswith("regctl: ") and result.stderr.count("\n") == 1
    return result.stderr


def on_terminal(*args, columns=120, store=None, stdin_text=None, env=None):
    """Run regctl with stdout (and stdin) on a pseudo-terminal ``columns`` wide; return
    (exit status, what the terminal showed, stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR  # no \r added to the output
    attrs[3] &= ~termios.ECHO   # the answer typed is not shown back
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_", "NO_COLOR"))}
    full_env.update(TERM="xterm-256color", COLUMNS=str(columns), NO_COLOR="1", **(env or {}))
    command = [sys.executable, "-m", "regctl"] + (["--store", str(store)] if store else []) + list(args)
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=full_env)
    os.close(slave)
    if stdin_text is not None:
        os.write(master, stdin_text.encode())
    shown = drain_pty(master)
    status = process.wait(timeout=20)
    return status, shown.decode(), process.stderr.read().decode()


def width(line: str) -> int:
    from rich.cells import cell_len

    return cell_len(line)


@pytest.fixture
def busy(store3):
    """The MLflow 3 fixture store with a long tag and a third version, so that no terminal
    of 120 columns holds every column of ``versions`` in full."""
    ok(run("tag", MODEL, f"note={LONG_TAG}", "--version", "2", store=store3))
    ok(run("register", f"models:/{MODEL}/1", "--name", MODEL, "--alias", "candidate", store=store3))
    return store3


# ---------------------------------------------------------------- terminal tables

@pytest.mark.parametrize("columns", [80, 100, 120])
def test_terminal_tables_never_cut_or_wrap_an_identifier(busy, columns):
    views = json.loads(ok(run("versions", MODEL, "--json", store=busy)))
    status, shown, _ = on_terminal("versions", MODEL, columns=columns, store=busy)
    assert status == 0
    lines = shown.rstrip("\n").split("\n")
    assert all(width(line) <= columns for line in lines), (columns, shown)
    assert len(lines) == 1 + len(views)  # one line per version: nothing wrapped
    header = lines[0].split()
    assert header[:2] == ["VERSION", "STAGE"] and "RUN" in header
    for view, line in zip(views, lines[1:]):
        assert line.split()[:2] == [str(view["version"]), view["current_stage"]]
        assert view["run_id"] in line.split()  # whole, never split across lines
        for alias in view["aliases"]:
            assert alias in re.split(r"[ ,]+", line)
    if columns <= 100:
        assert "SOURCE" not in header  # left out whole rather than cut to a useless stub
    if "TAGS" in header:
        assert LONG_TAG not in shown and "\u2026" in shown  # shortened, visibly


def test_wide_shows_every_column_in_full(busy):
    views = json.loads(ok(run("versions", MODEL, "--json", store=busy)))
    status, shown, _ = on_terminal("versions", MODEL, "--wide", columns=80, store=busy)
    assert status == 0
    lines = shown.rstrip("\n").split("\n")
    assert lines[0].split() == ["VERSION", "STAGE", "ALIASES", "CREATED", "RUN", "ID", "SOURCE", "STATUS", "TAGS"]
    assert len(lines) == 1 + len(views) and "\u2026" not in shown
    for view, line in zip(views, lines[1:]):
        assert view["run_id"] in line and view["source"] in line
        assert all(f"{k}={v}" in line for k, v in view["tags"].items())
    assert max(width(line) for line in lines) > 80  # the terminal folds the line, regctl does not


@pytest.mark.parametrize("columns", [80, 120])
def test_models_table_keeps_names_whole(busy, columns):
    status, shown, _ = on_terminal("models", columns=columns, store=busy)
    assert status == 0
    lines = shown.rstrip("\n").split("\n")
    assert len(lines) == 3 and all(width(line) <= columns for line in lines)
    assert lines[1].startswith(f"{MODEL} ") and lines[2].startswith("iris.baseline model ")


def test_a_name_wider_than_the_terminal_is_not_cut():
    from rich.console import Console

    from regctl.cli import render

    name = "a-model-name-" + "x" * 100
    console = Console(file=io.StringIO(), width=80, color_system=None)
    render.print_table(console, [render.Col("NAME", "id", 100), render.Col("TAGS", "list", 40)],
                       [[name, ["k=v"]]], 80)
    text = console.file.getvalue()
    assert name in text.split("\n")[1]


def test_lists_are_shortened_after_a_whole_item():
    from regctl.cli import render

    assert render.fit(["champion", "challenger", "candidate"], 24) == "champion, challenger, \u2026"
    assert render.fit(["champion", "challenger"], 30) == "champion, challenger"
    assert render.fit("a long source uri", 8) == "a long \u2026"


# ---------------------------------------------------------------- piped output

def test_piped_tables_are_tsv_one_record_per_line(busy):
    ok(run("tag", MODEL, "odd=tab\there\nnewline \\ backslash", "--version", "1", store=busy))
    views = json.loads(ok(run("versions", MODEL, "--json", store=busy)))
    piped = ok(run("versions", MODEL, store=busy))
    assert piped == ok(run("versions", MODEL, "--format", "tsv", store=busy))
    lines = piped.split("\n")[:-1]
    assert len(lines) == len(views)  # no header, one record per line
    for view, line in zip(views, lines):
        fields = line.split("\t")
        assert len(fields) == 8
        assert fields[:2] == [str(view["version"]), view["current_stage"]]
        assert fields[4] == view["run_id"] and fields[5] == view["source"]
    first = lines[-1].split("\t")
    assert "odd=tab\\there\\nnewline \\\\ backslash" in first[7]
    # a name with a space is one field
    models = [line.split("\t") for line in ok(run("models", store=busy)).splitlines()]
    assert [m[0] for m in models] == [MODEL, "iris.baseline model"]
    assert {len(m) for m in models} == {6}


def test_tsv_works_with_cut_and_awk(busy):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    script = (f"{sys.executable} -m regctl --store {busy} versions {MODEL} | cut -f1,5; "
              f"{sys.executable} -m regctl --store {busy} models | awk -F'\\t' '{{print $1}}'")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    views = json.loads(ok(run("versions", MODEL, "--json", store=busy)))
    expected = [f"{v['version']}\t{v['run_id'] or ''}" for v in views] + [MODEL, "iris.baseline model"]
    assert result.stdout.splitlines() == expected, result.stderr


def test_csv_has_a_header_and_round_trips(busy):
    text = ok(run("versions", MODEL, "--format", "csv", store=busy))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["VERSION", "STAGE", "ALIASES", "CREATED", "RUN ID", "SOURCE", "STATUS", "TAGS"]
    views = json.loads(ok(run("versions", MODEL, "--json", store=busy)))
    assert [(r[0], r[5]) for r in rows[1:]] == [(str(v["version"]), v["source"]) for v in views]
    assert any(f"note={LONG_TAG}" in r[7] for r in rows[1:])


def test_format_json_is_json_and_conflicts_are_usage_errors(store3):
    for args in [("models",), ("versions", MODEL), ("alias", "list", MODEL), ("history",), ("describe", MODEL)]:
        assert ok(run(*args, "--format", "json", store=store3)) == ok(run(*args, "--json", store=store3)), args
    one_error(run("models", "--json", "--format", "csv", store=store3), 2)
    result = run("models", "--format", "xml", store=store3)
    assert result.returncode == 2 and result.stdout == ""


def test_describe_tsv_is_field_value_lines(store3):
    lines = ok(run("describe", MODEL, "--version", "2", store=store3)).split("\n")[:-1]
    pairs = dict(line.split("\t") for line in lines)
    assert pairs["version"] == "2" and pairs["stage"] == "Production"
    assert "\\n" in pairs["description"]  # the description is one escaped field


# ---------------------------------------------------------------- empty listings

def test_an_empty_listing_says_so_on_stderr_and_prints_nothing(tmp_path):
    store = tmp_path / "mlruns"
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "MLmodel").write_text("flavors: {}\n")
    ok(run("register", tmp_path / "model", "--name", "gone", store=store))
    ok(run("delete", "gone", "--yes", store=store))
    for fmt in ([], ["--format", "table"], ["--format", "tsv"], ["--format", "csv"]):
        result = run("models", *fmt, store=store)
        assert (result.returncode, result.stdout) == (0, ""), fmt
        assert result.stderr == f"no registered models in {store}\n"
    assert ok(run("models", "--json", store=store)) == "[]\n"
    status, shown, err = on_terminal("models", store=store)
    assert (status, shown, err) == (0, "", f"no registered models in {store}\n")
    result = run("history", "never-touched", store=store)
    assert result.stdout == "" and "no changes recorded" in result.stderr
    ok(run("register", tmp_path / "model", "--name", "bare", store=store))
    result = run("alias", "list", "bare", store=store)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "model bare has no aliases\n")


# ---------------------------------------------------------------- --store after the command

def test_store_is_accepted_after_the_command(store3, tmp_path):
    expected = ok(run("versions", MODEL, store=store3))
    assert ok(run("versions", MODEL, "--store", store3)) == expected
    assert ok(run("versions", f"--store={store3}", MODEL)) == expected
    assert ok(run("alias", "list", MODEL, "--store", store3)) == ok(run("alias", "list", MODEL, store=store3))
    # the one after the command wins, as a repeated option does
    assert ok(run("--store", tmp_path / "nowhere", "versions", MODEL, "--store", store3)) == expected
    # resolve answers on its fast path too, with the same bytes as the full CLI
    for args in [("resolve", f"models:/{MODEL}@champion", "--store", str(store3)),
                 ("resolve", "--json", f"--store={store3}", f"models:/{MODEL}/1"),
                 ("resolve", f"models:/{MODEL}@nope", "--store", str(store3))]:
        fast, full = run(*args), run("--traceback", *args)
        assert (fast.returncode, fast.stdout, fast.stderr) == (full.returncode, full.stdout, full.stderr), args
    assert ok(run("resolve", f"models:/{MODEL}@champion", "--store", store3)).endswith("/artifacts\n")


# ---------------------------------------------------------------- did you mean

def test_a_mistyped_command_gets_one_suggestion(store3):
    message = one_error(run("versoins", MODEL, store=store3), 2)
    assert message.count("Did you mean") == 1 and "'versions'" in message
    assert one_error(run("alias", "lst", store=store3), 2).count("Did you mean") == 1


def test_a_mistyped_model_or_alias_gets_the_closest_existing_name(store3):
    for args in [("versions", "iris-clasifier"), ("describe", "Iris-Classifier"), ("alias", "list", "iris-classifer"),
                 ("tag", "iris-clasifier", "k=v"), ("resolve", "models:/iris-clasifier/1"),
                 ("--traceback", "resolve", "models:/iris-clasifier/1")]:
        message = one_error(run(*args, store=store3), 1)
        assert message.endswith("not found; did you mean 'iris-classifier'?\n"), (args, message)
    for args in [("resolve", f"models:/{MODEL}@champio"), ("describe", MODEL, "--alias", "champio"),
                 ("describe", MODEL, "--version", "@champio"), ("alias", "delete", MODEL, "champio")]:
        message = one_error(run(*args, store=store3), 1)
        assert message.endswith("not found; did you mean 'champion'?\n"), (args, message)
    # nothing close: no suggestion
    assert "did you mean" not in one_error(run("versions", "zzz", store=store3), 1)


# ---------------------------------------------------------------- help

LEAF_COMMANDS = [("register",), ("models",), ("versions",), ("tag",), ("describe",), ("resolve",), ("stage",),
                 ("rename",), ("delete",), ("history",), ("doctor",), ("verify",), ("completion",), ("man",),
                 ("alias", "set"), ("alias", "delete"), ("alias", "list"), ("alias", "rollback")]


@pytest.mark.parametrize("command", LEAF_COMMANDS, ids=" ".join)
def test_every_help_ends_with_examples(command):
    text = ok(run(*command, "--help"))
    lines = text.rstrip("\n").split("\n")
    start = [line.strip() for line in lines].index("Examples:")
    examples = [line.strip() for line in lines[start + 1:]]
    assert 1 <= len(examples) <= 2 and all(e.startswith(("regctl ", "v=$(regctl", "p=$(regctl", "ls ", "source ")) for e in examples)
    assert all(" ".join(command) in e for e in examples), examples


def test_json_help_names_the_fields_it_prints():
    for command in (("history",), ("doctor",), ("verify",), ("resolve",), ("alias", "list")):
        text = ok(run(*command, "--help"))
        assert "MLflow's field names" not in text, command
    assert "MLflow has no journal" in " ".join(ok(run("history", "--help")).split())


def test_verify_json(store3, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "MLmodel").write_text("flavors: {}\n")
    ok(run("register", tmp_path / "m", "--name", "checked", store=store3))
    result = run("verify", "models:/checked/1", "--json", store=store3)
    data = json.loads(ok(result))
    assert set(data) == {"uri", "name", "version", "path", "digest", "files"}
    assert (data["name"], data["version"], data["files"]) == ("checked", 1, 1)
    assert ok(run("verify", "models:/checked/1", store=store3)) == f"{data['digest']}  {data['path']}\n"


# ---------------------------------------------------------------- delete

def test_delete_asks_on_a_terminal(store3):
    status, _, err = on_terminal("delete", MODEL, "--version", "1", store=store3, stdin_text="n\n")
    assert status == 2 and "Soft-delete version 1 of 'iris-classifier'" in err and "[y/N]" in err
    assert err.rstrip("\n").endswith("regctl: not deleted: not confirmed")
    assert [v["version"] for v in json.loads(ok(run("versions", MODEL, "--json", store=store3)))] == [2, 1]
    status, _, err = on_terminal("delete", MODEL, "--version", "@champion", store=store3, stdin_text="y\n")
    assert status == 0 and "its aliases champion will be removed" in err
    assert err.endswith("deleted version 2 of iris-classifier; removed aliases champion\n")
    status, _, err = on_terminal("delete", "iris.baseline model", store=store3, stdin_text="yes\n")
    assert status == 0 and "with its 1 version(s)" in err
    # --yes never asks
    status, _, err = on_terminal("delete", MODEL, "--yes", store=store3, stdin_text="")
    assert status == 0 and "[y/N]" not in err
    assert ok(run("models", "--json", store=store3)) == "[]\n"


def test_delete_without_a_terminal_refuses_without_asking(store3):
    message = one_error(run("delete", MODEL, store=store3, input="y\n"), 2)
    assert "without --yes" in message and "[y/N]" not in message
    assert len(json.loads(ok(run("versions", MODEL, "--json", store=store3)))) == 2


def test_gc_shows_its_plan_and_asks_on_a_terminal(store3):
    ok(run("alias", "delete", MODEL, "challenger", store=store3))
    before = snapshot(store3)
    status, _, err = on_terminal("gc", MODEL, "--keep", "0", "--delete-staged", store=store3, stdin_text="n\n")
    assert status == 2 and f"{MODEL}: would delete versions 1" in err and "Soft-delete 1 version(s) of 1 model(s)? [y/N]" in err
    assert err.rstrip("\n").endswith("regctl: nothing changed: not confirmed")
    assert snapshot(store3) == before
    status, _, err = on_terminal("gc", MODEL, "--keep", "0", "--delete-staged", store=store3, stdin_text="y\n")
    assert status == 0 and err.endswith(f"{MODEL}: deleted versions 1; kept 2 (alias champion)\n")
    # nothing left to delete: nothing to ask
    status, _, err = on_terminal("gc", MODEL, "--keep", "0", "--delete-staged", store=store3, stdin_text="")
    assert status == 0 and "[y/N]" not in err


def test_gc_and_push_proceed_with_yes_or_without_a_terminal(store3, tmp_path):
    ok(run("alias", "delete", MODEL, "challenger", store=store3))
    status, _, err = on_terminal("gc", MODEL, "--keep", "0", "--delete-staged", "--yes", store=store3, stdin_text="")
    assert status == 0 and "[y/N]" not in err and "deleted versions 1" in err
    result = run("push", MODEL, "--to", tmp_path / "target", store=store3, input="n\n")
    assert result.returncode == 0 and "[y/N]" not in result.stderr
    assert json.loads(ok(run("versions", MODEL, "--json", store=tmp_path / "target")))[0]["version"] == 2


def test_push_shows_its_plan_and_asks_on_a_terminal(store3, tmp_path):
    target = tmp_path / "target"
    status, _, err = on_terminal("push", MODEL, "--to", str(target), store=store3, stdin_text="no\n")
    assert status == 2 and f"{MODEL}: version 1 -> 1 (dry run)" in err
    assert f"{MODEL}: alias champion -> 2 (dry run)" in err and "Copy 2 version(s) and set 2 alias(es) in" in err
    assert err.rstrip("\n").endswith("regctl: nothing changed: not confirmed") and not target.exists()
    status, _, err = on_terminal("push", MODEL, "--to", str(target), store=store3, stdin_text="y\n")
    assert status == 0 and "pushed 1 model(s)" in err
    assert [v["version"] for v in json.loads(ok(run("versions", MODEL, "--json", store=target)))] == [2, 1]
    # a second push has nothing to copy: it does not ask
    status, _, err = on_terminal("push", MODEL, "--to", str(target), store=store3, stdin_text="")
    assert status == 0 and "[y/N]" not in err


def test_a_typo_is_reported_before_asking(store3):
    status, _, err = on_terminal("delete", "iris-clasifier", store=store3, stdin_text="y\n")
    assert status == 1 and "[y/N]" not in err and "did you mean 'iris-classifier'" in err


# ---------------------------------------------------------------- @ALIAS

def test_an_alias_is_accepted_wherever_a_version_is(store3):
    ok(run("tag", MODEL, "checked=yes", "--version", "@champion", store=store3))
    champion = json.loads(ok(run("describe", MODEL, "--version", "@champion", "--json", store=store3)))
    assert champion["version"] == 2 and champion["tags"]["checked"] == "yes"
    ok(run("tag", MODEL, "--delete", "checked", "--version", "@champion", store=store3))
    ok(run("describe", MODEL, "--version", "@challenger", "--set", "the challenger", store=store3))
    assert json.loads(ok(run("describe", MODEL, "--version", "1", "--json", store=store3)))["description"] == \
        "the challenger"
    result = run("stage", MODEL, "@challenger", "Archived", store=store3)
    assert ok(result) == "" and result.stderr == "version 1: Staging -> Archived\n"
    result = run("alias", "set", MODEL, "backup", "@champion", store=store3)
    assert result.stderr == "backup: (none) -> 2\n"
    result = run("delete", MODEL, "--version", "@backup", "--yes", store=store3)
    assert result.stderr == "deleted version 2 of iris-classifier; removed aliases backup, champion\n"
    for args in [("tag", MODEL, "k=v", "--version", "@nope"), ("stage", MODEL, "@nope", "Staging"),
                 ("alias", "set", MODEL, "x", "@nope"), ("delete", MODEL, "--version", "@nope", "--yes")]:
        assert "alias 'nope' of model 'iris-classifier' not found" in one_error(run(*args, store=store3), 1)
    one_error(run("stage", MODEL, "@", "Staging", store=store3), 2)


def test_an_error_line_shows_terminal_escapes_never_obeys_them(tmp_path):
    """A path (or a server's message) with an escape sequence: the error line shows it escaped,
    as tables and confirmations do, through the CLI and the resolve fast path."""
    import shutil

    shutil.copytree(REPO / "examples" / "mlruns", tmp_path / "mlruns")
    hostile = f"{tmp_path}/\x1b]0;PWNED\x07\x1b[2K\r\u202eevil"
    for args in (["resolve", hostile], ["--traceback", "resolve", hostile], ["describe", "\x1b[31mred"]):
        result = run(*args, store=tmp_path / "mlruns", process=True)
        assert result.returncode in (1, 2, 4) and result.stderr.count("\n") == 1, result.stderr
        assert not any(c in result.stderr for c in "\x1b\x07\r\u202e"), result.stderr
        assert "\\x1b" in result.stderr


def test_a_deleted_version_reads_deleted_in_tables_and_keeps_mlflows_value_in_json(store3):
    from conftest import ok, regctl

    table = ok(regctl("versions", "iris-classifier", "--all", "--format", "table", store=store3))
    piped = ok(regctl("versions", "iris-classifier", "--all", store=store3))
    assert "Deleted_Internal" not in table + piped
    assert piped.splitlines()[0].split("\t")[:2] == ["3", "deleted"]
    as_json = ok(regctl("versions", "iris-classifier", "--all", "--json", store=store3))
    assert '"Deleted_Internal"' in as_json
