"""MLflow's search filter grammar for model versions and registered models, pure.

    clauses = parse_filter("name = 'iris' AND tags.`data set` LIKE '%v2%'", VERSIONS)
    matcher(search(...), VERSIONS)(version)    # a ``results.ModelVersion``

A filter is comparisons joined by ``AND``. A comparison is ``KEY OP VALUE``:

* KEY: an attribute (versions: ``name``, ``version_number``, ``run_id``,
  ``source_path``; models: ``name``), optionally written ``attribute.<key>``, or
  a tag ``tags.<key>`` / ``tag.<key>``; a key with spaces or dots is quoted with
  backticks or double quotes (``tags.`my key```).
* OP: ``=``, ``!=``, ``LIKE``, ``ILIKE`` (``%`` any text, ``_`` one character),
  ``IN``/``NOT IN`` (``name``, and ``run_id`` of versions, against a list of
  quoted strings), and ``<``, ``<=``, ``>``, ``>=`` for ``version_number``.
* VALUE: a string in single or double quotes (taken as written between the
  quotes, as MLflow does), a number for ``version_number``, or a list.

Evaluation follows ``mlflow.utils.search_utils`` (``SearchModelVersionUtils``,
``SearchModelUtils``) of MLflow 3: a missing tag or attribute matches nothing,
not even ``!=``; ``mlflow.prompt.is_prompt`` is treated as ``'false'`` where
missing; unless a filter names that tag, prompts are left out; soft-deleted
versions are never found. The ordering (``order_by``) and its default are
MLflow's too. regctl is stricter than MLflow's parser in one way: clauses must
be joined by exactly one ``AND`` (MLflow also takes ``a = 'x' b = 'y'``).
"""

import ast
import re
from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence, Tuple

from regctl.core.errors import InvalidInput
from regctl.core.likes import like, sql_like
from regctl.core.ordering import sort  # noqa: F401  (filters.sort, as before)
from regctl.core.prompts import PROMPT_TAG

DELETED_STAGE = "Deleted_Internal"


@dataclass(frozen=True)
class Kind:
    """What is searched: its attributes and how they are compared and ordered."""

    name: str
    attributes: frozenset
    numeric: frozenset
    list_keys: frozenset
    order_keys: frozenset
    default_order: Tuple[str, ...]
    fields: Tuple[Tuple[str, str], ...]  # filter key -> field of the result object

    def field(self, key: str) -> str:
        return dict(self.fields).get(key, key)


VERSIONS = Kind(
    name="versions",
    attributes=frozenset({"name", "version_number", "run_id", "source_path"}),
    numeric=frozenset({"version_number", "creation_timestamp", "last_updated_timestamp"}),
    list_keys=frozenset({"name", "run_id"}),
    order_keys=frozenset({"name", "version_number", "creation_timestamp", "last_updated_timestamp"}),
    default_order=("last_updated_timestamp DESC", "name ASC", "version_number DESC"),
    fields=(("version_number", "version"), ("source_path", "source")),
)
MODELS = Kind(
    name="models",
    attributes=frozenset({"name"}),
    numeric=frozenset({"creation_timestamp", "last_updated_timestamp"}),
    list_keys=frozenset({"name"}),
    order_keys=frozenset({"name", "creation_timestamp", "last_updated_timestamp"}),
    default_order=(),
    fields=(),
)
# MLflow's SQL store (a database, a tracking server) orders models by name and last update only,
# the latter also called ``timestamp``
SQL_MODELS = replace(MODELS, order_keys=frozenset({"name", "timestamp", "last_updated_timestamp"}),
                     fields=(("timestamp", "last_updated_timestamp"),))

STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
TAG_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})


@dataclass(frozen=True)
class Comparison:
    """One clause: ``tag`` or ``attribute`` ``key``, an operator and its value (a tuple for IN)."""

    kind: str  # "attribute" or "tag"
    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class Order:
    key: str
    ascending: bool


@dataclass(frozen=True)
class Search:
    """A parsed search: the clauses (prompts excluded unless the filter names them) and the order."""

    clauses: Tuple[Comparison, ...]
    order: Tuple[Order, ...]
    # as the user wrote them, for a store that searches itself (a tracking server)
    text: str = ""
    order_by: Tuple[str, ...] = ()


# ------------------------------------------------------------------ tokens

@dataclass(frozen=True)
class Token:
    type: str  # ident, string, number, op, word, list, end
    text: str
    value: Any
    position: int


_WORDS = {"AND", "LIKE", "ILIKE", "IN", "NOT"}
_SPACE = re.compile(r"\s+")
_STRING = re.compile(r"'(?:''|\\.|[^'\\])*'", re.S)
_DQUOTED = re.compile(r'"(?:""|\\.|[^"\\])*"', re.S)
_BACKTICKED = re.compile(r"`[^`]*`")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"-?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?(?![A-Za-z_])")
_OP = re.compile(r"<=|>=|!=|<>|==|=|<|>")


class FilterError(InvalidInput):
    def __init__(self, text: str, position: int, problem: str, what: str = "filter"):
        near = text[position:position + 20] if position < len(text) else ""
        where = f"at character {position + 1} ({near!r})" if near else "at its end"
        super().__init__(f"invalid {what} {text!r}: {problem} {where}")


def tokenize(text: str, what: str = "filter") -> list:
    """The tokens of a filter; FilterError names the first character that fits no token."""
    tokens, i = [], 0
    while True:
        space = _SPACE.match(text, i)
        if space:
            i = space.end()
        if i >= len(text):
            tokens.append(Token("end", "", None, i))
            return tokens
        start, char = i, text[i]
        if char == "'":
            match = _STRING.match(text, i)
            if not match:
                raise FilterError(text, i, "unterminated string", what)
            tokens.append(Token("string", match.group(), match.group()[1:-1], start))
            i = match.end()
        elif char == "(":
            i = _list_end(text, i, what)
            tokens.append(Token("list", text[start:i], None, start))
        elif _OP.match(text, i):
            op = _OP.match(text, i).group()  # type: ignore[union-attr]
            if op in ("<>", "=="):
                raise FilterError(text, i, f"unknown operator {op!r}", what)
            tokens.append(Token("op", op, op, start))
            i += len(op)
        elif _NUMBER.match(text, i):
            number = _NUMBER.match(text, i).group()  # type: ignore[union-attr]
            value = int(number) if re.fullmatch(r"-?[0-9]+", number) else float(number)
            tokens.append(Token("number", number, value, start))
            i += len(number)
        elif char in '"`' or _NAME.match(text, i):
            i = _identifier_end(text, i, what)
            word = text[start:i]
            if word.upper() in _WORDS:
                tokens.append(Token("word", word, word.upper(), start))
            else:
                tokens.append(Token("ident", word, word, start))
        else:
            raise FilterError(text, i, f"unexpected {char!r}", what)


def _identifier_end(text: str, i: int, what: str) -> int:
    """The end of a dotted identifier whose parts are names or quoted (``"..."``, backticks, ``'...'`` after a dot)."""
    while True:
        for pattern in (_NAME, _DQUOTED, _BACKTICKED) + ((_STRING,) if i and text[i - 1] == "." else ()):
            match = pattern.match(text, i)
            if match:
                i = match.end()
                break
        else:
            if text[i:i + 1] in ('"', "`"):
                raise FilterError(text, i, "unterminated quoted name", what)
            raise FilterError(text, i, "expected a name after '.'", what)
        if text[i:i + 1] != "." or i + 1 >= len(text):
            return i
        i += 1


def _list_end(text: str, i: int, what: str) -> int:
    j = i + 1
    while j < len(text):
        char = text[j]
        if char == ")":
            return j + 1
        if char in "'\"":
            match = (_STRING if char == "'" else _DQUOTED).match(text, j)
            if not match:
                raise FilterError(text, j, "unterminated string", what)
            j = match.end()
        else:
            j += 1
    raise FilterError(text, i, "unclosed '('", what)


# ------------------------------------------------------------------ parsing

def parse_filter(text: Optional[str], kind: Kind, *, sql: bool = False) -> Tuple[Comparison, ...]:
    """The clauses of ``text`` (empty: no condition), without the implicit prompt clause; ``sql``: read
    as MLflow's SQL store reads it (a number compared with ``version_number`` is a whole number)."""
    if text is None or not text.strip():
        return ()
    tokens = tokenize(text)
    clauses, i = [], 0
    while True:
        clause, i = _comparison(text, tokens, i, kind, sql)
        clauses.append(clause)
        token = tokens[i]
        if token.type == "end":
            return tuple(clauses)
        if token.type != "word" or token.value != "AND":
            raise FilterError(text, token.position, "expected AND between comparisons (OR and parentheses "
                                                    "are not supported)")
        i += 1


def search(filter_text: Optional[str], order_by: Sequence[str], kind: Kind, *, sql: bool = False) -> Search:
    """A parsed search; the prompt clause is added as MLflow adds it."""
    clauses = parse_filter(filter_text, kind, sql=sql)
    if PROMPT_TAG not in (filter_text or ""):
        clauses += (Comparison("tag", PROMPT_TAG, "!=", "true"),)
    return Search(clauses, parse_order(order_by, kind), filter_text or "", tuple(order_by or ()))


def _comparison(text: str, tokens: list, i: int, kind: Kind, sql: bool) -> "tuple[Comparison, int]":
    left = tokens[i]
    if left.type != "ident":
        raise FilterError(text, left.position, "expected a key (name, tags.<key>, ...)")
    entity, key = _key(text, left, kind)
    op_token = tokens[i + 1]
    if op_token.type == "op":
        op, i = op_token.value, i + 2
    elif op_token.type == "word" and op_token.value in ("LIKE", "ILIKE", "IN"):
        op, i = op_token.value, i + 2
    elif op_token.type == "word" and op_token.value == "NOT" and tokens[i + 2].type == "word" \
            and tokens[i + 2].value == "IN":
        op, i = "NOT IN", i + 3
    else:
        raise FilterError(text, op_token.position, "expected an operator (=, !=, LIKE, ILIKE, IN, NOT IN)")
    value_token = tokens[i]
    if op in ("IN", "NOT IN") and value_token.type != "list":
        raise FilterError(text, value_token.position, f"{op} needs a list: ('a', 'b')")
    numeric = entity == "attribute" and key in kind.numeric
    allowed = TAG_OPS if entity == "tag" else NUMERIC_OPS if numeric else STRING_OPS
    if op not in allowed:
        what = "a tag" if entity == "tag" else f"{key!r}"
        raise FilterError(text, op_token.position, f"{op} cannot compare {what} (use {', '.join(sorted(allowed))})")
    value = _value(text, value_token, entity, key, kind)
    if sql and numeric and isinstance(value, float):
        # MLflow's file store truncates 1.5 to 1; its SQL store refuses it
        raise FilterError(text, value_token.position, f"invalid value for numeric attribute {key!r}: "
                                                      f"{value_token.text} (a whole number is expected)")
    if op in ("LIKE", "ILIKE") and not isinstance(value, str):
        raise FilterError(text, value_token.position, f"{op} needs a quoted pattern")
    return Comparison(entity, key, op, value), i + 1


def _key(text: str, token: Token, kind: Kind) -> "tuple[str, str]":
    head, dot, rest = token.text.partition(".")
    if not dot:
        entity, key = "attribute", head
    elif head in ("tag", "tags"):
        entity, key = "tag", rest
    elif head == "attribute":
        entity, key = "attribute", rest
    else:
        raise FilterError(text, token.position, f"unknown entity {head!r} (use tags.<key> or attribute.<key>)")
    if entity == "attribute" and key.startswith("`"):
        # MLflow refuses a backtick-quoted attribute ("Invalid attribute key")
        raise FilterError(text, token.position, f"invalid attribute key {key!r} (an attribute is written "
                                                "without backticks)")
    key = _unquote(key)
    if entity == "attribute" and key not in kind.attributes:
        raise FilterError(text, token.position, f"unknown key {key!r} (searchable {kind.name}: "
                                                f"{', '.join(sorted(kind.attributes))}, tags.<key>)")
    return entity, key


def _unquote(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        key = key[1:-1]
    if len(key) >= 2 and key[0] == key[-1] == "`":
        key = key[1:-1]
    return key


def _value(text: str, token: Token, entity: str, key: str, kind: Kind):
    value = None
    if token.type == "string":
        value = token.value
    elif token.type == "ident" and token.text.startswith('"') and _DQUOTED.fullmatch(token.text):
        value = token.text[1:-1]
    if value is not None:
        if entity == "attribute" and key in kind.numeric and not re.fullmatch(r"\s*[-+]?[0-9]+\s*", value):
            raise FilterError(text, token.position, f"{key!r} is compared with a whole number")
        if entity == "attribute" and key in kind.numeric:
            _require_int64(text, token, value)
        return value
    if token.type == "number" and entity == "attribute":
        if key not in kind.numeric:
            raise FilterError(text, token.position, f"{key!r} is compared with a quoted string, not a number")
        _require_int64(text, token, token.value)
        return token.value
    if token.type == "list" and entity == "attribute":
        if key not in kind.list_keys:
            raise FilterError(text, token.position, f"only {', '.join(sorted(kind.list_keys))} can be "
                                                    "compared with a list")
        return _list(text, token)
    raise FilterError(text, token.position, "expected a quoted value ('...')")


def _require_int64(text: str, token: Token, value) -> None:
    """Numbers a database column holds (a server's SQL store fails on larger ones, after its retries)."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return  # a decimal: compared as MLflow compares it
    if not -(1 << 63) <= number < (1 << 63):
        raise FilterError(text, token.position, "a number out of range (a 64-bit integer is expected)")


def _list(text: str, token: Token) -> tuple:
    try:
        parsed = ast.literal_eval(token.text)
    except (SyntaxError, ValueError):
        raise FilterError(text, token.position, "expected a list of quoted strings") from None
    parsed = parsed if isinstance(parsed, tuple) else (parsed,)
    if not parsed or not all(isinstance(item, str) for item in parsed):
        raise FilterError(text, token.position, "expected a non-empty list of quoted strings")
    return parsed


def parse_order(order_by: Sequence[str], kind: Kind) -> Tuple[Order, ...]:
    """``["name ASC", "version_number DESC", ...]`` as ``Order`` objects; MLflow's tie-breakers appended."""
    orders = [_order(text, kind) for text in (order_by or kind.default_order)]
    if not any(o.key == "name" for o in orders):
        orders.append(Order("name", True))
    if kind is VERSIONS and not any(o.key == "version_number" for o in orders):
        orders.append(Order("version_number", False))
    return tuple(orders)


def _order(text: str, kind: Kind) -> Order:
    tokens = [t for t in tokenize(text, "order") if t.type != "end"]
    if not tokens or tokens[0].type != "ident" or len(tokens) > 2:
        raise FilterError(text, tokens[1].position if len(tokens) > 1 else 0,
                          "expected KEY [ASC|DESC]", "order")
    ascending = True
    if len(tokens) == 2:
        direction = tokens[1].text.upper()
        if tokens[1].type != "ident" or direction not in ("ASC", "DESC"):
            raise FilterError(text, tokens[1].position, "expected ASC or DESC", "order")
        ascending = direction == "ASC"
    head, dot, rest = tokens[0].text.partition(".")
    if dot and head not in ("attribute",):
        raise FilterError(text, 0, "only attributes can order results", "order")
    key = _unquote(rest if dot else head)
    if key not in kind.order_keys:
        raise FilterError(text, 0, f"unknown key {key!r} (order {kind.name} by "
                                   f"{', '.join(sorted(kind.order_keys))})", "order")
    return Order(key, ascending)


# ------------------------------------------------------------------ evaluating

def _lhs(item, clause: Comparison, kind: Kind):
    if clause.kind == "tag":
        return item.tags.get(clause.key)
    return getattr(item, kind.field(clause.key), None)


def clause_matches(item, clause: Comparison, kind: Kind, *, sql: bool = False) -> bool:
    """Whether ``item`` satisfies ``clause``; ``sql``: LIKE as in MLflow's SQL store (``sql_like``),
    else as in its file store (``like``)."""
    lhs, op, value = _lhs(item, clause, kind), clause.op, clause.value
    if clause.key == PROMPT_TAG and clause.kind == "tag" and lhs is None:
        return (op == "=" and value == "false") or (op == "!=" and value == "true")
    if lhs is None:
        return False
    if clause.kind == "attribute" and clause.key in kind.numeric:
        try:
            value = int(value)
        except (TypeError, ValueError):
            return False
        lhs = int(lhs)
    if op == "=":
        return lhs == value
    if op == "!=":
        return lhs != value
    if op in ("LIKE", "ILIKE"):
        return isinstance(lhs, str) and (sql_like if sql else like)(lhs, value, op == "ILIKE")
    if op == "IN":
        return lhs in value
    if op == "NOT IN":
        return lhs not in value
    return {"<": lhs < value, "<=": lhs <= value, ">": lhs > value, ">=": lhs >= value}[op]


def is_deleted(item) -> bool:
    return getattr(item, "current_stage", None) == DELETED_STAGE


def _sql_clauses(clauses: tuple) -> "tuple[tuple, bool]":
    """The clauses MLflow's SQL store tests, and whether it leaves prompts out: unless the first prompt
    clause asks for prompts, it drops every prompt clause and leaves the prompts out."""
    prompts = [c for c in clauses if c.kind == "tag" and c.key == PROMPT_TAG]
    if _asks_for_prompts(prompts):
        return clauses, False
    return tuple(c for c in clauses if c not in prompts), True


def only_prompts_hidden(found: Search) -> bool:
    """Whether a version search, as MLflow's SQL store reads it, finds every live version but the
    prompts' (those tagged ``mlflow.prompt.is_prompt`` = ``'true'``): the predicate in rows."""
    clauses, hide_prompts = _sql_clauses(found.clauses)
    return hide_prompts and not clauses


def matcher(found: Search, kind: Kind, *, sql: bool = False):
    """Whether an item (a ``ModelVersion`` or ``RegisteredModel``) is in the search's answer, as a
    predicate: what depends only on the search is decided once (a listing asks it of every item)."""
    clauses, hide_prompts = _sql_clauses(found.clauses) if sql else (found.clauses, False)
    need_prompt_tag = sql and not hide_prompts  # a prompt clause asking for prompts needs the tag
    live_only = kind is VERSIONS

    def test(item) -> bool:
        if live_only and is_deleted(item):
            return False
        if hide_prompts and item.tags.get(PROMPT_TAG) == "true":
            return False
        if need_prompt_tag and item.tags.get(PROMPT_TAG) is None:
            return False
        return all(clause_matches(item, clause, kind, sql=sql) for clause in clauses)

    return test


def _asks_for_prompts(prompts: list) -> bool:
    """Whether MLflow's SQL store reads the first prompt clause as asking for prompts: only
    ``= 'true'`` and ``!= 'false'`` (any case) do; LIKE, ILIKE and the rest do not."""
    if not prompts or not isinstance(prompts[0].value, str):
        return False
    first = prompts[0]
    return (first.op == "=" and first.value.lower() == "true") or (first.op == "!=" and first.value.lower() == "false")
