package ssh

import (
	"bufio"
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
	// The script says it runs, then waits for its stdin to close: its group
	// is read while it surely runs, however slow the machine.
	var stderr bytes.Buffer
	c := exec.Command("/bin/sh", "-c", wrap(`echo "it's"; read -r _; exit 3`, "tok"))
	c.Stderr = &stderr
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutPipe, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	line, rerr := bufio.NewReader(stdoutPipe).ReadString('\n')
	running, gerr := syscall.Getpgid(c.Process.Pid)
	stdin.Close()
	err = c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, want 3", err)
	}
	if line != "it's\n" || rerr != nil {
		t.Fatalf("stdout %q (%v)", line, rerr)
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
