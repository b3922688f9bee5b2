# bash completion for wappa
_wappa() {
    local cur prev words cword
    _init_completion || return

    local commands="serve subscribe publish config"
    local global="-c --config --log-level --log-format -V --version -h --help"
    local command="" i
    for ((i = 1; i < cword; i++)); do
        case "${words[i]}" in
            serve|subscribe|publish|config) command=${words[i]}; break ;;
        esac
    done

    case "$prev" in
        -c|--config) _filedir toml; return ;;
        --log-level) COMPREPLY=($(compgen -W "trace debug info warn error" -- "$cur")); return ;;
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --event) COMPREPLY=($(compgen -W "incoming_message status_change outgoing_message bot_reply" -- "$cur")); return ;;
        --listen|--tenant|--user|--pattern|--channel|--count|--timeout) return ;;
    esac

    case "$command" in
        "") COMPREPLY=($(compgen -W "$commands $global" -- "$cur")) ;;
        serve) COMPREPLY=($(compgen -W "--listen --with-worker $global" -- "$cur")) ;;
        subscribe) COMPREPLY=($(compgen -W "--tenant --user --event --pattern --channel --json --count --timeout $global" -- "$cur")) ;;
        publish) COMPREPLY=($(compgen -W "$global" -- "$cur")) ;;
        config) COMPREPLY=($(compgen -W "check show $global" -- "$cur")) ;;
    esac
}
complete -F _wappa wappa
