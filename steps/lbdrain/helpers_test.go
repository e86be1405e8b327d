package lbdrain

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

// rig is real HAProxy instances over real backends s1..sN; the step runs for
// node-1, whose server is s1.
type rig struct {
	bs []*loopback.Backend
	hs []*loopback.HAProxy
	lb step.LoadBalancer
	rc *steptest.Context
}

func newBackends(t *testing.T, n int) []*loopback.Backend {
	t.Helper()
	var bs []*loopback.Backend
	for i := 1; i <= n; i++ {
		b, err := loopback.NewBackend(fmt.Sprintf("s%d", i), "v1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		bs = append(bs, b)
	}
	return bs
}

func newRig(t *testing.T, backends, instances, minHealthy int) *rig {
	t.Helper()
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	r := &rig{bs: newBackends(t, backends)}
	r.lb = step.LoadBalancer{Name: "web", Driver: "haproxy", Backend: "app", MinHealthy: minHealthy,
		Servers: map[string]string{"node-1": "s1", "node-2": "s2", "node-3": "s3"}}
	for i := 0; i < instances; i++ {
		h := lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: r.bs, Check: true, TCPAdmin: true})
		r.hs = append(r.hs, h)
		r.lb.Instances = append(r.lb.Instances, step.LBInstance{Name: fmt.Sprintf("lb%d", i+1), Config: haproxy.Config{Socket: h.Socket}})
	}
	r.rc = r.context()
	return r
}

func (r *rig) context() *steptest.Context {
	return &steptest.Context{NodeInfo: step.Node{Name: "node-1", Host: "127.0.0.1"},
		LBs: map[string]step.LoadBalancer{"web": r.lb}}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func run(t *testing.T, typ string, with map[string]any, rc step.Context) (step.Outcome, error) {
	t.Helper()
	act, err := steptest.Build(typ, with)
	if err != nil {
		t.Fatal(err)
	}
	return steptest.Run(act, rc, 40*time.Second)
}

func row(t *testing.T, h *loopback.HAProxy, server string) haproxy.StatRow {
	t.Helper()
	st, err := h.Stats(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Server("test", "app", server)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func weight(t *testing.T, h *loopback.HAProxy, server string) string {
	t.Helper()
	ans, err := h.Command(ctxT(t), "get weight app/"+server)
	if err != nil {
		t.Fatal(err)
	}
	return ans
}

func command(t *testing.T, h *loopback.HAProxy, line string) {
	t.Helper()
	ans, err := h.Command(ctxT(t), line)
	if err != nil || ans != "" {
		t.Fatalf("%s: %q, %v", line, ans, err)
	}
}

// counters asserts HAProxy's own failure counters: a retry or redispatch
// that hid a failure from the clients is still a failure.
func counters(t *testing.T, h *loopback.HAProxy, want lbtest.Counters) {
	t.Helper()
	got, err := lbtest.ReadCounters(ctxT(t), h)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("haproxy %s counters = %+v, want %+v", h.Socket, got, want)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := lbtest.WaitUntil(ctxT(t), cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
