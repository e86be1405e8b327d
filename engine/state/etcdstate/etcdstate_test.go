package etcdstate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/state"
	"github.com/zdu-dev/zdu/engine/state/etcdstate"
	"github.com/zdu-dev/zdu/engine/state/etcdstate/etcdtest"
)

func open(t *testing.T, url string) *etcdstate.Backend {
	t.Helper()
	cfg, err := etcdstate.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := etcdstate.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func nodes(names ...string) []state.Node {
	var out []state.Node
	for _, n := range names {
		out = append(out, state.Node{Name: n, Endpoint: "127.0.0.1:22/" + n})
	}
	return out
}

// until polls cond for two minutes at most.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 2 minutes for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLocks: a run's nodes are locked under its lease. Another run touching
// any of them is refused naming the holder (run, host, user, start) while
// the holder lives; once the holder died and its lease expired, still
// refused, as unfinished, saying how to resume or abandon. The run itself,
// resumed, takes its locks over; released, they are free.
func TestLocks(t *testing.T) {
	c := etcdtest.Start(t, 3)
	url := c.URL("locks", "lease=2s")
	a := open(t, url)
	runA := state.NewRun("run-a", "p", "/runs/a", nodes("n1", "n2"))
	if _, err := a.Lock(runA, nodes("n1", "n2")); err != nil {
		t.Fatal(err)
	}
	b := open(t, url)
	_, err := b.Lock(state.NewRun("run-b", "p", "/runs/b", nodes("n2", "n3")), nodes("n2", "n3"))
	var held *state.HeldError
	if !errors.As(err, &held) || !held.Alive || held.Holder.ID != "run-a" || strings.Join(held.Nodes, ",") != "n2" {
		t.Fatalf("run-b on n2 while run-a holds it: %v", err)
	}
	for _, want := range []string{"run run-a", runA.Host, "user " + runA.User, runA.Started.Format(time.RFC3339), "still running"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %q", err, want)
		}
	}
	// run-a's process dies: its client goes, its lease is not kept alive.
	a.Close()
	until(t, "run-a's lease to expire", func() bool { return !b.Alive(runA) })
	_, err = b.Lock(state.NewRun("run-b", "p", "/runs/b", nodes("n3", "n1")), nodes("n3", "n1"))
	if !errors.As(err, &held) || held.Alive || held.Holder.ID != "run-a" {
		t.Fatalf("run-b on n1 after run-a died: %v", err)
	}
	for _, want := range []string{"stopped without finishing", "zdu resume run-a", "zdu abandon run-a"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if locks, err := b.Locks(); err != nil || len(locks["run-a"]) != 2 {
		t.Errorf("the locks after run-a died: %v, %v", locks, err)
	}
	// Resumed from another host: the run's own locks are taken over.
	r := open(t, url)
	rec, err := r.Run("run-a")
	if err != nil {
		t.Fatal(err)
	}
	r.Resumed(&rec)
	hold, err := r.Lock(rec, nodes("n1", "n2"))
	if err != nil {
		t.Fatalf("resuming run-a: %v", err)
	}
	// Resumed twice at once: refused.
	if _, err := b.Lock(rec, nodes("n1", "n2")); !errors.As(err, &held) || !held.Alive {
		t.Errorf("run-a resumed while a resumption holds it: %v", err)
	}
	if err := hold.Release("SUCCESS", 0); err != nil {
		t.Fatal(err)
	}
	rec, _ = b.Run("run-a")
	if rec.Ended == nil || rec.Status != "SUCCESS" || len(rec.Resumed) != 1 {
		t.Errorf("run-a's record after its release: %+v", rec)
	}
	hb, err := b.Lock(state.NewRun("run-b", "p", "/runs/b", nodes("n1", "n2", "n3")), nodes("n1", "n2", "n3"))
	if err != nil {
		t.Fatalf("run-b once run-a ended: %v", err)
	}
	hb.Release("SUCCESS", 0)
}

// TestAbandon: a dead run's nodes are released by zdu abandon, which
// records who; a live run is not abandoned.
func TestAbandon(t *testing.T) {
	c := etcdtest.Start(t, 3)
	url := c.URL("abandon", "lease=2s")
	a := open(t, url)
	runA := state.NewRun("run-a", "p", "/runs/a", nodes("n1"))
	if _, err := a.Lock(runA, nodes("n1")); err != nil {
		t.Fatal(err)
	}
	b := open(t, url)
	if _, err := b.Unlock("run-a"); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("abandoning a live run: %v", err)
	}
	a.Close()
	until(t, "run-a's lease to expire", func() bool { return !b.Alive(runA) })
	released, err := b.Unlock("run-a")
	if err != nil || strings.Join(released, ",") != "n1" {
		t.Fatalf("abandon: %v, %v", released, err)
	}
	rec, _ := b.Run("run-a")
	if rec.Unlocked == nil || rec.Unlocked.User == "" || rec.Unlocked.Host == "" {
		t.Errorf("the abandon is not recorded: %+v", rec)
	}
	h, err := b.Lock(state.NewRun("run-b", "p", "/runs/b", nodes("n1")), nodes("n1"))
	if err != nil {
		t.Fatalf("run-b after run-a was abandoned: %v", err)
	}
	h.Release("SUCCESS", 0)
}

func event(seq int, kind, st string) journal.Event {
	return journal.Event{Seq: seq, Time: time.Now().UTC(), Run: "run-j", Kind: kind, State: st, Node: fmt.Sprintf("n%d", seq%3)}
}

type problems struct {
	mu   sync.Mutex
	msgs []string
	down bool
}

func (p *problems) report(ok bool, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = !ok
	p.msgs = append(p.msgs, fmt.Sprintf("%v: %s", ok, msg))
}

func (p *problems) isDown() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.down }

// TestJournal: events reach etcd in order; a watcher sees them as they
// come; with every member down an action's event does not wait for etcd
// forever, the outage is reported, and once etcd is back what queued meanwhile
// is sent, in order, and the outage recorded.
func TestJournal(t *testing.T) {
	c := etcdtest.Start(t, 3)
	url := c.URL("journal", "timeout=2s")
	b := open(t, url)
	var p problems
	prior := []journal.Event{event(1, journal.KindRun, journal.Started)}
	sink, err := b.Journal("run-j", prior, p.report)
	if err != nil {
		t.Fatal(err)
	}
	watched := make(chan journal.Event, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = open(t, url).Watch(ctx, "run-j", 0, func(e journal.Event) bool { watched <- e; return true })
	}()
	seq := 1
	for range 250 {
		seq++
		sink.Event(event(seq, journal.KindStep, journal.Started))
	}
	checkOrder(t, b, seq)
	for want := 1; want <= seq; want++ {
		if e := <-watched; e.Seq != want {
			t.Fatalf("the watch saw event %d, want %d", e.Seq, want)
		}
	}
	// One member down: nothing changes.
	c.Kill(c.Members[0])
	seq++
	sink.Event(event(seq, journal.KindStep, journal.Started))
	checkOrder(t, b, seq)
	// Every member down: the action's event returns, the outage is told.
	for _, m := range c.Members {
		c.Kill(m)
	}
	for range 20 {
		seq++
		sink.Event(event(seq, journal.KindStep, journal.Started))
	}
	until(t, "the outage reported", p.isDown)
	for _, m := range c.Members {
		c.Restart(m)
	}
	c.WaitHealthy()
	until(t, "the outage's end", func() bool { return !p.isDown() })
	checkOrder(t, b, seq)
	if err := sink.Close(context.Background()); err != nil {
		t.Error(err)
	}
	outages, err := c.Client().Get(context.Background(), "/journal/outages/run-j/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || outages.Count != 1 {
		t.Errorf("outages recorded: %v, %v; told: %q", outages.Count, err, p.msgs)
	}
}

func checkOrder(t *testing.T, b *etcdstate.Backend, last int) {
	t.Helper()
	var events []journal.Event
	until(t, fmt.Sprintf("event %d in etcd", last), func() bool {
		var err error
		events, err = b.Events("run-j")
		return err == nil && len(events) > 0 && events[len(events)-1].Seq == last
	})
	for i, e := range events {
		if e.Seq != i+1 {
			t.Fatalf("event %d in etcd has seq %d", i, e.Seq)
		}
	}
}

// TestJournalBehind: a run directory's journal behind etcd's record (the
// run went on elsewhere) is refused.
func TestJournalBehind(t *testing.T) {
	c := etcdtest.Start(t, 1)
	b := open(t, c.URL("behind", ""))
	sink, err := b.Journal("run-j", nil, func(bool, string) {})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		sink.Event(event(i, journal.KindStep, journal.Started))
	}
	sink.Close(context.Background())
	if _, err := b.Journal("run-j", []journal.Event{event(1, journal.KindRun, journal.Started)}, func(bool, string) {}); err == nil ||
		!strings.Contains(err.Error(), "went on") {
		t.Errorf("a journal behind etcd's: %v", err)
	}
}

// TestLeaseLost: with every member down for longer than the lease, the
// hold says it is lost (the run then stops before its next change); its
// release fails, saying the nodes stay locked as unfinished.
func TestLeaseLost(t *testing.T) {
	c := etcdtest.Start(t, 3)
	b := open(t, c.URL("lost", "lease=2s&timeout=1s"))
	h, err := b.Lock(state.NewRun("run-l", "p", "/runs/l", nodes("n1")), nodes("n1"))
	if err != nil {
		t.Fatal(err)
	}
	lost := h.(state.Leased).Lost()
	select {
	case <-lost:
		t.Fatal("the lease is lost with etcd up")
	default:
	}
	for _, m := range c.Members {
		c.Kill(m)
	}
	select {
	case <-lost:
	case <-time.After(2 * time.Minute):
		t.Fatal("the lease was not found lost within 2 minutes of etcd going down")
	}
	if err := h.Release("INTERRUPTED", 130); err == nil || !strings.Contains(err.Error(), "stay locked as unfinished") {
		t.Errorf("releasing with etcd down: %v", err)
	}
}
