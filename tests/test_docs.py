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
                        "ENVIRONMENT", "EXIT STATUS", "FILES", "EXAMPLES"]
    for variable in ("REGCTL_STORE", "MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_URI",
                     "REGCTL_LOCK_TIMEOUT", "REGCTL_TRACEBACK", "NO_COLOR"):
        assert f".B {variable}\n" in man
    assert re.findall(r"^\.B (\d)$", man, re.M) == ["0", "1", "2", "3", "4", "5", "6", "7"]
    assert "regctl 0.1.0" in man and not re.search(r"\b20\d\d-\d\d-\d\d\b", man)


def test_exit_status_table_matches_the_error_classes():
    from regctl import errors

    classes = [errors.NotFound, errors.InvalidInput, errors.Conflict, errors.StoreError,
               errors.ServerUnreachable, errors.AccessDenied, errors.NoApi]
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

def test_bash_completion_parses_and_completes():
    script = REPO / "completions" / "regctl.bash"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    cases = {
        "regctl ": " ".join(TREE[0].subcommands),
        "regctl al": "alias",
        "regctl alias ": "set delete list rollback",
        "regctl alias set --e": "--expect",
        "regctl --store /tmp/x vers": "versions",
        "regctl --store alias vers": "versions",    # an option's value is not a command
        "regctl versions --li": "--limit",
        "regctl versions --limit ": "",              # a value: left to default completion
        "regctl versions alias ": "",                # a positional argument, not a command
    }
    probe = [f"source {shlex.quote(str(script))}"]
    for line in cases:
        words = line.split(" ")
        probe += [f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}",
                  '_regctl; echo "${COMPREPLY[*]}"']
    result = subprocess.run(["bash", "-c", "\n".join(probe)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert dict(zip(cases, result.stdout.split("\n"))) == cases


def test_completions_list_every_command_and_option():
    for shell in ("bash", "zsh", "fish"):
        text = (REPO / "completions" / f"regctl.{shell}").read_text(encoding="utf-8")
        for cmd in TREE:
            for sub in cmd.subcommands:
                assert sub in text, (shell, sub)
            for name in (n for o in cmd.options for n in o.names):
                flag = name.lstrip("-") if shell == "fish" else name
                assert flag in text, (shell, cmd.name, name)


COMPLETION_CASES = {  # command line being completed -> the words offered (files: "<files>")
    "regctl alias ": "set delete list rollback",
    "regctl alias set --e": "--expect",
    "regctl --store alias vers": "versions",       # an option's value is not a command
    "regctl versions --li": "--limit",
}


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_parses_and_completes():
    script = REPO / "completions" / "regctl.zsh"
    assert subprocess.run(["zsh", "-n", str(script)], capture_output=True).returncode == 0
    # Outside a completion widget: stand-ins for compdef, _describe (prints the names
    # it was given, filtered by $PREFIX as zsh would) and _files.
    probe = [
        "compdef() { :; }",
        '_describe() { local n=${@[-1]} i out=(); for i in "${(@P)n}"; do '
        '[[ ${i%%:*} == ${PREFIX}* ]] && out+=("${i%%:*}"); done; print -r -- "${out[*]}"; }',
        '_files() { print -r -- "<files>"; }',
        f"source {shlex.quote(str(script))}",
    ]
    cases = dict(COMPLETION_CASES, **{"regctl versions --limit ": "<files>", "regctl versions alias ": "<files>"})
    for line in cases:
        probe.append(f"words=({' '.join(shlex.quote(w) for w in line.split(' '))}); "
                     "CURRENT=${#words}; PREFIX=${words[-1]}; _regctl")
    result = subprocess.run(["zsh", "-f", "-c", "\n".join(probe)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert dict(zip(cases, result.stdout.split("\n"))) == cases


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completion_parses_and_completes():
    script = REPO / "completions" / "regctl.fish"
    assert subprocess.run(["fish", "-n", str(script)], capture_output=True).returncode == 0
    probe = [f"source {shlex.quote(str(script))}"]
    for line in COMPLETION_CASES:
        probe.append(f"echo (complete -C {shlex.quote(line)} | string replace -r '\\t.*' '')")
    result = subprocess.run(["fish", "--no-config", "-c", "\n".join(probe)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    offered = dict(zip(COMPLETION_CASES, result.stdout.split("\n")))
    assert {k: set(v.split()) for k, v in offered.items()} == \
        {k: set(v.split()) for k, v in COMPLETION_CASES.items()}


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
    lines = [line for line in shell_lines(section) if not line.startswith("cp -r examples/mlruns")]
    shown = " \n".join(lines) + " "
    missing = [cmd.name for cmd in LEAVES if f"{cmd.name} " not in shown]
    assert missing == [], f"README tour lacks {missing}"
    store = tmp_path / "mlruns"
    shutil.copytree(EXAMPLES, store)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    env.update(REGCTL_STORE=str(store), NO_COLOR="1")
    prelude = f"regctl() {{ {shlex.quote(sys.executable)} -m regctl \"$@\"; }}\n"
    for line in lines:
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
