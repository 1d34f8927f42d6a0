"""The Typer application: parse, call one library function, render.

Every command is a few lines. Errors raised by the library are turned into a
message and an exit code by ``report.report``, in ``run``.
"""

import sys
from pathlib import Path
from typing import Annotated, List, Optional

import click
import typer

from regctl import __version__, queries, registry, render
from regctl.errors import InvalidInput, StoreError
from regctl.locations import store_root
from regctl.names import parse_tag_assignment
from regctl.report import report
from regctl.store import Store

app = typer.Typer(
    name="regctl",
    help="A fast model registry CLI over MLflow's local file store (mlruns/).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
alias_app = typer.Typer(help="Set, delete, list and roll back aliases.", no_args_is_help=True)
app.add_typer(alias_app, name="alias")

ModelName = Annotated[str, typer.Argument(help="Registered model name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON, with MLflow's field names.")]


class State:
    store_option: Optional[str] = None


def open_store() -> Store:
    return Store(store_root(State.store_option))


def _version_callback(value: bool) -> None:
    if value:
        print(f"regctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    store: Annotated[Optional[str], typer.Option(
        "--store", metavar="PATH_OR_FILE_URI",
        help="The mlruns/ store: a path or a file: URI. Default: $REGCTL_STORE, else $MLFLOW_REGISTRY_URI, "
             "else $MLFLOW_TRACKING_URI, else ./mlruns; a URI of another kind is an error, never a fallback.")] = None,
    traceback: Annotated[bool, typer.Option(
        "--traceback", help="Show a Python traceback on unexpected errors (also REGCTL_TRACEBACK=1).")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """A fast model registry CLI over MLflow's local file store (mlruns/)."""
    State.store_option = store


@app.command()
def register(
    source: Annotated[str, typer.Argument(help="runs:/<run_id>/<path>, models:/..., a file:// URI or a local directory.")],
    name: Annotated[str, typer.Option("--name", help="Registered model name (created if missing).")],
    description: Annotated[Optional[str], typer.Option("--description", help="Description of the new version.")] = None,
    tag: Annotated[Optional[List[str]], typer.Option("--tag", metavar="KEY=VALUE", help="Version tag; repeatable.")] = None,
    alias: Annotated[Optional[List[str]], typer.Option("--alias", help="Point this alias at the new version; repeatable.")] = None,
) -> None:
    """Register SOURCE as a new version of NAME and print the version number."""
    tags = dict(parse_tag_assignment(t) for t in tag or [])
    view = registry.register(open_store(), source, name, description=description, tags=tags, aliases=alias or [])
    print(view["version"])
    render.info(f"registered {name} version {view['version']} from {view['source']}")


@app.command()
def models(json: JsonOption = False) -> None:
    """List registered models with latest version, aliases, tags and last update."""
    damaged = []
    views = queries.list_models(open_store(), damaged=damaged)
    render.print_json(views) if json else render.models(views)
    if damaged:  # what could be read was listed; the damage is still an error
        raise queries.damage_report(damaged)


@app.command()
def versions(
    name: ModelName,
    all: Annotated[bool, typer.Option("--all", help="Include soft-deleted versions.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Show only the newest N versions.")] = None,
    json: JsonOption = False,
) -> None:
    """List the versions of NAME, newest first."""
    damaged = []
    views = queries.list_versions(open_store(), name, include_deleted=all, limit=limit, damaged=damaged)
    render.print_json(views) if json else render.versions(views)
    if damaged:  # what could be read was listed; the damage is still an error
        raise queries.damage_report(damaged)


@alias_app.command("set")
def alias_set(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name (letters, digits, '_', '-').")],
    version: Annotated[str, typer.Argument(help="Version number.")],
    expect: Annotated[Optional[str], typer.Option(
        "--expect", metavar="VERSION|none",
        help="Only move the alias if it currently points at this version ('none': must not exist).")] = None,
) -> None:
    """Point ALIAS of NAME at VERSION."""
    _show_alias_change(registry.set_alias(open_store(), name, alias, version, expect=expect))


@alias_app.command("delete")
def alias_delete(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name.")],
) -> None:
    """Delete ALIAS of NAME."""
    _show_alias_change(registry.delete_alias(open_store(), name, alias))


@alias_app.command("list")
def alias_list(name: ModelName, json: JsonOption = False) -> None:
    """List the aliases of NAME."""
    mapping = queries.list_aliases(open_store(), name)
    render.print_json(mapping) if json else render.aliases(mapping)


@alias_app.command("rollback")
def alias_rollback(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name.")],
) -> None:
    """Move ALIAS back to where it pointed before its last change."""
    _show_alias_change(registry.rollback_alias(open_store(), name, alias))


def _show_alias_change(change: dict) -> None:
    old = "(none)" if change["old"] is None else change["old"]
    new = "(deleted)" if change["new"] is None else change["new"]
    if change["changed"]:
        render.info(f"{change['alias']}: {old} -> {new}")
    else:
        render.info(f"{change['alias']}: already {new}, nothing changed")


@app.command()
def tag(
    name: ModelName,
    assignments: Annotated[Optional[List[str]], typer.Argument(metavar="[KEY=VALUE]...", help="Tags to set.")] = None,
    delete: Annotated[Optional[List[str]], typer.Option("--delete", metavar="KEY", help="Tag to remove; repeatable.")] = None,
    version: Annotated[Optional[str], typer.Option("--version", metavar="N", help="Tag version N instead of the model.")] = None,
) -> None:
    """Set tags (KEY=VALUE) or remove them (--delete KEY) on NAME or on one version."""
    if bool(assignments) == bool(delete):
        raise InvalidInput("give either KEY=VALUE pairs or --delete KEY, not both or neither")
    store = open_store()
    if delete:
        registry.delete_tags(store, name, delete, version=version)
        render.info(f"removed {len(delete)} tag(s)")
    else:
        tags = dict(parse_tag_assignment(a) for a in assignments)
        registry.set_tags(store, name, tags, version=version)
        render.info(f"set {len(tags)} tag(s)")


@app.command()
def describe(
    name: ModelName,
    version: Annotated[Optional[str], typer.Option("--version", metavar="N", help="Describe version N.")] = None,
    alias: Annotated[Optional[str], typer.Option("--alias", help="Describe the version ALIAS points at.")] = None,
    set_text: Annotated[Optional[str], typer.Option("--set", metavar="TEXT", help="Replace the description.")] = None,
    set_file: Annotated[Optional[str], typer.Option("--set-file", metavar="PATH", help="Replace the description with a file's text ('-': stdin).")] = None,
    json: JsonOption = False,
) -> None:
    """Show a model or one version (metadata, tags, aliases, description, lineage), or set its description."""
    if version is not None and alias is not None:
        raise InvalidInput("give --version or --alias, not both")
    store = open_store()
    if set_text is not None or set_file is not None:
        registry.set_description(store, name, _description_text(set_text, set_file), version=version, alias=alias)
        render.info("description updated")
        return
    if version is None and alias is None:
        view = queries.describe_model(store, name)
        render.print_json(view) if json else render.model_details(view)
    else:
        view = queries.describe_version(store, name, version=version, alias=alias)
        render.print_json(view) if json else render.version_details(view)


def _description_text(text: Optional[str], file: Optional[str]) -> str:
    if text is not None and file is not None:
        raise InvalidInput("give --set or --set-file, not both")
    if text is not None:
        return text
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read description file {file!r}: {getattr(exc, 'strerror', None) or exc}") from None


@app.command()
def resolve(
    uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, models:/N/latest, models:/N/<stage>, "
                                             "models:/m-<id>, runs:/<run_id>/<path>, file://... or a path.")],
    json: JsonOption = False,
    verify: Annotated[bool, typer.Option("--verify", help="First check the artifacts against the digest recorded "
                                                          "at registration (exit 4 if they differ).")] = False,
) -> None:
    """Print the absolute local path of the artifacts URI points at, and nothing else."""
    from regctl.resolve import resolve as resolve_uri

    if verify:
        from regctl.digest import verify as verify_uri

        verify_uri(open_store(), uri)
    resolution = resolve_uri(open_store(), uri)
    render.print_json(resolution.to_json()) if json else print(resolution.path)


@app.command()
def stage(
    name: ModelName,
    version: Annotated[str, typer.Argument(help="Version number.")],
    stage: Annotated[str, typer.Argument(help="None, Staging, Production or Archived (any case).")],
    archive_existing: Annotated[bool, typer.Option("--archive-existing", help="Archive other versions in the target stage.")] = False,
) -> None:
    """Move VERSION of NAME to STAGE (MLflow's stage transition)."""
    change = registry.transition_stage(open_store(), name, version, stage, archive_existing=archive_existing)
    archived = f" (archived {', '.join(map(str, change['archived']))})" if change["archived"] else ""
    render.info(f"version {change['version']}: {change['old_stage']} -> {change['current_stage']}{archived}")


@app.command()
def rename(
    old: Annotated[str, typer.Argument(help="Current name.")],
    new: Annotated[str, typer.Argument(help="New name.")],
) -> None:
    """Rename a registered model, keeping its versions, tags and aliases."""
    registry.rename_model(open_store(), old, new)
    render.info(f"renamed {old} to {new}")


@app.command()
def delete(
    name: ModelName,
    version: Annotated[Optional[str], typer.Option("--version", metavar="N", help="Soft-delete only version N (its aliases are removed).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm the deletion.")] = False,
) -> None:
    """Delete a registered model, or soft-delete one version."""
    if not yes:
        raise InvalidInput("refusing to delete without --yes")
    store = open_store()
    if version is None:
        registry.delete_model(store, name)
        render.info(f"deleted model {name}")
    else:
        result = registry.delete_version(store, name, version)
        removed = f"; removed aliases {', '.join(result['aliases_removed'])}" if result["aliases_removed"] else ""
        render.info(f"deleted version {result['version']} of {name}{removed}")


@app.command()
def history(
    name: Annotated[Optional[str], typer.Argument(help="Only this model.")] = None,
    alias: Annotated[Optional[str], typer.Option("--alias", help="Only changes of this alias.")] = None,
    json: JsonOption = False,
) -> None:
    """Show the journal of changes regctl made, newest first."""
    records = queries.history(open_store(), name, alias)
    render.print_json(records) if json else render.history(records)


@app.command()
def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Repair what is safe to repair: leftover temp files, dangling "
                                                    "aliases, wrong name fields, stale alias snapshots, regctl 0.1 "
                                                    "digest tags.")] = False,
    json: JsonOption = False,
) -> None:
    """Check the whole store: problems are damage (exit 4 when one remains); warnings, such as states
    MLflow itself leaves, are printed but exit 0."""
    from regctl import doctor as checks

    result = checks.fix(open_store()) if fix else checks.check(open_store())
    render.print_json(result) if json else print("\n".join(checks.text_lines(result)))
    if result["problems"]:
        raise StoreError(f"{len(result['problems'])} problem(s) found in the store {result['store']}")


@app.command()
def verify(uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, ... of a registered version.")]) -> None:
    """Check a version's artifacts against the digest recorded when it was registered (exit 4 if they differ)."""
    from regctl.digest import verify as verify_uri

    result = verify_uri(open_store(), uri)
    print(f"{result['digest']}  {result['path']}")
    render.info(f"{result['uri']}: {result['files']} file(s) match the registered digest")


def run(argv) -> int:
    """Run the CLI on ``argv`` and return the exit code; errors are reported here only."""
    command = typer.main.get_command(app)
    try:
        command.main(args=list(argv), prog_name="regctl", standalone_mode=False)
        return 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help(), err=True)
        return 2
    except click.ClickException as exc:
        sys.stderr.write(f"regctl: {' '.join(exc.format_message().splitlines())}\n")
        return exc.exit_code
    except click.exceptions.Abort:
        sys.stderr.write("regctl: aborted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        return report(exc, argv)
