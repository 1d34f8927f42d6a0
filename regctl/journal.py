"""The journal: one JSON line per change, with who made it, where and when."""

import os

from regctl.store import Store, now_ms


def actor() -> str:
    """Who is writing: the local user, plus the CI identity when one is present."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    ci = os.environ.get("GITHUB_ACTOR")
    if ci:
        run = ""
        if os.environ.get("GITHUB_RUN_ID"):
            server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
            run = f" {server}/{os.environ.get('GITHUB_REPOSITORY', '')}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
        return f"{user} (github:{ci}{run})"
    for variable in ("CI_JOB_URL", "BUILD_URL", "CIRCLE_BUILD_URL"):
        if os.environ.get(variable):
            return f"{user} ({os.environ[variable]})"
    return user


def record(store: Store, operation: str, model, target, old, new) -> None:
    """Append one change to the store's journal (the caller holds the model's lock)."""
    import socket

    store.append_journal({
        "time": now_ms(), "user": actor(), "host": socket.gethostname(), "operation": operation,
        "model": model, "target": target, "old": old, "new": new,
    })
