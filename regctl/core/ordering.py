"""The order of a search's answer: MLflow's, each key in turn, missing values last."""

from typing import Sequence


class _Last:
    """Sorts after everything: a missing value, as MLflow places None."""

    def __lt__(self, other):
        return False

    def __gt__(self, other):
        return not isinstance(other, _Last)

    def __eq__(self, other):
        return isinstance(other, _Last)


class _Reversed:
    def __init__(self, value):
        self.value = value

    def __lt__(self, other):
        return other.value < self.value

    def __eq__(self, other):
        return other.value == self.value


def sort(items: Sequence, found, kind) -> list:
    """Items in the order of ``found`` (a ``filters.Search``) for ``kind`` (a ``filters.Kind``): MLflow's,
    each key in turn, missing values last."""
    def key(item):
        parts = []
        for order in found.order:
            value = getattr(item, kind.field(order.key), None)
            rank = (1, _Last()) if value is None else (0, value)
            parts.append(rank if order.ascending else (rank[0], _Reversed(rank[1])))
        return tuple(parts)

    return sorted(items, key=key)
