package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"

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
	return errors.Join(errs...)
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
