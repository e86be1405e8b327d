package run

import (
	"context"
	"sync"
	"time"
)

// pacer spaces the starts of dials: up to burst at once, then one every
// interval on average, so a fleet's preflight reaches a bastion or an
// authentication backend at a steady rate instead of all at once. It keeps
// the time the next start is due (a virtual schedule): a start may run
// ahead of it by burst intervals, no more.
type pacer struct {
	every time.Duration
	burst int
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu  sync.Mutex
	due time.Time
}

// newPacer paces perSecond starts a second with a burst of burst (at least
// 1); perSecond 0 or less is no pacing (nil).
func newPacer(perSecond float64, burst int) *pacer {
	if !(perSecond > 0) {
		return nil
	}
	return &pacer{every: time.Duration(float64(time.Second) / perSecond), burst: max(burst, 1),
		now: time.Now, sleep: func(ctx context.Context, d time.Duration) error {
			if !sleepCtx(ctx, d) {
				return ctx.Err()
			}
			return nil
		}}
}

// wait returns when a start is allowed, or ctx's error (the turn it had
// is given up, not taken back: later starts stay spaced).
func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	now := p.now()
	if earliest := now.Add(-time.Duration(p.burst-1) * p.every); p.due.Before(earliest) {
		p.due = earliest
	}
	at := p.due
	p.due = p.due.Add(p.every)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return p.sleep(ctx, d)
	}
	return ctx.Err()
}
