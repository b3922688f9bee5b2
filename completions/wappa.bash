# bash completion for wappa
_wappa() {
    local cur prev words cword
    _init_completion || return

    local commands="serve worker enqueue inspect requeue stats subscribe publish migrate config"
    local global="-c --config --log-level --log-format -V --version -h --help"
    local command="" i
    for ((i = 1; i < cword; i++)); do
        case "${words[i]}" in
            serve|worker|enqueue|inspect|requeue|stats|subscribe|publish|migrate|config) command=${words[i]}; break ;;
        esac
    done

    case "$prev" in
        -c|--config) _filedir toml; return ;;
        --log-level) COMPREPLY=($(compgen -W "trace debug info warn error" -- "$cur")); return ;;
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --event) COMPREPLY=($(compgen -W "incoming_message status_change outgoing_message bot_reply" -- "$cur")); return ;;
        --role) COMPREPLY=($(compgen -W "outbound inbound all" -- "$cur")); return ;;
        --queue) COMPREPLY=($(compgen -W "outbound inbound" -- "$cur")); return ;;
        --media-type) COMPREPLY=($(compgen -W "image video audio document sticker" -- "$cur")); return ;;
        --json) [ "$command" = enqueue ] && _filedir; return ;;
        --listen|--tenant|--user|--pattern|--channel|--count|--timeout|--since|--concurrency|--processes|--workers|--metrics-listen|--grace|--to|--text|--message-id|--reply-to|--name|--language|--components|--url|--media-id|--caption|--filename|--body|--button|--header|--footer|--button-text|--sections|--latitude|--longitude|--address|--target|--emoji|--id|--error-code|--older-than|--newer-than|--watch|--max-depth|--max-age) return ;;
    esac

    case "$command" in
        "") COMPREPLY=($(compgen -W "$commands $global" -- "$cur")) ;;
        serve) COMPREPLY=($(compgen -W "--listen --with-worker $global" -- "$cur")) ;;
        subscribe) COMPREPLY=($(compgen -W "--tenant --user --event --pattern --channel --json --count --timeout --since $global" -- "$cur")) ;;
        worker) COMPREPLY=($(compgen -W "--role --concurrency --processes --workers --metrics-listen --grace $global" -- "$cur")) ;;
        inspect) COMPREPLY=($(compgen -W "--tenant --json $global" -- "$cur")) ;;
        requeue) COMPREPLY=($(compgen -W "--queue --id --all --tenant --error-code --older-than --newer-than --include-unknown --dry-run --json $global" -- "$cur")) ;;
        stats) COMPREPLY=($(compgen -W "--json --watch --max-depth --max-age $global" -- "$cur")) ;;
        enqueue)
            local sub="" j
            for ((j = i + 1; j < cword; j++)); do
                case "${words[j]}" in text|template|media|buttons|list|location|reaction|read) sub=${words[j]}; break ;; esac
            done
            local common="--tenant --message-id --to --reply-to"
            case "$sub" in
                "") COMPREPLY=($(compgen -W "text template media buttons list location reaction read --json --skip-invalid $global" -- "$cur")) ;;
                text) COMPREPLY=($(compgen -W "$common --text --preview-url" -- "$cur")) ;;
                template) COMPREPLY=($(compgen -W "$common --name --language --components" -- "$cur")) ;;
                media) COMPREPLY=($(compgen -W "$common --media-type --url --media-id --caption --filename" -- "$cur")) ;;
                buttons) COMPREPLY=($(compgen -W "$common --body --button --header --footer" -- "$cur")) ;;
                list) COMPREPLY=($(compgen -W "$common --body --button-text --sections --header --footer" -- "$cur")) ;;
                location) COMPREPLY=($(compgen -W "$common --latitude --longitude --name --address" -- "$cur")) ;;
                reaction) COMPREPLY=($(compgen -W "$common --target --emoji" -- "$cur")) ;;
                read) COMPREPLY=($(compgen -W "--tenant --message-id --target --typing" -- "$cur")) ;;
            esac ;;
        publish) COMPREPLY=($(compgen -W "$global" -- "$cur")) ;;
        migrate) COMPREPLY=($(compgen -W "--status $global" -- "$cur")) ;;
        config) COMPREPLY=($(compgen -W "check show $global" -- "$cur")) ;;
    esac
}
complete -F _wappa wappa
