#!/usr/bin/env bash
# Engine overhead per step, before and after a change to the engine.
#
# Checks out two commits as temporary git worktrees (BEFORE, default
# 78d0dea, the engine before the walker rewrite; AFTER, default HEAD) and
# runs BenchmarkEngineOverhead (engine/run/bench_test.go) in them
# alternately, ROUNDS times each, in ABBA order (odd rounds before then
# after, even rounds after then before) so that a machine getting busier or
# quieter during the run weighs on both sides alike. Each run is
#   go test -run XXX -bench "$BENCH" -benchtime "$BENCHTIME" ./engine/run/
# and prints µs/step, B/op and allocs/op per sub-benchmark. At the end it
# prints, per sub-benchmark and figure, the min and the median of each side
# and after/before of the medians, with the machine (nproc, CPU model), Go
# version and the load average at the start and the end. The worktrees are
# removed on exit.
#
# By default only the journal=tmpfs sub-benchmarks run (the engine's own
# cost; the disk rows are fsync-bound and take ~30 s a round):
#   BENCH='EngineOverhead' .bench/engine/compare.sh      also the disk rows
#
# Usage: .bench/engine/compare.sh [BEFORE [AFTER]]
#        ROUNDS=5 BENCHTIME=3x .bench/engine/compare.sh 78d0dea HEAD
#        RAW=/tmp/engine.tsv .bench/engine/compare.sh     keep every figure
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BEFORE=${1:-78d0dea}
AFTER=${2:-HEAD}
ROUNDS=${ROUNDS:-5}
BENCH=${BENCH:-EngineOverhead/journal=tmpfs}
BENCHTIME=${BENCHTIME:-3x}

before_rev=$(git -C "$ROOT" rev-parse --verify "$BEFORE^{commit}")
after_rev=$(git -C "$ROOT" rev-parse --verify "$AFTER^{commit}")

WORK=$(mktemp -d /tmp/zdu-bench-engine.XXXXXX)
cleanup() {
	for side in before after; do
		if [ -e "$WORK/$side" ]; then
			git -C "$ROOT" worktree remove --force "$WORK/$side" >/dev/null 2>&1 || true
		fi
	done
	git -C "$ROOT" worktree prune >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

git -C "$ROOT" worktree add -q --detach "$WORK/before" "$before_rev"
git -C "$ROOT" worktree add -q --detach "$WORK/after" "$after_rev"

# Both sides must have the benchmark, with the same plan (its sub-benchmark
# names are compared after the first round).
for side in before after; do
	if ! grep -q '^func BenchmarkEngineOverhead(' "$WORK/$side/engine/run/bench_test.go" 2>/dev/null; then
		echo "$side ($(git -C "$WORK/$side" rev-parse --short HEAD)): no BenchmarkEngineOverhead in engine/run/bench_test.go" >&2
		exit 1
	fi
done
plan() { sed -n '/^const benchPlan = `/,/^`/p' "$WORK/$1/engine/run/bench_test.go"; }
if [ "$(plan before)" != "$(plan after)" ]; then
	echo "warning: benchPlan differs between the two commits: the figures measure different plans" >&2
fi

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# bench SIDE ROUND: one run, appended to $WORK/raw.tsv as
# side, round, sub-benchmark, ns/op, µs/step, B/op, allocs/op.
bench() {
	local side=$1 round=$2 out="$WORK/$1.$2.out"
	(cd "$WORK/$side" && go test -run XXX -bench "$BENCH" -benchtime "$BENCHTIME" ./engine/run/) >"$out" 2>&1 ||
		{ cat "$out" >&2; echo "go test failed in $side" >&2; exit 1; }
	awk -v side="$side" -v round="$round" '
		/^Benchmark/ {
			name = $1; sub(/^BenchmarkEngineOverhead\//, "", name); sub(/-[0-9]+$/, "", name)
			ns = us = bop = allocs = "-"
			for (i = 3; i < NF; i++) {
				if ($(i+1) == "ns/op") ns = $i
				if ($(i+1) == "µs/step") us = $i
				if ($(i+1) == "B/op") bop = $i
				if ($(i+1) == "allocs/op") allocs = $i
			}
			printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", side, round, name, ns, us, bop, allocs
		}' "$out" >>"$WORK/raw.tsv"
	grep -q "^$side	$round	" "$WORK/raw.tsv" || { cat "$out" >&2; echo "no benchmark ran in $side" >&2; exit 1; }
}

for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then order="before after"; else order="after before"; fi
	for side in $order; do
		echo "round $r/$ROUNDS: $side" >&2
		bench "$side" "$r"
	done
	if [ "$r" -eq 1 ]; then
		names() { awk -F'\t' -v s="$1" '$1 == s {print $3}' "$WORK/raw.tsv" | sort; }
		if [ "$(names before)" != "$(names after)" ]; then
			echo "warning: the sub-benchmarks differ; only those of both sides are compared" >&2
			diff <(names before) <(names after) >&2 || true
		fi
	fi
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
[ -z "${RAW:-}" ] || cp "$WORK/raw.tsv" "$RAW"

cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo
echo "BenchmarkEngineOverhead, before $(git -C "$ROOT" log -1 --format='%h (%cs) %s' "$before_rev" | cut -c1-80)"
echo "                          after  $(git -C "$ROOT" log -1 --format='%h (%cs) %s' "$after_rev" | cut -c1-80)"
echo "command: go test -run XXX -bench '$BENCH' -benchtime $BENCHTIME ./engine/run/, $ROUNDS rounds each, alternating (ABBA)"
echo "machine: $(nproc) CPUs, $cpu; $(go version | cut -d' ' -f3-)"
echo "started: $started; load average at start: $load_start; at end: $load_end"
echo
python3 - "$WORK/raw.tsv" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
figures = {"µs/step": 4, "B/op": 5, "allocs/op": 6}
data = {}  # (name, figure) -> side -> [values]
names = []
for side, _round, name, *_ in rows:
    if name not in names:
        names.append(name)
for r in rows:
    for fig, i in figures.items():
        if r[i] != "-":
            data.setdefault((r[2], fig), {}).setdefault(r[0], []).append(float(r[i]))

def fmt(v, fig):
    return f"{v:,.1f}" if fig == "µs/step" else f"{v:,.0f}"

head = ("sub-benchmark", "figure", "before min", "before median", "after min", "after median", "after/before (medians)")
out = [head]
for name in names:
    for fig in figures:
        sides = data.get((name, fig), {})
        b, a = sides.get("before"), sides.get("after")
        if not b or not a:
            continue
        bm, am = statistics.median(b), statistics.median(a)
        out.append((name, fig, fmt(min(b), fig), fmt(bm, fig), fmt(min(a), fig), fmt(am, fig),
                    f"{am / bm:.2f}" if bm else "-"))
w = [max(len(r[i]) for r in out) for i in range(len(head))]
for r in out:
    print("  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(r)))
n = {s: len({r[1] for r in rows if r[0] == s}) for s in ("before", "after")}
print(f"\n(min and median over {n['before']} runs before, {n['after']} after)")
PY
