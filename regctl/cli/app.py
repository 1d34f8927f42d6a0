"""The Typer application: every command's arguments, options and help, and ``run``.

Each command declared here (and in ``reading``, ``writing``) calls the function of the
same name in ``regctl.cli.actions``, which does the work; errors raised there are turned
into a message and an exit code by ``session.failed``, in ``run``.
"""

import difflib
import sys
from typing import Annotated, Optional

import click
import typer

from regctl import __version__
from regctl.cli import render
from regctl.cli.actions import reading as do
from regctl.cli.session import State, failed, start

app = typer.Typer(
    name="regctl",
    help="A fast model registry CLI over MLflow's file store (mlruns/), SQLite database or tracking server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    suggest_commands=False,  # Click makes the suggestion; Typer's would repeat it
)
alias_app = typer.Typer(help="Set, delete, list and roll back aliases.", no_args_is_help=True,
                        suggest_commands=False)
app.add_typer(alias_app, name="alias")

ModelName = Annotated[str, typer.Argument(help="Registered model name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON, with MLflow's field names (same as --format json).")]
JsonOnlyOption = Annotated[bool, typer.Option("--json", help="Print JSON, with MLflow's field names.")]
WriteJsonOption = Annotated[bool, typer.Option(
    "--json", help="Print what was done (or, with --dry-run, would be) as JSON on stdout; the confirmation stays on stderr.")]
FormatOption = Annotated[Optional[str], typer.Option(
    "--format", click_type=click.Choice(render.FORMATS), show_choices=True,
    help="table (the default on a terminal), tsv (the default when piped: one record per line, "
         "tab-separated, no header), csv (with a header) or json.")]
WideOption = Annotated[bool, typer.Option(
    "--wide", help="On a terminal, show every column and every value in full, even past the terminal's width.")]


def examples(*lines: str) -> str:
    """A command's help epilog: its examples, kept as written."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Check and show what would change (\"would: ...\"); change nothing.")]


def _version_callback(value: bool) -> None:
    if value:
        render.line(f"regctl {__version__}")
        raise typer.Exit()


STORE_HELP = ("The store, given before or after the command: an mlruns/ directory (a path or a file: URI), "
              "MLflow's SQLite database (sqlite:///mlflow.db) or an MLflow tracking server "
              "(http://HOST:PORT, https://...); a project directory holding mlflow.db and no file store "
              "is its mlflow.db. Default: $REGCTL_STORE, else "
              "$MLFLOW_REGISTRY_URI, else $MLFLOW_TRACKING_URI, else ./mlruns when it holds a file store, "
              "else ./mlflow.db when it exists, else ./mlruns; a URI of another kind is an error, never a "
              "fallback.")


@app.callback(epilog=examples(
    "regctl --store examples/mlruns versions iris-classifier",
    "regctl versions iris-classifier | cut -f1,5      # version and run id, one per line"))
def main_options(
    store: Annotated[Optional[str], typer.Option("--store", metavar="PATH_OR_URI", help=STORE_HELP)] = None,
    traceback: Annotated[bool, typer.Option(
        "--traceback", help="Show a Python traceback on unexpected errors (also REGCTL_TRACEBACK=1).")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """A fast model registry CLI over MLflow's file store (mlruns/), SQLite database or tracking server."""
    State.store_option = store
    State.traceback = traceback


@app.command(epilog=examples(
    "source <(regctl completion bash)",
    "regctl completion fish > ~/.config/fish/completions/regctl.fish"))
def completion(
    shell: Annotated[str, typer.Argument(
        click_type=click.Choice(["bash", "zsh", "fish"]), help="bash, zsh or fish.")],
) -> None:
    """Print the completion script for SHELL (model names, aliases, versions and stages come from the store)."""
    do.completion(shell)


@app.command("man", epilog=examples("regctl man | man -l -", "regctl man > ~/.local/share/man/man1/regctl.1"))
def man_page() -> None:
    """Print regctl's manual page (roff); pip install also puts it where man finds it."""
    do.man_page()


def _store_after_command(ctx, param, value):
    if value is not None:
        State.store_option = value
    return value


def command() -> click.Command:
    """The Click command of the CLI, with --store accepted after every command too."""
    root = typer.main.get_command(app)
    stack: list = [root]
    while stack:
        group = stack.pop()
        for sub in group.commands.values():
            if isinstance(sub, click.Group):
                stack.append(sub)
            sub.params.append(click.Option(["--store"], metavar="PATH_OR_FILE_URI", hidden=True,
                                           expose_value=False, callback=_store_after_command, help=STORE_HELP))
    return root


def run(argv) -> int:
    """Run the CLI on ``argv`` and return the exit code; errors are reported here only."""
    root = command()
    start()
    try:
        code = root.main(args=list(argv), prog_name="regctl", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help(), err=True)
        return 2
    except click.ClickException as exc:
        sys.stderr.write(f"regctl: {' '.join(_with_suggestion(exc).splitlines())}\n")
        return exc.exit_code
    except click.exceptions.Abort:
        raise KeyboardInterrupt from None  # Click's name for Ctrl-C; main() reports it
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        return failed(exc)
    if code == 130:  # Typer turns Ctrl-C inside a command into Exit(130) and returns its code
        raise KeyboardInterrupt
    return code if isinstance(code, int) else 0


def _with_suggestion(exc: click.ClickException) -> str:
    """The message, with one "Did you mean" for an unknown command (Click before 8.2 makes none)."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if "Did you mean" in message or not message.startswith("No such command") or ctx is None:
        return message
    typo = message.split("'")[1] if message.count("'") >= 2 else ""
    group = ctx.command
    matches = difflib.get_close_matches(typo, list(getattr(group, "commands", {})))
    return f"{message.rstrip('.')}. Did you mean {matches[0]!r}?" if matches else message


# the commands register themselves as they are defined
from regctl.cli import reading, writing  # noqa: E402,F401

# --help lists them in this order, whichever module defines them
_APP_ORDER = ["register", "models", "versions", "tag", "describe", "resolve", "stage", "rename", "delete", "history", "doctor", "verify", "completion", "man_page", "search", "download", "diff", "gc", "push", "store_command"]
app.registered_commands.sort(key=lambda info: _APP_ORDER.index(getattr(info.callback, "__name__", "")))
_ALIAS_APP_ORDER = ["alias_set", "alias_delete", "alias_list", "alias_rollback"]
alias_app.registered_commands.sort(key=lambda info: _ALIAS_APP_ORDER.index(getattr(info.callback, "__name__", "")))
