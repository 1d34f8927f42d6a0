"""What one command run shares, without Typer: its global options, the registry it opens, the
format it writes, its confirmations, and how an error ends it.

The Typer app (``app``) and the plain command line (``plain``) both run the commands of
``actions`` through this module, so a command behaves the same whichever parsed it.
"""

from typing import Optional

from regctl.api import Registry
from regctl.cli import render
from regctl.cli.report import report
from regctl.core.errors import InvalidInput


class State:
    """The global options of the command being run."""

    store_option: Optional[str] = None
    traceback: bool = False
    dry_run: bool = False
    changed: bool = False  # a write has been made: a reader leaving early no longer makes the command fail


def start(store_option: Optional[str] = None, traceback: bool = False) -> None:
    """A new command run: nothing changed yet, no dry run."""
    State.store_option, State.traceback, State.dry_run, State.changed = store_option, traceback, False, False


def open_registry(dry_run: bool = False) -> Registry:
    State.dry_run = dry_run
    _notice_shadowed_store()
    return Registry(State.store_option, dry_run=dry_run, notify=render.waiting)


def _notice_shadowed_store() -> None:
    """One stderr line when an exported REGCTL_STORE hides an MLflow variable naming another store."""
    from regctl.core.locations import shadow_notice, shadowed

    hidden = shadowed(State.store_option)
    if hidden is not None:
        render.info(f"regctl: note: {shadow_notice(*hidden)}")


def output_format(fmt: Optional[str], json: bool) -> str:
    """The format asked for: --json, else --format, else a table on a terminal and TSV when piped."""
    if json and fmt not in (None, "json"):
        raise InvalidInput(f"give --json or --format {fmt}, not both")
    return "json" if json else fmt or render.default_format()


def told(message: str) -> None:
    """A write's confirmation; a dry run's says what would have changed."""
    State.changed = not State.dry_run
    render.info(f"would: {message}" if State.dry_run else message)


def failed(error: Exception) -> int:
    """The exit code of a command ended by ``error``, said on stderr (``report``), or the pipe's end."""
    if isinstance(error, render.OutputClosed):
        if State.changed:  # the change is made: output that cannot be written does not turn it into a failure
            render.silence_stdout()
            return 0
        if isinstance(error.error, BrokenPipeError):
            raise BrokenPipeError from None  # main() ends quietly
        raise error.error from None  # main() says the output cannot be written
    return report(error, State.traceback)
