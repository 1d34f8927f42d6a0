"""The command line of the commands that write (register, alias set/delete/rollback, tag, stage, rename,
delete, gc, push): their arguments, options and help. What each does is the function of the same name
in ``regctl.cli.actions.writing``."""

from typing import Annotated, List, Optional

import typer

from regctl.cli.actions import writing as do
from regctl.cli.app import (
    DryRunOption,
    JsonOnlyOption,
    ModelName,
    WriteJsonOption,
    alias_app,
    app,
    examples,
)


@app.command(epilog=examples(
    "regctl register runs:/<run_id>/model --name fraud-detector --alias challenger",
    'v=$(regctl register ./model --name fraud-detector --tag team=risk)'))
def register(
    source: Annotated[str, typer.Argument(help="runs:/<run_id>/<path>, models:/..., a file:// URI or a local directory.")],
    name: Annotated[str, typer.Option("--name", help="Registered model name (created if missing).")],
    description: Annotated[Optional[str], typer.Option("--description", help="Description of the new version.")] = None,
    tag: Annotated[Optional[List[str]], typer.Option("--tag", metavar="KEY=VALUE", help="Version tag; repeatable.")] = None,
    alias: Annotated[Optional[List[str]], typer.Option("--alias", help="Point this alias at the new version; repeatable.")] = None,
    copy: Annotated[bool, typer.Option(
        "--copy", help="Copy a local directory's files into the store first (as MLflow's log_model places them) "
                       "and register the copy, so later changes to the directory do not touch the version.")] = False,
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Register SOURCE as a new version of NAME and print the version number."""
    do.register(source, name, description, tag, alias, copy, dry_run, json)


@alias_app.callback(epilog=examples(
    "regctl alias set iris-classifier champion 3 --expect 2",
    "regctl alias list iris-classifier"))
def alias_options() -> None:
    """Set, delete, list and roll back aliases."""


@alias_app.command("set", epilog=examples(
    "regctl alias set iris-classifier champion 3",
    "regctl alias set iris-classifier champion @challenger --expect 2"))
def alias_set(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name (letters, digits, '_', '-').")],
    version: Annotated[str, typer.Argument(help="Version number, or @ALIAS for the version another alias points at.")],
    expect: Annotated[Optional[str], typer.Option(
        "--expect", metavar="VERSION|none",
        help="Only move the alias if it currently points at this version ('none': must not exist).")] = None,
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Point ALIAS of NAME at VERSION."""
    do.alias_set(name, alias, version, expect, dry_run, json)


@alias_app.command("delete", epilog=examples("regctl alias delete iris-classifier candidate"))
def alias_delete(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name.")],
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Delete ALIAS of NAME."""
    do.alias_delete(name, alias, dry_run, json)


@alias_app.command("rollback", epilog=examples("regctl alias rollback iris-classifier champion"))
def alias_rollback(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name.")],
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Move ALIAS back to where it pointed before its last change."""
    do.alias_rollback(name, alias, dry_run, json)


@app.command(epilog=examples(
    "regctl tag iris-classifier validation_status=approved --version @champion",
    "regctl tag iris-classifier --delete notes"))
def tag(
    name: ModelName,
    assignments: Annotated[Optional[List[str]], typer.Argument(metavar="[KEY=VALUE]...", help="Tags to set.")] = None,
    delete: Annotated[Optional[List[str]], typer.Option("--delete", metavar="KEY", help="Tag to remove; repeatable.")] = None,
    version: Annotated[Optional[str], typer.Option(
        "--version", metavar="N|@ALIAS", help="Tag version N (or the version ALIAS points at) instead of the model.")] = None,
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Set tags (KEY=VALUE) or remove them (--delete KEY) on NAME or on one version."""
    do.tag(name, assignments, delete, version, dry_run, json)


@app.command(epilog=examples(
    "regctl stage iris-classifier 4 Production --archive-existing",
    "regctl stage iris-classifier @challenger Staging"))
def stage(
    name: ModelName,
    version: Annotated[str, typer.Argument(help="Version number, or @ALIAS for the version an alias points at.")],
    stage: Annotated[str, typer.Argument(help="None, Staging, Production or Archived (any case).")],
    archive_existing: Annotated[bool, typer.Option("--archive-existing", help="Archive other versions in the target stage.")] = False,
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Move VERSION of NAME to STAGE (MLflow's stage transition)."""
    do.stage(name, version, stage, archive_existing, dry_run, json)


@app.command(epilog=examples('regctl rename "iris.baseline model" iris-baseline'))
def rename(
    old: Annotated[str, typer.Argument(help="Current name.")],
    new: Annotated[str, typer.Argument(help="New name.")],
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Rename a registered model, keeping its versions, tags and aliases."""
    do.rename(old, new, dry_run, json)


@app.command(epilog=examples(
    "regctl delete iris-classifier --version 1        # asks y/N on a terminal",
    "regctl delete iris-baseline --yes                # in scripts"))
def delete(
    name: ModelName,
    version: Annotated[Optional[str], typer.Option(
        "--version", metavar="N|@ALIAS",
        help="Soft-delete only version N, or the version ALIAS points at (its aliases are removed).")] = None,
    yes: Annotated[bool, typer.Option(
        "--yes", help="Delete without asking. Without it, a terminal is asked to confirm (y/N) and a "
                      "script is refused (exit 2).")] = False,
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Delete a registered model, or soft-delete one version."""
    do.delete(name, version, yes, dry_run, json)


YesOption = Annotated[bool, typer.Option(
    "--yes", help="Proceed without asking. Without it, a terminal is shown the plan and asked to confirm (y/N); "
                  "a script (standard input not a terminal) proceeds.")]


@app.command(epilog=examples("regctl gc iris-classifier --keep 5 --dry-run", "regctl gc --all-models --keep 10"))
def gc(
    keep: Annotated[int, typer.Option("--keep", metavar="N", min=0, help="Keep the newest N live versions.")],
    name: Annotated[Optional[str], typer.Argument(help="Registered model name (or --all-models).")] = None,
    keep_aliased: Annotated[bool, typer.Option(
        "--keep-aliased", help="Do not count aliased versions towards N (they are never deleted anyway).")] = False,
    delete_staged: Annotated[bool, typer.Option(
        "--delete-staged", help="Also delete old versions in Staging or Production (spared by default).")] = False,
    all_models: Annotated[bool, typer.Option("--all-models", help="Collect every registered model, each in its own change.")] = False,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    json: JsonOnlyOption = False,
) -> None:
    """Soft-delete old versions of NAME (as delete --version does), never one an alias points at."""
    do.gc(keep, name, keep_aliased, delete_staged, all_models, yes, dry_run, json)


@app.command(epilog=examples(
    "regctl push --to http://mlflow.internal:5000 fraud-detector --dry-run",
    "regctl push --from http://mlflow.internal:5000 --to ./mlruns"))
def push(
    to: Annotated[str, typer.Option("--to", metavar="STORE",
                                    help="The target store: a path, a file: or sqlite: URI, or an http(s):// server.")],
    names: Annotated[Optional[List[str]], typer.Argument(metavar="[NAME]...", help="Models to copy (default: all).")] = None,
    source: Annotated[Optional[str], typer.Option("--from", metavar="STORE", help="The source store (default: the "
                                                  "store, as --store or the environment choose it).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be copied; change nothing.")] = False,
    move_aliases: Annotated[bool, typer.Option(
        "--move-aliases", help="Move aliases the target has that point elsewhere (without it, such a push "
                               "copies nothing and exits 3, naming them).")] = False,
    yes: YesOption = False,
    jobs: Annotated[Optional[int], typer.Option(
        "--jobs", "-j", metavar="N", min=1, max=64,
        help="Versions whose files move at once to or from a server (default: REGCTL_PUSH_JOBS, else 4); "
             "versions are still registered one at a time, in order. 1: one version at a time.")] = None,
    json: JsonOnlyOption = False,
) -> None:
    """Copy registered models to another store: versions (with their files), tags, aliases, stages, descriptions."""
    do.push(to, names, source, dry_run, move_aliases, yes, jobs, json)
