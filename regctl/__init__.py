"""regctl: a fast model registry over MLflow's stores, as a command and as a library.

    from regctl import Registry

    registry = Registry("mlruns")
    print(registry.resolve("models:/fraud-detector@champion").path)

``Registry`` and the result and error types are loaded on first use, so that
``regctl resolve`` (which needs none of them) starts as fast as it can.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "Registry": "regctl.api",
    "RegctlError": "regctl.core.errors", "NotFound": "regctl.core.errors", "InvalidInput": "regctl.core.errors",
    "Conflict": "regctl.core.errors", "StoreError": "regctl.core.errors", "IntegrityError": "regctl.core.errors",
    "RemoteArtifacts": "regctl.core.errors",
    "ModelVersion": "regctl.core.results", "RegisteredModel": "regctl.core.results", "Listing": "regctl.core.results",
    "AliasChange": "regctl.core.results", "TagChange": "regctl.core.results", "StageChange": "regctl.core.results",
    "DescriptionChange": "regctl.core.results", "Rename": "regctl.core.results", "Deletion": "regctl.core.results",
    "Verification": "regctl.core.results", "HistoryRecord": "regctl.core.results", "DoctorReport": "regctl.core.results",
    "Lineage": "regctl.core.results", "Resolution": "regctl.core.resolution",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'regctl' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
