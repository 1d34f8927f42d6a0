"""Entry point of the ``regctl`` command and of ``python -m regctl``.

What every command shares as a Unix tool is settled here: output that the
terminal's encoding cannot show is escaped rather than fatal, Ctrl-C exits 130
with one line, SIGTERM and SIGHUP end a command as Ctrl-C does (what it created is
cleaned up) and exit 143 and 129, and a reader that closes the pipe early ends the command
quietly (exit 141, as a tool killed by SIGPIPE; 0 when it had already made its
change), never with a traceback.
"""

import os
import sys

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if sys.stdout is None or sys.stderr is None:
        _write_error("regctl: standard output or standard error is closed\n")
        sys.exit(4)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    from regctl.core import notices

    notices.install(_say)
    previous = _ending_signals_interrupt()
    try:
        code = _run(argv)
        sys.stdout.flush()
    except KeyboardInterrupt:
        _ignore_further_interrupts()  # a second Ctrl-C must not cut the exit short
        if _received:
            import signal

            _write_error(f"regctl: terminated by {signal.Signals(_received[0]).name}\n")
            code = 128 + _received[0]
        else:
            _write_error("regctl: interrupted\n")
            code = EXIT_INTERRUPTED
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    except OSError as exc:  # stdout itself cannot be written (closed, full disk)
        _write_error(f"regctl: cannot write output: {exc.strerror or exc}\n")
        code = 4
    finally:
        notices.install(None)
        _restore(previous)
    if code == EXIT_BROKEN_PIPE:
        from regctl.cli.render import silence_stdout

        silence_stdout()
    sys.exit(code)


def _run(argv) -> int:
    if argv[:1] == ["__complete"]:  # the shells' completion scripts: no CLI framework, no Rich
        from regctl.cli import completion

        return completion.run(argv)
    if not os.environ.get("_REGCTL_COMPLETE"):  # Click's completion protocol: the Typer app answers it
        code = _without_click(argv)
        if code is not None:
            return code
    from regctl.cli.app import run  # help, a mistake on the command line, a form only Click reads

    return run(argv)


def _without_click(argv) -> "int | None":
    """``--version``, resolve's fast path, then the plain command line; None leaves ``argv`` to the Typer app."""
    if argv == ["--version"]:  # as the CLI answers it, without loading the CLI
        from regctl import __version__

        sys.stdout.write(f"regctl {__version__}\n")
        return 0
    from regctl.cli import fastpath

    code = fastpath.run(argv)
    if code is None:
        from regctl.cli import plain

        code = plain.run(argv)
    return code


_received: "list[int]" = []  # the ending signal (SIGTERM, SIGHUP) that interrupted the command


def _ending_signals_interrupt() -> dict:
    """SIGTERM (a CI cancel, ``timeout``) and SIGHUP (a closed terminal) interrupt the command as
    Ctrl-C does, so the clean-up that runs on Ctrl-C (scratch directories, a half-made
    registration) runs for them too. A signal the caller ignores (``nohup``) stays ignored."""
    import _signal as signal  # the module ``signal`` wraps: the same calls, without building its enums

    _received.clear()
    previous = {}

    def interrupt(signum, frame):
        if not _received:
            _received.append(signum)
        raise KeyboardInterrupt

    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            if signal.getsignal(number) == signal.SIG_DFL:
                previous[number] = signal.signal(number, interrupt)
        except (ValueError, OSError):  # not the main thread
            pass
    return previous


def _restore(previous: dict) -> None:
    """The handlers as they were before the command (the Python API's callers keep theirs)."""
    import _signal as signal

    for number, handler in previous.items():
        try:
            signal.signal(number, handler)
        except (ValueError, OSError):
            pass


def _ignore_further_interrupts() -> None:
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            signal.signal(number, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread
            pass


def _say(text: str) -> None:
    """A notice from the library: one line on stderr, never a failure of its own."""
    _write_error(f"regctl: {text}\n")


def _write_error(text: str) -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.write(text)
            sys.stderr.flush()
        else:
            os.write(2, text.encode("utf-8", "backslashreplace"))
    except (OSError, ValueError):
        pass
