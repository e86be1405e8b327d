package compile

import (
	"fmt"

	"github.com/zdu-dev/zdu/engine/dag"
)

// vertex is one (phase, node, step) of the program, or a barrier between
// batches and phases.
type vertex struct {
	id, label, cluster string
}

func (v vertex) ID() string      { return v.id }
func (v vertex) Label() string   { return v.label }
func (v vertex) Cluster() string { return v.cluster }

// Graph renders the program as a DAG: each node's steps in order; serial nodes
// chained, batches joined by a barrier, parallel nodes side by side (their
// limit in the barrier's label); phases joined by a barrier.
func (p *Program) Graph() *dag.Graph {
	g := new(dag.Graph)
	prev := "" // the vertex everything of the next phase waits for
	for _, ph := range p.Phases {
		for bi, batch := range ph.Batches {
			var ends []string
			for _, n := range batch {
				cluster := fmt.Sprintf("%s / %s", ph.ID, n.Name)
				last := prev
				for _, s := range ph.Order {
					id := fmt.Sprintf("%s/%s/%s", ph.ID, n.Name, s.ID)
					g.Add(vertex{id: id, label: fmt.Sprintf("%s (%s)", s.ID, s.Type), cluster: cluster})
					if last != "" {
						g.Connect(last, id)
					}
					last = id
				}
				if len(batch) == 1 && len(ph.Batches) > 1 {
					// Serial: the next node starts after this one.
					prev = last
					continue
				}
				ends = append(ends, last)
			}
			if len(batch) > 1 || len(ph.Batches) == 1 {
				id := fmt.Sprintf("%s/batch-%d", ph.ID, bi+1)
				label := fmt.Sprintf("%s: batch %d done (at most %d at once)", ph.ID, bi+1, ph.Limit)
				g.Add(vertex{id: id, label: label})
				for _, e := range ends {
					if e != "" {
						g.Connect(e, id)
					}
				}
				prev = id
			}
		}
		id := ph.ID + "/done"
		g.Add(vertex{id: id, label: fmt.Sprintf("phase %s done", ph.ID)})
		if prev != "" {
			g.Connect(prev, id)
		}
		prev = id
	}
	return g
}
