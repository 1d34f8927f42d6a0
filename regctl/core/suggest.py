""""Did you mean" for a model or alias name that does not exist, from the names that do.

``core.rules`` makes the NotFound errors for models and aliases with it, so that every
command on every store (the fast ``resolve`` path included) suggests the same way.
"""


from regctl.core.names import show


def did_you_mean(word: str, candidates) -> str:
    """``"; did you mean 'x'?"`` for the candidate closest to ``word`` (case aside), or ``""``."""
    by_lower: dict = {}
    for candidate in candidates:
        if candidate != word:
            by_lower.setdefault(candidate.lower(), candidate)
    import difflib  # loaded by the one error that suggests a name

    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {show(by_lower[matches[0]])}?" if matches else ""
