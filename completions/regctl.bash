# bash completion for regctl: model names, aliases, versions and stages come from the store.
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
