package run_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// rollbackPlan drains each node (a compensation), applies (failing on
// failnode with 100), and enables it (settling the compensation). A
// rollback-on rule with the given scope matches failures in the phase named
// by rollphase. Everything appends to DIR/ran, so the order is measured.
const rollbackPlan = `apiVersion: zdu/v1
name: rollback
rollbackExitCode: 75
params:
  dir: {type: string, required: true}
  failnode: {type: string, default: none}
  rollphase: {type: string, default: apply}
  rbfail: {type: bool, default: false}
phases:
  - id: apply
    title: APPLY
    targets: all
    exitCode: 73
    steps:
      - id: arm
        type: rollback-on
        when: failure.phase == params.rollphase && failure.exitCode == 100 && failure.message contains "broken"
        with: {rollback: restore, scope: %s}
      - {id: drain, type: test-undo, with: {key: lb, file: "${{ params.dir }}/ran"}}
      - id: do
        type: ssh-exec
        with: {command: "echo apply ${{ node.name }} >> ${{ params.dir }}/ran; test ${{ node.name }} != ${{ params.failnode }} || { echo broken >&2; exit 100; }"}
      - {id: enable, type: test-settle, with: {key: lb}}
rollbacks:
  restore:
    - id: restore
      type: ssh-exec
      with: {command: "echo rollback ${{ node.name }} >> ${{ params.dir }}/ran; ${{ raw params.rbfail ? 'exit 7' : 'true' }}"}
`

func TestRollbackOn(t *testing.T) {
	tests := []struct {
		name, scope string
		sets        []string
		wantRan     []string
		wantExit    int
		wantStatus  string
		wantRB      map[string]string // ROLLBACK column per node
	}{
		{
			name: "node scope: only the failing node", scope: "node", sets: []string{"failnode=n3"},
			wantRan:  []string{"change n1", "apply n1", "change n2", "apply n2", "change n3", "apply n3", "rollback n3", "undo n3"},
			wantExit: 73, wantStatus: "APPLY_FAILED",
			wantRB: map[string]string{"n1": "*", "n2": "*", "n3": "PASSED (0)"},
		},
		{
			name: "changed scope: every node that armed the rule, newest first", scope: "changed", sets: []string{"failnode=n3"},
			wantRan:  []string{"change n1", "apply n1", "change n2", "apply n2", "change n3", "apply n3", "rollback n3", "undo n3", "rollback n2", "rollback n1"},
			wantExit: 73, wantStatus: "APPLY_FAILED",
			wantRB: map[string]string{"n1": "PASSED (0)", "n2": "PASSED (0)", "n3": "PASSED (0)"},
		},
		{
			name: "changed scope: a node that never armed the rule is not rolled back", scope: "changed", sets: []string{"failnode=n2"},
			wantRan:  []string{"change n1", "apply n1", "change n2", "apply n2", "rollback n2", "undo n2", "rollback n1"},
			wantExit: 73, wantStatus: "APPLY_FAILED",
			wantRB: map[string]string{"n1": "PASSED (0)", "n2": "PASSED (0)", "n3": "*"},
		},
		{
			name: "failed rollback", scope: "node", sets: []string{"failnode=n3", "rbfail=true"},
			wantRan:  []string{"change n1", "apply n1", "change n2", "apply n2", "change n3", "apply n3", "rollback n3", "undo n3"},
			wantExit: 75, wantStatus: "ROLLBACK_FAILED",
			wantRB: map[string]string{"n1": "*", "n2": "*", "n3": "FAILED (7)"},
		},
		{
			name: "a rule whose when does not match does nothing", scope: "changed", sets: []string{"failnode=n3", "rollphase=other"},
			wantRan:  []string{"change n1", "apply n1", "change n2", "apply n2", "change n3", "apply n3", "undo n3"},
			wantExit: 73, wantStatus: "APPLY_FAILED",
			wantRB: map[string]string{"n1": "*", "n2": "*", "n3": "*"},
		},
		{
			name: "no failure: compensations settled, nothing rolled back", scope: "changed",
			wantRan:  []string{"change n1", "apply n1", "change n2", "apply n2", "change n3", "apply n3"},
			wantExit: 0, wantStatus: "SUCCESS",
			wantRB: map[string]string{"n1": "*", "n2": "*", "n3": "*"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			prog := enginetest.Compile(t, fmt.Sprintf(rollbackPlan, tt.scope), inventory(3), append(tt.sets, "dir="+dir)...)
			r := enginetest.Execute(t, prog, enginetest.Options{})
			if r.Result.ExitCode != tt.wantExit || r.Result.Status != tt.wantStatus {
				t.Errorf("got %s (%d), want %s (%d): %v", r.Result.Status, r.Result.ExitCode, tt.wantStatus, tt.wantExit, r.Result.Err)
			}
			if got := enginetest.Lines(t, filepath.Join(dir, "ran")); !slices.Equal(got, tt.wantRan) {
				t.Errorf("ran:\n got %q\nwant %q", got, tt.wantRan)
			}
			if !strings.Contains(r.Table, "Status."+tt.wantStatus) || !strings.Contains(r.Table, "| ROLLBACK") {
				t.Errorf("table lacks the status or the ROLLBACK column:\n%s", r.Table)
			}
			for _, row := range r.Summary.Nodes {
				if got := row.Rollback.String(); got != tt.wantRB[row.Name] {
					t.Errorf("%s ROLLBACK %s, want %s\n%s", row.Name, got, tt.wantRB[row.Name], r.Table)
				}
				rolled := strings.Contains(r.Logs[row.Name], "########## ROLLBACK_RESTORE ##########")
				if rolled != (tt.wantRB[row.Name] != "*") {
					t.Errorf("%s log shows a rollback: %v, want %v:\n%s", row.Name, rolled, !rolled, r.Logs[row.Name])
				}
				undone := strings.Contains(r.Logs[row.Name], "undoing lb on "+row.Name)
				if want := slices.Contains(tt.wantRan, "undo "+row.Name); undone != want {
					t.Errorf("%s log shows the compensation: %v, want %v", row.Name, undone, want)
				}
			}
		})
	}
}

// TestRollbackRegisters: a rollback's step can read what an earlier step of
// the same rollback registered, and a skipped step registers no value (a
// later read of its output fails that step instead of reading "").
func TestRollbackRegisters(t *testing.T) {
	const plan = `apiVersion: zdu/v1
name: rollback-register
params:
  dir: {type: string, required: true}
phases:
  - id: apply
    targets: all
    steps:
      - {id: arm, type: rollback-on, with: {rollback: restore}}
      - {id: boom, type: ssh-exec, with: {command: "false"}}
rollbacks:
  restore:
    - id: read
      type: ssh-exec
      register: old
      with: {command: "echo v1"}
    - id: use
      type: ssh-exec
      with: {command: "echo restored ${{ trim(results.old.stdout) }} in ${{ phase.id }} >> ${{ params.dir }}/ran"}
    - id: never
      type: ssh-exec
      when: "false"
      register: skipped
      with: {command: "true"}
    - id: after
      type: ssh-exec
      with: {command: "echo ${{ results.skipped.ok }} ${{ results.skipped.skipped }} >> ${{ params.dir }}/ran"}
`
	dir := t.TempDir()
	r := enginetest.Execute(t, enginetest.Compile(t, plan, inventory(1), "dir="+dir), enginetest.Options{})
	if got, want := enginetest.Lines(t, filepath.Join(dir, "ran")), []string{"restored v1 in apply", "false true"}; !slices.Equal(got, want) {
		t.Errorf("ran %q, want %q\n%s", got, want, r.Table)
	}
	if got := r.Summary.Nodes[0].Rollback.String(); got != "PASSED (0)" {
		t.Errorf("ROLLBACK %s:\n%s", got, r.Table)
	}
}

// TestNilValueFailsOnceWithoutRetry: reading the output of a step that was
// skipped has no value; the step fails naming the expression, at its first
// attempt, whatever its retries (a value that cannot render never will).
func TestNilValueFailsOnceWithoutRetry(t *testing.T) {
	const plan = `apiVersion: zdu/v1
name: nil-no-retry
phases:
  - id: apply
    targets: all
    exitCode: 73
    steps:
      - {id: maybe, type: ssh-exec, when: "false", register: out, with: {command: "echo v2"}}
      - {id: use, type: ssh-exec, retries: {count: 3, delay: 10ms}, with: {command: "echo ${{ results.out.stdout }}"}}
`
	r := enginetest.Execute(t, enginetest.Compile(t, plan, inventory(1)), enginetest.Options{})
	if r.Result.ExitCode != 73 || !strings.Contains(r.Result.Err.Error(), "${{ results.out.stdout }} has no value") {
		t.Fatalf("got %d: %v", r.Result.ExitCode, r.Result.Err)
	}
	attempts := 0
	for _, e := range r.Events {
		if e.Step == "use" && e.State == "started" {
			attempts++
		}
	}
	if attempts != 1 {
		t.Errorf("%d attempts, want 1", attempts)
	}
}

// TestFailedRollbackKeepsNodeOut: on a rehearsal sandbox with a real
// HAProxy, Node-B's apply fails and so does its rollback (its old node
// manager does not start): Node-A, rolled back, is put back in service;
// Node-B stays drained in HAProxy, the run exits with the plan's
// rollbackExitCode and the summary says Node-B is still out of service.
func TestFailedRollbackKeepsNodeOut(t *testing.T) {
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	prog, dial, s := onSandbox(t, "axway-7.7", "axway-7.7.inventory.yaml", 0, "Node-B:apply,Node-B:nodemanager-d")
	r := enginetest.Execute(t, prog, enginetest.Options{Dial: dial})
	if r.Result.ExitCode != 75 || r.Result.Status != "ROLLBACK_FAILED" {
		t.Fatalf("got %s (%d), want ROLLBACK_FAILED (75): %v\n%s", r.Result.Status, r.Result.ExitCode, r.Result.Err, r.Table)
	}
	lb := prog.Binding.Inv.LBs["gateway"]
	for _, tc := range []struct {
		node    string
		drained bool
	}{{"Node-A", false}, {"Node-B", true}} {
		admin, _, err := s.HAProxy.Client().ServerState(context.Background(), lb.Backend, lb.Server(tc.node))
		if err != nil || admin.Drained() != tc.drained {
			t.Errorf("%s in HAProxy: admin state %d (%v), want drained %v", tc.node, admin, err, tc.drained)
		}
	}
	for _, row := range r.Summary.Nodes {
		out := len(row.OutOfService) > 0
		if out != (row.Name == "Node-B") {
			t.Errorf("%s out of service in the summary: %v %q", row.Name, out, row.OutOfService)
		}
	}
	if !strings.Contains(r.Table, "STILL OUT OF SERVICE") {
		t.Errorf("the table does not say Node-B is still out of service:\n%s", r.Table)
	}
}

// TestFailedRollbackReenableIfHealthy: with reenableIfHealthy, a node whose
// rollback failed is put back only when its health URL answers 200. The
// load balancer is the command driver over files, so its state is seen.
func TestFailedRollbackReenableIfHealthy(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer healthy.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer sick.Close()
	run.ReenableTimeout = 2 * time.Second
	for _, tc := range []struct {
		name, health string
		wantDrained  bool
	}{
		{"no health check: stays out", "", true},
		{"healthy: put back", healthy.URL, false},
		{"unhealthy: stays out", sick.URL, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			reenable := ""
			if tc.health != "" {
				reenable = ", reenableIfHealthy: " + tc.health
			}
			plan := `apiVersion: zdu/v1
name: failed-rollback
rollbackExitCode: 75
phases:
  - id: apply
    targets: all
    exitCode: 73
    steps:
      - {id: arm, type: rollback-on, with: {rollback: restore` + reenable + `}}
      - {id: drain, type: lb-drain, with: {lb: web}}
      - {id: apply, type: ssh-exec, with: {command: "false"}}
      - {id: enable, type: lb-enable, with: {lb: web}}
rollbacks:
  restore:
    - {id: restore, type: ssh-exec, with: {command: "exit 9"}}
`
			inv := `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes: [{name: n1}]
loadBalancers:
  web:
    driver: command
    commands:
      disable: touch ` + dir + `/drained-$ZDU_NODE
      enable: rm -f ` + dir + `/drained-$ZDU_NODE
      status: test -e ` + dir + `/drained-$ZDU_NODE || test "$ZDU_EXPECT" = enabled
`
			r := enginetest.Execute(t, enginetest.Compile(t, plan, inv), enginetest.Options{})
			if r.Result.ExitCode != 75 {
				t.Fatalf("exit %d, want 75: %v", r.Result.ExitCode, r.Result.Err)
			}
			_, err := os.Stat(filepath.Join(dir, "drained-n1"))
			if drained := err == nil; drained != tc.wantDrained {
				t.Errorf("n1 drained after the run: %v, want %v\n%s", drained, tc.wantDrained, r.Table)
			}
		})
	}
}
