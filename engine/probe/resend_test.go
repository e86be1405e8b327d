package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

type connKey struct{}

// secondRequestDies is a server that closes every connection, without an
// answer, when the second request arrives on it: Go's transport then re-sends
// the GET on a new connection and, unless the probe notices, it looks fine.
func secondRequestDies(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(connKey{}).(*atomic.Int32).Add(1) == 2 {
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		ok(w, r)
	}))
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, new(atomic.Int32))
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestResentRequestFails(t *testing.T) {
	srv := secondRequestDies(t)
	p := &Probe{cfg: Config{URL: srv.URL, Rate: 1, Timeout: slowMachine}, client: newClient(minInFlight)}
	defer p.client.CloseIdleConnections()
	if got, _ := p.get(context.Background()); got != "" {
		t.Fatalf("first request on a new connection: reason %q, want success", got)
	}
	// The kept-alive connection dies under the second request; the transport
	// answers it from a new connection.
	if got, _ := p.get(context.Background()); got != reasonResent {
		t.Fatalf("second request: reason %q, want %q", got, reasonResent)
	}
	// Without a kept-alive connection to lose, nothing is re-sent.
	p.client.CloseIdleConnections()
	if got, _ := p.get(context.Background()); got != "" {
		t.Fatalf("request on a new connection: reason %q, want success", got)
	}
}

func TestResentRequestsInARun(t *testing.T) {
	srv := secondRequestDies(t)
	p := mustStart(t, Config{URL: srv.URL, Rate: 100, Timeout: slowMachine})
	waitFor(t, "a resent request", func() bool { return p.failuresOf(reasonResent) > 0 })
	r := stop(t, p)
	if r.Failures[reasonResent] == 0 || r.Failures[reasonResent] != r.Failed {
		t.Errorf("failed %d, failures %v: want every failure %q", r.Failed, r.Failures, reasonResent)
	}
}
