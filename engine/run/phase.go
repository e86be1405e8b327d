package run

import (
	"fmt"
	"sync"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
)

// runPhase runs a phase's batches, at most ph.Limit nodes at once, and returns
// the failure that stops the plan: the first one once more nodes failed than
// the budget allows (or one that armed a changed-scope rollback), or an
// interruption. It returns nil when the phase passed, possibly with failures
// the budget tolerated (kept in r.tolerated). Once the phase is halted no new
// node starts; running nodes finish.
//
// skip holds the nodes for which the phase's `when` is false: they are
// recorded as skipped and take no slot.
func (r *Runner) runPhase(ph *compile.Phase, skip map[*load.Node]bool) *failure {
	r.event(journal.Event{Kind: journal.KindPhase, State: journal.Started, Phase: ph.ID,
		Detail: map[string]any{"title": ph.Title, "limit": ph.Limit, "budget": ph.Budget}})
	var (
		mu       sync.Mutex
		failures []*failure // real failures, in the order they happened
		halted   bool       // over budget, or a changed-scope rollback pending
		stopped  bool       // a node was interrupted by Stop
	)
	stop := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return halted || r.stopping.Load()
	}
	sem := make(chan struct{}, ph.Limit)
	for _, batch := range ph.Batches {
		var wg sync.WaitGroup
		for _, n := range batch {
			if skip[n] {
				r.event(journal.Event{Kind: journal.KindNode, State: journal.Skipped, Phase: ph.ID, Node: n.Name})
				continue
			}
			// Waiting for a slot can take as long as a running node; Stop
			// must not have to wait for it, so both are selected on.
			acquired := false
			select {
			case sem <- struct{}{}:
				acquired = true
			case <-r.stopC():
			}
			if !acquired || stop() {
				if acquired {
					<-sem
				}
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				f := r.runNode(ph, n)
				if f == nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if f.interrupted {
					stopped = true
					return
				}
				failures = append(failures, f)
				if len(failures) > ph.Budget || f.haltsPhase {
					halted = true
				}
			}()
		}
		wg.Wait()
		if stop() {
			break
		}
	}
	var root *failure
	switch {
	case halted:
		root = failures[0]
		for _, f := range failures {
			if f.haltsPhase {
				// The pending changed-scope rollback must run.
				root = f
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
	e := journal.Event{Kind: journal.KindPhase, State: journal.Passed, Phase: ph.ID,
		Detail: map[string]any{"failedNodes": len(failures)}}
	if root != nil {
		e.State, e.ExitCode = journal.Failed, journal.Code(ph.ExitCode)
		if root.interrupted {
			e.State = journal.Cancelled
		}
	}
	r.event(e)
	return root
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
