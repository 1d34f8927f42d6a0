"""The progress bar long commands show on a terminal."""

import contextlib
import os
import sys

from regctl.cli.report import visible


class _NoProgress:
    def __call__(self, done: int, total: int, files=None) -> None:
        pass


@contextlib.contextmanager
def progress(total, description: str, unit: str = "items"):
    """A Rich progress bar on stderr while the block runs, when stderr is a terminal; else nothing.

    Yields ``update(done, total)``, the callback the library's long operations accept (which
    may also pass ``files=(done, total)``). ``unit="bytes"`` shows sizes and the rate in
    human units (kB, MB, GB) rather than raw byte counts.
    """
    if not sys.stderr.isatty():
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True, color_system=None if os.environ.get("NO_COLOR") else "auto")
    counts = (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else (MofNCompleteColumn(),)
    columns = (TextColumn("{task.description}"), BarColumn(), *counts, TextColumn("{task.fields[files]}"),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(visible(description), total=total, files="")

        yield _Update(bar, task)


class _Update:
    """The callback a bar gives the library; ``counts_files``: it also shows files done/total."""

    counts_files = True

    def __init__(self, bar, task) -> None:
        self.bar, self.task = bar, task

    def __call__(self, done: int, total: int, files=None) -> None:
        shown = f"{files[0]}/{files[1]} files" if files else ""
        self.bar.update(self.task, completed=done, total=total, files=shown)
