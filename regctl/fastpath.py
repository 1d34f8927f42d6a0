"""``regctl [--store S] resolve URI [--json]`` without loading the full CLI.

``resolve`` runs inside shell pipelines, often many times per job, so its cost
is mostly interpreter start-up and imports. This module recognises exactly the
plain forms of that command and answers them with the standard library and
PyYAML only; any other argument list (help, unknown options, other commands)
returns None and goes to the Typer CLI, which accepts the same forms.
"""

import sys


def parse(argv):
    """Return ``(store, uri, as_json)`` for a plain resolve call, else None."""
    store, args, i = None, list(argv), 0
    while i < len(args) and args[i].startswith("--store"):
        if args[i] == "--store" and i + 1 < len(args):
            store, i = args[i + 1], i + 2
        elif args[i].startswith("--store="):
            store, i = args[i][len("--store="):], i + 1
        else:
            return None
    rest = args[i:]
    if not rest or rest[0] != "resolve":
        return None
    rest = rest[1:]
    as_json = "--json" in rest
    positional = [a for a in rest if a != "--json"]
    if len(positional) != 1 or positional[0].startswith("-") or rest.count("--json") > 1:
        return None
    return store, positional[0], as_json


def run(argv):
    """Answer a plain resolve call and return its exit code, or None to defer to the CLI."""
    parsed = parse(argv)
    if parsed is None:
        return None
    store_option, uri, as_json = parsed
    from regctl.report import report

    try:
        from regctl.remote import server_url

        url = server_url(store_option)
        if url is not None:  # an MLflow tracking server
            from regctl.reststore import RestBackend

            resolution = RestBackend(url).resolve(uri)
        else:
            from regctl.locations import store_root
            from regctl.resolve import resolve
            from regctl.store import Store

            resolution = resolve(Store(store_root(store_option)), uri)
    except Exception as exc:  # every error goes through report()
        return report(exc, argv)
    if as_json:
        import json

        # Same bytes as render.print_json, which the full CLI uses for the same command.
        sys.stdout.write(json.dumps(resolution.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(f"{resolution.path}\n")
    return 0
