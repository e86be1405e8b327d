package load

import "fmt"

// What a plan bound to an inventory may compile to (docs/limits.md). The
// graph holds a vertex for every step on every target node in every phase,
// and zdu plan renders every one of them: a plan of 2,000 steps over 2,000
// nodes is four million vertices, gigabytes before anything runs. Real
// upgrades are far below these bounds (the Axway plan on its reference
// topology: about 60 vertices).
const (
	// MaxVertices bounds the graph's vertices: one per step per target
	// node per phase, and one per batch.
	MaxVertices = 250_000
	// MaxInterpolations bounds the expressions (`${{ }}`, when, computed
	// timeouts) evaluated to render every vertex and every rollback for
	// every node it may run on.
	MaxInterpolations = 2_500_000
)

// Size is what a binding compiles to.
type Size struct {
	Vertices, Interpolations int
	// Largest is the index of the phase with the most vertices.
	Largest int
}

// GraphSize counts what the plan compiles to with these targets (each
// phase's nodes): vertices as compile builds them (a batch's barrier
// counted for every node, at most), interpolations as zdu plan evaluates
// them.
func (b *Binding) GraphSize() Size {
	var s Size
	most := -1
	for i, ph := range b.Plan.Phases {
		n := len(b.Targets[i])
		v := n*len(ph.Order) + n + 1
		s.Vertices += v
		if v > most {
			most, s.Largest = v, i
		}
		exprs := 0
		if ph.When != nil {
			exprs++
		}
		for _, st := range ph.Order {
			exprs += st.Expressions
		}
		s.Interpolations += n * exprs
	}
	for _, name := range b.Plan.RollbackOrder {
		exprs := 0
		for _, st := range b.Plan.Rollbacks[name] {
			exprs += st.Expressions
		}
		if exprs > 0 {
			s.Interpolations += len(b.RollbackNodes(name)) * exprs
		}
	}
	return s
}

// CheckSize says why the binding is too large to compile, or nil.
func (b *Binding) CheckSize() error {
	s := b.GraphSize()
	ph := b.Plan.Phases
	if len(ph) == 0 {
		return nil
	}
	big := ph[s.Largest]
	largest := fmt.Sprintf("the largest, phase %s, is %d steps on %d nodes", big.ID, len(big.Order), len(b.Targets[s.Largest]))
	switch {
	case s.Vertices > MaxVertices:
		return fmt.Errorf("the plan compiles to %d vertices with %s (%s), more than the %d zdu takes: split the plan, or run it on part of the inventory",
			s.Vertices, b.Inv.File, largest, MaxVertices)
	case s.Interpolations > MaxInterpolations:
		return fmt.Errorf("the plan evaluates %d interpolations and conditions to render every step on every node of %s (%s), more than the %d zdu takes: split the plan, or run it on part of the inventory",
			s.Interpolations, b.Inv.File, largest, MaxInterpolations)
	}
	return nil
}
