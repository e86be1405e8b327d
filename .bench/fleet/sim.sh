#!/usr/bin/env bash
# A rolling run of NODES virtual SSH nodes (engine/fleetsim, one process on
# loopback): batches of BATCH (default 5%), STEPS trivial steps per node, with
# the simulator dropping handshakes over MAX_STARTUPS at once (fleet-wide, as
# a bastion would). Prints zdu's exit code, wall and CPU time, peak RSS (from
# /usr/bin/time -v), per node; zdu's own connection report; and what the
# simulator saw: logins, dropped handshakes, commands, peak open connections.
#
# Usage: .bench/fleet/sim.sh                     (NODES=5000)
#        NODES=20000 MAX_CONNECTIONS=256 .bench/fleet/sim.sh
#        LATENCY=5ms MAX_STARTUPS=10 MAX_DIALS=10 .bench/fleet/sim.sh
set -euo pipefail

NODES=${NODES:-5000}
BATCH=${BATCH:-5%}
STEPS=${STEPS:-5}
LATENCY=${LATENCY:-1ms}
MAX_STARTUPS=${MAX_STARTUPS:-10}
MAX_DIALS=${MAX_DIALS:-10}
MAX_CONNECTIONS=${MAX_CONNECTIONS:-256}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# A listener per node: 20,000 nodes need more open files than the usual limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/zdu-bench-fleet.XXXXXX)
SIM=
cleanup() {
	[ -n "$SIM" ] && kill "$SIM" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$ROOT" && go build -o "$WORK/zdu" ./cmd/zdu && go build -o "$WORK/sim" ./.bench/fleet/sim)
{
	echo "apiVersion: zdu/v1"
	echo "kind: Plan"
	echo "name: fleet-sim"
	echo "phases:"
	echo "  - id: roll"
	echo "    targets: all"
	echo "    strategy: {batch: \"$BATCH\"}"
	echo "    steps:"
	for s in $(seq 1 "$STEPS"); do echo "      - {id: s$s, type: ssh-exec, with: {command: \"echo step $s\"}}"; done
} >"$WORK/plan.yaml"

"$WORK/sim" -dir "$WORK" -nodes "$NODES" -latency "$LATENCY" -max-startups "$MAX_STARTUPS" >"$WORK/sim.json" 2>"$WORK/sim.err" &
SIM=$!
while [ ! -e "$WORK/ready" ]; do
	kill -0 "$SIM" 2>/dev/null || { cat "$WORK/sim.err" >&2; exit 1; }
	sleep 0.2
done
la=$(cut -d' ' -f1-3 /proc/loadavg)
set +e
/usr/bin/time -v -o "$WORK/time" "$WORK/zdu" run "$WORK/plan.yaml" -i "$WORK/inventory.yaml" \
	--run-dir "$WORK/run" --state "$WORK/state" --log-format text \
	--max-dials "$MAX_DIALS" --max-connections "$MAX_CONNECTIONS" >"$WORK/out" 2>"$WORK/err"
code=$?
set -e
kill -INT "$SIM"
wait "$SIM" || true
SIM=
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/time")
cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$WORK/time")
rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/time")
echo "nodes=$NODES batch=$BATCH steps=$STEPS latency=$LATENCY max_startups=$MAX_STARTUPS max_dials=$MAX_DIALS max_connections=$MAX_CONNECTIONS loadavg_before=\"$la\" loadavg_after=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
echo "exit=$code wall_s=$wall cpu_s=$cpu peak_rss_mb=$((rss / 1024))"
awk -v n="$NODES" -v c="$cpu" -v r="$rss" -v s="$STEPS" 'BEGIN {printf "per node: cpu_ms=%.2f rss_kb=%.1f; per step: cpu_ms=%.3f\n", c*1000/n, r/n, c*1000/(n*s)}'
grep -h 'connections:' "$WORK/err" || echo "(no connection report)"
echo "simulator: $(cat "$WORK/sim.json")"
if [ "$code" != 0 ]; then tail -20 "$WORK/err" >&2; tail -5 "$WORK/out" >&2; fi
