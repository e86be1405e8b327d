package run_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/gate"
	"github.com/zdu-dev/zdu/engine/run"
)

// midStepGates is a Gatekeeper whose gate fires while a node is inside a
// step: once the step has written DIR/mid, and before it may finish (the
// step waits for DIR/go, written after the breach).
type midStepGates struct{ dir string }

func (g midStepGates) Baseline(context.Context) (*gate.Figures, error) { return nil, nil }

func (g midStepGates) Watch(ctx context.Context, breached func(*gate.Breach)) {
	for {
		if _, err := os.Stat(filepath.Join(g.dir, "mid")); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	breached(&gate.Breach{Gate: "errorRate", Threshold: "1%", Figures: gate.Figures{Requests: 100, Failed: 50, ErrorPercent: 50}})
	_ = os.WriteFile(filepath.Join(g.dir, "go"), nil, 0o600)
}

// TestGateFiresMidStep: a gate that fires while a node is inside a step
// does not cut the step short; the node fails before its next step (which
// never starts: its event is failed, naming the gate), its rollback-on rule runs, no other node starts, and the
// run ends with the gate's exit code.
func TestGateFiresMidStep(t *testing.T) {
	const plan = `apiVersion: zdu/v1
name: gate-mid-step
params:
  dir: {type: string, required: true}
gates:
  window: 1s
  maxErrorPercent: 1
  exitCode: 88
phases:
  - id: apply
    targets: all
    steps:
      - {id: arm, type: rollback-on, with: {rollback: restore}}
      - id: work
        type: ssh-exec
        with: {command: "echo work ${{ node.name }} >> ${{ params.dir }}/ran; touch ${{ params.dir }}/mid; while [ ! -e ${{ params.dir }}/go ]; do sleep 0.05; done; echo worked ${{ node.name }} >> ${{ params.dir }}/ran"}
      - {id: next, type: ssh-exec, with: {command: "echo next ${{ node.name }} >> ${{ params.dir }}/ran"}}
rollbacks:
  restore:
    - {id: restore, type: ssh-exec, with: {command: "echo rollback ${{ node.name }} >> ${{ params.dir }}/ran"}}
`
	dir := t.TempDir()
	prog := enginetest.Compile(t, plan, inventory(2), "dir="+dir)
	r := enginetest.Execute(t, prog, enginetest.Options{Before: func(r *run.Runner) { r.Gates = midStepGates{dir: dir} }})
	if r.Result.ExitCode != 88 || r.Result.Status != "GATE_BREACHED" {
		t.Errorf("got %s (%d), want GATE_BREACHED (88): %v", r.Result.Status, r.Result.ExitCode, r.Result.Err)
	}
	if r.Result.Err == nil || !strings.Contains(r.Result.Err.Error(), "gate errorRate") {
		t.Errorf("the run's error does not name the gate: %v", r.Result.Err)
	}
	if got, want := enginetest.Lines(t, filepath.Join(dir, "ran")), []string{"work n1", "worked n1", "rollback n1"}; !slices.Equal(got, want) {
		t.Errorf("ran %q, want %q\n%s", got, want, r.Table)
	}
	var nextStarted, nextFailed, n2Started bool
	for _, e := range r.Events {
		switch {
		case e.Node == "n1" && e.Step == "next" && e.State == "started":
			nextStarted = true
		case e.Node == "n1" && e.Step == "next" && e.State == "failed":
			nextFailed = strings.Contains(e.Error, "gate errorRate")
		case e.Node == "n2" && e.State == "started":
			n2Started = true
		}
	}
	if nextStarted || !nextFailed {
		t.Errorf("n1's next step: started %v, failed naming the gate %v; want never started, failed", nextStarted, nextFailed)
	}
	if n2Started {
		t.Error("n2 started after the gate fired")
	}
	for _, row := range r.Summary.Nodes {
		if row.Name == "n1" && row.Rollback.String() != "PASSED (0)" {
			t.Errorf("n1 ROLLBACK %s:\n%s", row.Rollback, r.Table)
		}
	}
}
