package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

var (
	// # want: LINE:COL NAME message: a problem at LINE:COL of the plan, where
	// the file's text starts with NAME, whose message contains the rest.
	strictWantRE = regexp.MustCompile(`(?m)^# want: (\d+):(\d+) (\S+) (.*)$`)
	// # fix: OLD => NEW (in the plan) and # fix-inventory: OLD => NEW.
	strictFixRE = regexp.MustCompile(`(?m)^# fix(-inventory)?: (.*) => (.*)$`)
)

// strictEnv is what every corpus case runs against: one real sshd that
// every inventory node reaches, a real HAProxy's admin API, an HTTP server.
type strictEnv struct {
	sshd    *sshtest.Server
	fill    *strings.Replacer
	workDir string
}

func startStrictEnv(t *testing.T) *strictEnv {
	t.Helper()
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	s := sshtest.Start(t)
	backend, err := loopback.NewBackend("web-1", "v1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	hap := lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: []*loopback.Backend{backend}, TCPAdmin: true})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	t.Cleanup(web.Close)
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The nodes' user is not root when the tests are: give it a place to write.
	work, err := os.MkdirTemp("", "zdu-strict-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	for _, d := range []string{work, filepath.Join(work, "release")} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777)
	}
	return &strictEnv{sshd: s, workDir: work, fill: strings.NewReplacer(
		"@USER@", s.User, "@PORT@", strconv.Itoa(s.Port), "@KNOWN_HOSTS@", kh, "@KEY@", s.ClientKeyFile(),
		"@WORK@", work, "@HTTP_PORT@", strings.TrimPrefix(web.URL, "http://127.0.0.1:"), "@HAPROXY@", hap.TCPAddr,
	)}
}

// connections counts the SSH connections the sshd has accepted so far.
func (e *strictEnv) connections() int { return strings.Count(e.sshd.Log(), "Connection from ") }

// TestStrictNames: every plan of testdata/strict uses a name that does not
// resolve for some node it runs on (a misspelt var, param, result, load
// balancer, group, node or rollback; a var some targeted nodes lack or leave
// null) in a different place (command, dir, stdin, when, timeout, wait
// targets, socket lines and regexes, health URL, rollback steps and rules,
// targets). validate -i, plan and run each refuse it with exit 2, naming the
// reference's FILE:LINE:COL, before any SSH connection is made; with the fix
// its `# fix:` line gives, all three pass and the run reaches the nodes.
func TestStrictNames(t *testing.T) {
	files, _ := filepath.Glob("testdata/strict/[0-9]*.yaml")
	var plans []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".inventory.yaml") {
			plans = append(plans, f)
		}
	}
	if len(plans) < 25 {
		t.Fatalf("the corpus has %d plans, want at least 25", len(plans))
	}
	env := startStrictEnv(t)
	for _, src := range plans {
		t.Run(strings.TrimSuffix(filepath.Base(src), ".yaml"), func(t *testing.T) {
			plan, inv := env.writeCase(t, src, false)
			text, _ := os.ReadFile(plan)
			wants := strictWantRE.FindAllStringSubmatch(string(text), -1)
			if len(wants) == 0 {
				t.Fatal("no # want: lines")
			}
			for _, cmd := range []string{"validate", "plan", "run"} {
				before := env.connections()
				runDir := filepath.Join(t.TempDir(), "run")
				code, out, errb := env.zdu(cmd, plan, inv, runDir)
				if code != exitBadInput {
					t.Fatalf("zdu %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", cmd, code, exitBadInput, out, errb)
				}
				for _, w := range wants {
					checkStrictWant(t, cmd, plan, string(text), out, w)
				}
				if after := env.connections(); after != before {
					t.Errorf("zdu %s made %d SSH connection(s) before refusing the plan", cmd, after-before)
				}
				if _, err := os.Stat(runDir); err == nil {
					t.Errorf("zdu %s left a run directory", cmd)
				}
			}
			plan, inv = env.writeCase(t, src, true)
			for _, cmd := range []string{"validate", "plan", "run"} {
				before := env.connections()
				code, out, errb := env.zdu(cmd, plan, inv, filepath.Join(t.TempDir(), "run"))
				if code != exitOK {
					t.Fatalf("fixed, zdu %s: exit %d\nstdout:\n%s\nstderr:\n%s", cmd, code, out, errb)
				}
				if cmd == "run" && env.connections() == before {
					t.Error("fixed, zdu run passed without reaching the nodes")
				}
			}
		})
	}
}

func checkStrictWant(t *testing.T, cmd, plan, text, out string, w []string) {
	t.Helper()
	line, _ := strconv.Atoi(w[1])
	col, _ := strconv.Atoi(w[2])
	prefix := fmt.Sprintf("%s:%d:%d: ", plan, line, col)
	found := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, w[4]) {
			found = true
		}
	}
	if !found {
		t.Errorf("zdu %s: no problem %s...%s in:\n%s", cmd, prefix, w[4], out)
	}
	// The position is the reference itself, not its line or value.
	lines := strings.Split(text, "\n")
	if line > len(lines) || col-1 > len(lines[line-1]) || !strings.HasPrefix(lines[line-1][col-1:], w[3]) {
		t.Errorf("%d:%d does not point at %q in the plan", line, col, w[3])
	}
}

// writeCase writes the case's plan and inventory (its own or the shared one,
// placeholders filled) to a temp dir, with its fixes applied when fixed.
func (e *strictEnv) writeCase(t *testing.T, src string, fixed bool) (plan, inv string) {
	t.Helper()
	pb, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	invSrc := strings.TrimSuffix(src, ".yaml") + ".inventory.yaml"
	if _, err := os.Stat(invSrc); err != nil {
		invSrc = filepath.Join(filepath.Dir(src), "inventory.yaml")
	}
	ib, err := os.ReadFile(invSrc)
	if err != nil {
		t.Fatal(err)
	}
	planText, invText := e.fill.Replace(string(pb)), e.fill.Replace(string(ib))
	if fixed {
		fixes := strictFixRE.FindAllStringSubmatch(string(pb), -1)
		if len(fixes) == 0 {
			t.Fatal("no # fix: line")
		}
		for _, f := range fixes {
			if f[1] == "" {
				planText = mustReplace(t, planText, f[2], f[3], 2)
			} else {
				invText = mustReplace(t, invText, f[2], f[3], 1)
			}
		}
	}
	dir := t.TempDir()
	plan = filepath.Join(dir, filepath.Base(src))
	inv = filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(plan, []byte(planText), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inv, []byte(invText), 0o600); err != nil {
		t.Fatal(err)
	}
	return plan, inv
}

// mustReplace replaces old, which must occur at least min times (a plan's
// fix line holds it once itself).
func mustReplace(t *testing.T, text, old, new string, min int) string {
	t.Helper()
	if strings.Count(text, old) < min {
		t.Fatalf("fix %q does not apply", old)
	}
	return strings.ReplaceAll(text, old, new)
}

func (e *strictEnv) zdu(cmd, plan, inv, runDir string) (int, string, string) {
	args := []string{cmd, plan, "-i", inv}
	if cmd == "run" {
		args = append(args, "--run-dir", runDir, "--log-format", "json")
	}
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

const nilPlan = `apiVersion: zdu/v1
name: nil-at-run-time
phases:
  - id: upgrade
    targets: all
    exitCode: 70
    steps:
      - id: first
        type: ssh-exec
        register: probe
        with: {command: echo STEP-FIRST}
      - id: second
        type: ssh-exec
        with: {command: "echo STEP-SECOND ${{ results.probe.data.version }}"}
      - id: third
        type: ssh-exec
        with: {command: echo STEP-THIRD}
`

// TestNilAtRunTimeSendsNothing: an interpolation that only turns out nil
// when the step runs (a field the registered result does not have) fails
// that step before anything is sent: a real sshd, whose every command is
// recorded by a ForceCommand wrapper, receives the first step's command and
// neither the failing step's nor any later one; the run exits with the
// phase's code and names the node, the step and the expression.
func TestNilAtRunTimeSendsNothing(t *testing.T) {
	bin, err := os.MkdirTemp("", "zdu-record-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	os.Chmod(bin, 0o777) // sshd's user writes the record here
	record := filepath.Join(bin, "commands.log")
	wrapper := filepath.Join(bin, "record.sh")
	script := "#!/bin/sh\n{ printf '%s\\n' \"$SSH_ORIGINAL_COMMAND\"; echo '--- end of command ---'; } >> " + record +
		"\nexec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := sshtest.Start(t, sshtest.WithConfig("ForceCommand "+wrapper))
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, []byte(s.KnownHostsLine()+"\n"), 0o600)
	inv := filepath.Join(dir, "inventory.yaml")
	os.WriteFile(inv, []byte(fmt.Sprintf(`apiVersion: zdu/v1
kind: Inventory
ssh: {knownHosts: [%s], identityFiles: [%s], config: none}
nodes:
  - {name: node-1, host: %s, port: %d, user: %s}
`, kh, s.ClientKeyFile(), s.Host, s.Port, s.User)), 0o600)
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte(nilPlan), 0o600)

	var out, errb bytes.Buffer
	runDir := filepath.Join(dir, "run")
	code := dispatch(context.Background(), []string{"run", plan, "-i", inv, "--run-dir", runDir, "--log-format", "json"}, &out, &errb)
	if code != 70 {
		t.Fatalf("exit %d, want the phase's 70\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	rec, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("the wrapper recorded nothing: %v", err)
	}
	got := string(rec)
	if !strings.Contains(got, "STEP-FIRST") {
		t.Fatalf("the recorder missed the first step's command:\n%s", got)
	}
	for _, never := range []string{"STEP-SECOND", "STEP-THIRD"} {
		if strings.Contains(got, never) {
			t.Errorf("the server received %s's command:\n%s", never, got)
		}
	}
	for _, want := range []string{"node-1", "second", "results.probe.data.version", "has no value"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr does not name %q:\n%s", want, errb.String())
		}
	}
	summary, _ := os.ReadFile(filepath.Join(runDir, "summary.txt"))
	if !strings.Contains(string(summary), "Status.UPGRADE_FAILED") || !strings.Contains(string(summary), "at step second: command: 1:22: ${{ results.probe.data.version }} has no value") {
		t.Errorf("summary:\n%s", summary)
	}
}
