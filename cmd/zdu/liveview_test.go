package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// tmuxSession is a tmux server of a test's own (its socket in the test's
// directory), killed when the test ends.
type tmuxSession struct {
	t    *testing.T
	bin  string
	sock string
}

func newTmux(t *testing.T, width, height int, command string) *tmuxSession {
	t.Helper()
	bin, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	s := &tmuxSession{t: t, bin: bin, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	// -f /dev/null: none of the user's configuration.
	s.run("-f", "/dev/null", "new-session", "-d", "-s", "zdu", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), command)
	t.Cleanup(func() { _ = exec.Command(s.bin, "-S", s.sock, "kill-server").Run() })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.bin, append([]string{"-S", s.sock}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// screen is what the pane shows now.
func (s *tmuxSession) screen() string { return s.run("capture-pane", "-p", "-t", "zdu") }

// history is the pane's screen with what scrolled off above it.
func (s *tmuxSession) history() string { return s.run("capture-pane", "-p", "-S", "-", "-t", "zdu") }

var (
	probeLineRE = regexp.MustCompile(`probe \d+ req/s · \d+ failed \(\d+ of (\d+) in all\) · p99 [0-9.]+ ms`)
	nodeRowRE   = regexp.MustCompile(`(?m)^(node-[123]|controller) +.*(waiting|running|passed)`)
)

// TestLiveViewUnderTmux drives a real rehearsal of the nova plan in a
// terminal (tmux) and reads the screen: the view's rows for the four nodes
// and its probe line are there, they change as the run goes on (a node
// from running to passed, the probe's count growing), the view follows a
// narrower window, and at the end the last frame stays above the summary.
func TestLiveViewUnderTmux(t *testing.T) {
	t.Parallel()
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	bin := zduBinary(t)
	dir := t.TempDir()
	plan, err := filepath.Abs(filepath.Join("..", "..", "plans", "nova-api.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	exitFile := filepath.Join(dir, "exit")
	// The shell stays after zdu so the last screen can be read; a start
	// time of 3s keeps each node's turn on the screen for a while.
	command := fmt.Sprintf("cd %s && TMPDIR=%s %s rehearse %s --nodes 3 --startup 3s --probe-timeout 30s --run-dir %s; echo $? > %s; exec sleep 600",
		q(dir), q(dir), q(bin), q(plan), q(filepath.Join(dir, "run")), q(exitFile))
	s := newTmux(t, 110, 32, command)

	var screens []string
	seen := map[string]bool{} // what the screens showed, by fact
	probeCounts := map[string]bool{}
	resized := false
	deadline := time.Now().Add(3 * time.Minute)
	for !exists(exitFile) {
		if time.Now().After(deadline) {
			t.Fatalf("the rehearsal did not end in 3 minutes; screen:\n%s", s.screen())
		}
		sc := s.screen()
		screens = append(screens, sc)
		if m := probeLineRE.FindStringSubmatch(sc); m != nil {
			seen["probe"] = true
			probeCounts[m[1]] = true
		}
		if len(nodeRowRE.FindAllString(sc, -1)) == 4 && strings.Contains(sc, "NODE") {
			seen["four rows"] = true
		}
		for _, n := range []string{"node-1", "node-2", "node-3"} {
			if row := rowOf(sc, n); strings.Contains(row, "running") {
				seen[n+" running"] = true
			} else if strings.Contains(row, "passed") && seen[n+" running"] {
				seen[n+" running, then passed"] = true
			}
		}
		if !resized && seen["node-2 running"] {
			// Narrower: the view drops its phase column to fit.
			s.run("resize-window", "-t", "zdu", "-x", "70", "-y", "32")
			resized = true
		}
		if resized && strings.Contains(sc, "NODE        STEP") {
			seen["narrow"] = true
		}
		time.Sleep(250 * time.Millisecond)
	}
	code, _ := os.ReadFile(exitFile)
	final := s.history()
	if strings.TrimSpace(string(code)) != "0" {
		t.Fatalf("zdu rehearse exited %s:\n%s", code, final)
	}
	for _, want := range []string{"four rows", "probe", "node-1 running, then passed", "node-2 running", "narrow"} {
		if !seen[want] {
			t.Errorf("no screen showed %s; %d screens, the last:\n%s", want, len(screens), screens[len(screens)-1])
		}
	}
	if len(probeCounts) < 2 {
		t.Errorf("the probe line never changed its count (%v)", probeCounts)
	}
	// The last frame stays, the summary after it, nothing drawn over it.
	frame, summary, ok := strings.Cut(final, "Summary table (Status.SUCCESS)")
	if !ok || !strings.Contains(frame, "run passed: SUCCESS (exit 0)") || strings.Count(summary, "PASSED (0)") != 4 {
		t.Errorf("the end of the screen:\n%s", final)
	}
	for _, n := range []string{"node-1", "node-2", "node-3", "controller"} {
		if row := rowOf(frame[strings.LastIndex(frame, "NODE"):], n); !strings.Contains(row, "passed") {
			t.Errorf("the last frame's row of %s is %q, want passed", n, row)
		}
	}
	if strings.Contains(final, "\x1b") || strings.Contains(final, `{"`) {
		t.Errorf("escape codes or JSON on the screen:\n%s", final)
	}
}

// rowOf is the first line of screen starting with node's name.
func rowOf(screen, node string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.HasPrefix(l, node+" ") {
			return l
		}
	}
	return ""
}

// q quotes s for sh.
func q(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestRunPipedGivesLines: `zdu run ... | cat` gives one readable line per
// event on stdout (time, node, step, state; the run id once; a retry and a
// wait's polls among them), then the summary; no JSON, and nothing of the
// events on stderr.
func TestRunPipedGivesLines(t *testing.T) {
	bin := zduBinary(t)
	dir := t.TempDir()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	plan := filepath.Join(dir, "plan.yaml")
	inv := filepath.Join(dir, "inventory.yaml")
	os.WriteFile(plan, []byte(`apiVersion: zdu/v1
name: piped
params:
  dir: {type: string, required: true}
phases:
  - id: work
    title: WORK
    targets: all
    steps:
      - id: flaky
        type: ssh-exec
        retries: {count: 1, delay: 10ms}
        with: {command: "[ -e ${{ params.dir }}/again-${{ node.name }} ] || { touch ${{ params.dir }}/again-${{ node.name }}; exit 3; }"}
      - id: health
        type: wait-http
        with: {url: "`+srv.URL+`", interval: 20ms}
`), 0o600)
	os.WriteFile(inv, []byte("apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes:\n  - {name: web-1}\n  - {name: web-2}\n"), 0o600)
	runDir := filepath.Join(dir, "run")
	cmd := exec.Command("bash", "-c", "set -o pipefail; "+q(bin)+" run "+q(plan)+" -i "+q(inv)+" --set dir="+q(dir)+
		" --run-dir "+q(runDir)+" --state "+q(filepath.Join(dir, "state"))+" 2>"+q(filepath.Join(dir, "stderr"))+" | cat")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zdu run | cat: %v\n%s", err, out)
	}
	stdout := string(out)
	stderr, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	events, summaryText, ok := strings.Cut(stdout, "Summary table (Status.SUCCESS)")
	if !ok {
		t.Fatalf("no summary after the lines:\n%s", stdout)
	}
	lines := strings.Split(strings.TrimSpace(events), "\n")
	lineRE := regexp.MustCompile(`^\d\d:\d\d:\d\d  (\S+) +(\S+) +(\S.*)$`)
	for _, l := range lines {
		if !lineRE.MatchString(l) {
			t.Errorf("not a line of time, node, step, state: %q", l)
		}
	}
	id := filepath.Base(runDir)
	if rec, err := os.ReadFile(filepath.Join(runDir, "run.json")); err == nil {
		if m := regexp.MustCompile(`"id": *"([^"]+)"`).FindSubmatch(rec); m != nil {
			id = string(m[1])
		}
	}
	if n := strings.Count(stdout, id); n != 1 {
		t.Errorf("the run id %s appears %d times, want once:\n%s", id, n, stdout)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\S+  web-1 +flaky +started +ssh-exec$`),
		regexp.MustCompile(`(?m)^\S+  web-1 +flaky +retrying +after .*, again in 10ms: .*exit code 3`),
		regexp.MustCompile(`(?m)^\S+  web-1 +flaky +started +ssh-exec, attempt 2$`),
		regexp.MustCompile(`(?m)^\S+  web-1 +health +poll 1 +status 503`),
		regexp.MustCompile(`(?m)^\S+  web-1 +health +passed +\S+$`),
		regexp.MustCompile(`(?m)^\S+  web-2 +WORK +node passed`),
		regexp.MustCompile(`(?m)^\S+  - +- +run passed +SUCCESS \(exit 0\) after `),
	} {
		if !want.MatchString(events) {
			t.Errorf("no line matches %s:\n%s", want, events)
		}
	}
	if strings.Contains(stdout, `{"`) || strings.Contains(stdout, "\x1b") {
		t.Errorf("JSON or escape codes in the piped output:\n%s", stdout)
	}
	if strings.Contains(string(stderr), "started") {
		t.Errorf("event lines on stderr:\n%s", stderr)
	}
	if strings.Count(summaryText, "PASSED (0)") != 2 {
		t.Errorf("summary:\n%s", summaryText)
	}
}
