package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zdu-dev/zdu/engine/run"
)

func isTerminal(w io.Writer) bool {
	f, ok := unwrapFile(w)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// lockedWriter serializes writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// interrupts turns signals and a closed output into the run's graceful stop:
// no new step starts, the running ones get grace to finish, compensations
// run, the summary is written. A second signal cancels the running steps
// at once (compensations still run).
func interrupts(r *run.Runner, sigs <-chan os.Signal, broken <-chan string, done <-chan struct{},
	abort context.CancelFunc, grace time.Duration, stderr io.Writer) {
	stopping := false
	for {
		var why string
		select {
		case <-done:
			return
		case s := <-sigs:
			if stopping {
				fmt.Fprintf(stderr, "zdu: %s again: aborting the running steps; compensations still run\n", signalName(s))
				r.Abort(signalName(s) + " again")
				abort()
				return
			}
			why = signalName(s)
		case w := <-broken:
			if stopping {
				continue
			}
			why = w + " was closed"
		}
		stopping = true
		fmt.Fprintf(stderr, "zdu: %s: stopping: no new step starts; running steps get %s (a signal again aborts them)\n", why, grace)
		r.StopFor(why)
	}
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// outputGuard passes writes to an output (stdout, stderr) until one fails
// (a closed pipe, a lost terminal): it then reports the output as broken,
// once, and discards what follows, so nothing written later fails.
type outputGuard struct {
	w      io.Writer
	name   string
	broken chan<- string
	dead   atomic.Bool
}

func (g *outputGuard) Write(p []byte) (int, error) {
	if g.dead.Load() {
		return len(p), nil
	}
	if _, err := g.w.Write(p); err != nil {
		if !g.dead.Swap(true) {
			select {
			case g.broken <- g.name:
			default:
			}
		}
	}
	return len(p), nil
}
