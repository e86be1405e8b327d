package run_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/mask"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/engine/rundir"
)

// benchPlan has two phases of three no-op steps: six steps per node. The
// no-op step type returns at once, so what is measured is the engine: the
// walk, expression environments, journal events (JSON, write, fsync), sinks
// and node log frames.
const benchPlan = `apiVersion: zdu/v1
name: bench
phases:
  - id: one
    targets: all
    steps:
      - {id: a, type: test-noop}
      - {id: b, type: test-noop}
      - {id: c, type: test-noop}
  - id: two
    targets: all
    strategy: {batch: 10}
    steps:
      - {id: a, type: test-noop}
      - {id: b, type: test-noop}
      - {id: c, type: test-noop}
`

const benchStepsPerNode = 6

// BenchmarkEngineOverhead reports the engine's own cost per step with the
// journal on the test's temp dir (a real disk: every event fsynced) and on
// /dev/shm (tmpfs: fsync is nearly free), at 100, 1,000 and 5,000 nodes
// (disk: 100 and 1,000).
// B/op across the sizes shows how memory grows with the inventory.
func BenchmarkEngineOverhead(b *testing.B) {
	for _, fs := range []string{"tmpfs", "disk"} {
		for _, nodes := range []int{100, 1000, 5000} {
			if fs == "disk" && nodes > 1000 {
				continue // ~30 s per run, fsync-bound; tmpfs shows the growth
			}
			b.Run(fmt.Sprintf("journal=%s/nodes=%d", fs, nodes), func(b *testing.B) {
				root := b.TempDir()
				if fs == "tmpfs" {
					if _, err := os.Stat("/dev/shm"); err != nil {
						b.Skip("no /dev/shm here")
					}
					var err error
					if root, err = os.MkdirTemp("/dev/shm", "zdu-bench-"); err != nil {
						b.Skip(err)
					}
					b.Cleanup(func() { os.RemoveAll(root) })
				}
				prog := enginetest.Compile(b, benchPlan, inventory(nodes))
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					if res := runOnce(b, prog, filepath.Join(root, fmt.Sprint(i))); res.ExitCode != 0 {
						b.Fatalf("run failed: %v", res.Err)
					}
				}
				steps := float64(b.N * nodes * benchStepsPerNode)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/steps/1e3, "µs/step")
			})
		}
	}
}

// runOnce runs prog with its journal and node logs, as `zdu run` would,
// minus run.log and the console log (the same work since the first figures
// in docs/performance.md, so they stay comparable).
func runOnce(b *testing.B, prog *compile.Program, dir string) run.Result {
	m := mask.New(prog.Binding.Secrets)
	if err := os.MkdirAll(dir, 0o700); err != nil { // NewNodeLogs makes only its own directory
		b.Fatal(err)
	}
	logs, err := rundir.NewNodeLogs(filepath.Join(dir, rundir.NodesDir), m)
	if err != nil {
		b.Fatal(err)
	}
	defer logs.Close()
	j, err := journal.Create(filepath.Join(dir, rundir.JournalFile), "bench", m, logs)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	pool := run.NewPool(prog.Binding.Inv, nil)
	defer pool.Close()
	r := &run.Runner{Prog: prog, Journal: j, Transports: pool, Logs: logs}
	return r.Run(context.Background())
}
