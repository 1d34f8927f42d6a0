"""The one place where errors become a line on stderr and an exit code."""

import os
import sys

from regctl.core.atomic import os_reason
from regctl.core.errors import EXIT_STORE, RegctlError
from regctl.core.locations import redact_credentials

# C0 and C1 controls but tab and newline, DEL, and the bidi overrides: written as escapes, so that a
# terminal shows them instead of obeying them (a server's message, a path, a tag value)
# (what Python's unicode_escape codec writes, without loading the codec at start-up)
_ESCAPES = {c: "\\r" if c == 0x0d else f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
            for c in [*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0), *range(0x202a, 0x202f),
                      *range(0x2066, 0x206a)]}


def visible(text: str) -> str:
    """``text`` with control characters (terminal escapes, bidi overrides) shown as escapes, not obeyed."""
    return text.translate(_ESCAPES)


def wants_traceback(option: bool = False) -> bool:
    """The ``--traceback`` option's value, or ``REGCTL_TRACEBACK`` set to anything but '' or 0."""
    return option or os.environ.get("REGCTL_TRACEBACK", "") not in ("", "0")


def report(exc: BaseException, traceback: bool = False) -> int:
    """Print ``regctl: <message>`` for ``exc`` and return its exit code.

    Unexpected exceptions are re-raised with ``--traceback``/``REGCTL_TRACEBACK=1``.
    """
    if isinstance(exc, RegctlError):
        message, code = exc.message, exc.exit_code
    elif isinstance(exc, OSError):
        message, code = f"{os_reason(exc)}: {exc.filename or ''}".rstrip(": "), EXIT_STORE
    elif isinstance(exc, MemoryError):
        message, code = "out of memory (a file in the store or an input too large to hold)", EXIT_STORE
    else:
        message = f"internal error: {type(exc).__name__}: {exc} (run with --traceback for details)"
        code = EXIT_STORE
    if wants_traceback(traceback) and not isinstance(exc, RegctlError):
        import traceback as tracebacks

        sys.stderr.write(redact_credentials("".join(tracebacks.format_exception(exc))))
        return EXIT_STORE
    sys.stderr.write("regctl: " + visible(redact_credentials(" ".join(message.splitlines()))) + "\n")
    return code
