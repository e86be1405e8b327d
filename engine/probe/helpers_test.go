package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Test helpers: real servers on loopback, and waits on events (answers
// counted, requests in flight) instead of sleeps.

func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }

func mustStart(t *testing.T, cfg Config) *Probe {
	t.Helper()
	p, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

// slowMachine is the request timeout of tests that expect answers: far more
// than a loaded machine takes to answer on loopback, so only a hang fails
// them.
const slowMachine = 30 * time.Second

// hangLimit bounds every wait of these tests; reaching it means a hang, not
// a slow machine. Nothing here is timed otherwise.
const hangLimit = 30 * time.Second

// stop stops p and returns its figures, failing the test if Stop hangs.
func stop(t *testing.T, p *Probe) Result {
	t.Helper()
	done := make(chan Result, 1)
	go func() { done <- p.Stop() }()
	select {
	case r := <-done:
		t.Logf("%s; failures %v", r.Line(), r.Failures)
		return r
	case <-time.After(hangLimit):
		t.Fatalf("Stop did not return within %s", hangLimit)
		return Result{}
	}
}

// waitFor polls cond until it holds, failing the test after hangLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", hangLimit, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// samplesOf returns p's samples in send order; only after Stop.
func samplesOf(p *Probe) []sample {
	var out []sample
	p.samples.each(func(s sample) { out = append(out, s) })
	return out
}

// failuresOf is how many requests failed with reason so far.
func (p *Probe) failuresOf(reason string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failures[reason]
}

// sinceStart is the probe's own clock: a sample's at and end are on it.
func (p *Probe) sinceStart() time.Duration { return time.Since(p.start) }

// sentAfter waits until a request sent after now has done what counted
// counts (answered, failed...), given that counted only counts requests.
// Requests sent before now cannot account for it: the ones that had ended
// are in counted already, the ones in flight are at most inFlight, and
// the sender may be between taking a request's send time and counting it
// in flight for one more.
func sentAfter(t *testing.T, p *Probe, what string, counted func() int64) {
	t.Helper()
	inFlight := p.inFlight.Load()
	before := counted()
	waitFor(t, what+" for a request sent after this point", func() bool { return counted() > before+inFlight+1 })
}

// idle waits until no request is in flight: every request sent so far has
// ended and its sample is written.
func idle(t *testing.T, p *Probe) {
	t.Helper()
	waitFor(t, "no request in flight", func() bool { return p.inFlight.Load() == 0 })
}

// countingServer answers with h and counts the answers by status.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *statusCounts) {
	t.Helper()
	c := &statusCounts{}
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(rec, r)
		c.add(rec.code)
	})
	return srv, c
}

type statusCounts struct {
	mu sync.Mutex
	by map[int]int64
}

func (c *statusCounts) add(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[int]int64{}
	}
	c.by[code]++
}

func (c *statusCounts) of(code int) int64 { c.mu.Lock(); defer c.mu.Unlock(); return c.by[code] }

func (c *statusCounts) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := int64(0)
	for _, v := range c.by {
		n += v
	}
	return n
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

// hangingServer never answers; it counts the requests that reached it.
func hangingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	arrived := new(atomic.Int64)
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-r.Context().Done()
	})
	return srv, arrived
}
