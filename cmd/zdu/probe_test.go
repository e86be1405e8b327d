package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zdu-dev/zdu/engine/summary"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// probePlan makes its service unavailable for a while: the server answers
// 503 while the flag file exists. The outage begins once the service has
// answered the probe (flagServer's FLAG.up) and ends once the probe has had
// its 503s (FLAG.seen), not after a fixed half second that a loaded
// machine's probe might barely sample.
const probePlan = `apiVersion: zdu/v1
name: probed
params:
  flag: {type: string}
errorBudget: {maxFailed: 0, exitCode: 90}
phases:
  - id: outage
    targets: all
    steps:
      - id: down
        type: ssh-exec
        timeout: 60s
        with: {command: "until [ -e ${{ params.flag }}.up ]; do sleep 0.01; done; touch ${{ params.flag }}; until [ -e ${{ params.flag }}.seen ]; do sleep 0.01; done; rm ${{ params.flag }}"}
`

// probeFiles writes probePlan and a one-node local inventory into dir.
func probeFiles(t *testing.T, dir string) (plan, inv string) {
	t.Helper()
	plan, inv = filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "inv.yaml")
	for path, text := range map[string]string{plan: probePlan,
		inv: "apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes: [{name: a}]\n"} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return plan, inv
}

// flagServer answers 503 while flag exists, 200 otherwise, on 127.0.0.1. It
// creates FLAG.up once it has answered 200 twice (Ping before the run, then
// the probe) and FLAG.seen once it has answered 503 five times.
func flagServer(t *testing.T, flag string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var up, down atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(flag); err == nil {
			if down.Add(1) == 5 {
				os.WriteFile(flag+".seen", nil, 0o644)
			}
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		if up.Add(1) == 2 {
			os.WriteFile(flag+".up", nil, 0o644)
		}
		w.Write([]byte("ok\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// runProbed runs probePlan on one local node with extra flags and returns
// the exit code, stderr and the summary.
func runProbed(t *testing.T, extra ...string) (int, string, summary.Summary) {
	t.Helper()
	dir := t.TempDir()
	flag := filepath.Join(dir, "down")
	plan, inv := probeFiles(t, dir)
	url := flagServer(t, flag)
	args := append([]string{"run", plan, "-i", inv, "--set", "flag=" + flag, "--run-dir", filepath.Join(dir, "run"),
		"--log-format", "json", "--probe", url, "--probe-rate", "100", "--probe-timeout", "30s"}, extra...)
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), args, &out, &errb)
	var s summary.Summary
	b, err := os.ReadFile(filepath.Join(dir, "run", "summary.json"))
	if err != nil {
		t.Fatalf("exit %d, no summary: %v\n%s\n%s", code, err, out.String(), errb.String())
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Probe == nil {
		t.Fatalf("no probe in summary.json:\n%s", b)
	}
	txt, _ := os.ReadFile(filepath.Join(dir, "run", "summary.txt"))
	if !strings.Contains(string(txt), "Availability probe ("+url) {
		t.Errorf("summary.txt lacks the probe:\n%s", txt)
	}
	return code, errb.String(), s
}

// TestRunProbeSeesOutage: `zdu run --probe` counts the 503s of a step's
// outage; the plan's budget fails the run with its exit code, and
// --probe-budget overrides it.
func TestRunProbeSeesOutage(t *testing.T) {
	code, stderr, s := runProbed(t)
	p := s.Probe
	if p.Failed < 5 || p.Failures["503"] != p.Failed || p.LongestFailureMS <= 0 || p.LongestFailureMS > p.DurationMS {
		t.Errorf("probe = failed %d by %v, window %.1f ms in %.1f; want the outage's 503s (at least 5) and its window",
			p.Failed, p.Failures, p.LongestFailureMS, p.DurationMS)
	}
	if p.Requests <= p.Failed {
		t.Errorf("requests %d, failed %d: want the success before the outage", p.Requests, p.Failed)
	}
	if code != 90 || s.Status != "ERROR_BUDGET_EXCEEDED" || s.ExitCode != 90 || p.Breach == "" {
		t.Errorf("exit %d, status %s (%d), breach %q; want 90 ERROR_BUDGET_EXCEEDED\n%s", code, s.Status, s.ExitCode, p.Breach, stderr)
	}
	if s.Nodes[0].Phases["outage"].State != "passed" {
		t.Errorf("the phase itself should pass: %+v", s.Nodes[0].Phases)
	}

	code, _, s = runProbed(t, "--probe-budget", "maxFailed=100000,maxFailureWindow=1m")
	if code != 0 || s.Status != "SUCCESS" || s.Probe.Failed == 0 || s.Probe.Breach != "" {
		t.Errorf("with a looser budget: exit %d status %s failed %d breach %q, want 0 SUCCESS and the failures still counted",
			code, s.Status, s.Probe.Failed, s.Probe.Breach)
	}
	if s.Probe.Budget == nil || s.Probe.Budget.MaxFailed == nil || *s.Probe.Budget.MaxFailed != 100000 {
		t.Errorf("budget in summary.json = %+v, want the flag's", s.Probe.Budget)
	}
}

// TestProbeAndRehearseBadInput: wrong flags and plans are exit 2 with a
// message naming the flag, before anything starts.
func TestProbeAndRehearseBadInput(t *testing.T) {
	dir := t.TempDir()
	plan, inv := probeFiles(t, dir)
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte(strings.Replace(probePlan, "maxFailed: 0", "maxFailed: -1", 1)), 0o600)
	nova := filepath.Join("..", "..", "plans", "nova-api.yaml")
	axInv := filepath.Join("..", "..", "plans", "axway-7.7.inventory.yaml")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--probe", "ftp://127.0.0.1/"}, `--probe: probe URL "ftp://127.0.0.1/"`},
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--probe", "ftp://u:s3cret@127.0.0.1/"}, "u:xxxxx@127.0.0.1"},
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--probe", "http://127.0.0.1/", "--probe-rate", "0"}, "--probe-rate 0"},
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--probe", "http://127.0.0.1/", "--probe-budget", "maxFailed=x"}, "--probe-budget"},
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--probe", "http://127.0.0.1/", "--probe-budget", "nope=1"}, "nope"},
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--probe-budget", "maxFailed=0"}, "--probe-budget needs --probe URL"},
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--probe-rate", "10", "--probe-timeout", "1s"}, "--probe-rate, --probe-timeout needs --probe URL"},
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--probe", "http://127.0.0.1/", "--probe-rate", "NaN"}, "--probe-rate NaN"},
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--dial-rate", "-1"}, "--dial-rate -1: must be from 0"},
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--dial-rate", "NaN"}, "--dial-rate NaN"},
		{[]string{"run", plan, "-i", inv, "--set", "flag=x", "--max-dials", "0"}, "--max-dials 0: must be at least 1"},
		{[]string{"rehearse", nova, "--rate", "0.5"}, "--rate 0.5: must be from 1"},
		{[]string{"rehearse", nova, "--fail", "node-1:aply"}, `did you mean "apply"`},
		{[]string{"rehearse", nova, "--fail", "node-1:.."}, "no sandbox stand-in"},
		{[]string{"rehearse", nova, "--set", "old_install_dir=/opt/Axway 7.5.3"}, "the sandbox sets old_install_dir itself"},
		{[]string{"run", broken, "-i", inv, "--set", "flag=x"}, "problem"},
		{[]string{"rehearse"}, "expected one PLAN"},
		{[]string{"rehearse", nova, "--fail", "nobody:apply"}, `no node "nobody"`},
		{[]string{"rehearse", nova, "--fail", "node-1"}, "NODE:STEP"},
		{[]string{"rehearse", nova, "--nodes", "99"}, "--nodes 99"},
		{[]string{"rehearse", nova, "--rate", "-5"}, "--rate -5"},
		{[]string{"rehearse", nova, "--startup", "-1s"}, "--startup"},
		{[]string{"rehearse", nova, "-i", axInv}, "axway-7.7.inventory.yaml"},
		{[]string{"rehearse", filepath.Join(dir, "axway-7.7.yaml"), "--nodes", "3"}, "cannot read plan"},
		{[]string{"rehearse", broken}, "problem"},
	} {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), tc.args, &out, &errb)
		if code != exitBadInput || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("zdu %s: exit %d, want 2 and %q in\n%s%s", strings.Join(tc.args, " "), code, tc.want, out.String(), errb.String())
		}
	}
}

// TestRunProbeURLMustAnswer: a probe URL that does not answer before the run
// stops zdu before anything changes, naming the URL.
func TestRunProbeURLMustAnswer(t *testing.T) {
	dir := t.TempDir()
	plan, inv := probeFiles(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	ln.Close() // nothing listens there now
	flag := filepath.Join(dir, "down")
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), []string{"run", plan, "-i", inv, "--set", "flag=" + flag,
		"--run-dir", filepath.Join(dir, "run"), "--probe", url}, &out, &errb)
	if code != exitFatal || !strings.Contains(errb.String(), url+" does not answer: connection refused") {
		t.Errorf("exit %d, want 80 naming the URL:\n%s", code, errb.String())
	}
	checkNotStarted(t, filepath.Join(dir, "run"), "PREFLIGHT_FAILED", url)
}

// checkNotStarted: a run that ended before its first step left a run
// directory whose journal holds only its end, with the status and why.
func checkNotStarted(t *testing.T, runDir, status, why string) {
	t.Helper()
	ev := readJournal(t, filepath.Join(runDir, "journal.jsonl"))
	if len(ev) != 1 || ev[0].State != "failed" || ev[0].Detail["status"] != status || !strings.Contains(ev[0].Error, why) {
		t.Errorf("the journal of a run that did not start: %+v; want only its end, %s, saying %q", ev, status, why)
	}
	if b, err := os.ReadFile(filepath.Join(runDir, "summary.json")); err != nil || !strings.Contains(string(b), status) {
		t.Errorf("summary.json: %v\n%s", err, b)
	}
}

// TestRehearseWithoutHAProxy says how to install it and starts nothing.
func TestRehearseWithoutHAProxy(t *testing.T) {
	old := loopback.HAProxyPath
	loopback.HAProxyPath = filepath.Join(t.TempDir(), "no-haproxy")
	defer func() { loopback.HAProxyPath = old }()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), []string{"rehearse", filepath.Join("..", "..", "plans", "nova-api.yaml"),
		"--run-dir", filepath.Join(t.TempDir(), "run")}, &out, &errb)
	if code != exitFatal || !strings.Contains(errb.String(), "apt-get install haproxy") {
		t.Errorf("exit %d, want 80 saying how to install HAProxy:\n%s", code, errb.String())
	}
}

// TestCommandHelp: -h lists a command's flags and exits 0.
func TestCommandHelp(t *testing.T) {
	for _, tc := range []struct{ cmd, want string }{{"rehearse", "-fail"}, {"run", "-probe-budget"}, {"validate", "-format"}} {
		var out, errb bytes.Buffer
		if code := dispatch(context.Background(), []string{tc.cmd, "-h"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), tc.want) {
			t.Errorf("zdu %s -h: exit %d, want 0 listing %s:\n%s", tc.cmd, code, tc.want, errb.String())
		}
	}
}
