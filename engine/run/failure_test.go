package run_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/enginetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under engine/testdata")

// seedPlan has the seed's five phases and exit codes; every step appends
// "PHASE NODE" to DIR/ran, and the upgrade fails on FAILNODE with code 100.
const seedPlan = `apiVersion: zdu/v1
name: seed
params:
  dir: {type: string, required: true}
  failnode: {type: string, default: none}
phases:
  - {id: export, title: EXPORT, targets: all, exitCode: 70, steps: [{id: export, type: ssh-exec, with: {command: "echo export ${{ node.name }} >> ${{ params.dir }}/ran"}}]}
  - id: upgrade
    title: UPGRADE
    targets: all
    exitCode: 71
    steps:
      - id: upgrade
        type: ssh-exec
        with: {command: "echo upgrade ${{ node.name }} >> ${{ params.dir }}/ran; test ${{ node.name }} != ${{ params.failnode }} || { echo 'sysupgrade: upgrade failed' >&2; exit 100; }"}
  - {id: pre_apply, title: PRE-APPLY, targets: all, exitCode: 72, steps: [{id: pre, type: ssh-exec, with: {command: "echo pre_apply ${{ node.name }} >> ${{ params.dir }}/ran"}}]}
  - {id: apply, title: APPLY, targets: all, exitCode: 73, steps: [{id: apply, type: ssh-exec, with: {command: "echo apply ${{ node.name }} >> ${{ params.dir }}/ran"}}]}
  - {id: post_apply, title: POST-APPLY, targets: all, exitCode: 74, steps: [{id: post, type: ssh-exec, with: {command: "echo post_apply ${{ node.name }} >> ${{ params.dir }}/ran"}}]}
`

const seedInventory = `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes:
  - {name: Node-A}
  - {name: Node-B}
  - {name: Node-C}
`

// TestSummaryThirdNodeFails is the seed's failed example: Node-C fails the
// upgrade, no later phase runs for anyone, the table shows * there, and zdu
// exits with the upgrade phase's code.
func TestSummaryThirdNodeFails(t *testing.T) {
	dir := t.TempDir()
	prog := enginetest.Compile(t, seedPlan, seedInventory, "dir="+dir, "failnode=Node-C")
	r := enginetest.Execute(t, prog, enginetest.Options{})
	if r.Result.ExitCode != 71 || r.Result.Status != "UPGRADE_FAILED" {
		t.Errorf("got %s (%d), want UPGRADE_FAILED (71)", r.Result.Status, r.Result.ExitCode)
	}
	want := []string{"export Node-A", "export Node-B", "export Node-C", "upgrade Node-A", "upgrade Node-B", "upgrade Node-C"}
	if got := enginetest.Lines(t, filepath.Join(dir, "ran")); !slices.Equal(got, want) {
		t.Errorf("ran %q, want %q (no later phase may run)", got, want)
	}
	golden(t, "summary-third-node-fails.golden", r.Table)
	log := r.Logs["Node-C"]
	for _, w := range []string{"########## UPGRADE ##########", "sysupgrade: upgrade failed", "exit code 100", "########## UPGRADE ########## FAILED"} {
		if !strings.Contains(log, w) {
			t.Errorf("Node-C log lacks %q:\n%s", w, log)
		}
	}
	if strings.Contains(r.Logs["Node-A"], "PRE") {
		t.Errorf("Node-A log shows a later phase:\n%s", r.Logs["Node-A"])
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	enginetest.Golden(t, filepath.Join("..", "testdata", name), got, *update)
}

func TestFailureBudget(t *testing.T) {
	plan := `apiVersion: zdu/v1
name: budget
params:
  dir: {type: string, required: true}
  fail: {type: list, default: []}
phases:
  - id: one
    targets: all
    exitCode: 70
    maxFailures: 1
    steps:
      - id: work
        type: ssh-exec
        with: {command: "echo one ${{ node.name }} >> ${{ params.dir }}/ran; ${{ raw node.name in params.fail ? 'exit 5' : 'true' }}"}
  - id: two
    targets: all
    exitCode: 71
    steps:
      - id: work
        type: ssh-exec
        with: {command: "echo two ${{ node.name }} >> ${{ params.dir }}/ran"}
`
	tests := []struct {
		name     string
		fail     string
		wantRan  []string
		wantExit int
		wantRows map[string]string // node -> "ONE | TWO"
	}{
		{
			name:    "one failure within budget: the phase and the plan go on, the failed node is blocked later",
			fail:    "n1",
			wantRan: []string{"one n1", "one n2", "one n3", "two n2", "two n3"},
			// A node failed: the run is not a success even though the plan went on.
			wantExit: 70,
			wantRows: map[string]string{"n1": "FAILED (5) | BLOCKED", "n2": "PASSED (0) | PASSED (0)", "n3": "PASSED (0) | PASSED (0)"},
		},
		{
			name:     "two failures exceed the budget: the phase stops",
			fail:     "n1,n2",
			wantRan:  []string{"one n1", "one n2"},
			wantExit: 70,
			wantRows: map[string]string{"n1": "FAILED (5) | *", "n2": "FAILED (5) | *", "n3": "* | *"},
		},
		{
			name:     "no failure",
			fail:     "",
			wantRan:  []string{"one n1", "one n2", "one n3", "two n1", "two n2", "two n3"},
			wantExit: 0,
			wantRows: map[string]string{"n1": "PASSED (0) | PASSED (0)", "n2": "PASSED (0) | PASSED (0)", "n3": "PASSED (0) | PASSED (0)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			prog := enginetest.Compile(t, plan, inventory(3), "dir="+dir, "fail="+tt.fail)
			r := enginetest.Execute(t, prog, enginetest.Options{})
			if r.Result.ExitCode != tt.wantExit {
				t.Errorf("exit %d (%s), want %d", r.Result.ExitCode, r.Result.Status, tt.wantExit)
			}
			if got := enginetest.Lines(t, filepath.Join(dir, "ran")); !slices.Equal(got, tt.wantRan) {
				t.Errorf("ran %q, want %q", got, tt.wantRan)
			}
			for _, row := range r.Summary.Nodes {
				got := fmt.Sprintf("%s | %s", row.Phases["one"], row.Phases["two"])
				if got != tt.wantRows[row.Name] {
					t.Errorf("%s: %s, want %s", row.Name, got, tt.wantRows[row.Name])
				}
				if !strings.Contains(r.Table, "| "+row.Name) {
					t.Errorf("table lacks row %s", row.Name)
				}
			}
		})
	}
}
