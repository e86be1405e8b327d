// Package journal is the run's record: every state change (run, phase, node,
// step, rollback, compensation) as one JSON line in journal.jsonl. An event
// that announces an action (a step, a rollback step or a compensation
// starting) is synced to disk before the action; the events between two
// such (a step's end, a node's, a barrier's) go to disk with the next one,
// or when the journal is closed. Events of nodes running at once share an
// fsync (group commit, see Append). The summary, the node logs' frames and
// the live output are derived from these events, and a resumed run reads
// them back.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// Kinds of things an event is about.
const (
	KindRun      = "run"
	KindPhase    = "phase"
	KindNode     = "node"
	KindStep     = "step"
	KindRollback = "rollback" // a rollback's step on a node
	KindUndo     = "undo"     // a compensation (e.g. re-enabling a drained node)
	KindRule     = "rule"     // a rollback-on rule armed on a node
	KindBatch    = "batch"    // the barrier after a batch of a phase's nodes
	KindDrift    = "drift"    // a node's drain found lost (detected), then redone (passed) or not (failed)
	KindProbe    = "probe"    // an observer's finding, e.g. the availability probe's figures
	KindGate     = "gate"     // the live gates: their baseline (passed), a breach (failed)
	KindCanary   = "canary"   // a phase's canary pause: started, waiting (for zdu approve), passed or failed
	// Progress of something under way (state Progress): what the live view
	// shows between a start and its end. Readers that want outcomes only
	// skip these kinds.
	KindPoll    = "poll"    // a wait step looked: detail.polls, detail.seen, detail.ok
	KindLB      = "lb"      // a load balancer instance's state for a node: detail.lb, instance, server, state, sessions, queue
	KindTraffic = "traffic" // the availability probe's live figures over the last interval: detail.rps, failed, p99_ms, ...
)

// States an event reports.
const (
	Started    = "started"
	Passed     = "passed"
	Failed     = "failed"
	Skipped    = "skipped"
	Retrying   = "retrying"
	Blocked    = "blocked" // not run because an earlier step or node failed
	Armed      = "armed"
	RolledBack = "rolled-back"
	Cancelled  = "cancelled"
	Kept       = "kept"     // a compensation kept from running: the node stays out of service
	Detected   = "detected" // drift: what a step left (a drain) no longer holds
	Settled    = "settled"  // a compensation made unnecessary by a later step (the enable after a drain)
	Resumed    = "resumed"  // the run goes on in another process (zdu resume)
	Stopping   = "stopping" // the run was asked to stop (a signal, a closed output): detail.reason
	Aborting   = "aborting" // ... and then to cancel its running steps at once
	// Waiting: something waits before it can go on. A canary's pause
	// waits for an operator (zdu approve / abort); a step attempt waits on
	// something outside its node (a load balancer's pool to recover):
	// detail.for says what, detail.message in words, detail.until when it
	// gives up. Not an end: what waits goes on and ends as usual.
	Waiting = "waiting"
	// Progress reports figures of something under way (kinds poll, lb,
	// traffic); it neither starts nor ends anything.
	Progress = "progress"
)

// Event is one line of the journal. Fields not meaningful for a kind are empty.
type Event struct {
	Seq      int       `json:"seq"`
	Time     time.Time `json:"time"`
	Run      string    `json:"run"`
	Kind     string    `json:"kind"`
	State    string    `json:"state"`
	Phase    string    `json:"phase,omitempty"`
	Node     string    `json:"node,omitempty"`
	Step     string    `json:"step,omitempty"`
	Rollback string    `json:"rollback,omitempty"`
	// Vertex is the id of the graph vertex whose run wrote the event (see
	// zdu graph); empty for the run's own events.
	Vertex   string `json:"vertex,omitempty"`
	Attempt  int    `json:"attempt,omitempty"`
	ExitCode *int   `json:"exitCode,omitempty"`
	Error    string `json:"error,omitempty"`
	// Detail carries kind-specific data: the plan and its phases for a run
	// start, a phase's title and nodes, an undo's description.
	Detail map[string]any `json:"detail,omitempty"`
}

// IsProgress reports whether e only reports progress (a poll, a load
// balancer's state, the probe's live figures): it changes no outcome.
func IsProgress(e Event) bool { return e.State == Progress }

// Code returns a pointer to c, for Event.ExitCode.
func Code(c int) *int { return &c }

// Sink receives events after they are on disk.
type Sink interface {
	Event(e Event)
}

// Journal appends events to a file and hands them to sinks, in order.
type Journal struct {
	mu    sync.Mutex
	f     file
	run   string
	seq   int
	sinks []Sink
	mask  Masker
	now   func() time.Time
	// Group commit (see Append): written is the seq of the last event
	// written to the file, synced the last one known to be on disk;
	// syncing is set while one appender's fsync runs without the lock.
	// A failed fsync is kept in syncErr: the file's state on disk is then
	// unknown (Linux may drop the dirty pages), so no later event can be
	// made durable either.
	written, synced int
	syncing         bool
	syncErr         error
	// queue holds the events written but not yet handed to the sinks, in
	// seq order: an announcing event goes to them only once it is on
	// disk, and the events after it wait for it.
	queue     []queued
	delivered int // seq of the last event handed to the sinks (or dropped)
	changed   *sync.Cond
}

// file is what the journal needs of its file (an *os.File; a test wraps
// it to see the writes and syncs).
type file interface {
	io.Writer
	Sync() error
	Close() error
}

type queued struct {
	e    Event
	sync bool
	// dropped: the event never reached the file (its Append failed); it
	// only holds its place in the order.
	dropped bool
}

func newJournal(f file, run string, mask Masker, sinks []Sink) *Journal {
	j := &Journal{f: f, run: run, sinks: sinks, mask: mask, now: time.Now}
	j.changed = sync.NewCond(&j.mu)
	return j
}

// Create opens path for a new run's journal.
func Create(path, run string, mask Masker, sinks ...Sink) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating journal: %w", err)
	}
	return newJournal(f, run, mask, sinks), nil
}

// Open opens an existing run's journal to go on appending to it (a resumed
// run): its sequence numbers go on from the last event, and a torn last
// line (a crash in the middle of a write) is cut off first. It returns the
// events already there.
func Open(path, run string, mask Masker, sinks ...Sink) (*Journal, []Event, error) {
	data, err := readNoFollow(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening journal: %w", err)
	}
	whole := len(data)
	if whole > 0 && data[whole-1] != '\n' {
		whole = bytes.LastIndexByte(data, '\n') + 1
	}
	events, err := Read(bytes.NewReader(data[:whole]))
	if err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening journal: %w", err)
	}
	if err := f.Truncate(int64(whole)); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cutting the journal's torn last line: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, nil, err
	}
	j := newJournal(f, run, mask, sinks)
	if n := len(events); n > 0 {
		j.seq = events[n-1].Seq
		j.written, j.synced, j.delivered = j.seq, j.seq, j.seq
	}
	return j, events, nil
}

// Masker hides secrets in the events' texts (engine/mask.Masker).
type Masker interface {
	Mask(s string) string
	// Secrets reports whether there is anything to hide.
	Secrets() bool
}

// Append writes e, syncs the file when e announces an action (see Syncs),
// then passes e to the sinks. An error means the record is not durable; the
// runner treats it as fatal.
//
// Append returns only once e is on disk if it announces an action, and once
// the sinks have had it (and every event before it). Appends of concurrent
// callers share an fsync (group commit): each writes its line under the
// lock; one caller whose event must be synced runs the fsync without the
// lock, covering every line written before it started, while the others
// go on writing; the callers whose events it did not cover wait for the
// next one, which one of them runs. Fewer fsyncs than announcing events
// under concurrency, and never an action announced by an event not yet on
// disk.
func (j *Journal) Append(e Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	seq := j.seq
	e.Seq, e.Run, e.Time = seq, j.run, j.now().UTC()
	// Masked value by value, not as JSON text: a secret that looks like a
	// piece of JSON must not break the line. The sinks get it masked too.
	if j.mask != nil && j.mask.Secrets() {
		e.Error = j.mask.Mask(e.Error)
		if e.Detail != nil {
			e.Detail, _ = maskValue(e.Detail, j.mask.Mask).(map[string]any)
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		j.drop(seq)
		return fmt.Errorf("encoding journal event: %w", err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		j.drop(seq)
		return fmt.Errorf("writing journal: %w", err)
	}
	j.written = seq
	mustSync := Syncs(e)
	j.queue = append(j.queue, queued{e: e, sync: mustSync})
	if mustSync {
		for j.synced < seq && j.syncErr == nil {
			if j.syncing {
				j.changed.Wait()
				continue
			}
			j.syncLocked()
		}
		if j.synced < seq {
			j.deliver()
			return fmt.Errorf("syncing journal: %w", j.syncErr)
		}
	}
	j.deliver()
	// An event after one still waiting for its fsync waits too, so the
	// sinks see events in order and have seen e when Append returns.
	for j.delivered < seq {
		j.changed.Wait()
	}
	return nil
}

// syncLocked runs one fsync without the lock (held on entry and on
// return), covering every event written so far, then hands what it made
// durable to the sinks and wakes the waiting appenders.
func (j *Journal) syncLocked() {
	target := j.written
	j.syncing = true
	j.mu.Unlock()
	err := j.f.Sync()
	j.mu.Lock()
	j.syncing = false
	if err != nil {
		if j.syncErr == nil {
			j.syncErr = err
		}
	} else {
		j.synced = max(j.synced, target)
	}
	j.deliver()
	j.changed.Broadcast()
}

// deliver hands the queued events to the sinks, in order, up to the first
// one that must be on disk and is not yet. After a failed fsync, events
// that could not be made durable are dropped (their Append fails), as an
// event whose write failed is.
func (j *Journal) deliver() {
	n := 0
	for _, q := range j.queue {
		if q.dropped {
			// nothing to hand over
		} else if q.sync && q.e.Seq > j.synced {
			if j.syncErr == nil {
				break
			}
		} else {
			for _, s := range j.sinks {
				s.Event(q.e)
			}
		}
		j.delivered = q.e.Seq
		n++
	}
	if n > 0 {
		j.queue = append(j.queue[:0], j.queue[n:]...)
		j.changed.Broadcast()
	}
}

// drop accounts for an event that never reached the file: the sinks do
// not get it, and the events after it need not wait for it.
func (j *Journal) drop(seq int) {
	j.queue = append(j.queue, queued{e: Event{Seq: seq}, dropped: true})
	j.deliver()
}

// Syncs reports whether e announces an action, and so must be on disk
// before the action starts: a step attempt, a rollback step or a
// compensation starting. What happened before it is synced with it.
func Syncs(e Event) bool {
	if e.State != Started {
		return false
	}
	switch e.Kind {
	case KindStep, KindRollback, KindUndo:
		return true
	}
	return false
}

// Close syncs and closes the file (after an fsync under way ends).
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.syncing {
		j.changed.Wait()
	}
	err := j.f.Sync()
	if err == nil {
		j.synced = j.written
	} else if j.syncErr == nil {
		j.syncErr = err
	}
	j.deliver()
	return errors.Join(err, j.f.Close())
}

// Read parses a journal. A torn last line (a crash mid-write) is ignored;
// any other bad line is an error naming its number.
func Read(r io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	var pending error
	for sc.Scan() {
		line++
		if pending != nil {
			return nil, pending
		}
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			pending = fmt.Errorf("journal line %d: %w", line, err)
			continue
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// maskValue returns v with every string in it masked (maps and slices
// copied, never changed in place: a Detail map may be shared).
func maskValue(v any, mask func(string) string) any {
	switch x := v.(type) {
	case string:
		return mask(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = maskValue(val, mask)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = maskValue(val, mask)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, val := range x {
			out[i] = mask(val)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, val := range x {
			out[k] = mask(val)
		}
		return out
	case error:
		return mask(x.Error())
	}
	return v
}

// readNoFollow reads a file that must not be a symlink.
func readNoFollow(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
