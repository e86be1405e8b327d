package load

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zdu-dev/zdu/schema"
	"github.com/zdu-dev/zdu/steps/step"
)

// Lint returns warnings about a bound plan: what is valid but likely a
// mistake, each at the line and column of the step to look at. zdu validate
// prints them and still exits 0.
//
// Today there is one kind, the availability lint: a step that disrupts
// service on a node (Step.Disrupts: it stops or restarts a service there)
// while the node is behind a load balancer and, along the graph's order,
// not drained from it. A forgiving load balancer (retries, redispatch) can
// hide such a missing drain from every availability probe, so only reading
// the plan finds it.
//
// A node is behind a load balancer when the inventory's servers map of
// that load balancer names it, or when the plan drains it from that load
// balancer in some phase. Its drained state follows the graph's order: the
// phases in order, in each the node's steps in execution order; a step that
// takes the node out of a load balancer (step.TrafficChanger, lb-drain)
// drains it until one puts it back (lb-enable). Steps are taken as they
// may run: a drain with a `when` counts as a drain, a disrupting step with a
// `when` as one that runs. Rollbacks are not linted: they run after a
// failure, often while the failing phase's drain still holds.
func Lint(b *Binding) []schema.Problem {
	behind := nodesBehind(b)
	type key struct {
		phase int
		st    *Step
		lb    string
	}
	found := map[key]*lintFinding{}
	var order []key
	drained := map[string]map[string]*Step{} // node -> lb -> the step that drained it
	enabled := map[string]map[string]*Step{} // node -> lb -> the step that last put it back
	for i, ph := range b.Plan.Phases {
		for _, n := range b.Targets[i] {
			if drained[n.Name] == nil {
				drained[n.Name], enabled[n.Name] = map[string]*Step{}, map[string]*Step{}
			}
			for si, st := range ph.Order {
				if tc, ok := st.Action.(step.TrafficChanger); ok {
					tr := tc.Traffic()
					if tr.Out {
						drained[n.Name][tr.LB] = st
					} else {
						delete(drained[n.Name], tr.LB)
						enabled[n.Name][tr.LB] = st
					}
					continue
				}
				if !st.Disrupts {
					continue
				}
				for _, lb := range behind[n.Name] {
					if drained[n.Name][lb] != nil {
						continue
					}
					k := key{i, st, lb}
					f := found[k]
					if f == nil {
						f = &lintFinding{phase: i, st: st, lb: lb, later: laterDrain(ph.Order[si+1:], lb), enabledBy: enabled[n.Name][lb]}
						found[k] = f
						order = append(order, k)
					}
					f.nodes = append(f.nodes, n.Name)
				}
			}
		}
	}
	probs := &Problems{File: b.Plan.File}
	for _, k := range order {
		found[k].report(b.Plan, probs)
	}
	return Sorted(probs.List)
}

// lintFinding is one disrupting step not preceded by a drain of one load
// balancer, on the nodes listed.
type lintFinding struct {
	phase     int
	st        *Step
	lb        string
	nodes     []string
	later     *Step // the phase's drain of lb that comes after the step, if any
	enabledBy *Step // the step that last put the node back in lb before it, if any
}

func (f *lintFinding) report(p *Plan, probs *Problems) {
	ph := p.Phases[f.phase]
	path := fmt.Sprintf("phases[%d]", f.phase)
	for i, st := range ph.Steps {
		if st == f.st {
			path += fmt.Sprintf(".steps[%d]", i)
		}
	}
	which := "node " + f.nodes[0] + ", which is"
	if len(f.nodes) > 1 {
		which = "nodes " + strings.Join(f.nodes, ", ") + ", which are"
	}
	msg := fmt.Sprintf("step %q (%s) stops or restarts a service on %s behind load balancer %s, but no lb-drain of %s comes before it in phase %s",
		f.st.ID, f.st.DisruptsWhy, which, f.lb, f.lb, ph.ID)
	switch {
	case f.later != nil:
		msg += fmt.Sprintf(" (its drain, step %q, comes after it)", f.later.ID)
	case f.enabledBy != nil:
		msg += fmt.Sprintf(" (step %q put it back in %s before it)", f.enabledBy.ID, f.lb)
	}
	msg += fmt.Sprintf(": drain first (type: lb-drain, with: {lb: %s}; an lb-enable after), or mark the step disrupts: false if what it stops takes no traffic from %s", f.lb, f.lb)
	probs.At(f.st.Pos, path, "%s", msg)
}

// laterDrain is the first of steps that drains its node from lb.
func laterDrain(steps []*Step, lb string) *Step {
	for _, st := range steps {
		if tc, ok := st.Action.(step.TrafficChanger); ok {
			if tr := tc.Traffic(); tr.Out && tr.LB == lb {
				return st
			}
		}
	}
	return nil
}

// nodesBehind lists, for each node, the load balancers it is behind
// (sorted): those whose servers map names it, and those a phase of the plan
// drains it from.
func nodesBehind(b *Binding) map[string][]string {
	set := map[string]map[string]bool{}
	add := func(node, lb string) {
		if set[node] == nil {
			set[node] = map[string]bool{}
		}
		set[node][lb] = true
	}
	for name, l := range b.Inv.LBs {
		for node := range l.Servers {
			add(node, name)
		}
	}
	for i, ph := range b.Plan.Phases {
		for _, st := range ph.Steps {
			tc, ok := st.Action.(step.TrafficChanger)
			if !ok {
				continue
			}
			for _, n := range b.Targets[i] {
				add(n.Name, tc.Traffic().LB)
			}
		}
	}
	out := make(map[string][]string, len(set))
	for node, lbs := range set {
		for lb := range lbs {
			out[node] = append(out[node], lb)
		}
		sort.Strings(out[node])
	}
	return out
}
