#!/usr/bin/env bash
# Local-transport fleet: NODES nodes with `transport: local`, every one at once
# (strategy: parallel), each running `true` — RUNS times. Prints, per run, the
# exit code, how many nodes failed and how many of their logs name the old
# spurious error ("WaitDelay expired before I/O complete"), wall and CPU
# seconds and peak RSS (from /usr/bin/time -v), and the load average.
#
# Usage: .bench/fleet/local.sh                 (NODES=5000 RUNS=3)
#        NODES=1000 RUNS=3 .bench/fleet/local.sh
#        LOAD=2 .bench/fleet/local.sh          (adds LOAD busy loops meanwhile)
set -euo pipefail

NODES=${NODES:-5000}
RUNS=${RUNS:-3}
LOAD=${LOAD:-0}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/zdu-bench-local.XXXXXX)
BUSY=()
cleanup() {
	for p in "${BUSY[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$ROOT" && go build -o "$WORK/zdu" ./cmd/zdu)
cat >"$WORK/plan.yaml" <<'PLAN'
apiVersion: zdu/v1
kind: Plan
name: local-fleet
phases:
  - id: all
    targets: all
    strategy: parallel
    steps:
      - {id: t, type: ssh-exec, with: {command: "true"}}
PLAN
{
	echo "apiVersion: zdu/v1"
	echo "kind: Inventory"
	echo "defaults: {transport: local}"
	echo "nodes:"
	for i in $(seq 1 "$NODES"); do echo "  - {name: n$i}"; done
} >"$WORK/inv.yaml"

for _ in $(seq 1 "$LOAD"); do
	(while :; do :; done) &
	BUSY+=($!)
done

printf '%-4s %-5s %-7s %-12s %-8s %-8s %-10s %s\n' run exit failed waitdelay wall_s cpu_s maxrss_mb loadavg
for r in $(seq 1 "$RUNS"); do
	dir="$WORK/run$r"
	la=$(cut -d' ' -f1-3 /proc/loadavg)
	set +e
	/usr/bin/time -v -o "$WORK/time$r" "$WORK/zdu" run "$WORK/plan.yaml" -i "$WORK/inv.yaml" \
		--run-dir "$dir" --state "$WORK/state" >"$WORK/out$r" 2>&1
	code=$?
	set -e
	failed=$(grep -c 'FAILED' "$dir/summary.txt" 2>/dev/null || true)
	wd=$(grep -rl 'WaitDelay expired' "$dir" 2>/dev/null | wc -l || true)
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/time$r")
	cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$WORK/time$r")
	rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$WORK/time$r")
	printf '%-4s %-5s %-7s %-12s %-8s %-8s %-10s %s\n' "$r" "$code" "${failed:-0}" "$wd" "$wall" "$cpu" "$rss" "$la"
	if [ "$code" != 0 ]; then tail -5 "$WORK/out$r" >&2; fi
	rm -rf "$dir"
done
