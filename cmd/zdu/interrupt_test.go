package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/summary"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// interruptPlan drains each node, then waits on it for a file that never
// comes (a step in flight), then enables it.
const interruptPlan = `apiVersion: zdu/v1
name: interrupts
params:
  dir: {type: string, required: true}
phases:
  - id: roll
    targets: all
    steps:
      - {id: drain, type: lb-drain, with: {lb: web, polls: 1, interval: 100ms}}
      - id: work
        type: ssh-exec
        with: {command: "touch ${{ params.dir }}/started-${{ node.name }}; while [ ! -e ${{ params.dir }}/never ]; do sleep 0.1; done"}
      - {id: enable, type: lb-enable, with: {lb: web}}
`

// fault is one way an operator's zdu gets interrupted.
type fault struct {
	name string
	// pipe runs zdu as `zdu ... 2>&1 | head -n 1` (bash, pipefail: the exit
	// status is zdu's); otherwise signals are sent once the first node is
	// at work.
	pipe    bool
	signals []syscall.Signal
	reason  string // the journal's run stopping reason
}

var faults = []fault{
	{name: "SIGHUP", signals: []syscall.Signal{syscall.SIGHUP}, reason: "SIGHUP"},
	{name: "SIGTERM", signals: []syscall.Signal{syscall.SIGTERM}, reason: "SIGTERM"},
	{name: "closed pipe", pipe: true, reason: "was closed"},
	{name: "SIGINT twice", signals: []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, reason: "SIGINT"},
}

// interrupted runs zdu as a process with args, brings fault once ready
// reports true (polled), and returns its exit code and output.
func interrupted(t *testing.T, f fault, ready func() bool, args ...string) (int, string) {
	t.Helper()
	bin := zduBinary(t)
	var cmd *exec.Cmd
	var out bytes.Buffer
	if f.pipe {
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		cmd = exec.Command("bash", "-c", "set -o pipefail; '"+bin+"' "+strings.Join(quoted, " ")+" 2>&1 | head -n 1")
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if !f.pipe {
		deadline := time.Now().Add(90 * time.Second)
		for !ready() {
			select {
			case err := <-exited:
				t.Fatalf("zdu ended (%v) before the fault:\n%s", err, out.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("zdu never got ready for the fault:\n%s", out.String())
			}
		}
		for i, s := range f.signals {
			if i > 0 {
				time.Sleep(200 * time.Millisecond)
			}
			cmd.Process.Signal(s)
		}
	}
	select {
	case <-exited:
	case <-time.After(120 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("zdu did not end after %s:\n%s", f.name, out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// TestRunInterrupted: SIGHUP, SIGTERM, a closed pipe (| head -n 1) and
// SIGINT twice all stop `zdu run` the same way: exit 130, the reason
// journaled, a summary written, and the drained node put back in a real
// HAProxy (none left drained).
func TestRunInterrupted(t *testing.T) {
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			dir := t.TempDir()
			var backends []*loopback.Backend
			for _, n := range []string{"n1", "n2"} {
				b, err := loopback.NewBackend(n, "v1")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				backends = append(backends, b)
			}
			h := lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: backends})
			plan, inv := filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "inventory.yaml")
			os.WriteFile(plan, []byte(interruptPlan), 0o600)
			os.WriteFile(inv, []byte(fmt.Sprintf(`apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes: [{name: n1}, {name: n2}]
loadBalancers:
  web:
    driver: haproxy
    backend: %s
    instances: [{name: h, socket: %s}]
`, h.Backend, h.Socket)), 0o600)
			runDir := filepath.Join(dir, "run")
			code, out := interrupted(t, f, func() bool { return exists(filepath.Join(dir, "started-n1")) },
				"run", plan, "-i", inv, "--set", "dir="+dir, "--run-dir", runDir, "--state", filepath.Join(dir, "state"),
				"--stop-grace", "2s", "--log-format", "json")
			if code != 130 {
				t.Errorf("exit %d, want 130:\n%s", code, out)
			}
			checkStoppedRun(t, runDir, f.reason)
			for _, n := range []string{"n1", "n2"} {
				admin, _, err := h.Client().ServerState(context.Background(), h.Backend, n)
				if err != nil || admin.Drained() {
					t.Errorf("%s is left drained in HAProxy (admin state %d, %v)", n, admin, err)
				}
			}
			if exists(filepath.Join(dir, "started-n2")) {
				t.Error("n2 started after the run was told to stop")
			}
		})
	}
}

// TestRehearseInterrupted: the same faults stop `zdu rehearse`: exit 130,
// a summary, node-1 put back if it was drained, and the sandbox torn down:
// no process and no directory of it left.
func TestRehearseInterrupted(t *testing.T) {
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	plan := filepath.Join("..", "..", "plans", "nova-api.yaml")
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			dir := t.TempDir()
			runDir := filepath.Join(dir, "run")
			// zdu makes its sandbox in TMPDIR: one of its own, so that
			// sandboxes of other tests or processes running meanwhile
			// (engine/sandbox's, under go test ./...) are not taken for
			// one left behind. A short path: HAProxy's sockets live there.
			tmp, err := os.MkdirTemp("", "zdu-ri-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(tmp) })
			t.Setenv("TMPDIR", tmp)
			before := sandboxDirs()
			code, out := interrupted(t, f, func() bool { return drained(filepath.Join(runDir, "journal.jsonl"), "node-1") },
				"rehearse", plan, "--nodes", "2", "--run-dir", runDir, "--state", filepath.Join(dir, "state"),
				"--stop-grace", "5s", "--log-format", "json")
			if code != 130 {
				t.Errorf("exit %d, want 130:\n%s", code, out)
			}
			checkStoppedRun(t, runDir, f.reason)
			for d := range sandboxDirs() {
				if !before[d] {
					t.Errorf("the sandbox directory %s is left behind", d)
				}
			}
			if exists(filepath.Join(runDir, "sandbox-inventory.yaml")) {
				checkTornDown(t, filepath.Join(runDir, "sandbox-inventory.yaml"))
			}
		})
	}
}

// checkStoppedRun: the run's journal says why it stopped and that every
// node drained was put back; the summary says INTERRUPTED.
func checkStoppedRun(t *testing.T, runDir, reason string) {
	t.Helper()
	events := readJournal(t, filepath.Join(runDir, "journal.jsonl"))
	stopping, drainedNodes, putBack := false, map[string]bool{}, map[string]bool{}
	for _, e := range events {
		switch {
		case e.Kind == journal.KindRun && e.State == journal.Stopping:
			why, _ := e.Detail["reason"].(string)
			stopping = stopping || strings.Contains(why, reason)
		case e.Kind == journal.KindStep && e.Step == "drain.drain" && e.State == journal.Passed:
			drainedNodes[e.Node] = true
		case e.Kind == journal.KindUndo && e.State == journal.Passed:
			putBack[e.Node] = true
		}
	}
	if !stopping {
		t.Errorf("the journal does not say the run stopped for %q", reason)
	}
	for n := range drainedNodes {
		if !putBack[n] {
			t.Errorf("%s was drained and never put back", n)
		}
	}
	b, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err != nil {
		t.Fatalf("no summary: %v", err)
	}
	var s summary.Summary
	if err := json.Unmarshal(b, &s); err != nil || s.Status != "INTERRUPTED" {
		t.Errorf("summary status %q (%v), want INTERRUPTED", s.Status, err)
	}
}

func readJournal(t *testing.T, path string) []journal.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := journal.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// sandboxDirs lists the rehearsal sandboxes' directories present now in
// os.TempDir (TMPDIR).
func sandboxDirs() map[string]bool {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "zdu-sandbox-*"))
	out := map[string]bool{}
	for _, d := range dirs {
		out[d] = true
	}
	return out
}
