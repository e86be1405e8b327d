# Shared by the .bench scripts that compare two commits: source it once ROOT
# (the checkout) and WORK (a temporary directory) are set.

# bench_build SIDE COMMIT: zdu as it is at COMMIT (from git archive, so the
# work tree is not touched), built as $WORK/SIDE/zdu.
bench_build() {
	mkdir -p "$WORK/$1/src"
	git -C "$ROOT" archive "$2" | tar -x -C "$WORK/$1/src"
	(cd "$WORK/$1/src" && go build -o "$WORK/$1/zdu" ./cmd/zdu)
	echo "$1: $(git -C "$ROOT" rev-parse --short "$2")"
}

# bench_machine: the line naming the machine and the Go version.
bench_machine() {
	echo "machine: $(nproc) CPUs ($(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(go version | cut -d' ' -f3)"
}

# bench_order ROUND SIDE...: the sides in the order of round ROUND, reversed
# every other round (ABBA), so a drift of the machine favours neither.
bench_order() {
	local r=$1
	shift
	if [ $((r % 2)) = 1 ]; then echo "$*"; else echo "$*" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}'; fi
}
