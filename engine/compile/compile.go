// Package compile turns a bound plan into a Program: for each phase, its nodes
// grouped by the strategy into batches with a concurrency limit, and the order
// of its steps. The same structure renders as a graph of (phase, node, step)
// vertices for `zdu graph`. Compilation is deterministic: same input, same
// program, same graph.
package compile

import (
	"fmt"

	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/spec"
)

// Program is what the runner walks.
type Program struct {
	Binding *load.Binding
	Phases  []*Phase
}

// Phase is one phase, compiled.
type Phase struct {
	*load.Phase
	Index int
	Nodes []*load.Node
	// Batches are the groups of nodes that may be out of service together;
	// the next batch starts when the whole batch is done.
	Batches [][]*load.Node
	// Limit is how many nodes of a batch run at once.
	Limit int
	// Budget is how many nodes may fail before the phase stops.
	Budget int
	// Order is the steps in execution order (the same for every node).
	Order []*load.Step
}

// Compile builds the program.
func Compile(b *load.Binding) (*Program, error) {
	p := &Program{Binding: b}
	for i, ph := range b.Plan.Phases {
		order, err := StepOrder(ph.Steps)
		if err != nil {
			return nil, fmt.Errorf("phase %s: %w", ph.ID, err)
		}
		cp := &Phase{Phase: ph, Index: i, Nodes: b.Targets[i], Order: order}
		cp.Batches, cp.Limit = batches(ph.Strategy, cp.Nodes)
		cp.Budget = ph.MaxFailures.Of(len(cp.Nodes))
		p.Phases = append(p.Phases, cp)
	}
	return p, nil
}

// batches groups nodes by strategy and says how many run at once.
func batches(s spec.Strategy, nodes []*load.Node) ([][]*load.Node, int) {
	n := len(nodes)
	if n == 0 {
		return nil, 1
	}
	switch s.Kind {
	case spec.Batch:
		size := max(1, s.Size.Of(n))
		var out [][]*load.Node
		for i := 0; i < n; i += size {
			out = append(out, nodes[i:min(n, i+size)])
		}
		return out, size
	case spec.Parallel:
		limit := n
		if s.Size.Set {
			limit = max(1, min(n, s.Size.Of(n)))
		}
		return [][]*load.Node{nodes}, limit
	}
	out := make([][]*load.Node, n)
	for i, nd := range nodes {
		out[i] = []*load.Node{nd}
	}
	return out, 1
}

type stepVertex struct{ s *load.Step }

func (v stepVertex) ID() string { return v.s.ID }

// StepOrder orders a list of steps: file order, except where needs require a
// step to come later. Without needs a step depends on the one before it.
func StepOrder(steps []*load.Step) ([]*load.Step, error) {
	g := new(dag.Graph)
	for _, s := range steps {
		g.Add(stepVertex{s})
	}
	for i, s := range steps {
		switch {
		case s.NeedsSet:
			for _, n := range s.Needs {
				g.Connect(n, s.ID)
			}
		case i > 0:
			g.Connect(steps[i-1].ID, s.ID)
		}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	vs := g.TopoOrder()
	out := make([]*load.Step, len(vs))
	for i, v := range vs {
		out[i] = v.(stepVertex).s
	}
	return out, nil
}
