package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/rundir"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)

// ev is an event at t0+sec.
func ev(sec float64, kind, state, phase, node, step string, detail map[string]any) journal.Event {
	return journal.Event{Time: t0.Add(time.Duration(sec * float64(time.Second))), Run: "r1", Kind: kind, State: state,
		Phase: phase, Node: node, Step: step, Detail: detail}
}

// runEvents is a run of two nodes over 10 seconds: n1 drained, its
// upgrade retried once, enabled; n2 drained, its upgrade failed, rolled
// back, re-enabled by compensation.
func runEvents() []journal.Event {
	lbDrain := map[string]any{"type": "lb-drain"}
	exec := map[string]any{"type": "ssh-exec"}
	failed := ev(7, journal.KindStep, journal.Failed, "up", "n2", "upgrade", nil)
	failed.ExitCode, failed.Error = journal.Code(3), "boom"
	rb := ev(7.5, journal.KindRollback, journal.Started, "up", "n2", "", nil)
	rb.Rollback = "restore"
	rbStep := ev(7.5, journal.KindRollback, journal.Started, "up", "n2", "undo_it", exec)
	rbStep.Rollback = "restore"
	rbStepEnd, rbEnd := rbStep, rb
	rbStepEnd.Time, rbStepEnd.State, rbStepEnd.Detail = t0.Add(8*time.Second), journal.Passed, nil
	rbEnd.Time, rbEnd.State = t0.Add(8*time.Second), journal.Passed
	retry := ev(3, journal.KindStep, journal.Retrying, "up", "n1", "upgrade", nil)
	retry.Attempt = 1
	end := ev(10, journal.KindRun, journal.Failed, "", "", "", map[string]any{"status": "UP_FAILED"})
	end.ExitCode, end.Error = journal.Code(70), "phase up failed on n2"
	return []journal.Event{
		ev(0, journal.KindRun, journal.Started, "", "", "", map[string]any{"plan": "p", "nodes": []any{"n1", "n2", "n3"},
			"phases": []any{map[string]any{"id": "up", "title": "UPGRADE"}}}),
		ev(0, journal.KindPhase, journal.Started, "up", "", "", map[string]any{"title": "UPGRADE"}),
		ev(0, journal.KindNode, journal.Started, "up", "n1", "", nil),
		ev(1, journal.KindUndo, journal.Armed, "", "n1", "lb/x/n1", map[string]any{"description": "re-enable n1"}),
		ev(1, journal.KindStep, journal.Started, "up", "n1", "drain", lbDrain),
		ev(2, journal.KindStep, journal.Passed, "up", "n1", "drain", nil),
		ev(2, journal.KindStep, journal.Started, "up", "n1", "upgrade", exec),
		retry,
		ev(3.5, journal.KindStep, journal.Started, "up", "n1", "upgrade", exec),
		ev(4, journal.KindStep, journal.Passed, "up", "n1", "upgrade", nil),
		ev(4, journal.KindStep, journal.Started, "up", "n1", "enable", map[string]any{"type": "lb-enable"}),
		ev(5, journal.KindUndo, journal.Settled, "", "n1", "lb/x/n1", nil),
		ev(5, journal.KindStep, journal.Passed, "up", "n1", "enable", nil),
		ev(5, journal.KindNode, journal.Passed, "up", "n1", "", nil),
		ev(5, journal.KindNode, journal.Started, "up", "n2", "", nil),
		ev(5, journal.KindUndo, journal.Armed, "", "n2", "lb/x/n2", map[string]any{"description": "re-enable n2"}),
		ev(5, journal.KindStep, journal.Started, "up", "n2", "drain", lbDrain),
		ev(6, journal.KindStep, journal.Passed, "up", "n2", "drain", nil),
		ev(6, journal.KindStep, journal.Started, "up", "n2", "upgrade", exec),
		failed,
		ev(7, journal.KindNode, journal.Failed, "up", "n2", "", nil),
		rb, rbStep, rbStepEnd, rbEnd,
		ev(8.5, journal.KindUndo, journal.Started, "", "n2", "lb/x/n2", map[string]any{"description": "re-enable n2"}),
		ev(9, journal.KindUndo, journal.Passed, "", "n2", "lb/x/n2", map[string]any{"description": "re-enable n2"}),
		ev(9, journal.KindPhase, journal.Failed, "up", "", "", nil),
		end,
	}
}

// writeRun makes a run directory of events (numbered in order), logs and
// probe intervals.
func writeRun(t testing.TB, events []journal.Event, logs map[string]string, ivs []probe.Interval) string {
	t.Helper()
	dir := t.TempDir()
	var b bytes.Buffer
	for i, e := range events {
		e.Seq = i + 1
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	write(t, filepath.Join(dir, rundir.JournalFile), b.String())
	os.Mkdir(filepath.Join(dir, rundir.NodesDir), 0o700)
	for n, text := range logs {
		write(t, filepath.Join(dir, rundir.NodesDir, rundir.NodeLogFile(n)), text)
	}
	if ivs != nil {
		b.Reset()
		for _, iv := range ivs {
			line, _ := json.Marshal(iv)
			b.Write(append(line, '\n'))
		}
		write(t, filepath.Join(dir, rundir.ProbeSeries), b.String())
	}
	return dir
}

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func render(t *testing.T, dir string) (*Run, string) {
	t.Helper()
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Render(&b, r); err != nil {
		t.Fatal(err)
	}
	return r, b.String()
}

// TestTimeline: each attempt, rollback step, rollback and compensation is
// a bar where its events put it on the run's 10 seconds; a node that ran
// nothing still has its row.
func TestTimeline(t *testing.T) {
	events := runEvents()
	tl := buildTimeline(events, []string{"n1", "n2", "n3"}, newAxis(t0, t0.Add(10*time.Second)))
	want := map[string][]string{
		"n1": {"step passed 10.000+10.000", "step retrying 20.000+10.000", "step passed 35.000+5.000", "step passed 40.000+10.000"},
		"n2": {"step passed 50.000+10.000", "step failed 60.000+10.000", "rollback passed 75.000+5.000",
			"rbspan passed 75.000+5.000", "undo passed 85.000+5.000"},
		"n3": nil,
	}
	if len(tl.Rows) != 3 {
		t.Fatalf("%d rows, want 3", len(tl.Rows))
	}
	for _, r := range tl.Rows {
		var got []string
		for _, b := range r.Bars {
			got = append(got, b.Class+" "+b.Left+"+"+b.Width)
		}
		if strings.Join(got, ", ") != strings.Join(want[r.Node], ", ") {
			t.Errorf("%s: bars\n%s\nwant\n%s", r.Node, strings.Join(got, ", "), strings.Join(want[r.Node], ", "))
		}
	}
	failed := tl.Rows[1].Bars[1]
	if !strings.Contains(failed.Title, "FAILED (exit 3) after 1s") || !strings.Contains(failed.Title, "boom") || failed.Label != "upgrade" {
		t.Errorf("failed bar: %+v", failed)
	}
	if len(tl.Phases) != 1 || tl.Phases[0].Class != "phase failed" || tl.Phases[0].Label != "UPGRADE" || tl.Phases[0].Width != "90.000" {
		t.Errorf("phases: %+v", tl.Phases)
	}
	if got := len(tl.Axis.Ticks); got != 11 || tl.Axis.Ticks[10].Label != "10s" {
		t.Errorf("ticks: %+v", tl.Axis.Ticks)
	}
	ms := markers(events, newAxis(t0, t0.Add(10*time.Second)))
	var got []string
	for _, m := range ms {
		got = append(got, m.Class+"@"+m.Left+" "+m.Label)
	}
	if strings.Join(got, ", ") != "drain@10.000 D n1, enable@50.000 E n1, drain@50.000 D n2, undo@90.000 C n2" {
		t.Errorf("markers: %s", strings.Join(got, ", "))
	}
}

// TestRenderEscapes: whatever a run directory holds (a node's name, an
// error, a log line) is shown as text, never as markup.
func TestRenderEscapes(t *testing.T) {
	const evil = `<img src=x onerror=alert(1)>`
	events := runEvents()
	for i := range events {
		if events[i].Node == "n2" {
			events[i].Node = evil
		}
	}
	events[0].Detail["nodes"] = []any{"n1", evil}
	events[len(events)-1].Error = `</script><script>alert(2)</script>`
	dir := writeRun(t, events, map[string]string{evil: "########## UPGRADE ##########\n<b>bold</b>\nERROR: " + evil + "\n"}, nil)
	r, page := render(t, dir)
	for _, raw := range []string{"<img", "<b>", "<script>alert"} {
		if strings.Contains(page, raw) {
			t.Errorf("the page holds %q unescaped", raw)
		}
	}
	if !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") || !strings.Contains(page, "&lt;b&gt;bold&lt;/b&gt;") {
		t.Error("the escaped texts are not on the page")
	}
	if len(r.Logs) != 1 || r.Logs[0].Node != evil {
		t.Errorf("logs %+v, want the log of the node with the odd name", r.Logs)
	}
}

// TestRenderRun: the page of a finished run has its status, the seed's
// table, a row per node, the probe chart, each log, and a CSP that allows
// its one script by digest and loads nothing.
func TestRenderRun(t *testing.T) {
	var ivs []probe.Interval
	for i := range 11 {
		iv := probe.Interval{Start: t0.Add(time.Duration(i) * time.Second), Requests: 100, P50MS: 1, P99MS: 5, MaxMS: 9}
		if i == 7 {
			iv.Failed = 2
		}
		ivs = append(ivs, iv)
	}
	dir := writeRun(t, runEvents(), map[string]string{"n1": "########## DRAIN ##########\nok\n", "n2": "ERROR: boom\n"}, ivs)
	r, page := render(t, dir)
	if !r.Ended || len(r.Intervals) != 11 {
		t.Fatalf("ended %v, %d intervals", r.Ended, len(r.Intervals))
	}
	for _, want := range []string{
		`id="status">UP_FAILED<`, "Summary table (Status.UP_FAILED)", "MULTI-NODE ZERO DOWN-TIME UPGRADE SUMMARY",
		`<td class="failed">FAILED (0)</td>`, `data-node="n3"`, `id="probe-chart"`, `<span class="err">ERROR: boom</span>`,
		`script-src &#39;sha256-`, "default-src &#39;none&#39;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if n := strings.Count(page, `<div class="grid row"`); n != 3 {
		t.Errorf("%d timeline rows, want 3", n)
	}
	if strings.Contains(page, "not-ended") {
		t.Error("a finished run reported as not ended")
	}
}

// TestCrashedRun: a run whose journal stops mid-step, with a torn last
// line and no summary, is reported as far as it went.
func TestCrashedRun(t *testing.T) {
	events := runEvents()[:19] // n2's upgrade started
	dir := writeRun(t, events, nil, nil)
	f, _ := os.OpenFile(filepath.Join(dir, rundir.JournalFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":17,"time":"2026-03-04T05:06:07Z","kind":"st`)
	f.Close()
	r, page := render(t, dir)
	if last := r.Events[len(r.Events)-1]; r.Ended || len(r.Events) != 19 || last.Step != "upgrade" || last.Node != "n2" {
		t.Fatalf("ended %v with %d events, the last %+v; want not ended, n2's upgrade started last", r.Ended, len(r.Events), last)
	}
	for _, want := range []string{`id="status">NOT ENDED<`, `id="not-ended"`, `class="bar step open"`, `class="bar phase open"`,
		"Status.NOT_ENDED", `id="no-probe"`, "out of service, not put back", "re-enable n2"} {
		if !strings.Contains(strings.ToLower(page), strings.ToLower(want)) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestLoadBounds: a long node log shows its tail from a line's start; a
// journal that is not a file, or missing, is an error; a torn probe line
// is dropped.
func TestLoadBounds(t *testing.T) {
	long := strings.Repeat("0123456789abcdef\n", maxNodeLog/16)
	dir := writeRun(t, runEvents(), map[string]string{"n1": "first line\n" + long}, nil)
	write(t, filepath.Join(dir, rundir.ProbeSeries), `{"start":"2026-03-04T05:06:01Z","requests":5}`+"\n"+`{"start":"2026-03-04T05:0`)
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := r.Logs[0]
	if !l.Cut || l.Size != int64(len("first line\n")+len(long)) || strings.Contains(l.Text, "first line") || !strings.HasPrefix(l.Text, "0123") {
		t.Errorf("cut %v size %d, text starts %q", l.Cut, l.Size, l.Text[:20])
	}
	if len(r.Intervals) != 1 || len(r.Problems) != 0 {
		t.Errorf("intervals %v problems %v, want the whole line only and no problem", r.Intervals, r.Problems)
	}
	empty := t.TempDir()
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Errorf("Load of an empty dir: %v", err)
	}
	os.Mkdir(filepath.Join(empty, rundir.JournalFile), 0o700)
	if _, err := Load(empty); err == nil {
		t.Error("Load read a directory as the journal")
	}
}

// TestWriteFile: the report replaces its file whole, 0600, and leaves
// nothing else behind.
func TestWriteFile(t *testing.T) {
	dir := writeRun(t, runEvents(), nil, nil)
	out := filepath.Join(t.TempDir(), "r.html")
	write(t, out, "old")
	if err := WriteFile(dir, out); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() < 1000 {
		t.Fatalf("%v %v", st, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("left %d files beside the report", len(ents))
	}
	if err := WriteFile(t.TempDir(), out); err == nil {
		t.Error("WriteFile of a directory with no journal succeeded")
	}
	if b, _ := os.ReadFile(out); string(b) == "old" || !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) {
		t.Error("a failed WriteFile changed the report")
	}
}

// TestChartMerge: a long run's intervals are merged down to at most
// maxChartPoint bars, each counting its requests once.
func TestChartMerge(t *testing.T) {
	var ivs []probe.Interval
	for i := range 2500 {
		ivs = append(ivs, probe.Interval{Start: t0.Add(time.Duration(i) * time.Second), Requests: 10, Failed: int64(i % 2), P99MS: float64(i)})
	}
	m := merge(ivs, 3)
	var req, failed int64
	for _, iv := range m {
		req += iv.Requests
		failed += iv.Failed
	}
	if len(m) != 834 || req != 25000 || failed != 1250 || m[1].P99MS != 5 {
		t.Errorf("%d merged, %d requests, %d failed, p99 of the second %g", len(m), req, failed, m[1].P99MS)
	}
	c := buildChart(ivs, nil, newAxis(t0, t0.Add(2500*time.Second)))
	if len(c.Bars) != 834 || c.Step != "3s" || c.P99 == "" {
		t.Errorf("%d bars of %s", len(c.Bars), c.Step)
	}
}

// TestResumedRun: a step the dead process left unended is drawn up to
// that process's last event, the resumption is marked, and a run that
// failed, was resumed and has not ended again is not ended.
func TestResumedRun(t *testing.T) {
	exec := map[string]any{"type": "ssh-exec"}
	failedEnd := ev(3, journal.KindRun, journal.Failed, "", "", "", map[string]any{"status": "X_FAILED"})
	events := []journal.Event{
		ev(0, journal.KindRun, journal.Started, "", "", "", map[string]any{"plan": "p", "nodes": []any{"n1"}}),
		ev(1, journal.KindStep, journal.Started, "up", "n1", "a", exec),
		ev(2, journal.KindNode, journal.Started, "up", "n1", "", nil), // the dead process's last sign of life
		ev(6, journal.KindRun, journal.Resumed, "", "", "", map[string]any{"user": "ops"}),
		ev(6, journal.KindStep, journal.Started, "up", "n1", "a", exec),
		ev(8, journal.KindStep, journal.Passed, "up", "n1", "a", nil),
		failedEnd,
	}
	events[6].Time = t0.Add(10 * time.Second)
	tl := buildTimeline(events, []string{"n1"}, newAxis(t0, t0.Add(10*time.Second)))
	var got []string
	for _, b := range tl.Rows[0].Bars {
		got = append(got, b.Class+" "+b.Left+"+"+b.Width)
	}
	if strings.Join(got, ", ") != "step open 10.000+10.000, step passed 60.000+20.000" {
		t.Errorf("bars: %s", strings.Join(got, ", "))
	}
	if len(tl.Resumes) != 1 || tl.Resumes[0].Left != "60.000" || !strings.Contains(tl.Resumes[0].Title, "by ops") {
		t.Errorf("resumes: %+v", tl.Resumes)
	}
	r, _ := render(t, writeRun(t, events, nil, nil))
	if !r.Ended {
		t.Error("a resumed run that ended is not ended")
	}
	r, page := render(t, writeRun(t, append(events[:6:6], failedEnd, ev(11, journal.KindRun, journal.Resumed, "", "", "", nil)), nil, nil))
	if r.Ended || !strings.Contains(page, `id="not-ended"`) {
		t.Error("a failed run resumed again and not ended since is reported ended")
	}
}

// TestInterruptedRun: a run stopped by a signal (its step cancelled, its
// status INTERRUPTED) is an ended run, drawn with the cancelled step.
func TestInterruptedRun(t *testing.T) {
	events := runEvents()[:19] // n2's upgrade started
	cancelled := ev(6.5, journal.KindStep, journal.Cancelled, "up", "n2", "upgrade", nil)
	end := ev(7, journal.KindRun, journal.Failed, "", "", "", map[string]any{"status": "INTERRUPTED"})
	end.ExitCode = journal.Code(130)
	events = append(events, ev(6.2, journal.KindRun, journal.Stopping, "", "", "", map[string]any{"reason": "SIGINT"}), cancelled, end)
	r, page := render(t, writeRun(t, events, nil, nil))
	if !r.Ended {
		t.Fatal("an interrupted run is not ended")
	}
	for _, want := range []string{`class="badge cancelled" id="status">INTERRUPTED<`, `class="bar step cancelled"`, "Status.INTERRUPTED"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, `class="bar step open"`) || strings.Contains(page, `id="not-ended"`) {
		t.Error("an interrupted run drawn as one that did not end")
	}
}
