// Package compile turns a bound plan into the one graph zdu draws, shows and
// runs: a vertex for each (phase, node, step) and a barrier after each batch
// of a phase, with the phase's strategy as structure (barriers between
// batches) and as walk policy (a slot per node, at most the strategy's limit
// at once). `zdu graph` renders it, `zdu plan` explains its vertices and the
// runner walks it. Compilation is deterministic: same input, same graph,
// same vertex ids.
package compile

import (
	"fmt"
	"strings"

	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/spec"
)

// Program is a bound plan compiled: its phases with their nodes grouped by
// strategy, and the graph of every vertex the run goes through.
type Program struct {
	Binding *load.Binding
	Phases  []*Phase
	Graph   *dag.Graph
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
	// Done is the phase's last vertex: the barrier after its last batch.
	Done *Barrier
	// CanaryNodes is how many nodes of the first batch are the phase's
	// canary (0: none); Pause is the vertex after them.
	CanaryNodes int
	Pause       *Pause
}

// Compile builds the program and its graph.
func Compile(b *load.Binding) (*Program, error) {
	if err := b.CheckSize(); err != nil {
		return nil, err
	}
	p := &Program{Binding: b, Graph: new(dag.Graph)}
	var prev dag.Vertex // what the next phase's first vertices wait for
	for i, ph := range b.Plan.Phases {
		cp := &Phase{Phase: ph, Index: i, Nodes: b.Targets[i]}
		cp.Batches, cp.Limit = batches(ph.Strategy, cp.Nodes)
		if ph.Canary != nil && len(cp.Nodes) > 0 {
			// The canary goes first, as a batch of its own; the rest
			// follow by the strategy once its pause has passed.
			cp.CanaryNodes = min(len(cp.Nodes), max(1, ph.Canary.Nodes.Of(len(cp.Nodes))))
			rest, _ := batches(ph.Strategy, cp.Nodes[cp.CanaryNodes:])
			cp.Batches = append([][]*load.Node{cp.Nodes[:cp.CanaryNodes]}, rest...)
		}
		cp.Budget = ph.MaxFailures.Of(len(cp.Nodes))
		var err error
		if prev, err = p.addPhase(cp, prev); err != nil {
			return nil, fmt.Errorf("phase %s: %w", ph.ID, err)
		}
		p.Phases = append(p.Phases, cp)
	}
	return p, nil
}

// addPhase adds a phase's vertices after prev and returns its last one.
func (p *Program) addPhase(ph *Phase, prev dag.Vertex) (dag.Vertex, error) {
	g := p.Graph
	for bi, batch := range ph.Batches {
		bar := &Barrier{Phase: ph, Batch: bi + 1, Last: bi == len(ph.Batches)-1}
		bar.id = bar.ID()
		if err := g.Add(bar); err != nil {
			return nil, err
		}
		steps := false
		for _, n := range batch {
			last := prev
			for si, s := range ph.Order {
				v := &StepVertex{Phase: ph, Node: n, Step: s, Batch: bi + 1, First: si == 0, Last: si == len(ph.Order)-1}
				v.id = StepVertexID(ph.ID, n.Name, s.ID)
				if err := g.Add(v); err != nil {
					return nil, err
				}
				if last != nil {
					g.Connect(last.ID(), v.ID())
				}
				last, steps = v, true
			}
			if last != nil && last != prev {
				g.Connect(last.ID(), bar.ID())
			}
		}
		if prev != nil && !steps {
			g.Connect(prev.ID(), bar.ID()) // a phase without steps still keeps its place
		}
		if bar.Last {
			ph.Done = bar
		}
		prev = bar
		if bi == 0 && ph.CanaryNodes > 0 && !bar.Last {
			ph.Pause = &Pause{Phase: ph}
			ph.Pause.id = ph.Pause.ID()
			if err := g.Add(ph.Pause); err != nil {
				return nil, err
			}
			g.Connect(bar.ID(), ph.Pause.ID())
			prev = ph.Pause
		}
	}
	if ph.Done == nil {
		// No target node: the phase is only its end.
		ph.Done = &Barrier{Phase: ph, Batch: 1, Last: true}
		ph.Done.id = ph.Done.ID()
		if err := g.Add(ph.Done); err != nil {
			return nil, err
		}
		if prev != nil {
			g.Connect(prev.ID(), ph.Done.ID())
		}
	}
	return ph.Done, nil
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

// escape keeps a name from splitting a vertex id: "/" separates its parts.
var escape = strings.NewReplacer("%", "%25", "/", "%2F")

// StepVertexID is the stable id of a (phase, node, step) vertex:
// PHASE/NODE/STEP, with "/" and "%" in a node's name escaped.
func StepVertexID(phase, node, step string) string {
	return phase + "/" + escape.Replace(node) + "/" + step
}
