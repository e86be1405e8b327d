package journal_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/zdu-dev/zdu/engine/journal"
)

// BenchmarkAppendConcurrent is the journal's cost per step when W nodes
// run steps at once: each writer records a step's start (synced before
// the step runs) and its end, b.N times, into one journal on the test's
// temp dir (a real disk, so every fsync is paid). Count the fsyncs with
// strace (docs/performance.md):
//
//	go test -c -o /tmp/journal.test ./engine/journal
//	strace -f -c -e trace=fsync /tmp/journal.test -test.run '^$' -test.bench AppendConcurrent -test.benchtime 200x
func BenchmarkAppendConcurrent(b *testing.B) {
	for _, writers := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			j, err := journal.Create(filepath.Join(b.TempDir(), "journal.jsonl"), "bench", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				node := fmt.Sprintf("node-%d", w)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < b.N; i++ {
						step := fmt.Sprintf("s%d", i)
						for _, state := range []string{journal.Started, journal.Passed} {
							if err := j.Append(journal.Event{Kind: journal.KindStep, State: state, Phase: "upgrade", Node: node, Step: step}); err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*writers)/1e3, "µs/step")
		})
	}
}
