"""The commands that read: models, versions, alias list, describe, resolve, history, doctor,
verify, search, download, diff, store, completion, man."""

import sys
from typing import List, Optional

from regctl.api import SEARCH_MODELS_DEFAULT, SEARCH_VERSIONS_DEFAULT
from regctl.cli import entities, progressbar, render
from regctl.cli.session import State, open_registry, output_format, told
from regctl.core.errors import InvalidInput, StoreError

MAX_DESCRIPTION = 1 << 24  # characters read for --set-file: a description, not /dev/zero


def models(json: bool = False, format: Optional[str] = None, wide: bool = False) -> None:
    registry = open_registry()
    _show_listing(registry.models(), output_format(format, json), wide, entities.models,
                  f"no registered models in {registry.location}")


def versions(name: str, all: bool = False, limit: Optional[int] = None, json: bool = False,
             format: Optional[str] = None, wide: bool = False) -> None:
    _show_listing(open_registry().versions(name, include_deleted=all, limit=limit), output_format(format, json),
                  wide, entities.versions, f"model {name} has no versions")


def _show_listing(listing, fmt: str, wide: bool, show_table, empty: str) -> None:
    damage = listing.damage()
    _show(listing.to_json() if fmt == "json" else listing.items, fmt, wide, show_table, None if damage else empty)
    if damage:  # what could be read was listed; the damage is still an error
        raise damage


def _show(data, fmt: str, wide: bool, show_table, empty: Optional[str]) -> None:
    """``data`` as JSON, or drawn by ``show_table``; when there is none, ``empty`` said on stderr (None: nothing)."""
    if fmt == "json":
        render.print_json(data)
    elif data:
        show_table(data, fmt, wide)
    elif empty is not None:
        render.info(empty)


def alias_list(name: str, json: bool = False, format: Optional[str] = None, wide: bool = False) -> None:
    mapping = dict(open_registry().aliases(name))
    _show(mapping, output_format(format, json), wide, entities.aliases, f"model {name} has no aliases")


def describe(name: str, version: Optional[str] = None, alias: Optional[str] = None, set_text: Optional[str] = None,
             set_file: Optional[str] = None, json: bool = False, format: Optional[str] = None,
             dry_run: bool = False) -> None:
    if version is not None and alias is not None:
        raise InvalidInput("give --version or --alias, not both")
    fmt = output_format(format, json)
    registry = open_registry(dry_run)
    if set_text is not None or set_file is not None:
        change = registry.set_description(name, _description_text(set_text, set_file), version=version, alias=alias)
        told("description updated")
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


def resolve(uri: str, json: bool = False, verify: bool = False) -> None:
    registry = open_registry()
    if verify:
        registry.verify(uri)
    resolution = registry.resolve(uri)
    render.print_json(resolution.to_json()) if json else render.out(f"{resolution.path}\n")


def history(name: Optional[str] = None, alias: Optional[str] = None, json: bool = False,
            format: Optional[str] = None, wide: bool = False) -> None:
    registry = open_registry()
    records = [r.to_json() for r in registry.history(name, alias=alias)]
    _show(records, output_format(format, json), wide, entities.history, f"no changes recorded in {registry.location}")


def doctor(fix: bool = False, json: bool = False) -> None:
    found = open_registry().doctor(fix=fix)
    State.changed = bool(found.fixed)
    render.print_json(found.to_json()) if json else render.line("\n".join(entities.doctor_lines(found.to_json())))
    if found.problems:
        raise StoreError(f"{len(found.problems)} problem(s) found in the store {found.store}")


def verify(uri: str, json: bool = False) -> None:
    result = open_registry().verify(uri)
    if json:
        render.print_json(result.to_json())
        return
    render.line(f"{result.digest}  {result.path}")
    render.info(f"{result.uri}: {result.files} file(s) match the registered digest")


def search(filter: Optional[str] = None, models: bool = False, order_by: Optional[List[str]] = None,
           max_results: Optional[int] = None, json: bool = False, format: Optional[str] = None,
           wide: bool = False) -> None:
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


def download(uri: str, dest: str, json: bool = False) -> None:
    with progressbar.progress(None, "downloading", unit="bytes") as progress:
        result = open_registry().download(uri, dest, progress=progress)
    if json:
        render.print_json(result.to_json())
    else:
        render.line(result.dest)
        checked = "digest checked" if result.digest else "no recorded digest to check"
        render.info(f"copied {result.files} file(s), {result.bytes} bytes, from {result.source} ({checked})")


def diff(a: str, b: str, json: bool = False) -> Optional[int]:
    result = open_registry().diff(a, b)
    if json:
        render.print_json(result.to_json())
    else:
        entities.diff(result.to_json())
    return None if result.equal else 1


def store_command(json: bool = False) -> None:
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


def completion(shell: str) -> None:
    from regctl.cli.completion import script

    render.out(script(shell))


def man_page() -> None:
    from regctl.cli.manual import page

    render.out(page())
