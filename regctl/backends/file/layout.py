"""Where each thing lives in an ``mlruns/`` tree: pure functions from ids to paths.

Names reaching these functions have been validated (see ``names``), so a name
is always exactly one path component under ``models/``.
"""

import functools
from pathlib import Path

from regctl.core.names import TEMP_PREFIX  # noqa: F401  (defined with the naming rules that keep names off it)

MODELS_DIR = "models"
TRASH_DIR = ".trash"
META = "meta.yaml"
TAGS_DIR = "tags"
ALIASES_DIR = "aliases"
VERSION_PREFIX = "version-"
# regctl's own files. '%' can never appear in a model name, so none of these
# can collide with a registered model's directory; MLflow ignores plain files
# in models/ and in model and version directories.
LOCK_PREFIX = ".regctl%lock%"
PENDING_PREFIX = ".regctl%pending%"
JOURNAL_FILE = ".regctl%journal.jsonl"
STAGING_PREFIX = "regctltmp-"


def models_dir(root: Path) -> Path:
    return root / MODELS_DIR


@functools.lru_cache(maxsize=4096)
def model_dir(root: Path, name: str) -> Path:
    """A model's directory (remembered: a listing asks for each model's a dozen times)."""
    return root / MODELS_DIR / name


def model_meta(root: Path, name: str) -> Path:
    return model_dir(root, name) / META


def model_key(name: str) -> str:
    """A fixed-length key for a model name, used in the names of its lock and staging files."""
    return _sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _sha256(data: bytes):
    """SHA-256 of ``data`` by CPython's own implementation where there is one: every write takes a
    model's lock, and ``hashlib`` loads OpenSSL first (a few milliseconds)."""
    try:
        from _sha256 import sha256  # CPython 3.11 and before
    except ImportError:
        try:
            from _sha2 import sha256  # CPython 3.12 and later
        except ImportError:
            from hashlib import sha256
    return sha256(data)


def model_lock(root: Path, name: str) -> Path:
    """The lock file guarding every write to one registered model."""
    return lock_of_key(root, model_key(name))


def lock_of_key(root: Path, key: str) -> Path:
    return root / MODELS_DIR / f"{LOCK_PREFIX}{key}"


def pending_of_key(root: Path, key: str) -> Path:
    """Where a change being applied to one model is kept until it is committed."""
    return root / MODELS_DIR / f"{PENDING_PREFIX}{key}"


def new_model_staging(root: Path, name: str, suffix: str) -> Path:
    """Where a new model is built (in its ``model`` sub-directory) before it moves to ``models/``.

    Not in ``models/``, where MLflow takes every directory for a model and fails
    on one without meta.yaml. At the store root, MLflow takes it for an
    experiment: its name is a valid experiment id and it holds no meta.yaml, so
    MLflow skips it with a warning. The name carries the model's key, so
    ``doctor`` can take the right lock before removing one left by a killed writer.
    """
    return root / f"{STAGING_PREFIX}{model_key(name)}-{suffix}"


def staging_key(dir_name: str):
    """The model key in the name of a new model's staging directory, or None."""
    rest = dir_name[len(STAGING_PREFIX):] if dir_name.startswith(STAGING_PREFIX) else ""
    key, sep, _ = rest.partition("-")
    return key if sep and len(key) == 32 else None


def journal_path(root: Path) -> Path:
    return root / MODELS_DIR / JOURNAL_FILE


def model_tags_dir(root: Path, name: str) -> Path:
    return model_dir(root, name) / TAGS_DIR


def aliases_dir(root: Path, name: str) -> Path:
    return model_dir(root, name) / ALIASES_DIR


def alias_file(root: Path, name: str, alias: str) -> Path:
    return aliases_dir(root, name) / alias


def version_dir(root: Path, name: str, version: int) -> Path:
    return model_dir(root, name) / f"{VERSION_PREFIX}{version}"


def version_meta(root: Path, name: str, version: int) -> Path:
    return version_dir(root, name, version) / META


def version_tags_dir(root: Path, name: str, version: int) -> Path:
    return version_dir(root, name, version) / TAGS_DIR


def version_number_of(dir_name: str):
    """The version number of a ``version-<N>`` directory name, or None."""
    if not dir_name.startswith(VERSION_PREFIX):
        return None
    digits = dir_name[len(VERSION_PREFIX):]
    if digits.isascii() and digits.isdigit():
        return int(digits)
    return None


def is_experiment_dir_name(dir_name: str) -> bool:
    """Experiment directories sit beside ``models/``; regctl and MLflow never use dot-names."""
    return dir_name != MODELS_DIR and not dir_name.startswith((".", STAGING_PREFIX))


def logged_model_dir(root: Path, experiment_id: str, model_id: str) -> Path:
    return root / experiment_id / MODELS_DIR / model_id


def logged_model_lock_name(model_id: str) -> str:
    """The lock name guarding regctl's writes to a logged model's tags (``mlflow.modelVersions``)."""
    return f"logged-model:{model_id}"


def copy_lock_name(model_id: str) -> str:
    """The lock name a command holds from copying files into a new logged model until it registers it."""
    return f"logged-model-copy:{model_id}"
