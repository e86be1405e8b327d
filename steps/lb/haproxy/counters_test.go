// An external test package: lbtest, which starts the real HAProxy, imports
// package haproxy itself.
package haproxy_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/local"
)

// controlOnly reaches the control node and nothing else.
func controlOnly(node string) (transport.Transport, error) {
	if node == "" {
		return local.New(), nil
	}
	return nil, errors.New("no node " + node + " in this test")
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// counterRig is two HAProxy instances, one reached on its unix socket and
// one on its TCP runtime API, in front of backends s1 and s2. Without health
// checks and with retries 0, a request sent to a stopped s1 reaches the
// client as a 503.
func counterRig(t *testing.T) (l step.LoadBalancer, hs []*loopback.HAProxy, s1 *loopback.Backend) {
	t.Helper()
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	var bs []*loopback.Backend
	for _, name := range []string{"s1", "s2"} {
		b, err := loopback.NewBackend(name, "v1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		bs = append(bs, b)
	}
	h1 := lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: bs})
	h2 := lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: bs, TCPAdmin: true})
	l = step.LoadBalancer{Name: "web", Driver: "haproxy", Backend: "app", Instances: []step.LBInstance{
		{Name: "lb1", Config: haproxy.Config{Socket: h1.Socket}},
		{Name: "lb2", Config: haproxy.Config{Address: h2.TCPAddr}},
	}}
	return l, []*loopback.HAProxy{h1, h2}, bs[0]
}

// get sends n requests through h's frontend, each on a new connection, and
// returns how many were answered 503.
func get(t *testing.T, h *loopback.HAProxy, n int) (unavailable int64) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}} // a hang guard only
	for i := 0; i < n; i++ {
		resp, err := c.Get(h.URL + "/")
		if err != nil {
			t.Fatalf("request %d through %s: %v", i, h.URL, err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			unavailable++
		default:
			t.Fatalf("request %d through %s: status %d", i, h.URL, resp.StatusCode)
		}
	}
	return unavailable
}

func TestCountersSeeAStoppedServer(t *testing.T) {
	l, hs, s1 := counterRig(t)
	ctx := ctxT(t)
	var d haproxy.Driver
	if _, ok := lb.Driver(d).(lb.Counterer); !ok {
		t.Fatal("the haproxy driver is not an lb.Counterer")
	}
	// Traffic while everything is up shows in no counter.
	get(t, hs[0], 4)
	before, err := d.Counters(ctx, controlOnly, l)
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"hrsp_5xx", "eresp", "econ", "wretr", "wredis", "dreq"} {
		if v, ok := before[col]; !ok || v != 0 {
			t.Errorf("counters before any failure: %s = %d (present %v), want 0", col, v, ok)
		}
	}

	if err := s1.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	failed := get(t, hs[0], 6) + get(t, hs[1], 4)
	if failed == 0 {
		t.Fatal("no request failed with s1 stopped: round robin should have sent some to it")
	}
	after, err := d.Counters(ctx, controlOnly, l)
	if err != nil {
		t.Fatal(err)
	}
	got := lb.Delta(before, after)
	t.Logf("%d of 10 requests answered 503; counter deltas %v", failed, got)
	want := map[string]int64{"hrsp_5xx": failed, "econ": failed, "eresp": 0, "wretr": 0, "wredis": 0, "dreq": 0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counter deltas over both instances = %v, want %v (the client saw %d answers 503)", got, want, failed)
	}
}

func TestCountersErrors(t *testing.T) {
	l, _, _ := counterRig(t)
	ctx := ctxT(t)
	var d haproxy.Driver

	unknown := l
	unknown.Backend = "nope"
	noVia := l
	noVia.Instances = []step.LBInstance{l.Instances[0], {Name: "lb3", Via: "lb-host", Config: haproxy.Config{Socket: "/run/haproxy.sock"}}}
	noInstances := l
	noInstances.Instances = nil
	tests := []struct {
		name string
		l    step.LoadBalancer
		want []string
	}{
		{"unknown backend", unknown, []string{`backend nope`, `lb1`, `no backend "nope"`, `[app]`}},
		{"unreachable via node", noVia, []string{`instance lb3`, `lb-host`, `backend app`}},
		{"no instances", noInstances, []string{`load balancer web has no instances`}},
	}
	for _, tc := range tests {
		c, err := d.Counters(ctx, controlOnly, tc.l)
		if err == nil {
			t.Errorf("%s: Counters = %v, want an error", tc.name, c)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %s", tc.name, err, w)
			}
		}
	}
}
