"""The plain command line (regctl.cli.plain) answers exactly as the Typer app does.

Most calls are read without Typer or Click, from ``regctl/cli/parameters.py``. These tests
run the same command lines through both (the Typer leg with the plain parser and the
resolve fast path switched off) on copies of the same store and compare exit code, stdout,
stderr and what the store holds afterwards; they check which forms the plain parser takes
and which it leaves to Click; and that a listing or a write loads no Typer, Click or Rich.
"""

import inspect
import json
import re
import subprocess
import sys

import pytest
from conftest import FixtureStore, model_source, regctl

from regctl.cli import fastpath, plain

NAME = "iris-classifier"

READS = [
    ["models"], ["models", "--json"], ["models", "--format", "csv"], ["models", "--format=json"],
    ["models", "--wide"], ["models", "--json", "--format", "csv"],
    ["versions", NAME], ["versions", NAME, "--all", "--limit", "1"], ["versions", NAME, "--limit=2", "--format", "csv"],
    ["versions", NAME, "--json"], ["versions", "iris-clasifier"], ["versions", "bad%name"],
    ["versions", NAME, "--limit", "1", "--limit", "2"], ["versions", "--all", NAME],
    ["alias", "list", NAME], ["alias", "list", NAME, "--json"], ["alias", "list", "nope"],
    ["describe", NAME], ["describe", NAME, "--version", "1"], ["describe", NAME, "--alias", "champion", "--json"],
    ["describe", NAME, "--version", "1", "--alias", "champion"], ["describe", NAME, "--version", "@champion"],
    ["resolve", f"models:/{NAME}@champion", "--verify"], ["resolve", f"models:/{NAME}/1", "--json"],
    ["resolve", f"models:/{NAME}@nope"],
    ["history"], ["history", NAME, "--json"],
    ["search"], ["search", f"name = '{NAME}'", "--max-results", "1", "--order-by", "version_number ASC"],
    ["search", "--models", "--json"], ["search", "name = "], ["search", "--order-by", "name", "--order-by", "version_number DESC"],
    ["verify", f"models:/{NAME}/1"], ["verify", f"models:/{NAME}/1", "--json"],
    ["diff", f"models:/{NAME}/1", f"models:/{NAME}/2"], ["diff", f"models:/{NAME}/2", f"models:/{NAME}@champion", "--json"],
    ["store", "--json"], ["doctor", "--json"], ["completion", "bash"], ["man"],
]

WRITES = [
    ["alias", "set", NAME, "champion", "1"], ["alias", "set", NAME, "champion", "1", "--dry-run", "--json"],
    ["alias", "set", NAME, "champion", "1", "--expect", "3"], ["alias", "set", NAME, "new", "@champion", "--expect=none"],
    ["alias", "set", NAME, "bad alias", "1"], ["alias", "delete", NAME, "challenger", "--json"],
    ["alias", "rollback", NAME, "champion"],
    ["tag", NAME, "a=b", "c=d"], ["tag", NAME, "--delete", "task", "--json"], ["tag", NAME],
    ["tag", NAME, "a=b", "--version", "1", "--json"], ["tag", NAME, "a=b", "--delete", "task"], ["tag", NAME, "novalue"],
    ["describe", NAME, "--set", "new text"], ["describe", NAME, "--version", "2", "--set", "v2", "--json"],
    ["register", "{source}", "--name", NAME, "--tag", "t=1", "--tag", "u=2", "--alias", "fresh"],
    ["register", "{source}", "--name", "brand-new", "--dry-run", "--json"], ["register", "{source}", "--name", "a/b"],
    ["stage", NAME, "1", "staging", "--archive-existing"], ["rename", NAME, "renamed", "--json"],
    ["delete", NAME, "--version", "1", "--yes"], ["delete", NAME], ["gc", NAME, "--keep", "1", "--yes", "--json"],
    ["gc", "--keep", "1"],
]

# what each leg's store holds afterwards, read back through the CLI
AFTER = [["models", "--json"], ["versions", NAME, "--all", "--json"], ["alias", "list", NAME, "--json"],
         ["describe", NAME, "--json"], ["history", "--json"]]


def _normalized(text: str, roots) -> str:
    for root in roots:
        text = text.replace(str(root), "<base>")
    text = re.sub(r"\b\d{13}\b", "<ms>", text)  # times
    text = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?", "<time>", text)
    return re.sub(r"\b(m-)?[0-9a-f]{32}\b", "<id>", text)


def _typer_only(monkeypatch):
    """Switch off the two parsers that run before the Typer app."""
    monkeypatch.setattr(plain, "parse", lambda argv: None)
    monkeypatch.setattr(fastpath, "parse", lambda argv: None)


def _both(fixture, tmp_path, monkeypatch, argv, after=(), plain_reads=True):
    """Run ``argv`` through the plain parser (which must read it, unless not ``plain_reads``) and through
    the Typer app, each on its own copy."""
    results = []
    for leg in ("plain", "typer"):
        store = FixtureStore(fixture, tmp_path / leg)
        source = model_source(tmp_path / leg / "src")
        args = [a.replace("{source}", str(source)) for a in argv]
        if leg == "plain":
            assert (plain.parse(["--store", str(store)] + args) is not None) == plain_reads, args
        else:
            _typer_only(monkeypatch)
        steps = [regctl(*args, store=store.store)] + [regctl(*a, store=store.store) for a in after]
        monkeypatch.undo()
        roots = (tmp_path / leg, store.store)
        results.append([(s.returncode, _normalized(s.stdout, roots), _normalized(s.stderr, roots)) for s in steps])
    return results


@pytest.mark.parametrize("fixture", ["mlflow3-store", "mlflow3-db"], ids=["file", "sqlite"])
@pytest.mark.parametrize("argv", READS, ids=" ".join)
def test_a_read_answers_alike_through_the_plain_parser_and_typer(fixture, argv, tmp_path, monkeypatch):
    plain_leg, typer_leg = _both(fixture, tmp_path, monkeypatch, argv)
    assert plain_leg == typer_leg


@pytest.mark.parametrize("fixture", ["mlflow3-store", "mlflow3-db"], ids=["file", "sqlite"])
@pytest.mark.parametrize("argv", WRITES, ids=" ".join)
def test_a_write_answers_and_changes_alike_through_the_plain_parser_and_typer(fixture, argv, tmp_path, monkeypatch):
    plain_leg, typer_leg = _both(fixture, tmp_path, monkeypatch, argv, after=AFTER)
    assert plain_leg == typer_leg


@pytest.mark.parametrize("argv, store", [
    (["--store", "a", "versions", NAME], "a"),
    (["versions", NAME, "--store", "b"], "b"),
    (["--store", "a", "versions", NAME, "--store=b"], "b"),
    (["--store", "a", "--store", "c", "versions", NAME], "c"),
    (["alias", "--store", "a", "set", NAME, "x", "1"], "a"),
    (["--store", "r", "alias", "--store", "a", "set", "--store", "b", NAME, "x", "1"], "b"),
    (["--store=", "models"], ""),
    (["models"], None),
])
def test_the_store_given_last_at_the_deepest_level_counts_as_in_click(argv, store):
    assert plain.parse(argv).store == store


def test_the_plain_parser_reads_values_as_click_converts_them():
    call = plain.parse(["--traceback", "versions", "-", "--limit", "05", "--all"])
    assert (call.action, call.arguments, call.traceback) == ("reading.versions", {"name": "-", "limit": 5, "all": True}, True)
    call = plain.parse(["register", "src", "--name", "", "--tag", "a=1", "--tag=b=2", "--alias", "x"])
    assert call.arguments == {"source": "src", "name": "", "tag": ["a=1", "b=2"], "alias": ["x"]}
    call = plain.parse(["tag", NAME, "a=1", "b=2", "--version", "3"])
    assert call.arguments == {"name": NAME, "assignments": ["a=1", "b=2"], "version": "3"}
    assert plain.parse(["push", "--to", "t", "-j", "64"]).arguments == {"to": "t", "jobs": 64}
    assert plain.parse(["describe", NAME, "--set-file", "-"]).arguments == {"name": NAME, "set_file": "-"}


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["-h"], ["--version"], ["versions"], ["versions", "-h"], ["versions", NAME, "--help"],
    ["versions", NAME, "extra"], ["versions", NAME, "--bogus"], ["versions", NAME, "--json=1"],
    ["versions", NAME, "--limit", "0"], ["versions", NAME, "--limit", "x"], ["versions", NAME, "--limit", "+3"],
    ["versions", NAME, "--limit"], ["versions", NAME, "--format", "yaml"], ["versions", NAME, "--format", "JSON"],
    ["versions", "--", NAME], ["versions", NAME, "--traceback"], ["nosuch"], ["alias"], ["alias", "nosuch", NAME],
    ["register", "src"], ["register", "src", "--name", "--json"], ["gc", NAME], ["gc", NAME, "--keep", "-1"],
    ["push", "--to", "t", "--jobs", "65"], ["completion", "tcsh"], ["--store"], ["--store", "--json", "models"],
    ["describe", NAME, "--set", "-x"], ["tag", NAME, "--delete"], ["resolve"], ["versions", NAME, "-j", "1"],
    ["alias set", NAME, "x", "1"], ["alias", "set " + NAME, "x", "1"], ["push", "--to", "t", "-j=5"],
    ["push", "--to", "t", "-j5"], ["versions", NAME, "--limit", "9" * 4400],
])
def test_what_the_plain_parser_leaves_to_click(argv):
    assert plain.parse(argv) is None


# command lines the plain parser once read otherwise than Click does; now it leaves them to Click
CLICKS_OWN = [
    ["alias set", NAME, "x", "1"],  # one word holding a space is no command to Click
    ["alias list", NAME],
    ["push", "--to", "{source}/pushed", "-j=5"],  # Click reads -j=5 as -j with the value '=5'
    ["versions", NAME, "--limit", "9" * 4400],  # more digits than int() converts: Click's usage error, no crash
]


@pytest.mark.parametrize("argv", CLICKS_OWN, ids=lambda argv: " ".join(argv)[:40])
def test_a_form_click_reads_its_own_way_answers_as_click_does(argv, tmp_path, monkeypatch):
    plain_leg, typer_leg = _both("mlflow3-store", tmp_path, monkeypatch, argv, plain_reads=False)
    assert plain_leg == typer_leg
    assert plain_leg[0][0] == 2


@pytest.mark.parametrize("argv", [["versions", "--limit", "0", NAME], ["versions", NAME, "--format", "yaml"],
                                  ["register", "src"], ["nosuch"], ["versions", NAME, "extra"]])
def test_a_mistake_on_the_command_line_still_gets_clicks_one_line(argv, store3):
    done = regctl(*argv, store=store3)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("regctl: ") and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_every_command_has_an_action_with_the_typer_callbacks_parameters():
    """The generated table names each command's action; the action takes what the Typer callback takes."""
    import typer

    from regctl.cli.actions import reading, writing
    from regctl.cli.app import app

    modules = {"reading": reading, "writing": writing}
    root = typer.main.get_command(app)
    callbacks = {}
    stack = [((), root)]
    while stack:
        path, command = stack.pop()
        for name, sub in getattr(command, "commands", {}).items():
            stack.append((path + (name,), sub))
        if not hasattr(command, "commands"):
            callbacks[" ".join(path)] = getattr(command.callback, "__wrapped__", command.callback)
    assert sorted(callbacks) == sorted(plain.COMMANDS)
    for key, spec in plain.COMMANDS.items():
        module, _, function = spec["action"].partition(".")
        action = getattr(modules[module], function)
        declared = inspect.signature(callbacks[key]).parameters
        done = inspect.signature(action).parameters
        assert list(done) == list(declared), key
        assert [p.default for p in done.values()] == [p.default for p in declared.values()], key


@pytest.mark.parametrize("fixture", ["mlflow3-store", "mlflow3-db"], ids=["file", "sqlite"])
@pytest.mark.parametrize("argv", [["versions", NAME], ["models"], ["search"], ["alias", "list", NAME],
                                  ["describe", NAME], ["alias", "set", NAME, "champion", "1"],
                                  ["tag", NAME, "a=b"], ["register", "{source}", "--name", NAME]])
def test_listings_and_writes_load_no_cli_framework(fixture, argv, tmp_path):
    """Commands that scripts call in loops pay for no Typer, Click or Rich when piped."""
    store = FixtureStore(fixture, tmp_path)
    source = model_source(tmp_path / "src")
    probe = ("import sys\nfrom regctl.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
             "    code = e.code\nprint(json.dumps([code, sorted(m for m in ('typer', 'click', 'rich') if m in sys.modules)]),"
             " file=sys.stderr)")
    args = [a.replace("{source}", str(source)) for a in argv]
    done = subprocess.run([sys.executable, "-c", "import json\n" + probe, "--store", str(store.store), *args],
                          capture_output=True, text=True)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == [0, []], done.stderr
