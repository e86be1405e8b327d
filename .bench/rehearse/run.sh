#!/usr/bin/env bash
# Availability figures of the shipped plans, rehearsed on this machine.
#
# Builds zdu and rehearses, RUNS times each (default 3), with the probe at
# RATE requests/s (default 200) through the sandbox's HAProxy:
#   nova         plans/nova-api.yaml on 3 API nodes
#   nova-nodrain the same plan with its lb-drain step removed (the control:
#                the probe must see the restarts)
#   axway        plans/axway-7.7.yaml on the reference topology
#   axway-fail   the same with apply failing on Node-B (rollback of A and B)
# and prints, per rehearsal: exit code, wall time, the rate the probe achieved
# (requests sent per second of its run; the tests no longer assert it), and
# the probe's figures.
#
# Usage: .bench/rehearse/run.sh       RUNS=5 RATE=500 .bench/rehearse/run.sh
set -euo pipefail
RUNS=${RUNS:-3}
RATE=${RATE:-200}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/zdu-bench-rehearse.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
go build -o "$WORK/zdu" ./cmd/zdu
# The control: nova without its drain step.
sed '/- id: drain/,/with: {lb: nova-api}/d' plans/nova-api.yaml > "$WORK/nova-api.yaml"
grep -q lb-drain "$WORK/nova-api.yaml" && { echo "could not remove the drain step" >&2; exit 1; }

sent_rate() { # summary.json: the probe's requests per second of its duration
  awk -F'[:,]' '/"duration_ms"/{d=$2} /"requests"/{r=$2} END{if (d > 0) printf "%.0f", r*1000/d; else printf "?"}' "$1" 2>/dev/null || printf '?'
}

rehearse() { # name args...
  local name=$1; shift
  for i in $(seq "$RUNS"); do
    local dir="$WORK/$name-$i" start end code=0
    start=$(date +%s.%N)
    "$WORK/zdu" rehearse "$@" --rate "$RATE" --run-dir "$dir" --log-format json >"$dir.out" 2>"$dir.err" || code=$?
    end=$(date +%s.%N)
    printf '%-13s run %d  exit %-3d %6.1f s  sent %s/s  %s\n' "$name" "$i" "$code" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" \
      "$(sent_rate "$dir/summary.json")" "$(grep -A1 '^Availability probe' "$dir.out" | tail -1 | sed 's/^ *//')"
  done
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(go version | cut -d' ' -f3), rate $RATE req/s"
rehearse nova         plans/nova-api.yaml --nodes 3
rehearse nova-nodrain "$WORK/nova-api.yaml" --nodes 3
rehearse axway        plans/axway-7.7.yaml -i plans/axway-7.7.inventory.yaml
rehearse axway-fail   plans/axway-7.7.yaml -i plans/axway-7.7.inventory.yaml --fail Node-B:apply
