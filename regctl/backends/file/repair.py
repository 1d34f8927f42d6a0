"""``doctor --fix`` on a file store: what ``doctor`` found that is safe to repair, repaired
through the same write path as every other change, each model under its lock and re-checked
there; then the store is checked again."""

import contextlib
import os

from regctl.backends.file import copies, layout, manifests, transaction
from regctl.backends.file.doctor import (
    DANGLING_ALIAS,
    DIGEST_TAG,
    INTERRUPTED,
    NAME_MISMATCH,
    STALE_SNAPSHOT,
    TEMP,
    check,
    check_model,
)
from regctl.backends.file.edit import edit
from regctl.backends.file.store import Store
from regctl.core import atomic, digest
from regctl.core.errors import StoreError


def fix(store: Store) -> dict:
    """Repair the safe problems and warnings (see the module docstring), then check again."""
    before = check(store)
    fixed = []
    for problem in before["problems"]:
        if problem["kind"] == INTERRUPTED:
            with _locked_key(store, problem["model_key"]):
                pending = store.root / problem["path"]
                if transaction.recover(store, pending):
                    fixed.append(problem)
    found = before["problems"] + before["warnings"]
    models = sorted({p["model"] for p in found if p["fixable"] and p.get("model")})
    for name in models:
        with edit(store, name) as change:
            found = [p for p in check_model(store, name, holding_lock=True) if p["fixable"]]  # re-checked under the lock
            for problem in found:
                _plan_repair(change, problem)
                change.record("doctor.fix", name, problem["path"], problem["kind"], "repaired")
            if any(p["kind"] in (DANGLING_ALIAS, STALE_SNAPSHOT, NAME_MISMATCH) and p["path"].endswith(
                    f"/{name}/{layout.META}") or p["kind"] in (DANGLING_ALIAS, STALE_SNAPSHOT) for p in found):
                meta = store.read_yaml(layout.model_meta(store.root, name), missing_ok=True)
                if isinstance(meta, dict):
                    change.write(layout.model_meta(store.root, name), change.model_meta_text(dict(meta, name=name)))
            fixed.extend(found)
    for problem in before["problems"]:
        if problem["kind"] == TEMP and not problem.get("model"):
            lock = (layout.lock_of_key(store.root, problem["model_key"]) if problem.get("model_key")
                    else store.lock_path(layout.logged_model_lock_name(problem['logged_model'])) if problem.get("logged_model")
                    else None)
            if _remove_leftover(store, problem, lock):
                fixed.append(problem)
        elif problem["kind"] == copies.UNREFERENCED and copies.remove(store, problem):
            fixed.append(problem)
    after = check(store)
    after["fixed"] = fixed
    return after


def _plan_repair(change, problem: dict) -> None:
    store = change.store
    path = store.root / problem["path"]
    kind = problem["kind"]
    if kind == TEMP:
        change.remove_tree(path)
    elif kind == DANGLING_ALIAS:
        change.delete_alias(problem["alias"])
    elif kind == DIGEST_TAG:
        _move_digest_tag(change, problem["version"])
    elif kind == NAME_MISMATCH and path != layout.model_meta(store.root, change.name):
        number = layout.version_number_of(path.parent.name)
        change.write_version_meta(number, dict(store.read_yaml(path), name=change.name))
    # the model's own meta.yaml (name, aliases snapshot) is rewritten once per model by ``fix``


def _move_digest_tag(change, number: int) -> None:
    """Keep a regctl 0.1 digest tag's value in the version's manifest, then remove the tag."""
    store, name = change.store, change.name
    tag = store.read_version_tags(name, number)[digest.DIGEST_TAG]
    try:
        data = manifests.read_manifest(store, name, number)
    except StoreError:
        data = None  # damaged: rewritten from the tag, which regctl 0.1 trusted over the file list
    if data is None or data.get("digest") != tag:
        files = data.get("files") if data is not None else None
        usable = isinstance(files, dict) and digest.digest_of(files) == tag
        change.write(layout.version_dir(store.root, name, number) / digest.MANIFEST_FILE,
                     digest.manifest_bytes(tag, files if usable else None).decode("utf-8", "surrogateescape"))
    change.delete_tag(digest.DIGEST_TAG, number)


def _remove_leftover(store: Store, problem: dict, lock) -> bool:
    """Remove a leftover outside any model directory, under the lock its writer held."""
    path = store.root / problem["path"]
    with (atomic.locked(lock, problem["path"]) if lock else contextlib.nullcontext()):
        if not os.path.lexists(path):
            return False  # it was a live writer's, and that writer has finished
        plan = transaction.Plan(store)
        plan.remove_tree(path)
        plan.record("doctor.fix", None, problem["path"], problem["kind"], "repaired")
        key = problem.get("model_key") or layout.model_key(problem["path"])
        transaction.run(store, layout.pending_of_key(store.root, key), plan)
    return True


def _locked_key(store: Store, key: str):
    return atomic.locked(layout.lock_of_key(store.root, key), f"model key {key}")
