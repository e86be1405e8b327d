package probe

import (
	"slices"
	"sync"
	"time"
)

// SeriesStep is the width of an Interval.
const SeriesStep = time.Second

// Interval is what the probe saw of the requests it sent during one
// SeriesStep of its run (by send time): how many, how many failed, and
// their latency (nearest-rank, over the requests actually sent). A run's
// intervals, one after the other, show when the service slowed or failed.
type Interval struct {
	Start    time.Time `json:"start"`
	Requests int64     `json:"requests"`
	Failed   int64     `json:"failed"`
	P50MS    float64   `json:"p50_ms"`
	P99MS    float64   `json:"p99_ms"`
	MaxMS    float64   `json:"max_ms"`
}

// Intervals returns the probe's intervals from the from-th on, as far as
// they are complete: an interval is complete once the probe has sent a
// request in a later one (or stopped) and every request of its own has
// ended. They can be read while the probe runs; after Stop, all are there.
func (p *Probe) Intervals(from int) []Interval {
	return p.series.since(from)
}

// series sums the requests up by interval as they end, so that the
// figures can be read while the probe runs (the samples cannot: the
// request goroutines write them). Only the sender calls begin, in send
// order.
type series struct {
	start time.Time
	step  time.Duration

	mu      sync.Mutex
	open    map[int64]*bucket
	next    int64 // the first interval not yet complete
	sending int64 // the interval of the latest request sent
	stopped bool
	done    []Interval
}

type bucket struct {
	requests, failed, pending int64
	lats                      []uint32
}

func newSeries(start time.Time, step time.Duration) *series {
	return &series{start: start, step: step, open: map[int64]*bucket{}}
}

// begin counts a request sent (or counted as saturated) at offset at from
// the start, and returns its interval for end.
func (s *series) begin(at time.Duration) int64 {
	i := int64(at / s.step)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.open[i]
	if b == nil {
		b = &bucket{}
		s.open[i] = b
	}
	b.requests++
	b.pending++
	s.sending = max(s.sending, i)
	s.complete()
	return i
}

// end records how a request of interval i ended; lat counts only when sent.
func (s *series) end(i int64, lat uint32, sent, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.open[i]
	b.pending--
	if !ok {
		b.failed++
	}
	if sent {
		b.lats = append(b.lats, lat)
	}
	s.complete()
}

// stop marks every interval complete once its requests have ended: no
// request is sent any more.
func (s *series) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.complete()
}

// complete moves the intervals that are complete, in order, from open to
// done. An interval with no request at all (a stalled sender) is done
// with zero requests. Called with mu held.
func (s *series) complete() {
	for {
		b := s.open[s.next]
		last := s.sending
		if s.stopped && len(s.open) == 0 {
			return
		}
		if s.stopped {
			last = s.next + 1 // every interval may close
		}
		if s.next >= last || (b != nil && b.pending > 0) {
			return
		}
		iv := Interval{Start: s.start.Add(time.Duration(s.next) * s.step).UTC()}
		if b != nil {
			slices.Sort(b.lats)
			iv.Requests, iv.Failed = b.requests, b.failed
			iv.P50MS = usToMS(percentile(b.lats, 50))
			iv.P99MS = usToMS(percentile(b.lats, 99))
			iv.MaxMS = usToMS(percentile(b.lats, 100))
			delete(s.open, s.next)
		}
		s.done = append(s.done, iv)
		s.next++
	}
}

func (s *series) since(from int) []Interval {
	s.mu.Lock()
	defer s.mu.Unlock()
	if from < 0 || from >= len(s.done) {
		return nil
	}
	return slices.Clone(s.done[from:])
}
