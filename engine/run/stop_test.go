package run_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/run"
)

// stopPlan drains (a compensation), works (once DIR/go exists, a sleep with
// a unique argument) and enables (settles) each node; a second phase marks
// nodes.
const stopPlan = `apiVersion: zdu/v1
name: stop
params:
  dir: {type: string, required: true}
  marker: {type: string, required: true}
phases:
  - id: one
    targets: all
    strategy: %s
    exitCode: 70
    steps:
      - {id: drain, type: test-undo, with: {key: lb, file: "${{ params.dir }}/lb"}}
      - id: work
        type: ssh-exec
        with: {command: "touch ${{ params.dir }}/started-${{ raw node.name }}; until [ -e ${{ params.dir }}/go ]; do sleep 0.01; done; sleep ${{ params.marker }} & wait"}
      - {id: enable, type: test-settle, with: {key: lb}}
  - id: two
    targets: all
    steps:
      - {id: mark, type: ssh-exec, with: {command: "touch ${{ params.dir }}/two-${{ raw node.name }}"}}
`

// uniqueSleep is a sleep argument of secs and a half seconds that no other
// process has, so pgrep can find what a test started.
func uniqueSleep(secs int) string { return fmt.Sprintf("%d.5%08d", secs, time.Now().UnixNano()%1e8) }

// open lets the work step of stopPlan go on to its sleep.
func open(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func noProcesses(t *testing.T, pattern string) {
	t.Helper()
	if out, err := exec.Command("pgrep", "-f", pattern).Output(); err == nil {
		t.Errorf("processes matching %q still run: %s", pattern, out)
		for _, pid := range strings.Fields(string(out)) {
			_ = exec.Command("kill", "-KILL", pid).Run()
		}
	}
}

// TestStopMidStep: Stop while a step runs: the step is cancelled once the
// grace is over, no later step or node starts, compensation puts the node
// back, and the run ends INTERRUPTED with 130.
func TestStopMidStep(t *testing.T) {
	for _, strategy := range []string{"serial", "{parallel: 1}"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			dir, marker := t.TempDir(), uniqueSleep(30)
			open(t, dir)
			prog := enginetest.Compile(t, fmt.Sprintf(stopPlan, strategy), inventory(3), "dir="+dir, "marker="+marker)
			r := enginetest.Execute(t, prog, enginetest.Options{
				StopGrace: 200 * time.Millisecond,
				Start: func(r *run.Runner) {
					if enginetest.WaitFile(t, filepath.Join(dir, "started-n1"), 10*time.Second) {
						r.Stop()
					}
				},
			})
			if r.Result.ExitCode != exitcode.Interrupted || r.Result.Status != "INTERRUPTED" {
				t.Errorf("got %s (%d), want INTERRUPTED (130)", r.Result.Status, r.Result.ExitCode)
			}
			noProcesses(t, "sleep "+marker)
			if got, want := enginetest.Lines(t, filepath.Join(dir, "lb")), []string{"change n1", "undo n1"}; !slices.Equal(got, want) {
				t.Errorf("lb changes %q, want %q (the drained node must be put back)", got, want)
			}
			for _, f := range []string{"started-n2", "started-n3", "two-n1"} {
				if enginetest.Lines(t, filepath.Join(dir, f)) != nil {
					t.Errorf("%s exists: work started after Stop", f)
				}
			}
			for _, e := range r.Events {
				if e.Node != "" && e.Node != "n1" && e.State == journal.Started {
					t.Errorf("seq %d: %s %s on %s started after Stop", e.Seq, e.Kind, e.Step, e.Node)
				}
			}
			states := stepStates(r.Events)
			if states["n1/work"] != journal.Cancelled || states["n1/enable"] != journal.Blocked {
				t.Errorf("n1 work %q, enable %q; want cancelled, blocked", states["n1/work"], states["n1/enable"])
			}
			last := r.Events[len(r.Events)-1]
			if last.Kind != journal.KindRun || last.State != journal.Failed || last.Detail["status"] != "INTERRUPTED" {
				t.Errorf("journal ends with %s %s %v, want run failed INTERRUPTED", last.Kind, last.State, last.Detail)
			}
			row := r.Summary.Nodes[0]
			if row.Phases["one"].String() != "CANCELLED" || r.Summary.Nodes[1].Phases["one"].String() != "*" {
				t.Errorf("summary:\n%s", r.Table)
			}
			if !strings.Contains(r.Table, "n1: undo lb (compensation)") {
				t.Errorf("summary does not note the compensation:\n%s", r.Table)
			}
			if log := r.Logs["n1"]; !strings.Contains(log, "########## WORK ########## CANCELLED") || !strings.Contains(log, "undoing lb on n1") {
				t.Errorf("n1 log does not show the cancelled step and its compensation:\n%s", log)
			}
		})
	}
}

// TestStopBeforeRun: a Stop that comes before Run starts nothing.
func TestStopBeforeRun(t *testing.T) {
	dir := t.TempDir()
	prog := enginetest.Compile(t, fmt.Sprintf(stopPlan, "serial"), inventory(2), "dir="+dir, "marker="+uniqueSleep(30))
	r := enginetest.Execute(t, prog, enginetest.Options{Before: func(r *run.Runner) { r.Stop() }})
	if r.Result.ExitCode != exitcode.Interrupted {
		t.Errorf("exit %d, want 130", r.Result.ExitCode)
	}
	if enginetest.Lines(t, filepath.Join(dir, "lb")) != nil {
		t.Errorf("a step ran after Stop")
	}
}

// TestJournalUnwritable: when the journal cannot be written the run stops as
// on Stop (compensation included) and exits 80.
func TestJournalUnwritable(t *testing.T) {
	// The journal only fails when written to: close it during a step,
	// and the write that records the step's end fails. The step goes on
	// to its end (half a second) only once the journal is closed.
	dir, marker := t.TempDir(), uniqueSleep(0)
	prog := enginetest.Compile(t, fmt.Sprintf(stopPlan, "serial"), inventory(3), "dir="+dir, "marker="+marker)
	r := enginetest.Execute(t, prog, enginetest.Options{
		StopGrace: 200 * time.Millisecond,
		NoCheck:   true,
		Start: func(r *run.Runner) {
			if enginetest.WaitFile(t, filepath.Join(dir, "started-n1"), 10*time.Second) {
				_ = r.Journal.Close()
				open(t, dir)
			}
		},
	})
	if r.Result.ExitCode != exitcode.Fatal || !strings.Contains(fmt.Sprint(r.Result.Err), "journal") {
		t.Errorf("got %s (%d) %v, want FATAL_ERROR (80) naming the journal", r.Result.Status, r.Result.ExitCode, r.Result.Err)
	}
	noProcesses(t, "sleep "+marker)
	if got, want := enginetest.Lines(t, filepath.Join(dir, "lb")), []string{"change n1", "undo n1"}; !slices.Equal(got, want) {
		t.Errorf("lb changes %q, want %q", got, want)
	}
	if enginetest.Lines(t, filepath.Join(dir, "started-n2")) != nil {
		t.Errorf("n2 started after the journal failed")
	}
}
