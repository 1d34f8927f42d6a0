"""What each command does once its command line is parsed: call the library, render the result.

One function per command, named as the Typer callback that declares it (``regctl.cli.reading``,
``regctl.cli.writing``), taking the same parameters with the same defaults. Nothing here imports
Typer or Click: the plain command line (``regctl.cli.plain``) calls these functions directly.
A function returns an exit code when it ends with one other than 0 (``diff``), else None.
"""
