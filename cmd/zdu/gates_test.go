package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
)

// TestGatesStopABadCanary rehearses the shipped nova plan (node-1 is its
// canary) with a bad new version on node-1: 5% of its requests failing,
// then every request 300ms slower. Each time a live gate fires during the
// canary's pause: the run stops there with the gate's exit code (82),
// node-1 is rolled back to v1, node-2 and node-3 are never touched, and,
// for the errors, every failed probe request falls between node-1's return
// to service on v2 (its enable step's start) and its rollback's drain.
func TestGatesStopABadCanary(t *testing.T) {
	t.Parallel()
	plan := filepath.Join("..", "..", "plans", "nova-api.yaml")
	// Each case turns the other gate off: on a loaded machine the p99 of a
	// canary that fails requests can rise past its bound too, and which
	// gate fires first is then a race, not what the case checks.
	for _, tc := range []struct{ fault, gate, other string }{
		{"errors:5%", "errorRate", "maxP99Increase"},
		{"latency:300ms", "latencyIncrease", "maxErrorPercent"},
	} {
		t.Run(tc.gate, func(t *testing.T) {
			t.Parallel()
			r := rehearse(t, withoutGate(t, plan, tc.other), "--nodes", "3", "--fail", "node-1:version="+tc.fault)
			if r.code != 82 || r.sum.Status != "GATE_BREACHED" {
				t.Fatalf("want exit 82 GATE_BREACHED:\n%s", r)
			}
			if r.sum.Gate == nil || !strings.HasPrefix(r.sum.Gate.Message, "gate "+tc.gate+":") || r.sum.Gate.Breach["gate"] != tc.gate {
				t.Errorf("summary gate %+v, want %s", r.sum.Gate, tc.gate)
			}
			for n, v := range map[string]string{"node-1": "v1", "node-2": "v1", "node-3": "v1"} {
				if r.versions[n] != v {
					t.Errorf("%s runs %s, want %s: %v", n, r.versions[n], v, r.versions)
				}
			}
			if c := r.sum.Nodes[0]; c.Name != "node-1" || c.Rollback.State != journal.Passed {
				t.Errorf("node-1 not rolled back: %+v", c)
			}
			ev := readJournal(t, filepath.Join(r.dir, "journal.jsonl"))
			var enabled, rolledBack time.Time
			for _, e := range ev {
				if e.Node == "node-2" || e.Node == "node-3" {
					if e.State == journal.Started {
						t.Errorf("%s was touched after the canary: %s %s %s", e.Node, e.Kind, e.Step, e.State)
					}
				}
				// Traffic reaches node-1 from its enable's first command on.
				if e.Node == "node-1" && e.Kind == journal.KindStep && e.Step == "enable.enable" && e.State == journal.Started {
					enabled = e.Time
				}
				if e.Node == "node-1" && e.Kind == journal.KindRollback && e.Step == "drain.drain" && e.State == journal.Passed {
					rolledBack = e.Time
				}
			}
			if enabled.IsZero() || rolledBack.IsZero() {
				t.Fatalf("no enable (%v) or rollback drain (%v) of node-1 in the journal", enabled, rolledBack)
			}
			if tc.gate != "errorRate" {
				return
			}
			// The probe's seconds with failures lie within the canary's time
			// in service on v2 (a second's start is up to a second before
			// the first request in it).
			failed := int64(0)
			for _, iv := range probeSeconds(t, r.dir) {
				if iv.Failed == 0 {
					continue
				}
				failed += iv.Failed
				if iv.Start.Add(probe.SeriesStep).Before(enabled) || iv.Start.After(rolledBack) {
					t.Errorf("%d probe failures in the second from %s, outside the canary's time on v2 (%s to %s)",
						iv.Failed, iv.Start.Format(time.StampMilli), enabled.Format(time.StampMilli), rolledBack.Format(time.StampMilli))
				}
			}
			if failed == 0 || failed != r.sum.Probe.Failed {
				t.Errorf("probe.jsonl has %d failures, the summary %d", failed, r.sum.Probe.Failed)
			}
		})
	}
}

// withoutGate is a copy of plan whose gates section lacks key.
func withoutGate(t *testing.T, plan, key string) string {
	t.Helper()
	doc := readPlanDoc(t, plan)
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "gates" {
			continue
		}
		g := top.Content[i+1]
		for j := 0; j+1 < len(g.Content); j += 2 {
			if g.Content[j].Value == key {
				g.Content = slices.Delete(g.Content, j, j+2)
				return writePlanCopy(t, plan, doc)
			}
		}
	}
	t.Fatalf("%s has no gates.%s", plan, key)
	return ""
}

func probeSeconds(t *testing.T, dir string) []probe.Interval {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "probe.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []probe.Interval
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var iv probe.Interval
		if err := json.Unmarshal(sc.Bytes(), &iv); err != nil {
			t.Fatal(err)
		}
		out = append(out, iv)
	}
	return out
}

// canaryPlan runs a marker step on three local nodes, the first as a canary
// that waits for an operator.
const canaryPlan = `apiVersion: zdu/v1
name: canary
params:
  dir: {type: string}
phases:
  - id: roll
    targets: all
    strategy: serial
    canary: {nodes: 1, approve: true, timeout: 5m}
    steps:
      - id: mark
        type: ssh-exec
        with: {command: "touch ${{ params.dir }}/${{ node.name }}"}
`

// TestApproveAndAbortFromAnotherTerminal: a run whose canary waits for an
// operator is decided by zdu approve (the rest go on, the run passes, the
// summary says who) or zdu abort (the run stops there, exit 83), each run
// as a process of its own beside the waiting run.
func TestApproveAndAbortFromAnotherTerminal(t *testing.T) {
	for _, decision := range []string{"approve", "abort"} {
		t.Run(decision, func(t *testing.T) {
			dir := t.TempDir()
			plan, inv, marks := filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "inv.yaml"), filepath.Join(dir, "marks")
			for p, text := range map[string]string{plan: canaryPlan,
				inv: "apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes: [{name: a}, {name: b}, {name: c}]\n"} {
				if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Mkdir(marks, 0o700); err != nil {
				t.Fatal(err)
			}
			runDir := filepath.Join(dir, "run")
			// Before the run waits, a decision is refused.
			if code, _, errOut := zduProcess(t, decision, runDir); code != 2 {
				t.Errorf("zdu %s before the run: exit %d, want 2\n%s", decision, code, errOut)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, zduBinary(t), "run", plan, "-i", inv, "--set", "dir="+marks, "--run-dir", runDir, "--log-format", "json")
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			waitUntil(t, "the canary to wait for an operator", func() bool {
				for _, e := range readJournalIfAny(filepath.Join(runDir, "journal.jsonl")) {
					if e.Kind == journal.KindCanary && e.State == journal.Waiting {
						return true
					}
				}
				return false
			})
			if exists(filepath.Join(marks, "b")) || !exists(filepath.Join(marks, "a")) {
				t.Errorf("while the canary waits: a marked %v, b marked %v; want only the canary a", exists(filepath.Join(marks, "a")), exists(filepath.Join(marks, "b")))
			}
			code, stdout, errOut := zduProcess(t, decision, runDir)
			if code != 0 || !strings.Contains(stdout, decision[:4]) {
				t.Fatalf("zdu %s: exit %d\n%s%s", decision, code, stdout, errOut)
			}
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				t.Fatal("the run did not go on after the decision")
			}
			sum, _ := os.ReadFile(filepath.Join(runDir, "summary.txt"))
			switch decision {
			case "approve":
				if c := cmd.ProcessState.ExitCode(); c != 0 || !exists(filepath.Join(marks, "c")) {
					t.Errorf("approved: exit %d, c marked %v\n%s", c, exists(filepath.Join(marks, "c")), errb.String())
				}
				if !strings.Contains(string(sum), "canary of phase roll: PASSED by ") {
					t.Errorf("the summary does not say who approved:\n%s", sum)
				}
			case "abort":
				if c := cmd.ProcessState.ExitCode(); c != 83 || exists(filepath.Join(marks, "b")) || exists(filepath.Join(marks, "c")) {
					t.Errorf("aborted: exit %d (want 83), b marked %v, c marked %v\n%s", c, exists(filepath.Join(marks, "b")), exists(filepath.Join(marks, "c")), errb.String())
				}
				if !strings.Contains(string(sum), "ABORTED") {
					t.Errorf("the summary does not say it was aborted:\n%s", sum)
				}
			}
		})
	}
}

func readJournalIfAny(path string) []journal.Event {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	ev, _ := journal.Read(f)
	return ev
}
