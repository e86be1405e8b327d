// Package lbtest holds test conveniences on top of package loopback: Must
// variants that skip a test when HAProxy or nginx is not installed and stop
// what they started when it ends, HAProxy's own failure counters, and a load
// generator that counts every request that did not get a 200. Test code
// only: nothing in the zdu binary imports it.
package lbtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// Need skips the test when a binary is missing.
func Need(t testing.TB, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s is not installed (apt-get install %s): %v", path, pkg, err)
	}
}

// MustHAProxy starts HAProxy for a test (skipped when HAProxy is missing) and
// stops it when the test ends.
func MustHAProxy(t testing.TB, cfg loopback.HAProxyConfig) *loopback.HAProxy {
	t.Helper()
	Need(t, loopback.HAProxyPath, "haproxy")
	h, err := loopback.StartHAProxy(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// MustNginx starts nginx for a test (skipped when nginx is missing) and stops
// it when the test ends.
func MustNginx(t testing.TB, cfg loopback.NginxConfig) *loopback.Nginx {
	t.Helper()
	Need(t, loopback.NginxPath, "nginx")
	n, err := loopback.StartNginx(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// Counters are HAProxy's own failure counters, summed over the backend row:
// 5xx answers, response errors, retries and redispatches. A retry or a
// redispatch that hid a failure from the client still shows here.
type Counters struct {
	Hrsp5xx, Eresp, Econ, Wretr, Wredis int64
}

// ReadCounters reads the failure counters of h's backend.
func ReadCounters(ctx context.Context, h *loopback.HAProxy) (Counters, error) {
	st, err := h.Stats(ctx)
	if err != nil {
		return Counters{}, err
	}
	r, ok := st.Find(h.Backend, "BACKEND")
	if !ok {
		return Counters{}, fmt.Errorf("haproxy %s: no BACKEND row for %s", h.Socket, h.Backend)
	}
	return Counters{
		Hrsp5xx: r.Int("hrsp_5xx"), Eresp: r.Int("eresp"), Econ: r.Int("econ"),
		Wretr: r.Int("wretr"), Wredis: r.Int("wredis"),
	}, nil
}

// AdminStates reads what an operator (or zdu) set on each server of h's
// backend, from `show servers state`: "admin=N weight=W" by server name
// (srv_admin_state: drain and maintenance flags; srv_uweight: the weight
// set). Health checks move other columns; these move only by command.
func AdminStates(ctx context.Context, h *loopback.HAProxy) (map[string]string, error) {
	ans, err := h.Command(ctx, "show servers state "+h.Backend)
	if err != nil {
		return nil, err
	}
	var cols []string
	out := map[string]string{}
	for _, line := range strings.Split(ans, "\n") {
		if head, ok := strings.CutPrefix(strings.TrimSpace(line), "# "); ok {
			cols = strings.Fields(head)
			continue
		}
		f := strings.Fields(line)
		if cols == nil || len(f) < len(cols) {
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = f[i]
		}
		out[row["srv_name"]] = "admin=" + row["srv_admin_state"] + " weight=" + row["srv_uweight"]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("haproxy %s: no server in `show servers state %s`: %q", h.Socket, h.Backend, ans)
	}
	return out, nil
}
