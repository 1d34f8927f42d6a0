"""Tables, JSON and plain text. The only module that imports Rich.

Rich tables and Markdown on a terminal (no colour or styles when ``NO_COLOR``
is set). When stdout is not a terminal, plain aligned columns that are never
cut or wrapped, and Rich is not imported at all: it costs tens of
milliseconds to import and seconds to lay out ten thousand rows.
"""

import json
import os
import sys
import time


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def info(message: str) -> None:
    """A human confirmation: stderr, so stdout stays clean for pipelines."""
    sys.stderr.write(message + "\n")


def timestamp(ms) -> str:
    if not isinstance(ms, int):
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) + "Z"


def first_line(text) -> str:
    if not text:
        return ""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def tags_text(tags: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _console():
    from rich.console import Console

    # Rich's own NO_COLOR support drops colours but still emits bold/dim escapes.
    return Console(color_system=None, highlight=False) if os.environ.get("NO_COLOR") else Console()


def table(columns, rows) -> None:
    """A Rich table on a terminal, aligned plain columns otherwise."""
    cells = [[_cell(value) for value in row] for row in rows]
    if not sys.stdout.isatty():
        widths = [len(column) for column in columns]
        for row in cells:
            widths = [max(width, len(cell)) for width, cell in zip(widths, row)]
        lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [list(columns)] + cells)
        sys.stdout.write("".join(line + "\n" for line in lines))
        return
    from rich.markup import escape
    from rich.table import Table

    grid = Table(show_edge=False, box=None, header_style="bold", pad_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in cells:
        grid.add_row(*[escape(cell) for cell in row])
    _console().print(grid)


def _cell(value) -> str:
    return "" if value is None else str(value).replace("\n", "\\n")


def models(views) -> None:
    table(
        ["NAME", "LATEST", "ALIASES", "TAGS", "UPDATED", "DESCRIPTION"],
        [
            [v["name"], v["latest_version"], ", ".join(f"{a}->{n}" for a, n in v["aliases"].items()),
             tags_text(v["tags"]), timestamp(v["last_updated_timestamp"]), first_line(v["description"])]
            for v in views
        ],
    )


def versions(views) -> None:
    table(
        ["VERSION", "STAGE", "ALIASES", "CREATED", "RUN ID", "SOURCE", "STATUS", "TAGS"],
        [
            [v["version"], v["current_stage"], ", ".join(v["aliases"]), timestamp(v["creation_timestamp"]),
             v["run_id"] or "", v["source"], v["status"], tags_text(v["tags"])]
            for v in views
        ],
    )


def aliases(mapping: dict) -> None:
    table(["ALIAS", "VERSION"], [[a, v] for a, v in mapping.items()])


def details(pairs, description=None) -> None:
    """A two-column key/value listing, then the description rendered as Markdown."""
    table(["FIELD", "VALUE"], pairs)
    if not description:
        return
    if not sys.stdout.isatty():
        sys.stdout.write("\n" + description.rstrip("\n") + "\n")
        return
    from rich.markdown import Markdown

    console = _console()
    console.print()
    console.print(Markdown(description))


def model_details(view: dict) -> None:
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
    details(pairs, view["description"])


def version_details(view: dict) -> None:
    lineage = view["lineage"]
    pairs = [
        ("name", view["name"]),
        ("version", view["version"]),
        ("stage", view["current_stage"]),
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
    details(pairs, view["description"])


def history(records) -> None:
    table(
        ["TIME", "USER", "OPERATION", "MODEL", "TARGET", "OLD", "NEW"],
        [
            [timestamp(r.get("time")), r.get("user"), r.get("operation"), r.get("model"),
             r.get("target"), _short(r.get("old")), _short(r.get("new"))]
            for r in records
        ],
    )


def _short(value) -> str:
    text = "" if value is None else first_line(value) if "\n" in str(value) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def doctor_lines(report: dict) -> list:
    """A doctor report as lines of text: repairs, then remaining problems, then a summary."""
    lines = [f"fixed: {p['path']}: {p['message']}" for p in report["fixed"]]
    for p in report["problems"]:
        hint = " (doctor --fix repairs this)" if p["fixable"] else ""
        lines.append(f"{p['kind']}: {p['path']}: {p['message']}{hint}")
    count = len(report["problems"])
    lines.append(f"{report['store']}: " + ("no problems found" if not count else f"{count} problem(s) found"))
    return lines


class _ProgressBar:
    """A Rich progress bar on stderr, started on the first update."""

    def __init__(self):
        self._progress = self._task = None

    def update(self, done: int, total: int) -> None:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("pushing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                      console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("push", total=total)
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def progress_bar():
    """A progress bar when stderr is a terminal, else None (the caller prints one summary line)."""
    return _ProgressBar() if sys.stderr.isatty() else None
