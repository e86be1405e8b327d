package run

import (
	"container/list"
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/local"
)

// Dialer opens a node's transport; ctx bounds the dial and the handshake
// (an operator's interrupt ends it at once).
type Dialer func(ctx context.Context, n *load.Node) (transport.Transport, error)

// Defaults for PoolLimits (zdu run's --max-dials and --max-connections).
const (
	// DefaultMaxDials stays under OpenSSH's MaxStartups default (10:30:100
	// starts dropping at 10 unauthenticated connections), so even a fleet
	// whose every dial goes through one bastion does not trip it.
	DefaultMaxDials = 10
	// DefaultMaxConnections bounds the nodes' connections open at once.
	DefaultMaxConnections = 256
	// DefaultDialRate paces dial starts (a second): a fleet's logins reach
	// a bastion or an authentication backend (PAM, LDAP) as a steady 200
	// a second after a first burst of MaxDials, not all at once; a
	// 5,000-node preflight takes 25 s at least.
	DefaultDialRate = 200
)

// PoolLimits bound what a Pool opens. Zero values mean no bound.
type PoolLimits struct {
	// MaxDials bounds the dials (TCP connect, handshake, login) in flight.
	MaxDials int
	// DialRate paces dial starts: at most this many a second on average,
	// after a burst of MaxDials.
	DialRate float64
	// MaxOpen bounds the open connections to nodes, not counting Pinned.
	// When a dial needs room, the least recently used idle connection of a
	// node not in the middle of a phase is closed; with none, the dial
	// waits its turn.
	MaxOpen int
	// Pinned nodes (load balancer hosts) keep their connection for the
	// whole run, outside MaxOpen.
	Pinned map[string]bool
	// Uses is how many phases target each node: after its last one is done
	// (Pool.Done), its connection is closed.
	Uses map[string]int
}

// LimitsFor is the pool limits of a run of prog: load balancer hosts
// pinned, each node's phases counted.
func LimitsFor(prog *compile.Program, maxDials, maxOpen int) PoolLimits {
	l := PoolLimits{MaxDials: maxDials, MaxOpen: maxOpen, Pinned: map[string]bool{}, Uses: map[string]int{}}
	for _, ph := range prog.Phases {
		for _, n := range ph.Nodes {
			l.Uses[n.Name]++
		}
	}
	for _, lb := range prog.Binding.Inv.LBs {
		for _, in := range lb.Instances {
			if in.Via != "" {
				l.Pinned[in.Via] = true
			}
		}
	}
	return l
}

// PoolStats are what a pool did, for the run's log and for tests.
type PoolStats struct {
	Dials    int // dials started (each may include handshake retries)
	Failed   int // dials that failed
	Closed   int // connections closed before the end of the run
	PeakOpen int // most connections open at once, Pinned excluded
	MaxOpen  int // the bound (0: none)
	// Stalled counts connections of nodes in the middle of a phase closed
	// to make room because nothing else could free any (see Pool.Begin).
	Stalled int
}

// Pool holds the nodes' transports. A node's connection is opened on first
// use (or by Check) and reused by every step on that node; within
// PoolLimits, it is closed when the node is done or its room is needed, and
// opened again if the node is used once more. Steps hold handles, not
// connections: a handle reaches the node's current connection on each use.
//
// When the connections of a phase's window do not fit in MaxOpen (a batch
// of 1,000 nodes, a cap of 256), the nodes that have begun (Begin) keep
// theirs between steps until they are done with the phase, and the others
// wait their turn in order: each node is dialed about once, instead of
// once a step.
type Pool struct {
	inv     *load.Inventory
	dial    Dialer
	lim     PoolLimits
	dialSem chan struct{}
	pace    *pacer

	mu       sync.Mutex
	entries  map[string]*poolEntry
	open     int       // connections open, Pinned excluded (dials in flight count)
	inUse    int       // unpinned entries with a use in flight
	inFlight int       // unpinned dials in flight
	idle     list.List // open, unpinned, unused entries not in a phase, least recently used first
	idleBusy list.List // the same, of nodes in the middle of a phase
	waiters  list.List // of chan struct{}: uses waiting for room, first come first
	stats    PoolStats
}

type poolEntry struct {
	name    string
	t       transport.Transport // nil while closed
	dialing chan struct{}       // closed when the dial in flight ends
	err     error               // that dial's error
	active  int                 // Runs and Dial'ed connections in flight
	uses    int                 // phases still to come
	done    bool                // the node's last phase is done
	busy    bool                // in the middle of a phase (Begin, not yet Done)
	pinned  bool
	idleAt  *list.Element // in idle or idleBusy while open and unused
	idleIn  *list.List
}

// NewPool returns a pool over the inventory's nodes, without limits. Nodes
// with transport local use the local transport; others go through dial.
func NewPool(inv *load.Inventory, dial Dialer) *Pool {
	return &Pool{inv: inv, dial: dial, entries: map[string]*poolEntry{}}
}

// Limit sets the pool's limits; call it before the pool is used.
func (p *Pool) Limit(l PoolLimits) {
	p.lim = l
	p.stats.MaxOpen = l.MaxOpen
	if l.MaxDials > 0 {
		p.dialSem = make(chan struct{}, l.MaxDials)
	}
	p.pace = newPacer(l.DialRate, l.MaxDials)
}

// Stats says what the pool did so far.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Get returns a handle to the node's transport, opening its connection now
// if it is not open, within ctx: an unreachable node fails here.
func (p *Pool) Get(ctx context.Context, name string) (transport.Transport, error) {
	n, ok := p.inv.ByName[name]
	if !ok {
		return nil, fmt.Errorf("no node named %q in the inventory", name)
	}
	if n.Transport == "local" {
		return local.New(), nil
	}
	_, release, err := p.acquire(ctx, name, false)
	if err != nil {
		return nil, err
	}
	release()
	return &handle{p: p, name: name}, nil
}

// Check opens the node's connection (a preflight), within ctx, and leaves
// it open only while the pool has room to spare: the first nodes checked
// keep theirs for their turn, the others are closed at once and connect
// again then.
func (p *Pool) Check(ctx context.Context, name string) error {
	n, ok := p.inv.ByName[name]
	if !ok {
		return fmt.Errorf("no node named %q in the inventory", name)
	}
	if n.Transport == "local" {
		return nil
	}
	_, release, err := p.acquire(ctx, name, true)
	if err != nil {
		return err
	}
	release()
	return nil
}

// TransportFor reaches a node by name, within ctx; "" is the control node
// (local).
func (p *Pool) TransportFor(ctx context.Context, node string) (transport.Transport, error) {
	if node == "" {
		return local.New(), nil
	}
	return p.Get(ctx, node)
}

// Begin says a node starts a phase: until Done, its connection is not
// closed to make room for another node between its steps (unless nothing
// else can free any room: see stallGrace).
func (p *Pool) Begin(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entry(name)
	if e.pinned || e.busy {
		return
	}
	e.busy = true
	if e.idleAt != nil {
		p.unidle(e)
		p.idleSince(e)
	}
}

// Done says a node is done with a phase. After its last phase its
// connection is closed (once nothing runs on it).
func (p *Pool) Done(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	e := p.entry(name)
	if e.uses > 0 {
		e.uses--
	}
	wasBusy := e.busy
	e.busy = false
	var toClose *closing
	if e.uses == 0 && !e.pinned {
		e.done = true
		if e.active == 0 && e.t != nil {
			toClose = p.detach(e)
		}
	} else if wasBusy && e.idleAt != nil {
		// Open between two phases: its room may be taken now.
		p.unidle(e)
		p.idleSince(e)
		p.signal()
	}
	p.mu.Unlock()
	p.free(toClose)
}

// Close closes every open connection.
func (p *Pool) Close() error {
	p.mu.Lock()
	var all []transport.Transport
	for _, e := range p.entries {
		if e.t != nil {
			all = append(all, e.t)
			e.t = nil
		}
		if e.idleAt != nil {
			p.unidle(e)
		}
	}
	p.mu.Unlock()
	var first error
	for _, t := range all {
		if err := t.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// entry returns name's entry, creating it; p.mu is held.
func (p *Pool) entry(name string) *poolEntry {
	e := p.entries[name]
	if e == nil {
		e = &poolEntry{name: name, uses: p.lim.Uses[name], pinned: p.lim.Pinned[name]}
		p.entries[name] = e
	}
	return e
}

// acquire returns the node's live transport, opening it (within the
// limits) if needed, and a release to call when the use ends. With check,
// the connection stays open afterwards only if there was room without
// closing another.
func (p *Pool) acquire(ctx context.Context, name string, check bool) (transport.Transport, func(), error) {
	p.mu.Lock()
	for {
		e := p.entry(name)
		if e.t != nil {
			p.use(e)
			p.passOn()
			p.mu.Unlock()
			return e.t, func() { p.release(e) }, nil
		}
		if e.dialing != nil {
			// Someone is dialing this node: wait for that dial and share it.
			ch := e.dialing
			p.passOn()
			p.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
			p.mu.Lock()
			if e.t == nil && e.err != nil && e.dialing == nil {
				err := e.err
				p.mu.Unlock()
				return nil, nil, err
			}
			continue
		}
		keep := true
		if !e.pinned && p.lim.MaxOpen > 0 {
			if check {
				// A check keeps its connection only while that leaves room
				// for the checks in flight; the others close at once.
				keep = p.open+max(p.lim.MaxDials, 1) < p.lim.MaxOpen
			}
			if p.open >= p.lim.MaxOpen {
				// A check never closes another: the ones kept are the
				// first window's, and checks in flight soon make room.
				if victim := p.idle.Front(); victim != nil && !check {
					p.evict(victim.Value.(*poolEntry))
					continue
				}
				stalled, err := p.waitRoom(ctx, !check)
				if err != nil {
					p.mu.Unlock()
					return nil, nil, err
				}
				if stalled {
					p.evictStalled()
				}
				continue
			}
		}
		return p.dialLocked(ctx, e, keep)
	}
}

// dialLocked dials e's node; p.mu is held on entry and released. Without
// keep (a check with no room), the connection is closed after the use.
func (p *Pool) dialLocked(ctx context.Context, e *poolEntry, keep bool) (transport.Transport, func(), error) {
	n := p.inv.ByName[e.name]
	counted := !e.pinned
	if counted {
		p.open++
		p.inFlight++
		p.stats.PeakOpen = max(p.stats.PeakOpen, p.open)
	}
	p.passOn()
	e.dialing = make(chan struct{})
	e.err = nil
	p.stats.Dials++
	p.mu.Unlock()

	var t transport.Transport
	var err error
	if p.dial == nil {
		err = fmt.Errorf("node %s: no %s transport available", e.name, n.Transport)
	} else if err = p.dialSlot(ctx); err == nil {
		t, err = p.dial(ctx, n)
		if p.dialSem != nil {
			<-p.dialSem
		}
	}

	p.mu.Lock()
	close(e.dialing)
	e.dialing = nil
	if counted {
		p.inFlight--
	}
	if err != nil {
		e.err = err
		p.stats.Failed++
		if counted {
			p.open--
			p.signal()
		}
		p.mu.Unlock()
		return nil, nil, err
	}
	if !keep {
		p.mu.Unlock()
		return t, func() { p.free(&closing{t: t, counted: counted}) }, nil
	}
	e.t = t
	p.use(e)
	if e.done && !e.pinned {
		e.done = false // used again (a rollback, a later probe): open until Done again or evicted
	}
	p.mu.Unlock()
	return t, func() { p.release(e) }, nil
}

// dialSlot waits for room among the dials in flight, then for the dial's
// turn in the pace; a nil error holds a slot the caller gives back.
func (p *Pool) dialSlot(ctx context.Context) error {
	if p.dialSem != nil {
		select {
		case p.dialSem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := p.pace.wait(ctx); err != nil {
		if p.dialSem != nil {
			<-p.dialSem
		}
		return err
	}
	return nil
}

// release ends one use of e; a node that is done is closed once idle.
func (p *Pool) release(e *poolEntry) {
	p.mu.Lock()
	e.active--
	var toClose *closing
	if e.active == 0 && e.t != nil && !e.pinned {
		p.inUse--
		if e.done {
			toClose = p.detach(e)
		} else {
			p.idleSince(e)
			if !e.busy {
				p.signal() // its room may be taken
			}
		}
	}
	p.mu.Unlock()
	p.free(toClose)
}

// detach takes e's transport out of the pool for closing; p.mu is held.
// Its room is freed only once it is closed (free), so the connections open
// never exceed MaxOpen, not even for a moment.
func (p *Pool) detach(e *poolEntry) *closing {
	t := e.t
	e.t = nil
	if e.idleAt != nil {
		p.unidle(e)
	}
	p.stats.Closed++
	return &closing{t: t, counted: !e.pinned}
}

// closing is a detached transport to close outside p.mu.
type closing struct {
	t       transport.Transport
	counted bool
}

// free closes c (nil: nothing) and gives its room back.
func (p *Pool) free(c *closing) {
	if c == nil {
		return
	}
	_ = c.t.Close()
	if !c.counted {
		return
	}
	p.mu.Lock()
	p.open--
	p.signal()
	p.mu.Unlock()
}

// handle is what steps hold: each use reaches the node's connection as it
// is then, reopening it if the pool closed it meanwhile.
type handle struct {
	p    *Pool
	name string
}

var _ transport.Transport = (*handle)(nil)

func (h *handle) Run(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	t, release, err := h.p.acquire(ctx, h.name, false)
	if err != nil {
		return transport.Result{ExitCode: -1}, err
	}
	defer release()
	return t.Run(ctx, cmd)
}

func (h *handle) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	t, release, err := h.p.acquire(ctx, h.name, false)
	if err != nil {
		return nil, err
	}
	c, err := t.Dial(ctx, network, addr)
	if err != nil {
		release()
		return nil, err
	}
	// The connection is in use until the forwarded stream is closed.
	return &heldConn{Conn: c, release: release}, nil
}

// Close does nothing: the pool owns the connection.
func (h *handle) Close() error { return nil }

type heldConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *heldConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
