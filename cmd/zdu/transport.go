package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/run"
)

// connFlags bound the run's SSH connections.
type connFlags struct {
	maxDials, maxConns int
	dialRate           float64
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&c.maxDials, "max-dials", run.DefaultMaxDials,
		"SSH dials (connect, handshake, login) in flight at once; a handshake the server drops (MaxStartups) is retried with backoff")
	fs.Float64Var(&c.dialRate, "dial-rate", run.DefaultDialRate,
		"SSH dials started a second, on average, after a first burst of --max-dials (0: no pacing)")
	fs.IntVar(&c.maxConns, "max-connections", run.DefaultMaxConnections,
		"SSH connections to nodes open at once (load balancer hosts not counted); a node's is closed when it is done or its room is needed")
}

func (c *connFlags) check() error {
	switch {
	case c.maxDials < 1:
		return badUsage("--max-dials %d: must be at least 1", c.maxDials)
	case c.maxConns < 1:
		return badUsage("--max-connections %d: must be at least 1", c.maxConns)
	case !(c.dialRate >= 0 && c.dialRate <= maxDialRate): // also refuses NaN
		return badUsage("--dial-rate %g: must be from 0 (no pacing) to %d dials a second", c.dialRate, maxDialRate)
	}
	return nil
}

// maxDialRate bounds --dial-rate: past it pacing is no bound at all.
const maxDialRate = 100_000

// limits are the pool limits of a run of prog with the flags' values, or
// the defaults for a caller without them (rehearse, whose sandbox is on
// this machine: unpaced).
func (c *connFlags) limits(prog *compile.Program) run.PoolLimits {
	maxDials, maxConns := c.maxDials, c.maxConns
	if maxDials <= 0 {
		maxDials = run.DefaultMaxDials
	}
	if maxConns <= 0 {
		maxConns = run.DefaultMaxConnections
	}
	l := run.LimitsFor(prog, maxDials, maxConns)
	l.DialRate = c.dialRate
	return l
}

// preflight checks that every node the plan touches (targets and load
// balancer hosts) can be reached and logged in to, at most parallel at a
// time, and reports every failure together. The pool keeps the connections
// it has room for (the first nodes' and the load balancer hosts'); the
// others are closed and opened again on the node's turn.
func preflight(ctx context.Context, prog *compile.Program, pool *run.Pool, parallel int) error {
	names := map[string]bool{}
	for _, ph := range prog.Phases {
		for _, n := range ph.Nodes {
			names[n.Name] = true
		}
	}
	for _, lb := range prog.Binding.Inv.LBs {
		for _, in := range lb.Instances {
			if in.Via != "" {
				names[in.Via] = true
			}
		}
	}
	// Each node writes its own slot, so the report lists failures in
	// inventory order whatever order the dials finish in.
	nodes := prog.Binding.Inv.Nodes
	errs := make([]error, len(nodes))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				n := nodes[i]
				if err := pool.Check(ctx, n.Name); err != nil {
					errs[i] = fmt.Errorf("  %s (%s:%d): %w", n.Name, n.Host, n.Port, err)
				}
			}
		}()
	}
	for i, n := range nodes {
		if names[n.Name] {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// reportConnections says, after a run over SSH, how many connections it
// made and how many were open at once.
func reportConnections(w io.Writer, pool *run.Pool, refused *atomic.Int64) {
	st := pool.Stats()
	if st.Dials == 0 {
		return
	}
	fmt.Fprintf(w, "zdu run: connections: %d dials (%d handshakes refused before the banner and retried, %d failed), "+
		"at most %d open at once (--max-connections %d)", st.Dials, refused.Load(), st.Failed, st.PeakOpen, st.MaxOpen)
	if st.Stalled > 0 {
		fmt.Fprintf(w, "; %d closed in the middle of a phase, the others idle too, to make room", st.Stalled)
	}
	fmt.Fprintln(w)
}
