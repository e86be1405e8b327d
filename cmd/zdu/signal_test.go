package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/summary"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

const signalPlan = `apiVersion: zdu/v1
name: signals
params:
  dir: {type: string}
phases:
  - id: work
    targets: all
    steps:
      - id: long
        type: ssh-exec
        with: {command: "touch ${{ params.dir }}/started-${{ node.name }}; sleep 30"}
      - id: after
        type: ssh-exec
        with: {command: "touch ${{ params.dir }}/after-${{ node.name }}"}
`

// runAndSignal starts `zdu run` in-process on two local nodes, sends SIGINT
// n times once the first step runs, and returns the exit code, the time from
// the first signal to the end, stdout and the work dir. Its context ends at
// the first SIGINT, as main's does.
func runAndSignal(t *testing.T, grace string, n int, extra ...string) (int, time.Duration, string, string) {
	t.Helper()
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	inv := filepath.Join(dir, "inv.yaml")
	os.WriteFile(plan, []byte(signalPlan), 0o600)
	os.WriteFile(inv, []byte("apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes: [{name: a}, {name: b}]\n"), 0o600)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		done <- dispatch(ctx, append([]string{"run", plan, "-i", inv, "--set", "dir=" + dir,
			"--run-dir", filepath.Join(dir, "run"), "--stop-grace", grace, "--log-format", "json"}, extra...), &out, &errb)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "started-a")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first step never started\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case code := <-done:
		return code, time.Since(start), out.String() + errb.String(), dir
	case <-time.After(20 * time.Second):
		t.Fatal("zdu run did not stop after SIGINT")
	}
	return 0, 0, "", ""
}

// TestSIGINTStopsGracefully: the first SIGINT lets the running step go on for
// the grace, then cancels it; nothing else starts; exit 130, INTERRUPTED.
func TestSIGINTStopsGracefully(t *testing.T) {
	code, _, out, dir := runAndSignal(t, "300ms", 1)
	if code != 130 || !strings.Contains(out, "Status.INTERRUPTED") {
		t.Fatalf("exit %d, want 130 and INTERRUPTED:\n%s", code, out)
	}
	for _, f := range []string{"after-a", "started-b", "after-b"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s: work started after SIGINT", f)
		}
	}
}

// TestSecondSIGINTAborts: with a long grace, a second SIGINT cancels the
// running step at once instead of waiting out the grace.
func TestSecondSIGINTAborts(t *testing.T) {
	code, took, out, _ := runAndSignal(t, "60s", 2)
	if code != 130 {
		t.Fatalf("exit %d, want 130:\n%s", code, out)
	}
	if took > 15*time.Second {
		t.Errorf("took %s: the second SIGINT did not abort before the 60s grace", took)
	}
}

// TestSIGINTProbeMeasuresToTheEnd: the probe goes on through a graceful
// stop (the grace, the cancelled step, compensation) and reports in the
// summary, though the first SIGINT ended the command's context.
func TestSIGINTProbeMeasuresToTheEnd(t *testing.T) {
	url := flagServer(t, filepath.Join(t.TempDir(), "never"))
	code, _, out, dir := runAndSignal(t, "1s", 1, "--probe", url, "--probe-rate", "100")
	if code != 130 {
		t.Fatalf("exit %d, want 130:\n%s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "run", "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s summary.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	// 1s of grace at 100/s: a probe stopped by the signal sends a few dozen.
	if s.Probe == nil || s.Probe.Requests < 80 || s.Probe.Failed != 0 {
		t.Fatalf("probe = %+v, want at least 80 requests (the whole grace), none failed", s.Probe)
	}
}

// TestSIGINTBeforeTheRun: a SIGINT while the probe reads a load balancer's
// counters (here one that accepts and never answers) ends zdu at once with
// 130 and nothing changed: no step ran, no run directory was made.
func TestSIGINTBeforeTheRun(t *testing.T) {
	ln, _ := silentListener(t)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	inv := filepath.Join(dir, "inv.yaml")
	os.WriteFile(plan, []byte(`apiVersion: zdu/v1
name: lb-probe
phases:
  - id: roll
    targets: all
    steps:
      - {id: drain, type: lb-drain, with: {lb: web}}
      - {id: mark, type: ssh-exec, with: {command: "touch `+dir+`/ran"}}
      - {id: enable, type: lb-enable, with: {lb: web}}
`), 0o600)
	os.WriteFile(inv, []byte(`apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes: [{name: a}]
loadBalancers:
  web:
    driver: haproxy
    backend: web
    instances: [{name: h, address: "`+ln.Addr().String()+`"}]
`), 0o600)
	url := flagServer(t, filepath.Join(dir, "never"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, []string{"run", plan, "-i", inv, "--run-dir", filepath.Join(dir, "run"),
			"--probe", url, "--log-format", "json"}, &out, &errb)
	}()
	time.Sleep(500 * time.Millisecond)
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case code := <-done:
		if code != 130 || !strings.Contains(errb.String(), "interrupted before the run started") {
			t.Errorf("exit %d, want 130 and nothing changed:\n%s%s", code, out.String(), errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("zdu run did not end at SIGINT while reading the load balancer's counters")
	}
	for _, p := range []string{"ran", "run"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s exists: something ran before the run", p)
		}
	}
}

// TestSIGINTDuringDial: the context that a SIGINT ends reaches the SSH
// dial: a node whose port accepts and never speaks SSH (its connect timeout
// is a minute) no longer holds zdu until then; the run ends with 130 and
// nothing changed, well before the timeout.
func TestSIGINTDuringDial(t *testing.T) {
	ln, accepted := silentListener(t)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	inv := filepath.Join(dir, "inv.yaml")
	os.WriteFile(plan, []byte(`apiVersion: zdu/v1
name: dial
phases:
  - id: roll
    targets: all
    steps:
      - {id: mark, type: ssh-exec, with: {command: "touch `+dir+`/ran"}}
`), 0o600)
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	key, err := sshtest.GenerateKey(dir, "id", sshtest.ED25519, "")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(inv, []byte(`apiVersion: zdu/v1
kind: Inventory
ssh: {connectTimeout: 60s, trustOnFirstUse: true, knownHosts: [`+filepath.Join(dir, "kh")+`], identityFiles: [`+key.Path+`], config: none}
nodes: [{name: a, host: `+host+`, port: `+port+`, user: nobody}]
`), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, []string{"run", plan, "-i", inv, "--run-dir", filepath.Join(dir, "run"), "--log-format", "json"}, &out, &errb)
	}()
	select {
	case <-accepted:
	case <-time.After(30 * time.Second):
		t.Fatal("zdu never dialled the node")
	}
	cancel() // what main's signal context does at the first SIGINT
	select {
	case code := <-done:
		if code != 130 || !strings.Contains(errb.String(), "interrupted before the run started") {
			t.Errorf("exit %d, want 130 and nothing changed:\n%s%s", code, out.String(), errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("zdu run went on dialling after its context ended (the connect timeout is 60s)")
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); err == nil {
		t.Error("a run directory was made")
	}
}

// silentListener accepts connections on loopback and never answers them,
// holding them open until the test ends; accepted has a value once one came.
func silentListener(t *testing.T) (net.Listener, <-chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	return ln, accepted
}
