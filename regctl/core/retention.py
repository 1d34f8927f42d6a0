"""Which versions ``gc`` deletes: a pure rule, shared by every backend."""

from regctl.core.names import ACTIVE_STAGES


def choose(live: dict, aliased: dict, keep: int, *, keep_aliased: bool, delete_staged: bool) -> "tuple[list, dict]":
    """``(deleted, protected)`` among the ``live`` versions (``{number: stage}``, newest first).

    The newest ``keep`` stay (aliased ones not counted with ``keep_aliased``). Of the rest, a
    version an alias points at (``aliased``: ``{number: [alias, ...]}``) is never deleted, one in
    Staging or Production only with ``delete_staged``; ``protected`` says why each was kept.
    """
    counted = [n for n in live if not (keep_aliased and n in aliased)]
    kept = counted[:keep]
    deleted, protected = [], {}
    for number, stage in live.items():
        if number in kept or (keep_aliased and number in aliased):
            continue
        if number in aliased:
            protected[number] = f"alias {', '.join(aliased[number])}"
        elif stage in ACTIVE_STAGES and not delete_staged:
            protected[number] = f"stage {stage}"
        else:
            deleted.append(number)
    return deleted, protected
