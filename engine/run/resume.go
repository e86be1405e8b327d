package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strings"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/steps/step"
)

// restore gives a resumed run what its journal says the nodes have: the
// rollback-on rules armed by done vertices and the compensations still
// pending (rebuilt by the steps that armed them), so a failure still rolls
// back and puts back what the crashed process had changed.
func (r *Runner) restore(ctx context.Context) error {
	p := r.Prior
	if p == nil {
		return nil
	}
	for _, rule := range p.Rules {
		v := rule.Vertex
		r.rules = append(r.rules, &armedRule{phase: v.Phase.ID, stepID: v.Step.ID, node: v.Node, rule: v.Step.Rollback, vertex: v.ID()})
	}
	r.unended = map[int][]*compile.StepVertex{}
	for _, v := range r.Prog.Graph.Vertices() {
		sv, ok := v.(*compile.StepVertex)
		if ok && sv.Last && p.Done[sv.ID()] && !p.NodeEnded[sv.Phase.ID+"/"+sv.Node.Name] {
			r.unended[sv.Phase.Index] = append(r.unended[sv.Phase.Index], sv)
		}
	}
	var errs []error
	for node, undos := range p.Undos {
		n, ok := r.Prog.Binding.Inv.ByName[node]
		if !ok {
			errs = append(errs, fmt.Errorf("node %s, which has a drain to undo, is not in the inventory", node))
			continue
		}
		st := r.state(n)
		for _, u := range undos {
			c, ok := u.Step.Action.(step.Compensator)
			if !ok {
				errs = append(errs, fmt.Errorf("node %s: step %s (%s) left %s, and its type cannot rebuild what undoes it", node, u.Step.ID, u.Step.Type, u.Key))
				continue
			}
			rc := &stepContext{r: r, node: n, env: st.env, log: r.Logs.Writer(node), ctx: ctx}
			undo, err := c.Compensation(rc)
			if err != nil {
				errs = append(errs, fmt.Errorf("node %s: rebuilding %s: %w", node, u.Key, err))
				continue
			}
			st.undo = append(st.undo, newUndoEntry(undo))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.reconcile(ctx)
	return nil
}

// reconcile looks, before anything runs, at what the journal says the
// crashed process left: whether each node it drained is still drained on
// every instance of its load balancer. What it finds is journaled (drift
// passed: still holds; detected: lost, with the instances) and shown; the
// node's next step acts on a loss by the drain's onDrift.
func (r *Runner) reconcile(ctx context.Context) {
	names := make([]string, 0, len(r.Prior.Undos))
	for node := range r.Prior.Undos {
		names = append(names, node)
	}
	sort.Strings(names)
	for _, node := range names {
		n, ok := r.Prog.Binding.Inv.ByName[node]
		if !ok {
			continue
		}
		st := r.state(n)
		for _, u := range st.undo {
			if u.lost == nil {
				continue
			}
			rc := &stepContext{r: r, node: n, env: st.env, log: r.Logs.Writer(node), ctx: ctx}
			e := journal.Event{Kind: journal.KindDrift, Node: node, Step: u.key, State: journal.Passed,
				Detail: map[string]any{"reconcile": true, "what": u.desc}}
			lost, err := u.lost(ctx, rc)
			switch {
			case err != nil:
				e.State, e.Error = journal.Failed, "cannot tell whether it still holds: "+err.Error()
			case len(lost) > 0:
				e.State, e.Error = journal.Detected, fmt.Sprintf("no longer holds on %s", strings.Join(lost, ", "))
				e.Detail["instances"] = lost
			}
			r.event(e)
		}
	}
}

// resumeDetail is what the journal says of a resumption.
func (r *Runner) resumeDetail() map[string]any {
	d := runDetail(r.Prog)
	d["from"] = r.Prior.LastSeq
	d["pid"] = os.Getpid()
	if h, err := os.Hostname(); err == nil {
		d["host"] = h
	}
	if u, err := user.Current(); err == nil {
		d["user"] = u.Username
	}
	var rerun []any
	for _, f := range r.Prior.InFlight {
		rerun = append(rerun, f.Vertex.ID())
	}
	if rerun != nil {
		d["rerun"] = rerun
	}
	return d
}

// endEarlierNodes journals, at a barrier of phase index ph, the end of the
// nodes whose steps there all passed in an earlier process that died
// before it could journal the node's end: the summary and the barrier's
// decision count them as the earlier process would have.
func (r *Runner) endEarlierNodes(ph int) {
	r.mu.Lock()
	done := r.unended[ph]
	delete(r.unended, ph)
	r.mu.Unlock()
	for _, v := range done {
		r.event(journal.Event{Kind: journal.KindNode, State: journal.Passed, Phase: v.Phase.ID, Node: v.Node.Name,
			Vertex: v.ID(), ExitCode: journal.Code(0), Detail: map[string]any{"earlier": true}})
	}
}
