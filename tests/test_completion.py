"""Shell completion with the scripts `regctl completion SHELL` prints, in real bash, zsh and
fish: commands and options, and model names, aliases, versions and stages read from the store
the command line names (--store before or after the command, else REGCTL_STORE)."""

import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest
from conftest import REPO, copy_fixture_store
from conftest import regctl as run

MODELS3 = ["iris-classifier", "iris.baseline model"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The MLflow 3 fixture store, and a second store holding one other model."""
    base = tmp_path_factory.mktemp("completion")
    main = copy_fixture_store("mlflow3-store", base / "main")
    other = base / "other store" / "mlruns"
    (base / "m").mkdir()
    (base / "m" / "MLmodel").write_text("flavors: {}\n")
    assert run("register", base / "m", "--name", "fraud-detector", "--alias", "shadow", store=other).returncode == 0
    bindir = base / "bin"
    bindir.mkdir()
    (bindir / "regctl").write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m regctl \"$@\"\n")
    (bindir / "regctl").chmod(0o755)
    return {"main": main, "other": other, "bin": bindir}


def shell_env(stores, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    env.update(PATH=f"{stores['bin']}{os.pathsep}{env['PATH']}", PYTHONPATH=str(REPO), **extra)
    return env


CASES = [  # (command line up to the cursor, what is offered)
    ("regctl vers", ["versions"]),
    ("regctl alias ", ["set", "delete", "list", "rollback"]),
    ("regctl versions --li", ["--limit"]),
    ("regctl alias set --e", ["--expect"]),
    ("regctl --store alias vers", ["versions"]),  # an option's value is not a command
    ("regctl versions --limit ", []),
    ("regctl versions ", MODELS3),
    ("regctl versions iris.b", ["iris.baseline model"]),
    ("regctl alias set iris-classifier ", ["challenger", "champion"]),
    ("regctl alias set iris-classifier champion ", ["2", "1", "@challenger", "@champion"]),
    ("regctl describe iris-classifier --version @ch", ["@challenger", "@champion"]),
    ("regctl stage iris-classifier 1 ", ["None", "Staging", "Production", "Archived"]),
    ("regctl stage iris-classifier 1 Pr", ["Production"]),
    ("regctl versions --format ", ["table", "tsv", "csv", "json"]),
    ("regctl completion ", ["bash", "zsh", "fish"]),
    ("regctl --store {other} versions ", ["fraud-detector"]),
    ("regctl versions --store {other} ", ["fraud-detector"]),
    ("regctl alias delete fraud-detector --store {other} sh", ["shadow"]),
    ("regctl --store {other} alias delete fraud-detector ", ["shadow"]),
    ("regctl --store /no/such/store versions ", []),
]


def expand(line: str, stores) -> str:
    return line.replace("{other}", shlex.quote(str(stores["other"])))


def bash_words(line: str):
    """COMP_WORDS and COMP_CWORD as bash makes them for ``line`` (no ':' or '=' in these lines)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    return words, len(words) - 1


def test_completion_scripts_are_printed_by_regctl_and_kept_in_the_checkout():
    for shell in ("bash", "zsh", "fish"):
        result = run("completion", shell)
        assert result.returncode == 0 and result.stdout, shell
        assert (REPO / "completions" / f"regctl.{shell}").read_text(encoding="utf-8") == result.stdout
    assert run("completion", "tcsh").returncode == 2


def test_bash_completes_from_the_store(stores):
    probe = ['source <(regctl completion bash)', "complete -p regctl"]
    for line, _ in CASES:
        line = expand(line, stores)
        words, cword = bash_words(line)
        raw = shlex.split(line)  # COMP_WORDS hold the words as typed: re-quote them
        typed = [shlex.quote(w) for w in raw] + ([""] if line.endswith(" ") else [])
        probe += [f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}",
                  f"COMP_WORDS=({' '.join(shlex.quote(t) for t in typed)}); COMP_CWORD={cword}",
                  "COMPREPLY=(); _regctl", 'printf "%s|" "${COMPREPLY[@]}"; echo']
    result = subprocess.run(["bash", "--norc", "-c", "\n".join(probe)], capture_output=True, text=True,
                            env=shell_env(stores, REGCTL_STORE=str(stores["main"])))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "complete -F _regctl regctl"
    got = {line: [w for w in out.split("|") if w] for (line, _), out in zip(CASES, lines[1:])}
    expected = {line: [w.replace(" ", "\\ ") for w in want] for line, want in CASES}
    assert got == expected


def test_bash_completes_files_for_paths_and_escapes_names(stores, tmp_path):
    (tmp_path / "some dir").mkdir()
    probe = ['source <(regctl completion bash)']
    for line in ["regctl --store ", "regctl register ", "regctl resolve models:/iris-c"]:
        probe += [f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}",
                  "COMP_WORDS=(regctl x); COMP_CWORD=1; COMPREPLY=(); _regctl",
                  'printf "%s|" "${COMPREPLY[@]}"; echo']
    result = subprocess.run(["bash", "--norc", "-c", "\n".join(probe)], capture_output=True, text=True,
                            cwd=tmp_path, env=shell_env(stores, REGCTL_STORE=str(stores["main"])))
    assert result.returncode == 0, result.stderr
    # paths are left to bash's own file completion; after "models:" bash completes the part after ':'
    assert result.stdout.split("\n")[:3] == ["|", "|", "/iris-classifier|"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_from_the_store(stores):
    # Outside a completion widget: stand-ins for compdef, and for _describe, compadd and
    # _files, which print what they were given.
    probe = [
        "compdef() { :; }",
        '_describe() { local n=${@[-1]} i; for i in "${(@P)n}"; do print -rn -- "${${i%%:*}//\\\\:/:}|"; done; }',
        'compadd() { local n=${@[-1]} i; for i in "${(@P)n}"; do print -rn -- "$i|"; done; }',
        '_files() { print -rn -- "<files>|"; }',
        "source <(regctl completion zsh)",
    ]
    cases = CASES + [("regctl --store ", ["<files>"])]
    for line, _ in cases:
        line = expand(line, stores)
        probe.append(f"words=(${{(z)${{:-{shlex.quote(line)}}}}}); [[ {shlex.quote(line)} == *' ' ]] && words+=('');"
                     " CURRENT=${#words}; _regctl; print")
    result = subprocess.run(["zsh", "-f", "-c", "\n".join(probe)], capture_output=True, text=True,
                            env=shell_env(stores, REGCTL_STORE=str(stores["main"])))
    assert result.returncode == 0, result.stderr
    got = {line: sorted(w for w in out.split("|") if w) for (line, _), out in zip(cases, result.stdout.split("\n"))}
    assert got == {line: sorted(want) for line, want in cases}


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_from_the_store(stores):
    probe = ["regctl completion fish | source"]
    for line, _ in CASES:
        probe.append(f"echo (complete -C {shlex.quote(expand(line, stores))} | string replace -r '\\t.*' '' "
                     "| string join '|')")
    result = subprocess.run(["fish", "--no-config", "-c", "\n".join(probe)], capture_output=True, text=True,
                            env=shell_env(stores, REGCTL_STORE=str(stores["main"])))
    assert result.returncode == 0, result.stderr
    got = {line: sorted(w for w in out.split("|") if w) for (line, _), out in zip(CASES, result.stdout.split("\n"))}
    assert got == {line: sorted(want) for line, want in CASES}


def test_completion_is_fast_and_never_imports_the_cli_framework(stores):
    env = shell_env(stores, REGCTL_STORE=str(stores["main"]))
    command = [sys.executable, "-X", "importtime", "-m", "regctl", "__complete", "bash", "regctl alias set iris-classifier champion "]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.stdout.split("\n")[:3] == ["words", "2", "1"]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"rich", "typer", "click"}, imported & {"rich", "typer", "click"}

    def best_of(args, n=5):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            subprocess.run(args, capture_output=True, env=env, check=True)
            times.append(time.perf_counter() - start)
        return min(times)

    bare = best_of([sys.executable, "-c", "pass"])
    completing = best_of([sys.executable, "-m", "regctl", "__complete", "bash", "regctl versions "])
    # measured on a 2-core machine: bare about 20 ms, a completion about 40 ms
    assert completing < max(0.25, 5 * bare), (bare, completing)


def test_completion_never_fails_into_the_prompt(stores):
    env = shell_env(stores, REGCTL_STORE="/no/such/store")
    for line in ["regctl versions ", "regctl alias set x ", "regctl resolve models:/x@", "regctl '", "regctl \\"]:
        result = subprocess.run([sys.executable, "-m", "regctl", "__complete", "bash", line],
                                capture_output=True, text=True, env=env)
        assert result.returncode == 0 and result.stderr == "" and result.stdout.startswith("words\n"), line
