package run_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// TestProbeObserverCounters runs the probe through a real HAProxy: the
// load balancer the plan uses has its counters read before and after (a
// stopped server's 503s show as hrsp_5xx and econ), one whose socket is
// missing reports an error instead, and one the plan does not use is left
// alone.
func TestProbeObserverCounters(t *testing.T) {
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	up, err := loopback.NewBackend("up", "v1")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	down, err := loopback.NewBackend("down", "v1")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	h, err := loopback.StartHAProxy(ctx, loopback.HAProxyConfig{Backend: "app", Servers: []*loopback.Backend{up, down}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	missing := filepath.Join(t.TempDir(), "no.sock")
	plan := `apiVersion: zdu/v1
name: probed
phases:
  - id: roll
    targets: all
    steps:
      - {id: drain, type: lb-drain, with: {lb: web}}
      - {id: enable, type: lb-enable, with: {lb: web}}
rollbacks:
  back:
    - {id: drain, type: lb-drain, with: {lb: gone}}
`
	inv := fmt.Sprintf(`apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes: [{name: up}]
loadBalancers:
  web: {driver: haproxy, backend: app, instances: [{name: h, socket: %q}]}
  gone: {driver: haproxy, backend: app, instances: [{name: g, socket: %q}]}
  unused: {driver: haproxy, backend: app, instances: [{name: u, socket: %q}]}
`, h.Socket, missing, missing)
	prog := enginetest.Compile(t, plan, inv)
	pool := run.NewPool(prog.Binding.Inv, nil)
	defer pool.Close()
	zero := int64(0)
	obs, err := run.StartProbe(ctx, prog, pool, run.ProbeOptions{
		Config: probe.Config{URL: h.URL + "/", Rate: 100}, Budget: probe.Budget{MaxFailed: &zero}, ExitCode: 81})
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Stop()
	var series lockedBuffer
	stopSeries := obs.RecordSeries(&series)
	// Take "down" away while the probe runs: HAProxy answers 503 for the
	// requests it sends there until its (absent) health check would notice.
	if err := down.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	const direct = 10
	for i := 0; i < direct; i++ {
		if resp, err := http.Get(h.URL + "/"); err == nil {
			resp.Body.Close()
		}
	}
	// More 503s than the direct requests could have drawn: the probe, the
	// only other client, got some too.
	if err := lbtest.WaitUntil(ctx, func() bool { c, err := lbtest.ReadCounters(ctx, h); return err == nil && c.Hrsp5xx > direct }); err != nil {
		t.Fatalf("HAProxy never answered the probe a 503: %v", err)
	}
	// The intervals are written while the probe runs, not only at its end.
	if err := lbtest.WaitUntil(ctx, func() bool { return series.String() != "" }); err != nil {
		t.Fatalf("no interval written while the probe ran: %v", err)
	}
	f := obs.Finish(ctx)
	if f.Kind != journal.KindProbe || f.Err == nil || f.ExitCode != 81 || f.Status != "ERROR_BUDGET_EXCEEDED" {
		t.Fatalf("finding = %+v, want the budget exceeded (exit 81)", f)
	}
	lbs, _ := f.Detail["lb"].([]any)
	// Every load balancer of the inventory, "unused" too: a plan whose
	// steps name none is the one whose downtime the counters must show.
	if len(lbs) != 3 {
		t.Fatalf("lb counters = %v, want gone, unused and web", f.Detail["lb"])
	}
	gone, unused, web := lbs[0].(map[string]any), lbs[1].(map[string]any), lbs[2].(map[string]any)
	if unused["lb"] != "unused" {
		t.Errorf("the inventory's unused load balancer is not read: %v", unused)
	}
	if gone["lb"] != "gone" || !strings.Contains(fmt.Sprint(gone["error"]), "before the run") {
		t.Errorf("gone = %v, want an error read before the run", gone)
	}
	counters, _ := web["counters"].(map[string]any)
	if web["lb"] != "web" || web["error"] != nil || counters["hrsp_5xx"].(float64) < 5 || counters["econ"].(float64) < 5 {
		t.Errorf("web = %v, want at least the 5 503s and connection errors to the stopped server", web)
	}
	failed, _ := f.Detail["failed"].(float64)
	if failed == 0 {
		t.Errorf("the probe saw no failure: %v", f.Detail)
	}
	// The intervals written add up to the figures, each request once.
	if err := stopSeries(); err != nil {
		t.Fatal(err)
	}
	var requests, failedIn float64
	for _, line := range strings.Split(strings.TrimSpace(series.String()), "\n") {
		var iv probe.Interval
		if err := json.Unmarshal([]byte(line), &iv); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		requests += float64(iv.Requests)
		failedIn += float64(iv.Failed)
	}
	if requests != f.Detail["requests"].(float64) || failedIn != failed {
		t.Errorf("the intervals count %g requests, %g failed; the finding %v, %g", requests, failedIn, f.Detail["requests"], failed)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
