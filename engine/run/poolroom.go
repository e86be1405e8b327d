package run

// Room in a Pool: the idle lists, the queue of uses waiting for room, and
// closing a connection to make some.

import (
	"context"
	"time"
)

// stallGrace is how long a node waiting for room waits, while nothing runs
// and no dial is in flight, before it closes the idle connection of a node
// in the middle of a phase (which would otherwise keep its room until the
// phase ends).
const stallGrace = time.Second

// waitRoom waits, p.mu held (released meanwhile), until room may have
// freed, or ctx is done. With stall, it also ends, reporting stalled, once
// it has waited stallGrace.
func (p *Pool) waitRoom(ctx context.Context, stall bool) (stalled bool, err error) {
	ch := make(chan struct{}, 1)
	w := p.waiters.PushBack(ch)
	p.mu.Unlock()
	var timeout <-chan time.Time
	if stall {
		t := time.NewTimer(stallGrace)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ch:
		p.mu.Lock()
		return false, nil
	case <-timeout:
		stalled = true
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	p.waiters.Remove(w)
	if len(ch) > 0 {
		p.signal() // woken meanwhile: the room goes to the next one
	}
	return stalled, err
}

// signal wakes the first use waiting for room; p.mu is held.
func (p *Pool) signal() {
	if w := p.waiters.Front(); w != nil {
		p.waiters.Remove(w)
		w.Value.(chan struct{}) <- struct{}{}
	}
}

// passOn wakes the first use waiting for room if there is room to take
// (free, or an idle connection to close): a use woken for room it did not
// take (its node was opened meanwhile) passes it on; p.mu is held.
func (p *Pool) passOn() {
	if p.waiters.Len() > 0 && (p.open < p.lim.MaxOpen || p.idle.Len() > 0) {
		p.signal()
	}
}

// evictStalled closes the least recently used idle connection of a node in
// the middle of a phase when nothing can free room otherwise: no use and
// no dial in flight, the cap taken by nodes that have begun a phase and
// are idle (between steps, or halted by a failure); p.mu is held.
func (p *Pool) evictStalled() {
	if p.open < p.lim.MaxOpen || p.inUse > 0 || p.inFlight > 0 || p.idle.Len() > 0 {
		return
	}
	if victim := p.idleBusy.Front(); victim != nil {
		p.stats.Stalled++
		p.evict(victim.Value.(*poolEntry))
	}
}

// evict closes e's idle connection to make room; p.mu is held, and
// released and taken again meanwhile.
func (p *Pool) evict(e *poolEntry) {
	c := p.detach(e)
	p.mu.Unlock()
	p.free(c)
	p.mu.Lock()
}

// use starts one use of e's open connection; p.mu is held.
func (p *Pool) use(e *poolEntry) {
	if e.active == 0 && !e.pinned {
		p.inUse++
		if e.idleAt != nil {
			p.unidle(e)
		}
	}
	e.active++
}

// idleSince puts e, open and unused, at the end of its idle list; p.mu is
// held.
func (p *Pool) idleSince(e *poolEntry) {
	l := &p.idle
	if e.busy {
		l = &p.idleBusy
	}
	e.idleIn, e.idleAt = l, l.PushBack(e)
}

func (p *Pool) unidle(e *poolEntry) {
	e.idleIn.Remove(e.idleAt)
	e.idleIn, e.idleAt = nil, nil
}
