"""``regctl [--store S] resolve URI [--json]`` without loading the full CLI.

``resolve`` runs inside shell pipelines, often many times per job, so its cost
is mostly interpreter start-up and imports. This module recognises exactly the
plain forms of that command and answers them with the standard library and
PyYAML only; any other argument list (help, unknown options, other commands)
returns None and goes to the Typer CLI, which accepts the same forms.
"""

import sys


def parse(argv):
    """Return ``(store, uri, as_json)`` for a plain resolve call, else None.

    ``--store S`` (or ``--store=S``) may come before or after ``resolve``, as in the CLI;
    the last one given wins, as there.
    """
    store, kept, args, i = None, [], list(argv), 0
    while i < len(args):
        arg = args[i]
        if arg == "--store":
            if i + 1 >= len(args) or args[i + 1].startswith("-"):
                return None  # let the CLI report it
            store, i = args[i + 1], i + 2
        elif arg.startswith("--store="):
            store, i = arg[len("--store="):], i + 1
        elif arg == "--":
            return None
        else:
            kept.append(arg)
            i += 1
    if not kept or kept[0] != "resolve":
        return None
    rest = kept[1:]
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
    from regctl.core.locations import shadowed

    if shadowed(store_option) is not None:
        return None  # the full command says which store REGCTL_STORE hides
    try:
        resolution = _resolution(store_option, uri)
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # every error goes through report()
        from regctl.cli.report import report

        return report(exc)  # the fast path takes no --traceback: with it, the CLI answers
    if as_json:
        import json

        # Same bytes as render.print_json, which the full CLI uses for the same command.
        sys.stdout.write(json.dumps(resolution.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(f"{resolution.path}\n")
    return 0


def _resolution(store_option, uri: str):
    """``resolve`` on whichever store ``choice.choose`` picks, loading only that store's reads."""
    from regctl.core.choice import choose

    choice = choose(store_option)
    if choice.kind == "server":
        from regctl.backends.rest.reads import RestReads
        from regctl.cli.render import waiting

        return _suggesting(RestReads(choice.target, notify=waiting), uri)
    if choice.kind == "sqlite":
        from regctl.backends.sqlite.reads import SqliteReads

        return _suggesting(SqliteReads(choice.target), uri)
    from regctl.backends.file.resolve import resolve
    from regctl.backends.file.store import Store

    return resolve(Store(choice.target), uri)


def _suggesting(backend, uri: str):
    """``backend.resolve(uri)``, a missing model or alias said with its "did you mean" (as the API does)."""
    from regctl.core.rules import AliasNotFound, ModelNotFound, with_suggestion

    try:
        return backend.resolve(uri)
    except (ModelNotFound, AliasNotFound) as error:
        raise with_suggestion(error, lambda: [m.name for m in backend.models()],
                              lambda name: backend.aliases(name)) from None
