#compdef regctl
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
