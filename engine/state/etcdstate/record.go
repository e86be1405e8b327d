package etcdstate

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/state"
)

// Bounds of what one transaction carries: etcd refuses more than 128
// operations (--max-txn-ops) or 1.5 MiB (--max-request-bytes) by default.
const (
	batchOps   = 100
	batchBytes = 1 << 20
	// maxEvent is the largest event stored whole; a larger one (a huge
	// error text) is stored as a stub pointing at the local journal.
	maxEvent = 256 << 10
	// outageAfter: writes failing for this many timeouts in a row are an
	// outage (an election after the leader's loss takes seconds).
	outageAfter = 3
)

func (b *Backend) eventKey(id string, seq int) string {
	return b.key("journal", id, fmt.Sprintf("%012d", seq))
}

// PutFiles stores the files a run was started with.
func (b *Backend) PutFiles(id string, files map[string][]byte) error {
	var ops []clientv3.Op
	for name, data := range files {
		ops = append(ops, clientv3.OpPut(b.key("files", id, name), string(data)))
	}
	ctx, cancel := b.ctx()
	defer cancel()
	if _, err := b.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
		return b.wrap("storing the run's files", err)
	}
	return nil
}

// Files reads the files a run was started with.
func (b *Backend) Files(id string) (map[string][]byte, error) {
	ctx, cancel := b.ctx()
	defer cancel()
	prefix := b.key("files", id) + "/"
	resp, err := b.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, b.wrap("reading the run's files", err)
	}
	out := map[string][]byte{}
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), prefix)] = kv.Value
	}
	return out, nil
}

// Events reads a run's journal as etcd has it, in order.
func (b *Backend) Events(id string) ([]journal.Event, error) {
	events, _, err := b.events(id)
	return events, err
}

func (b *Backend) events(id string) ([]journal.Event, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*b.cfg.Timeout)
	defer cancel()
	resp, err := b.cli.Get(ctx, b.key("journal", id)+"/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, 0, b.wrap("reading run "+id+"'s journal", err)
	}
	out := make([]journal.Event, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var e journal.Event
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return nil, 0, fmt.Errorf("etcd %s: %s: %w", b.cfg, kv.Key, err)
		}
		out = append(out, e)
	}
	return out, resp.Header.Revision, nil
}

// lastSeq is the sequence number of the run's last event in etcd (0: none).
func (b *Backend) lastSeq(id string) (int, error) {
	ctx, cancel := b.ctx()
	defer cancel()
	resp, err := b.cli.Get(ctx, b.key("journal", id)+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(1))
	if err != nil {
		return 0, b.wrap("reading run "+id+"'s journal", err)
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	k := string(resp.Kvs[0].Key)
	return strconv.Atoi(k[strings.LastIndexByte(k, '/')+1:])
}

// LastSeq is the sequence number of the run's last event in etcd.
func (b *Backend) LastSeq(id string) (int, error) { return b.lastSeq(id) }

// Watch passes fn the run's events after seq, those in etcd now and those
// to come, until ctx ends or fn returns false.
func (b *Backend) Watch(ctx context.Context, id string, after int, fn func(journal.Event) bool) error {
	events, rev, err := b.events(id)
	if err != nil {
		return err
	}
	for _, e := range events {
		if e.Seq > after {
			if !fn(e) {
				return nil
			}
			after = e.Seq
		}
	}
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range b.cli.Watch(ctx, b.key("journal", id)+"/", clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := wr.Err(); err != nil {
			return b.wrap("watching run "+id, err)
		}
		for _, ev := range wr.Events {
			var e journal.Event
			if ev.Type != clientv3.EventTypePut || json.Unmarshal(ev.Kv.Value, &e) != nil || e.Seq <= after {
				continue
			}
			if !fn(e) {
				return nil
			}
			after = e.Seq
		}
	}
	return ctx.Err()
}

// Journal returns the sink that copies run id's events to etcd.
func (b *Backend) Journal(id string, prior []journal.Event, problem func(ok bool, msg string)) (state.JournalSink, error) {
	last, err := b.lastSeq(id)
	if err != nil {
		return nil, err
	}
	if n := len(prior); last > 0 && (n == 0 || prior[n-1].Seq < last) {
		here := 0
		if n > 0 {
			here = prior[n-1].Seq
		}
		return nil, fmt.Errorf("etcd %s has run %s's journal up to event %d, this run directory only up to %d: the run went on from another host; resume it by its id (zdu resume %s --state %s) to go on from etcd's record",
			b.cfg, id, last, here, id, b.cfg)
	}
	s := &sink{b: b, id: id, problem: problem, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	s.sent = last
	for _, e := range prior {
		if e.Seq > last {
			s.enqueue(e)
		}
	}
	go s.loop()
	return s, nil
}

// sink queues events and sends them to etcd in order, in batches, from
// one goroutine. An event that announces an action waits until etcd has
// it (or etcd is found out of reach), so that another host never sees a
// run's record lag behind a change on a node. While etcd cannot be
// reached, events queue in memory and the run is told (problem); when it
// answers again, the queue is sent and the outage recorded.
type sink struct {
	b       *Backend
	id      string
	problem func(ok bool, msg string)
	wake    chan struct{}
	done    chan struct{}

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []queued
	sent     int       // the last seq etcd has
	down     time.Time // when the outage began (zero: none)
	failing  time.Time // when requests began to fail (zero: they do not)
	lastErr  error
	closing  bool
	stopSend bool
}

type queued struct {
	seq int
	key string
	val string
}

func (s *sink) enqueue(e journal.Event) {
	b, err := json.Marshal(e)
	if err != nil || len(b) > maxEvent {
		stub := journal.Event{Seq: e.Seq, Time: e.Time, Run: e.Run, Kind: e.Kind, State: e.State, Phase: e.Phase, Node: e.Node, Step: e.Step, Vertex: e.Vertex,
			Error: fmt.Sprintf("event of %d bytes not stored in etcd: see the local journal", len(b))}
		b, _ = json.Marshal(stub)
	}
	s.queue = append(s.queue, queued{seq: e.Seq, key: s.b.eventKey(s.id, e.Seq), val: string(b)})
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Event queues e; an action's announcement waits until etcd has it.
func (s *sink) Event(e journal.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enqueue(e)
	if !journal.Syncs(e) {
		return
	}
	for s.sent < e.Seq && s.down.IsZero() && !s.stopSend {
		s.cond.Wait()
	}
}

func (s *sink) loop() {
	defer close(s.done)
	backoff := 200 * time.Millisecond
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closing {
			s.mu.Unlock()
			<-s.wake
			s.mu.Lock()
		}
		if len(s.queue) == 0 || s.stopSend {
			s.mu.Unlock()
			return
		}
		var ops []clientv3.Op
		size := 0
		for _, q := range s.queue {
			if len(ops) == batchOps || (len(ops) > 0 && size+len(q.val) > batchBytes) {
				break
			}
			ops = append(ops, clientv3.OpPut(q.key, q.val))
			size += len(q.val)
		}
		last := s.queue[len(ops)-1].seq
		s.mu.Unlock()

		ctx, cancel := s.b.ctx()
		_, err := s.b.cli.Txn(ctx).Then(ops...).Commit()
		cancel()

		s.mu.Lock()
		if err != nil {
			s.lastErr = err
			if s.failing.IsZero() {
				s.failing = time.Now()
			}
			// One failed request is not an outage: the member the
			// client spoke to may have gone, or the leader, and the
			// others elect a new one meanwhile.
			if s.down.IsZero() && time.Since(s.failing) < outageAfter*s.b.cfg.Timeout {
				s.mu.Unlock()
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if s.down.IsZero() {
				s.down = time.Now()
				s.cond.Broadcast()
				s.mu.Unlock()
				s.problem(false, s.b.wrap("recording the run's journal", err).Error())
			} else {
				s.mu.Unlock()
			}
			select {
			case <-time.After(backoff):
			case <-s.wake:
				time.Sleep(backoff)
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
		s.failing = time.Time{}
		s.queue = s.queue[len(ops):]
		s.sent = last
		down := s.down
		s.down = time.Time{}
		s.cond.Broadcast()
		s.mu.Unlock()
		if !down.IsZero() {
			s.recordOutage(down, time.Now())
			s.problem(true, fmt.Sprintf("etcd %s answers again after %s: the run's journal is in etcd again", s.b.cfg, time.Since(down).Round(time.Second)))
		}
	}
}

// outage is the record of a time the run could not reach etcd.
type outage struct {
	Host  string    `json:"host"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Error string    `json:"error"`
}

func (s *sink) recordOutage(from, to time.Time) {
	s.mu.Lock()
	msg := ""
	if s.lastErr != nil {
		msg = s.lastErr.Error()
	}
	s.mu.Unlock()
	v, _ := json.Marshal(outage{Host: hostname(), From: from.UTC(), To: to.UTC(), Error: msg})
	ctx, cancel := s.b.ctx()
	defer cancel()
	_, _ = s.b.cli.Put(ctx, s.b.key("outages", s.id, from.UTC().Format(time.RFC3339Nano)), string(v))
}

// Close waits, within ctx, for the queue to reach etcd; what is left is
// reported (the local journal has it; a resumption from this host's run
// directory sends it).
func (s *sink) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopSend = true
	s.cond.Broadcast()
	if n := len(s.queue); n > 0 {
		return fmt.Errorf("etcd %s: %d journal event(s) of run %s (from seq %d) are only in the local journal: "+
			"resuming the run from this host's run directory sends them", s.b.cfg, n, s.id, s.queue[0].seq)
	}
	return nil
}
