#compdef zdu
# zsh completion for zdu (printed by: zdu completion zsh).
# Each TAB asks zdu itself (zdu __complete): commands, flags, plan files,
# inventory node names, and the --set params the plan declares.
_zdu() {
  local -a out fin findesc part partdesc
  local l w d
  out=("${(@f)$(command ${words[1]} __complete words "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  for l in "${out[@]}"; do
    [[ -z $l ]] && continue
    w=${l%%$'\t'*}
    d=
    [[ $l == *$'\t'* ]] && d=${l#*$'\t'}
    # An unfinished candidate (a directory, NAME=, NODE:) takes no space.
    if [[ $w == *[/=:] ]]; then
      part+=("$w"); partdesc+=("$w${d:+  -- $d}")
    else
      fin+=("$w"); findesc+=("$w${d:+  -- $d}")
    fi
  done
  (( ${#fin} )) && compadd -l -d findesc -- "${fin[@]}"
  (( ${#part} )) && compadd -l -d partdesc -S '' -- "${part[@]}"
  return 0
}
if [[ $funcstack[1] == _zdu ]]; then
  _zdu "$@"
else
  compdef _zdu zdu
fi
