""""Did you mean" for a model or alias name that does not exist, from the names that do.

The one place where NotFound errors for models and aliases are made, so that every
command (the fast ``resolve`` path included) suggests the same way, on the same line.
"""

import difflib

from regctl.core.errors import NotFound
from regctl.core.names import show


def did_you_mean(word: str, candidates) -> str:
    """``"; did you mean 'x'?"`` for the candidate closest to ``word`` (case aside), or ``""``."""
    by_lower: dict = {}
    for candidate in candidates:
        if candidate != word:
            by_lower.setdefault(candidate.lower(), candidate)
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {show(by_lower[matches[0]])}?" if matches else ""


def model_not_found(store, name: str) -> NotFound:
    """NotFound for model ``name``, suggesting the closest existing model name."""
    try:
        names = store.model_names()
    except Exception:  # the suggestion is a courtesy: a store that cannot be listed gets none
        names = []
    return NotFound(f"registered model {show(name)} not found{did_you_mean(name, names)}")


def alias_not_found(store, name: str, alias: str) -> NotFound:
    """NotFound for ``alias`` of model ``name``, suggesting the closest alias the model has."""
    try:
        aliases = list(store.read_aliases(name))
    except Exception:
        aliases = []
    return NotFound(f"alias {show(alias)} of model {show(name)} not found{did_you_mean(alias, aliases)}")
