package wait

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

// sleeper is a real process with a name and a command line no other process
// has: a symlink to sleep named after the test, run with a unique duration.
type sleeper struct {
	name, arg, path string
	cmd             *exec.Cmd
}

func newSleeper(t *testing.T) *sleeper {
	t.Helper()
	bin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	n := rand.Intn(1e8)
	s := &sleeper{name: fmt.Sprintf("zdw%08d", n), arg: fmt.Sprintf("300.%08d", n)}
	s.path = filepath.Join(t.TempDir(), s.name)
	if err := os.Symlink(bin, s.path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *sleeper) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.path, s.arg)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

func (s *sleeper) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

func fast(m map[string]any) map[string]any {
	m["interval"] = "20ms"
	if _, ok := m["timeout"]; !ok {
		m["timeout"] = "10s"
	}
	return m
}

func TestWaitProcess(t *testing.T) {
	s := newSleeper(t)
	pidFile := filepath.Join(t.TempDir(), "app.pid")
	tests := []struct {
		name    string
		with    map[string]any
		before  func(t *testing.T) // runs before the step
		during  func(t *testing.T) // runs once the step has looked
		wantErr string             // "" passes
		timeout bool
		// lookOnce ends the step's time once it has looked (its log shows
		// what it saw), instead of after a timeout that a slow look could
		// outlast.
		lookOnce bool
		pids     int
	}{
		{name: "name appears", with: map[string]any{"name": s.name}, during: s.start, pids: 1},
		{name: "pattern appears", with: map[string]any{"pattern": s.name + " " + s.arg + "$"}, during: s.start, pids: 1},
		{name: "pattern with a regex", with: map[string]any{"pattern": strings.Replace(s.arg, ".", "[.]", 1)}, during: s.start, pids: 1},
		{name: "pid file appears", with: map[string]any{"pidFile": pidFile}, during: func(t *testing.T) {
			s.start(t)
			if err := os.WriteFile(pidFile, []byte(strconv.Itoa(s.cmd.Process.Pid)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, pids: 1},
		{name: "name goes away", with: map[string]any{"name": s.name, "state": "stopped"}, before: s.start, during: func(*testing.T) { s.stop() }},
		{name: "pid file process goes away", with: map[string]any{"pidFile": pidFile, "state": "stopped"}, before: func(t *testing.T) {
			s.start(t)
			if err := os.WriteFile(pidFile, []byte(strconv.Itoa(s.cmd.Process.Pid)), 0o644); err != nil {
				t.Fatal(err)
			}
		}, during: func(*testing.T) { s.stop() }},
		// The pattern never sits in the checking shell's own command line, so
		// a pattern no process has is "stopped" at the first look.
		{name: "pattern matches not itself", with: map[string]any{"pattern": "zdu-no-such-" + s.arg, "state": "stopped"}},
		{name: "missing pid file is stopped", with: map[string]any{"pidFile": filepath.Join(t.TempDir(), "none.pid"), "state": "stopped"}},
		{name: "never starts", with: map[string]any{"name": s.name}, lookOnce: true, wantErr: "not running", timeout: true},
		// Its own timeout: how many looks fitted in it does not matter.
		{name: "own timeout", with: map[string]any{"name": s.name, "timeout": "300ms"}, wantErr: "timed out after", timeout: true},
		{name: "bad regex fails at once", with: map[string]any{"pattern": "a(b", "timeout": "1m"}, wantErr: "exited 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer s.stop()
			_ = os.Remove(pidFile)
			act, err := steptest.Build("wait-process", fast(tc.with))
			if err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				tc.before(t)
			}
			rc := &steptest.Context{}
			rc.NodeInfo.Name = "node-a"
			looked := func() bool { return rc.Logged() != "" }
			done := make(chan struct{})
			if tc.during != nil {
				go func() {
					defer close(done)
					waitUntil(looked)
					tc.during(t)
				}()
			} else {
				close(done)
			}
			var out step.Outcome
			if tc.lookOnce {
				out, err = steptest.RunUntil(act, rc, looked, 30*time.Second)
			} else {
				out, err = steptest.Run(act, rc, 30*time.Second)
			}
			<-done
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v\nlog:\n%s", err, rc.Logged())
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if errors.Is(err, ErrTimeout) != tc.timeout {
					t.Errorf("errors.Is(err, ErrTimeout) = %v, want %v", !tc.timeout, tc.timeout)
				}
				return
			}
			if got := len(out.Data["pids"].([]string)); got != tc.pids {
				t.Errorf("pids = %v, want %d", out.Data["pids"], tc.pids)
			}
			if tc.pids == 1 && out.Stdout != strconv.Itoa(s.cmd.Process.Pid) {
				t.Errorf("stdout = %q, want the pid %d", out.Stdout, s.cmd.Process.Pid)
			}
		})
	}
}

// waitUntil polls cond for up to 30 seconds, a bound only a hang reaches.
func waitUntil(cond func() bool) bool {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func TestWaitProcessBuildErrors(t *testing.T) {
	for _, with := range []map[string]any{
		{},
		{"name": "a", "pidFile": "/x"},
		{"name": "a", "state": "gone"},
		{"name": "a", "interval": "0s"},
	} {
		if _, err := steptest.Build("wait-process", with); err == nil {
			t.Errorf("Build(%v) passed, want an error", with)
		}
	}
}

func TestWaitProcessExplain(t *testing.T) {
	act, err := steptest.Build("wait-process", map[string]any{"pattern": "/opt/My Axway/apigateway", "state": "stopped", "timeout": "10s"})
	if err != nil {
		t.Fatal(err)
	}
	rc := &steptest.Context{}
	rc.NodeInfo.Name = "Node-A"
	got, err := act.Explain(rc)
	if err != nil {
		t.Fatal(err)
	}
	want := `wait on Node-A until a process whose command line matches '/opt/My Axway/apigateway' is stopped: run IFS= read -r v; pgrep -f -- "$v" with '/opt/My Axway/apigateway' on stdin; check every 1s, up to 10s (or the step's timeout, if sooner)`
	if len(got) != 1 || got[0] != want {
		t.Errorf("Explain =\n%q\nwant\n%q", got, want)
	}
}
