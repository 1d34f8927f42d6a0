"""The Typer application: parse, call one library function, render.

Every command is a few lines. Errors raised by the library are turned into a
message and an exit code by ``report.report``, in ``run``.
"""

import sys
from pathlib import Path
from typing import List, Optional

import click
import typer
from typing import Annotated

from regctl import __version__, render
from regctl.api import Registry
from regctl.errors import InvalidInput, StoreError
from regctl.names import parse_tag_assignment
from regctl.report import report

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


def open_registry() -> Registry:
    return Registry(State.store_option)


def _version_callback(value: bool) -> None:
    if value:
        print(f"regctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    store: Annotated[Optional[str], typer.Option(
        "--store", metavar="PATH_OR_URI",
        help="The store: an mlruns/ directory (a path or file: URI) or an MLflow tracking server "
             "(http(s)://HOST:PORT). Default: $REGCTL_STORE, else $MLFLOW_REGISTRY_URI or "
             "$MLFLOW_TRACKING_URI when local or a server, else ./mlruns.")] = None,
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
    version = open_registry().register(source, name, description=description, tags=tags, aliases=alias or [])
    print(version.version)
    render.info(f"registered {name} version {version.version} from {version.source}")


@app.command()
def models(json: JsonOption = False) -> None:
    """List registered models with latest version, aliases, tags and last update."""
    _show_listing(open_registry().models(), json, render.models)


@app.command()
def versions(
    name: ModelName,
    all: Annotated[bool, typer.Option("--all", help="Include soft-deleted versions.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Show only the newest N versions.")] = None,
    json: JsonOption = False,
) -> None:
    """List the versions of NAME, newest first."""
    _show_listing(open_registry().versions(name, include_deleted=all, limit=limit), json, render.versions)


def _show_listing(listing, json: bool, show_table) -> None:
    views = listing.to_json()
    render.print_json(views) if json else show_table(views)
    damage = listing.damage()
    if damage:  # what could be read was listed; the damage is still an error
        raise damage


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
    _show_alias_change(open_registry().set_alias(name, alias, version, expect=expect))


@alias_app.command("delete")
def alias_delete(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name.")],
) -> None:
    """Delete ALIAS of NAME."""
    _show_alias_change(open_registry().delete_alias(name, alias))


@alias_app.command("list")
def alias_list(name: ModelName, json: JsonOption = False) -> None:
    """List the aliases of NAME."""
    mapping = dict(open_registry().aliases(name))
    render.print_json(mapping) if json else render.aliases(mapping)


@alias_app.command("rollback")
def alias_rollback(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name.")],
) -> None:
    """Move ALIAS back to where it pointed before its last change."""
    _show_alias_change(open_registry().rollback_alias(name, alias))


def _show_alias_change(change) -> None:
    old = "(none)" if change.old is None else change.old
    new = "(deleted)" if change.new is None else change.new
    if change.changed:
        render.info(f"{change.alias}: {old} -> {new}")
    else:
        render.info(f"{change.alias}: already {new}, nothing changed")


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
    registry = open_registry()
    if delete:
        registry.delete_tags(name, delete, version=version)
        render.info(f"removed {len(delete)} tag(s)")
    else:
        tags = dict(parse_tag_assignment(a) for a in assignments)
        registry.set_tags(name, tags, version=version)
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
    registry = open_registry()
    if set_text is not None or set_file is not None:
        registry.set_description(name, _description_text(set_text, set_file), version=version, alias=alias)
        render.info("description updated")
        return
    if version is None and alias is None:
        view = registry.get_model(name).to_json()
        render.print_json(view) if json else render.model_details(view)
    else:
        view = registry.get_version(name, version, alias=alias).to_json()
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
    registry = open_registry()
    if verify:
        registry.verify(uri)
    resolution = registry.resolve(uri)
    render.print_json(resolution.to_json()) if json else print(resolution.path)


@app.command()
def stage(
    name: ModelName,
    version: Annotated[str, typer.Argument(help="Version number.")],
    stage: Annotated[str, typer.Argument(help="None, Staging, Production or Archived (any case).")],
    archive_existing: Annotated[bool, typer.Option("--archive-existing", help="Archive other versions in the target stage.")] = False,
) -> None:
    """Move VERSION of NAME to STAGE (MLflow's stage transition)."""
    change = open_registry().transition_stage(name, version, stage, archive_existing=archive_existing)
    archived = f" (archived {', '.join(map(str, change.archived))})" if change.archived else ""
    render.info(f"version {change.version}: {change.old_stage} -> {change.current_stage}{archived}")


@app.command()
def rename(
    old: Annotated[str, typer.Argument(help="Current name.")],
    new: Annotated[str, typer.Argument(help="New name.")],
) -> None:
    """Rename a registered model, keeping its versions, tags and aliases."""
    open_registry().rename(old, new)
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
    registry = open_registry()
    if version is None:
        registry.delete_model(name)
        render.info(f"deleted model {name}")
    else:
        result = registry.delete_version(name, version)
        removed = f"; removed aliases {', '.join(result.aliases_removed)}" if result.aliases_removed else ""
        render.info(f"deleted version {result.version} of {name}{removed}")


@app.command()
def history(
    name: Annotated[Optional[str], typer.Argument(help="Only this model.")] = None,
    alias: Annotated[Optional[str], typer.Option("--alias", help="Only changes of this alias.")] = None,
    json: JsonOption = False,
) -> None:
    """Show the journal of changes regctl made, newest first."""
    records = [r.to_json() for r in open_registry().history(name, alias=alias)]
    render.print_json(records) if json else render.history(records)


@app.command()
def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Repair what is safe to repair: leftover temp files, dangling "
                                                    "aliases, wrong name fields, stale alias snapshots.")] = False,
    json: JsonOption = False,
) -> None:
    """Check the whole store for damage (exit 4 when a problem remains)."""
    found = open_registry().doctor(fix=fix)
    render.print_json(found.to_json()) if json else print("\n".join(render.doctor_lines(found.to_json())))
    if found.problems:
        raise StoreError(f"{len(found.problems)} problem(s) found in the store {found.store}")


@app.command()
def verify(uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, ... of a registered version.")]) -> None:
    """Check a version's artifacts against the digest recorded when it was registered (exit 4 if they differ)."""
    result = open_registry().verify(uri)
    print(f"{result.digest}  {result.path}")
    render.info(f"{result.uri}: {result.files} file(s) match the registered digest")


# ------------------------------------------------- moving between stores (regctl.transfer, regctl.push)

@app.command()
def download(
    uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, runs:/..., models:/m-<id> or a path.")],
    dest: Annotated[str, typer.Argument(help="A new or empty directory to copy the files into.")],
) -> None:
    """Copy the files URI points at into DEST (through the server's artifact proxy for a server store)."""
    from regctl.transfer import download as fetch

    result = fetch(open_registry(), uri, dest)
    print(result["path"])
    render.info(f"downloaded {result['files']} file(s) from {result['location']}")


@app.command()
def push(
    names: Annotated[Optional[List[str]], typer.Argument(metavar="[NAME]...", help="Models to copy (default: all).")] = None,
    to: Annotated[str, typer.Option("--to", metavar="STORE", help="The target store: a path, file: URI or http(s):// server.")] = ...,
    source: Annotated[Optional[str], typer.Option("--from", metavar="STORE", help="The source store (default: the "
                                                  "store, as --store or the environment choose it).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be copied; change nothing.")] = False,
    json: JsonOption = False,
) -> None:
    """Copy registered models to another store: versions (with their files), tags, aliases, stages, descriptions."""
    origin = Registry(source if source is not None else State.store_option)
    report = origin.push(to, names or None, dry_run=dry_run, progress=None if json else render.progress_bar())
    if json:
        render.print_json(report.to_json())
    else:
        for line in report.lines():
            print(line)
        render.info(report.summary())


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
