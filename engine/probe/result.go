package probe

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is what a probe measured, as the run summary and its JSON show it.
type Result struct {
	URL        string  `json:"url"`         // the probed URL, its password redacted
	RateRPS    float64 `json:"rate_rps"`    // the rate asked for
	DurationMS float64 `json:"duration_ms"` // from Start until the last request ended
	// Requests counts every scheduled request — sent, or counted as failed
	// with reason "probe saturated" when the in-flight bound kept it from
	// being sent.
	Requests         int64   `json:"requests"`
	Failed           int64   `json:"failed"`
	LongestFailureMS float64 `json:"longest_failure_ms"`
	// The latency percentiles are over the requests actually sent (succeeded
	// or not).
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
	// Failures counts failed requests by reason ("503", "connection refused",
	// "timeout", "cut body", "probe saturated", "resent by the client" ...).
	Failures map[string]int64 `json:"failures,omitempty"`
	// Servers are the figures by the server that answered, where the load
	// balancer names it (ServerHeader): each server's failures and
	// outage windows.
	Servers []ServerFigures `json:"servers,omitempty"`
	// LB holds the load balancers' own counters over the probe's lifetime
	// (filled by the caller).
	LB []LBCounters `json:"lb,omitempty"`
	// Budget is the error budget the result was checked against; Breach says
	// why it was exceeded ("" if it was met).
	Budget *Budget `json:"budget,omitempty"`
	Breach string  `json:"breach,omitempty"`
}

// LBCounters is what one load balancer saw of the run: the deltas of its
// backend's error and retry counters.
type LBCounters struct {
	LB       string           `json:"lb"`
	Driver   string           `json:"driver"`
	Backend  string           `json:"backend"`
	Counters map[string]int64 `json:"counters,omitempty"` // deltas over the run
	Error    string           `json:"error,omitempty"`    // when the counters could not be read
}

// compute turns the samples into figures; d is the time from Start until
// the last request ended.
func (p *Probe) compute(d time.Duration) Result {
	r := Result{URL: redact(p.cfg.URL), RateRPS: p.cfg.Rate, DurationMS: ms(d)}
	var w windows
	lats := make([]uint32, 0, p.samples.n)
	p.samples.each(func(s sample) {
		r.Requests++
		if !s.ok {
			r.Failed++
		}
		w.add(s)
		if s.sent {
			lats = append(lats, s.lat)
		}
	})
	r.LongestFailureMS = ms(w.result())
	r.Servers = p.serverFigures()
	slices.Sort(lats)
	r.P50MS = usToMS(percentile(lats, 50))
	r.P99MS = usToMS(percentile(lats, 99))
	r.MaxMS = usToMS(percentile(lats, 100))
	p.mu.Lock()
	if len(p.failures) > 0 {
		r.Failures = maps.Clone(p.failures)
	}
	p.mu.Unlock()
	return r
}

func ms(d time.Duration) float64  { return float64(d) / float64(time.Millisecond) }
func usToMS(us uint32) float64    { return float64(us) / 1000 }
func percent(n, of int64) float64 { return 100 * float64(n) / float64(max(of, 1)) }

// Line is the one-line human form used in the run summary, e.g.
// "requests 6012, failed 0 (0.00%), longest failure window 0 ms, latency
// p50 1.2 ms, p99 4.8 ms, max 9.1 ms". When requests failed, their reasons
// follow the percentage, most frequent first: "failed 12 (0.20%: 503 ×9,
// connection refused ×3)".
func (r Result) Line() string {
	return fmt.Sprintf("requests %d, failed %d (%.2f%%%s), longest failure window %s ms, latency p50 %s ms, p99 %s ms, max %s ms",
		r.Requests, r.Failed, percent(r.Failed, r.Requests), r.reasons(),
		fmtMS(r.LongestFailureMS), fmtMS(r.P50MS), fmtMS(r.P99MS), fmtMS(r.MaxMS))
}

func (r Result) reasons() string {
	if len(r.Failures) == 0 {
		return ""
	}
	keys := slices.SortedFunc(maps.Keys(r.Failures), func(a, b string) int {
		return cmp.Or(cmp.Compare(r.Failures[b], r.Failures[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, r.Failures[k])
	}
	return ": " + strings.Join(parts, ", ")
}

// fmtMS shows milliseconds with the precision that matters at their size:
// 0, 0.08, 4.8, 1200.
func fmtMS(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}
