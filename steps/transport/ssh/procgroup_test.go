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
	c := exec.Command("/bin/sh", "-c", wrap(`echo "it's"; read -r _; exit 3`, "tok", false))
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

// A login shell that leads its own group and is /bin/sh runs the script
// itself (no exec of another sh: its command line is still the wrapper's);
// any other login shell (bash here) execs sh on it. Either way the script
// sees none of the wrapper's variables and no arguments, its exit code is
// the command's, and the group reported is the shell's own.
func TestWrapRunsScriptInPlace(t *testing.T) {
	const script = `tr '\0' ' ' </proc/$$/cmdline; echo; echo "${zdu_s-unset} ${zdu_p-unset} $#"; exit 3`
	for _, shell := range []string{"/bin/sh", "bash"} {
		path, err := exec.LookPath(shell)
		if err != nil {
			t.Logf("%s: not installed", shell)
			continue
		}
		for _, leads := range []bool{false, true} {
			var stdout, stderr bytes.Buffer
			c := exec.Command(path, "-c", wrap(script, "tok", leads))
			c.Args[0] = shell // as sshd names a login shell: its file's name, or here the path
			c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			c.Stdout, c.Stderr = &stdout, &stderr
			err = c.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("%s (leads %v): exit %v, want 3 (stderr %q)", shell, leads, err, stderr.String())
			}
			lines := strings.Split(stdout.String(), "\n")
			if len(lines) < 2 || lines[1] != "unset unset 0" {
				t.Fatalf("%s (leads %v): stdout %q: the script saw the wrapper's variables or arguments", shell, leads, stdout.String())
			}
			inPlace := strings.Contains(lines[0], "zdu_s=")
			if want := shell == "/bin/sh"; inPlace != want {
				t.Errorf("%s (leads %v): command line %q: ran in the login shell %v, want %v", shell, leads, lines[0], inPlace, want)
			}
			if checked := strings.Contains(lines[0], "/proc/$$/stat"); inPlace && checked == leads {
				t.Errorf("%s (leads %v): command line %q: group check there %v", shell, leads, lines[0], checked)
			}
			if got, want := strings.TrimSpace(stderr.String()), "zdu-pgid:tok:"+strconv.Itoa(c.Process.Pid)+":L"; got != want {
				t.Errorf("%s (leads %v): stderr %q, want %q", shell, leads, got, want)
			}
		}
	}
}

// Unwrap gives back what wrap wrapped, whatever the script, and nothing
// for a command line that is not exactly a wrapper's.
func TestUnwrap(t *testing.T) {
	for _, leads := range []bool{false, true} {
		for _, s := range []string{"", "true", `echo "it's" '$HOME' \'`, "a\nb; exit 3", "'''", `zdu_s=x; echo "zdu-pgid:a:$$"`} {
			got, tok, ok := Unwrap(wrap(s, "f00d", leads))
			if !ok || got != s || tok != "f00d" {
				t.Errorf("Unwrap(wrap(%q, %v)) = %q, %q, %v", s, leads, got, tok, ok)
			}
		}
		w := wrap("true", "f00d", leads)
		for _, bad := range []string{"true", w + "; rm -rf /tmp/x", strings.Replace(w, "exec sh -c", "exec bash -c", 1),
			strings.Replace(w, "f00d", "f'00d", 2), "zdu_s=true" + w[len("zdu_s='true'"):]} {
			if got, _, ok := Unwrap(bad); ok {
				t.Errorf("Unwrap(%q) = %q: not a wrapper's command line", bad, got)
			}
		}
	}
}
