package probe

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestSeriesCompletes: an interval is complete only once a later one has
// a request and its own have all ended; a gap is an interval of none;
// stop completes the rest, in order.
func TestSeriesCompletes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newSeries(t0, time.Second)
	a := s.begin(100 * time.Millisecond)
	b := s.begin(900 * time.Millisecond)
	s.end(a, 1000, true, true)
	if got := s.since(0); len(got) != 0 {
		t.Fatalf("interval 0 complete while the sender is still in it: %+v", got)
	}
	c := s.begin(2500 * time.Millisecond) // interval 2: 0 may close, but b runs
	if got := s.since(0); len(got) != 0 {
		t.Fatalf("interval 0 complete with a request still running: %+v", got)
	}
	s.end(b, 3000, true, false)
	got := s.since(0)
	if len(got) != 2 {
		t.Fatalf("after b ended: %+v, want intervals 0 and 1 (empty)", got)
	}
	if got[0].Requests != 2 || got[0].Failed != 1 || got[0].P50MS != 1 || got[0].MaxMS != 3 || !got[0].Start.Equal(t0) {
		t.Errorf("interval 0 = %+v", got[0])
	}
	if got[1].Requests != 0 || !got[1].Start.Equal(t0.Add(time.Second)) {
		t.Errorf("interval 1 = %+v, want an empty one at t0+1s", got[1])
	}
	d := s.begin(2600 * time.Millisecond)
	s.end(d, 0, false, false) // saturated: failed, no latency
	s.end(c, 2000, true, true)
	if got := s.since(2); len(got) != 0 {
		t.Fatalf("interval 2 complete before stop: %+v", got)
	}
	s.stop()
	got = s.since(2)
	if len(got) != 1 || got[0].Requests != 2 || got[0].Failed != 1 || got[0].P99MS != 2 || got[0].MaxMS != 2 {
		t.Errorf("interval 2 after stop = %+v, want 2 requests, 1 failed, latency of the one sent", got)
	}
	if all := s.since(0); len(all) != 3 {
		t.Errorf("since(0) = %d intervals, want 3", len(all))
	}
	if s.since(3) != nil || s.since(-1) != nil {
		t.Error("since out of range must be empty")
	}
}

// TestIntervalsAddUp: a real probe's intervals, read while it runs and
// after Stop, count every request and every failure of its Result, each
// once, in time order.
func TestIntervalsAddUp(t *testing.T) {
	var failing atomic.Bool
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		ok(w, r)
	})
	p := mustStart(t, Config{URL: srv.URL, Rate: 200, Timeout: slowMachine})
	waitFor(t, "a complete interval", func() bool { return len(p.Intervals(0)) > 0 })
	live := p.Intervals(0)
	failing.Store(true)
	waitFor(t, "a failure", func() bool { return p.failuresOf("503") > 0 })
	failing.Store(false)
	r := stop(t, p)
	all := p.Intervals(0)
	var req, failed int64
	for i, iv := range all {
		req += iv.Requests
		failed += iv.Failed
		if i > 0 && !iv.Start.Equal(all[i-1].Start.Add(SeriesStep)) {
			t.Errorf("interval %d starts at %s, %s after the one before", i, iv.Start, iv.Start.Sub(all[i-1].Start))
		}
		if iv.Requests > 0 && iv.MaxMS < iv.P99MS {
			t.Errorf("interval %d: max %g < p99 %g", i, iv.MaxMS, iv.P99MS)
		}
	}
	if req != r.Requests || failed != r.Failed || failed == 0 {
		t.Errorf("intervals count %d requests, %d failed; the result %d, %d", req, failed, r.Requests, r.Failed)
	}
	for i, iv := range live {
		if all[i] != iv {
			t.Errorf("interval %d read live %+v, after Stop %+v", i, iv, all[i])
		}
	}
}
