package loopback_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

func backends(t *testing.T, names ...string) []*loopback.Backend {
	t.Helper()
	var out []*loopback.Backend
	for _, n := range names {
		b, err := loopback.NewBackend(n, "v1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		out = append(out, b)
	}
	return out
}

func TestHAProxyHarness(t *testing.T) {
	bs := backends(t, "s1", "s2")
	h := lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: bs, Check: true, TCPAdmin: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	for _, tc := range []struct{ socket, network, want string }{
		{h.Socket, "unix", "admin"}, {h.OperatorSocket, "unix", "operator"},
		{h.UserSocket, "unix", "user"}, {h.TCPAddr, "tcp", "admin"},
	} {
		c := haproxy.NewClient(tc.socket, tc.network, tc.socket, (&net.Dialer{}).DialContext)
		got, err := c.Level(ctx)
		if err != nil || got != tc.want {
			t.Errorf("level of %s = %q, %v; want %q", tc.socket, got, err, tc.want)
		}
	}

	l := lbtest.StartLoad(h.URL+"/", 4)
	if err := lbtest.WaitUntil(ctx, func() bool { c := l.Counts(); return c.ByBody["s1 v1"] > 10 && c.ByBody["s2 v1"] > 10 }); err != nil {
		t.Fatalf("both servers never answered: %v (%v)", err, l.Counts())
	}
	c := l.Stop()
	if c.Failed != 0 {
		t.Errorf("failed requests = %d, want 0: %v", c.Failed, c)
	}
	if got := bs[0].Served() + bs[1].Served(); got != c.OK {
		t.Errorf("backends served %d, clients got %d ok answers", got, c.OK)
	}
	if got := bs[0].Balanced()["v1"] + bs[1].Balanced()["v1"]; got != c.OK {
		t.Errorf("backends answered %d requests through HAProxy, clients got %d ok answers", got, c.OK)
	}
	cn, err := lbtest.ReadCounters(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if cn != (lbtest.Counters{}) {
		t.Errorf("haproxy counters = %+v, want all zero", cn)
	}
}

// TestHAProxySlowCheckKeepsServerUp: a health check answered later than the
// check interval (as by a backend on a loaded machine) leaves the server up;
// with HAProxy's default, the interval as the whole check's timeout, it
// would time out and, with fall 1, take the server out.
func TestHAProxySlowCheckKeepsServerUp(t *testing.T) {
	b := backends(t, "s1")[0]
	h := lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: []*loopback.Backend{b}, Check: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b.SetHealthDelay(300 * time.Millisecond) // three check intervals
	// Checks do not overlap: once a second slow one has arrived, the first
	// has ended, answered or timed out.
	from := b.HealthChecks()
	if err := lbtest.WaitUntil(ctx, func() bool { return b.HealthChecks() >= from+2 }); err != nil {
		t.Fatalf("HAProxy sent no second check: %v", err)
	}
	st, err := h.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Server("haproxy", "app", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if check := strings.TrimPrefix(r["check_status"], "* "); r.Status() != "UP" || check != "L7OK" {
		t.Errorf("after a check that took 300ms: status %q, check %q; want UP and L7OK", r.Status(), r["check_status"])
	}
}

func TestNginxHarness(t *testing.T) {
	bs := backends(t, "s1", "s2")
	n := lbtest.MustNginx(t, loopback.NginxConfig{Servers: bs})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := lbtest.StartLoad(n.URL+"/", 4)
	if err := lbtest.WaitUntil(ctx, func() bool { c := l.Counts(); return c.ByBody["s1 v1"] > 10 && c.ByBody["s2 v1"] > 10 }); err != nil {
		t.Fatalf("both servers never answered: %v (%v)", err, l.Counts())
	}
	c := l.Stop()
	if c.Failed != 0 {
		t.Errorf("failed requests = %d, want 0: %v", c.Failed, c)
	}
	if got := bs[0].Balanced()["v1"] + bs[1].Balanced()["v1"]; got != c.OK {
		t.Errorf("backends answered %d requests through nginx, clients got %d ok answers", got, c.OK)
	}
	if errs := n.Errors(); len(errs) != 0 {
		t.Errorf("nginx error log: %s", strings.Join(errs, "\n"))
	}
}

func TestBackendStopWaitsForInFlight(t *testing.T) {
	b := backends(t, "s1")[0]
	b.SetDelay(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	codes := make(chan int, 3)
	for i := 0; i < 3; i++ {
		go func() {
			resp, err := http.Get(b.URL() + "/")
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	if err := lbtest.WaitUntil(ctx, func() bool { return b.InFlight() == 3 }); err != nil {
		t.Fatalf("requests never in flight: %v", err)
	}
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.Served(); got != 3 {
		t.Errorf("served when the graceful stop returned = %d, want 3", got)
	}
	for i := 0; i < 3; i++ {
		if c := <-codes; c != 200 {
			t.Errorf("request %d: status %d", i, c)
		}
	}
	resp, err := http.Get(b.URL() + "/?delay=0s")
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	resp.Body.Close()
	if b.Aborted() != 0 {
		t.Errorf("aborted = %d, want 0", b.Aborted())
	}
	if n := len(b.Balanced()); n != 0 {
		t.Errorf("direct requests counted as through a load balancer: %v", b.Balanced())
	}
}
