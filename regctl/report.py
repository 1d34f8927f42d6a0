"""The one place where errors become a line on stderr and an exit code."""

import os
import sys

from regctl.atomic import os_reason
from regctl.errors import EXIT_STORE, RegctlError


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
    else:
        if wants_traceback(traceback):
            raise exc
        message = f"internal error: {type(exc).__name__}: {exc} (run with --traceback for details)"
        code = EXIT_STORE
    if wants_traceback(traceback) and not isinstance(exc, RegctlError):
        raise exc
    sys.stderr.write("regctl: " + " ".join(message.splitlines()) + "\n")
    return code
