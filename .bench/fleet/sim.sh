#!/usr/bin/env bash
# A rolling run of NODES virtual SSH nodes (engine/fleetsim on loopback, one
# process per SHARD nodes): batches of BATCH (default 5%), STEPS trivial steps per node, with
# the simulator dropping handshakes over MAX_STARTUPS at once (fleet-wide, as
# a bastion would). Prints zdu's exit code, wall and CPU time, peak RSS (from
# /usr/bin/time -v), per node; zdu's own connection report; and what the
# simulator saw: logins, dropped handshakes, commands, peak open connections.
#
# Usage: .bench/fleet/sim.sh                     (NODES=5000)
#        NODES=20000 MAX_CONNECTIONS=256 .bench/fleet/sim.sh
#        LATENCY=5ms MAX_STARTUPS=10 MAX_DIALS=10 .bench/fleet/sim.sh
#        DIAL_RATE=0 .bench/fleet/sim.sh              (dials unpaced)
set -euo pipefail

NODES=${NODES:-5000}
BATCH=${BATCH:-5%}
STEPS=${STEPS:-5}
LATENCY=${LATENCY:-1ms}
MAX_STARTUPS=${MAX_STARTUPS:-10}
MAX_DIALS=${MAX_DIALS:-10}
MAX_CONNECTIONS=${MAX_CONNECTIONS:-256}
DIAL_RATE=${DIAL_RATE:-200}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# A listener per node: over SHARD nodes (default 10,000) the fleet is served
# by several simulator processes, each under its own open-file limit (a
# container may not let even root raise it), all accepting one client key;
# MAX_STARTUPS is then split between them (it stays the fleet's total).
SHARD=${SHARD:-10000}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/zdu-bench-fleet.XXXXXX)
SIMS=()
cleanup() {
	for p in "${SIMS[@]}"; do kill "$p" 2>/dev/null || true; done
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

ssh-keygen -q -t ed25519 -N '' -f "$WORK/id_client"
shards=$(((NODES + SHARD - 1) / SHARD))
startups=0
[ "$MAX_STARTUPS" -gt 0 ] && startups=$((MAX_STARTUPS / shards > 0 ? MAX_STARTUPS / shards : 1))
first=1
for s in $(seq 1 "$shards"); do
	n=$((NODES - first + 1 < SHARD ? NODES - first + 1 : SHARD))
	mkdir "$WORK/shard$s"
	"$WORK/sim" -dir "$WORK/shard$s" -client-key "$WORK/id_client" -first "$first" -nodes "$n" \
		-latency "$LATENCY" -max-startups "$startups" >"$WORK/shard$s/sim.json" 2>"$WORK/shard$s/sim.err" &
	SIMS+=($!)
	first=$((first + n))
done
for s in $(seq 1 "$shards"); do
	while [ ! -e "$WORK/shard$s/ready" ]; do
		kill -0 "${SIMS[$((s - 1))]}" 2>/dev/null || { cat "$WORK/shard$s/sim.err" >&2; exit 1; }
		sleep 0.2
	done
done
# One inventory and known_hosts for the whole fleet, from the shards'.
for s in $(seq 1 "$shards"); do cat "$WORK/shard$s/known_hosts"; done >"$WORK/known_hosts"
{
	sed -n '1,/^nodes:/p' "$WORK/shard1/inventory.yaml" | sed "s#knownHosts: \[.*\]#knownHosts: [$WORK/known_hosts]#"
	for s in $(seq 1 "$shards"); do grep '^  - {name:' "$WORK/shard$s/inventory.yaml"; done
} >"$WORK/inventory.yaml"
la=$(cut -d' ' -f1-3 /proc/loadavg)
set +e
/usr/bin/time -v -o "$WORK/time" "$WORK/zdu" run "$WORK/plan.yaml" -i "$WORK/inventory.yaml" \
	--run-dir "$WORK/run" --state "$WORK/state" --log-format text \
	--max-dials "$MAX_DIALS" --dial-rate "$DIAL_RATE" --max-connections "$MAX_CONNECTIONS" >"$WORK/out" 2>"$WORK/err"
code=$?
set -e
for p in "${SIMS[@]}"; do kill -INT "$p"; done
for p in "${SIMS[@]}"; do wait "$p" || true; done
SIMS=()
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/time")
cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$WORK/time")
rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/time")
echo "nodes=$NODES shards=$shards batch=$BATCH steps=$STEPS latency=$LATENCY max_startups=$MAX_STARTUPS max_dials=$MAX_DIALS dial_rate=$DIAL_RATE max_connections=$MAX_CONNECTIONS loadavg_before=\"$la\" loadavg_after=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
echo "exit=$code wall_s=$wall cpu_s=$cpu peak_rss_mb=$((rss / 1024))"
awk -v n="$NODES" -v c="$cpu" -v r="$rss" -v s="$STEPS" 'BEGIN {printf "per node: cpu_ms=%.2f rss_kb=%.1f; per step: cpu_ms=%.3f\n", c*1000/n, r/n, c*1000/(n*s)}'
grep -h 'connections:' "$WORK/err" || echo "(no connection report)"
# Peak open connections are each shard's own: their sum bounds the fleet's.
for s in $(seq 1 "$shards"); do echo "simulator shard $s: $(cat "$WORK/shard$s/sim.json")"; done
if [ "$shards" -gt 1 ]; then
	cat "$WORK"/shard*/sim.json | awk -F'[:,}]' '{for (i = 1; i < NF; i += 2) {k = $i; gsub(/[{" ]/, "", k); if (k != "") t[k] += $(i + 1)}} END {printf "simulator (%d shards, summed):", NR; for (k in t) printf " %s=%d", k, t[k]; print ""}'
fi

if [ "$code" != 0 ]; then tail -20 "$WORK/err" >&2; tail -5 "$WORK/out" >&2; fi
