"""Generated docs match the CLI, and the README's commands really work."""

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, regctl, snapshot

EXAMPLES = REPO / "examples" / "mlruns"


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = load_generator()
TREE = gen.command_tree()
LEAVES = [c for c in TREE if not c.subcommands]


def readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def shell_lines(section: str) -> list:
    """The command lines of the ```sh blocks of a README section."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines += [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]
    return lines


# ------------------------------------------------------------------ generated files

def test_generated_files_are_current():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_docs.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_check_names_a_stale_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    for name, text in gen.outputs().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert gen.main(["--check"]) == 0
    (tmp_path / "completions" / "regctl.fish").write_text("# edited by hand\n")
    (tmp_path / "man" / "regctl.1").unlink()
    assert gen.main(["--check"]) == 1
    stale = capsys.readouterr().err
    assert "completions/regctl.fish" in stale and "man/regctl.1" in stale
    assert "docs/cli.md" not in stale


def test_every_command_argument_and_option_has_help():
    assert [c.name for c in TREE if not c.help] == []
    missing = [f"{c.name} {p.names[0]}" for c in TREE for p in c.arguments + c.options if not p.help.strip()]
    assert missing == []


def test_reference_and_man_page_cover_every_command_and_option():
    reference = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    man = (REPO / "man" / "regctl.1").read_text(encoding="utf-8")
    for cmd in TREE:
        assert f"## {cmd.name}\n" in reference
        assert f"```\n{cmd.usage}\n```" in reference
        if not cmd.subcommands:
            assert f".SS {gen.roff(cmd.usage)}\n" in man
        for option in cmd.options:
            for name in option.names:
                assert f"`{name}" in reference or f", {name}" in reference, (cmd.name, name)
                assert gen.roff(name) in man, (cmd.name, name)


def test_man_page_lists_environment_exit_status_and_sections():
    man = (REPO / "man" / "regctl.1").read_text(encoding="utf-8")
    sections = re.findall(r"^\.SH (.+)$", man, re.M)
    assert sections == ["NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS", "COMMANDS",
                        "ENVIRONMENT", "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"]
    for variable in ("REGCTL_STORE", "MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_URI",
                     "REGCTL_LOCK_TIMEOUT", "REGCTL_TRACEBACK", "NO_COLOR"):
        assert f".B {variable}\n" in man
    assert re.findall(r"^\.B (\d)$", man, re.M) == ["0", "1", "2", "3", "4", "5", "6", "7", "8"]
    assert re.search(r'^\.TH REGCTL 1 20\d\d-\d\d-\d\d "regctl 0\.1\.0" "User Commands"$', man, re.M)
    for cmd in LEAVES:  # each command's examples, as its --help ends with them
        assert cmd.examples and all(gen.roff(e) in man for e in cmd.examples), cmd.name


@pytest.mark.skipif(shutil.which("mandoc") is None, reason="mandoc is not installed")
def test_man_page_is_mandoc_lint_clean():
    result = subprocess.run(["mandoc", "-Tlint", str(REPO / "man" / "regctl.1")], capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_regctl_man_prints_the_page():
    assert regctl("man").stdout == (REPO / "man" / "regctl.1").read_text(encoding="utf-8")


def test_exit_status_table_matches_the_error_classes():
    from regctl.core import errors

    classes = [errors.NotFound, errors.InvalidInput, errors.Conflict, errors.StoreError,
               errors.ServerUnreachable, errors.AccessDenied, errors.NoApi, errors.RemoteArtifacts]
    assert [code for code, _ in gen.EXIT_STATUS] == [errors.EXIT_OK] + [c.exit_code for c in classes]


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_page_renders_without_warnings():
    env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="100", LC_ALL="C.UTF-8")
    result = subprocess.run(["man", "--warnings", "-l", str(REPO / "man" / "regctl.1")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    text = result.stdout
    for heading in ("NAME", "SYNOPSIS", "COMMANDS", "ENVIRONMENT", "EXIT STATUS", "FILES", "EXAMPLES"):
        assert re.search(rf"^{heading}$", text, re.M), heading
    for cmd in LEAVES:
        assert cmd.usage in text


# ------------------------------------------------------------------ completions

def test_completion_spec_covers_every_command_option_and_argument():
    """regctl/cli/completion_spec.py (what `regctl __complete` reads) is the CLI's tree; the shells
    themselves are driven in tests/test_completion.py."""
    from regctl.cli.completion_spec import COMMANDS

    assert list(COMMANDS) == [" ".join(c.path) for c in TREE]
    for cmd in TREE:
        node = COMMANDS[" ".join(cmd.path)]
        assert list(node["subcommands"]) == cmd.subcommands
        assert set(node["options"]) == {n for o in cmd.options for n in o.names}
        assert len(node["arguments"]) == len(cmd.arguments)
    assert COMMANDS["alias set"]["arguments"] == ["model", "alias", "version"]
    assert COMMANDS["stage"]["arguments"] == ["model", "version", "stage"]
    assert COMMANDS[""]["options"]["--store"][0] == "dir"


# ------------------------------------------------------------------ README

def test_quick_start_is_two_fresh_machine_commands_and_the_ci_test_line():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    ci_test = next(line for line in ci.splitlines() if "pytest" in line and not line.startswith("#"))
    ci_test = ci_test.split(" || ")[0].strip()
    lines = shell_lines(readme_section("Quick start"))
    fresh = [line for line in lines if "pip install" in line]
    assert fresh == ["pip install . && regctl --store examples/mlruns versions iris-classifier", ci_test]


def test_quick_start_try_it_commands_work_on_the_example_store():
    before = snapshot(EXAMPLES)
    commands = [line.split("&& ", 1)[-1] for line in shell_lines(readme_section("Quick start"))
                if "regctl " in line]
    assert len(commands) >= 2
    outputs = {}
    for command in commands:
        args = shlex.split(command)
        assert args[0] == "regctl"
        result = regctl(*args[1:], cwd=REPO)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.strip(), command
        outputs[args[3]] = result.stdout
    assert "champion" in outputs["versions"] and "challenger" in outputs["versions"]
    if "resolve" in outputs:
        path = Path(outputs["resolve"].strip())
        assert path.is_relative_to(EXAMPLES.resolve()) and (path / "MLmodel").is_file()
    assert snapshot(EXAMPLES) == before


def test_tour_runs_every_command_with_the_stated_exit_status(tmp_path):
    section = readme_section("Tour")
    setup = [line for line in shell_lines(section) if "cp -r examples/mlruns" in line]
    lines = [line for line in shell_lines(section) if line not in setup]
    shown = " \n".join(lines) + " "
    missing = [cmd.name for cmd in LEAVES if f"{cmd.name} " not in shown]
    assert missing == [], f"README tour lacks {missing}"
    assert len(setup) == 1, "the tour starts with one line making its scratch store"
    store = tmp_path / "regctl-tour"
    reset = setup[0].replace("/tmp/regctl-tour", str(store)).split(" && export ")[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    env.update(REGCTL_STORE=str(store), NO_COLOR="1")
    prelude = f"regctl() {{ {shlex.quote(sys.executable)} -m regctl \"$@\"; }}\n"
    runs = [None] + lines + [None] + lines  # the whole tour twice in a row from its first line (None)
    for line in runs:
        if line is None:
            subprocess.run(["bash", "-c", reset], env=env, cwd=REPO, check=True)
            continue
        expected = re.search(r"#\s*exit (\d)\b", line)
        result = subprocess.run(["bash", "-c", prelude + line], capture_output=True, text=True,
                                env=env, cwd=REPO)
        assert result.returncode == (int(expected.group(1)) if expected else 0), (line, result.stderr)
        if expected:
            assert result.stdout == "" and result.stderr.startswith("regctl: "), line
            assert result.stderr.count("\n") == 1, line


def test_readme_json_fields_are_the_ones_regctl_prints():
    import json

    json_section = readme_section("JSON output")
    version = json.loads(regctl("describe", "iris-classifier", "--alias", "champion", "--json",
                                store=EXAMPLES).stdout)
    model = json.loads(regctl("describe", "iris-classifier", "--json", store=EXAMPLES).stdout)
    keys = set(version) | set(version["lineage"]) | set(model)
    assert [k for k in sorted(keys) if f"`{k}`" not in json_section] == []


def test_readme_names_every_declared_dependency():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    names = [re.split(r"[<>=!~\[ ;]", requirement)[0] for requirement in declared]
    text = readme_section("Dependencies")
    assert [n for n in names if f"`{n}" not in text] == []


# ------------------------------------------------------------------ CI

def test_ci_proves_the_plain_install_before_the_test_extras():
    """Issue 7.1: the quick start once failed on a fresh machine (an import of a package that was
    not a dependency) while CI, which installed the test extras into the same environment,
    passed. .ci/run now runs scripts/smoke.sh in an environment holding only `pip install .`."""
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if line.strip() and not line.strip().startswith("#")]
    plain = ci.index("python3 -m venv .venv-plain")
    smoke = ci.index("scripts/smoke.sh")
    tests = next(i for i, line in enumerate(ci) if '".[test]"' in line)
    assert plain < smoke < tests
    assert ". .venv-plain/bin/activate" in ci[plain:smoke]
    assert not [line for line in ci[:smoke] if "pip install" in line], "the plain environment gets nothing else"
    mlflow2 = next(i for i, line in enumerate(ci) if "mlflow==2.22.5" in line)
    assert smoke < mlflow2 < tests and "REGCTL_MLFLOW2_PYTHON" in " ".join(ci[mlflow2:tests])
    # the smoke script runs the README's quick-start line itself (it contains `pip install .`)
    smoke_text = (REPO / "scripts" / "smoke.sh").read_text(encoding="utf-8")
    assert "## Quick start" in smoke_text and os.access(REPO / "scripts" / "smoke.sh", os.X_OK)


def test_smoke_script_calls_every_command():
    text = (REPO / "scripts" / "smoke.sh").read_text(encoding="utf-8")
    names = [" ".join(cmd.path) for cmd in LEAVES]
    assert "alias set" in names
    assert [n for n in names if not re.search(rf"^check 0 regctl {n}( |$)", text, re.M)] == []


def test_every_file_the_docs_cite_exists():
    for doc in ("README.md", "ARCHITECTURE.md"):
        cited = set(re.findall(r"`((?:tests|regctl|scripts|bench|docs)/[\w/.-]+\.(?:py|md|sh))`", (REPO / doc).read_text()))
        assert cited and not sorted(p for p in cited if not (REPO / p).is_file()), doc
