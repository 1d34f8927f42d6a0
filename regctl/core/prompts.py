"""MLflow 3 prompts: entries of the model registry that are not registered models.

MLflow's prompt registry keeps a prompt in the registry's layout, as a model
tagged ``mlflow.prompt.is_prompt`` whose versions hold the prompt text.
``MlflowClient`` answers "not found" for every model read or write on one
(``get_registered_model``, ``get_model_version``, ``get_model_version_by_alias``,
downloads of ``models:/`` URIs, alias, tag and stage changes, rename, delete)
and its model and version searches leave prompts out. regctl does the same.
The tag's presence decides, as in MLflow's client (its searches look for the
value ``true``; MLflow itself only ever writes that). Every store decides it
here, from the model's tags: ``refuse`` is called wherever a backend looks a
model up by name, and ``refuse_registration`` where it registers into one.
"""

from __future__ import annotations

from regctl.core.errors import Conflict, NotFound
from regctl.core.names import show

TYPE_CHECKING = False  # collections.abc is not loaded at run time: every command imports this module
if TYPE_CHECKING:
    from collections.abc import Iterable

PROMPT_TAG = "mlflow.prompt.is_prompt"


def is_prompt(tag_keys: Iterable[str]) -> bool:
    """Whether a registered model with these tags (a mapping or its keys) is an MLflow prompt."""
    return PROMPT_TAG in tag_keys


def refuse(name: str, tag_keys: Iterable[str]) -> None:
    """MLflow's "not found" for a model read or write on ``name`` when its tags make it a prompt."""
    if is_prompt(tag_keys):
        raise not_found(name)


def refuse_registration(name: str, tag_keys: Iterable[str]) -> None:
    """A Conflict for registering a version into ``name`` when its tags make it a prompt."""
    if is_prompt(tag_keys):
        raise name_taken(name)


def not_found(name: str) -> NotFound:
    """The error for a model read or write on a prompt, as MLflow's "not found"."""
    from regctl.core.rules import ModelNotFound

    return ModelNotFound(name, prompt=True)


def name_taken(name: str) -> Conflict:
    """The error for registering a model version under a prompt's name."""
    return Conflict(f"{show(name)} is an MLflow prompt, not a registered model; no version was registered")
