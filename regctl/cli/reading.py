"""The command line of the commands that read (models, versions, describe, alias list, resolve, search,
history, verify, diff, download, doctor, store): their arguments, options and help. What each does is
the function of the same name in ``regctl.cli.actions.reading``."""

from typing import Annotated, List, Optional

import typer

from regctl.cli.actions import reading as do
from regctl.cli.app import (
    DryRunOption,
    FormatOption,
    JsonOnlyOption,
    JsonOption,
    ModelName,
    WideOption,
    alias_app,
    app,
    examples,
)


@app.command(epilog=examples(
    "regctl models",
    "regctl models --format csv > models.csv"))
def models(json: JsonOption = False, format: FormatOption = None, wide: WideOption = False) -> None:
    """List registered models with latest version, aliases, tags and last update."""
    do.models(json, format, wide)


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
    do.versions(name, all, limit, json, format, wide)


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
    do.alias_list(name, json, format, wide)


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
    do.describe(name, version, alias, set_text, set_file, json, format, dry_run)


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
    do.resolve(uri, json, verify)


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
    do.history(name, alias, json, format, wide)


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
    do.doctor(fix, json)


@app.command(epilog=examples("regctl verify models:/iris-classifier@champion", "regctl verify models:/iris-classifier/4 --json"))
def verify(
    uri: Annotated[str, typer.Argument(help="models:/N/V, models:/N@A, ... of a registered version.")],
    json: Annotated[bool, typer.Option(
        "--json", help="Print JSON: uri, name, version, path, digest, files.")] = False,
) -> None:
    """Check a version's artifacts against the digest recorded when it was registered (exit 4 if they differ;
    exit 8 for artifacts at a remote location, which regctl does not read)."""
    do.verify(uri, json)


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
    do.search(filter, models, order_by, max_results, json, format, wide)


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
    do.download(uri, dest, json)


@app.command(epilog=examples("regctl diff models:/iris-classifier/1 models:/iris-classifier@champion"))
def diff(
    a: Annotated[str, typer.Argument(help="A registered version: models:/N/V, models:/N@A, ...")],
    b: Annotated[str, typer.Argument(help="Another registered version.")],
    json: JsonOnlyOption = False,
) -> Optional[int]:
    """Show what differs between two versions: stage, aliases, tags, description, source, and MLmodel's flavors, signature and requirements. Exit 1 when they differ."""
    return do.diff(a, b, json)


@app.command("store", epilog=examples("regctl store", "regctl --store sqlite:///mlflow.db store --json"))
def store_command(json: Annotated[bool, typer.Option(
        "--json", help="Print JSON: store, kind (file, sqlite, server), origin, shadows.")] = False) -> None:
    """Show which store commands use, its kind, and what chose it; read nothing in it."""
    do.store_command(json)
