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

func TestHealthyServer(t *testing.T) {
	srv, got := countingServer(t, ok)
	before := time.Now()
	p := mustStart(t, Config{URL: srv.URL, Rate: 200, Timeout: slowMachine})
	started := time.Now()
	waitFor(t, "50 answers", func() bool { return got.total() >= 50 })
	stopping := time.Now()
	r := stop(t, p)
	ran := time.Since(before)
	// Open loop, nothing saturated: every request scheduled was sent and
	// reached the server. (How close to the rate it came is a figure:
	// BenchmarkProbeRate.)
	if r.Requests < 50 || r.Requests != got.total() {
		t.Errorf("%d requests, the server answered %d: want the same, at least 50", r.Requests, got.total())
	}
	if r.Failed != 0 || r.LongestFailureMS != 0 || r.Failures != nil {
		t.Errorf("failed %d, window %v ms, failures %v; want none", r.Failed, r.LongestFailureMS, r.Failures)
	}
	if r.P50MS <= 0 || r.P50MS > r.P99MS || r.P99MS > r.MaxMS {
		t.Errorf("latencies p50 %v p99 %v max %v: want 0 < p50 <= p99 <= max", r.P50MS, r.P99MS, r.MaxMS)
	}
	if r.URL != srv.URL || r.RateRPS != 200 {
		t.Errorf("url %q rate %v", r.URL, r.RateRPS)
	}
	// The probe ran at least while it was left running, at most while the test ran.
	if r.DurationMS < ms(stopping.Sub(started)) || r.DurationMS > ms(ran) {
		t.Errorf("duration %.1f ms, want between %.1f and %.1f", r.DurationMS, ms(stopping.Sub(started)), ms(ran))
	}
}

// TestOutageWindow takes the service down and up again and checks, request
// by request, that the probe's verdicts are the service's: every request
// answered before the outage succeeded, every one sent after it began and
// answered before it ended failed, every one sent after it ended succeeded,
// and the failures are exactly the 503s the server gave. The outage is
// begun and ended on events (answers seen), not after sleeps. How close the
// failure window comes to the outage's length is a figure
// (BenchmarkOutageWindow).
func TestOutageWindow(t *testing.T) {
	var down atomic.Bool
	srv, got := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ok(w, r)
	})
	p := mustStart(t, Config{URL: srv.URL, Rate: 50, Timeout: slowMachine})
	waitFor(t, "5 answers", func() bool { return got.of(200) >= 5 })
	idle(t, p)
	upUntil := p.sinceStart()
	down.Store(true)
	downFrom := p.sinceStart()
	sentAfter(t, p, "a 503", func() int64 { return got.of(503) })
	idle(t, p)
	downUntil := p.sinceStart()
	down.Store(false)
	upFrom := p.sinceStart()
	sentAfter(t, p, "a 200", func() int64 { return got.of(200) })
	r := stop(t, p)

	samples := samplesOf(p)
	var before, during, after int
	for i, s := range samples {
		switch {
		case s.end() < upUntil:
			before++
			if !s.ok {
				t.Errorf("request %d (sent %s, ended %s) answered before the outage (%s) failed", i, s.at, s.end(), upUntil)
			}
		case s.at >= downFrom && s.end() < downUntil:
			during++
			if s.ok {
				t.Errorf("request %d (sent %s, ended %s) inside the outage (%s to %s) succeeded", i, s.at, s.end(), downFrom, downUntil)
			}
		case s.at >= upFrom:
			after++
			if !s.ok {
				t.Errorf("request %d sent %s, after the outage (%s), failed", i, s.at, upFrom)
			}
		}
	}
	if before == 0 || during == 0 || after == 0 {
		t.Errorf("requests before, inside and after the outage: %d, %d, %d; want some of each", before, during, after)
	}
	if n503 := got.of(503); r.Failed != n503 || r.Failures["503"] != n503 || r.Requests != got.total() {
		t.Errorf("%d requests, failed %d (%v); the server answered %d, %d of them 503: want the probe to count exactly those",
			r.Requests, r.Failed, r.Failures, got.total(), n503)
	}
	if want := ms(longestFailure(samples)); r.LongestFailureMS != want || want <= 0 || want > r.DurationMS {
		t.Errorf("longest failure window %.1f ms; from the samples %.1f ms; duration %.1f ms", r.LongestFailureMS, want, r.DurationMS)
	}
}

// A stopped server: every request sent after it was gone is refused, and
// the failure window runs to the end of the probe.
func TestServerStopped(t *testing.T) {
	var answered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answered.Add(1); ok(w, r) }))
	defer srv.Close()
	p := mustStart(t, Config{URL: srv.URL, Rate: 200, Timeout: slowMachine})
	waitFor(t, "5 answers", func() bool { return answered.Load() >= 5 })
	srv.Close()
	goneFrom := p.sinceStart()
	sentAfter(t, p, "a refusal", func() int64 { return p.failuresOf(reasonRefused) })
	r := stop(t, p)

	samples := samplesOf(p)
	first := -1
	for i, s := range samples {
		if s.at < goneFrom {
			continue
		}
		if first < 0 {
			first = i
		}
		if s.ok {
			t.Errorf("request %d sent %s, after the server was gone (%s), succeeded", i, s.at, goneFrom)
		}
	}
	if first < 0 || r.Failures[reasonRefused] == 0 {
		t.Fatalf("no request sent after the server was gone; failures %v", r.Failures)
	}
	// The outage reaches the end of the probe: the window spans at least
	// from the first request sent to the gone server to the end of the last.
	last := samples[len(samples)-1]
	if min := ms(last.end() - samples[first].at); r.LongestFailureMS < min || r.LongestFailureMS > r.DurationMS {
		t.Errorf("longest failure window %.1f ms, want at least %.1f (and at most the duration, %.1f)", r.LongestFailureMS, min, r.DurationMS)
	}
}

func TestHangingServer(t *testing.T) {
	srv, arrived := hangingServer(t)
	timeout := 300 * time.Millisecond
	p := mustStart(t, Config{URL: srv.URL, Rate: 20, Timeout: timeout})
	waitFor(t, "3 requests at the server", func() bool { return arrived.Load() >= 3 })
	// Stop returns once every request has timed out: a hang here would be a
	// request the timeout did not end.
	r := stop(t, p)
	if r.Requests < 3 || r.Failed != r.Requests || r.Failures[reasonTimeout] != r.Failed {
		t.Errorf("%d requests, failed %d, failures %v: want at least 3, every one a timeout", r.Requests, r.Failed, r.Failures)
	}
	// No request can time out before its timeout, however slow the machine.
	for i, s := range samplesOf(p) {
		if lat := time.Duration(s.lat) * time.Microsecond; !s.sent || lat < timeout-time.Microsecond {
			t.Errorf("request %d: sent %v, latency %s; want every one sent, ended by the %s timeout", i, s.sent, lat, timeout)
		}
	}
	if r.P50MS < ms(timeout)-0.001 {
		t.Errorf("p50 %v ms, want at least the timeout", r.P50MS)
	}
}

// The duration runs until the last request ended: a failure window that
// reaches the end of the probe, with requests still in flight at Stop, fits.
func TestDurationCoversRequestsInFlight(t *testing.T) {
	srv, arrived := hangingServer(t)
	timeout := 400 * time.Millisecond
	p := mustStart(t, Config{URL: srv.URL, Rate: 20, Timeout: timeout})
	waitFor(t, "3 requests at the server", func() bool { return arrived.Load() >= 3 })
	r := stop(t, p)
	samples := samplesOf(p)
	if len(samples) == 0 || r.Failed != r.Requests {
		t.Fatalf("%d requests, failed %d: want every one to time out", r.Requests, r.Failed)
	}
	first, last := samples[0], samples[len(samples)-1]
	if !last.sent {
		t.Fatalf("the last request was not sent (failures %v)", r.Failures)
	}
	// The last request ended no sooner than a timeout after it was sent.
	if min := ms(last.at + timeout); r.DurationMS < min {
		t.Errorf("duration %.1f ms, want at least %.1f: the last request ended a timeout after it was sent", r.DurationMS, min)
	}
	if min := ms(last.at + timeout - first.at); r.LongestFailureMS < min {
		t.Errorf("longest failure window %.1f ms, want at least %.1f: it ends when the last request ended", r.LongestFailureMS, min)
	}
	if r.LongestFailureMS > r.DurationMS {
		t.Errorf("longest failure window %.1f ms is longer than the probe's %.1f ms", r.LongestFailureMS, r.DurationMS)
	}
}

// With the in-flight bound reached, requests are counted as saturated and
// never sent. The server holds every request until the sender has stopped,
// so exactly the bound's worth are ever in flight.
func TestSaturated(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-release:
			ok(w, r)
		case <-r.Context().Done():
		}
	})
	cfg, err := Config{URL: srv.URL, Rate: 100, Timeout: slowMachine}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	const bound = 5
	p := start(context.Background(), cfg, bound)
	waitFor(t, "3 saturated requests", func() bool { return p.failuresOf(reasonSaturated) >= 3 })
	done := make(chan Result, 1)
	go func() { done <- p.Stop() }()
	select {
	case <-p.sendDone:
	case <-time.After(hangLimit):
		t.Fatal("the sender did not stop")
	}
	close(release)
	var r Result
	select {
	case r = <-done:
	case <-time.After(hangLimit):
		t.Fatal("Stop did not return once the server answered")
	}
	sat := r.Failures[reasonSaturated]
	if arrived.Load() != bound || sat < 3 || r.Failed != sat || r.Requests != bound+sat {
		t.Errorf("%d requests (%d reached the server), failures %v: want %d sent and answered, the rest %q",
			r.Requests, arrived.Load(), r.Failures, bound, reasonSaturated)
	}
	for i, s := range samplesOf(p) {
		if s.sent != (i < bound) {
			t.Errorf("request %d sent = %v; want the first %d sent, none after", i, s.sent, bound)
		}
	}
}

// The end of ctx alone stops the sender, and Stop's figures do not change.
func TestStopTwiceAndContextEnd(t *testing.T) {
	srv, got := countingServer(t, ok)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, Config{URL: srv.URL, Rate: 200, Timeout: slowMachine})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "5 answers", func() bool { return got.total() >= 5 })
	cancel()
	select {
	case <-p.sendDone:
	case <-time.After(hangLimit):
		t.Fatal("the sender went on after its context ended")
	}
	r := p.Stop()
	if r.Requests < 5 || r.Requests != got.total() {
		t.Errorf("%d requests, the server answered %d: want the same, at least 5", r.Requests, got.total())
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
