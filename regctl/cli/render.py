"""Tables, TSV, CSV, JSON and plain text. The only module that imports Rich.

On a terminal, Rich tables fitted to its width and Markdown (no colour or
styles when ``NO_COLOR`` is set): identifiers are never cut or wrapped, free
text is shortened with an ellipsis, and columns that do not fit are left out,
least important first (``--wide`` shows everything). When stdout is not a
terminal, tab-separated values, one record per line, and Rich is not imported
at all: it costs tens of milliseconds to import and seconds to lay out ten
thousand rows.
"""

import json
import os
import sys
import time

from regctl.cli.report import visible


class OutputClosed(Exception):
    """Standard output cannot be written: its reader went away (``| head``, a BrokenPipeError), or
    the disk behind it is full. Not an OSError, so Click leaves it alone; ``error`` says which."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


def out(text: str) -> None:
    """Write to standard output; OutputClosed when it cannot be written."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        raise OutputClosed(exc) from None


def silence_stdout() -> None:
    """Python flushes stdout again at exit; a closed pipe must not turn that into a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def line(text) -> None:
    out(f"{visible(str(text))}\n")


def print_json(data) -> None:
    # str() for values YAML may hold that JSON has no type for (dates): exact text, never a crash
    out(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n")


def info(message: str) -> None:
    """A human confirmation: stderr, so stdout stays clean for pipelines. Where stderr cannot be
    written (a full disk behind it) the confirmation is lost, never the command's stdout or status."""
    try:
        sys.stderr.write(visible(message) + "\n")
        sys.stderr.flush()
    except OSError:
        pass


def waiting(message: str) -> None:
    """Why regctl is waiting (a server being retried), on stderr when it is a terminal; in logs, only
    the final error counts (one line)."""
    if _isatty(sys.stderr):
        sys.stderr.write(f"regctl: {visible(message)}\n")
        sys.stderr.flush()


def interactive() -> bool:
    """Whether a person can be asked: standard input is a terminal."""
    return _isatty(sys.stdin)


def confirm(question: str) -> bool:
    """Ask ``question`` on stderr and read the answer from stdin: True only for y or yes."""
    sys.stderr.write(f"{visible(question)} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):  # end of input: move off the prompt's line
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def timestamp(ms) -> str:
    if not isinstance(ms, int) or isinstance(ms, bool):
        return ""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) + "Z"
    except (OverflowError, OSError, ValueError):
        return str(ms)


def first_line(text) -> str:
    if not text:
        return ""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def _console(width=None, file=None):
    from rich.console import Console

    # Rich's own NO_COLOR support drops colours but still emits bold/dim escapes.
    if os.environ.get("NO_COLOR"):
        return Console(color_system=None, highlight=False, width=width, file=file)
    return Console(highlight=False, width=width, file=file)


# ------------------------------------------------------------------ formats

FORMATS = ("table", "tsv", "csv", "json")


def default_format() -> str:
    """A table on a terminal; tab-separated values, one record per line, when piped."""
    return "table" if _isatty(sys.stdout) else "tsv"


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Col:
    """A table column.

    ``kind``: ``id`` (identifiers, numbers, stages, times: never cut or wrapped), ``text``
    (free text: shortened with an ellipsis) or ``list`` (items joined with ", ", shortened
    after a whole item). ``keep``: the higher, the longer the column stays on a terminal
    too narrow for every column. ``least``: a shortened text or list column is left out
    rather than made narrower than this (a list column also shows its first item whole).
    """

    def __init__(self, header: str, kind: str = "id", keep: int = 50, least: int = 10):
        self.header, self.kind, self.keep, self.least = header, kind, keep, least


GAP = 2         # spaces between two columns
ELLIPSIS = "\u2026"


def _plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def tsv_field(value) -> str:
    r"""One TSV field: backslash, tab, newline and carriage return written as \\ \t \n \r."""
    text = _plain(value)
    text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return visible(text)


def emit(columns, rows, fmt: str, *, wide: bool = False) -> None:
    """Print ``rows`` (lists of cell values: text, numbers, None, or lists in ``list`` columns) as ``fmt``.

    ``tsv``: one record per line, fields separated by tabs, no header line. ``csv``: a header
    line, then RFC 4180 records. ``table``: a table fitted to the terminal, or, when stdout
    is not one, aligned columns that are never cut.
    """
    if fmt == "tsv":
        out("".join("\t".join(tsv_field(v) for v in row) + "\n" for row in rows))
    elif fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([c.header for c in columns])
        writer.writerows([[visible(_plain(v)) for v in row] for row in rows])
        out(buffer.getvalue())
    elif _isatty(sys.stdout):
        console = _console()
        print_table(console, columns, rows, console.width, wide=wide)
    else:
        out(plain_table(columns, rows))


def plain_table(columns, rows) -> str:
    """Aligned columns, never cut or wrapped (``--format table`` when stdout is not a terminal)."""
    cells = [[_cell(_plain(v)) for v in row] for row in rows]
    widths = [len(c.header) for c in columns]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row)]
    header = [c.header for c in columns]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header] + cells)
    return "".join(text + "\n" for text in lines)


def _shown(value, kind: str):
    """What a terminal cell shows, on one line: a list of items, or text (a multi-line
    text shows its first line and an ellipsis)."""
    if kind == "list":
        items = value if isinstance(value, (list, tuple)) else [value] if value else []
        return [_cell(v) for v in items]
    text = _plain(value)
    if kind == "text" and "\n" in text.strip("\n"):
        return _cell(first_line(text)) + " " + ELLIPSIS
    return _cell(text)


def plan_columns(columns, shown, width: int, wide: bool = False):
    """``[(column index, width)]`` of the columns to show on a terminal ``width`` cells wide.

    Identifier columns always get their full width. Text and list columns get what is
    left, the most important first, each at least its ``least``. When even that does not fit, the columns with the lowest
    ``keep`` are left out, one at a time, down to the most important one, which is never
    cut (the line is then wider than the terminal). ``wide``: every column in full.
    """
    from rich.cells import cell_len

    natural = []
    for i, column in enumerate(columns):
        cells = [", ".join(row[i]) if column.kind == "list" else row[i] for row in shown]
        natural.append(max([cell_len(column.header)] + [cell_len(c) for c in cells]))
    kept = list(range(len(columns)))
    if wide:
        return [(i, natural[i]) for i in kept]

    def least(i):
        column = columns[i]
        if column.kind == "id":
            return natural[i]
        floor = max(column.least, cell_len(column.header))
        if column.kind == "list":
            floor = max([floor] + [cell_len(row[i][0]) + 3 for row in shown if row[i]])
        return min(natural[i], floor)

    while len(kept) > 1 and sum(least(i) for i in kept) + GAP * (len(kept) - 1) > width:
        kept.remove(min(kept, key=lambda i: columns[i].keep))
    widths = {i: least(i) for i in kept}
    spare = width - sum(widths.values()) - GAP * (len(kept) - 1)
    for i in sorted(kept, key=lambda i: -columns[i].keep):  # what is left: the most important first
        extra = max(0, min(natural[i] - widths[i], spare))
        widths[i] += extra
        spare -= extra
    return [(i, widths[i]) for i in kept]


def fit(value, width: int) -> str:
    """A cell (as ``_shown`` made it) in at most ``width`` cells: a list is cut after a whole
    item, a text anywhere, and either then ends with an ellipsis."""
    from rich.cells import cell_len

    if isinstance(value, list):
        joined = ", ".join(value)
        if cell_len(joined) <= width:
            return joined
        kept = ""
        for item in value:
            candidate = f"{kept}, {item}" if kept else item
            if cell_len(f"{candidate}, {ELLIPSIS}") > width:
                break
            kept = candidate
        if kept:
            return f"{kept}, {ELLIPSIS}"
        value = joined
    if cell_len(value) <= width:
        return value
    text, used = "", 0
    for char in value:
        if used + cell_len(char) > width - 1:
            break
        text, used = text + char, used + cell_len(char)
    return text + ELLIPSIS


def print_table(console, columns, rows, width: int, *, wide: bool = False) -> None:
    """A Rich table fitted to ``width`` cells (wider only when the first-kept column needs it)."""
    from rich.markup import escape
    from rich.table import Table

    shown = [[_shown(v, c.kind) for v, c in zip(row, columns)] for row in rows]
    plan = plan_columns(columns, shown, width, wide)
    grid = Table(show_edge=False, box=None, header_style="bold", pad_edge=False, padding=(0, GAP // 2))
    for i, w in plan:
        grid.add_column(columns[i].header, no_wrap=True, overflow="ellipsis", width=w)
    for row in shown:
        grid.add_row(*[escape(fit(row[i], w)) for i, w in plan])
    needed = sum(w for _, w in plan) + GAP * (len(plan) - 1)
    if needed > console.width:
        console.width = needed  # an identifier is never cut: the terminal folds the line instead
    console.print(grid)


def _cell(value) -> str:
    return "" if value is None else visible(str(value).replace("\n", "\\n"))


# ------------------------------------------------------------------ the views

def models(views, fmt: str = "table", wide: bool = False) -> None:
    emit(
        [Col("NAME", "id", 100), Col("LATEST", "id", 90), Col("ALIASES", "list", 80), Col("TAGS", "list", 40, 16),
         Col("UPDATED", "id", 50), Col("DESCRIPTION", "text", 30, 16)],
        [
            [v["name"], v["latest_version"], [f"{a}->{n}" for a, n in v["aliases"].items()],
             _tag_items(v["tags"]), timestamp(v["last_updated_timestamp"]), v["description"]]
            for v in views
        ],
        fmt, wide=wide,
    )


def versions(views, fmt: str = "table", wide: bool = False) -> None:
    emit(
        [Col("VERSION", "id", 100), Col("STAGE", "id", 90), Col("ALIASES", "list", 80), Col("CREATED", "id", 50),
         Col("RUN ID", "id", 60), Col("SOURCE", "text", 30, 24), Col("STATUS", "id", 20), Col("TAGS", "list", 40, 16)],
        [
            [v["version"], stage(v["current_stage"], fmt), list(v["aliases"]), timestamp(v["creation_timestamp"]),
             v["run_id"] or "", v["source"], v["status"], _tag_items(v["tags"])]
            for v in views
        ],
        fmt, wide=wide,
    )


def stage(value: str, fmt: str) -> str:
    """A stage as a person reads it: MLflow's ``Deleted_Internal`` is "deleted" (JSON keeps MLflow's value)."""
    return "deleted" if value == "Deleted_Internal" and fmt != "json" else value


def _tag_items(tags: dict) -> list:
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


def search_versions(views, fmt: str = "table", wide: bool = False) -> None:
    """Versions of several models: the version table with the model's name first."""
    emit(
        [Col("NAME", "id", 100), Col("VERSION", "id", 95), Col("STAGE", "id", 90), Col("ALIASES", "list", 80),
         Col("UPDATED", "id", 50), Col("SOURCE", "text", 30, 24), Col("TAGS", "list", 40, 16)],
        [
            [v["name"], v["version"], stage(v["current_stage"], fmt), list(v["aliases"]),
             timestamp(v["last_updated_timestamp"]),
             v["source"], _tag_items(v["tags"])]
            for v in views
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
