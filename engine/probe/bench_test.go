package probe

import (
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
