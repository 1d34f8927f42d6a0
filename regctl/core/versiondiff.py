"""``diff``: what differs between two registered versions.

Registry fields (stage, aliases, tags, description, source) and, from each
version's artifacts, ``MLmodel`` (flavors, their versions, the signature,
MLflow's version) and ``requirements.txt``. Reads only.
"""

import json
import math
from typing import Optional

from regctl.core import yamlfile
from regctl.core.errors import InvalidInput, StoreError
from regctl.core.names import show
from regctl.core.results import Difference, VersionDiff


def diff(backend, a: str, b: str) -> VersionDiff:
    """What differs between the versions ``a`` and ``b`` name, on any backend."""
    left, right = facts(backend, a), facts(backend, b)
    fields = list(left) + [k for k in right if k not in left]
    return VersionDiff(a, b, tuple(Difference(f, left.get(f), right.get(f)) for f in fields
                                   if left.get(f) != right.get(f)))


def facts(backend, uri: str) -> dict:
    """``{field: value}`` of one version, in display order; absent fields are left out."""
    resolution = backend.resolve(uri)
    if resolution.version is None:
        raise InvalidInput(f"cannot diff {show(uri)}: give registered versions (models:/NAME/VERSION, "
                           "models:/NAME@ALIAS, ...)")
    view = backend.get_version(resolution.name, resolution.version).to_json()
    found: dict = {
        "stage": view["current_stage"],
        "aliases": list(view["aliases"]),
        "description": view["description"],
        "source": view["source"],
    }
    found.update((f"tags.{k}", v) for k, v in sorted(view["tags"].items()))
    found.update(_mlmodel(backend.artifact_bytes(resolution, "MLmodel"), f"{resolution.path}/MLmodel"))
    requirements = _requirements(backend.artifact_bytes(resolution, "requirements.txt"),
                                 f"{resolution.path}/requirements.txt")
    if requirements is not None:
        found["requirements"] = requirements
    return found


def _mlmodel(raw: Optional[bytes], where: str) -> dict:
    if raw is None:
        return {}
    try:
        data = yamlfile.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, yamlfile.YamlSyntaxError) as exc:
        raise StoreError(f"cannot read {where}: {exc}") from None
    if not isinstance(data, dict):
        raise StoreError(f"damaged file {where}: not a YAML mapping")
    found: dict = {}
    flavors: dict = data["flavors"] if isinstance(data.get("flavors"), dict) else {}
    found["flavors"] = sorted(str(f) for f in flavors)
    for flavor, spec in sorted(flavors.items(), key=lambda item: str(item[0])):
        for key, value in sorted((spec.items() if isinstance(spec, dict) else []), key=lambda item: str(item[0])):
            if str(key).endswith("_version") or key in ("loader_module", "serialization_format"):
                found[f"flavors.{flavor}.{key}"] = _bounded(value, where)
    if "mlflow_version" in data:
        found["mlflow_version"] = _bounded(data["mlflow_version"], where)
    signature: dict = data["signature"] if isinstance(data.get("signature"), dict) else {}
    for part in ("inputs", "outputs", "params"):
        if signature.get(part) is not None:
            found[f"signature.{part}"] = _bounded(_json(signature[part]), where)
    return found


MAX_VALUE_ITEMS = 100_000  # items of one compared value: YAML aliases can make a 10-line file expand forever


def _bounded(value, where: str):
    """``value`` as JSON can hold it: at most ``MAX_VALUE_ITEMS`` items (StoreError beyond: a file
    built to expand, such as YAML aliases nested ten deep), keys as text, numbers that are not
    finite and other YAML types (dates, sets, binary) as text."""
    budget = [MAX_VALUE_ITEMS]

    def plain(item, depth: int):
        budget[0] -= 1
        if budget[0] < 0 or depth > 100:
            raise StoreError(f"damaged file {where}: a value too large or too deeply nested to compare")
        if isinstance(item, dict):
            return {str(k): plain(v, depth + 1) for k, v in item.items()}
        if isinstance(item, list):
            return [plain(v, depth + 1) for v in item]
        if isinstance(item, (str, int, bool)) or item is None:
            return item
        if isinstance(item, float) and math.isfinite(item):
            return item
        return str(item)

    return plain(value, 0)


def _json(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _requirements(raw: Optional[bytes], where: str):
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreError(f"cannot read {where}: {exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
