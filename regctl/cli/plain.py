"""The command line without Typer or Click, for the well-formed calls scripts make.

Loading Typer and Click and building the Click commands costs about 50 ms at every
call, several times what most commands do. This module parses an argument list with
each command's parameters as ``parameters.py`` lists them (generated from the Typer
app, so both read the same definition) and calls the command's function in
``regctl.cli.actions``, as the Typer app does. It takes only the forms it can read
exactly as Click reads them; anything else (help, an unknown option or command, a
missing or extra argument, a value Click would refuse or convert, ``--``) returns
None, and the Typer app answers, with its own messages.
"""

import importlib
from typing import Any, Dict, List, Optional, Tuple

from regctl.cli import parameters

COMMANDS: Dict[str, Any] = parameters.PARAMETERS

_REFUSED = object()  # a value this module does not read the way Click does


class Call:
    """A parsed command line: the command's function, its keyword arguments, the global options."""

    def __init__(self, action: str, arguments: Dict[str, Any], store: Optional[str], traceback: bool):
        self.action, self.arguments, self.store, self.traceback = action, arguments, store, traceback


def parse(argv: List[str]) -> Optional[Call]:
    """The call ``argv`` makes, or None when the Typer app must read it."""
    stores: Dict[int, str] = {}  # --store by level (0: before the command); the deepest wins, as in Click
    traceback, words, spec = False, [], None  # type: Tuple[bool, List[str], Optional[dict]]
    given: Dict[str, Any] = {}
    positionals: List[str] = []
    args, i = list(argv), 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return None
        if arg.startswith("-") and arg != "-":
            name, eq, value = arg.partition("=")
            if eq and not name.startswith("--"):
                return None  # Click reads -j=5 as -j with the value '=5'
            option = spec["options"].get(name) if spec is not None else None
            if name == "--store" or option is not None:
                if option is None or option[1] != "flag":
                    if not eq:
                        if i + 1 >= len(args) or args[i + 1].startswith("-") and args[i + 1] != "-":
                            return None  # Click would take an option as the value; leave it to Click
                        value, i = args[i + 1], i + 1
                elif eq:
                    return None  # a flag given a value: Click's error
                if option is None:
                    stores[len(words)] = value
                elif not _take(option, value, given):
                    return None
            elif arg == "--traceback" and not words:
                traceback = True
            else:
                return None  # help, --version, an unknown option
        elif spec is None:
            if " " in arg:
                return None  # 'alias set' as one word is no command to Click
            words.append(arg)
            spec = COMMANDS.get(" ".join(words))
            if spec is None and not any(key.startswith(" ".join(words) + " ") for key in COMMANDS):
                return None  # no such command
        else:
            positionals.append(arg)
        i += 1
    if spec is None or not _place(spec["arguments"], positionals, given):
        return None
    if any(required and parameter not in given for parameter, _, _, required in spec["options"].values()):
        return None
    store = stores[max(stores)] if stores else None
    return Call(spec["action"], given, store, traceback)


def _take(option: Tuple, text: str, given: Dict[str, Any]) -> bool:
    """Record an option's value in ``given``; False when Click would read it otherwise."""
    parameter, kind, multiple, _ = option
    value = True if kind == "flag" else _value(kind, text)
    if value is _REFUSED:
        return False
    if multiple:
        given.setdefault(parameter, []).append(value)
    else:
        given[parameter] = value  # given again: the last one counts, as in Click
    return True


def _place(arguments: List[Tuple], positionals: List[str], given: Dict[str, Any]) -> bool:
    """Give the positional words to the command's arguments in order; False when they do not fit."""
    rest = list(positionals)
    for index, (parameter, kind, required, nargs) in enumerate(arguments):
        if nargs == -1:
            if index != len(arguments) - 1:
                return False
            values = [_value(kind, text) for text in rest]
            if _REFUSED in values or (required and not values):
                return False
            if values:
                given[parameter] = values
            rest = []
        elif rest:
            value = _value(kind, rest.pop(0))
            if value is _REFUSED or nargs != 1:
                return False
            given[parameter] = value
        elif required:
            return False
    return not rest


def _value(kind, text: str):
    """``text`` converted as Click converts it for a parameter of this kind, or _REFUSED."""
    if kind == "text":
        return text
    if isinstance(kind, tuple) and kind[0] == "choice":
        return text if text in kind[1] else _REFUSED
    if isinstance(kind, tuple) and kind[0] == "int":
        if not (text.isascii() and text.isdigit()) or len(text) > 100:
            return _REFUSED  # Click reads the other spellings its own way; int() refuses 4300 digits and more
        number, low, high = int(text), kind[1], kind[2]
        if (low is not None and number < low) or (high is not None and number > high):
            return _REFUSED
        return number
    return _REFUSED


def run(argv: List[str]) -> Optional[int]:
    """Run a well-formed command line and return its exit code, or None to leave it to the Typer app."""
    call = parse(argv)
    if call is None:
        return None
    from regctl.cli.session import failed, start

    start(call.store, call.traceback)
    module, _, function = call.action.partition(".")
    try:
        action = getattr(importlib.import_module(f"regctl.cli.actions.{module}"), function)
        code = action(**call.arguments)
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        return failed(exc)
    return code or 0
