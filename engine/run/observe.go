package run

import (
	"context"
	"sync"

	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/journal"
)

// Observer watches a run from outside it, such as the availability probe
// sending traffic through the load balancer. Finish is called once, after
// compensation has put every node back, before the run's last event: what
// it found is journaled, and it may fail a run that otherwise passed.
type Observer interface {
	Finish(ctx context.Context) Finding
}

// Watcher is an Observer that also reports while the run goes on (the
// probe's live figures): Watch runs on a goroutine of its own from the
// run's start until stop is closed, journaling what it sees through emit
// (a progress event of the kind given).
type Watcher interface {
	Watch(stop <-chan struct{}, emit func(kind string, detail map[string]any))
}

// watch starts every Watcher among the observers; the returned function
// stops them and waits until they have returned.
func (r *Runner) watch() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	emit := func(kind string, detail map[string]any) {
		r.event(journal.Event{Kind: kind, State: journal.Progress, Detail: detail})
	}
	for _, o := range r.Observers {
		if w, ok := o.(Watcher); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.Watch(done, emit)
			}()
		}
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// Finding is what an Observer reports when the run ends.
type Finding struct {
	// Kind is the journal kind of its event (journal.KindProbe).
	Kind   string
	Detail map[string]any
	// Err, when set, fails a run that otherwise passed with Status and
	// ExitCode. A run that already failed keeps its own (the root cause).
	Err      error
	Status   string
	ExitCode int
}

// finishObservers journals every observer's finding and returns res, failed
// by the first finding with an error when res had passed.
func (r *Runner) finishObservers(ctx context.Context, res Result) Result {
	for _, o := range r.Observers {
		f := o.Finish(ctx)
		e := journal.Event{Kind: f.Kind, State: journal.Passed, Detail: f.Detail}
		if f.Err != nil {
			if f.ExitCode == exitcode.OK {
				f.ExitCode = exitcode.Fatal // a failing finding never passes a run
			}
			e.State, e.Error, e.ExitCode = journal.Failed, f.Err.Error(), journal.Code(f.ExitCode)
			if res.ExitCode == exitcode.OK {
				res = Result{Status: f.Status, ExitCode: f.ExitCode, Err: f.Err}
			}
		}
		r.event(e)
	}
	return res
}
