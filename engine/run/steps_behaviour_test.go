package run_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
)

func TestWhenSkipsAndRegisteredResults(t *testing.T) {
	dir := t.TempDir()
	plan := `apiVersion: zdu/v1
name: when
params:
  dir: {type: string, required: true}
phases:
  - id: first
    targets: all
    steps:
      - id: probe
        type: ssh-exec
        with: {command: "echo v-${{ node.name }}"}
        register: probe
      - id: only-n2
        type: ssh-exec
        when: node.name == "n2"
        with: {command: "echo only >> ${{ params.dir }}/${{ raw node.name }}"}
      - id: never
        type: ssh-exec
        when: results.probe.exitCode != 0
        with: {command: "echo never >> ${{ params.dir }}/${{ raw node.name }}"}
  - id: second
    targets: all
    steps:
      - id: use
        type: ssh-exec
        when: results.probe.ok && results.probe.stdout startsWith "v-"
        with: {command: "echo got ${{ trim(results.probe.stdout) }} >> ${{ params.dir }}/${{ raw node.name }}"}
`
	prog := enginetest.Compile(t, plan, inventory(3), "dir="+dir)
	r := enginetest.Execute(t, prog, enginetest.Options{})
	if r.Result.ExitCode != 0 {
		t.Fatalf("exit %d: %v", r.Result.ExitCode, r.Result.Err)
	}
	want := map[string][]string{
		"n1": {"got v-n1"},
		"n2": {"only", "got v-n2"},
		"n3": {"got v-n3"},
	}
	for n, w := range want {
		if got := enginetest.Lines(t, filepath.Join(dir, n)); !slices.Equal(got, w) {
			t.Errorf("%s ran %q, want %q", n, got, w)
		}
	}
	states := stepStates(r.Events)
	for _, tt := range []struct{ node, step, want string }{
		{"n1", "only-n2", journal.Skipped},
		{"n2", "only-n2", journal.Passed},
		{"n3", "only-n2", journal.Skipped},
		{"n1", "never", journal.Skipped},
		{"n2", "never", journal.Skipped},
		{"n1", "use", journal.Passed},
	} {
		if got := states[tt.node+"/"+tt.step]; got != tt.want {
			t.Errorf("%s %s: journal says %q, want %q", tt.node, tt.step, got, tt.want)
		}
	}
	if log := r.Logs["n1"]; !strings.Contains(log, "########## NEVER ########## SKIPPED") ||
		strings.Contains(log, "########## NEVER ########## PASSED") {
		t.Errorf("n1 log does not show NEVER as SKIPPED:\n%s", log)
	}
	if !strings.Contains(r.Logs["n2"], "echo got 'v-n2'") {
		t.Errorf("n2 log lacks the command with the registered value:\n%s", r.Logs["n2"])
	}
}

// stepStates is each node/step's last journal state (phase steps only).
func stepStates(events []journal.Event) map[string]string {
	out := map[string]string{}
	for _, e := range events {
		if e.Kind == journal.KindStep {
			out[e.Node+"/"+e.Step] = e.State
		}
	}
	return out
}

func TestRetriesWithBackoff(t *testing.T) {
	tests := []struct {
		name       string
		failTimes  int // attempts that fail before one passes
		count      int
		wantExit   int
		wantTries  int
		wantRetry  int
		wantStatus string
	}{
		{"passes on the third try", 2, 3, 0, 3, 2, "PASSED (0)"},
		{"runs out of retries", 5, 2, 70, 3, 2, "FAILED (9)"},
		{"no retries", 1, 0, 70, 1, 0, "FAILED (9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			plan := fmt.Sprintf(`apiVersion: zdu/v1
name: retries
params:
  dir: {type: string, required: true}
phases:
  - id: flaky
    targets: all
    exitCode: 70
    steps:
      - id: try
        type: ssh-exec
        retries: {count: %d, delay: 20ms, backoff: 2}
        with: {command: "echo x >> ${{ params.dir }}/tries; test $(wc -l < ${{ params.dir }}/tries) -gt %d || exit 9"}
`, tt.count, tt.failTimes)
			prog := enginetest.Compile(t, plan, inventory(1), "dir="+dir)
			r := enginetest.Execute(t, prog, enginetest.Options{})
			if r.Result.ExitCode != tt.wantExit {
				t.Errorf("exit %d, want %d (%v)", r.Result.ExitCode, tt.wantExit, r.Result.Err)
			}
			if got := len(enginetest.Lines(t, filepath.Join(dir, "tries"))); got != tt.wantTries {
				t.Errorf("%d attempts, want %d", got, tt.wantTries)
			}
			var delays []string
			for _, e := range r.Events {
				if e.Kind == journal.KindStep && e.State == journal.Retrying {
					d, _ := e.Detail["delay"].(string)
					delays = append(delays, d)
				}
			}
			wantDelays := []string{"20ms", "40ms"}[:tt.wantRetry]
			if !slices.Equal(delays, wantDelays) {
				t.Errorf("retrying events with delays %q, want %q", delays, wantDelays)
			}
			if got := r.Summary.Nodes[0].Phases["flaky"].String(); got != tt.wantStatus {
				t.Errorf("summary cell %s, want %s\n%s", got, tt.wantStatus, r.Table)
			}
			if got := strings.Count(r.Logs["n1"], "########## TRY ########## 20"); got != tt.wantTries {
				t.Errorf("n1 log frames %d attempts, want %d:\n%s", got, tt.wantTries, r.Logs["n1"])
			}
		})
	}
}

// TestTimeoutKillsCommandAndChildren: the command's shell and the sleep it
// started in the background are both gone once the step has timed out.
func TestTimeoutKillsCommandAndChildren(t *testing.T) {
	dir := t.TempDir()
	marker := uniqueSleep(300)
	plan := `apiVersion: zdu/v1
name: timeout
params:
  dir: {type: string, required: true}
  marker: {type: string, required: true}
phases:
  - id: hang
    targets: all
    exitCode: 72
    steps:
      - id: hang
        type: ssh-exec
        timeout: 300ms
        with: {command: "sleep ${{ params.marker }} & wait"}
      - id: after
        type: ssh-exec
        with: {command: "touch ${{ params.dir }}/after"}
`
	prog := enginetest.Compile(t, plan, inventory(1), "dir="+dir, "marker="+marker)
	r := enginetest.Execute(t, prog, enginetest.Options{})
	if r.Result.ExitCode != 72 {
		t.Errorf("exit %d, want 72 (%v)", r.Result.ExitCode, r.Result.Err)
	}
	if out, err := exec.Command("pgrep", "-f", "sleep "+marker).Output(); err == nil {
		t.Errorf("processes of the timed-out command are still running: %s", out)
		for _, pid := range strings.Fields(string(out)) {
			_ = exec.Command("kill", "-KILL", pid).Run()
		}
	}
	if lines := enginetest.Lines(t, filepath.Join(dir, "after")); lines != nil {
		t.Errorf("the step after the timed-out one ran")
	}
	if !strings.Contains(r.Logs["n1"], "timed out after 300ms") || !strings.Contains(r.Logs["n1"], "########## HANG ########## FAILED") {
		t.Errorf("n1 log does not show the timeout:\n%s", r.Logs["n1"])
	}
	if got := stepStates(r.Events)["n1/after"]; got != journal.Blocked {
		t.Errorf("step after: %q, want blocked", got)
	}
	if !strings.Contains(r.Table, "FAILED (-1)") {
		t.Errorf("summary does not show the timed-out node as FAILED (-1):\n%s", r.Table)
	}
}
