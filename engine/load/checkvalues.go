package load

import (
	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/spec"
)

// checkValues applies each vetted template's check (step.Args.Checked) to
// the values known before the run, on every node the step runs on: what
// node.*, vars.* and params.* give (and phase.* in a phase). A value that
// would put a separator into a runtime API command or a URL is a problem
// at its expression, naming the nodes; values only known at run time
// (results, failure) are checked when the step renders them.
func (b *Binding) checkValues(pp *Problems) {
	base := map[*Node]*expr.Env{}
	envs := func(nodes []*Node, phase string) []*expr.Env {
		out := make([]*expr.Env, len(nodes))
		for i, n := range nodes {
			e, ok := base[n]
			if !ok {
				e = expr.NewEnv(b.Params[n.Name], n.Vars, expr.NodeData{
					Name: n.Name, Host: n.Host, Port: n.Port, User: n.User, Groups: n.Groups,
				}, "", nil)
				base[n] = e
			}
			if phase != "" {
				e = e.WithPhase(phase)
			}
			out[i] = e
		}
		return out
	}
	for i, ph := range b.Plan.Phases {
		if !hasChecks(ph.Order) {
			continue
		}
		nodes := b.Targets[i]
		es := envs(nodes, ph.ID)
		for _, st := range ph.Order {
			b.checkStep(pp, st, nodes, es, true)
		}
	}
	for _, name := range b.Plan.RollbackOrder {
		if !hasChecks(b.Plan.Rollbacks[name]) {
			continue
		}
		nodes := b.RollbackNodes(name)
		es := envs(nodes, "")
		for _, st := range b.Plan.Rollbacks[name] {
			b.checkStep(pp, st, nodes, es, false)
		}
	}
}

func hasChecks(steps []*Step) bool {
	for _, st := range steps {
		if len(st.checks) > 0 {
			return true
		}
	}
	return false
}

// checkStep checks st's vetted templates on nodes, whose envs are es.
func (b *Binding) checkStep(pp *Problems, st *Step, nodes []*Node, es []*expr.Env, inPhase bool) {
	if len(st.checks) == 0 {
		return
	}
	known := func(root string) bool {
		switch root {
		case "params", "vars", "node":
			return true
		case "phase":
			return inPhase
		}
		return false
	}
	type key struct {
		pos  spec.Pos
		path string
		msg  string
	}
	var order []key
	found := map[key][]*Node{}
	for i, n := range nodes {
		for _, c := range st.checks {
			for _, e := range c.t.CheckKnown(es[i], known) {
				k := key{pos: c.src.inner(c.v, e.Line, e.Col), path: c.path, msg: e.Msg}
				if _, seen := found[k]; !seen {
					order = append(order, k)
				}
				found[k] = append(found[k], n)
			}
		}
	}
	for _, k := range order {
		pp.At(k.pos, k.path, "%s (on %s)", k.msg, nodeList(found[k]))
	}
}
