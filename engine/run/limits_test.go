package run_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/enginetest"
)

// markPlan is a one-phase plan whose single step brackets a sleep with
// "start NODE" and "end NODE" lines in DIR/m.
func markPlan(strategy, sleep string) string {
	return fmt.Sprintf(`apiVersion: zdu/v1
name: limits
params:
  dir: {type: string, required: true}
phases:
  - id: work
    targets: all
    strategy: %s
    steps:
      - id: mark
        type: ssh-exec
        with:
          command: echo start ${{ node.name }} >> ${{ params.dir }}/m; sleep %s; echo end ${{ node.name }} >> ${{ params.dir }}/m
`, strategy, sleep)
}

// barrierPlan is markPlan where a node, once inside its step, waits until
// as many nodes are inside as the strategy should allow (fewer when fewer
// are left), so that the overlap reaches the limit whatever the machine's
// speed, then stays inside a moment longer, so that a walker starting more
// than the limit is seen doing it. A node gives up waiting after 1,000 looks
// (10s at least), when the overlap check fails.
func barrierPlan(strategy string, want, nodes int) string {
	return fmt.Sprintf(`apiVersion: zdu/v1
name: limits
params:
  dir: {type: string, required: true}
phases:
  - id: work
    targets: all
    strategy: %s
    steps:
      - id: mark
        type: ssh-exec
        with:
          command: |
            m=${{ params.dir }}/m
            echo start ${{ node.name }} >> "$m"
            i=0
            while [ $i -lt 1000 ]; do
              s=$(grep -c '^start' "$m"); e=$(grep -c '^end' "$m")
              need=%d; [ $((%d - e)) -lt $need ] && need=$((%d - e))
              [ $((s - e)) -ge $need ] && break
              sleep 0.01; i=$((i + 1))
            done
            sleep 0.2
            echo end ${{ node.name }} >> "$m"
`, strategy, want, nodes, nodes)
}

func TestSerialOrder(t *testing.T) {
	dir := t.TempDir()
	prog := enginetest.Compile(t, markPlan("serial", "0.05"), inventory(4), "dir="+dir)
	r := enginetest.Execute(t, prog, enginetest.Options{})
	if r.Result.ExitCode != 0 {
		t.Fatalf("exit %d: %v\n%s", r.Result.ExitCode, r.Result.Err, r.Table)
	}
	want := []string{"start n1", "end n1", "start n2", "end n2", "start n3", "end n3", "start n4", "end n4"}
	if got := enginetest.Lines(t, filepath.Join(dir, "m")); !slices.Equal(got, want) {
		t.Errorf("markers:\n got %q\nwant %q", got, want)
	}
	for i := 1; i <= 4; i++ {
		n := fmt.Sprintf("n%d", i)
		if row := r.Summary.Nodes[i-1]; row.Name != n || row.Phases["work"].String() != "PASSED (0)" {
			t.Errorf("summary row %d: %s %v, want %s PASSED (0)\n%s", i, row.Name, row.Phases, n, r.Table)
		}
		log := r.Logs[n]
		if !strings.Contains(log, "########## MARK ########## 20") || !strings.Contains(log, "########## MARK ########## PASSED") ||
			!strings.Contains(log, "echo start '"+n+"'") || !strings.Contains(log, "exit code 0") {
			t.Errorf("%s log lacks the framed step, its command or exit code:\n%s", n, log)
		}
	}
}

// TestConcurrencyLimits measures, from the markers, how many nodes were
// inside their step at once: never more than the strategy allows, and
// exactly that many at some point (so the limit is not just never reached).
// The nodes wait for each other inside the step (barrierPlan) rather than
// sleep: a loaded machine that starts them slowly cannot keep them apart.
func TestConcurrencyLimits(t *testing.T) {
	tests := []struct {
		strategy string
		want     int
		batches  [][]string // nil: no batch barrier to check
	}{
		{"serial", 1, nil},
		{"{batch: 2}", 2, [][]string{{"n1", "n2"}, {"n3", "n4"}, {"n5"}}},
		{`{batch: "40%"}`, 2, [][]string{{"n1", "n2"}, {"n3", "n4"}, {"n5"}}},
		{"{batch: 3}", 3, [][]string{{"n1", "n2", "n3"}, {"n4", "n5"}}},
		{"{parallel: 3}", 3, nil},
		{"parallel", 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			prog := enginetest.Compile(t, barrierPlan(tt.strategy, tt.want, 5), inventory(5), "dir="+dir)
			r := enginetest.Execute(t, prog, enginetest.Options{})
			if r.Result.ExitCode != 0 {
				t.Fatalf("exit %d: %v", r.Result.ExitCode, r.Result.Err)
			}
			lines := enginetest.Lines(t, filepath.Join(dir, "m"))
			if len(lines) != 10 {
				t.Fatalf("got %d marker lines, want 10: %q", len(lines), lines)
			}
			if got := enginetest.MaxOverlap(lines); got != tt.want {
				t.Errorf("at most %d nodes ran at once, want exactly %d: %q", got, tt.want, lines)
			}
			checkBarriers(t, lines, tt.batches)
			for _, row := range r.Summary.Nodes {
				if got := row.Phases["work"].String(); got != "PASSED (0)" {
					t.Errorf("%s: %s, want PASSED (0)", row.Name, got)
				}
			}
		})
	}
}

// checkBarriers checks that no node of a batch started before every node of
// the batch before it had ended.
func checkBarriers(t *testing.T, lines []string, batches [][]string) {
	t.Helper()
	batchOf := map[string]int{}
	for i, b := range batches {
		for _, n := range b {
			batchOf[n] = i
		}
	}
	ended := map[int]int{}
	for _, l := range lines {
		kind, node, _ := strings.Cut(l, " ")
		b, ok := batchOf[node]
		if !ok {
			continue
		}
		if kind == "start" && b > 0 && ended[b-1] != len(batches[b-1]) {
			t.Errorf("%s (batch %d) started while batch %d was still running: %q", node, b+1, b, lines)
			return
		}
		if kind == "end" {
			ended[b]++
		}
	}
}
