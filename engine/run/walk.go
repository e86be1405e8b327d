package run

import (
	"context"
	"errors"
	"fmt"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/steps/step"
)

// vertex runs one vertex of the graph; the walk calls it on a goroutine of
// its own once the vertex may run.
func (r *Runner) vertex(_ context.Context, v dag.Vertex) dag.Status {
	switch v := v.(type) {
	case *compile.StepVertex:
		return r.stepVertex(v)
	case *compile.Barrier:
		return r.barrier(v)
	case *compile.Pause:
		return r.pause(v)
	}
	panic(fmt.Sprintf("run: vertex %q of unknown type %T", v.ID(), v))
}

// holdBack is the walk's stop policy: a node does not start (its first step
// is blocked, it takes no slot) once its phase is halted or the run is
// stopping. A node already started decides for itself in stepVertex, so it
// can be put back in service.
func (r *Runner) holdBack(v dag.Vertex) bool {
	sv, ok := v.(*compile.StepVertex)
	if !ok || !sv.First {
		return false
	}
	return r.stopping.Load() || r.phases[sv.Phase.Index].closed() || r.halting() != nil
}

// blocked journals a vertex the walk did not run: its upstream failed or was
// blocked, the run stopped before it, or the run's context ended (cancelled).
func (r *Runner) blocked(v dag.Vertex, why dag.Reason) {
	state := journal.Blocked
	if why == dag.Cancelled {
		state = journal.Cancelled
	}
	e := journal.Event{State: state, Vertex: v.ID(), Detail: map[string]any{"reason": why.String()}}
	switch v := v.(type) {
	case *compile.StepVertex:
		e.Kind, e.Phase, e.Node, e.Step = journal.KindStep, v.Phase.ID, v.Node.Name, v.Step.ID
	case *compile.Barrier:
		e.Kind, e.Phase = journal.KindBatch, v.Phase.ID
		if v.Last {
			e.Kind = journal.KindPhase
		}
	case *compile.Pause:
		e.Kind, e.Phase = journal.KindCanary, v.Phase.ID
	}
	r.event(e)
}

// stepVertex runs one step of one node in one phase. The node's first step
// to run in the phase also starts the node there (or finds it blocked by an
// earlier failure, or skipped by the phase's when); a failure ends the node
// there: its rollback-on rules, then its compensation.
func (r *Runner) stepVertex(v *compile.StepVertex) dag.Status {
	ph, n, s, id := v.Phase, v.Node, v.Step, v.ID()
	ps := r.enter(ph, id)
	st := r.state(n)
	base := journal.Event{Kind: journal.KindStep, Phase: ph.ID, Node: n.Name, Step: s.ID, Vertex: id}
	// The node's first step to run in the phase starts it there: its first
	// step, or, in a resumed run, the first one not done before.
	if st.in == nil || st.in.phase != ph.Index {
		np := &nodePhase{phase: ph.Index, env: st.env.WithPhase(ph.ID)}
		st.in = np
		node := journal.Event{Kind: journal.KindNode, Phase: ph.ID, Node: n.Name, Vertex: id}
		switch {
		case st.failed:
			node.State, node.Error = journal.Blocked, "the node failed in an earlier phase"
			r.event(node)
			np.ended = true
			r.stepEvent(base, journal.Blocked)
			return dag.Blocked
		case ps.skips(n):
			np.skipped = true
			node.State = journal.Skipped
			r.event(node)
		default:
			node.State = journal.Started
			r.event(node)
			r.Transports.Begin(n.Name)
		}
	}
	np := st.in
	if np.skipped {
		r.stepEvent(base, journal.Skipped)
		return dag.Skipped
	}
	if r.stopping.Load() {
		// The node has started: it ends here, and is put back in service.
		r.stepEvent(base, journal.Blocked)
		r.endNode(v, st, &failure{phase: ph, node: n, step: s, vertex: id, interrupted: true, err: errors.New("interrupted")})
		return dag.Blocked
	}
	if why := r.halting(); why != nil {
		// A gate fired (or a canary was aborted) while the node was on its
		// way: it fails here, before its next step, and its rollback-on
		// rules decide what to undo. The step's event says why it did
		// not start.
		base.Error = why.Error()
		r.stepEvent(base, journal.Failed)
		r.endNode(v, st, r.stepFailed(v, step.Outcome{ExitCode: -1}, why))
		return dag.Failed
	}
	if s.Rollback != nil {
		r.stepEvent(base, journal.Started)
		r.arm(v)
		r.stepEvent(base, journal.Passed)
		return r.nodeGoesOn(v, np)
	}
	if s.When != nil {
		ok, err := s.When.Bool(np.env)
		if err != nil {
			r.stepEvent(base, journal.Failed)
			r.endNode(v, st, r.stepFailed(v, step.Outcome{ExitCode: -1}, fmt.Errorf("when: %w", err)))
			return dag.Failed
		}
		if !ok {
			skipped := base
			skipped.State = journal.Skipped
			if s.Register != "" {
				skipped.Detail = map[string]any{"register": s.Register, "result": expr.SkippedResult()}
			}
			r.event(skipped)
			if s.Register != "" {
				r.register(st, np, s.Register, expr.SkippedResult())
			}
			return r.nodeGoesOn(v, np)
		}
	}
	if err := r.checkDrift(st, np.env, ph.ID, id); err != nil {
		r.stepEvent(base, journal.Failed)
		r.endNode(v, st, r.stepFailed(v, step.Outcome{ExitCode: -1}, err))
		return dag.Failed
	}
	r.prearm(st, s, np.env, "", id)
	out, err := r.runStep(ph.ID, n, s, np.env, journal.KindStep, "", id,
		func(out step.Outcome) { r.track(st, s, "", out, id) })
	if s.Register != "" {
		r.register(st, np, s.Register, expr.Result(out, err))
	}
	if err != nil && !s.ContinueOnError {
		r.endNode(v, st, r.stepFailed(v, out, err))
		return dag.Failed
	}
	return r.nodeGoesOn(v, np)
}

// stepEvent journals a state of the step vertex base describes.
func (r *Runner) stepEvent(base journal.Event, state string) {
	base.State = state
	r.event(base)
}

// nodeGoesOn is the end of a step that did not fail: after the node's last
// step in the phase, the node has passed it.
func (r *Runner) nodeGoesOn(v *compile.StepVertex, np *nodePhase) dag.Status {
	if v.Last {
		r.event(journal.Event{Kind: journal.KindNode, State: journal.Passed, Phase: v.Phase.ID, Node: v.Node.Name,
			Vertex: v.ID(), ExitCode: journal.Code(0)})
		np.ended = true
		r.Transports.Done(v.Node.Name)
	}
	return dag.Passed
}

// register makes a step's outcome results.NAME for the node's later steps,
// in this phase and the next ones.
func (r *Runner) register(st *nodeState, np *nodePhase, name string, res map[string]any) {
	st.results[name] = res
	np.env = np.env.WithResult(name, res)
	st.env = st.env.WithResult(name, res)
}

// endNode ends a node that failed (or was interrupted) in a phase: its
// failure is journaled and counted against the phase, its rollback-on rules
// run, then its compensation (unless a changed-scope rollback is due, which
// puts it back itself once the phase has stopped).
func (r *Runner) endNode(v *compile.StepVertex, st *nodeState, f *failure) {
	st.failed = true
	ev := journal.Event{Kind: journal.KindNode, State: journal.Failed, Phase: v.Phase.ID, Node: v.Node.Name,
		Vertex: v.ID(), ExitCode: journal.Code(f.exitCode)}
	if f.err != nil {
		ev.Error = f.err.Error()
	}
	if f.interrupted {
		ev.State = journal.Cancelled
	}
	r.event(ev)
	st.in.ended = true
	if !f.interrupted {
		r.onFailure(f)
	}
	r.phases[v.Phase.Index].record(f)
	if !f.haltsPhase {
		// Nothing else is coming for this node: put it back in service now.
		r.compensate(context.Background(), st, v.ID(), f.rollbackFailed)
		r.Transports.Done(v.Node.Name)
	}
}

func (r *Runner) stepFailed(v *compile.StepVertex, out step.Outcome, err error) *failure {
	f := &failure{phase: v.Phase, node: v.Node, step: v.Step, vertex: v.ID(), exitCode: out.ExitCode, err: err, output: out.Stderr}
	if f.exitCode == 0 {
		f.exitCode = 1
	}
	var je *JournalError
	if r.stepsCtx.Err() != nil || (errors.Is(err, context.Canceled) && r.stopping.Load()) || errors.As(err, &je) {
		f.interrupted = true
	}
	return f
}

// skips reports whether the phase's when is false on n.
func (ps *phaseState) skips(n *load.Node) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.skip[n]
}
