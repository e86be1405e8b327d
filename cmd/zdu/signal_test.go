package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/summary"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

// signalPlan has two nodes run a long step, then another; long is the long
// step's command after it marks that it started.
func signalPlan(long string) string {
	return `apiVersion: zdu/v1
name: signals
params:
  dir: {type: string}
phases:
  - id: work
    targets: all
    steps:
      - id: long
        type: ssh-exec
        with: {command: "touch ${{ params.dir }}/started-${{ node.name }}; ` + long + `"}
      - id: after
        type: ssh-exec
        with: {command: "touch ${{ params.dir }}/after-${{ node.name }}"}
`
}

// syncBuffer is a bytes.Buffer that zdu writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// signalled is how long a test waits for zdu to act on a signal: only a
// hang takes that long.
const signalled = 60 * time.Second

// signalRun is one `zdu run` of signalPlan(long) on two local nodes in dir,
// interrupted n times once node a's long step runs.
type signalRun struct {
	long  string // the long step's command; default: sleep 300, longer than any wait here
	grace string
	n     int
	extra []string
	// interrupted, if set, runs once the first SIGINT has ended the
	// command's context.
	interrupted func()
}

// runAndSignal runs it and returns the exit code and the output. Each SIGINT
// after the first is sent once zdu has said it is stopping, so that it is
// seen as a second one. The context ends at the first SIGINT, as main's
// does.
func (sr signalRun) runAndSignal(t *testing.T, dir string) (int, string) {
	t.Helper()
	if sr.long == "" {
		sr.long = "sleep 300"
	}
	plan := filepath.Join(dir, "plan.yaml")
	inv := filepath.Join(dir, "inv.yaml")
	os.WriteFile(plan, []byte(signalPlan(sr.long)), 0o600)
	os.WriteFile(inv, []byte("apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes: [{name: a}, {name: b}]\n"), 0o600)
	var out, errb syncBuffer
	done := make(chan int, 1)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		done <- dispatch(ctx, append([]string{"run", plan, "-i", inv, "--set", "dir=" + dir,
			"--run-dir", filepath.Join(dir, "run"), "--stop-grace", sr.grace, "--log-format", "json"}, sr.extra...), &out, &errb)
	}()
	waitUntil(t, "the first step to start", func() bool { _, err := os.Stat(filepath.Join(dir, "started-a")); return err == nil })
	for i := 0; i < sr.n; i++ {
		if i > 0 {
			waitUntil(t, "zdu to say it is stopping", func() bool { return strings.Contains(errb.String(), "zdu: SIGINT: stopping") })
		}
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		if i == 0 && sr.interrupted != nil {
			select {
			case <-ctx.Done():
			case <-time.After(signalled):
				t.Fatal("the SIGINT did not end the context")
			}
			sr.interrupted()
		}
	}
	select {
	case code := <-done:
		return code, out.String() + errb.String()
	case <-time.After(signalled):
		t.Fatalf("zdu run did not stop within %s after SIGINT", signalled)
	}
	return 0, ""
}

// waitUntil polls cond, failing the test after signalled.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(signalled)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", signalled, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSIGINTStopsGracefully: the first SIGINT lets the running step go on for
// the grace, then cancels it; nothing else starts; exit 130, INTERRUPTED.
func TestSIGINTStopsGracefully(t *testing.T) {
	dir := t.TempDir()
	code, out := signalRun{grace: "300ms", n: 1}.runAndSignal(t, dir)
	if code != 130 || !strings.Contains(out, "Status.INTERRUPTED") {
		t.Fatalf("exit %d, want 130 and INTERRUPTED:\n%s", code, out)
	}
	for _, f := range []string{"after-a", "started-b", "after-b"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s: work started after SIGINT", f)
		}
	}
}

// TestSecondSIGINTAborts: with an hour's grace, a second SIGINT cancels the
// running step at once: zdu ends within the test's wait, which the grace
// alone would outlast.
func TestSecondSIGINTAborts(t *testing.T) {
	code, out := signalRun{grace: "1h", n: 2}.runAndSignal(t, t.TempDir())
	if code != 130 || !strings.Contains(out, "zdu: SIGINT again: aborting") {
		t.Fatalf("exit %d, want 130 and an abort:\n%s", code, out)
	}
}

// TestSIGINTProbeMeasuresToTheEnd: the probe goes on through a graceful
// stop and reports in the summary, though the first SIGINT ended the
// command's context. The running step ends by itself once the service has
// answered 50 requests that reached it after that (a probe stopped by the
// signal would leave at most its few requests in flight); the grace is an
// hour.
func TestSIGINTProbeMeasuresToTheEnd(t *testing.T) {
	dir := t.TempDir()
	measured := filepath.Join(dir, "measured")
	var armed atomic.Bool
	var after atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if armed.Load() && after.Add(1) == 50 {
			os.WriteFile(measured, nil, 0o644)
		}
		w.Write([]byte("ok\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String() + "/"
	code, out := signalRun{
		long:  "i=0; until [ -e " + measured + " ] || [ $i -ge 3000 ]; do sleep 0.01; i=$((i+1)); done",
		grace: "1h", n: 1, interrupted: func() { armed.Store(true) },
		extra: []string{"--probe", url, "--probe-rate", "100", "--probe-timeout", "30s"},
	}.runAndSignal(t, dir)
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
	if s.Probe == nil || s.Probe.Requests < after.Load() || after.Load() < 50 || s.Probe.Failed != 0 {
		t.Fatalf("probe = %+v, %d requests reached the service after the SIGINT; want at least 50, all counted, none failed", s.Probe, after.Load())
	}
}

// TestSIGINTBeforeTheRun: a SIGINT while the probe reads a load balancer's
// counters (here one that accepts and never answers) ends zdu at once with
// 130 and nothing changed: no step ran, no run directory was made.
func TestSIGINTBeforeTheRun(t *testing.T) {
	ln, accepted := silentListener(t)
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
	select {
	case <-accepted:
	case <-time.After(signalled):
		t.Fatal("zdu never connected to the load balancer")
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	// zdu gives up reading the counters after counterTimeout (10s) anyway:
	// ending well before that is what the SIGINT must do.
	select {
	case code := <-done:
		if code != 130 || !strings.Contains(errb.String(), "interrupted before the run started") {
			t.Errorf("exit %d, want 130 and nothing changed:\n%s%s", code, out.String(), errb.String())
		}
	case <-time.After(8 * time.Second):
		t.Fatal("zdu run did not end at SIGINT while reading the load balancer's counters")
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Errorf("something ran before the run")
	}
	checkNotStarted(t, filepath.Join(dir, "run"), "INTERRUPTED", "interrupted before the run started")
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
	checkNotStarted(t, filepath.Join(dir, "run"), "INTERRUPTED", "interrupted before the run started")
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
