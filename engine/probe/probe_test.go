package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

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

// stopWithin stops p and fails the test when Stop took longer than limit.
func stopWithin(t *testing.T, p *Probe, limit time.Duration) Result {
	t.Helper()
	t0 := time.Now()
	r := p.Stop()
	if took := time.Since(t0); took > limit {
		t.Errorf("Stop took %s, want at most %s", took, limit)
	}
	t.Logf("%s; failures %v", r.Line(), r.Failures)
	return r
}

// wantRequests checks the open loop sent about rate×duration requests and
// did not burst.
func wantRequests(t *testing.T, r Result) {
	t.Helper()
	expected := r.RateRPS * r.DurationMS / 1000
	if lo, hi := expected/2, expected*1.1+maxCatchUp+2; float64(r.Requests) < lo || float64(r.Requests) > hi {
		t.Errorf("%d requests in %.0f ms at %v rps, want between %.0f and %.0f", r.Requests, r.DurationMS, r.RateRPS, lo, hi)
	}
}

func TestHealthyServer(t *testing.T) {
	srv := server(t, ok)
	p := mustStart(t, Config{URL: srv.URL, Rate: 200})
	time.Sleep(time.Second)
	r := stopWithin(t, p, DefaultTimeout+2*time.Second)
	wantRequests(t, r)
	if r.Failed != 0 || r.LongestFailureMS != 0 || r.Failures != nil {
		t.Errorf("failed %d, window %v ms, failures %v; want none", r.Failed, r.LongestFailureMS, r.Failures)
	}
	if r.P50MS <= 0 || r.P50MS > r.P99MS || r.P99MS > r.MaxMS {
		t.Errorf("latencies p50 %v p99 %v max %v: want 0 < p50 <= p99 <= max", r.P50MS, r.P99MS, r.MaxMS)
	}
	if r.URL != srv.URL || r.RateRPS != 200 || r.DurationMS < 1000 {
		t.Errorf("url %q rate %v duration %v ms", r.URL, r.RateRPS, r.DurationMS)
	}
}

func TestOutageWindow(t *testing.T) {
	var down atomic.Bool
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ok(w, r)
	})
	p := mustStart(t, Config{URL: srv.URL, Rate: 200})
	time.Sleep(300 * time.Millisecond)
	down.Store(true)
	from := time.Now()
	time.Sleep(400 * time.Millisecond)
	down.Store(false)
	outage := time.Since(from)
	time.Sleep(300 * time.Millisecond)
	r := stopWithin(t, p, DefaultTimeout+2*time.Second)
	wantRequests(t, r)
	if r.Failed == 0 || r.Failures["503"] != r.Failed {
		t.Errorf("failed %d, failures %v: want every failure a 503", r.Failed, r.Failures)
	}
	if got, want := r.LongestFailureMS, ms(outage); got < want-100 || got > want+100 {
		t.Errorf("longest failure window %.1f ms, the outage lasted %.1f ms", got, want)
	}
}

func TestServerStopped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	defer srv.Close()
	p := mustStart(t, Config{URL: srv.URL, Rate: 200})
	time.Sleep(300 * time.Millisecond)
	srv.Close()
	gone := time.Now()
	time.Sleep(300 * time.Millisecond)
	r := stopWithin(t, p, DefaultTimeout+2*time.Second)
	if r.Failures[reasonRefused] == 0 {
		t.Errorf("failures %v: want %q", r.Failures, reasonRefused)
	}
	// The outage reaches the end of the probe.
	if min := ms(time.Since(gone)) - 150; r.LongestFailureMS < min {
		t.Errorf("longest failure window %.1f ms, want at least %.1f", r.LongestFailureMS, min)
	}
}

func TestHangingServer(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	timeout := 300 * time.Millisecond
	p := mustStart(t, Config{URL: srv.URL, Rate: 100, Timeout: timeout})
	time.Sleep(500 * time.Millisecond)
	r := stopWithin(t, p, timeout+2*time.Second)
	wantRequests(t, r)
	if r.Failed != r.Requests || r.Failures[reasonTimeout] != r.Failed {
		t.Errorf("%d requests, failed %d, failures %v: want every one a timeout", r.Requests, r.Failed, r.Failures)
	}
	if r.P50MS < ms(timeout) {
		t.Errorf("p50 %v ms, want at least the timeout", r.P50MS)
	}
}

// The duration runs until the last request ended: a failure window that
// reaches the end of the probe, with requests still in flight at Stop, fits.
func TestDurationCoversRequestsInFlight(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	timeout := 400 * time.Millisecond
	p := mustStart(t, Config{URL: srv.URL, Rate: 100, Timeout: timeout})
	time.Sleep(200 * time.Millisecond)
	r := stopWithin(t, p, timeout+2*time.Second)
	// Every request timed out; the last ones were sent about 200 ms in.
	min := ms(timeout) + 150
	if r.DurationMS < min {
		t.Errorf("duration %.1f ms, want at least %.1f: the last request ended a timeout after it was sent", r.DurationMS, min)
	}
	if r.LongestFailureMS < min {
		t.Errorf("longest failure window %.1f ms, want at least %.1f: it ends when the last request ended", r.LongestFailureMS, min)
	}
	if r.LongestFailureMS > r.DurationMS {
		t.Errorf("longest failure window %.1f ms is longer than the probe's %.1f ms", r.LongestFailureMS, r.DurationMS)
	}
}

func TestSaturated(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	timeout := 500 * time.Millisecond
	cfg, err := Config{URL: srv.URL, Rate: 100, Timeout: timeout}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p := start(context.Background(), cfg, 5)
	time.Sleep(300 * time.Millisecond)
	r := stopWithin(t, p, timeout+2*time.Second)
	sat := r.Failures[reasonSaturated]
	if sat == 0 || r.Failures[reasonTimeout] > 5 || sat+r.Failures[reasonTimeout] != r.Requests {
		t.Errorf("%d requests, failures %v: want at most 5 sent (timeouts), the rest %q", r.Requests, r.Failures, reasonSaturated)
	}
}

func TestStopTwiceAndContextEnd(t *testing.T) {
	srv := server(t, ok)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, Config{URL: srv.URL, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	time.Sleep(300 * time.Millisecond)
	r := p.Stop()
	if hi := int64(200*0.2*1.1) + 20; r.Requests > hi || r.Requests == 0 {
		t.Errorf("%d requests: the end of ctx should have stopped sending after about 40", r.Requests)
	}
	if again := p.Stop(); !reflect.DeepEqual(again, r) {
		t.Errorf("second Stop = %+v, want %+v", again, r)
	}
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "ftp://127.0.0.1/x"}, `"ftp://127.0.0.1/x"`},
		{Config{URL: "127.0.0.1:8080"}, `"127.0.0.1:8080"`},
		{Config{URL: ""}, `probe URL ""`},
		{Config{URL: "http://"}, `"http://"`},
		{Config{URL: "http://127.0.0.1/", Rate: -1}, "rate -1"},
		{Config{URL: "http://127.0.0.1/", Rate: 5001}, "rate 5001"},
		{Config{URL: "http://127.0.0.1/", Timeout: -time.Second}, "timeout -1s"},
	}
	for _, tc := range tests {
		p, err := Start(context.Background(), tc.cfg)
		if err == nil {
			p.Stop()
			t.Errorf("Start(%+v) succeeded, want an error", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v, want it to mention %s", tc.cfg, err, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Config{URL: "https://127.0.0.1/health"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rate != DefaultRate || cfg.Timeout != DefaultTimeout || inFlightBound(cfg) != 150 {
		t.Errorf("defaults: rate %v timeout %s bound %d", cfg.Rate, cfg.Timeout, inFlightBound(cfg))
	}
	if n := inFlightBound(Config{Rate: 1, Timeout: time.Second}); n != minInFlight {
		t.Errorf("bound at 1 rps = %d, want the minimum %d", n, minInFlight)
	}
}
