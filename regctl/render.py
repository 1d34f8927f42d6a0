"""Tables, JSON and plain text. The only module that imports Rich.

Rich tables and Markdown on a terminal (no colour or styles when ``NO_COLOR``
is set). When stdout is not a terminal, plain aligned columns that are never
cut or wrapped, and Rich is not imported at all: it costs tens of
milliseconds to import and seconds to lay out ten thousand rows.
"""

import contextlib
import json
import os
import re
import sys
import time


class OutputClosed(Exception):
    """Standard output was closed by its reader (``| head``); not an OSError, so Click leaves it alone."""


def out(text: str) -> None:
    """Write to standard output; a reader that went away raises OutputClosed."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosed() from None


def line(text) -> None:
    out(f"{visible(str(text))}\n")


def print_json(data) -> None:
    # str() for values YAML may hold that JSON has no type for (dates): exact text, never a crash
    out(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n")


def info(message: str) -> None:
    """A human confirmation: stderr, so stdout stays clean for pipelines."""
    sys.stderr.write(visible(message) + "\n")


def timestamp(ms) -> str:
    if not isinstance(ms, int) or isinstance(ms, bool):
        return ""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) + "Z"
    except (OverflowError, OSError, ValueError):
        return str(ms)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` with control characters (terminal escapes, bidi overrides) shown as escapes, not obeyed."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


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
        out("".join(text + "\n" for text in lines))
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
    return "" if value is None else visible(str(value).replace("\n", "\\n"))


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
    description = "\n".join(visible(line) for line in description.split("\n"))
    if not sys.stdout.isatty():
        out("\n" + description.rstrip("\n") + "\n")
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
    """A doctor report as lines of text: repairs, remaining problems, warnings, then a summary."""
    lines = [f"fixed: {p['path']}: {p['message']}" for p in report["fixed"]]
    for level, found in (("", report["problems"]), ("warning: ", report.get("warnings", []))):
        for p in found:
            hint = " (doctor --fix repairs this)" if p["fixable"] else ""
            lines.append(f"{level}{p['kind']}: {p['path']}: {p['message']}{hint}")
    count, warned = len(report["problems"]), len(report.get("warnings", []))
    summary = "no problems found" if not count else f"{count} problem(s) found"
    lines.append(f"{report['store']}: {summary}" + (f", {warned} warning(s)" if warned else ""))
    return lines


class _NoProgress:
    def __call__(self, done: int, total: int) -> None:
        pass


@contextlib.contextmanager
def progress(total, description: str):
    """A Rich progress bar on stderr while the block runs, when stderr is a terminal; else nothing.

    Yields ``update(done, total)``, the callback the library's long operations accept.
    """
    if not sys.stderr.isatty():
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True, color_system=None if os.environ.get("NO_COLOR") else "auto")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(visible(description), total=total)

        def update(done: int, new_total: int) -> None:
            bar.update(task, completed=done, total=new_total)

        yield update


def search_versions(views) -> None:
    """Versions of several models: the version table with the model's name first."""
    table(
        ["NAME", "VERSION", "STAGE", "ALIASES", "UPDATED", "SOURCE", "TAGS"],
        [
            [v["name"], v["version"], v["current_stage"], ", ".join(v["aliases"]),
             timestamp(v["last_updated_timestamp"]), v["source"], tags_text(v["tags"])]
            for v in views
        ],
    )


def diff(view: dict) -> None:
    """Each differing field with its two values, or one line saying they are equal."""
    if view["equal"]:
        line(f"{view['a']} and {view['b']}: no differences")
        return
    table(["FIELD", view["a"], view["b"]],
          [[d["field"], _diff_value(d["a"]), _diff_value(d["b"])] for d in view["differences"]])


def _diff_value(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)
