"""YAML as MLflow reads and writes it.

Writing uses PyYAML's safe dumper with MLflow's options (block style, sorted
keys, unicode kept). Reading first tries ``loads_flat``, a parser for the
flat ``key: value`` files that make up most of a store, and hands anything
else to PyYAML's safe loader. libyaml's C loader and dumper are used when
PyYAML was built with them; the pure-Python ones read and write the same and
are the fallback.

Why a flat parser at all: importing PyYAML costs about 18 ms, most of a
``resolve``, and loading 10,000 version files through it takes seconds. The
flat parser accepts only values whose YAML 1.1 meaning is certain and returns
None for everything else, so its answers are PyYAML's answers (the tests
compare the two on generated and real files).
"""

import re

_KEY_NAME = re.compile(r"[a-z_]+")
# A plain scalar that YAML 1.1 reads back as this very string: it starts with
# a letter or '/', has no spaces, quotes, '#' or flow characters, does not end
# in ':' and is not a word YAML reads as a boolean or null.
_PLAIN = re.compile(r"[A-Za-z/][A-Za-z0-9_./:@+\-]*(?<!:)")
# Hex ids (MLflow run ids) start with a digit; with a letter among a-f and no
# '0b' prefix, YAML 1.1 reads no number, date or boolean in them.
_HEX_ID = re.compile(r"(?!0b)[0-9][0-9a-f]*[a-f][0-9a-f]*")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_UNSIGNED = re.compile(r"0|[1-9][0-9]*")
_NOT_STRINGS = frozenset("y n yes no true false on off null".split())
_UNSURE = object()
# Keys and values already read, so that a listing parses each distinct one once (bounded).
_MEMO_LIMIT = 4096
_known_keys: set = set()
_known_values: dict = {}
_known_lines: dict = {}

_pure_python = False


class YamlSyntaxError(ValueError):
    """A meta file that is not valid YAML."""


def loads(text: str):
    """Parse a meta file as MLflow's safe loader would (YAML 1.1 rules)."""
    try:
        data = loads_flat(text)
        if data is not None:
            return data
        yaml = _yaml()
        try:
            return yaml.load(text, Loader=yaml.SafeLoader if _pure_python else _c_or(yaml, "CSafeLoader", "SafeLoader"))
        except yaml.YAMLError as exc:
            raise YamlSyntaxError(str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None
    except YamlSyntaxError:
        raise
    except ValueError:  # an integer too long to convert (Python's int_max_str_digits)
        raise YamlSyntaxError("a number with too many digits") from None


def loads_flat(text: str):
    """A flat mapping of simple scalars, or None when the text needs the full YAML loader.

    One level of nesting is read too, as PyYAML writes it (``key:`` then lines indented by two
    spaces), when every inner key is a plain word: a model's ``aliases``."""
    data: dict = {}
    keys = _known_keys
    nested = None  # the key of the mapping the indented lines belong to
    for line in text.split("\n"):
        if not line:
            continue
        if line[0] == " ":
            if nested is None or not line.startswith("  "):
                return None
            inner, sep, raw = line[2:].partition(": ")
            if not sep or _PLAIN.fullmatch(inner) is None or inner.lower() in _NOT_STRINGS:
                return None
            value = _value(raw)
            mapping = data[nested]
            if value is _UNSURE or (mapping is not None and inner in mapping):
                return None  # a repeated inner key: PyYAML's answer
            if mapping is None:
                mapping = data[nested] = {}
            mapping[inner] = value
            continue
        nested = None
        known = _known_lines.get(line)
        if known is not None:  # most lines of a store's files repeat (stages, nulls, sources)
            data[known[0]] = known[1]
            continue
        key, sep, raw = line.partition(": ")
        if not sep:
            if line[-1] != ":" or not _key_ok(line[:-1]):
                return None
            nested = line[:-1]
            data[nested] = None  # a key without a value and without indented lines is YAML's null
            continue
        if key not in keys and not _key_ok(key):
            return None
        value = _value(raw)
        if value is _UNSURE:
            return None
        if len(_known_lines) < _MEMO_LIMIT and (value is None or type(value) is str):
            _known_lines[line] = (key, value)
        data[key] = value
    return data or None  # an empty file is YAML's null, not an empty mapping


def _key_ok(key: str) -> bool:
    if _KEY_NAME.fullmatch(key) is None or key in _NOT_STRINGS:
        return False
    if len(_known_keys) < _MEMO_LIMIT:
        _known_keys.add(key)
    return True


def _value(raw: str):
    value = _known_values.get(raw, _UNSURE)
    if value is _UNSURE:
        value = _flat_value(raw)
        if value is not _UNSURE and len(_known_values) < _MEMO_LIMIT and (value is None or type(value) is str):
            _known_values[raw] = value  # a value seen once is likely seen again (stages, sources, nulls)
    return value


def _flat_value(text: str):
    if text == "null":
        return None
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if _INT.fullmatch(text):
        return int(text)
    if (_PLAIN.fullmatch(text) and text.lower() not in _NOT_STRINGS) or _HEX_ID.fullmatch(text):
        return text
    if len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1].replace("''", ""):
        inner = text[1:-1].replace("''", "'")
        if inner == inner.strip() and inner.isprintable():
            return inner
    return _UNSURE


def dumps(data) -> str:
    """Serialise a mapping exactly as MLflow's file store does."""
    text = dumps_flat(data)
    if text is not None:
        return text
    yaml = _yaml()
    return yaml.dump(
        data,
        Dumper=yaml.SafeDumper if _pure_python else _c_or(yaml, "CSafeDumper", "SafeDumper"),
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=True,
    )


def dumps_flat(data):
    """PyYAML's text for a mapping of simple scalars (and mappings of them, one level down), or None
    when PyYAML must write it: the inverse of ``loads_flat``, so that a write need not import PyYAML.

    Only what PyYAML writes in one certain way is written here: sorted keys regctl's own reader
    accepts, ``null``, integers, and strings written plain (those ``loads_flat`` reads back as the
    same string), and the empty string and unsigned integers in quotes; anything else, None."""
    if not isinstance(data, dict) or not data:
        return None
    lines = []
    for key in sorted(data):
        value = data[key]
        if type(key) is not str or _KEY_NAME.fullmatch(key) is None or key in _NOT_STRINGS:
            return None
        if type(value) is dict and value:
            lines.append(f"{key}:")
            for inner in sorted(value):
                if type(inner) is not str or _PLAIN.fullmatch(inner) is None or inner.lower() in _NOT_STRINGS:
                    return None
                text = _scalar_text(value[inner])
                if text is None:
                    return None
                lines.append(f"  {inner}: {text}")
            continue
        text = "{}" if type(value) is dict else _scalar_text(value)
        if text is None:
            return None
        lines.append(f"{key}: {text}")
    return "\n".join(lines) + "\n"


def _scalar_text(value):
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    if type(value) is not str or len(value) > 60:
        return None  # longer lines PyYAML may fold; other types it writes its own way
    if value and _flat_value(value) == value:
        return value
    if not value or _UNSIGNED.fullmatch(value):
        return f"'{value}'"  # what YAML reads as an integer (an alias's version) PyYAML quotes
    return None


def use_pure_python(enabled: bool = True) -> None:
    """Use PyYAML's pure-Python loader and dumper (what runs where libyaml is missing)."""
    global _pure_python
    _pure_python = enabled


def _yaml():
    import yaml

    return yaml


def _c_or(yaml, fast: str, slow: str):
    return getattr(yaml, fast, None) or getattr(yaml, slow)
