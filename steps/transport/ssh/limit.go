package ssh

import (
	"context"
	"sync"
)

// sessionLimit bounds concurrent sessions on one connection. It starts at
// Config.MaxSessions and learns a lower server limit: when the server refuses
// a session while k are open, it allows at most k from then on, so waiting
// commands queue here in order instead of hammering the server.
type sessionLimit struct {
	mu    sync.Mutex
	limit int
	inUse int
	wake  chan struct{} // closed (and replaced) whenever a slot frees
}

func newSessionLimit(n int) *sessionLimit {
	return &sessionLimit{limit: n, wake: make(chan struct{})}
}

func (l *sessionLimit) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.inUse < l.limit {
			l.inUse++
			l.mu.Unlock()
			return nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *sessionLimit) release() {
	l.mu.Lock()
	l.inUse--
	close(l.wake)
	l.wake = make(chan struct{})
	l.mu.Unlock()
}

// refused records that the server turned down a session while the caller
// held a slot: the others in use are all the server allows.
func (l *sessionLimit) refused() {
	l.mu.Lock()
	if open := l.inUse - 1; open >= 1 && open < l.limit {
		l.limit = open
	}
	l.mu.Unlock()
}
