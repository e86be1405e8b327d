#!/usr/bin/env bash
# zdu validate of large generated plans, before and after a change.
#
# Builds zdu at two commits (BEFORE, default 00ac81b, the loader before the
# input-limits work; AFTER, default HEAD) from `git archive` into a
# temporary directory, generates plans of STEPS steps in two shapes, and
# runs `zdu validate PLAN -i INVENTORY` ROUNDS times per binary, in ABBA
# order, each under /usr/bin/time (wall seconds, peak RSS) and a TIMEOUT
# (killed past it, recorded as ">TIMEOUT s"). Prints the min and median of
# each (shape, steps, side), with the machine, Go version and the load
# average at the start and the end.
#
# Shapes (one phase on a one-node inventory: 100,000 steps on 10 nodes
# would be a million vertices, past what zdu takes, docs/limits.md):
#   simple      each step an ssh-exec whose command interpolates a param
#               (the shape of the report in issue 14)
#   registered  each step registers its result, its when reads the
#               previous step's result, its command a param and a var;
#               every tenth step has needs, every hundredth a timeout from
#               a param (BenchmarkValidate's plan, engine/load/bench_test.go)
#
# The registered shape was quadratic before (1,000 steps: 37 s and 1 GB,
# 5,000: 8 minutes and 21 GB), so BEFORE_REGISTERED_STEPS limits the before
# side to sizes it survives.
#
# Usage: .bench/validate/run.sh [BEFORE [AFTER]]
#        ROUNDS=3 STEPS="10000 50000 100000" TIMEOUT=300 .bench/validate/run.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BEFORE=${1:-00ac81b}
AFTER=${2:-HEAD}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-10000 50000 100000}
SHAPES=${SHAPES:-simple registered}
BEFORE_REGISTERED_STEPS=${BEFORE_REGISTERED_STEPS:-1000}
TIMEOUT=${TIMEOUT:-300}

WORK=$(mktemp -d /tmp/zdu-bench-validate.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=../lib.sh
. "$ROOT/.bench/lib.sh"
bench_build before "$BEFORE"
bench_build after "$AFTER"

inv="$WORK/inventory.yaml"
{
	printf 'apiVersion: zdu/v1\nkind: Inventory\nvars: {instance: gw}\nnodes:\n'
	printf '  - {name: node-0, host: 10.0.0.1}\n'
} >"$inv"

gen() { # shape steps
	awk -v shape="$1" -v n="$2" 'BEGIN {
		printf "apiVersion: zdu/v1\nname: big\nparams:\n  dir: {type: string, default: /opt/app}\n  wait: {type: duration, default: 30s}\nphases:\n  - id: upgrade\n    targets: all\n    steps:\n"
		for (i = 0; i < n; i++) {
			printf "      - id: s%d\n        type: ssh-exec\n", i
			if (shape == "simple") {
				printf "        with: {command: \"echo %d ${{ params.dir }}\"}\n", i
				continue
			}
			printf "        register: r%d\n", i
			if (i > 0) printf "        when: results.r%d.ok && node.name != \"\"\n", i - 1
			if (i % 10 == 9) printf "        needs: [s%d, s%d]\n", i - 1, i - 9
			if (i % 100 == 99) printf "        timeout: ${{ params.wait }}\n"
			printf "        with: {command: \"cd ${{ params.dir }} && ./step %d --instance ${{ vars.instance }}\"}\n", i
		}
	}'
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
raw="$WORK/raw.tsv"
: >"$raw"

run() { # side shape steps plan
	local out="$WORK/time.out" secs rss
	if ZDU_MAX_INPUT_BYTES=1GiB /usr/bin/time -f '%e %M' -o "$out" timeout -s KILL "$TIMEOUT" \
		"$WORK/$1/zdu" validate "$4" -i "$inv" >/dev/null 2>"$WORK/err"; then
		read -r secs rss <"$out"
	else
		secs=">$TIMEOUT" rss=-
		if [ -s "$out" ] && ! grep -q 'signal' "$out"; then
			cat "$WORK/err" >&2
			echo "$1 failed on $2/$3" >&2
			exit 1
		fi
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$2" "$3" "$1" "$secs" "$rss" | tee -a "$raw"
}

for shape in $SHAPES; do
	for n in $STEPS; do
		plan="$WORK/$shape-$n.yaml"
		gen "$shape" "$n" >"$plan"
		sides="before after"
		if [ "$shape" = registered ] && [ "$n" -gt "$BEFORE_REGISTERED_STEPS" ]; then
			sides="after"
		fi
		for r in $(seq 1 "$ROUNDS"); do
			for side in $(bench_order "$r" $sides); do run "$side" "$shape" "$n" "$plan"; done
		done
	done
done
# The registered shape's size the before side survives, when STEPS lacks it.
if echo " $SHAPES " | grep -q " registered " && [ "$BEFORE_REGISTERED_STEPS" -gt 0 ] &&
	! echo " $STEPS " | grep -q " $BEFORE_REGISTERED_STEPS "; then
	plan="$WORK/registered-$BEFORE_REGISTERED_STEPS.yaml"
	gen registered "$BEFORE_REGISTERED_STEPS" >"$plan"
	for r in $(seq 1 "$ROUNDS"); do
		for side in before after; do run "$side" registered "$BEFORE_REGISTERED_STEPS" "$plan"; done
	done
fi

echo
bench_machine
echo "started $started, load average $load_start; ended $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf 'shape\tsteps\tside\truns\tmin s\tmedian s\tmin MB\tmedian MB\n'
awk -F'\t' '
	function val(x) { return substr(x, 1, 1) == ">" ? 1e9 + substr(x, 2) : x + 0 }
	function sortv(a, n,    i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && val(a[j-1]) > val(a[j]); j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	}
	{
		k = $1 "\t" $2 "\t" $3
		if (!(k in n)) order[++keys] = k
		n[k]++; s[k, n[k]] = $4
		if ($5 != "-") { m[k]++; r[k, m[k]] = $5 }
	}
	END {
		for (q = 1; q <= keys; q++) {
			k = order[q]
			delete a; for (i = 1; i <= n[k]; i++) a[i] = s[k, i]; sortv(a, n[k])
			delete b; for (i = 1; i <= m[k]; i++) b[i] = r[k, i]; sortv(b, m[k])
			mid = int((n[k] + 1) / 2); bmid = int((m[k] + 1) / 2)
			printf "%s\t%d\t%s\t%s\t%s\t%s\n", k, n[k], a[1], a[mid], (m[k] ? int(b[1] / 1024) : "-"), (m[k] ? int(b[bmid] / 1024) : "-")
		}
	}' "$raw"
