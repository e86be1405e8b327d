package state

import (
	"context"
	"errors"

	"github.com/zdu-dev/zdu/engine/journal"
)

// Backend is where the nodes' locks and the runs' records live: a local
// state directory (Dir, the default) or a store a team shares (etcd, see
// engine/state/etcdstate). Every implementation keeps the same promises:
// a lock names its holder; a lock left by a run that stopped without
// finishing stays until the run is resumed or unlocked (abandoned) by an
// operator, who is recorded; nothing is silently overwritten.
type Backend interface {
	// Lock records run and locks its nodes for it, or refuses with a
	// *HeldError naming the run holding any of them. A run may take over
	// its own locks (a resumption), unless its holder is still alive.
	Lock(run Run, nodes []Node) (Hold, error)
	// Unlock releases the locks of a run that is not running any more
	// (zdu unlock, zdu abandon) and records who did it.
	Unlock(id string) (released []string, err error)
	// Resumed records in run that this process resumes it.
	Resumed(run *Run)
	// Run reads a run's record; Runs lists them all, newest first.
	Run(id string) (Run, error)
	Runs() ([]Run, error)
	// Alive reports whether run's process still holds it.
	Alive(run Run) bool
	// Locks lists the locked nodes by the id of the run holding them.
	Locks() (map[string][]string, error)
	// String names the backend for messages (a path, an etcd URL).
	String() string
	Close() error
}

// Hold is a run's hold on its nodes.
type Hold interface {
	// Release gives the nodes back and records how the run ended.
	Release(status string, exitCode int) error
}

// Leased is a Hold that can be lost while the run goes on (an etcd lease
// that expired): Lost is closed then, and the run must stop before its
// next change.
type Leased interface {
	Lost() <-chan struct{}
}

// Recorder is a Backend that also keeps each run's record away from the
// host that runs it — its journal, the files it was started with — so that
// another host can follow it, report it and resume it.
type Recorder interface {
	// Journal returns the sink that copies run id's journal events to the
	// backend, in order, after the local journal has them. prior are the
	// events already in the local journal (a resumption): those the backend
	// lacks are sent first. problem is told of an outage (ok false) and of
	// its end (ok true), from any goroutine.
	Journal(id string, prior []journal.Event, problem func(ok bool, msg string)) (JournalSink, error)
	// PutFiles stores the files a run was started with (run.json, the
	// copies of the plan and inventory).
	PutFiles(id string, files map[string][]byte) error
	// Files reads them back.
	Files(id string) (map[string][]byte, error)
	// Events reads a run's journal as the backend has it.
	Events(id string) ([]journal.Event, error)
	// Watch passes fn the run's events after seq as they arrive, until ctx
	// ends or fn returns false.
	Watch(ctx context.Context, id string, after int, fn func(journal.Event) bool) error
}

// JournalSink is a journal.Sink that can be closed: Close waits (within
// ctx) for the events still queued to reach the backend and reports those
// that did not.
type JournalSink interface {
	journal.Sink
	Close(ctx context.Context) error
}

var (
	_ Backend = (*Dir)(nil)
	_ Hold    = (*Held)(nil)
)

// ErrNoRun matches (errors.Is) the error for a run the backend has no
// record of.
var ErrNoRun = errors.New("no such run")

// NoRunError says which run is unknown, and where.
type NoRunError string

func (e NoRunError) Error() string        { return string(e) }
func (e NoRunError) Is(target error) bool { return target == ErrNoRun }
