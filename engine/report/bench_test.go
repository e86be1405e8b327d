package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
)

// BenchmarkReport1000Nodes loads and renders the run directory of a
// serial run of 1,000 nodes, 7 steps each (an hour), with an hour of probe
// intervals and a 4 KiB log per node: what zdu report costs on a large
// run, and how big the page is.
func BenchmarkReport1000Nodes(b *testing.B) {
	const nodes, steps = 1000, 7
	names := make([]any, nodes)
	for i := range names {
		names[i] = fmt.Sprintf("node-%04d", i)
	}
	events := []journal.Event{ev(0, journal.KindRun, journal.Started, "", "", "", map[string]any{"plan": "p", "nodes": names,
		"phases": []any{map[string]any{"id": "up", "title": "UPGRADE"}}})}
	logs := map[string]string{}
	per := 3600.0 / nodes
	for i := range nodes {
		n := names[i].(string)
		for s := range steps {
			at := float64(i)*per + float64(s)*per/steps
			step := fmt.Sprintf("step-%d", s)
			events = append(events, ev(at, journal.KindStep, journal.Started, "up", n, step, map[string]any{"type": "ssh-exec"}),
				ev(at+per/steps/2, journal.KindStep, journal.Passed, "up", n, step, nil))
		}
		logs[n] = strings.Repeat("########## STEP ##########\ncommand output, sixty-four bytes of it, as a step prints them\n", 45)
	}
	events = append(events, ev(3600, journal.KindRun, journal.Passed, "", "", "", map[string]any{"status": "SUCCESS"}))
	var ivs []probe.Interval
	for i := range 3600 {
		ivs = append(ivs, probe.Interval{Start: t0.Add(time.Duration(i) * time.Second), Requests: 200, P50MS: 0.5, P99MS: 2, MaxMS: 9})
	}
	dir := writeRun(b, events, logs, ivs)
	out := filepath.Join(b.TempDir(), "r.html")
	b.ResetTimer()
	for b.Loop() {
		if err := WriteFile(dir, out); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st, err := os.Stat(out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "page-MiB")
}
