package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zdu-dev/zdu/engine/journal"
)

// resumeCmdPlan: two steps per node, appending to DIR/ran, with a secret
// param that only the second step uses.
const resumeCmdPlan = `apiVersion: zdu/v1
name: resume-cmd
params:
  dir: {type: string, required: true}
  token: {type: string, secret: true, required: true}
phases:
  - id: work
    targets: all
    strategy: serial
    steps:
      - {id: one, type: ssh-exec, with: {command: "echo one ${{ node.name }} >> ${{ params.dir }}/ran"}}
      - {id: two, type: ssh-exec, with: {command: "test ${{ params.token }} = s3cret && echo two ${{ node.name }} >> ${{ params.dir }}/ran"}}
`

// crashRun is a run whose process was SIGKILLed after its first step end.
type crashRun struct {
	dir, plan, inv, state, runDir string
}

func newCrashRun(t *testing.T) *crashRun {
	t.Helper()
	c := &crashRun{dir: t.TempDir()}
	c.plan, c.inv = filepath.Join(c.dir, "plan.yaml"), filepath.Join(c.dir, "inventory.yaml")
	c.state, c.runDir = filepath.Join(c.dir, "state"), filepath.Join(c.dir, "run")
	os.WriteFile(c.plan, []byte(resumeCmdPlan), 0o600)
	os.WriteFile(c.inv, []byte("apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes: [{name: a}, {name: b}]\n"), 0o600)
	code, killed, out := c.zdu(t, []string{"ZDU_FAULT_KILL_AFTER=1"}, "run", c.plan, "-i", c.inv, "--set", "dir="+c.dir,
		"--set", "token=s3cret", "--run-dir", c.runDir)
	if !killed {
		t.Fatalf("the run was not killed: exit %d\n%s", code, out)
	}
	return c
}

func (c *crashRun) zdu(t *testing.T, env []string, args ...string) (code int, killed bool, out string) {
	t.Helper()
	cmd := exec.Command(zduBinary(t), append(args, "--state", c.state)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil // not a terminal: nobody to ask
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	_ = cmd.Run()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return cmd.ProcessState.ExitCode(), ws.Signaled() && ws.Signal() == syscall.SIGKILL, b.String()
}

func (c *crashRun) ran(t *testing.T) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "ran"))
	return strings.TrimSpace(string(b))
}

func (c *crashRun) id(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(c.runDir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ev, err := journal.Read(f)
	if err != nil || len(ev) == 0 {
		t.Fatalf("journal: %v", err)
	}
	return ev[0].Run
}

// TestStaleLockAndUnlock: a run killed outright keeps its nodes: another
// run on them is refused (exit 3), saying the holder died and what to do;
// zdu status says it stopped without ending; zdu unlock refuses a run it
// does not know and releases the dead run's nodes, after which a new run
// goes ahead.
func TestStaleLockAndUnlock(t *testing.T) {
	c := newCrashRun(t)
	id := c.id(t)
	code, _, out := c.zdu(t, nil, "run", c.plan, "-i", c.inv, "--set", "dir="+c.dir, "--set", "token=s3cret",
		"--run-dir", filepath.Join(c.dir, "second"))
	for _, want := range []string{"stopped without finishing", "zdu resume " + id, "zdu unlock " + id} {
		if code != 3 || !strings.Contains(out, want) {
			t.Errorf("a run on the dead run's nodes: exit %d, want 3 saying %q:\n%s", code, want, out)
		}
	}
	code, _, out = c.zdu(t, nil, "status", id, "--format", "json")
	var st struct{ State string }
	if json.Unmarshal([]byte(out), &st) != nil || code != 0 || !strings.HasPrefix(st.State, "stopped without ending") {
		t.Errorf("zdu status of the dead run: exit %d:\n%s", code, out)
	}
	if code, _, out = c.zdu(t, nil, "unlock", "no-such-run"); code != exitBadInput {
		t.Errorf("unlock of an unknown run: exit %d:\n%s", code, out)
	}
	if code, _, out = c.zdu(t, nil, "unlock", id); code != 0 || !strings.Contains(out, "released 2 node(s)") {
		t.Fatalf("unlock: exit %d:\n%s", code, out)
	}
	code, _, out = c.zdu(t, nil, "run", c.plan, "-i", c.inv, "--set", "dir="+c.dir, "--set", "token=s3cret",
		"--run-dir", filepath.Join(c.dir, "third"))
	if code != 0 {
		t.Errorf("a run after the unlock: exit %d:\n%s", code, out)
	}
}

// TestResumeChecks: resume asks for the secret again (refusing a missing
// or wrong one), refuses a plan changed since the run started unless told
// --accept-changes, goes on from where the process died, and says there is
// nothing to do for a run that passed.
func TestResumeChecks(t *testing.T) {
	c := newCrashRun(t)
	if got := c.ran(t); got != "one a" {
		t.Fatalf("the first process ran %q", got)
	}
	raw, _ := os.ReadFile(filepath.Join(c.runDir, "run.json"))
	if strings.Contains(string(raw), "s3cret") {
		t.Errorf("run.json holds the secret:\n%s", raw)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "the secret param token is not recorded: give it again with --set token=VALUE"},
		{[]string{"--set", "token=wrong"}, "--set token: not the value the run started with"},
		{[]string{"--set", "token=s3cret", "--set", "dir=/elsewhere"}, "--set dir: zdu resume takes again only the run's secret params"},
	} {
		code, _, out := c.zdu(t, nil, append([]string{"resume", c.runDir}, tc.args...)...)
		if code != exitBadInput || !strings.Contains(out, tc.want) || strings.Contains(out, "s3cret") {
			t.Errorf("resume %v: exit %d, want 2 saying %q:\n%s", tc.args, code, tc.want, out)
		}
	}
	// The plan changes: refused, naming the file, unless --accept-changes.
	os.WriteFile(c.plan, []byte(strings.Replace(resumeCmdPlan, "echo one", "echo ONE", 1)), 0o600)
	code, _, out := c.zdu(t, nil, "resume", c.runDir, "--set", "token=s3cret")
	if code != exitBadInput || !strings.Contains(out, c.plan) || !strings.Contains(out, "--accept-changes") {
		t.Errorf("resume after the plan changed: exit %d:\n%s", code, out)
	}
	if got := c.ran(t); got != "one a" {
		t.Errorf("refused resumptions ran %q", got)
	}
	code, _, out = c.zdu(t, nil, "resume", c.runDir, "--set", "token=s3cret", "--accept-changes")
	if code != 0 {
		t.Fatalf("resume --accept-changes: exit %d:\n%s", code, out)
	}
	// a's first step is not run again; the rest runs with the changed plan.
	if got, want := c.ran(t), "one a\ntwo a\nONE b\ntwo b"; got != want {
		t.Errorf("ran:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("the secret shows in the output:\n%s", out)
	}
	code, _, out = c.zdu(t, nil, "resume", c.runDir, "--set", "token=s3cret", "--accept-changes")
	if code != 0 || !strings.Contains(out, "nothing to resume") {
		t.Errorf("resume of a run that passed: exit %d:\n%s", code, out)
	}
}
