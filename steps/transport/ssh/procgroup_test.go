package ssh

import (
	"bytes"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Run here, under a shell that does not lead its own process group, the
// wrapper must take the setsid(1) path and still report a real group.
func TestWrapWithoutSessionLeader(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid(1) not installed")
	}
	var stdout, stderr bytes.Buffer
	c := exec.Command("/bin/sh", "-c", wrap(`echo "it's"; sleep 0.3; exit 3`, "tok"))
	c.Stdout = &stdout
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the script sleeps 0.3s
	running, gerr := syscall.Getpgid(c.Process.Pid)
	err := c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, want 3", err)
	}
	if stdout.String() != "it's\n" {
		t.Fatalf("stdout %q", stdout.String())
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(stderr.String()), "zdu-pgid:tok:")
	pgid, err := strconv.Atoi(rest)
	if !ok || err != nil {
		t.Fatalf("stderr %q carries no group id", stderr.String())
	}
	if own := syscall.Getpgrp(); pgid == own || gerr != nil || running != pgid {
		t.Fatalf("reported group %d, test's group %d, command's group %d (%v): want a new group, reported right",
			pgid, own, running, gerr)
	}
}

func TestKillScript(t *testing.T) {
	tests := []struct {
		become bool
		want   []string
	}{
		{false, []string{"kill -TERM -4242", "kill -KILL -4242", "-lt 20"}},
		{true, []string{"sudo -n sh -c '", "kill -TERM -4242"}},
	}
	for _, tc := range tests {
		got := killScript(4242, 2*time.Second, tc.become)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("killScript(become=%v) = %q, missing %q", tc.become, got, w)
			}
		}
	}
}
