"""``regctl push``: copy registered models from one store to another, any kind to any kind.

Built on the ``Registry`` API only (reads, ``register``, ``set_alias``,
``set_tags``, ``set_description``, ``transition_stage``, ``delete_version``),
plus two optional backend capabilities:

* ``download(uri, dest)``: fetch a version's files when they are not on this
  machine (the server backend streams them through the artifact proxy);
* putting files into the target: the server backend uploads them as a logged
  model (``upload_model``); a file store gets an MLflow 3 logged model in its
  Default experiment (``0/models/m-<id>/artifacts``), a database a directory
  beside it, so the copy does not depend on the source: any backend may offer
  ``importing(local_dir)``, a context yielding the source URI to register, which
  removes the copy again when the registration fails before a version refers to it.

What is copied, per model: every live version with its files, description,
tags and stage; the model's description and tags; its aliases, moved to the
mapped versions. Versions are matched by their content digest (the
``regctl.content_digest`` tag, the manifest regctl keeps beside a server
version's files, or the files hashed), so a second run copies nothing. A model
new in the target keeps its version numbers (the numbers of deleted source
versions are used up by a placeholder version, deleted at once); in a model that
exists, versions get the next numbers and the mapping is printed.

Every model is read and checked before anything is written to the target, in a
dry run as in a real one (``plan_model``): the files of each version to copy are
there and match the digest regctl recorded for them, and the target would accept
the model's name, aliases and tags. What only shows while writing (the target
failing mid-way) can leave a partial copy, which a second run completes. The files a
source server sends to be checked are kept in the scratch directory for the copy (up to
``KEEP_CHECKED`` bytes in all); past that they are fetched again, each checked against the
hash it had, so what is copied is what was checked.

``jobs``: how many versions' files move at once when a store allows it (a server: its
``parallel`` property). Reads and checks, downloads from a source server and uploads to a
target server run on up to ``jobs`` helper threads (``core.parallel.Ahead``), ahead of the
version being registered; versions are still registered one at a time, in the source's order,
so their numbers are those a one-at-a-time push gives. ``jobs=1`` starts no thread.
"""

import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional, Sequence

from regctl.core import digest
from regctl.core.errors import Conflict, NotFound, RegctlError
from regctl.core.names import check_text, show, validate_alias, validate_model_name, validate_tags
from regctl.core.parallel import Ahead
from regctl.versionfiles import (
    DIGEST_TAG,
    check_files,
    current_files,
    imported_files,
    local_files,
    recorded_digest,
    scratch_directory,
    version_digest,
)

DEFAULT_JOBS = 4
# bytes of the files a source server sends to be checked that are kept for the copy (read once, not
# twice); past it they are checked as they stream and fetched again when copied
KEEP_CHECKED = 256 << 20


@dataclass
class VersionCopy:
    source: int
    target: Optional[int]
    action: str  # "copied", "present" (matched by digest), "would copy"


@dataclass
class ModelCopy:
    name: str
    created: bool
    versions: List[VersionCopy] = field(default_factory=list)
    aliases: dict = field(default_factory=dict)  # alias -> target version moved
    note: Optional[str] = None

    def to_json(self) -> dict:
        return {"name": self.name, "created": self.created,
                "versions": [{"source": v.source, "target": v.target, "action": v.action} for v in self.versions],
                "aliases": dict(self.aliases), "note": self.note}


@dataclass
class PushReport:
    source: str
    target: str
    dry_run: bool
    models: List[ModelCopy] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for m in self.models for v in m.versions if v.action == action)

    def to_json(self) -> dict:
        return {"from": self.source, "to": self.target, "dry_run": self.dry_run,
                "models": [m.to_json() for m in self.models],
                "copied": self.count("copied"), "present": self.count("present"),
                "would_copy": self.count("would copy")}

    def lines(self) -> List[str]:
        """One line per version copied, renumbered or planned, and per alias moved."""
        out = []
        for model in self.models:
            if model.note:
                out.append(f"{model.name}: {model.note}")
            for v in model.versions:
                if v.action == "copied":
                    renumbered = f" -> {v.target}" if v.target != v.source else " copied"
                    out.append(f"{model.name}: version {v.source}{renumbered}")
                elif v.action == "would copy":
                    out.append(f"{model.name}: version {v.source} -> {v.target if v.target else '(new)'} (dry run)")
                elif v.source != v.target:
                    out.append(f"{model.name}: version {v.source} = {v.target} (already there)")
            for alias, number in model.aliases.items():
                out.append(f"{model.name}: alias {alias} -> {number}" + (" (dry run)" if self.dry_run else ""))
        return out

    def summary(self) -> str:
        moved = sum(len(m.aliases) for m in self.models)
        if self.dry_run:
            return (f"dry run: {len(self.models)} model(s), {self.count('would copy')} version(s) to copy, "
                    f"{self.count('present')} already in {self.target}, {moved} alias(es) to move; nothing changed")
        return (f"pushed {len(self.models)} model(s) to {self.target}: {self.count('copied')} version(s) copied, "
                f"{self.count('present')} already there, {moved} alias(es) moved")


def _parallel(registry) -> bool:
    return bool(getattr(registry.backend, "parallel", False))


def _ahead(work, items, jobs: int, *registries) -> Ahead:
    """``Ahead`` over ``items``, on ``jobs`` threads when every store ``work`` uses allows it, else one at a time."""
    backends = [r.backend for r in registries]
    if not backends or not all(getattr(b, "parallel", False) for b in backends):
        jobs = 1
    return Ahead(work, items, jobs, on_stop=[b.halt_parallel for b in backends if jobs > 1],
                 on_end=[b.end_parallel for b in backends if jobs > 1])


# ------------------------------------------------------------------------ plan

@dataclass
class ModelPlan:
    """What push does to one model, found by reading both stores; checked before the target is written."""
    model: Any
    versions: list  # the source's live versions, oldest first
    existing: Any  # the model in the target, or None
    target_versions: dict = field(default_factory=dict)  # number -> the target's version
    present: dict = field(default_factory=dict)  # source number -> the target version with the same files
    checked: dict = field(default_factory=dict)  # source number -> what current_files read (and kept)


@dataclass
class Keeping:
    """Where the files a source server sends to be checked are kept for the copy, and how many bytes
    are kept so far, for the whole push (at most ``KEEP_CHECKED``, give or take a version)."""
    scratch: Path
    kept: int = 0


def plan_model(source, target, name: str, target_exists: bool, jobs: int = 1,
               keeping: Optional[Keeping] = None) -> ModelPlan:
    """Read and check one model: NotFound, InvalidInput or IntegrityError here leaves both stores as they are."""
    model = source.get_model(name)  # NotFound for a name the source does not have
    versions = sorted(source.versions(name), key=lambda v: v.version)
    plan = ModelPlan(model, versions, _target_model(target, name, target_exists))
    _check_values(plan)
    available: dict = {}  # digest -> target versions not matched yet, oldest first: each is matched once
    if plan.existing is not None:
        theirs = sorted(target.versions(name), key=lambda v: v.version)
        with _ahead(lambda version: version_digest(target, version), theirs, jobs, target) as digests:
            for version, found in zip(theirs, digests):
                plan.target_versions[version.version] = version
                available.setdefault(found, []).append(version.version)

    def keys(version) -> tuple:
        recorded = recorded_digest(source, version)
        if recorded:
            return recorded, recorded, None
        files = current_files(source, version)
        return recorded, digest.digest_of(files[1]), files

    unmatched = []
    with _ahead(keys, versions, jobs, source) as found:
        for version, (recorded, key, files) in zip(versions, found):
            matches = available.get(key)
            if matches:
                plan.present[version.version] = matches.pop(0)
            elif recorded:  # to be copied: its files must be there and be what was registered
                unmatched.append((version, recorded))
            else:
                plan.checked[version.version] = files

    def check(pair) -> tuple:
        version, recorded = pair
        keep = None
        if keeping is not None and keeping.kept < KEEP_CHECKED:
            keep = Path(tempfile.mkdtemp(prefix=f"v{version.version}-", dir=keeping.scratch))
        files = check_files(source, version, recorded, keep)
        if keeping is not None and files[2] is not None:
            keeping.kept += sum(p.stat().st_size for p in files[2].rglob("*") if p.is_file())
        elif keep is not None:
            shutil.rmtree(keep, ignore_errors=True)
        return files

    with _ahead(check, unmatched, jobs, source) as checks:
        for (version, _), files in zip(unmatched, checks):
            plan.checked[version.version] = files
    return plan


def _target_model(target, name: str, target_exists: bool):
    if not target_exists:
        return None
    try:
        return target.get_model(name)
    except NotFound:
        return None


def _check_values(plan: ModelPlan) -> None:
    """InvalidInput for a name, alias or tag the target would refuse (a model MLflow 2 named ``a:b``)."""
    if plan.existing is None and plan.versions:
        validate_model_name(plan.model.name)
    for tags in [plan.model.tags] + [v.tags for v in plan.versions]:
        validate_tags(tags)
    for version in plan.versions:
        for text, what in ((version.description, "description"), (version.run_link, "run link")):
            if text is not None:
                check_text(text, what)
    for alias in plan.model.aliases:
        validate_alias(alias)


# ------------------------------------------------------------------------ push

def push(source, target, names: Optional[Sequence[str]] = None, *, dry_run: bool = False,
         progress=None, move_aliases: bool = False, jobs: int = DEFAULT_JOBS) -> PushReport:
    """Copy the models ``names`` (all when None) from the ``source`` registry to ``target``.

    Every model is read and checked first (see ``plan_model``), so a push that would fail on
    what can be checked fails, dry run or not, before anything is written to the target.
    ``jobs``: versions whose files move at once (see the module's notes).
    """
    with contextlib.ExitStack() as stack:
        for registry in (source, target):  # a server: each version's location is asked once
            remembering = getattr(registry.backend, "remembering", None)
            if remembering is not None:
                stack.enter_context(remembering())
        scratch = stack.enter_context(scratch_directory())
        wanted = list(dict.fromkeys(names)) if names else [m.name for m in source.models()]
        target_exists = _target_exists(target)
        keeping = None if dry_run else Keeping(scratch)
        plans = [plan_model(source, target, name, target_exists, jobs, keeping) for name in wanted]
        return _push_plans(source, target, plans, dry_run, progress, move_aliases, jobs, scratch)


def _push_plans(source, target, plans: list, dry_run: bool, progress, move_aliases: bool, jobs: int,
                scratch: Path) -> PushReport:
    conflicts = [held for plan in plans for held in alias_conflicts(plan)]
    if conflicts and not move_aliases:
        raise Conflict(f"the target's aliases {', '.join(conflicts)} point elsewhere; nothing "
                       f"{'would be ' if dry_run else ''}copied (--move-aliases moves them)")
    check_import = getattr(target.backend, "check_import", None)
    if check_import is not None and any(len(plan.present) < len(plan.versions) for plan in plans):
        check_import()
    report = PushReport(source.location, target.location, dry_run)
    total = sum(len(plan.versions) for plan in plans)
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    for plan in plans:
        try:
            report.models.append(_push_model(source, target, plan, dry_run, scratch, tick, jobs))
        except RegctlError as exc:
            before = [show(m.name) for m in report.models
                      if m.created or m.aliases or any(v.action == "copied" for v in m.versions)]
            if not before:
                raise
            raise type(exc)(f"model {show(plan.model.name)}: {exc.message}; copied before it (a rerun "
                            f"copies only what is missing): {', '.join(before)}") from None
    return report


def alias_conflicts(plan: ModelPlan) -> list:
    """The aliases the target already has that the push would move: ``NAME@ALIAS (at N)``."""
    existing = plan.existing
    if existing is None or not plan.versions:
        return []
    held = dict(existing.aliases)
    return [f"{show(plan.model.name)}@{alias} (at {held[alias]})" for alias, number in plan.model.aliases.items()
            if number is not None and held.get(alias) is not None and plan.present.get(number) != held[alias]]


def _target_exists(target) -> bool:
    """Whether the target store exists; a local one that does not is empty, and the first change creates it."""
    return target.backend.exists()


def _push_model(source, target, plan: ModelPlan, dry_run, scratch, tick, jobs: int = 1) -> ModelCopy:
    name, existing = plan.model.name, plan.existing
    copy = ModelCopy(name, created=existing is None)
    if not plan.versions:
        copy.note = "no live versions: not copied (a model is created by its first version)"
        return copy
    mapping = {}
    next_number = 1
    missing = [] if dry_run else [v for v in plan.versions if v.version not in plan.present]
    made = [existing is not None]  # whether the model is in the target (a copy registers into it)
    with _files_ahead(source, target, missing, scratch, jobs, plan.checked) as ahead:
        try:
            for version in plan.versions:
                number = plan.present.get(version.version)
                if number is not None:
                    copy.versions.append(VersionCopy(version.version, number, "present"))
                    if not dry_run:
                        _sync_version(target, version, plan.target_versions[number])
                elif dry_run:
                    number = version.version if existing is None else None
                    copy.versions.append(VersionCopy(version.version, number, "would copy"))
                else:
                    number = _copy_version(target, version, ahead.take(), next_number if existing is None else None,
                                           scratch, made)
                    next_number = number + 1
                    copy.versions.append(VersionCopy(version.version, number, "copied"))
                mapping[version.version] = number
                tick()
        except BaseException as exc:
            ahead.close(type(exc))  # the helpers are done: what they uploaded ahead is undone
            _discard(target, ahead.leftovers())
            raise
    _push_model_fields(target, plan, mapping, copy, dry_run)
    return copy


@dataclass
class Staged:
    """A version's files ready to register: a local directory, or already uploaded to the target."""
    local: Optional[Path]
    upload: Optional[tuple] = None  # upload_model's (source URI, model id, manifest)


def _files_ahead(source, target, versions: list, scratch: Path, jobs: int, checked: dict) -> Ahead:
    """Each version's files, downloaded when the source is a server and uploaded when the target is
    one, on up to ``jobs`` threads ahead of the version being registered (``Staged``, in order).
    ``checked``: the files the plan read, by source number (a server sends those, checked again)."""
    uploads = getattr(target.backend, "upload_model", None) is not None and _parallel(target)
    helpers = [r for r, used in ((source, _parallel(source)), (target, uploads)) if used]
    items: list = [(version, None) for version in versions]
    if helpers and not _parallel(source) and jobs > 1:  # a local source is read here, not on the helpers
        items = [(version, _or_error(local_files, source, version.name, version.version, scratch,
                                     checked.get(version.version)))
                 for version in versions]

    def stage(item) -> Staged:
        version, local = item
        if isinstance(local, BaseException):
            raise local
        if local is None:
            local = local_files(source, version.name, version.version, scratch, checked.get(version.version))
        if not uploads:
            return Staged(local)
        try:
            return Staged(None, target.backend.upload_model(local))
        finally:
            if local.is_relative_to(scratch):
                shutil.rmtree(local, ignore_errors=True)

    return _ahead(stage, items, jobs, *helpers)


def _or_error(function, *args):
    try:
        return function(*args)
    except RegctlError as exc:
        return exc


def _discard(target, staged: list) -> None:
    """Uploads made ahead for versions never registered are deleted again (best effort)."""
    discard = getattr(target.backend, "discard_upload", None)
    for item in staged:
        if discard is not None and item.upload is not None:
            try:
                discard(item.upload)
            except Exception:
                return


def _copy_version(target, version, staged: Staged, next_number: Optional[int], scratch: Path, made: list) -> int:
    """Register one version from its staged files, with its fields; its number in the target.
    ``next_number``: keep the source's number, using up those of deleted source versions from
    there (a model new in the target). ``made[0]``: whether the model is in the target yet."""
    name = version.name
    try:
        with _registrable(target, staged) as uri:
            while next_number is not None and next_number < version.version:
                placeholder = target.register(uri, name)
                made[0] = True
                target.delete_version(name, placeholder.version)
                next_number = placeholder.version + 1
            fields = dict(description=version.description, tags=dict(version.tags), run_link=version.run_link)
            register = getattr(target.backend, "register_uploaded", None)
            if made[0] and staged.upload is not None and register is not None:
                number = register(name, staged.upload, **fields)
            else:
                number = target.register(uri, name, **fields).version
            made[0] = True
        if version.current_stage and version.current_stage != "None":
            target.transition_stage(name, number, version.current_stage)
    finally:
        if staged.local is not None and staged.local.is_relative_to(scratch):
            shutil.rmtree(staged.local, ignore_errors=True)
    return number


@contextlib.contextmanager
def _registrable(target, staged: "Staged"):
    """The source URI a staged version is registered from: its upload's, or a copy into the target
    made now (removed again when the registration fails, see ``imported_files``)."""
    if staged.upload is not None:
        yield staged.upload[0]
    elif staged.local is not None:
        with imported_files(target, staged.local) as uri:
            yield uri


def _push_model_fields(target, plan: ModelPlan, mapping: dict, copy: ModelCopy, dry_run: bool) -> None:
    """The model's own description and tags, then its aliases, moved to the mapped versions."""
    name, model = plan.model.name, plan.model
    current = target.get_model(name) if not dry_run else plan.existing
    if current is not None and not dry_run:
        if model.description is not None and model.description != current.description:
            target.set_description(name, model.description)
        changed = {k: v for k, v in model.tags.items() if current.tags.get(k) != v}
        if changed:
            target.set_tags(name, changed)
    current_aliases = dict(current.aliases) if current is not None else {}
    for alias, number in model.aliases.items():
        mapped = mapping.get(number)
        if number is None or mapped is None and not dry_run:
            continue
        if current_aliases.get(alias) == mapped and mapped is not None:
            continue
        copy.aliases[alias] = mapped if mapped is not None else f"the copy of version {number}"
        if not dry_run:
            target.set_alias(name, alias, mapped)


def _sync_version(target, version, current) -> None:
    """Bring a matched target version's description, tags and stage in line with the source."""
    if current is None:
        return
    name, number = current.name, current.version
    if version.description is not None and version.description != current.description:
        target.set_description(name, version.description, version=number)
    changed = {k: v for k, v in version.tags.items() if k != DIGEST_TAG and current.tags.get(k) != v}
    if changed:
        target.set_tags(name, changed, version=number)
    if version.current_stage and version.current_stage != current.current_stage:
        target.transition_stage(name, number, version.current_stage)
