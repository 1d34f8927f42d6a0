"""The order of a search's answer: MLflow's, each key in turn, missing values last."""

from typing import Sequence


def sort(items: Sequence, found, kind) -> list:
    """Items in the order of ``found`` (a ``filters.Search``) for ``kind`` (a ``filters.Kind``): MLflow's,
    each key in turn, missing values last.

    One stable sort per key, the last key first, each on the values themselves (``reverse`` keeps
    equal items in their order): the order a sort on the tuple of every key gives, without a
    Python-level comparison per pair of items."""
    ordered = list(items)
    for order in reversed(found.order):
        field = kind.field(order.key)
        present: list = []
        missing: list = []
        for item in ordered:
            (missing if getattr(item, field, None) is None else present).append(item)
        present.sort(key=lambda item: getattr(item, field), reverse=not order.ascending)
        ordered = present + missing
    return ordered
