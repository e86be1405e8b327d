# fish completion for zdu (printed by: zdu completion fish).
# Each TAB asks zdu itself (zdu __complete): commands, flags, plan files,
# inventory node names, and the --set params the plan declares.
function __zdu_complete
    set -l args (commandline -opc)
    set -l zdu $args[1]
    set -e args[1]
    command $zdu __complete words $args (commandline -ct) 2>/dev/null
end
complete -c zdu -f -a '(__zdu_complete)'
