# fish completion for regctl: model names, aliases, versions and stages come from the store.
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
