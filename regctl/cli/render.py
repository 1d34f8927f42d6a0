"""Tables, TSV, CSV, JSON and plain text. The only module that imports Rich.

On a terminal, Rich tables fitted to its width and Markdown (no colour or
styles when ``NO_COLOR`` is set): identifiers are never cut or wrapped, free
text is shortened with an ellipsis, and columns that do not fit are left out,
least important first (``--wide`` shows everything). When stdout is not a
terminal, tab-separated values, one record per line, and Rich is not imported
at all: it costs tens of milliseconds to import and seconds to lay out ten
thousand rows.
"""

import itertools
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
    # written in pieces of 4,096 tokens: a listing of 10,000 versions is never one string in memory
    chunks = json.JSONEncoder(ensure_ascii=False, indent=2, default=str).iterencode(data)
    while piece := "".join(itertools.islice(chunks, 4096)):
        out(piece)
    out("\n")


def info(message: str) -> None:
    """A human confirmation: stderr, so stdout stays clean for pipelines. Where stderr cannot be
    written (a full disk behind it) the confirmation is lost, never the command's stdout or status."""
    try:
        sys.stderr.write(visible(message) + "\n")
        sys.stderr.flush()
    except OSError:
        pass


def waiting(message: str) -> None:
    """Why regctl is waiting (a server being retried): one line on stderr, in a terminal and in a
    CI log alike, so a wait is never silence."""
    try:
        sys.stderr.write(f"regctl: {visible(message)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed stderr never turns a wait into a failure
        pass


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
    kind = type(value)
    if kind is int:
        return str(value)  # (a listing writes hundreds of thousands of fields: the common kinds first)
    text = value if kind is str else _plain(value)
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text  # nothing to escape (most fields)
    text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return visible(text)


def emit(columns, rows, fmt: str, *, wide: bool = False) -> None:
    """Print ``rows`` (lists of cell values: text, numbers, None, or lists in ``list`` columns) as ``fmt``.

    ``tsv``: one record per line, fields separated by tabs, no header line. ``csv``: a header
    line, then RFC 4180 records. ``table``: a table fitted to the terminal, or, when stdout
    is not one, aligned columns that are never cut.
    """
    if fmt == "tsv":
        rows = rows if isinstance(rows, list) else list(rows)
        for start in range(0, max(len(rows), 1), 1000):  # in pieces: 10,000 rows are never one string
            out("".join("\t".join(map(tsv_field, row)) + "\n" for row in rows[start:start + 1000]))
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

