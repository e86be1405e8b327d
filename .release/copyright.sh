#!/usr/bin/env bash
# Writes the package's copyright file for the zdu binary BIN: zdu's own
# notice, then every module linked into BIN (go version -m) with its
# license as the module ships it, and the Go standard library's.
#   .release/copyright.sh BIN > copyright
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1
modcache=$(go env GOMODCACHE)
cat <<'HEAD'
zdu — declarative zero-downtime upgrades
Source: https://github.com/zdu-dev/zdu

Files: *
Copyright: the zdu developers
License: not declared yet
 The zdu repository does not yet state a license for its own code; until it
 does, no rights are granted beyond those the law gives.

The zdu binary is statically linked with the Go modules below. Each is
listed with its version and the license text it ships.
HEAD
# Go module paths are case-encoded in the module cache (!x for X).
encode() { sed -E 's/([A-Z])/!\L\1/g' <<<"$1"; }
license_of() { # DIR: the module's license file(s)
  find "$1" -maxdepth 1 -type f \( -iname 'LICENSE*' -o -iname 'COPYING*' -o -iname 'LICENCE*' \) | sort
}
go version -m "$bin" | awk '$1 == "dep" {print $2, $3}' | while read -r path ver; do
  dir="$modcache/$(encode "$path")@$(encode "$ver")"
  printf '\n==== %s %s\n\n' "$path" "$ver"
  files=$(license_of "$dir" 2>/dev/null || true)
  if [ -z "$files" ]; then
    echo "(no license file found in the module; see https://pkg.go.dev/$path?tab=licenses)"
  fi
  for f in $files; do cat "$f"; done
done
printf '\n==== the Go standard library and runtime (%s)\n\n' "$(go version -m "$bin" | head -1 | awk '{print $2}')"
cat "$(go env GOROOT)/LICENSE"
