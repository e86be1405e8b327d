package run_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/steps/transport"
)

// fakeConns is a dialer whose connections count themselves: how many are
// open now and at most, how many dials are in flight now and at most.
type fakeConns struct {
	open, peak, dialing, peakDialing atomic.Int64
	gate                             chan struct{} // when set, each dial waits for a token
	block                            chan struct{} // a "block" command waits for it to close
	running                          chan struct{} // closed when a "block" command starts
	mu                               sync.Mutex
	closed                           []string
}

func (f *fakeConns) dial(ctx context.Context, n *load.Node) (transport.Transport, error) {
	d := f.dialing.Add(1)
	raise(&f.peakDialing, d)
	defer f.dialing.Add(-1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	raise(&f.peak, f.open.Add(1))
	return &fakeConn{f: f, name: n.Name}, nil
}

func raise(peak *atomic.Int64, v int64) {
	for {
		p := peak.Load()
		if v <= p || peak.CompareAndSwap(p, v) {
			return
		}
	}
}

type fakeConn struct {
	f      *fakeConns
	name   string
	closed atomic.Bool
}

func (c *fakeConn) Run(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	if c.closed.Load() {
		return transport.Result{ExitCode: -1}, fmt.Errorf("%s: used after Close", c.name)
	}
	if cmd.Script == "block" {
		close(c.f.running)
		<-c.f.block
	}
	return transport.Result{Stdout: []byte(c.name)}, nil
}
func (c *fakeConn) Dial(context.Context, string, string) (net.Conn, error) { return nil, nil }
func (c *fakeConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.f.open.Add(-1)
		c.f.mu.Lock()
		c.f.closed = append(c.f.closed, c.name)
		c.f.mu.Unlock()
	}
	return nil
}

func fleetProgram(t *testing.T, n int) (*load.Inventory, []string) {
	var inv strings.Builder
	inv.WriteString("apiVersion: zdu/v1\nkind: Inventory\nnodes:\n")
	var names []string
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&inv, "  - {name: n%d, host: 127.0.0.1}\n", i)
		names = append(names, fmt.Sprintf("n%d", i))
	}
	prog := enginetest.Compile(t, `apiVersion: zdu/v1
name: p
phases:
  - {id: a, targets: all, steps: [{id: s, type: ssh-exec, with: {command: "true"}}]}
`, inv.String())
	return prog.Binding.Inv, names
}

// Many nodes used at once through a pool capped at 4: never more than 4
// connections open, each use reaches its own node, and a handle whose
// connection was closed to make room reconnects on its next use.
func TestPoolCapsOpenConnections(t *testing.T) {
	inv, names := fleetProgram(t, 40)
	f := &fakeConns{}
	p := run.NewPool(inv, f.dial)
	p.Limit(run.PoolLimits{MaxDials: 3, MaxOpen: 4})
	defer p.Close()
	ctx := context.Background()
	handles := map[string]transport.Transport{}
	for _, n := range names {
		h, err := p.Get(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		handles[n] = h
	}
	var wg sync.WaitGroup
	for round := 0; round < 3; round++ {
		for _, n := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := handles[n].Run(ctx, transport.Command{Script: "x"})
				if err != nil || string(res.Stdout) != n {
					t.Errorf("%s: %q, %v", n, res.Stdout, err)
				}
			}()
		}
	}
	wg.Wait()
	if got := f.peak.Load(); got > 4 {
		t.Errorf("%d connections open at once, cap 4", got)
	}
	if got := f.peakDialing.Load(); got > 3 {
		t.Errorf("%d dials at once, cap 3", got)
	}
	if st := p.Stats(); st.PeakOpen > 4 || st.PeakOpen < 1 {
		t.Errorf("pool's own peak %d", st.PeakOpen)
	}
}

// Done after a node's last phase closes its connection at once; a pinned
// node (a load balancer host) stays open.
func TestPoolDoneClosesNode(t *testing.T) {
	inv, _ := fleetProgram(t, 3)
	f := &fakeConns{}
	p := run.NewPool(inv, f.dial)
	p.Limit(run.PoolLimits{MaxOpen: 10, Uses: map[string]int{"n1": 2, "n2": 1}, Pinned: map[string]bool{"n3": true}})
	defer p.Close()
	for _, n := range []string{"n1", "n2", "n3"} {
		if _, err := p.Get(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	p.Done("n1") // one phase of two
	p.Done("n2")
	p.Done("n3")
	f.mu.Lock()
	closed := strings.Join(f.closed, ",")
	f.mu.Unlock()
	if closed != "n2" || f.open.Load() != 2 {
		t.Fatalf("closed %q, %d open; want only n2 closed", closed, f.open.Load())
	}
}

// A preflight check keeps the first nodes' connections while there is
// room to spare for the checks in flight, and closes the others at once.
func TestPoolCheckKeepsFirstNodes(t *testing.T) {
	inv, names := fleetProgram(t, 10)
	f := &fakeConns{}
	p := run.NewPool(inv, f.dial)
	p.Limit(run.PoolLimits{MaxDials: 2, MaxOpen: 5})
	defer p.Close()
	for _, n := range names {
		if err := p.Check(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	// Kept while open + MaxDials < MaxOpen: n1, n2, n3.
	if got := f.open.Load(); got != 3 {
		t.Fatalf("%d connections left open after the checks, want 3", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.closed {
		if c == "n1" || c == "n2" || c == "n3" {
			t.Fatalf("closed %v: the first nodes' should stay", f.closed)
		}
	}
}

// With the cap taken by a node whose command runs, another node's dial
// waits for room, and ends with its context.
func TestPoolWaitHonoursContext(t *testing.T) {
	inv, _ := fleetProgram(t, 2)
	f := &fakeConns{block: make(chan struct{})}
	p := run.NewPool(inv, f.dial)
	p.Limit(run.PoolLimits{MaxOpen: 1})
	defer p.Close()
	h, err := p.Get(context.Background(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	running := make(chan struct{})
	f.running = running
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = h.Run(context.Background(), transport.Command{Script: "block"})
	}()
	<-running
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := p.Get(ctx, "n2")
		got <- err
	}()
	cancel()
	if err := <-got; err != context.Canceled {
		t.Fatalf("Get with the cap taken: %v, want context.Canceled", err)
	}
	close(f.block)
	<-done
	// Once n1 is idle, n2 gets its room (n1 is closed for it).
	if _, err := p.Get(context.Background(), "n2"); err != nil {
		t.Fatal(err)
	}
	if f.open.Load() != 1 {
		t.Fatalf("%d open, cap 1", f.open.Load())
	}
}

// TestPoolPacesDials: with DialRate 50 (one dial every 20ms after a burst
// of MaxDials 2), twelve nodes checked at once start their dials no sooner
// than that schedule allows: the k-th start (from 0) is at least (k-1) x
// 20ms after the checks began. A loaded machine only makes them later.
func TestPoolPacesDials(t *testing.T) {
	inv, names := fleetProgram(t, 12)
	var mu sync.Mutex
	var starts []time.Time
	f := &fakeConns{}
	dial := func(ctx context.Context, n *load.Node) (transport.Transport, error) {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		return f.dial(ctx, n)
	}
	p := run.NewPool(inv, dial)
	p.Limit(run.PoolLimits{MaxDials: 2, DialRate: 50})
	defer p.Close()
	began := time.Now()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Check(context.Background(), n); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(starts) != len(names) {
		t.Fatalf("%d dials for %d nodes", len(starts), len(names))
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	for k, s := range starts {
		if min := time.Duration(k-1) * 20 * time.Millisecond; s.Sub(began) < min {
			t.Errorf("dial %d started %v after the checks began, before its turn at %v", k, s.Sub(began), min)
		}
	}
}

// A window of nodes wider than the cap (12 nodes at once, 4 connections):
// the nodes that have begun their phase keep their connection from step to
// step until they are done, and the others wait their turn, so each node
// is dialed once (not once a step); a dial made again is only ever one
// the pool counts as stalled.
func TestPoolKeepsNodesInAPhase(t *testing.T) {
	inv, names := fleetProgram(t, 12)
	f := &fakeConns{}
	p := run.NewPool(inv, f.dial)
	uses := map[string]int{}
	for _, n := range names {
		uses[n] = 1
	}
	p.Limit(run.PoolLimits{MaxDials: 2, MaxOpen: 4, Uses: uses})
	defer p.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Begin(n)
			h, err := p.Get(ctx, n)
			if err != nil {
				t.Error(err)
				return
			}
			for range 5 {
				if res, err := h.Run(ctx, transport.Command{Script: "x"}); err != nil || string(res.Stdout) != n {
					t.Errorf("%s: %q, %v", n, res.Stdout, err)
				}
				// Between two steps (the journal's events): long enough
				// for the nodes waiting to come by.
				time.Sleep(2 * time.Millisecond)
			}
			p.Done(n)
		}()
	}
	wg.Wait()
	st := p.Stats()
	if st.Dials-st.Stalled != len(names) {
		t.Errorf("%d dials (%d after a stall) for %d nodes of 5 steps each: nodes in a phase lost their connection", st.Dials, st.Stalled, len(names))
	}
	if got := f.peak.Load(); got > 4 || st.PeakOpen > 4 {
		t.Errorf("%d connections open at once (pool: %d), cap 4", got, st.PeakOpen)
	}
	if f.open.Load() != 0 {
		t.Errorf("%d connections left open after every node was done", f.open.Load())
	}
}

// Nodes in the middle of a phase that hold the whole cap and are idle
// (halted by a failure, say) do not keep another node waiting forever:
// once nothing runs and no dial is in flight for a while, the least
// recently used one is closed, and the pool counts it.
func TestPoolStallClosesAnIdleNodeInAPhase(t *testing.T) {
	inv, _ := fleetProgram(t, 3)
	f := &fakeConns{}
	p := run.NewPool(inv, f.dial)
	p.Limit(run.PoolLimits{MaxOpen: 2})
	defer p.Close()
	ctx := context.Background()
	for _, n := range []string{"n1", "n2"} {
		p.Begin(n)
		if _, err := p.Get(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Get(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	f.mu.Lock()
	closed := strings.Join(f.closed, ",")
	f.mu.Unlock()
	if st.Stalled != 1 || closed != "n1" || f.open.Load() != 2 {
		t.Fatalf("stalled %d, closed %q, %d open; want n1 (the least recently used) closed once, 2 open", st.Stalled, closed, f.open.Load())
	}
}
