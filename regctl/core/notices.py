"""Notices a command gives on the way (a warning, a retry): said by whoever runs the library.

The library never prints. The CLI installs a sayer that writes ``regctl: <text>`` lines on
stderr; without one (the Python API), a notice is a Python warning.
"""

from __future__ import annotations

TYPE_CHECKING = False  # collections.abc is not loaded at run time: every command imports this module
if TYPE_CHECKING:
    from collections.abc import Callable


class RegctlWarning(UserWarning):
    """What a command says on the way when regctl runs as a library."""


_sayer: Callable[[str], None] | None = None


def install(sayer: Callable[[str], None] | None) -> None:
    """Route notices to ``sayer`` (the CLI's stderr), or back to Python warnings with None."""
    global _sayer
    _sayer = sayer


def warn(text: str) -> None:
    """Say ``text`` as a warning (``regctl: warning: <text>`` on the command line)."""
    if _sayer is not None:
        _sayer(f"warning: {text}")
        return
    import warnings

    warnings.warn(text, RegctlWarning, stacklevel=3)
