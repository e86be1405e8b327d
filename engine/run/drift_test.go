package run_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// driftPlan drains n1, "restarts" it (a step that waits for the test), then
// waits for its service and enables it.
const driftPlan = `apiVersion: zdu/v1
name: drift
params:
  dir: {type: string, required: true}
phases:
  - id: roll
    targets: [n1]
    exitCode: 12
    steps:
      - {id: drain, type: lb-drain, with: {lb: web, polls: 1, interval: 100ms, onDrift: %s}}
      - id: restart
        type: ssh-exec
        with: {command: "touch ${{ params.dir }}/started; while [ ! -e ${{ params.dir }}/restarted ]; do sleep 0.05; done"}
      - {id: health, type: wait-http, with: {url: "${{ vars.url }}", timeout: 60s, interval: 100ms}}
      - {id: enable, type: lb-enable, with: {lb: web}}
`

// TestDriftAfterLoadBalancerRestart: HAProxy is restarted (losing the
// drain) while n1's service is down in its restart step, so HAProxy sends
// n1 traffic again. zdu notices before n1's next step. With onDrift:
// redrain it drains n1 again before going on, and no request sent after
// that fails although n1's service is still down; with onDrift: stop, n1's
// steps stop there and the run fails, saying why.
func TestDriftAfterLoadBalancerRestart(t *testing.T) {
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	for _, policy := range []string{"redrain", "stop"} {
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			var backends []*loopback.Backend
			for _, n := range []string{"n1", "n2"} {
				b, err := loopback.NewBackend(n, "v1")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				backends = append(backends, b)
			}
			h := lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: backends}) // no health checks
			inv := `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes:
  - {name: n1, vars: {url: "` + backends[0].URL() + `/"}}
  - {name: n2}
loadBalancers:
  web:
    driver: haproxy
    backend: ` + h.Backend + `
    minHealthy: 1
    instances: [{name: h, socket: ` + h.Socket + `}]
`
			prog := enginetest.Compile(t, strings.Replace(driftPlan, "%s", policy, 1), inv, "dir="+dir)
			traffic := startTraffic(h.URL + "/")
			runDir := t.TempDir()
			done := make(chan *enginetest.Run, 1)
			go func() { done <- enginetest.Execute(t, prog, enginetest.Options{Dir: runDir}) }()
			waitForFile(t, filepath.Join(dir, "started"))
			// n1's service goes down for its restart, and meanwhile HAProxy
			// restarts: n1's drain is lost and it takes traffic again.
			backends[0].Stop(context.Background())
			if err := h.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
			// The fault is real: HAProxy no longer holds n1 drained.
			var d net.Dialer
			admin, _, err := haproxy.NewClient("h", "unix", h.Socket, d.DialContext).ServerState(context.Background(), h.Backend, "n1")
			if err != nil || admin.Drained() {
				t.Fatalf("after HAProxy's restart n1 is drained %v (%v): the fault did not put n1 back in traffic", admin.Drained(), err)
			}
			os.WriteFile(filepath.Join(dir, "restarted"), nil, 0o600)
			var redrainedAt time.Time
			var r *enginetest.Run
			if policy == "redrain" {
				redrainedAt = waitForEvent(t, filepath.Join(runDir, "journal.jsonl"), journal.KindDrift, journal.Passed)
				time.Sleep(300 * time.Millisecond) // n1 stays down a while after the redrain
				backends[0].Start()
				r = <-done
			} else {
				// Stopped, n1 is left as the restart left it: in traffic, down.
				r = <-done
				time.Sleep(300 * time.Millisecond)
				backends[0].Start()
			}
			failures := traffic.stop()
			var drift []journal.Event
			for _, e := range r.Events {
				if e.Kind == journal.KindDrift {
					drift = append(drift, e)
				}
			}
			if len(drift) == 0 || drift[0].State != journal.Detected || !strings.Contains(drift[0].Error, "no longer holds on h") {
				t.Fatalf("the drift was not reported: %+v\n%s", drift, r.Table)
			}
			switch policy {
			case "redrain":
				if r.Result.ExitCode != 0 || len(drift) != 2 || drift[1].State != journal.Passed {
					t.Errorf("exit %d, drift %+v: want n1 drained again and the run passed\n%s", r.Result.ExitCode, drift, r.Table)
				}
				for _, f := range failures {
					if f.After(redrainedAt) {
						t.Errorf("a request sent at %s, after n1 was drained again (%s), failed", f.Format(time.StampMicro), redrainedAt.Format(time.StampMicro))
					}
				}
			case "stop":
				if r.Result.ExitCode != 12 || !strings.Contains(r.Result.Err.Error(), "onDrift is stop") {
					t.Errorf("got %d %v, want the phase's 12 saying the drift stopped n1", r.Result.ExitCode, r.Result.Err)
				}
				for _, e := range r.Events {
					if e.Step == "health" && e.State == journal.Started {
						t.Error("n1's health step ran after the drift")
					}
				}
			}
		})
	}
}

// traffic sends GETs to a URL as fast as one client can, and records when
// each failed one was sent.
type traffic struct {
	mu       sync.Mutex
	failures []time.Time
	quit     chan struct{}
	wg       sync.WaitGroup
}

func startTraffic(url string) *traffic {
	tr := &traffic{quit: make(chan struct{})}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		for {
			select {
			case <-tr.quit:
				return
			default:
			}
			sent := time.Now()
			resp, err := client.Get(url)
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode >= 400 {
				tr.mu.Lock()
				tr.failures = append(tr.failures, sent)
				tr.mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return tr
}

func (tr *traffic) stop() []time.Time {
	close(tr.quit)
	tr.wg.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.failures
}

func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForEvent waits until the journal holds an event of kind in state, and
// returns its time.
func waitForEvent(t *testing.T, path, kind, state string) time.Time {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if f, err := os.Open(path); err == nil {
			events, _ := journal.Read(f)
			f.Close()
			for _, e := range events {
				if e.Kind == kind && e.State == state {
					return e.Time
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s %s event in %s", kind, state, path)
	return time.Time{}
}
