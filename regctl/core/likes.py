"""LIKE and ILIKE as MLflow evaluates them: in its file store (``like``) and in SQLite (``sql_like``)."""

import re
from functools import lru_cache


@lru_cache(maxsize=512)
def _like_pieces(pattern: str, flags: int, end: str) -> tuple:
    """The text between the ``%`` of a LIKE pattern as regular expressions of fixed length (``_`` is
    ``.``), empty ones left out but the first; the last ends with ``end`` unless the pattern ends with ``%``."""
    pieces = pattern.split("%")
    last = len(pieces) - 1
    return tuple(re.compile(re.escape(piece).replace("_", ".") + ("" if i < last or pattern.endswith("%") else end),
                            flags) for i, piece in enumerate(pieces) if piece or i == 0)


def _pieces_match(text: str, pieces: tuple, *, one_line: bool) -> bool:
    """Whether ``text`` is the pieces with anything between them, each found leftmost in turn (ending
    earlier never leaves fewer places for the pieces that follow); ``one_line``: what lies between two
    pieces holds no line break. O(len(text) * len(pattern))."""
    first, *rest = pieces
    found = first.match(text)
    for piece in rest:
        if found is None:
            return False
        line_end = text.find("\n", found.end()) if one_line else -1
        found = piece.search(text, found.end())
        if found is not None and 0 <= line_end < found.start():
            found = None
    return found is not None


def like(text: str, pattern: str, ignore_case: bool = False) -> bool:
    """MLflow's LIKE in its file store: whether its regular expression ``^piece.*piece.*...$`` matches.

    MLflow turns ``%`` into ``.*`` (no newline; after a final ``%`` the rest is left unread) and
    ``_`` into ``.``: a regular expression that backtracks exponentially in the number of ``%``.
    """
    return _pieces_match(text, _like_pieces(pattern, re.IGNORECASE if ignore_case else 0, "$"), one_line=True)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def sql_like(text: str, pattern: str, ignore_case: bool = False) -> bool:
    """LIKE as MLflow's SQL store evaluates it in SQLite: ``%`` and ``_`` match newlines too, the
    whole text must match, and ILIKE (``lower() LIKE lower()``) folds ASCII letters only."""
    if ignore_case:
        text, pattern = text.translate(_ASCII_LOWER), pattern.translate(_ASCII_LOWER)
    return _pieces_match(text, _like_pieces(pattern, re.DOTALL, r"\Z"), one_line=False)
