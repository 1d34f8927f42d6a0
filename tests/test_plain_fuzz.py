"""Random command lines answer alike through the plain parser and the Typer app.

Hypothesis draws argument lists from a token alphabet (every command, every option of every
command, the global options, ``--``, ``-``, ``=`` forms, values that look like options, numbers
in every spelling, choices in another case, names, versions, tags, unicode) and runs each
through ``regctl.cli.main`` twice, each time on a fresh copy of the same fixture store in a
working directory of its own: once as users run it (resolve's fast path, then the plain
parser, then the Typer app) and once with both parsers before the Typer app switched off.
Exit code, stdout and stderr must be the same; for the command lines the plain parser takes,
so must the store afterwards.

Every relative path (``push --to``, ``download`` DEST, ``--store``) lands in the example's
own working directory; no token names an absolute path outside it or a server (a push to a
URL would wait on the network).
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import FixtureStore, model_source, regctl
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from test_plain import _normalized, _typer_only

from regctl.cli import plain

NAME = "iris-classifier"
FIXTURES = ["mlflow3-store", "mlflow3-db"]

COMMAND_WORDS = [key.split() for key in plain.COMMANDS]
OPTIONS = sorted({name for spec in plain.COMMANDS.values() for name in spec["options"]})
GLOBALS = ["--store", "--store={store}", "--store=", "--store=nope", "--traceback", "--version", "-h", "--help"]
NAMES = [NAME, "iris-clasifier", "IRIS-CLASSIFIER", "renamed", "bad%name", "a/b", "ñame", "模型"]
VERSIONS = ["1", "2", "3", "@champion", "@challenger", "@nope", "none", "latest", "0", "01"]
ALIASES = ["champion", "challenger", "fresh", "bad alias", "Champion"]
TAGS = ["a=b", "k=", "=v", "task=x", "novalue", "owner/team=x", "é=ü", "a=b=c"]
TAG_KEYS = ["task", "notes", "owner/team", "missing", "a"]
URIS = [f"models:/{NAME}/1", f"models:/{NAME}/2", f"models:/{NAME}@champion", f"models:/{NAME}/Production",
        f"models:/{NAME}/latest", "models:/nope/1", "models:/", "not-a-uri"]
STAGES = ["Staging", "production", "None", "archived", "bogus"]
INTS = ["0", "1", "2", "05", "007", "+1", "-1", " 1", "1 ", "1_0", "١", "²", "64", "65", "99999999999999999999",
        "9" * 4400]
CHOICES = ["json", "JSON", "Json", "csv", "tsv", "table", "yaml", "bash", "BASH", "zsh", "fish", "tcsh"]
TEXTS = ["", " ", "new text", "line\nline", "\u200b", "--", "-", "="]
FILTERS = [f"name = '{NAME}'", "tags.task = 'classification'", "name =", "version_number > 1"]
ORDERS = ["name", "version_number DESC", "bogus"]
PATHS = ["{source}", "{store}", "dl", "pushed", "desc.txt", "nope"]
LOOKALIKES = ["--json", "--name", "-x", "-j", "-j5", "-j=5", "-j=", "--tag=a=b", "--name=", "--limit=1",
              "--limit=0", "--json=1", "--json=", "--version=@champion", "--no-json", "--jsonx", "---json",
              "-h=1", "--store=--json", "--keep=1", "--to=pushed", "alias set", "alias list", "models ", " models",
              "Models", "--Json"]
ALPHABET = sorted({*(word for words in COMMAND_WORDS for word in words), *OPTIONS, *GLOBALS, "--", "-", "=",
                   *NAMES, *VERSIONS, *ALIASES, *TAGS, *URIS, *STAGES, *INTS, *CHOICES, *TEXTS, *FILTERS,
                   *ORDERS, *PATHS, *LOOKALIKES})

# the values each argument or option takes, by its parameter's name
POOLS = {"name": NAMES, "old": NAMES, "new": NAMES, "names": NAMES, "alias": ALIASES, "version": VERSIONS,
         "expect": VERSIONS, "stage": STAGES, "uri": URIS, "a": URIS, "b": URIS, "source": ["{source}", *URIS],
         "dest": ["dl", "{source}"], "shell": CHOICES, "filter": FILTERS, "assignments": TAGS, "tag": TAGS,
         "delete": TAG_KEYS, "description": TEXTS, "set_text": TEXTS, "set_file": ["-", "desc.txt", "{source}"],
         "order_by": ORDERS, "max_results": INTS, "limit": INTS, "keep": INTS, "jobs": INTS,
         "to": ["pushed", "{store}", ""], "format": CHOICES}


@st.composite
def loose_argv(draw):
    """Any tokens, usually after a command's words, with that command's options and values likelier."""
    words = draw(st.sampled_from(COMMAND_WORDS + [[]]))
    spec = plain.COMMANDS.get(" ".join(words), {"options": {}, "arguments": []})
    likely = [*spec["options"], *(v for p, *_ in spec["arguments"] for v in POOLS.get(p, ()))] or ALPHABET
    token = st.one_of(st.sampled_from(likely), st.sampled_from(ALPHABET))
    before = draw(st.lists(st.sampled_from(GLOBALS + ["{store}"]), max_size=2))
    return before + words + draw(st.lists(token, max_size=7))


@st.composite
def wellformed_argv(draw, noise=True):
    """A command with its arguments and some of its options, in any order: mostly what the plain parser
    takes; with ``noise``, now and then a value or a token from the whole alphabet instead."""
    key = draw(st.sampled_from(sorted(plain.COMMANDS)))
    spec = plain.COMMANDS[key]
    odd = st.sampled_from(ALPHABET) if noise else st.nothing()

    def value_of(parameter):
        pool = st.sampled_from(POOLS.get(parameter, TEXTS))
        return draw(st.one_of(pool, pool, pool, odd) if noise else pool)

    positionals = []
    for parameter, _kind, required, nargs in spec["arguments"]:
        count = draw(st.integers(0, 2)) if nargs == -1 else 1 if required else draw(st.integers(0, 1))
        positionals += [value_of(parameter) for _ in range(count)]
    tokens: list = [None] * len(positionals)  # a positional's place; they are filled in their order
    chosen = draw(st.lists(st.sampled_from(sorted(spec["options"])), max_size=4)) if spec["options"] else []
    chosen += [option for option, (*_, required) in spec["options"].items() if required]
    for option in chosen:
        parameter, kind, _multiple, _required = spec["options"][option]
        if kind == "flag":
            tokens.append([option])
        elif draw(st.booleans()):
            tokens.append([f"{option}={value_of(parameter)}"])
        else:
            tokens.append([option, value_of(parameter)])
    if draw(st.booleans()):
        tokens.append(["--store", "{store}"])
    tokens += [[draw(odd)] for _ in range(draw(st.integers(0, 1)))] if noise else []
    queue, flat = list(positionals), []
    for token in draw(st.permutations(tokens)):
        flat += [queue.pop(0)] if token is None else token
    words = [key] if noise and " " in key and draw(st.integers(0, 4)) == 0 else key.split()
    before = draw(st.lists(st.sampled_from(["--traceback", "--store={store}", "--store=nope"]), max_size=1))
    return before + words + flat


def _run(argv, fixture, base: Path, leg: str, after=(), env=None):
    """``argv`` on a fresh copy of ``fixture`` under ``base/leg``, working there; (code, out, err) of each step."""
    root = base / leg
    store = FixtureStore(fixture, root)
    source = model_source(root / "src")
    args = [a.replace("{store}", str(store.store)).replace("{source}", str(source)) for a in argv]
    variables = {k: v.replace("{store}", str(store.store)) for k, v in (env or {}).items()}
    with pytest.MonkeyPatch.context() as patch:
        if leg == "typer":
            _typer_only(patch)
        steps = [regctl(*args, cwd=root, env=variables)]
    steps += [regctl(*a, store=store.store, cwd=root) for a in after]  # read back the same way in both legs
    return [(s.returncode, _normalized(s.stdout, (root,)), _normalized(s.stderr, (root,))) for s in steps]


def compare(argv, fixture="mlflow3-store", after=(), env=None):
    """Both legs' answers to ``argv``: (plain leg, Typer leg)."""
    base = Path(tempfile.mkdtemp(prefix="fz"))
    try:
        return _run(argv, fixture, base, "plain", after, env), _run(argv, fixture, base, "typer", after, env)
    finally:
        shutil.rmtree(base, ignore_errors=True)


AFTER = [["models", "--json"], ["versions", NAME, "--all", "--json"], ["alias", "list", NAME, "--json"]]
# derandomized: CI runs the same command lines every time (raise max_examples, or drop derandomize,
# to explore further by hand)
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


@FUZZ
@given(argv=st.one_of(loose_argv(), wellformed_argv(), wellformed_argv()), fixture=st.sampled_from(FIXTURES),
       stored=st.booleans())
def test_any_command_line_answers_alike_through_both_parsers(argv, fixture, stored):
    argv = (["--store", "{store}"] if stored else []) + argv
    event("read by the plain parser" if plain.parse([a.replace("{store}", "/s") for a in argv]) else "left to Click")
    plain_leg, typer_leg = compare(argv, fixture)
    assert plain_leg == typer_leg, argv


@settings(FUZZ, max_examples=45)
@given(argv=wellformed_argv(noise=False), fixture=st.sampled_from(FIXTURES))
def test_a_command_line_the_plain_parser_takes_changes_the_store_alike(argv, fixture):
    assume(plain.parse([a.replace("{store}", "/s").replace("{source}", "/src") for a in argv]) is not None)
    plain_leg, typer_leg = compare(argv, fixture, after=AFTER)
    assert plain_leg == typer_leg, argv


# the environment, not the command line, once made the paths without Click answer otherwise
SHADOWED = {"REGCTL_STORE": "{store}", "MLFLOW_TRACKING_URI": "sqlite:///other.db"}
CLICK_COMPLETION = {"_REGCTL_COMPLETE": "bash_complete", "COMP_WORDS": "regctl mo", "COMP_CWORD": "1"}


@pytest.mark.parametrize("env", [SHADOWED, CLICK_COMPLETION], ids=["REGCTL_STORE shadows", "_REGCTL_COMPLETE"])
@pytest.mark.parametrize("argv", [["resolve", f"models:/{NAME}@champion"], ["resolve", f"models:/{NAME}/1", "--json"],
                                  ["versions", NAME], ["models"], ["--version"]], ids=" ".join)
def test_the_environment_is_read_alike_by_every_path(argv, env):
    plain_leg, typer_leg = compare(argv, env=env)
    assert plain_leg == typer_leg
