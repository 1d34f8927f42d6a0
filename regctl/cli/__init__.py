"""The command line: the Typer app, rendering, the error report, completion and the manual."""
