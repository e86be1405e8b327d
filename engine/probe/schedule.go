package probe

import (
	"context"
	"time"
)

// When the sender fell behind its schedule (a GC pause, a loaded machine) it
// sends the overdue requests back to back, but only up to maxCatchUp of them
// or minCatchUp's worth at high rates, where timer wake-ups alone are late by
// more than a few intervals. Further behind than that, it starts a new
// schedule from now: a burst of every missed request would load the service
// with what the probe itself caused.
const (
	maxCatchUp = 5
	minCatchUp = 10 * time.Millisecond
)

// timetable is the open loop's schedule, apart from the clock so that its
// rules can be checked without one: request i is due at base+i/rate.
type timetable struct {
	rate   float64
	maxLag time.Duration // how late a request may go out before a new schedule starts
	base   time.Time
	i      int64
}

func newTimetable(start time.Time, rate float64) timetable {
	return timetable{
		rate:   rate,
		maxLag: max(maxCatchUp*time.Duration(float64(time.Second)/rate), minCatchUp),
		base:   start,
	}
}

// due is when the next request is due.
func (t *timetable) due() time.Time {
	return t.base.Add(time.Duration(float64(t.i) * float64(time.Second) / t.rate))
}

// sent records that the next request went out at now, and starts a new
// schedule from now when that was more than maxLag after it was due.
func (t *timetable) sent(now time.Time) {
	if now.Sub(t.due()) > t.maxLag {
		t.base, t.i = now, 0
	}
	t.i++
}

// send runs the schedule until Stop or ctx ends.
func (p *Probe) send(ctx context.Context) {
	defer close(p.sendDone)
	tt := newTimetable(p.start, p.cfg.Rate)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if wait := time.Until(tt.due()); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-p.stop:
				return
			case <-ctx.Done():
				return
			}
		} else {
			select {
			case <-p.stop:
				return
			case <-ctx.Done():
				return
			default:
			}
		}
		tt.sent(time.Now())
		p.launch()
	}
}

// launch sends one request in its own goroutine, or counts it as failed when
// the in-flight bound is reached. Only the sender calls it.
func (p *Probe) launch() {
	s := p.samples.next()
	t0 := time.Now()
	s.at = t0.Sub(p.start)
	iv := p.series.begin(s.at)
	if p.inFlight.Add(1) > p.maxInFlight {
		p.inFlight.Add(-1)
		p.fail(reasonSaturated)
		p.series.end(iv, 0, false, false)
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.inFlight.Add(-1)
		reason, srv := p.get(context.Background())
		s.lat = micros(time.Since(t0))
		s.srv = p.serverIndex(srv)
		s.sent = true
		s.ok = reason == ""
		if !s.ok {
			p.fail(reason)
		}
		p.series.end(iv, s.lat, true, s.ok)
	}()
}
