"""Entry point of the ``regctl`` command and of ``python -m regctl``."""

import sys


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    from regctl import fastpath

    code = fastpath.run(argv)
    if code is None:
        from regctl.cli import run

        code = run(argv)
    sys.exit(code)
