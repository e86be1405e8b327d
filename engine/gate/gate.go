// Package gate judges a rollout while it runs: the availability probe's
// per-second intervals, over a sliding window, against the plan's gates —
// the share of failed requests, the latency, and the latency's rise over a
// baseline measured before the first node was touched. A breach is what
// stops a bad version after its first nodes instead of after all of them.
package gate

import (
	"fmt"
	"slices"
	"time"

	"github.com/zdu-dev/zdu/engine/probe"
)

// Spec is a plan's gates as loaded. A zero threshold is not checked.
type Spec struct {
	// Window is how much of the probe's recent history each judgement
	// reads (whole seconds).
	Window time.Duration
	// MinRequests: a window with fewer requests is not judged (too few to
	// tell 1% from bad luck). Nor is a window not yet whole.
	MinRequests int64
	// MaxErrorPercent is the most failed requests in a window, as a
	// percentage of its requests (0 < x <= 100).
	MaxErrorPercent float64
	// MaxP99 is the highest latency allowed: the window's p99, taken as the
	// median of its seconds' p99s (one slow second is not a slow version).
	MaxP99 time.Duration
	// MaxP99Increase is the most the window's p99 may rise over the
	// baseline's.
	MaxP99Increase time.Duration
	// Baseline is how long the probe measures before the first node is
	// touched (the figures MaxP99Increase compares with).
	Baseline time.Duration
}

// Defaults of the keys a plan leaves out.
const (
	DefaultWindow      = 10 * time.Second
	DefaultMinRequests = 20
)

// Active reports whether any gate is set.
func (s Spec) Active() bool {
	return s.MaxErrorPercent > 0 || s.MaxP99 > 0 || s.MaxP99Increase > 0
}

// Figures are what one window held.
type Figures struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Requests int64     `json:"requests"`
	Failed   int64     `json:"failed"`
	// ErrorPercent is Failed as a percentage of Requests.
	ErrorPercent float64 `json:"errorPercent"`
	// P99MS is the median of the window's seconds' p99s.
	P99MS float64 `json:"p99Ms"`
}

// Breach is a gate that fired: which, on what figures, against what.
type Breach struct {
	Gate      string  `json:"gate"` // errorRate, latency, latencyIncrease
	Figures   Figures `json:"figures"`
	Threshold string  `json:"threshold"`
	// BaselineP99MS is the baseline's p99 (for latencyIncrease).
	BaselineP99MS float64 `json:"baselineP99Ms,omitempty"`
}

func (b *Breach) Error() string {
	f := b.Figures
	switch b.Gate {
	case "errorRate":
		return fmt.Sprintf("gate errorRate: %d of %d requests failed (%.2f%%) from %s to %s, over %s",
			f.Failed, f.Requests, f.ErrorPercent, clock(f.From), clock(f.To), b.Threshold)
	case "latency":
		return fmt.Sprintf("gate latency: p99 %.0fms from %s to %s, over %s", f.P99MS, clock(f.From), clock(f.To), b.Threshold)
	}
	return fmt.Sprintf("gate latencyIncrease: p99 %.0fms from %s to %s, %.0fms over the baseline's %.0fms, more than %s",
		f.P99MS, clock(f.From), clock(f.To), f.P99MS-b.BaselineP99MS, b.BaselineP99MS, b.Threshold)
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05") }

// Judge reads the probe's intervals as they complete and says when a gate
// is breached. It is not safe for concurrent use.
type Judge struct {
	spec     Spec
	baseline *Figures
	recent   []probe.Interval // the last window's worth
}

// NewJudge judges by spec (its defaults filled in).
func NewJudge(spec Spec) *Judge {
	if spec.Window <= 0 {
		spec.Window = DefaultWindow
	}
	if spec.MinRequests <= 0 {
		spec.MinRequests = DefaultMinRequests
	}
	return &Judge{spec: spec}
}

// SetBaseline takes the intervals measured before the first node was
// touched as the baseline.
func (j *Judge) SetBaseline(ivs []probe.Interval) Figures {
	f := figures(ivs)
	j.baseline = &f
	return f
}

// Baseline is the baseline's figures, if one was set.
func (j *Judge) Baseline() (Figures, bool) {
	if j.baseline == nil {
		return Figures{}, false
	}
	return *j.baseline, true
}

// Observe adds complete intervals (in order) and judges the window that
// ends with the last of them. It returns the first breach it sees.
func (j *Judge) Observe(ivs ...probe.Interval) *Breach {
	n := max(1, int(j.spec.Window/probe.SeriesStep))
	for _, iv := range ivs {
		j.recent = append(j.recent, iv)
		if len(j.recent) > n {
			j.recent = slices.Delete(j.recent, 0, len(j.recent)-n)
		}
		if len(j.recent) < n {
			continue // a window is judged whole: one slow second is not a slow version
		}
		if b := j.judge(); b != nil {
			return b
		}
	}
	return nil
}

// Window is the current window's figures.
func (j *Judge) Window() Figures { return figures(j.recent) }

func (j *Judge) judge() *Breach {
	f := figures(j.recent)
	if f.Requests < j.spec.MinRequests {
		return nil
	}
	s := j.spec
	if s.MaxErrorPercent > 0 && f.ErrorPercent > s.MaxErrorPercent {
		return &Breach{Gate: "errorRate", Figures: f, Threshold: fmt.Sprintf("%g%%", s.MaxErrorPercent)}
	}
	if s.MaxP99 > 0 && f.P99MS > ms(s.MaxP99) {
		return &Breach{Gate: "latency", Figures: f, Threshold: s.MaxP99.String()}
	}
	if s.MaxP99Increase > 0 && j.baseline != nil && f.P99MS-j.baseline.P99MS > ms(s.MaxP99Increase) {
		return &Breach{Gate: "latencyIncrease", Figures: f, Threshold: s.MaxP99Increase.String(), BaselineP99MS: j.baseline.P99MS}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// figures sums intervals up: requests and failures, and the median of the
// p99s of the seconds that had requests.
func figures(ivs []probe.Interval) Figures {
	var f Figures
	var p99s []float64
	for i, iv := range ivs {
		if i == 0 {
			f.From = iv.Start
		}
		f.To = iv.Start.Add(probe.SeriesStep)
		f.Requests += iv.Requests
		f.Failed += iv.Failed
		if iv.Requests > iv.Failed {
			p99s = append(p99s, iv.P99MS)
		}
	}
	if f.Requests > 0 {
		f.ErrorPercent = 100 * float64(f.Failed) / float64(f.Requests)
	}
	if len(p99s) > 0 {
		slices.Sort(p99s)
		f.P99MS = p99s[len(p99s)/2]
	}
	return f
}
