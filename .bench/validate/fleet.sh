#!/usr/bin/env bash
# zdu validate (and zdu graph) of a plan on a large generated inventory,
# before and after a change: control-host CPU (user + sys) and peak RSS.
#
# Builds zdu at two commits (BEFORE, default 73f17df, the loader before the
# quick inventory path; AFTER, default HEAD) from `git archive` into a
# temporary directory, generates an inventory of NODES nodes (the shape of
# inventoryOf in engine/load/bench_test.go: a name, a host, a group and two
# vars per node, inventory vars, one HAProxy load balancer) and a plan of
# one ssh-exec step on every node in batches of 5% (NODES=100000 compiles
# to 200,001 vertices, under the bound of docs/limits.md), and runs each
# command ROUNDS times per binary in ABBA order, each under /usr/bin/time.
# Prints every run, then the min and median of CPU seconds, peak RSS and
# wall seconds per (command, side), with the machine, Go version and the
# load average at the start and the end.
#
# The inventory is about 113 bytes a node (11 MB at 100,000 nodes), past
# the default 8 MiB input cap: the script sets ZDU_MAX_INPUT_BYTES=64MiB
# (docs/limits.md).
#
# Usage: .bench/validate/fleet.sh [BEFORE [AFTER]]
#        ROUNDS=5 NODES=100000 COMMANDS="validate graph" .bench/validate/fleet.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BEFORE=${1:-73f17df}
AFTER=${2:-HEAD}
ROUNDS=${ROUNDS:-5}
NODES=${NODES:-100000}
COMMANDS=${COMMANDS:-validate}

WORK=$(mktemp -d /tmp/zdu-bench-invload.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=../lib.sh
. "$ROOT/.bench/lib.sh"
bench_build before "$BEFORE"
bench_build after "$AFTER"

inv="$WORK/inventory.yaml"
awk -v n="$NODES" 'BEGIN {
	printf "apiVersion: zdu/v1\nkind: Inventory\ndefaults: {user: deploy}\nvars: {gateway_port: 8080}\nnodes:\n"
	for (i = 0; i < n; i++) {
		g = (i % 10 == 0) ? "GatewayManager" : "Gateway"
		printf "  - name: node-%04d\n    host: 10.%d.%d.%d\n    groups: [%s]\n    vars: {instance: gw-%d, group: %s}\n", i, int(i / 65536), int(i / 256) % 256, i % 256, g, i, g
	}
	printf "loadBalancers:\n  gateway:\n    driver: haproxy\n    backend: apigateway\n    instances: [{name: lb, socket: /run/haproxy.sock}]\n"
}' >"$inv"
plan="$WORK/plan.yaml"
printf 'apiVersion: zdu/v1\nname: fleet\nphases:\n  - id: upgrade\n    targets: all\n    strategy: {batch: "5%%"}\n    steps:\n      - id: s1\n        type: ssh-exec\n        with: {command: "echo ${{ vars.instance }}"}\n' >"$plan"
echo "inventory: $NODES nodes, $(wc -c <"$inv") bytes"

bench_machine
echo "start: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
raw="$WORK/raw.tsv"
: >"$raw"

run() { # side command
	local out="$WORK/out" t="$WORK/time" args=()
	case $2 in
	validate) args=(validate "$plan" -i "$inv") ;;
	graph) args=(graph "$plan" -i "$inv") ;;
	esac
	if ! ZDU_MAX_INPUT_BYTES=64MiB /usr/bin/time -f '%U %S %M %e' -o "$t" "$WORK/$1/zdu" "${args[@]}" >"$out" 2>&1; then
		echo "zdu $2 failed ($1):" >&2
		tail -5 "$out" >&2
		exit 1
	fi
	read -r user sys rss wall <"$t"
	cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
	printf '%s\t%s\t%s\t%s\t%s\n' "$2" "$1" "$cpu" "$rss" "$wall" >>"$raw"
	printf '%-8s %-6s cpu %6.2f s (user %s, sys %s)  rss %4d MB  wall %6.2f s\n' "$2" "$1" "$cpu" "$user" "$sys" $((rss / 1024)) "$wall"
}

for r in $(seq 1 "$ROUNDS"); do
	for cmd in $COMMANDS; do
		for side in $(bench_order "$r" before after); do
			run "$side" "$cmd"
		done
	done
done
echo "end: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo
printf '%-8s %-6s %22s %22s %22s\n' command side "cpu s (min / median)" "rss MB (min / median)" "wall s (min / median)"
stat() { # column command side
	awk -F'\t' -v c="$2" -v s="$3" '$1 == c && $2 == s { print $'"$1"' }' "$raw" | sort -g |
		awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s / %s", v[1], m }'
}
for cmd in $COMMANDS; do
	for side in before after; do
		rss_min_med=$(stat 4 "$cmd" "$side" | awk -F' / ' '{ printf "%d / %d", $1 / 1024, $2 / 1024 }')
		printf '%-8s %-6s %22s %22s %22s\n' "$cmd" "$side" "$(stat 3 "$cmd" "$side")" "$rss_min_med" "$(stat 5 "$cmd" "$side")"
	done
done
