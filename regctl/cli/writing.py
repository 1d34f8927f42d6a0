"""The commands that write: register, alias set/delete/rollback, tag, stage, rename, delete, gc, push."""


from typing import Annotated, List, Optional

import typer

from regctl.api import Registry, parse_tag_assignment
from regctl.cli import progressbar, render
from regctl.cli.app import (
    DryRunOption,
    JsonOnlyOption,
    ModelName,
    State,
    WriteJsonOption,
    _told,
    alias_app,
    app,
    examples,
    open_registry,
)
from regctl.core.errors import InvalidInput


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
    tags = dict(parse_tag_assignment(t) for t in tag or [])
    registry = open_registry(dry_run)
    version = registry.register(source, name, description=description, tags=tags, aliases=alias or [], copy=copy)
    _told(f"registered {name} version {version.version} from {version.source}")
    if not json:
        render.line(version.version)
    elif dry_run:
        render.print_json(version.to_json())
    else:  # as `describe --version N --json` prints it, lineage included
        render.print_json(registry.get_version(name, version.version).to_json())


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
    _show_alias_change(open_registry(dry_run).set_alias(name, alias, version, expect=expect), json)


@alias_app.command("delete", epilog=examples("regctl alias delete iris-classifier candidate"))
def alias_delete(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name.")],
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Delete ALIAS of NAME."""
    _show_alias_change(open_registry(dry_run).delete_alias(name, alias), json)


@alias_app.command("rollback", epilog=examples("regctl alias rollback iris-classifier champion"))
def alias_rollback(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name.")],
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Move ALIAS back to where it pointed before its last change."""
    _show_alias_change(open_registry(dry_run).rollback_alias(name, alias), json)


def _show_alias_change(change, json: bool = False) -> None:
    old = "(none)" if change.old is None else change.old
    new = "(deleted)" if change.new is None else change.new
    if change.changed:
        _told(f"{change.alias}: {old} -> {new}")
    else:
        _told(f"{change.alias}: already {new}, nothing changed")
    _json(change, json)


def _json(result, json: bool) -> None:
    """A write's result as JSON on stdout, when asked (--json)."""
    if json:
        render.print_json(result.to_json())


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
    if bool(assignments) == bool(delete):
        raise InvalidInput("give either KEY=VALUE pairs or --delete KEY, not both or neither")
    registry = open_registry(dry_run)
    if delete:
        change = registry.delete_tags(name, delete, version=version)
        _told(f"removed {len(delete)} tag(s)")
    else:
        tags = dict(parse_tag_assignment(a) for a in assignments or [])
        change = registry.set_tags(name, tags, version=version)
        _told(f"set {len(tags)} tag(s)")
    _json(change, json)


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
    change = open_registry(dry_run).transition_stage(name, version, stage, archive_existing=archive_existing)
    archived = f" (archived {', '.join(map(str, change.archived))})" if change.archived else ""
    _told(f"version {change.version}: {change.old_stage} -> {change.current_stage}{archived}")
    _json(change, json)


@app.command(epilog=examples('regctl rename "iris.baseline model" iris-baseline'))
def rename(
    old: Annotated[str, typer.Argument(help="Current name.")],
    new: Annotated[str, typer.Argument(help="New name.")],
    dry_run: DryRunOption = False,
    json: WriteJsonOption = False,
) -> None:
    """Rename a registered model, keeping its versions, tags and aliases."""
    change = open_registry(dry_run).rename(old, new)
    _told(f"renamed {old} to {new}")
    _json(change, json)


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
    registry = open_registry(dry_run)
    if not yes and not dry_run:
        _confirm_delete(registry, name, version)
    if version is None:
        result = registry.delete_model(name)
        _told(f"deleted model {name}")
    else:
        result = registry.delete_version(name, version)
        removed = f"; removed aliases {', '.join(result.aliases_removed)}" if result.aliases_removed else ""
        _told(f"deleted version {result.version} of {name}{removed}")
    _json(result, json)


def _confirm_delete(registry: Registry, name: str, version: Optional[str]) -> None:
    """Ask on a terminal; refuse (exit 2) when stdin is not one or the answer is not yes."""
    if not render.interactive():
        raise InvalidInput("refusing to delete without --yes (standard input is not a terminal)")
    if version is None:
        model = registry.get_model(name)
        question = (f"Delete registered model {name!r} with its {model.version_count} version(s), "
                    f"tags and aliases? This cannot be undone.")
    else:
        found = registry.get_version(name, version)
        lost = f"; its aliases {', '.join(found.aliases)} will be removed" if found.aliases else ""
        question = f"Soft-delete version {found.version} of {name!r}{lost}?"
    if not render.confirm(question):
        raise InvalidInput("not deleted: not confirmed")


YesOption = Annotated[bool, typer.Option(
    "--yes", help="Proceed without asking. Without it, a terminal is shown the plan and asked to confirm (y/N); "
                  "a script (standard input not a terminal) proceeds.")]


def _asking(yes: bool, dry_run: bool) -> bool:
    """Whether a bulk change is shown and confirmed first: only a person at a terminal is asked."""
    return not yes and not dry_run and render.interactive()


def _planning_registry() -> Registry:
    """The same store as the command's, opened for a dry run: what the question shows."""
    return Registry(State.store_option, dry_run=True, notify=render.waiting)


def _confirm(plan: List[str], question: Optional[str]) -> None:
    """Show the plan on stderr and ask; a plan with nothing to change (``question`` None) asks nothing."""
    if question is None:
        return
    for text in plan:
        render.info(text)
    if not render.confirm(question):
        raise InvalidInput("nothing changed: not confirmed")


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
    if (name is None) == (not all_models):
        raise InvalidInput("give a model NAME or --all-models, not both or neither")
    registry = open_registry(dry_run)
    if _asking(yes, dry_run):
        planned = _planning_registry().gc(name, keep=keep, keep_aliased=keep_aliased, delete_staged=delete_staged)
        doomed = [c for c in planned if c.deleted]
        count = sum(len(c.deleted) for c in doomed)
        _confirm([f"{c.name}: would delete versions {', '.join(map(str, c.deleted))}" for c in doomed],
                 f"Soft-delete {count} version(s) of {len(doomed)} model(s)?" if count else None)
    with progressbar.progress(None, "collecting") as progress:
        collected = registry.gc(name, keep=keep, keep_aliased=keep_aliased, delete_staged=delete_staged,
                                progress=progress)
    State.changed = not dry_run and any(c.deleted for c in collected)
    if json:
        render.print_json([c.to_json() for c in collected])
    for c in collected:
        spared = "".join(f"; kept {v} ({why})" for v, why in sorted(c.protected.items(), reverse=True))
        deleted = f"deleted versions {', '.join(map(str, c.deleted))}" if c.deleted else "nothing to delete"
        _told(f"{c.name}: {deleted}{spared}")


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
    origin = Registry(source if source is not None else State.store_option, notify=render.waiting)
    if _asking(yes, dry_run):
        plan = origin.push(to, names or None, dry_run=True, move_aliases=move_aliases)
        copies, aliases = plan.count("would copy"), sum(len(m.aliases) for m in plan.models)
        _confirm(plan.lines(), f"Copy {copies} version(s) and set {aliases} alias(es) in {plan.target}?"
                 if copies or aliases else None)
    with progressbar.progress(None, "pushing") as update:
        report = origin.push(to, names or None, dry_run=dry_run, progress=None if json else update,
                             move_aliases=move_aliases, jobs=jobs)
    State.changed = not dry_run
    if json:
        render.print_json(report.to_json())
    else:
        for text in report.lines():
            render.line(text)
        render.info(report.summary())
