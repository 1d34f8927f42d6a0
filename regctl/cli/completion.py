"""Shell completion: ``regctl completion bash|zsh|fish`` prints a script, and the script
asks ``regctl __complete`` for the words that fit where the cursor is.

Commands, options and choices come from ``regctl.cli.completion_spec`` (generated from
the CLI by scripts/gen_docs.py); model names, aliases, version numbers and stages
come from the store the command line names (``--store``, before or after the
command), else the environment, as for any command. This path imports neither
Typer, Click nor Rich: a completion costs a Python start and a directory listing.

    regctl __complete bash LINE          LINE: the command line up to the cursor
    regctl __complete zsh|fish WORD...   the words up to the cursor, unquoted; the
                                         last one is the word being completed

Output: a first line ``words``, ``files`` or ``dirs`` (what the shell should
complete), then one candidate per line, optionally followed by a tab and a
description (zsh and fish show it).
"""

import os
import re
import sys

SHELLS = ("bash", "zsh", "fish")
STAGES = ("None", "Staging", "Production", "Archived")
MAX_VERSIONS_READ = 200  # beyond this, deleted versions are offered too rather than read one by one


# ------------------------------------------------------------------ the command line

def split_line(line: str):
    """``(words, raw_current)``: the shell words of ``line`` (quotes and backslashes
    removed) and the raw text of the last one, which may be an open quote."""
    words, word, raw, quote, started, i = [], "", "", None, False, 0
    while i < len(line):
        char = line[i]
        if quote is None and char in " \t\n":
            if started:
                words.append(word)
            word, raw, started = "", "", False
            i += 1
            continue
        started = True
        raw += char
        if quote == "'":
            if char == "'":
                quote = None
            else:
                word += char
        elif char == "\\" and i + 1 < len(line) and quote in (None, '"'):
            raw += line[i + 1]
            word += line[i + 1]
            i += 1
        elif char in "'\"" and quote is None:
            quote = char
        elif char == '"' and quote == '"':
            quote = None
        else:
            word += char
        i += 1
    words.append(word if started else "")
    return words, raw


def _walk(words, spec):
    """Where the command line is: (command path, positional values so far, the store
    given on the line, the option whose value is being typed or None)."""
    path, positional, store, pending = "", [], None, None
    node = spec[path]
    for word in words:
        if pending is not None:
            if pending == "--store":
                store = word
            pending = None
            continue
        if word.startswith("--") and "=" in word:
            name, _, value = word.partition("=")
            if name == "--store":
                store = value
            continue
        if word.startswith("-") and word != "-":
            option = node["options"].get(word) or (spec[""]["options"].get(word) if word == "--store" else None)
            if option is not None and option[0] is not None:
                pending = word
            continue
        if word in node["subcommands"] and not positional:
            path = f"{path} {word}".strip()
            node = spec[path]
            continue
        positional.append(word)
    return path, positional, store, pending


def candidates(words, spec=None):
    """``(directive, [(word, description)])`` for the last of ``words`` (``words[0]`` is the program)."""
    if spec is None:
        from regctl.cli.completion_spec import COMMANDS as spec
    *before, current = words[1:] or [""]
    path, positional, store, pending = _walk(before, spec)
    node = spec[path]
    if pending is not None:
        kind = (node["options"].get(pending) or spec[""]["options"][pending])[0]
        return _values(kind, current, _model_of(node, positional, before), store)
    if current.startswith("--") and "=" in current:
        name, _, value = current.partition("=")
        option = node["options"].get(name) or (spec[""]["options"].get(name) if name == "--store" else None)
        if option is None or option[0] is None:
            return "words", []
        directive, found = _values(option[0], value, _model_of(node, positional, before), store)
        return directive, [(f"{name}={w}", d) for w, d in found]
    if current.startswith("-"):
        options = dict(node["options"])
        options.setdefault("--store", spec[""]["options"]["--store"])
        return "words", [(o, h) for o, (_, h) in options.items() if o.startswith(current)]
    if node["subcommands"] and not positional:
        return "words", [(s, h) for s, h in node["subcommands"].items() if s.startswith(current)]
    arguments = node["arguments"]
    if not arguments:
        return "words", []
    kind = arguments[min(len(positional), len(arguments) - 1)] if node.get("variadic") else (
        arguments[len(positional)] if len(positional) < len(arguments) else None)
    if kind is None:
        return "words", []
    return _values(kind, current, _model_of(node, positional, before), store)


def _model_of(node, positional, before):
    """The model the command line names: its first model argument, or --name."""
    for kind, value in zip(node["arguments"], positional):
        if kind == "model":
            return value
    for i, word in enumerate(before[:-1]):
        if word == "--name":
            return before[i + 1]
    return None


def _values(kind, current: str, model, store):
    if kind is None or kind == "value":
        return "words", []
    if kind in ("file", "dir"):
        return ("files" if kind == "file" else "dirs"), []
    if isinstance(kind, (list, tuple)):
        return "words", [(c, "") for c in kind if c.startswith(current)]
    if kind == "stage":
        return "words", [(s, "") for s in STAGES if s.lower().startswith(current.lower())]
    if kind == "uri":
        if not ("models:/".startswith(current) or current.startswith("models:/")) or not current:
            return "files", []
        return "words", _uris(current, store)
    reader = _Store(store)
    if kind == "model":
        return "words", [(n, "") for n in reader.models() if n.startswith(current)]
    if kind == "alias":
        return "words", [(a, "") for a in reader.aliases(model) if a.startswith(current)]
    if kind == "version":
        found = [(str(v), "") for v in reader.versions(model)]
        found += [(f"@{a}", f"version {v}") for a, v in reader.aliases(model).items()]
        return "words", [(w, d) for w, d in found if w.startswith(current)]
    return "words", []


def _uris(current: str, store):
    reader = _Store(store)
    rest = current[len("models:/"):]
    if "@" in rest:
        name = rest.partition("@")[0]
        found = [f"models:/{name}@{a}" for a in reader.aliases(name)]
    elif "/" in rest:
        name = rest.partition("/")[0]
        found = [f"models:/{name}/{v}" for v in reader.versions(name)]
        found += [f"models:/{name}/{s}" for s in ("latest",) + STAGES[1:]]
    else:
        found = [f"models:/{n}" for n in reader.models()]
    return [(w, "") for w in found if w.startswith(current)]


class _Store:
    """What completion reads from the chosen store (a file store, a database or a server, picked
    as every command picks it); any failure means no candidates, never an error."""

    def __init__(self, option):
        self.option = option
        self._store = False
        self._reads = None  # a database's or a server's reads, when the store is one

    def _open(self):
        if self._store is False:
            self._store = None
            try:
                from regctl.core.choice import choose

                choice = choose(os.path.expanduser(self.option) if self.option else None)
                self._reads = _backend_reads(choice)
                if self._reads is None:
                    from regctl.backends.file.store import Store

                    self._store = Store(choice.target)
            except Exception:
                pass
        return self._store

    def models(self):
        try:
            store = self._open()
            if self._reads is not None:
                return [m.name for m in self._reads.models()]
            return store.model_names()
        except Exception:
            return []

    def aliases(self, name) -> dict:
        if not name:
            return {}
        try:
            from regctl.core.resolution import alias_version

            store = self._open()
            if self._reads is not None:
                return dict(sorted(self._reads.aliases(name).items()))
            return {a: alias_version(t) for a, t in sorted(store.read_aliases(name).items())}
        except Exception:
            return {}

    def versions(self, name) -> list:
        """Live version numbers, newest first."""
        if not name:
            return []
        try:
            store = self._open()
            if self._reads is not None:
                return [v.version for v in self._reads.versions(name, limit=MAX_VERSIONS_READ)]
            numbers = store.version_numbers(name)
            if len(numbers) > MAX_VERSIONS_READ:
                return numbers
            live = []
            for number in numbers:
                meta = store.read_version_meta(name, number) or {}
                if meta.get("current_stage") != "Deleted_Internal":
                    live.append(number)
            return live
        except Exception:
            return []


def _backend_reads(choice):
    """The reads of a database or server store (None for a file store), without timeouts that
    would hang a shell: completion must answer at once or not at all."""
    if choice.kind == "server":
        from regctl.backends.rest.reads import RestReads

        return RestReads(choice.target, environ={**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
                                                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"})
    if choice.kind == "sqlite":
        from regctl.backends.sqlite.reads import SqliteReads

        return SqliteReads(choice.target)
    return None


# ------------------------------------------------------------------ output for each shell

_BASH_SAFE = re.compile(r"[^\w@%+=:,./-]")


def _bash_word(word: str, raw_current: str) -> str:
    """A candidate as bash must insert it: escaped like the word typed so far, and cut
    after the last ':' or '=' typed, since bash splits words there (COMP_WORDBREAKS)."""
    if raw_current[:1] in ("'", '"'):
        text = raw_current[0] + word.replace(raw_current[0], "\\" + raw_current[0] if raw_current[0] == '"' else "'\\''")
    else:
        text = _BASH_SAFE.sub(lambda m: "\\" + m.group(), word)
    breaks = [text.rfind(c) for c in ":=" if c in raw_current]
    cut = max(breaks, default=-1)
    return text[cut + 1:] if cut >= 0 else text


def run(argv) -> int:
    """``regctl __complete SHELL ...``: print the directive and the candidates; always exit 0."""
    if len(argv) < 2 or argv[1] not in SHELLS:
        sys.stderr.write("regctl: usage: regctl __complete bash LINE | zsh|fish WORD...\n")
        return 2
    shell = argv[1]
    if shell == "bash":
        words, raw = split_line(argv[2] if len(argv) > 2 else "")
    else:
        words, raw = (list(argv[2:]) or [""]), None
    if len(words) < 2:
        words.append("")
    try:
        directive, found = candidates(words)
    except Exception:  # completion must never print a traceback into a prompt
        directive, found = "words", []
    lines = [directive]
    for word, description in found:
        if shell == "bash":
            lines.append(_bash_word(word, raw if raw is not None else word))
        else:
            lines.append(f"{word}\t{description}" if description else word)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


# ------------------------------------------------------------------ the scripts

BASH = r"""# bash completion for regctl: model names, aliases, versions and stages come from the store.
# Use: source <(regctl completion bash), e.g. in ~/.bashrc; or save it as
# ~/.local/share/bash-completion/completions/regctl

_regctl() {
    local line=${COMP_LINE:0:COMP_POINT} IFS=$'\n' directive
    local -a reply
    reply=($("${COMP_WORDS[0]}" __complete bash "$line" 2>/dev/null))
    directive=${reply[0]}
    COMPREPLY=("${reply[@]:1}")
    case $directive in
        files) compopt -o default 2>/dev/null; COMPREPLY=() ;;
        dirs) compopt -o dirnames 2>/dev/null; COMPREPLY=() ;;
    esac
    return 0
}

complete -F _regctl regctl
"""

ZSH = r"""#compdef regctl
# zsh completion for regctl: model names, aliases, versions and stages come from the store.
# Use: source <(regctl completion zsh), e.g. in ~/.zshrc after compinit; or save it as
# _regctl in a directory of $fpath

_regctl() {
    local -a lines described plain
    local directive line
    lines=("${(@f)$("${words[1]}" __complete zsh "${(Q)words[@]:0:$CURRENT}" 2>/dev/null)}")
    directive=${lines[1]}
    case $directive in
        files) _files; return ;;
        dirs) _files -/; return ;;
    esac
    for line in "${(@)lines[2,-1]}"; do
        [[ -z $line ]] && continue
        if [[ $line == *$'\t'* ]]; then
            described+=("${${line%%$'\t'*}//:/\\:}:${line#*$'\t'}")
        else
            plain+=("$line")
        fi
    done
    (( $#described )) && _describe -t regctl regctl described
    (( $#plain )) && compadd -a plain
    return 0
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _regctl "$@"
else
    compdef _regctl regctl
fi
"""

FISH = r"""# fish completion for regctl: model names, aliases, versions and stages come from the store.
# Use: regctl completion fish | source, or save it as ~/.config/fish/completions/regctl.fish

function __regctl_complete
    set -l tokens (commandline -opc) (commandline -ct)
    set -l lines ($tokens[1] __complete fish $tokens 2>/dev/null)
    switch "$lines[1]"
        case files
            __fish_complete_path (commandline -ct)
        case dirs
            __fish_complete_directories (commandline -ct)
        case '*'
            printf '%s\n' $lines[2..-1]
    end
end

complete -c regctl -f -a '(__regctl_complete)'
"""


def script(shell: str) -> str:
    """The completion script for ``shell`` (bash, zsh or fish)."""
    return {"bash": BASH, "zsh": ZSH, "fish": FISH}[shell]
