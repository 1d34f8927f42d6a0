"""The Typer application: parse, call one library function, render.

Every command is a few lines. Errors raised by the library are turned into a
message and an exit code by ``report.report``, in ``run``.
"""

import difflib
import sys
from typing import Annotated, List, Optional

import click
import typer

from regctl import __version__, render
from regctl.api import SEARCH_MODELS_DEFAULT, SEARCH_VERSIONS_DEFAULT, Registry, parse_tag_assignment
from regctl.completion import script
from regctl.errors import InvalidInput, StoreError
from regctl.manual import page
from regctl.report import report

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
FormatOption = Annotated[Optional[str], typer.Option(
    "--format", click_type=click.Choice(render.FORMATS), show_choices=True,
    help="table (the default on a terminal), tsv (the default when piped: one record per line, "
         "tab-separated, no header), csv (with a header) or json.")]
WideOption = Annotated[bool, typer.Option(
    "--wide", help="On a terminal, show every column and every value in full, even past the terminal's width.")]


def output_format(fmt: Optional[str], json: bool) -> str:
    """The format asked for: --json, else --format, else a table on a terminal and TSV when piped."""
    if json and fmt not in (None, "json"):
        raise InvalidInput(f"give --json or --format {fmt}, not both")
    return "json" if json else fmt or render.default_format()


def examples(*lines: str) -> str:
    """A command's help epilog: its examples, kept as written."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Check and show what would change (\"would: ...\"); change nothing.")]


class State:
    """The global options of the command being run."""

    store_option: Optional[str] = None
    traceback: bool = False
    dry_run: bool = False
    changed: bool = False  # a write has been made: a reader leaving early no longer makes the command fail


def open_registry(dry_run: bool = False) -> Registry:
    State.dry_run = dry_run
    return Registry(State.store_option, dry_run=dry_run, notify=render.waiting)


def _told(message: str) -> None:
    """A write's confirmation; a dry run's says what would have changed."""
    State.changed = not State.dry_run
    render.info(f"would: {message}" if State.dry_run else message)


def _version_callback(value: bool) -> None:
    if value:
        render.line(f"regctl {__version__}")
        raise typer.Exit()


MAX_DESCRIPTION = 1 << 24  # characters read for --set-file: a description, not /dev/zero

STORE_HELP = ("The store, given before or after the command: an mlruns/ directory (a path or a file: URI), "
              "MLflow's SQLite database (sqlite:///mlflow.db) or an MLflow tracking server "
              "(http://HOST:PORT, https://...). Default: $REGCTL_STORE, else "
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
    "regctl register runs:/<run_id>/model --name fraud-detector --alias challenger",
    'v=$(regctl register ./model --name fraud-detector --tag team=risk)'))
def register(
    source: Annotated[str, typer.Argument(help="runs:/<run_id>/<path>, models:/..., a file:// URI or a local directory.")],
    name: Annotated[str, typer.Option("--name", help="Registered model name (created if missing).")],
    description: Annotated[Optional[str], typer.Option("--description", help="Description of the new version.")] = None,
    tag: Annotated[Optional[List[str]], typer.Option("--tag", metavar="KEY=VALUE", help="Version tag; repeatable.")] = None,
    alias: Annotated[Optional[List[str]], typer.Option("--alias", help="Point this alias at the new version; repeatable.")] = None,
    dry_run: DryRunOption = False,
) -> None:
    """Register SOURCE as a new version of NAME and print the version number."""
    tags = dict(parse_tag_assignment(t) for t in tag or [])
    version = open_registry(dry_run).register(source, name, description=description, tags=tags, aliases=alias or [])
    _told(f"registered {name} version {version.version} from {version.source}")
    render.line(version.version)


@app.command(epilog=examples(
    "regctl models",
    "regctl models --format csv > models.csv"))
def models(json: JsonOption = False, format: FormatOption = None, wide: WideOption = False) -> None:
    """List registered models with latest version, aliases, tags and last update."""
    registry = open_registry()
    _show_listing(registry.models(), output_format(format, json), wide, render.models,
                  f"no registered models in {registry.location}")


@app.command(epilog=examples(
    "regctl versions iris-classifier --limit 5",
    "regctl versions iris-classifier | awk -F'\\t' '$2 == \"Production\" {print $1}'"))
def versions(
    name: ModelName,
    all: Annotated[bool, typer.Option("--all", help="Include soft-deleted versions.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Show only the newest N versions.")] = None,
    json: JsonOption = False,
    format: FormatOption = None,
    wide: WideOption = False,
) -> None:
    """List the versions of NAME, newest first."""
    _show_listing(open_registry().versions(name, include_deleted=all, limit=limit), output_format(format, json),
                  wide, render.versions, f"model {name} has no versions")


def _show_listing(listing, fmt: str, wide: bool, show_table, empty: str) -> None:
    views = listing.to_json()
    if fmt == "json":
        render.print_json(views)
    elif views:
        show_table(views, fmt, wide)
    elif not listing.damage():
        render.info(empty)
    damage = listing.damage()
    if damage:  # what could be read was listed; the damage is still an error
        raise damage


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
) -> None:
    """Point ALIAS of NAME at VERSION."""
    _show_alias_change(open_registry(dry_run).set_alias(name, alias, version, expect=expect))


@alias_app.command("delete", epilog=examples("regctl alias delete iris-classifier candidate"))
def alias_delete(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name.")],
    dry_run: DryRunOption = False,
) -> None:
    """Delete ALIAS of NAME."""
    _show_alias_change(open_registry(dry_run).delete_alias(name, alias))


@alias_app.command("list", epilog=examples(
    "regctl alias list iris-classifier",
    "regctl alias list iris-classifier --json"))
def alias_list(
    name: ModelName,
    json: Annotated[bool, typer.Option("--json", help="Print JSON: an object mapping each alias to its version.")] = False,
    format: FormatOption = None,
    wide: WideOption = False,
) -> None:
    """List the aliases of NAME."""
    registry = open_registry()
    mapping = dict(registry.aliases(name))
    fmt = output_format(format, json)
    if fmt == "json":
        render.print_json(mapping)
    elif mapping:
        render.aliases(mapping, fmt, wide)
    else:
        render.info(f"model {name} has no aliases")


@alias_app.command("rollback", epilog=examples("regctl alias rollback iris-classifier champion"))
def alias_rollback(
    name: ModelName,
    alias: Annotated[str, typer.Argument(help="Alias name.")],
    dry_run: DryRunOption = False,
) -> None:
    """Move ALIAS back to where it pointed before its last change."""
    _show_alias_change(open_registry(dry_run).rollback_alias(name, alias))


def _show_alias_change(change) -> None:
    old = "(none)" if change.old is None else change.old
    new = "(deleted)" if change.new is None else change.new
    if change.changed:
        _told(f"{change.alias}: {old} -> {new}")
    else:
        _told(f"{change.alias}: already {new}, nothing changed")


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
) -> None:
    """Set tags (KEY=VALUE) or remove them (--delete KEY) on NAME or on one version."""
    if bool(assignments) == bool(delete):
        raise InvalidInput("give either KEY=VALUE pairs or --delete KEY, not both or neither")
    registry = open_registry(dry_run)
    if delete:
        registry.delete_tags(name, delete, version=version)
        _told(f"removed {len(delete)} tag(s)")
    else:
        tags = dict(parse_tag_assignment(a) for a in assignments or [])
        registry.set_tags(name, tags, version=version)
        _told(f"set {len(tags)} tag(s)")


@app.command(epilog=examples(
    "regctl describe iris-classifier --version @champion",
    "regctl describe iris-classifier --version 4 --set 'Refit on the full data set.'"))
def describe(
    name: ModelName,
    version: Annotated[Optional[str], typer.Option(
        "--version", metavar="N|@ALIAS", help="Describe version N (or the version ALIAS points at).")] = None,
    alias: Annotated[Optional[str], typer.Option("--alias", help="Describe the version ALIAS points at.")] = None,
    set_text: Annotated[Optional[str], typer.Option("--set", metavar="TEXT", help="Replace the description.")] = None,
    set_file: Annotated[Optional[str], typer.Option("--set-file", metavar="PATH", help="Replace the description with a file's text ('-': stdin).")] = None,
    json: JsonOption = False,
    format: FormatOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Show a model or one version (metadata, tags, aliases, description, lineage), or set its description."""
    if version is not None and alias is not None:
        raise InvalidInput("give --version or --alias, not both")
    fmt = output_format(format, json)
    registry = open_registry(dry_run)
    if set_text is not None or set_file is not None:
        registry.set_description(name, _description_text(set_text, set_file), version=version, alias=alias)
        _told("description updated")
        return
    if version is None and alias is None:
        view = registry.get_model(name).to_json()
        render.print_json(view) if fmt == "json" else render.model_details(view, fmt)
    else:
        view = registry.get_version(name, version, alias=alias).to_json()
        render.print_json(view) if fmt == "json" else render.version_details(view, fmt)


def _description_text(text: Optional[str], file: Optional[str]) -> str:
    if text is not None and file is not None:
        raise InvalidInput("give --set or --set-file, not both")
    if text is not None:
        return text
    where = "standard input" if file is None or file == "-" else f"description file {file!r}"
    try:
        if file is None or file == "-":
            text = sys.stdin.read(MAX_DESCRIPTION + 1)
        else:
            with open(file, encoding="utf-8") as handle:
                text = handle.read(MAX_DESCRIPTION + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {where}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"{where} is longer than {MAX_DESCRIPTION} characters: not a description")
    return text


@app.command(epilog=examples(
    'ls "$(regctl resolve models:/iris-classifier@champion)"',
    "regctl resolve models:/iris-classifier/Production --json"))
def resolve(
    uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, models:/N/latest, models:/N/<stage>, "
                                             "models:/m-<id>, runs:/<run_id>/<path>, file://... or a path.")],
    json: Annotated[bool, typer.Option(
        "--json", help="Print JSON: uri, name, version, location (as stored), path, model_id, run_id.")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="First check the artifacts against the digest recorded "
                                                          "at registration (exit 4 if they differ).")] = False,
) -> None:
    """Print the absolute local path of the artifacts URI points at, and nothing else."""
    registry = open_registry()
    if verify:
        registry.verify(uri)
    resolution = registry.resolve(uri)
    render.print_json(resolution.to_json()) if json else render.out(f"{resolution.path}\n")


@app.command(epilog=examples(
    "regctl stage iris-classifier 4 Production --archive-existing",
    "regctl stage iris-classifier @challenger Staging"))
def stage(
    name: ModelName,
    version: Annotated[str, typer.Argument(help="Version number, or @ALIAS for the version an alias points at.")],
    stage: Annotated[str, typer.Argument(help="None, Staging, Production or Archived (any case).")],
    archive_existing: Annotated[bool, typer.Option("--archive-existing", help="Archive other versions in the target stage.")] = False,
    dry_run: DryRunOption = False,
) -> None:
    """Move VERSION of NAME to STAGE (MLflow's stage transition)."""
    change = open_registry(dry_run).transition_stage(name, version, stage, archive_existing=archive_existing)
    archived = f" (archived {', '.join(map(str, change.archived))})" if change.archived else ""
    _told(f"version {change.version}: {change.old_stage} -> {change.current_stage}{archived}")


@app.command(epilog=examples('regctl rename "iris.baseline model" iris-baseline'))
def rename(
    old: Annotated[str, typer.Argument(help="Current name.")],
    new: Annotated[str, typer.Argument(help="New name.")],
    dry_run: DryRunOption = False,
) -> None:
    """Rename a registered model, keeping its versions, tags and aliases."""
    open_registry(dry_run).rename(old, new)
    _told(f"renamed {old} to {new}")


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
) -> None:
    """Delete a registered model, or soft-delete one version."""
    registry = open_registry(dry_run)
    if not yes and not dry_run:
        _confirm_delete(registry, name, version)
    if version is None:
        registry.delete_model(name)
        _told(f"deleted model {name}")
    else:
        result = registry.delete_version(name, version)
        removed = f"; removed aliases {', '.join(result.aliases_removed)}" if result.aliases_removed else ""
        _told(f"deleted version {result.version} of {name}{removed}")


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


@app.command(epilog=examples(
    "regctl history iris-classifier --alias champion",
    "regctl history --json"))
def history(
    name: Annotated[Optional[str], typer.Argument(help="Only this model.")] = None,
    alias: Annotated[Optional[str], typer.Option("--alias", help="Only changes of this alias.")] = None,
    json: Annotated[bool, typer.Option(
        "--json", help="Print the journal's records as JSON: time, user, host, operation, model, target, "
                       "old, new (regctl's own fields; MLflow has no journal).")] = False,
    format: FormatOption = None,
    wide: WideOption = False,
) -> None:
    """Show the journal of changes regctl made, newest first."""
    registry = open_registry()
    records = [r.to_json() for r in registry.history(name, alias=alias)]
    fmt = output_format(format, json)
    if fmt == "json":
        render.print_json(records)
    elif records:
        render.history(records, fmt, wide)
    else:
        render.info(f"no changes recorded in {registry.location}")


@app.command(epilog=examples("regctl doctor", "regctl doctor --fix --json"))
def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Repair what is safe to repair: leftover temp files, dangling "
                                                    "aliases, wrong name fields, stale alias snapshots, regctl 0.1 "
                                                    "digest tags, interrupted changes.")] = False,
    json: Annotated[bool, typer.Option(
        "--json", help="Print the report as JSON: store, ok, problems, warnings, fixed (each with kind, path, "
                       "message, fixable), notes.")] = False,
) -> None:
    """Check the whole store: problems are damage (exit 4 when one remains); warnings, such as states
    MLflow itself leaves, are printed but exit 0."""
    found = open_registry().doctor(fix=fix)
    State.changed = bool(found.fixed)
    render.print_json(found.to_json()) if json else render.line("\n".join(render.doctor_lines(found.to_json())))
    if found.problems:
        raise StoreError(f"{len(found.problems)} problem(s) found in the store {found.store}")


@app.command(epilog=examples("regctl verify models:/iris-classifier@champion", "regctl verify models:/iris-classifier/4 --json"))
def verify(
    uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, ... of a registered version.")],
    json: Annotated[bool, typer.Option(
        "--json", help="Print JSON: uri, name, version, path, digest, files.")] = False,
) -> None:
    """Check a version's artifacts against the digest recorded when it was registered (exit 4 if they differ)."""
    result = open_registry().verify(uri)
    if json:
        render.print_json(result.to_json())
        return
    render.line(f"{result.digest}  {result.path}")
    render.info(f"{result.uri}: {result.files} file(s) match the registered digest")


@app.command(epilog=examples(
    "source <(regctl completion bash)",
    "regctl completion fish > ~/.config/fish/completions/regctl.fish"))
def completion(
    shell: Annotated[str, typer.Argument(
        click_type=click.Choice(["bash", "zsh", "fish"]), help="bash, zsh or fish.")],
) -> None:
    """Print the completion script for SHELL (model names, aliases, versions and stages come from the store)."""
    render.out(script(shell))


@app.command("man", epilog=examples("regctl man | man -l -", "regctl man > ~/.local/share/man/man1/regctl.1"))
def man_page() -> None:
    """Print regctl's manual page (roff); pip install also puts it where man finds it."""
    render.out(page())


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


@app.command(epilog=examples(
    "regctl search \"name = 'iris-classifier' AND tags.validation_status = 'approved'\"",
    "regctl search \"tags.\\`owner/team\\` LIKE 'ml-%'\" --models --json"))
def search(
    filter: Annotated[Optional[str], typer.Argument(
        metavar="[FILTER]", help="MLflow's filter: name, version_number, run_id, source_path, tags.<key> "
                                 "(tags.`key with spaces`) with =, !=, LIKE, ILIKE, IN, NOT IN, joined by AND.")] = None,
    models: Annotated[bool, typer.Option("--models", help="Search registered models (keys: name, tags.<key>).")] = False,
    order_by: Annotated[Optional[List[str]], typer.Option(
        "--order-by", metavar="KEY [ASC|DESC]",
        help="Order by name, version_number, creation_timestamp or last_updated_timestamp; repeatable. "
             "Default as MLflow's: versions newest update first, models by name.")] = None,
    max_results: Annotated[Optional[int], typer.Option(
        "--max-results", metavar="N", help="At most N results (default as MLflow's client: 10000 versions, 100 models).")] = None,
    json: JsonOption = False,
    format: FormatOption = None,
    wide: WideOption = False,
) -> None:
    """Search versions (or --models) of every model with MLflow's filter grammar; the same answers as MLflow's search."""
    fmt = output_format(format, json)
    registry = open_registry()
    limit = max_results if max_results is not None else SEARCH_MODELS_DEFAULT if models else SEARCH_VERSIONS_DEFAULT
    if models:
        found = registry.search_models(filter, order_by or [], limit)
        _show_listing(found, fmt, wide, render.models, "no registered model matches")
    else:
        with render.progress(None, "searching") as progress:
            found = registry.search_versions(filter, order_by or [], limit, progress=progress)
        _show_listing(found, fmt, wide, render.search_versions, "no version matches")
    if found.more:
        render.info(f"{found.more} more match(es) not shown; --max-results {len(found) + found.more} shows all")


@app.command(epilog=examples("regctl download models:/iris-classifier@champion ./champion"))
def download(
    uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, models:/N/latest, models:/N/<stage>, "
                                             "models:/m-<id> or runs:/<run_id>/<path>.")],
    dest: Annotated[str, typer.Argument(help="New directory for the files (an empty one is replaced).")],
    json: JsonOption = False,
) -> None:
    """Copy the artifacts URI points at into DEST, checked against the digest recorded at registration (exit 4 if they differ)."""
    with render.progress(None, "downloading") as progress:
        result = open_registry().download(uri, dest, progress=progress)
    if json:
        render.print_json(result.to_json())
    else:
        render.line(result.dest)
        checked = "digest checked" if result.digest else "no recorded digest to check"
        render.info(f"copied {result.files} file(s), {result.bytes} bytes, from {result.source} ({checked})")


@app.command(epilog=examples("regctl diff models:/iris-classifier/1 models:/iris-classifier@champion"))
def diff(
    a: Annotated[str, typer.Argument(help="A registered version: models:/N/V, models:/N@A, ...")],
    b: Annotated[str, typer.Argument(help="Another registered version.")],
    json: JsonOption = False,
) -> None:
    """Show what differs between two versions: stage, aliases, tags, description, source, and MLmodel's flavors, signature and requirements. Exit 1 when they differ."""
    result = open_registry().diff(a, b)
    if json:
        render.print_json(result.to_json())
    else:
        render.diff(result.to_json())
    if not result.equal:
        raise typer.Exit(1)


@app.command(epilog=examples("regctl gc iris-classifier --keep 5 --dry-run", "regctl gc --all-models --keep 10"))
def gc(
    keep: Annotated[int, typer.Option("--keep", metavar="N", min=0, help="Keep the newest N live versions.")],
    name: Annotated[Optional[str], typer.Argument(help="Registered model name (or --all-models).")] = None,
    keep_aliased: Annotated[bool, typer.Option(
        "--keep-aliased", help="Do not count aliased versions towards N (they are never deleted anyway).")] = False,
    delete_staged: Annotated[bool, typer.Option(
        "--delete-staged", help="Also delete old versions in Staging or Production (spared by default).")] = False,
    all_models: Annotated[bool, typer.Option("--all-models", help="Collect every registered model, each in its own change.")] = False,
    dry_run: DryRunOption = False,
    json: JsonOption = False,
) -> None:
    """Soft-delete old versions of NAME (as delete --version does), never one an alias points at."""
    if (name is None) == (not all_models):
        raise InvalidInput("give a model NAME or --all-models, not both or neither")
    registry = open_registry(dry_run)
    with render.progress(None, "collecting") as progress:
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
    json: JsonOption = False,
) -> None:
    """Copy registered models to another store: versions (with their files), tags, aliases, stages, descriptions."""
    origin = Registry(source if source is not None else State.store_option, notify=render.waiting)
    with render.progress(None, "pushing") as update:
        report = origin.push(to, names or None, dry_run=dry_run, progress=None if json else update)
    State.changed = not dry_run
    if json:
        render.print_json(report.to_json())
    else:
        for text in report.lines():
            render.line(text)
        render.info(report.summary())


def run(argv) -> int:
    """Run the CLI on ``argv`` and return the exit code; errors are reported here only."""
    root = command()
    State.store_option, State.traceback, State.dry_run, State.changed = None, False, False, False
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
    except render.OutputClosed as closed:
        if State.changed:  # the change is made: output that cannot be written does not turn it into a failure
            render.silence_stdout()
            return 0
        if isinstance(closed.error, BrokenPipeError):
            raise BrokenPipeError from None  # main() ends quietly
        raise closed.error from None  # main() says the output cannot be written
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        return report(exc, State.traceback)
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
