"""The commands that write: register, alias set/delete/rollback, tag, stage, rename, delete, gc, push."""

from typing import List, Optional

from regctl.api import Registry, parse_tag_assignment
from regctl.cli import progressbar, render
from regctl.cli.session import State, open_registry, told
from regctl.core.errors import InvalidInput


def register(source: str, name: str, description: Optional[str] = None, tag: Optional[List[str]] = None,
             alias: Optional[List[str]] = None, copy: bool = False, dry_run: bool = False,
             json: bool = False) -> None:
    tags = dict(parse_tag_assignment(t) for t in tag or [])
    registry = open_registry(dry_run)
    version = registry.register(source, name, description=description, tags=tags, aliases=alias or [], copy=copy)
    told(f"registered {name} version {version.version} from {version.source}")
    if not json:
        render.line(version.version)
    elif dry_run:
        render.print_json(version.to_json())
    else:  # as `describe --version N --json` prints it, lineage included
        render.print_json(registry.get_version(name, version.version).to_json())


def alias_set(name: str, alias: str, version: str, expect: Optional[str] = None, dry_run: bool = False,
              json: bool = False) -> None:
    _show_alias_change(open_registry(dry_run).set_alias(name, alias, version, expect=expect), json)


def alias_delete(name: str, alias: str, dry_run: bool = False, json: bool = False) -> None:
    _show_alias_change(open_registry(dry_run).delete_alias(name, alias), json)


def alias_rollback(name: str, alias: str, dry_run: bool = False, json: bool = False) -> None:
    _show_alias_change(open_registry(dry_run).rollback_alias(name, alias), json)


def _show_alias_change(change, json: bool = False) -> None:
    old = "(none)" if change.old is None else change.old
    new = "(deleted)" if change.new is None else change.new
    if change.changed:
        told(f"{change.alias}: {old} -> {new}")
    else:
        told(f"{change.alias}: already {new}, nothing changed")
    _json(change, json)


def _json(result, json: bool) -> None:
    """A write's result as JSON on stdout, when asked (--json)."""
    if json:
        render.print_json(result.to_json())


def tag(name: str, assignments: Optional[List[str]] = None, delete: Optional[List[str]] = None,
        version: Optional[str] = None, dry_run: bool = False, json: bool = False) -> None:
    if bool(assignments) == bool(delete):
        raise InvalidInput("give either KEY=VALUE pairs or --delete KEY, not both or neither")
    registry = open_registry(dry_run)
    if delete:
        change = registry.delete_tags(name, delete, version=version)
        told(f"removed {len(delete)} tag(s)")
    else:
        tags = dict(parse_tag_assignment(a) for a in assignments or [])
        change = registry.set_tags(name, tags, version=version)
        told(f"set {len(tags)} tag(s)")
    _json(change, json)


def stage(name: str, version: str, stage: str, archive_existing: bool = False, dry_run: bool = False,
          json: bool = False) -> None:
    change = open_registry(dry_run).transition_stage(name, version, stage, archive_existing=archive_existing)
    archived = f" (archived {', '.join(map(str, change.archived))})" if change.archived else ""
    told(f"version {change.version}: {change.old_stage} -> {change.current_stage}{archived}")
    _json(change, json)


def rename(old: str, new: str, dry_run: bool = False, json: bool = False) -> None:
    change = open_registry(dry_run).rename(old, new)
    told(f"renamed {old} to {new}")
    _json(change, json)


def delete(name: str, version: Optional[str] = None, yes: bool = False, dry_run: bool = False,
           json: bool = False) -> None:
    registry = open_registry(dry_run)
    if not yes and not dry_run:
        _confirm_delete(registry, name, version)
    if version is None:
        result = registry.delete_model(name)
        told(f"deleted model {name}")
    else:
        result = registry.delete_version(name, version)
        removed = f"; removed aliases {', '.join(result.aliases_removed)}" if result.aliases_removed else ""
        told(f"deleted version {result.version} of {name}{removed}")
    _json(result, json)


def _confirm_delete(registry: Registry, name: str, version: Optional[str]) -> None:
    """Ask on a terminal; refuse (exit 2) when stdin is not one or the answer is not yes."""
    if not render.interactive():
        raise InvalidInput("refusing to delete without --yes (standard input is not a terminal)")
    if version is None:
        model = registry.get_model(name)
        question = (f"Delete registered model {name!r} with its {model.version_count} version(s), "
                    f"tags and aliases? This cannot be undone.")
    else:
        found = registry.get_version(name, version)
        lost = f"; its aliases {', '.join(found.aliases)} will be removed" if found.aliases else ""
        question = f"Soft-delete version {found.version} of {name!r}{lost}?"
    if not render.confirm(question):
        raise InvalidInput("not deleted: not confirmed")


def _asking(yes: bool, dry_run: bool) -> bool:
    """Whether a bulk change is shown and confirmed first: only a person at a terminal is asked."""
    return not yes and not dry_run and render.interactive()


def _planning_registry() -> Registry:
    """The same store as the command's, opened for a dry run: what the question shows."""
    return Registry(State.store_option, dry_run=True, notify=render.waiting)


def _confirm(plan: List[str], question: Optional[str]) -> None:
    """Show the plan on stderr and ask; a plan with nothing to change (``question`` None) asks nothing."""
    if question is None:
        return
    for text in plan:
        render.info(text)
    if not render.confirm(question):
        raise InvalidInput("nothing changed: not confirmed")


def gc(keep: int, name: Optional[str] = None, keep_aliased: bool = False, delete_staged: bool = False,
       all_models: bool = False, yes: bool = False, dry_run: bool = False, json: bool = False) -> None:
    if (name is None) == (not all_models):
        raise InvalidInput("give a model NAME or --all-models, not both or neither")
    registry = open_registry(dry_run)
    if _asking(yes, dry_run):
        planned = _planning_registry().gc(name, keep=keep, keep_aliased=keep_aliased, delete_staged=delete_staged)
        doomed = [c for c in planned if c.deleted]
        count = sum(len(c.deleted) for c in doomed)
        _confirm([f"{c.name}: would delete versions {', '.join(map(str, c.deleted))}" for c in doomed],
                 f"Soft-delete {count} version(s) of {len(doomed)} model(s)?" if count else None)
    with progressbar.progress(None, "collecting") as progress:
        collected = registry.gc(name, keep=keep, keep_aliased=keep_aliased, delete_staged=delete_staged,
                                progress=progress)
    State.changed = not dry_run and any(c.deleted for c in collected)
    if json:
        render.print_json([c.to_json() for c in collected])
    for c in collected:
        spared = "".join(f"; kept {v} ({why})" for v, why in sorted(c.protected.items(), reverse=True))
        deleted = f"deleted versions {', '.join(map(str, c.deleted))}" if c.deleted else "nothing to delete"
        told(f"{c.name}: {deleted}{spared}")


def push(to: str, names: Optional[List[str]] = None, source: Optional[str] = None, dry_run: bool = False,
         move_aliases: bool = False, yes: bool = False, jobs: Optional[int] = None, json: bool = False) -> None:
    origin = Registry(source if source is not None else State.store_option, notify=render.waiting)
    if _asking(yes, dry_run):
        plan = origin.push(to, names or None, dry_run=True, move_aliases=move_aliases)
        copies, aliases = plan.count("would copy"), sum(len(m.aliases) for m in plan.models)
        _confirm(plan.lines(), f"Copy {copies} version(s) and set {aliases} alias(es) in {plan.target}?"
                 if copies or aliases else None)
    with progressbar.progress(None, "pushing") as update:
        report = origin.push(to, names or None, dry_run=dry_run, progress=None if json else update,
                             move_aliases=move_aliases, jobs=jobs)
    State.changed = not dry_run
    if json:
        render.print_json(report.to_json())
    else:
        for text in report.lines():
            render.line(text)
        render.info(report.summary())
