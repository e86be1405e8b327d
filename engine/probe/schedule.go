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

// send runs the schedule: request i at base+i/rate, until Stop or ctx ends.
func (p *Probe) send(ctx context.Context) {
	defer close(p.sendDone)
	maxLag := max(maxCatchUp*time.Duration(float64(time.Second)/p.cfg.Rate), minCatchUp)
	due := func(base time.Time, i int64) time.Time {
		return base.Add(time.Duration(float64(i) * float64(time.Second) / p.cfg.Rate))
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	base, i := p.start, int64(0)
	for {
		next := due(base, i)
		if wait := time.Until(next); wait > 0 {
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
		if time.Since(next) > maxLag {
			base, i = time.Now(), 0
		}
		p.launch()
		i++
	}
}

// launch sends one request in its own goroutine, or counts it as failed when
// the in-flight bound is reached. Only the sender calls it.
func (p *Probe) launch() {
	s := p.samples.next()
	t0 := time.Now()
	s.at = t0.Sub(p.start)
	if p.inFlight.Add(1) > p.maxInFlight {
		p.inFlight.Add(-1)
		p.fail(reasonSaturated)
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.inFlight.Add(-1)
		reason := p.get(context.Background())
		s.lat = micros(time.Since(t0))
		s.sent = true
		s.ok = reason == ""
		if !s.ok {
			p.fail(reason)
		}
	}()
}
