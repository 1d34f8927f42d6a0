"""``regctl man``: the manual page installed with regctl, or the checkout's copy."""

import sys
import sysconfig
from pathlib import Path

from regctl.core.errors import NotFound

PAGE = Path("share") / "man" / "man1" / "regctl.1"


def locations():
    """Where the page may be: the data directory of each install scheme, then the checkout."""
    places = [Path(sys.prefix) / PAGE]
    for scheme in sysconfig.get_scheme_names():
        try:
            places.append(Path(sysconfig.get_path("data", scheme)) / PAGE)
        except (KeyError, TypeError):
            continue
    places.append(Path(__file__).resolve().parents[2] / "man" / "regctl.1")
    return list(dict.fromkeys(places))


def page() -> str:
    """The roff source of the manual page."""
    for place in locations():
        try:
            return place.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    raise NotFound("the manual page is not installed (see docs/cli.md or regctl --help)")
