# bash completion for zdu (printed by: zdu completion bash).
# Each TAB asks zdu itself (zdu __complete): commands, flags, plan files,
# inventory node names, and the --set params the plan declares.
_zdu() {
    local cur=${COMP_WORDS[COMP_CWORD]} line=${COMP_LINE:0:COMP_POINT}
    local IFS=$'\n'
    COMPREPLY=($(command "${COMP_WORDS[0]}" __complete bash "$line" "$cur" 2>/dev/null))
    # An unfinished candidate (a directory, NAME=, NODE:) takes no space.
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *[/=:] ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -F _zdu zdu
