package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const faultPlan = `apiVersion: zdu/v1
name: ssh-fault
params:
  dir: {type: string}
phases:
  - id: work
    targets: all
    exitCode: 71
    steps:
      - id: long
        type: ssh-exec
        timeout: 60s
        retries: %s
        with: {command: "touch ${{ params.dir }}/started.$$; until [ -e ${{ params.dir }}/killed ]; do sleep 0.02; done; touch ${{ params.dir }}/done"}
`

// runWithKilledSSHD kills the node's sshd while the step runs, restarts it on
// the same port, and returns zdu's exit code and output. The step cannot end
// before that: it waits for the file the test writes once sshd is back.
func runWithKilledSSHD(t *testing.T, retries string) (int, string, string) {
	inv, servers := startNodes(t, 1, true)
	base, err := os.MkdirTemp("", "zdu-ssh-fault-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o777)
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	os.WriteFile(plan, []byte(fmt.Sprintf(faultPlan, retries)), 0o600)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- dispatch(context.Background(), []string{"run", plan, "-i", inv, "--set", "dir=" + base,
			"--run-dir", filepath.Join(t.TempDir(), "run"), "--log-format", "json"}, &out, &errb)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(base, "started.*")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the step never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	servers[0].Kill()
	servers[0].Restart()
	if err := os.WriteFile(filepath.Join(base, "killed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		return code, out.String() + errb.String(), base
	case <-time.After(30 * time.Second):
		t.Fatal("zdu run hung after sshd was killed")
	}
	return 0, "", ""
}

// TestSSHDKilledMidStepRecovers: the plan allows a retry, so the step runs
// again over a new connection and the run passes.
func TestSSHDKilledMidStepRecovers(t *testing.T) {
	code, out, dir := runWithKilledSSHD(t, "{count: 2, delay: 300ms}")
	if code != 0 {
		t.Fatalf("exit %d, want 0 after a retry:\n%s", code, out)
	}
	if !strings.Contains(out, `"kind":"step","state":"retrying"`) {
		t.Errorf("no retry in the log:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "done")); err != nil {
		t.Error("the retried step did not complete")
	}
}

// TestSSHDKilledMidStepFailsCleanly: without retries the run fails with the
// phase's exit code and says the connection was lost.
func TestSSHDKilledMidStepFailsCleanly(t *testing.T) {
	code, out, _ := runWithKilledSSHD(t, "0")
	if code != 71 || !strings.Contains(out, "Status.WORK_FAILED") {
		t.Fatalf("exit %d, want 71 and WORK_FAILED:\n%s", code, out)
	}
	if !strings.Contains(strings.ToLower(out), "connection") {
		t.Errorf("the failure does not say the connection was lost:\n%s", out)
	}
}

// A node whose sshd freezes mid-step (SIGSTOP: TCP open, nothing answering)
// fails the run with the phase's code, naming the node and the inventory's
// keepalive settings: the values reach the transport. Nothing is timed; the
// step could only end by itself after its 10m timeout.
func TestFrozenNodeFailsOnInventoryKeepAlive(t *testing.T) {
	inv, servers := startNodes(t, 1, true)
	b, _ := os.ReadFile(inv)
	doc := strings.Replace(string(b), "ssh:\n", "ssh:\n  keepAlive: 1s\n  keepAliveCount: 4\n", 1)
	if err := os.WriteFile(inv, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp("", "zdu-ssh-frozen-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// The step's shell on the node outlives the frozen connection (its
	// sshd is thawed and killed, the shell is not): end its loop, and kill
	// it by the PID it wrote, before its directory goes.
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(base, "killed"), nil, 0o644)
		started, _ := filepath.Glob(filepath.Join(base, "started.*"))
		for _, f := range started {
			if pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(f), ".")); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	os.Chmod(base, 0o777)
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	os.WriteFile(plan, []byte(strings.Replace(fmt.Sprintf(faultPlan, "0"), "timeout: 60s", "timeout: 10m", 1)), 0o600)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- dispatch(context.Background(), []string{"run", plan, "-i", inv, "--set", "dir=" + base,
			"--run-dir", filepath.Join(t.TempDir(), "run"), "--log-format", "json"}, &out, &errb)
	}()
	for {
		if m, _ := filepath.Glob(filepath.Join(base, "started.*")); len(m) > 0 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("exit %d before the step started:\n%s%s", code, out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	servers[0].Freeze()
	t.Cleanup(servers[0].Thaw)
	code := <-done
	all := out.String() + errb.String()
	if code != 71 {
		t.Fatalf("exit %d, want 71:\n%s", code, all)
	}
	if !strings.Contains(all, "node-1") || !strings.Contains(all, "keepAlive 1s x keepAliveCount 4") {
		t.Fatalf("the failure does not name the node and the keepalive settings:\n%s", all)
	}
}
