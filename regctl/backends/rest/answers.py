"""What regctl reads in a tracking server's JSON answers, checked once, as each answer arrives.

A server may answer anything: ``null``, an array, a model without a name, version ``"abc"``,
``NaN``, numbers past 64 bits, arrays nested a hundred thousand deep. ``read(body, shape)``
parses an answer and checks it against the shape of what its caller reads, so that the
code reading it indexes and converts without a second thought; anything else is
``Unreadable``, saying where (``registered_model.latest_versions[0].version``), which
``RestBackend.call`` turns into one ``StoreError`` naming the server and the endpoint.

A shape is a ``Scalar`` (``TEXT``, ``INTEGER``, ``VERSION``, ...), a dict ``{key: shape}``
(an object; other keys pass; a key is optional, and then null counts as absent, unless
its shape is ``Required(...)``), or a one-item list ``[shape]`` (an array of that shape).
Standard library only: the ``resolve`` fast path reads answers too.
"""

import json
import math
import re
from typing import Any, Callable

_DECIMAL = re.compile(r"-?[0-9]{1,19}")
INT64 = range(-(2 ** 63), 2 ** 63)


class Unreadable(Exception):
    """An answer regctl cannot read; the message completes "the server answered ... with "."""


class Scalar:
    """A value of one kind: ``what`` names it in messages, ``test`` tells whether a value is one."""

    def __init__(self, what: str, test: Callable[[Any], bool]):
        self.what, self.test = what, test


class Required:
    """A key the answer must have, not null."""

    def __init__(self, shape):
        self.shape = shape


def _integer(value) -> bool:
    """An int64 as MLflow's JSON writes one: a number, or a decimal string (empty: none)."""
    if isinstance(value, str):
        if value == "":
            return True
        if not _DECIMAL.fullmatch(value):
            return False
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and value in INT64


TEXT = Scalar("text", lambda value: isinstance(value, str))
BOOLEAN = Scalar("true or false", lambda value: isinstance(value, bool))
INTEGER = Scalar("a 64-bit integer", _integer)
VERSION = Scalar("a version number", lambda value: value != "" and _integer(value) and int(value) >= 1)
TEXT_MAP = Scalar("an object of texts", lambda value: isinstance(value, dict)
                  and all(isinstance(v, str) for v in value.values()))

TAGS = [{"key": Required(TEXT), "value": TEXT}]
MODEL_VERSION = {
    "name": Required(TEXT), "version": Required(VERSION), "creation_timestamp": INTEGER,
    "last_updated_timestamp": INTEGER, "current_stage": TEXT, "description": TEXT, "source": TEXT,
    "run_id": TEXT, "run_link": TEXT, "status": TEXT, "status_message": TEXT, "user_id": TEXT,
    "model_id": TEXT, "tags": TAGS,
}
REGISTERED_MODEL = {
    "name": Required(TEXT), "creation_timestamp": INTEGER, "last_updated_timestamp": INTEGER,
    "description": TEXT, "tags": TAGS, "aliases": [{"alias": Required(TEXT), "version": INTEGER}],
    "latest_versions": [{"version": Required(VERSION), "current_stage": TEXT}],
}
LOGGED_MODEL = {"model": Required({"info": Required({
    "model_id": Required(TEXT), "name": TEXT, "artifact_uri": TEXT, "source_run_id": TEXT,
    "creation_timestamp_ms": INTEGER})})}
RUN = {"run": Required({
    "info": Required({"experiment_id": TEXT, "run_name": TEXT, "artifact_uri": TEXT}),
    "outputs": {"model_outputs": [{"model_id": Required(TEXT), "step": INTEGER}]}})}
ARTIFACT_LIST = {"files": [{"path": Required(TEXT), "is_dir": BOOLEAN, "file_size": INTEGER}]}
MANIFEST = {"files": Required(TEXT_MAP), "digest": TEXT}


def page(key: str, item) -> dict:
    """One page of a search: items under ``key``, and the token of the next page."""
    return {key: [item], "next_page_token": TEXT}


def answer(key: str, shape) -> dict:
    """An answer holding one entity under ``key``."""
    return {key: Required(shape)}


class _Number(ValueError):
    pass


def decode(body: bytes) -> Any:
    """The JSON value of a body (an empty one is ``{}``): plain JSON, no NaN or infinities."""
    if not body.strip():
        return {}
    try:
        return json.loads(body, parse_constant=_refuse, parse_float=_finite)
    except RecursionError:
        raise Unreadable("JSON regctl cannot read: nested too deeply") from None
    except _Number as exc:
        raise Unreadable(f"JSON regctl cannot read: {exc}") from None
    except ValueError:
        raise Unreadable(f"a body that is not JSON: {excerpt(body)}") from None


def read(body: bytes, shape) -> Any:
    """The JSON value of a body, checked against ``shape``."""
    data = decode(body)
    check(data, shape, "")
    return data


def check(value, shape, where: str) -> None:
    if isinstance(shape, Required):
        shape = shape.shape
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise _mismatch(value, "an object", where)
        for key, inner in shape.items():
            item = value.get(key)
            if item is None:
                if isinstance(inner, Required):
                    raise Unreadable(f"JSON regctl cannot read: {f'{where}.{key}' if where else key} is missing")
                continue
            scalar = inner.shape if isinstance(inner, Required) else inner
            if isinstance(scalar, Scalar):  # most fields: tested here, their path made only to name a mismatch
                if not scalar.test(item):
                    raise _mismatch(item, scalar.what, f"{where}.{key}" if where else key)
            else:
                check(item, inner, f"{where}.{key}" if where else key)
    elif isinstance(shape, list):
        if not isinstance(value, list):
            raise _mismatch(value, "an array", where)
        for index, item in enumerate(value):
            check(item, shape[0], f"{where}[{index}]")
    elif not shape.test(value):
        raise _mismatch(value, shape.what, where)


def excerpt(body: bytes, limit: int = 200) -> str:
    """The start of a body, quoted, on one line."""
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return repr(text if len(text) <= limit else text[:limit - 3] + "...")


def _refuse(constant: str):
    raise _Number(f"{constant} is not a number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Number(f"{text} is too large a number")
    return number


def _mismatch(value, what: str, where: str) -> Unreadable:
    if isinstance(value, (dict, list)):
        shown = "an object" if isinstance(value, dict) else "an array"
    else:
        shown = json.dumps(value, ensure_ascii=False)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return Unreadable(f"JSON regctl cannot read: {where or 'the answer'} is {shown}, not {what}")
