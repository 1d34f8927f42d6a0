"""How each kind of result is shown: models, versions, aliases, details, history, doctor's
findings, searches and diffs, each as a table, TSV, CSV or JSON (``render`` does the formats)."""

import json
import sys

from regctl.cli.render import GAP, Col, _cell, _console, _isatty, _plain, emit, line, out, timestamp
from regctl.cli.report import visible


def models(models, fmt: str = "table", wide: bool = False) -> None:
    """``RegisteredModel`` results as a table, TSV or CSV."""
    emit(
        [Col("NAME", "id", 100), Col("LATEST", "id", 90), Col("ALIASES", "list", 80), Col("TAGS", "list", 40, 16),
         Col("UPDATED", "id", 50), Col("DESCRIPTION", "text", 30, 16)],
        [
            [m.name, m.latest_version, [f"{a}->{n}" for a, n in m.aliases.items()],
             _tag_items(m.tags), timestamp(m.last_updated_timestamp), m.description]
            for m in models
        ],
        fmt, wide=wide,
    )


def versions(versions, fmt: str = "table", wide: bool = False) -> None:
    """``ModelVersion`` results as a table, TSV or CSV."""
    emit(
        [Col("VERSION", "id", 100), Col("STAGE", "id", 90), Col("ALIASES", "list", 80), Col("CREATED", "id", 50),
         Col("RUN ID", "id", 60), Col("SOURCE", "text", 30, 24), Col("STATUS", "id", 20), Col("TAGS", "list", 40, 16)],
        [
            [v.version, stage(v.current_stage, fmt), list(v.aliases), timestamp(v.creation_timestamp),
             v.run_id or "", v.source, v.status, _tag_items(v.tags)]
            for v in versions
        ],
        fmt, wide=wide,
    )


def _tag_items(tags) -> list:
    return [f"{k}={v}" for k, v in sorted(tags.items())]


def aliases(mapping: dict, fmt: str = "table", wide: bool = False) -> None:
    emit([Col("ALIAS", "id", 100), Col("VERSION", "id", 90)], [[a, v] for a, v in mapping.items()], fmt, wide=wide)


def details(pairs, description=None, fmt: str = "table") -> None:
    """A two-column FIELD/VALUE listing, then the description (Markdown on a terminal).

    On a terminal every value is shown whole (``describe`` is read to see everything);
    TSV and CSV give the description a row of its own."""
    columns = [Col("FIELD", "id", 100), Col("VALUE", "id", 90)]
    if fmt in ("tsv", "csv"):
        emit(columns, list(pairs) + ([("description", description)] if description else []), fmt)
        return
    if _isatty(sys.stdout) and fmt == "table":
        _wrapped_pairs(pairs)
    else:
        emit(columns, pairs, fmt, wide=True)
    if not description:
        return
    description = "\n".join(visible(line) for line in description.split("\n"))
    if not _isatty(sys.stdout):
        out("\n" + description.rstrip("\n") + "\n")
        return
    from rich.markdown import Markdown

    console = _console()
    console.print()
    console.print(Markdown(description))


def model_details(view: dict, fmt: str = "table") -> None:
    pairs = [
        ("name", view["name"]),
        ("created", timestamp(view["creation_timestamp"])),
        ("updated", timestamp(view["last_updated_timestamp"])),
        ("versions", view["version_count"]),
        ("latest version", view["latest_version"]),
        ("aliases", ", ".join(f"{a} -> {n}" for a, n in view["aliases"].items())),
    ]
    pairs += [(f"tag {k}", v) for k, v in sorted(view["tags"].items())]
    pairs += [(f"latest {v['current_stage']}", v["version"]) for v in view["latest_versions"]]
    details(pairs, view["description"], fmt)


def version_details(view: dict, fmt: str = "table") -> None:
    lineage = view["lineage"]
    pairs = [
        ("name", view["name"]),
        ("version", view["version"]),
        ("stage", stage(view["current_stage"], fmt)),
        ("status", view["status"]),
        ("aliases", ", ".join(view["aliases"])),
        ("created", timestamp(view["creation_timestamp"])),
        ("updated", timestamp(view["last_updated_timestamp"])),
        ("source", view["source"]),
        ("storage location", view["storage_location"]),
        ("run", f"{lineage['run_id'] or ''} {('(' + lineage['run_name'] + ')') if lineage['run_name'] else ''}".strip()),
        ("experiment", lineage["experiment_id"]),
        ("logged model", lineage["model_id"]),
        ("artifact path", lineage["artifact_path"] or "(missing)"),
    ]
    pairs += [(f"tag {k}", v) for k, v in sorted(view["tags"].items())]
    details(pairs, view["description"], fmt)


def history(records, fmt: str = "table", wide: bool = False) -> None:
    emit(
        [Col("TIME", "id", 60), Col("USER", "id", 40), Col("OPERATION", "id", 80), Col("MODEL", "id", 95),
         Col("TARGET", "id", 85), Col("OLD", "text", 50, 16), Col("NEW", "text", 55, 16)],
        [
            [timestamp(r.get("time")), r.get("user"), r.get("operation"), r.get("model"),
             r.get("target"), _value(r.get("old")), _value(r.get("new"))]
            for r in records
        ],
        fmt, wide=wide,
    )


def _value(value):
    return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def doctor_lines(report: dict) -> list:
    """A doctor report as lines of text: repairs, remaining problems, warnings, then a summary."""
    lines = [f"fixed: {_doctor_place(p)}: {p['message']}" for p in report["fixed"]]
    for level, found in (("", report["problems"]), ("warning: ", report.get("warnings", []))):
        for p in found:
            hint = " (doctor --fix repairs this)" if p["fixable"] else ""
            lines.append(f"{level}{p['kind']}: {_doctor_place(p)}: {p['message']}{hint}")
    count, warned = len(report["problems"]), len(report.get("warnings", []))
    summary = "no problems found" if not count else f"{count} problem(s) found"
    lines.append(f"{report['store']}: {summary}" + (f", {warned} warning(s)" if warned else ""))
    return lines


def _doctor_place(found: dict) -> str:
    """Where a doctor finding is: its path, and its model where the path does not say (a database table)."""
    model = found.get("model")
    return found["path"] if not model or model in found["path"] else f"{found['path']} (model {model})"


def search_versions(versions, fmt: str = "table", wide: bool = False) -> None:
    """Versions of several models: the version table with the model's name first."""
    emit(
        [Col("NAME", "id", 100), Col("VERSION", "id", 95), Col("STAGE", "id", 90), Col("ALIASES", "list", 80),
         Col("UPDATED", "id", 50), Col("SOURCE", "text", 30, 24), Col("TAGS", "list", 40, 16)],
        [
            [v.name, v.version, stage(v.current_stage, fmt), list(v.aliases), timestamp(v.last_updated_timestamp),
             v.source, _tag_items(v.tags)]
            for v in versions
        ],
        fmt, wide=wide,
    )


def diff(view: dict, fmt: str = "table") -> None:
    """Each differing field with its two values, or one line saying they are equal."""
    if view["equal"]:
        line(f"{view['a']} and {view['b']}: no differences")
        return
    emit([Col("FIELD", "id", 100), Col(view["a"], "text", 90, 24), Col(view["b"], "text", 90, 24)],
         [[d["field"], _diff_value(d["a"]), _diff_value(d["b"])] for d in view["differences"]], fmt, wide=True)


def _diff_value(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def stage(value: str, fmt: str) -> str:
    """A stage as a person reads it: MLflow's ``Deleted_Internal`` is "deleted" (JSON keeps MLflow's value)."""
    return "deleted" if value == "Deleted_Internal" and fmt != "json" else value


def _wrapped_pairs(pairs) -> None:
    """FIELD/VALUE on a terminal: every value whole, folded into the terminal's width."""
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    grid = Table(show_edge=False, box=None, header_style="bold", pad_edge=False, padding=(0, GAP // 2),
                 width=console.width)
    grid.add_column("FIELD", no_wrap=True)
    grid.add_column("VALUE", overflow="fold", ratio=1)
    for field, value in pairs:
        grid.add_row(escape(_cell(field)), escape(_cell(_plain(value))))
    console.print(grid)
