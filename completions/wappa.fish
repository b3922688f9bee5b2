# fish completion for wappa
set -l commands serve subscribe publish config

complete -c wappa -f
complete -c wappa -s c -l config -r -F -d 'Config file'
complete -c wappa -l log-level -x -a 'trace debug info warn error' -d 'Log level'
complete -c wappa -l log-format -x -a 'text json' -d 'Log format'
complete -c wappa -s V -l version -d 'Print the version'
complete -c wappa -s h -l help -d 'Print help'

complete -c wappa -n "not __fish_seen_subcommand_from $commands" -a serve -d 'HTTP server: webhooks, health, metrics'
complete -c wappa -n "not __fish_seen_subcommand_from $commands" -a subscribe -d 'Live tail of notifications'
complete -c wappa -n "not __fish_seen_subcommand_from $commands" -a publish -d 'Send one JSON message on a channel'
complete -c wappa -n "not __fish_seen_subcommand_from $commands" -a config -d 'Validate or print the configuration'

complete -c wappa -n '__fish_seen_subcommand_from serve' -l listen -x -d 'Listen address host:port'
complete -c wappa -n '__fish_seen_subcommand_from serve' -l with-worker -d 'Also run the workers'

complete -c wappa -n '__fish_seen_subcommand_from subscribe' -l tenant -x -d 'Tenant id or glob'
complete -c wappa -n '__fish_seen_subcommand_from subscribe' -l user -x -d 'User id or glob'
complete -c wappa -n '__fish_seen_subcommand_from subscribe' -l event -x -a 'incoming_message status_change outgoing_message bot_reply' -d 'Event'
complete -c wappa -n '__fish_seen_subcommand_from subscribe' -l pattern -x -d 'Raw PSUBSCRIBE pattern'
complete -c wappa -n '__fish_seen_subcommand_from subscribe' -l channel -x -d 'Raw channel'
complete -c wappa -n '__fish_seen_subcommand_from subscribe' -l json -d 'NDJSON output'
complete -c wappa -n '__fish_seen_subcommand_from subscribe' -l count -x -d 'Exit after N messages'
complete -c wappa -n '__fish_seen_subcommand_from subscribe' -l timeout -x -d 'Exit 1 if nothing arrives for SECONDS'

complete -c wappa -n '__fish_seen_subcommand_from config' -a 'check show'
