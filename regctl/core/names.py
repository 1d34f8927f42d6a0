"""Validation of user-supplied names, aliases, tag keys and values, versions and stages.

MLflow's own rules (see the store format notes), made strict enough that the
result is valid for both MLflow 2 and 3, and that no value can name a path
outside the store.
"""

import posixpath
import re

from regctl.core.errors import InvalidInput

TYPE_CHECKING = False  # collections.abc is loaded by the functions that need it: every command imports this module
if TYPE_CHECKING:
    from collections.abc import Mapping

# regctl's temporary files in a store (file store: in tags/, aliases/ and models/; never a name or tag key)
TEMP_PREFIX = ".regctl-tmp-"
MAX_FILE_NAME_BYTES = 255
MAX_ALIAS_LENGTH = 255
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 100_000

STAGES = ("None", "Staging", "Production", "Archived")
ACTIVE_STAGES = ("Staging", "Production")
DELETED_STAGE = "Deleted_Internal"

_FORBIDDEN_NAME_CHARS = set('/\\:%?')
# patterns, compiled by ``re`` on first use (and cached there): every command imports this module,
# few use more than one of them
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"
_ALIAS = r"[\w\-]+"
_RESERVED_ALIAS = r"[vV]\d+"
_TAG_KEY = r"[\w/.\- :]+"
_VERSION = r"\s*([0-9]{1,18})\s*"
_RUN_ID = r"[a-zA-Z0-9][\w\-]{0,255}"


def show(value: str) -> str:
    """Quote a user value for an error message, escaping control characters."""
    text = value if len(value) <= 80 else value[:77] + "..."
    return repr(text)


def _fits_file_name(value: str, max_bytes: "int | None" = MAX_FILE_NAME_BYTES) -> bool:
    return max_bytes is None or len(value.encode("utf-8", "surrogatepass")) <= max_bytes


def validate_model_name(name: str, *, existing: bool = False, max_bytes: "int | None" = MAX_FILE_NAME_BYTES) -> str:
    """Return ``name`` if it is a valid name for a new registered model, else raise InvalidInput.

    With ``existing`` (a model of that name is there), only ``validate_lookup_name``
    applies: these rules are for creating a model, and a model MLflow created is
    addressed by its name as it is (``what?``, ``' leading'``, ``team:churn`` ...).
    ``max_bytes`` is the store's own limit (a file store's file names; None: the store has none).
    """
    if existing:
        return validate_lookup_name(name, max_bytes=max_bytes)
    must_be_text(name, "model name")
    problem = None
    if not name or not name.strip():
        problem = "must not be empty or only whitespace"
    elif _FORBIDDEN_NAME_CHARS & set(name):
        problem = "must not contain '/', '\\', ':', '%' or '?'"
    elif re.search(_CONTROL, name):
        problem = "must not contain control characters"
    elif name in (".", "..") or name.startswith(".."):
        problem = "must not be '.' or start with '..'"
    elif name.startswith(TEMP_PREFIX):
        problem = f"names starting with {TEMP_PREFIX!r} are regctl's temporary files"
    elif name != name.strip():
        problem = "must not start or end with whitespace"
    elif not _fits_file_name(name, max_bytes):
        problem = f"must be at most {max_bytes} bytes in UTF-8"
    if problem:
        raise InvalidInput(f"invalid model name {show(name)}: {problem}")
    return name


def validate_alias(alias: str, *, allow_reserved: bool = False) -> str:
    """Return ``alias`` if it is a valid alias name (letters, digits, '_', '-')."""
    must_be_text(alias, "alias")
    problem = None
    if not re.fullmatch(_ALIAS, alias):
        problem = "may contain only letters, digits, '_' and '-'"
    elif len(alias) > MAX_ALIAS_LENGTH or not _fits_file_name(alias):
        problem = f"must be at most {MAX_ALIAS_LENGTH} characters"
    elif not allow_reserved and alias.lower() == "latest":
        problem = "'latest' is reserved"
    elif not allow_reserved and re.fullmatch(_RESERVED_ALIAS, alias):
        problem = "names of the form v<digits> are reserved"
    if problem:
        raise InvalidInput(f"invalid alias {show(alias)}: {problem}")
    return alias


def validate_tag_key(key: str) -> str:
    """Return ``key`` if it is a valid tag key; '/' separates nested directories."""
    must_be_text(key, "tag key")
    problem = None
    if not key:
        problem = "must not be empty"
    elif not re.fullmatch(_TAG_KEY, key):
        problem = "may contain only letters, digits, '_', '-', '.', ' ', ':' and '/'"
    elif len(key) > MAX_TAG_KEY_LENGTH:
        problem = f"must be at most {MAX_TAG_KEY_LENGTH} characters"
    elif key == "." or key.startswith("/") or key.startswith("..") or posixpath.normpath(key) != key:
        problem = "must be a normalised relative path (no '//', '.', '..' parts or leading '/')"
    elif not all(_fits_file_name(part) for part in key.split("/")):
        problem = f"each '/'-separated part must be at most {MAX_FILE_NAME_BYTES} bytes"
    elif any(part.startswith(TEMP_PREFIX) for part in key.split("/")):
        problem = f"parts starting with {TEMP_PREFIX!r} are regctl's temporary files"
    if problem:
        raise InvalidInput(f"invalid tag key {show(key)}: {problem}")
    return key


def validate_tag_value(key: str, value: str) -> str:
    """Return ``value`` if it fits MLflow's tag value limit."""
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInput(
            f"tag {show(key)}: value is {len(value)} characters, at most {MAX_TAG_VALUE_LENGTH} allowed"
        )
    return value


def validate_tags(tags: "Mapping[str, str]") -> dict:
    """``tags`` as a dict if every key and value is valid, else InvalidInput."""
    from collections.abc import Mapping

    if not isinstance(tags, Mapping):
        raise TypeError(f"tags must be a mapping of str to str, not {type(tags).__name__} {tags!r:.40}")
    checked = {}
    for key, value in tags.items():
        if not isinstance(value, str):
            raise InvalidInput(f"tag {key!r}: the value must be text")
        checked[validate_tag_key(key)] = validate_tag_value(key, check_text(value, f"value of tag {key!r}"))
    return checked


def parse_tag_assignment(text: str) -> "tuple[str, str]":
    """Split ``KEY=VALUE`` (the value may itself contain '=') and validate both parts."""
    key, sep, value = text.partition("=")
    if not sep:
        raise InvalidInput(f"invalid tag {show(text)}: expected KEY=VALUE")
    validate_tag_key(key)
    return key, validate_tag_value(key, value)


def parse_version(text: "str | int") -> int:
    """Parse a version number written with ASCII digits; raise InvalidInput otherwise."""
    if isinstance(text, int) and not isinstance(text, bool):
        number = text
    else:
        match = re.fullmatch(_VERSION, str(text))
        if not match:
            raise InvalidInput(f"invalid version {show(str(text))}: must be a positive integer")
        number = int(match.group(1))
    if number < 1:
        raise InvalidInput(f"invalid version {show(str(text))}: must be a positive integer")
    return number


def canonical_stage(text: str) -> str:
    """Return the canonical spelling of a stage name given in any case."""
    for stage in STAGES:
        if stage.lower() == text.strip().lower():
            return stage
    raise InvalidInput(
        f"invalid stage {show(text)}: must be one of {', '.join(STAGES)}"
    )


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if it can be a MLflow run id (and so a safe directory name)."""
    if not re.fullmatch(_RUN_ID, run_id):
        raise InvalidInput(f"invalid run id {show(run_id)}")
    return run_id


def validate_logged_model_id(model_id: str) -> str:
    """Return ``model_id`` if it has the form of a MLflow logged model id (``m-...``)."""
    if not model_id.startswith("m-") or not re.fullmatch(_RUN_ID, model_id):
        raise InvalidInput(f"invalid logged model id {show(model_id)}: expected m-<id> "
                           "(a registered model is models:/<name>/<version> or models:/<name>@<alias>)")
    return model_id


def validate_artifact_path(path: str) -> str:
    """Return a relative artifact path that stays inside its root ('' for the root)."""
    cleaned = path.strip("/")
    if not cleaned:
        return ""
    parts = cleaned.split("/")
    if any(part in ("", ".", "..") for part in parts) or "\x00" in cleaned:
        raise InvalidInput(f"invalid artifact path {show(path)}: must not contain '.', '..' or '//'")
    return cleaned


def must_be_text(value: object, what: str) -> None:
    """A TypeError naming ``what`` when ``value`` (given through the Python API) is not a ``str``."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__} {value!r:.40}")


def check_text(value: str, what: str) -> str:
    """``value`` if it is valid Unicode text; bytes the terminal could not decode are invalid input."""
    must_be_text(value, what)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"invalid {what} {show(value)}: not valid UTF-8") from None
    return value


def validate_lookup_name(name: str, *, max_bytes: "int | None" = MAX_FILE_NAME_BYTES) -> str:
    """Check a model name used only to look a model up.

    Lookups accept any name MLflow may have written (leading spaces, ':' from
    MLflow 2, ...) but never one that could name a path outside ``models/``.
    """
    must_be_text(name, "model name")
    if not name or "/" in name or "\x00" in name or name in (".", "..") or not _fits_file_name(name, max_bytes):
        raise InvalidInput(f"invalid model name {show(name)}")
    check_text(name, "model name")
    return name
