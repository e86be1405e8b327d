package run

import (
	"errors"
	"fmt"
	"sync"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
)

// phaseState is what the runner knows of one phase while it runs: where its
// when is false, and the failures of its nodes against its budget.
type phaseState struct {
	ph    *compile.Phase
	begin sync.Once
	skip  map[*load.Node]bool // nodes where the phase's when is false

	mu       sync.Mutex
	begun    bool
	fatal    error      // its when could not be decided: nothing more starts
	failures []*failure // real failures, in the order they happened
	halted   bool       // over budget, or a changed-scope rollback pending
	stopped  bool       // a node was interrupted by Stop
}

// enter begins the phase on the first of its vertices to run: the phase's
// start is journaled and its when decided for every target node.
func (r *Runner) enter(ph *compile.Phase, vertex string) *phaseState {
	ps := r.phases[ph.Index]
	ps.begin.Do(func() {
		r.event(journal.Event{Kind: journal.KindPhase, State: journal.Started, Phase: ph.ID, Vertex: vertex,
			Detail: map[string]any{"title": ph.Title, "limit": ph.Limit, "budget": ph.Budget}})
		skip, err := r.phaseSkips(ph)
		ps.mu.Lock()
		ps.begun, ps.skip, ps.fatal = true, skip, err
		ps.mu.Unlock()
		if err != nil {
			r.end(Result{Status: "FATAL_ERROR", ExitCode: exitcode.Fatal, Err: err})
		}
	})
	return ps
}

// phaseSkips evaluates a phase's `when` for each target node, as that node
// sees it: params may differ per node (group and node vars), and vars,
// node.* and results.* do. It returns the nodes the phase skips. A node that
// failed in an earlier phase is not evaluated (its results may be missing):
// it is blocked instead.
func (r *Runner) phaseSkips(ph *compile.Phase) (map[*load.Node]bool, error) {
	skip := map[*load.Node]bool{}
	if ph.When == nil {
		return skip, nil
	}
	for _, n := range ph.Nodes {
		st := r.state(n)
		if st.failed {
			continue
		}
		ok, err := ph.When.Bool(st.env.WithPhase(ph.ID))
		if err != nil {
			return nil, fmt.Errorf("phase %s: when, for node %s: %w", ph.ID, n.Name, err)
		}
		if !ok {
			skip[n] = true
		}
	}
	return skip, nil
}

// record counts a node's failure against its phase: over the budget, or
// with a changed-scope rollback pending, no new node of the phase starts.
func (ps *phaseState) record(f *failure) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if f.interrupted {
		ps.stopped = true
		return
	}
	ps.failures = append(ps.failures, f)
	if len(ps.failures) > ps.ph.Budget || f.haltsPhase {
		ps.halted = true
	}
}

// closed reports whether no new node of the phase may start.
func (ps *phaseState) closed() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.halted || ps.fatal != nil
}

// barrier runs a phase's barrier: after a batch, it lets the next batch
// start unless the phase is halted or the run stopping; at the phase's end,
// it decides the phase's outcome, runs the changed-scope rollback a failure
// armed, and lets the next phase start only if this one passed.
func (r *Runner) barrier(b *compile.Barrier) dag.Status {
	ph := b.Phase
	ps := r.phases[ph.Index]
	ps.mu.Lock()
	begun := ps.begun
	ps.mu.Unlock()
	kind := journal.KindBatch
	if b.Last {
		kind = journal.KindPhase
	}
	e := journal.Event{Kind: kind, Phase: ph.ID, Vertex: b.ID()}
	if !begun && (r.ended() || r.stopping.Load()) {
		// Nothing of the phase ran: an earlier phase failed, or the
		// operator stopped the run before it.
		e.State = journal.Blocked
		if r.stopping.Load() && !r.ended() {
			e.State = journal.Cancelled
		}
		r.event(e)
		return dag.Blocked
	}
	ps = r.enter(ph, b.ID()) // a phase with no target node begins here
	r.endEarlierNodes(ph.Index)
	if !b.Last {
		e.State = journal.Passed
		if ps.closed() || r.stopping.Load() {
			e.State = journal.Blocked
		}
		r.event(e)
		if e.State != journal.Passed {
			return dag.Blocked
		}
		return dag.Passed
	}
	return r.phaseDone(ps, e)
}

// phaseDone ends a phase: passed, passed with failures its budget allowed,
// failed (the root cause, then its changed-scope rollback), cancelled, or
// skipped when its when was false on every node.
func (r *Runner) phaseDone(ps *phaseState, e journal.Event) dag.Status {
	ph := ps.ph
	ps.mu.Lock()
	failures, halted, stopped, fatal := ps.failures, ps.halted, ps.stopped, ps.fatal
	skipped := len(ph.Nodes) > 0 && len(ps.skip) == len(ph.Nodes)
	ps.mu.Unlock()
	var root *failure
	if why := r.halting(); why != nil && fatal == nil && !stopped && !r.stopping.Load() {
		// A gate fired or a canary was aborted during this phase (or
		// before it began): it ends the run here.
		if halted {
			root = failures[0]
			for _, f := range failures {
				if f.haltsPhase {
					root = f
					break
				}
			}
		}
		code := r.Prog.Binding.Plan.GateExitCode
		var ae *AbortError
		if errors.As(why, &ae) {
			code = exitcode.Aborted
		}
		e.State, e.Error, e.ExitCode = journal.Failed, why.Error(), journal.Code(code)
		e.Detail = map[string]any{"failedNodes": len(failures)}
		r.event(e)
		r.end(r.gateEnd(ph, why, root, e.Vertex))
		return dag.Failed
	}
	switch {
	case fatal != nil:
		e.State, e.Error, e.ExitCode = journal.Failed, fatal.Error(), journal.Code(ph.ExitCode)
		r.event(e)
		return dag.Failed
	case halted:
		root = failures[0]
		for _, f := range failures {
			if f.haltsPhase {
				root = f // the pending changed-scope rollback must run
				break
			}
		}
	case stopped || r.stopping.Load():
		root = &failure{phase: ph, interrupted: true}
	case len(failures) > 0:
		r.mu.Lock()
		r.tolerated = append(r.tolerated, failures...)
		r.mu.Unlock()
	}
	e.State, e.Detail = journal.Passed, map[string]any{"failedNodes": len(failures)}
	switch {
	case root != nil && root.interrupted:
		e.State, e.ExitCode = journal.Cancelled, journal.Code(ph.ExitCode)
	case root != nil:
		e.State, e.ExitCode = journal.Failed, journal.Code(ph.ExitCode)
	case skipped:
		e.State = journal.Skipped
	}
	r.event(e)
	if root == nil {
		return dag.Passed
	}
	r.end(r.afterFailure(ph, root, e.Vertex))
	return dag.Failed
}

// toleratedResult is the result of a run that went to its end while some
// nodes failed within a failure budget: not a success (a node is not
// upgraded), with the exit code of the first phase that had a failure.
func (r *Runner) toleratedResult() (Result, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.tolerated) == 0 {
		return Result{}, false
	}
	f := r.tolerated[0]
	return Result{
		Status:   phaseStatus(f.phase),
		ExitCode: f.phase.ExitCode,
		Err: fmt.Errorf("%d node(s) failed within the failure budget; first: phase %s on %s at step %s: %w",
			len(r.tolerated), f.phase.ID, f.node.Name, f.step.ID, f.err),
	}, true
}
