package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncFile is a journal file that records what was written and what an
// fsync covered: durable is the length written when the last successful
// Sync started, as a real fsync guarantees no more.
type syncFile struct {
	mu      sync.Mutex
	data    bytes.Buffer
	durable int
	syncs   int
	fail    error
	// gate, when set, holds the first Sync until release is closed.
	gate    func(f *syncFile)
	changed chan struct{}
}

func newSyncFile() *syncFile { return &syncFile{changed: make(chan struct{}, 1024)} }

func (f *syncFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data.Write(p)
	select {
	case f.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (f *syncFile) Sync() error {
	f.mu.Lock()
	covered, gate := f.data.Len(), f.gate
	f.gate = nil
	f.mu.Unlock()
	if gate != nil {
		gate(f)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	if f.fail != nil {
		return f.fail
	}
	f.durable = max(f.durable, covered)
	return nil
}

func (f *syncFile) Close() error { return nil }

// lines returns how many whole lines were written.
func (f *syncFile) lines() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Count(f.data.Bytes(), []byte("\n"))
}

// durableHas reports whether the line holding marker is written and
// wholly within what an fsync covered.
func (f *syncFile) durableHas(marker string) (written, durable bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.data.Bytes()
	i := bytes.Index(b, []byte(marker))
	if i < 0 {
		return false, false
	}
	end := i + bytes.IndexByte(b[i:], '\n') + 1
	return true, end <= f.durable
}

// orderSink checks what the Sink interface promises: events in seq order,
// an announcing event only once it is on disk.
type orderSink struct {
	f    *syncFile
	mu   sync.Mutex
	last int
	seen []string
	errs []string
}

func (s *orderSink) Event(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Seq <= s.last {
		s.errs = append(s.errs, fmt.Sprintf("event %d after %d", e.Seq, s.last))
	}
	s.last = e.Seq
	if Syncs(e) {
		if _, durable := s.f.durableHas(`"step":"` + e.Step + `"`); !durable {
			s.errs = append(s.errs, fmt.Sprintf("sink got %s before it was on disk", e.Step))
		}
	}
	s.seen = append(s.seen, e.Step)
}

// TestAppendDurableBeforeReturn: an event announcing an action is on disk
// (covered by a completed fsync) when Append returns; the events between
// two such are not synced on their own.
func TestAppendDurableBeforeReturn(t *testing.T) {
	f := newSyncFile()
	sink := &orderSink{f: f}
	j := newJournal(f, "r", nil, []Sink{sink})
	steps := []struct {
		state string
		sync  bool
	}{{Started, true}, {Passed, false}, {Started, true}, {Failed, false}, {Started, true}}
	for i, st := range steps {
		name := fmt.Sprintf("s%d", i)
		if err := j.Append(Event{Kind: KindStep, State: st.state, Node: "n", Step: name}); err != nil {
			t.Fatal(err)
		}
		written, durable := f.durableHas(`"step":"` + name + `"`)
		if !written || (st.sync && !durable) {
			t.Errorf("after Append of %s (%s): written %v, on disk %v", name, st.state, written, durable)
		}
	}
	if f.syncs != 3 {
		t.Errorf("%d fsyncs for 3 announcing events, want 3", f.syncs)
	}
	if len(sink.seen) != len(steps) || len(sink.errs) > 0 {
		t.Errorf("sink saw %v, problems %v", sink.seen, sink.errs)
	}
}

// TestAppendGroupCommit: appenders running at once share an fsync. The
// first fsync is held until every appender has written its event, which
// it can only do if the fsync runs without the journal's lock; the next
// fsync then covers all the others. Each Append returns only once its
// own event is on disk.
func TestAppendGroupCommit(t *testing.T) {
	const writers = 8
	f := newSyncFile()
	f.gate = func(f *syncFile) {
		// Not a timing assertion: a journal that holds its lock while it
		// syncs never lets the others write; after a minute the test goes
		// on and fails on the count of fsyncs below instead of hanging.
		deadline := time.After(time.Minute)
		for f.lines() < writers {
			select {
			case <-f.changed:
			case <-deadline:
				return
			}
		}
	}
	sink := &orderSink{f: f}
	j := newJournal(f, "r", nil, []Sink{sink})
	var wg sync.WaitGroup
	problems := make(chan string, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("w%d", w)
			if err := j.Append(Event{Kind: KindStep, State: Started, Node: name, Step: name}); err != nil {
				problems <- err.Error()
				return
			}
			if _, durable := f.durableHas(`"step":"` + name + `"`); !durable {
				problems <- name + ": Append returned before its event was on disk"
			}
		}()
	}
	wg.Wait()
	close(problems)
	for p := range problems {
		t.Error(p)
	}
	if f.syncs != 2 {
		t.Errorf("%d fsyncs for %d concurrent announcing events, want 2 (the first, then one for all the others)", f.syncs, writers)
	}
	if len(sink.seen) != writers || len(sink.errs) > 0 {
		t.Errorf("sink saw %v, problems %v", sink.seen, sink.errs)
	}
}

// TestAppendSyncFailure: when an fsync fails, the events it was to cover
// fail, and so does every later announcing event (what is on disk is no
// longer known); none of them reaches the sinks.
func TestAppendSyncFailure(t *testing.T) {
	f := newSyncFile()
	sink := &orderSink{f: f}
	j := newJournal(f, "r", nil, []Sink{sink})
	if err := j.Append(Event{Kind: KindStep, State: Started, Step: "ok"}); err != nil {
		t.Fatal(err)
	}
	f.fail = errors.New("input/output error")
	err := j.Append(Event{Kind: KindStep, State: Started, Step: "lost"})
	if err == nil || !strings.Contains(err.Error(), "syncing journal: input/output error") {
		t.Fatalf("Append over a failing fsync: %v", err)
	}
	f.fail = nil
	if err := j.Append(Event{Kind: KindUndo, State: Started, Step: "later"}); err == nil {
		t.Error("an announcing event after a failed fsync was accepted")
	}
	if err := j.Append(Event{Kind: KindStep, State: Passed, Step: "end"}); err != nil {
		t.Errorf("an event that needs no fsync: %v", err)
	}
	if want := []string{"ok", "end"}; fmt.Sprint(sink.seen) != fmt.Sprint(want) || len(sink.errs) > 0 {
		t.Errorf("sink saw %v (problems %v), want %v", sink.seen, sink.errs, want)
	}
}

// TestAppendConcurrentFile: many appenders on a real file; every event is
// in the file once, in seq order, and the sinks got them all in order.
func TestAppendConcurrentFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	sink := &collect{}
	var mu sync.Mutex
	j, err := Create(path, "r", nil, sinkFunc(func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		sink.Event(e)
	}))
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				for _, st := range []string{Started, Passed} {
					if err := j.Append(Event{Kind: KindStep, State: st, Node: fmt.Sprint(w), Step: fmt.Sprint(i)}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each*2 || len(sink.got) != len(got) {
		t.Fatalf("%d events in the file, %d at the sink, want %d", len(got), len(sink.got), writers*each*2)
	}
	for i := range got {
		if got[i].Seq != i+1 || sink.got[i].Seq != i+1 {
			t.Fatalf("event %d: seq %d in the file, %d at the sink", i, got[i].Seq, sink.got[i].Seq)
		}
	}
}

type sinkFunc func(Event)

func (f sinkFunc) Event(e Event) { f(e) }
