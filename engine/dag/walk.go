package dag

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// WalkFunc runs one vertex. It is called at most once per vertex, on its own
// goroutine, only after every upstream vertex has finished without Failing
// or being Blocked (a Barrier: after every upstream vertex has finished). It
// should honour ctx and return promptly once ctx is done.
type WalkFunc func(ctx context.Context, v Vertex) Status

// Barrier is an optional ability: a vertex whose Barrier returns true runs
// once every vertex it depends on has finished, whatever their status —
// a failure upstream does not block it. It decides itself, in fn, what the
// failures mean for what comes after it (a phase's failure budget), and
// blocks its downstream by returning Failed or Blocked.
type Barrier interface {
	Barrier() bool
}

// Slotted is an optional ability for limits that span several vertices:
// every vertex with the same holder (e.g. one node's steps in one phase)
// runs under one slot of pool, and at most limit holders of a pool hold a
// slot at once. A holder takes its slot when its first vertex is about to
// start, and gives it back when all of its vertices have finished (run or
// blocked). A vertex waiting for a slot is neither started nor blocked.
// A holder's vertices may depend on vertices outside it only through the
// ones that take the slot, or the walk can wait on itself (it then blocks
// what is waiting and says so in Result.Err).
type Slotted interface {
	Slot() (pool string, limit int, holder string)
}

// WalkOptions tune a walk. The zero value runs everything it can: a failure
// blocks only what depends on it.
//
// The walk owns concurrency: every ready vertex gets a goroutine at once,
// except where a Slotted vertex's pool is full (a phase's parallel limit).
type WalkOptions struct {
	// StopOnFailure stops starting new vertices after the first Failed one:
	// vertices that have not started yet become Blocked (Stopped), running
	// ones are allowed to finish. This is the engine's default policy.
	StopOnFailure bool

	// Stop, when set, is asked before each vertex starts; true keeps that
	// vertex from running (Blocked, Stopped). It lets the caller decide
	// dynamically, e.g. once a failure budget is spent, or per phase. It is
	// called with the walk's lock held (never concurrently with itself, nor
	// with OnBlocked or Done) but concurrently with running fns, so state
	// it shares with fn needs synchronising.
	Stop func(v Vertex) bool

	// OnBlocked, when set, is told of each vertex the walker blocks without
	// running it, as soon as that is decided, so the caller can record it
	// (journal, summary) in order. Same goroutine rules as Stop.
	OnBlocked func(v Vertex, why Reason)
	// Done, when set, names vertices finished before this walk (a resumed
	// run): they end Passed without running and without taking a slot, or,
	// when something they depend on failed in this walk, Blocked — without
	// OnBlocked: their record is the earlier one — so what follows them is
	// blocked too.
	Done func(v Vertex) bool
}

// Walk runs fn over g with the zero WalkOptions; see WalkOptions.Walk.
func Walk(ctx context.Context, g *Graph, fn WalkFunc) *Result {
	return WalkOptions{}.Walk(ctx, g, fn)
}

// Walk runs fn for every vertex of g whose upstream has all finished Passed
// or Skipped, running ready vertices concurrently, and returns once no
// vertex is running and none can start. Every vertex ends with a Status.
//
// When ctx is done, vertices that have not started become Blocked
// (Cancelled) and Walk returns after the running ones finish. A graph with
// a cycle runs nothing: every vertex is Blocked (Cycle) and Result.Err says
// where the cycle is. A panic in fn is recovered and counts as Failed (see
// Result.Errors), so one broken step cannot take down a half-done rollout.
func (o WalkOptions) Walk(ctx context.Context, g *Graph, fn WalkFunc) *Result {
	n := g.Len()
	r := &Result{g: g, status: make([]Status, n), reason: make([]Reason, n)}
	if err := g.Validate(); err != nil {
		r.Err = fmt.Errorf("walking graph: %w", err)
		for i := range n {
			o.block(r, i, Cycle)
		}
		return r
	}
	w := walker{
		o:        o,
		g:        g,
		r:        r,
		pending:  make([]int, n),
		poisoned: make([]bool, n),
		slots:    newSlots(g),
		idle:     make(chan struct{}),
	}
	for i := range n {
		w.pending[i] = len(g.up[i])
		if w.pending[i] == 0 {
			w.ready = append(w.ready, i)
		}
	}
	r.Started = make([]string, 0, n)
	r.Finished = make([]string, 0, n)
	w.mu.Lock()
	start := w.schedule(ctx)
	w.mu.Unlock()
	for _, v := range start {
		go w.work(ctx, fn, v)
	}
	<-w.idle
	return r
}

// walker is the state of one walk, under mu. There is no scheduling
// goroutine: the goroutine whose vertex has just finished records it and
// decides what is ready, then runs the first vertex it started itself (a
// node's next step goes on on the same goroutine, with no hand-off) and
// gives the others goroutines of their own.
type walker struct {
	o        WalkOptions
	g        *Graph
	r        *Result
	slots    *slots
	idle     chan struct{} // closed once nothing runs and nothing can start
	mu       sync.Mutex
	pending  []int  // upstream vertices not finished yet
	poisoned []bool // some upstream vertex Failed or was Blocked
	ready    []int  // FIFO of vertices whose upstream has all finished
	head     int
	running  int
	failed   bool
}

type completion struct {
	v      int
	status Status
	err    error
}

// work runs v, then what its end made ready, until nothing is left for
// this goroutine.
func (w *walker) work(ctx context.Context, fn WalkFunc, v int) {
	for {
		c := w.exec(ctx, v, fn)
		w.mu.Lock()
		w.complete(c)
		next := w.schedule(ctx)
		w.mu.Unlock()
		if len(next) == 0 {
			return
		}
		for _, u := range next[1:] {
			go w.work(ctx, fn, u)
		}
		v = next[0]
	}
}

// schedule decides every ready vertex and returns those it started (their
// running is counted). When nothing runs and nothing can start, it ends
// the walk. Called with mu held.
func (w *walker) schedule(ctx context.Context) []int {
	var start []int
	for {
		for w.head < len(w.ready) {
			v := w.ready[w.head]
			w.head++
			if w.decide(ctx, v) {
				start = append(start, v)
			}
		}
		if w.running > 0 {
			return start
		}
		stuck := w.slots.drain()
		if len(stuck) == 0 {
			close(w.idle)
			return start
		}
		// Only a holder depending on another waiting holder gets here.
		w.r.Err = fmt.Errorf("walking graph: %d vertices waited for a slot that never came free (first: %q)",
			len(stuck), w.g.verts[stuck[0]].ID())
		for _, v := range stuck {
			w.blockAndFinish(v, Stopped)
		}
	}
}

// complete records how a vertex ended. Called with mu held.
func (w *walker) complete(c completion) {
	w.running--
	w.r.Finished = append(w.r.Finished, w.g.verts[c.v].ID())
	if c.err != nil {
		if w.r.Errors == nil {
			w.r.Errors = make(map[string]error)
		}
		w.r.Errors[w.g.verts[c.v].ID()] = c.err
	}
	if c.status == Failed {
		w.failed = true
		w.r.Failed = append(w.r.Failed, w.g.verts[c.v].ID())
	}
	w.finish(c.v, c.status)
}

// decide starts v (counting it running; true) or blocks it. The order of
// the checks gives each blocked vertex its truest reason: a failed
// dependency outranks a cancellation, which outranks a policy stop.
func (w *walker) decide(ctx context.Context, v int) bool {
	if w.o.Done != nil && w.o.Done(w.g.verts[v]) {
		w.r.Done = append(w.r.Done, w.g.verts[v].ID())
		if w.poisoned[v] {
			w.finish(v, Blocked)
		} else {
			w.finish(v, Passed)
		}
		return false
	}
	switch {
	case w.poisoned[v] && !isBarrier(w.g.verts[v]):
		w.blockAndFinish(v, Upstream)
	case ctx.Err() != nil:
		w.r.Cancelled = true
		w.blockAndFinish(v, Cancelled)
	case w.o.StopOnFailure && w.failed:
		w.blockAndFinish(v, Stopped)
	case w.o.Stop != nil && w.o.Stop(w.g.verts[v]):
		w.blockAndFinish(v, Stopped)
	case !w.slots.take(v):
		// Decided again when a slot of its pool comes free.
	default:
		w.running++
		w.r.Started = append(w.r.Started, w.g.verts[v].ID())
		return true
	}
	return false
}

func (w *walker) exec(ctx context.Context, v int, fn WalkFunc) (c completion) {
	c = completion{v: v, status: Failed}
	defer func() {
		if p := recover(); p != nil {
			c.status = Failed
			c.err = fmt.Errorf("vertex %q panicked: %v\n%s", w.g.verts[v].ID(), p, debug.Stack())
		}
	}()
	c.status = fn(ctx, w.g.verts[v])
	switch c.status {
	case Passed, Failed, Skipped, Blocked:
	default:
		c.err = fmt.Errorf("vertex %q: walk function returned invalid status %v", w.g.verts[v].ID(), c.status)
		c.status = Failed
	}
	return c
}

func isBarrier(v Vertex) bool {
	b, ok := v.(Barrier)
	return ok && b.Barrier()
}

func (w *walker) blockAndFinish(v int, why Reason) {
	w.o.block(w.r, v, why)
	w.finish(v, Blocked)
}

func (o WalkOptions) block(r *Result, v int, why Reason) {
	r.status[v], r.reason[v] = Blocked, why
	if o.OnBlocked != nil {
		o.OnBlocked(r.g.verts[v], why)
	}
}

// finish records v's status and releases the vertices waiting on it (and,
// when it was its holder's last, those waiting for the holder's slot).
func (w *walker) finish(v int, s Status) {
	w.r.status[v] = s
	w.ready = append(w.ready, w.slots.release(v)...)
	for _, d := range w.g.down[v] {
		if s.blocks() {
			w.poisoned[d] = true
		}
		if w.pending[d]--; w.pending[d] == 0 {
			w.ready = append(w.ready, d)
		}
	}
}
