package compile

import (
	"fmt"

	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/load"
)

// Folding is for the picture only (zdu graph --fold): the graph that runs
// is never folded. Each template use on a node in a phase is drawn as one
// vertex, labelled with the template, in place of the steps it expanded
// to; everything else is drawn as it is.

// UseVertex stands, in a folded graph, for the steps one template use
// expanded to on one node in one phase.
type UseVertex struct {
	Phase *Phase
	Node  *load.Node
	// Use is the outermost use the steps come from (a template used inside
	// a template folds into the plan's use).
	Use load.Site
	// Steps are the folded steps, in execution order.
	Steps []*StepVertex

	id string
}

var (
	_ dag.Labeler   = (*UseVertex)(nil)
	_ dag.Clusterer = (*UseVertex)(nil)
)

// ID is PHASE/NODE/USE: the id of a step vertex, with the use's id.
func (u *UseVertex) ID() string { return u.id }

// Label names the use, the template and how many steps it stands for.
func (u *UseVertex) Label() string {
	n := "steps"
	if len(u.Steps) == 1 {
		n = "step"
	}
	return fmt.Sprintf("%s (uses %s, %d %s)", u.Use.ID, u.Use.Uses, len(u.Steps), n)
}

// Cluster is the node's frame in the phase, as for its steps.
func (u *UseVertex) Cluster() string { return u.Phase.ID + " / " + u.Node.Name }

// Fold returns a graph for drawing in which each template use's steps on a
// node are one UseVertex. A node's steps in a phase form a chain, so the
// steps of a use that are next to each other in it fold into one vertex,
// and the folded graph has no cycle; a use whose steps a needs separates
// is drawn as one vertex for each run of them.
func Fold(p *Program) (*dag.Graph, error) {
	g := p.Graph
	rep := make(map[string]string, g.Len()) // vertex id -> its id in the folded graph
	out := new(dag.Graph)
	var cur *UseVertex
	for _, v := range g.Vertices() {
		sv, ok := v.(*StepVertex)
		var site *load.Site
		if ok && sv.Step.Origin != nil && len(sv.Step.Origin.Chain) > 0 {
			site = &sv.Step.Origin.Chain[0]
		}
		if site == nil {
			cur = nil
			if err := out.Add(v); err != nil {
				return nil, err
			}
			rep[v.ID()] = v.ID()
			continue
		}
		if cur == nil || cur.Phase != sv.Phase || cur.Node != sv.Node || cur.Use != *site || !chained(g, cur.Steps[len(cur.Steps)-1], sv) {
			cur = &UseVertex{Phase: sv.Phase, Node: sv.Node, Use: *site}
			cur.id = StepVertexID(sv.Phase.ID, sv.Node.Name, site.ID)
			for k := 2; out.Has(cur.id); k++ {
				cur.id = fmt.Sprintf("%s~%d", StepVertexID(sv.Phase.ID, sv.Node.Name, site.ID), k)
			}
			if err := out.Add(cur); err != nil {
				return nil, err
			}
		}
		cur.Steps = append(cur.Steps, sv)
		rep[v.ID()] = cur.id
	}
	for _, v := range g.Vertices() {
		for _, d := range g.Down(v.ID()) {
			from, to := rep[v.ID()], rep[d.ID()]
			if from == to {
				continue
			}
			if err := out.Connect(from, to); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// chained: b comes right after a in their node's chain.
func chained(g *dag.Graph, a, b *StepVertex) bool {
	for _, d := range g.Down(a.ID()) {
		if d == dag.Vertex(b) {
			return true
		}
	}
	return false
}
