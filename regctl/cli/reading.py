"""The commands that read: models, versions, describe, alias list, resolve, search, history, verify, diff, download, doctor, store."""


import sys
from typing import Annotated, List, Optional

import typer

from regctl.api import SEARCH_MODELS_DEFAULT, SEARCH_VERSIONS_DEFAULT
from regctl.cli import entities, progressbar, render
from regctl.cli.app import (
    MAX_DESCRIPTION,
    DryRunOption,
    FormatOption,
    JsonOnlyOption,
    JsonOption,
    ModelName,
    State,
    WideOption,
    _told,
    alias_app,
    app,
    examples,
    open_registry,
    output_format,
)
from regctl.core.errors import InvalidInput, StoreError


@app.command(epilog=examples(
    "regctl models",
    "regctl models --format csv > models.csv"))
def models(json: JsonOption = False, format: FormatOption = None, wide: WideOption = False) -> None:
    """List registered models with latest version, aliases, tags and last update."""
    registry = open_registry()
    _show_listing(registry.models(), output_format(format, json), wide, entities.models,
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
                  wide, entities.versions, f"model {name} has no versions")


def _show_listing(listing, fmt: str, wide: bool, show_table, empty: str) -> None:
    if fmt == "json":
        render.print_json(listing.to_json())
    elif len(listing):
        show_table(listing.items, fmt, wide)
    elif not listing.damage():
        render.info(empty)
    damage = listing.damage()
    if damage:  # what could be read was listed; the damage is still an error
        raise damage


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
        entities.aliases(mapping, fmt, wide)
    else:
        render.info(f"model {name} has no aliases")


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
        change = registry.set_description(name, _description_text(set_text, set_file), version=version, alias=alias)
        _told("description updated")
        if json:
            render.print_json(change.to_json())
        return
    if version is None and alias is None:
        view = registry.get_model(name).to_json()
        render.print_json(view) if fmt == "json" else entities.model_details(view, fmt)
    else:
        view = registry.get_version(name, version, alias=alias).to_json()
        render.print_json(view) if fmt == "json" else entities.version_details(view, fmt)


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
    'p=$(regctl resolve models:/iris-classifier@champion) || exit; ls "$p"',
    "regctl resolve models:/iris-classifier/Production --json"))
def resolve(
    uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, models:/N/latest, models:/N/<stage>, "
                                             "models:/m-<id>, runs:/<run_id>/<path>, file://... or a path.")],
    json: Annotated[bool, typer.Option(
        "--json", help="Print JSON: uri, name, version, location (as stored), path, model_id, run_id.")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="First check the artifacts against the digest recorded "
                                                          "at registration (exit 4 if they differ).")] = False,
) -> None:
    """Print the absolute local path of the artifacts URI points at (a remote location such as s3://... or
    mlflow-artifacts:/... as it is), and nothing else."""
    registry = open_registry()
    if verify:
        registry.verify(uri)
    resolution = registry.resolve(uri)
    render.print_json(resolution.to_json()) if json else render.out(f"{resolution.path}\n")


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
        entities.history(records, fmt, wide)
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
    render.print_json(found.to_json()) if json else render.line("\n".join(entities.doctor_lines(found.to_json())))
    if found.problems:
        raise StoreError(f"{len(found.problems)} problem(s) found in the store {found.store}")


@app.command(epilog=examples("regctl verify models:/iris-classifier@champion", "regctl verify models:/iris-classifier/4 --json"))
def verify(
    uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, ... of a registered version.")],
    json: Annotated[bool, typer.Option(
        "--json", help="Print JSON: uri, name, version, path, digest, files.")] = False,
) -> None:
    """Check a version's artifacts against the digest recorded when it was registered (exit 4 if they differ;
    exit 8 for artifacts at a remote location, which regctl does not read)."""
    result = open_registry().verify(uri)
    if json:
        render.print_json(result.to_json())
        return
    render.line(f"{result.digest}  {result.path}")
    render.info(f"{result.uri}: {result.files} file(s) match the registered digest")


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
        _show_listing(found, fmt, wide, entities.models, "no registered model matches")
    else:
        with progressbar.progress(None, "searching") as progress:
            found = registry.search_versions(filter, order_by or [], limit, progress=progress)
        _show_listing(found, fmt, wide, entities.search_versions, "no version matches")
    if found.more:
        render.info(f"{found.more} more match(es) not shown; --max-results {len(found) + found.more} shows all")


@app.command(epilog=examples("regctl download models:/iris-classifier@champion ./champion"))
def download(
    uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, models:/N/latest, models:/N/<stage>, "
                                             "models:/m-<id> or runs:/<run_id>/<path>.")],
    dest: Annotated[str, typer.Argument(help="New directory for the files, a path or a file: URI (an empty one is replaced).")],
    json: JsonOnlyOption = False,
) -> None:
    """Copy the artifacts URI points at into DEST, checked against the digest recorded at registration
    (exit 4 if they differ; exit 8 for a remote location regctl does not fetch: s3:, gs:, dbfs:, ..., or
    mlflow-artifacts: without its server)."""
    with progressbar.progress(None, "downloading", unit="bytes") as progress:
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
    json: JsonOnlyOption = False,
) -> None:
    """Show what differs between two versions: stage, aliases, tags, description, source, and MLmodel's flavors, signature and requirements. Exit 1 when they differ."""
    result = open_registry().diff(a, b)
    if json:
        render.print_json(result.to_json())
    else:
        entities.diff(result.to_json())
    if not result.equal:
        raise typer.Exit(1)


@app.command("store", epilog=examples("regctl store", "regctl --store sqlite:///mlflow.db store --json"))
def store_command(json: Annotated[bool, typer.Option(
        "--json", help="Print JSON: store, kind (file, sqlite, server), origin, shadows.")] = False) -> None:
    """Show which store commands use, its kind, and what chose it; read nothing in it."""
    from regctl.api import store_in_use
    from regctl.core.locations import shadow_notice

    found = store_in_use(State.store_option)
    if json:
        render.print_json(found)
        return
    origin = found["origin"]
    chosen = ("the directory rule (no --store, REGCTL_STORE, MLFLOW_REGISTRY_URI or MLFLOW_TRACKING_URI)"
              if origin == "default" else origin)
    render.line(f"store: {found['store']}")
    render.line(f"kind: {found['kind']}")
    render.line(f"chosen by: {chosen}")
    for variable, value in found["shadows"].items():
        render.info(f"regctl: note: {shadow_notice(variable, value)}")
