"""Is the store an MLflow tracking server? Standard library only: the resolve fast path asks first."""

from __future__ import annotations

import os
from collections.abc import Mapping

SERVER_SCHEMES = ("http://", "https://")


def is_server(value: str | None) -> bool:
    return isinstance(value, str) and value[:8].lower().startswith(SERVER_SCHEMES)


def server_url(option: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The server URL when the chosen store value is ``http(s)://...``, else None.

    The chosen value is ``--store``, else the first set of ``REGCTL_STORE``,
    ``MLFLOW_REGISTRY_URI`` and ``MLFLOW_TRACKING_URI`` (MLflow's client too uses
    the registry URI when set, else the tracking URI).
    """
    from regctl.core.locations import chosen_value

    chosen = chosen_value(option, environ)
    return chosen[0] if chosen is not None and is_server(chosen[0]) else None
