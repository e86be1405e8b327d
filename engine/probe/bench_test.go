package probe

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCompute measures Stop's work at the end of a long run: the
// figures of an hour at 1000 requests/s (3.6 million samples, one failure
// in a thousand).
func BenchmarkCompute(b *testing.B) {
	const n = 3_600_000
	p := &Probe{cfg: Config{URL: "http://127.0.0.1/", Rate: 1000}, failures: map[string]int64{"503": n / 1000}}
	for i := 0; i < n; i++ {
		s := p.samples.next()
		s.at = time.Duration(i) * time.Millisecond
		s.lat = uint32(200 + i%5000)
		s.sent, s.ok = true, i%1000 != 0
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := p.compute(time.Hour)
		if r.Requests != n || r.Failed != n/1000 {
			b.Fatalf("requests %d failed %d", r.Requests, r.Failed)
		}
	}
}

// BenchmarkProbeRate is the figure the tests no longer assert: how close the
// open loop comes to its rate on this machine. Each iteration probes a
// loopback server for a second and reports the requests sent per second,
// that over the rate asked (1.00 is on schedule) and the p99 latency.
//
//	go test -run '^$' -bench ProbeRate -benchtime 3x ./engine/probe/
func BenchmarkProbeRate(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	defer srv.Close()
	for _, rate := range []float64{200, 1000, 5000} {
		b.Run(strconv.FormatFloat(rate, 'f', -1, 64), func(b *testing.B) {
			var sent, seconds, p99 float64
			for i := 0; i < b.N; i++ {
				p, err := Start(context.Background(), Config{URL: srv.URL, Rate: rate})
				if err != nil {
					b.Fatal(err)
				}
				time.Sleep(time.Second)
				r := p.Stop()
				if r.Failed != 0 {
					b.Fatalf("failures %v", r.Failures)
				}
				sent += float64(r.Requests)
				seconds += r.DurationMS / 1000
				p99 = max(p99, r.P99MS)
			}
			b.ReportMetric(sent/seconds, "sent/s")
			b.ReportMetric(sent/seconds/rate, "sent/asked")
			b.ReportMetric(p99, "p99-ms")
		})
	}
}

// BenchmarkOutageWindow is the other figure: how well the longest failure
// window measures an outage. The server answers 503 for 400 ms in the middle
// of the run; each iteration reports the outage as the test's clock saw it,
// the window the probe measured and the difference (window - outage).
//
//	go test -run '^$' -bench OutageWindow -benchtime 5x ./engine/probe/
func BenchmarkOutageWindow(b *testing.B) {
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ok(w, r)
	}))
	defer srv.Close()
	var outage, window, worst float64
	for i := 0; i < b.N; i++ {
		p, err := Start(context.Background(), Config{URL: srv.URL, Rate: 200})
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		down.Store(true)
		from := time.Now()
		time.Sleep(400 * time.Millisecond)
		down.Store(false)
		o := ms(time.Since(from))
		time.Sleep(300 * time.Millisecond)
		r := p.Stop()
		outage += o
		window += r.LongestFailureMS
		if d := r.LongestFailureMS - o; math.Abs(d) > math.Abs(worst) {
			worst = d
		}
	}
	n := float64(b.N)
	b.ReportMetric(outage/n, "outage-ms")
	b.ReportMetric(window/n, "window-ms")
	b.ReportMetric((window-outage)/n, "diff-ms")
	b.ReportMetric(worst, "worst-diff-ms")
}
