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
    "RegctlError": "regctl.errors", "NotFound": "regctl.errors", "InvalidInput": "regctl.errors",
    "Conflict": "regctl.errors", "StoreError": "regctl.errors", "IntegrityError": "regctl.errors",
    "ModelVersion": "regctl.results", "RegisteredModel": "regctl.results", "Listing": "regctl.results",
    "AliasChange": "regctl.results", "TagChange": "regctl.results", "StageChange": "regctl.results",
    "DescriptionChange": "regctl.results", "Rename": "regctl.results", "Deletion": "regctl.results",
    "Verification": "regctl.results", "HistoryRecord": "regctl.results", "DoctorReport": "regctl.results",
    "Lineage": "regctl.results", "Resolution": "regctl.resolution",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'regctl' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
