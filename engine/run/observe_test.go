package run_test

import (
	"context"
	"errors"
	"github.com/zdu-dev/zdu/engine/exitcode"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/run"
)

// observePlan drains each node (a compensation nothing settles, so the
// runner must put it back at the end) and works; the work fails with code 5
// on the node named by params.fail, failing the phase with 73.
const observePlan = `apiVersion: zdu/v1
name: observe
params:
  dir: {type: string, required: true}
  fail: {type: string, default: none}
phases:
  - id: apply
    title: APPLY
    targets: all
    exitCode: 73
    steps:
      - {id: drain, type: test-undo, with: {key: lb, file: "${{ params.dir }}/order"}}
      - id: work
        type: ssh-exec
        with: {command: "test ${{ node.name }} != ${{ params.fail }} || exit 5"}
`

// recorder is an Observer that appends "finish" to the file the plan's
// steps and compensations write, so the file's order is the order in which
// the run changed nodes, put them back and finished its observers.
type recorder struct {
	t       *testing.T
	file    string
	finding run.Finding
	calls   atomic.Int32
}

func (o *recorder) Finish(ctx context.Context) run.Finding {
	o.calls.Add(1)
	if err := appendLine(o.file, "finish"); err != nil {
		o.t.Errorf("observer: %v", err)
	}
	return o.finding
}

func TestObserver(t *testing.T) {
	detail := map[string]any{"requests": float64(120), "failed": float64(0)}
	budgetErr := errors.New("availability error budget exceeded: 3 failed requests, budget 0")
	tests := []struct {
		name    string
		fail    string // node whose work fails
		stop    bool   // Stop before the run starts
		finding run.Finding
		// What the run returns and journals last.
		wantExit   int
		wantStatus string
		wantErr    string // of the result and the final run event
		// The probe event.
		wantProbeState string
		wantProbeExit  *int
		wantProbeErr   string
	}{
		{
			name:           "a finding without an error leaves a passed run passed",
			finding:        run.Finding{Kind: journal.KindProbe, Detail: detail},
			wantExit:       exitcode.OK,
			wantStatus:     "SUCCESS",
			wantProbeState: journal.Passed,
		},
		{
			name: "a finding with an error fails a passed run with its status and code",
			finding: run.Finding{Kind: journal.KindProbe, Detail: detail, Err: budgetErr,
				Status: "ERROR_BUDGET_EXCEEDED", ExitCode: 81},
			wantExit:       81,
			wantStatus:     "ERROR_BUDGET_EXCEEDED",
			wantErr:        budgetErr.Error(),
			wantProbeState: journal.Failed,
			wantProbeExit:  journal.Code(81),
			wantProbeErr:   budgetErr.Error(),
		},
		{
			name: "a failed phase keeps its own code: the root cause comes first",
			fail: "n2",
			finding: run.Finding{Kind: journal.KindProbe, Detail: detail, Err: budgetErr,
				Status: "ERROR_BUDGET_EXCEEDED", ExitCode: 81},
			wantExit:       73,
			wantStatus:     "APPLY_FAILED",
			wantProbeState: journal.Failed,
			wantProbeExit:  journal.Code(81),
			wantProbeErr:   budgetErr.Error(),
		},
		{
			name:           "a failed phase with a quiet observer",
			fail:           "n1",
			finding:        run.Finding{Kind: journal.KindProbe, Detail: detail},
			wantExit:       73,
			wantStatus:     "APPLY_FAILED",
			wantProbeState: journal.Passed,
		},
		{
			name: "an interrupted run stays interrupted and still finishes its observers",
			stop: true,
			finding: run.Finding{Kind: journal.KindProbe, Detail: detail, Err: budgetErr,
				Status: "ERROR_BUDGET_EXCEEDED", ExitCode: 81},
			wantExit:       exitcode.Interrupted,
			wantStatus:     "INTERRUPTED",
			wantErr:        "interrupted",
			wantProbeState: journal.Failed,
			wantProbeExit:  journal.Code(81),
			wantProbeErr:   budgetErr.Error(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			order := filepath.Join(dir, "order")
			obs := &recorder{t: t, file: order, finding: tt.finding}
			prog := enginetest.Compile(t, observePlan, inventory(2), "dir="+dir, "fail="+tt.fail)
			r := executeObserved(t, prog, tt.stop, obs)

			if r.Result.ExitCode != tt.wantExit || r.Result.Status != tt.wantStatus {
				t.Errorf("run ended %s (%d), want %s (%d)", r.Result.Status, r.Result.ExitCode, tt.wantStatus, tt.wantExit)
			}
			if tt.wantErr != "" && (r.Result.Err == nil || r.Result.Err.Error() != tt.wantErr) {
				t.Errorf("run error %v, want %q", r.Result.Err, tt.wantErr)
			}
			if tt.wantExit == exitcode.OK && r.Result.Err != nil {
				t.Errorf("a passed run has error %v", r.Result.Err)
			}
			if tt.wantStatus != tt.finding.Status && errors.Is(r.Result.Err, budgetErr) {
				t.Errorf("run error %v is the finding's, want the root cause's", r.Result.Err)
			}

			if n := obs.calls.Load(); n != 1 {
				t.Errorf("Finish called %d times, want once", n)
			}
			// Every drained node is put back (in whatever order the runner
			// chooses: inventory order at the end of a run, newest first
			// after a failure), and only then do the observers finish.
			changed := []string{"n1", "n2"}
			switch {
			case tt.stop:
				changed = nil
			case tt.fail == "n1":
				changed = []string{"n1"} // serial: n2 never started
			}
			got := enginetest.Lines(t, order)
			var want []string
			for _, n := range changed {
				want = append(want, "change "+n, "undo "+n)
			}
			if len(got) == 0 || got[len(got)-1] != "finish" || !slices.Equal(sorted(got[:len(got)-1]), sorted(want)) {
				t.Errorf("order %q, want %q in some order, then finish (Finish only after every node is put back)", got, want)
			}

			probes := eventsOf(r.Events, journal.KindProbe)
			if len(probes) != 1 {
				t.Fatalf("journal has %d probe events, want 1", len(probes))
			}
			p, last := probes[0], r.Events[len(r.Events)-1]
			if p.State != tt.wantProbeState || !sameCode(p.ExitCode, tt.wantProbeExit) || p.Error != tt.wantProbeErr {
				t.Errorf("probe event %s exit %s error %q, want %s exit %s error %q",
					p.State, codeString(p.ExitCode), p.Error, tt.wantProbeState, codeString(tt.wantProbeExit), tt.wantProbeErr)
			}
			if p.Detail["requests"] != float64(120) || p.Detail["failed"] != float64(0) {
				t.Errorf("probe event detail %v, want the finding's %v", p.Detail, detail)
			}
			if last.Kind != journal.KindRun || p.Seq != last.Seq-1 {
				t.Errorf("probe event at seq %d, last event %s at seq %d: want the probe just before the run's end",
					p.Seq, last.Kind, last.Seq)
			}
			for _, u := range eventsOf(r.Events, journal.KindUndo) {
				if u.Seq > p.Seq {
					t.Errorf("compensation %s %s on %s at seq %d after the probe event (seq %d)", u.State, u.Kind, u.Node, u.Seq, p.Seq)
				}
			}
			wantRun := journal.Passed
			if tt.wantExit != exitcode.OK {
				wantRun = journal.Failed
			}
			if last.State != wantRun || !sameCode(last.ExitCode, journal.Code(tt.wantExit)) || last.Detail["status"] != tt.wantStatus {
				t.Errorf("run end %s exit %s status %v, want %s exit %d status %s",
					last.State, codeString(last.ExitCode), last.Detail["status"], wantRun, tt.wantExit, tt.wantStatus)
			}
			if tt.wantErr != "" && last.Error != tt.wantErr {
				t.Errorf("run end error %q, want %q", last.Error, tt.wantErr)
			}
		})
	}
}

// TestObserversAllFinish: every observer finishes and is journaled, in
// order; the first failing finding decides the run's result.
func TestObserversAllFinish(t *testing.T) {
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	first := &recorder{t: t, file: order, finding: run.Finding{Kind: journal.KindProbe, Detail: map[string]any{"n": "first"},
		Err: errors.New("first"), Status: "FIRST", ExitCode: 81}}
	second := &recorder{t: t, file: order, finding: run.Finding{Kind: journal.KindProbe, Detail: map[string]any{"n": "second"},
		Err: errors.New("second"), Status: "SECOND", ExitCode: 82}}
	prog := enginetest.Compile(t, observePlan, inventory(1), "dir="+dir)
	r := executeObserved(t, prog, false, first, second)
	if r.Result.ExitCode != 81 || r.Result.Status != "FIRST" {
		t.Errorf("run ended %s (%d), want FIRST (81): the first failing finding wins", r.Result.Status, r.Result.ExitCode)
	}
	if first.calls.Load() != 1 || second.calls.Load() != 1 {
		t.Errorf("Finish called %d and %d times, want once each", first.calls.Load(), second.calls.Load())
	}
	var got []string
	for _, e := range eventsOf(r.Events, journal.KindProbe) {
		got = append(got, e.Detail["n"].(string)+" "+e.State+" "+codeString(e.ExitCode))
	}
	if want := []string{"first failed 81", "second failed 82"}; !slices.Equal(got, want) {
		t.Errorf("probe events %q, want %q", got, want)
	}
}

// executeObserved runs prog with observers (after Stop, if stop); Execute
// checks the journal's invariants.
func executeObserved(t *testing.T, prog *compile.Program, stop bool, obs ...run.Observer) *enginetest.Run {
	t.Helper()
	return enginetest.Execute(t, prog, enginetest.Options{
		Before: func(r *run.Runner) {
			r.Observers = obs
			if stop {
				r.Stop()
			}
		},
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func eventsOf(events []journal.Event, kind string) []journal.Event {
	var out []journal.Event
	for _, e := range events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func sameCode(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func codeString(c *int) string {
	if c == nil {
		return "none"
	}
	return strconv.Itoa(*c)
}
