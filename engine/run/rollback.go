package run

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/engine/exitcode"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport/local"
	"github.com/zdu-dev/zdu/steps/wait"
)

// CompensationTimeout bounds each compensation (e.g. re-enabling a node).
var CompensationTimeout = 2 * time.Minute

// armedRule is a rollback-on rule armed on a node.
type armedRule struct {
	phase, stepID string
	node          *load.Node
	rule          *load.RollbackRule
	vertex        string
}

func (a *armedRule) same(b *armedRule) bool { return a.phase == b.phase && a.stepID == b.stepID }

// undoEntry is a compensation a step registered for its node.
type undoEntry struct {
	key, desc string
	run       func(ctx context.Context, rc step.Context) error
	putsBack  bool
	lost      func(ctx context.Context, rc step.Context) ([]string, error)
	redo      func(ctx context.Context, rc step.Context) error
	// pending: armed before its step ran (prearm), not yet confirmed by
	// the step's outcome.
	pending bool
}

func newUndoEntry(u *step.Undo) undoEntry {
	return undoEntry{key: u.Key, desc: u.Description, run: u.Run, putsBack: u.PutsBack, lost: u.Lost, redo: u.Redo}
}

func (r *Runner) arm(v *compile.StepVertex) {
	s := v.Step
	r.mu.Lock()
	r.rules = append(r.rules, &armedRule{phase: v.Phase.ID, stepID: s.ID, node: v.Node, rule: s.Rollback, vertex: v.ID()})
	r.mu.Unlock()
	r.event(journal.Event{Kind: journal.KindRule, State: journal.Armed, Phase: v.Phase.ID, Node: v.Node.Name, Step: s.ID,
		Vertex: v.ID(), Detail: map[string]any{"rollback": s.Rollback.Rollback, "scope": s.Rollback.Scope}})
}

// track keeps a node's compensations up to date after step s (of rollback,
// or of a phase when rollback is "") ran within vertex, and journals each
// one armed and settled: a resumed run knows from them what a crashed one
// left to put back, and which step can rebuild it.
func (r *Runner) track(st *nodeState, s *load.Step, rollback string, out step.Outcome, vertex string) {
	for _, k := range out.Settles {
		kept := st.undo[:0]
		for _, u := range st.undo {
			if u.key != k {
				kept = append(kept, u)
				continue
			}
			r.event(journal.Event{Kind: journal.KindUndo, State: journal.Settled, Node: st.node.Name, Step: u.key, Vertex: vertex})
		}
		st.undo = kept
	}
	if out.Undo != nil {
		if i := st.undoIndex(out.Undo.Key); i >= 0 {
			st.undo[i] = newUndoEntry(out.Undo) // armed before the step ran, or by a crashed run
		} else {
			st.undo = append(st.undo, newUndoEntry(out.Undo))
			r.event(journal.Event{Kind: journal.KindUndo, State: journal.Armed, Node: st.node.Name, Step: out.Undo.Key, Vertex: vertex,
				Rollback: rollback, Detail: map[string]any{"description": out.Undo.Description, "step": s.ID}})
		}
	}
	// Armed before the step and not confirmed by it: the step changed
	// nothing, or put back what it changed (a failed drain).
	kept := st.undo[:0]
	for _, u := range st.undo {
		if !u.pending {
			kept = append(kept, u)
			continue
		}
		r.event(journal.Event{Kind: journal.KindUndo, State: journal.Settled, Node: st.node.Name, Step: u.key, Vertex: vertex,
			Rollback: rollback, Detail: map[string]any{"reason": "its step left nothing to undo"}})
	}
	st.undo = kept
}

// prearm arms the compensation of a step that can build it beforehand (a
// drain) before the step runs, and journals it with the step's start: a
// process killed in the middle of the step leaves a journal that says the
// node may be out of service, and what puts it back. track confirms or
// settles it once the step has ended.
func (r *Runner) prearm(st *nodeState, s *load.Step, env *expr.Env, rollback, vertex string) {
	c, ok := s.Action.(step.Compensator)
	if !ok {
		return
	}
	rc := &stepContext{r: r, node: st.node, env: env, log: r.Logs.Writer(st.node.Name), ctx: r.stepsCtx}
	u, err := c.Compensation(rc)
	if err != nil || u == nil || st.undoIndex(u.Key) >= 0 {
		return // the step fails on the same error; or it is armed already
	}
	e := newUndoEntry(u)
	e.pending = true
	st.undo = append(st.undo, e)
	r.event(journal.Event{Kind: journal.KindUndo, State: journal.Armed, Node: st.node.Name, Step: u.Key, Vertex: vertex,
		Rollback: rollback, Detail: map[string]any{"description": u.Description, "step": s.ID, "before": true}})
}

// onFailure finds the newest rule armed on the failing node whose `when`
// matches. A node-scope rollback runs now; a changed-scope one halts the
// phase and runs once the running nodes are done.
func (r *Runner) onFailure(f *failure) {
	st := r.state(f.node)
	env := st.env.WithPhase(f.phase.ID).WithFailure(f.data())
	r.mu.Lock()
	rules := append([]*armedRule(nil), r.rules...)
	r.mu.Unlock()
	for i := len(rules) - 1; i >= 0; i-- {
		a := rules[i]
		if a.node != f.node {
			continue
		}
		if a.rule.When != nil {
			ok, err := a.rule.When.Bool(env)
			if err != nil {
				r.event(journal.Event{Kind: journal.KindRule, State: journal.Failed, Phase: a.phase, Node: f.node.Name,
					Step: a.stepID, Vertex: f.vertex, Error: fmt.Sprintf("when: %v", err)})
				continue
			}
			if !ok {
				continue
			}
		}
		if a.rule.Scope == "changed" {
			f.haltsPhase, f.pending = true, a
			return
		}
		if !r.rollback(a, f, f.node, f.vertex) {
			f.rollbackFailed = a
		}
		return
	}
}

// afterFailure ends a failed phase, in its last barrier (vertex): pending
// changed-scope rollbacks, newest first, each followed by its node's
// compensation, one node at a time.
func (r *Runner) afterFailure(ph *compile.Phase, f *failure, vertex string) Result {
	if f.interrupted {
		return Result{Status: "INTERRUPTED", ExitCode: exitcode.Interrupted, Err: fmt.Errorf("interrupted during phase %s", ph.ID)}
	}
	failedRollback := f.rollbackFailed != nil
	if f.pending != nil {
		r.mu.Lock()
		var order []*load.Node
		seen := map[string]bool{}
		order = append(order, f.node)
		seen[f.node.Name] = true
		for i := len(r.rules) - 1; i >= 0; i-- {
			a := r.rules[i]
			if a.same(f.pending) && !seen[a.node.Name] {
				seen[a.node.Name] = true
				order = append(order, a.node)
			}
		}
		r.mu.Unlock()
		for _, n := range order {
			var failed *armedRule
			if !r.rollback(f.pending, f, n, vertex) {
				failedRollback, failed = true, f.pending
			}
			r.compensate(context.Background(), r.state(n), vertex, failed)
		}
	}
	res := Result{
		Status:   phaseStatus(ph),
		ExitCode: ph.ExitCode,
		Err:      fmt.Errorf("phase %s failed on %s at step %s: %w", ph.ID, f.node.Name, f.step.ID, f.err),
	}
	if failedRollback {
		res.Status, res.ExitCode = "ROLLBACK_FAILED", r.Prog.Binding.Plan.RollbackExitCode
	}
	return res
}

// rollback runs a rule's rollback steps on node n, within vertex. It
// reports success.
func (r *Runner) rollback(a *armedRule, f *failure, n *load.Node, vertex string) bool {
	steps := r.Prog.Binding.Plan.Rollbacks[a.rule.Rollback]
	base := journal.Event{Kind: journal.KindRollback, Phase: f.phase.ID, Node: n.Name, Rollback: a.rule.Rollback, Vertex: vertex}
	st := r.state(n)
	st.rolledBack = true
	env := st.env.WithPhase(f.phase.ID).WithFailure(f.data())
	e := base
	e.State = journal.Started
	r.event(e)
	for _, s := range steps {
		if s.When != nil {
			ok, err := s.When.Bool(env)
			if err != nil || !ok {
				se := base
				se.Step, se.State = s.ID, journal.Skipped
				if err != nil {
					se.State, se.Error = journal.Failed, err.Error()
				}
				r.event(se)
				if err != nil {
					return r.rollbackDone(base, false, -1, err)
				}
				if s.Register != "" {
					env = env.WithResult(s.Register, expr.SkippedResult())
				}
				continue
			}
		}
		r.prearm(st, s, env, a.rule.Rollback, vertex)
		out, err := r.runStep(f.phase.ID, n, s, env, journal.KindRollback, a.rule.Rollback, vertex,
			func(out step.Outcome) { r.track(st, s, a.rule.Rollback, out, vertex) })
		if s.Register != "" {
			env = env.WithResult(s.Register, expr.Result(out, err))
		}
		if err != nil && !s.ContinueOnError {
			return r.rollbackDone(base, false, out.ExitCode, err)
		}
	}
	st.failed = true
	return r.rollbackDone(base, true, 0, nil)
}

func (r *Runner) rollbackDone(base journal.Event, ok bool, code int, err error) bool {
	e := base
	e.State, e.ExitCode = journal.Passed, journal.Code(code)
	if !ok {
		e.State = journal.Failed
		if code == 0 {
			e.ExitCode = journal.Code(1)
		}
		e.Error = err.Error()
	}
	r.event(e)
	return ok
}

// compensate runs a node's pending compensations, newest first, within
// vertex ("" at the run's end). After a failed rollback (failed is the
// rule whose rollback failed; or the node was kept out before), those that
// would put the node back in service are kept from running: a node in an
// unknown state stays out, unless the rule's reenableIfHealthy check passes.
func (r *Runner) compensate(parent context.Context, st *nodeState, vertex string, failed *armedRule) error {
	var firstErr error
	if failed != nil {
		st.keptOut = st.keptOut || !r.healthyAgain(parent, st, failed, vertex)
	}
	for i := len(st.undo) - 1; i >= 0; i-- {
		u := st.undo[i]
		base := journal.Event{Kind: journal.KindUndo, Node: st.node.Name, Step: u.key, Vertex: vertex,
			Detail: map[string]any{"description": u.desc}}
		e := base
		if u.putsBack && st.keptOut {
			e.State = journal.Kept
			e.Error = "the node's rollback failed: it stays out of service until someone puts it back"
			r.event(e)
			continue
		}
		e.State = journal.Started
		r.event(e)
		ctx, cancel := context.WithTimeout(parent, CompensationTimeout)
		rc := &stepContext{r: r, node: st.node, env: st.env, log: r.Logs.Writer(st.node.Name), ctx: ctx, base: base}
		err := u.run(ctx, rc)
		cancel()
		e = base
		e.State = journal.Passed
		if err != nil {
			e.State, e.Error = journal.Failed, err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %s: %w", st.node.Name, u.desc, err)
			}
		}
		r.event(e)
	}
	st.undo = nil
	return firstErr
}

// compensateAll puts back every node something is still pending for (an
// interrupted run, a failure elsewhere).
func (r *Runner) compensateAll(ctx context.Context) error {
	r.mu.Lock()
	var states []*nodeState
	for _, n := range r.Prog.Binding.Inv.Nodes {
		if st, ok := r.nodes[n.Name]; ok && len(st.undo) > 0 {
			states = append(states, st)
		}
	}
	r.mu.Unlock()
	var firstErr error
	for _, st := range states {
		if err := r.compensate(context.WithoutCancel(ctx), st, "", nil); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// ReenableTimeout bounds the health check that lets a node whose rollback
// failed back into service (a rule's reenableIfHealthy).
var ReenableTimeout = time.Minute

// healthyAgain reports whether a node whose rollback failed may be put back:
// only when the rule names a health URL and it answers 200 within
// ReenableTimeout. The check is journaled either way.
func (r *Runner) healthyAgain(ctx context.Context, st *nodeState, a *armedRule, vertex string) bool {
	t := a.rule.ReenableIfHealthy
	if t == nil || t.IsZero() {
		return false
	}
	e := journal.Event{Kind: journal.KindRule, State: journal.Passed, Node: st.node.Name, Step: a.stepID, Vertex: vertex,
		Detail: map[string]any{"reenableIfHealthy": t.Source()}}
	url, err := t.Render(st.env)
	if err == nil {
		p := &wait.HTTPProbe{URL: url, Status: 200, Dial: local.New().Dial}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ReenableTimeout)
		rc := &stepContext{r: r, node: st.node, env: st.env, log: r.Logs.Writer(st.node.Name), ctx: cctx,
			base: journal.Event{Kind: journal.KindRule, Node: st.node.Name, Step: a.stepID, Vertex: vertex}}
		_, _, err = wait.Poll(cctx, rc, "health check before putting "+st.node.Name+" back after its failed rollback",
			time.Second, ReenableTimeout, p.Check)
		cancel()
	}
	if err != nil {
		e.State, e.Error = journal.Failed, err.Error()
	}
	r.event(e)
	return err == nil
}

// checkDrift asks, before a step of a node, whether what its earlier steps
// left still holds (the node still drained from its load balancers): a
// load balancer restarted or reloaded meanwhile may have put it back in
// traffic. Where it no longer holds, the drain is done again when the plan
// says onDrift: redrain; otherwise the error stops the node there. A state
// that cannot be read is journaled and the run goes on.
func (r *Runner) checkDrift(st *nodeState, env *expr.Env, phase, vertex string) error {
	for _, u := range st.undo {
		if u.lost == nil {
			continue
		}
		base := journal.Event{Kind: journal.KindDrift, Phase: phase, Node: st.node.Name, Step: u.key, Vertex: vertex}
		rc := &stepContext{r: r, node: st.node, env: env, log: r.Logs.Writer(st.node.Name), ctx: r.stepsCtx, base: base}
		lost, err := u.lost(r.stepsCtx, rc)
		if err != nil {
			e := base
			e.State, e.Error = journal.Failed, "cannot tell whether it still holds: "+err.Error()
			r.event(e)
			continue
		}
		if len(lost) == 0 {
			continue
		}
		msg := fmt.Sprintf("drift: %s no longer holds on %s (the load balancer was restarted or reloaded?)", u.desc, strings.Join(lost, ", "))
		e := base
		e.State, e.Error = journal.Detected, msg
		e.Detail = map[string]any{"instances": lost, "redrain": u.redo != nil}
		r.event(e)
		fmt.Fprintf(rc.log, "%s\n", msg)
		if u.redo == nil {
			return fmt.Errorf("%s: stopped before this step (the drain's onDrift is stop)", msg)
		}
		e = base
		e.State = journal.Passed
		if err := u.redo(r.stepsCtx, rc); err != nil {
			e.State, e.Error = journal.Failed, err.Error()
			r.event(e)
			return fmt.Errorf("%s; draining it again failed: %w", msg, err)
		}
		r.event(e)
	}
	return nil
}

// undoIndex is the position of the node's compensation keyed key, or -1.
func (st *nodeState) undoIndex(key string) int {
	for i, u := range st.undo {
		if u.key == key {
			return i
		}
	}
	return -1
}
