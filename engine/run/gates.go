package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/gate"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
)

// Gatekeeper judges the run while it goes on: the availability probe with
// the plan's gates.
type Gatekeeper interface {
	// Baseline measures before the first node is touched, as long as the
	// plan asks (nothing when it asks for none), and returns its figures.
	Baseline(ctx context.Context) (*gate.Figures, error)
	// Watch judges the probe's figures as they come until ctx ends, and
	// calls breached once, on its own goroutine, when a gate fires.
	Watch(ctx context.Context, breached func(*gate.Breach))
}

// Control is how an operator decides a canary's pause from another
// terminal (zdu approve, zdu abort).
type Control interface {
	// Clear forgets decisions made before the pause began.
	Clear() error
	// Decision is "approve", "abort" or "" (none yet), and who made it.
	Decision() (decision, by string)
}

// Decisions a Control reports.
const (
	Approve = "approve"
	Abort   = "abort"
)

// controlPoll is how often a pause looks for an operator's decision.
const controlPoll = 200 * time.Millisecond

// startGates measures the baseline, then watches the gates until the walk
// is over (stop). Without a Gatekeeper or with no gate set, it does nothing.
func (r *Runner) startGates(ctx context.Context) (stop func(), err error) {
	if r.Gates == nil || !r.Prog.Binding.Plan.Gates.Active() {
		return func() {}, nil
	}
	// The baseline is no work of the run's: a stop (a signal, a closed
	// output) ends it at once, and the walk then starts nothing.
	bctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-r.stopC():
			cancel()
		case <-bctx.Done():
		}
	}()
	base, err := r.Gates.Baseline(bctx)
	cancel()
	if err != nil {
		if r.stopping.Load() || ctx.Err() != nil {
			return func() {}, nil
		}
		return func() {}, fmt.Errorf("the gates' baseline: %w", err)
	}
	if base != nil {
		r.event(journal.Event{Kind: journal.KindGate, State: journal.Passed, Detail: map[string]any{"baseline": detailOf(base)}})
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Gates.Watch(wctx, r.gateBreached)
	}()
	return func() { cancel(); <-done }, nil
}

// gateBreached is a gate that fired: journaled at once; from now on no node
// starts, a node in flight fails before its next step (its rollback-on
// rules run), and the phase running ends the run with the gate's code
// (see gateEnd).
func (r *Runner) gateBreached(b *gate.Breach) {
	if !r.breach.CompareAndSwap(nil, b) {
		return
	}
	r.event(journal.Event{Kind: journal.KindGate, State: journal.Failed, Error: b.Error(), ExitCode: journal.Code(r.Prog.Binding.Plan.GateExitCode),
		Detail: map[string]any{"breach": detailOf(b)}})
	close(r.breachC())
}

// breachC is closed once a gate has fired.
func (r *Runner) breachC() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.breachCh == nil {
		r.breachCh = make(chan struct{})
	}
	return r.breachCh
}

// halting reports why no node may start or go on: a gate fired or an
// operator aborted a canary (nil: neither).
func (r *Runner) halting() error {
	if b := r.breach.Load(); b != nil {
		return b
	}
	if a := r.aborted.Load(); a != nil {
		return a
	}
	return nil
}

// AbortError is a canary aborted by an operator, or not approved in time.
type AbortError struct {
	Phase, By string
	Timeout   time.Duration
}

func (e *AbortError) Error() string {
	if e.By == "" {
		return fmt.Sprintf("canary of phase %s: no approval within %s", e.Phase, e.Timeout)
	}
	return fmt.Sprintf("canary of phase %s aborted by %s", e.Phase, e.By)
}

// pause is a phase's canary pause: the rest of the phase waits for it. It
// watches for the pause's length (a gate that fires ends it), then, when
// the plan asks, waits for zdu approve (or abort) up to the canary's
// timeout.
func (r *Runner) pause(p *compile.Pause) dag.Status {
	ph := p.Phase
	ps := r.phases[ph.Index]
	c := ph.Canary
	e := journal.Event{Kind: journal.KindCanary, Phase: ph.ID, Vertex: p.ID()}
	if ps.closed() || r.stopping.Load() || r.halting() != nil {
		e.State = journal.Blocked
		r.event(e)
		return dag.Blocked
	}
	if r.Control != nil {
		if err := r.Control.Clear(); err != nil {
			e.State, e.Error = journal.Failed, fmt.Sprintf("clearing earlier decisions: %v", err)
			r.event(e)
			r.end(Result{Status: "FATAL_ERROR", ExitCode: exitcode.Fatal, Err: errors.New(e.Error)})
			return dag.Failed
		}
	}
	e.State = journal.Started
	e.Detail = map[string]any{"nodes": ph.CanaryNodes, "pause": c.Pause.String(), "approve": c.Approve}
	if c.Approve {
		e.Detail["timeout"] = c.Timeout.String()
	}
	r.event(e)
	e.Detail = nil
	end := func(state string, err error, detail map[string]any) dag.Status {
		e.State, e.Detail = state, detail
		if err != nil {
			e.Error = err.Error()
		}
		r.event(e)
		switch state {
		case journal.Passed:
			return dag.Passed
		case journal.Cancelled:
			return dag.Blocked
		}
		return dag.Failed
	}
	if c.Pause > 0 {
		t := time.NewTimer(c.Pause)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.breachC():
			return end(journal.Failed, r.breach.Load(), nil)
		case <-r.stopC():
			return end(journal.Cancelled, nil, nil)
		}
	}
	if !c.Approve {
		return end(journal.Passed, nil, nil)
	}
	if r.Control == nil {
		return end(journal.Failed, errors.New("the canary waits for an approval, and this run takes none"), nil)
	}
	r.event(journal.Event{Kind: journal.KindCanary, State: journal.Waiting, Phase: ph.ID, Vertex: p.ID(),
		Detail: map[string]any{"timeout": c.Timeout.String()}})
	deadline := time.NewTimer(c.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(controlPoll)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-deadline.C:
			a := &AbortError{Phase: ph.ID, Timeout: c.Timeout}
			r.aborted.CompareAndSwap(nil, a)
			return end(journal.Failed, a, nil)
		case <-r.breachC():
			return end(journal.Failed, r.breach.Load(), nil)
		case <-r.stopC():
			return end(journal.Cancelled, nil, nil)
		}
		switch d, by := r.Control.Decision(); d {
		case Approve:
			return end(journal.Passed, nil, map[string]any{"approvedBy": by})
		case Abort:
			a := &AbortError{Phase: ph.ID, By: by}
			r.aborted.CompareAndSwap(nil, a)
			return end(journal.Failed, a, map[string]any{"abortedBy": by})
		}
	}
}

// gateEnd ends the run in the phase that was running when a gate fired or
// a canary was aborted: the nodes that failed on it have rolled back by
// their rules (f, when one did, runs what their changed-scope rules left
// pending); with onBreach: rollback, every other node changed so far is
// rolled back too, newest first.
func (r *Runner) gateEnd(ph *compile.Phase, why error, f *failure, vertex string) Result {
	failedRollback := false
	if f != nil && !f.interrupted {
		if res := r.afterFailure(ph, f, vertex); res.Status == "ROLLBACK_FAILED" {
			failedRollback = true
		}
	}
	if r.Prog.Binding.Plan.OnBreach == "rollback" {
		if !r.rollbackChanged(ph, why, vertex) {
			failedRollback = true
		}
	}
	res := Result{Status: "GATE_BREACHED", ExitCode: r.Prog.Binding.Plan.GateExitCode, Err: why}
	var ae *AbortError
	if errors.As(why, &ae) {
		res.Status, res.ExitCode = "ABORTED", exitcode.Aborted
	}
	if failedRollback {
		res.Status, res.ExitCode = "ROLLBACK_FAILED", r.Prog.Binding.Plan.RollbackExitCode
	}
	return res
}

// rollbackChanged rolls back every node that armed a rule and has not been
// rolled back yet, newest first, each with its newest rule whose when
// holds for the gate's failure, then puts it back in service. It reports
// whether every rollback passed.
func (r *Runner) rollbackChanged(ph *compile.Phase, why error, vertex string) bool {
	r.mu.Lock()
	rules := append([]*armedRule(nil), r.rules...)
	r.mu.Unlock()
	ok := true
	seen := map[string]bool{}
	for i := len(rules) - 1; i >= 0; i-- {
		a := rules[i]
		if seen[a.node.Name] {
			continue
		}
		st := r.state(a.node)
		if st.rolledBack || st.keptOut {
			seen[a.node.Name] = true
			continue
		}
		f := &failure{phase: ph, node: a.node, step: gateStep, vertex: vertex, exitCode: 1, err: why}
		if a.rule.When != nil {
			env := st.env.WithPhase(ph.ID).WithFailure(f.data())
			if match, err := a.rule.When.Bool(env); err != nil || !match {
				continue // an older rule of this node may match
			}
		}
		seen[a.node.Name] = true
		var failed *armedRule
		if !r.rollback(a, f, a.node, vertex) {
			ok, failed = false, a
		}
		r.compensate(context.Background(), st, vertex, failed)
	}
	return ok
}

// gateStep stands for the step a gate's failure happened at: none.
var gateStep = &load.Step{ID: "gate"}
