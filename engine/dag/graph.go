// Package dag is a small directed acyclic graph and a concurrent walker.
//
// The engine compiles a plan and an inventory into a Graph of (phase, node,
// step) vertices and runs it with Walk. Everything here is deterministic: the
// same sequence of Add and Connect calls yields the same vertex order, edge
// order, topological order, cycle report, text form and renderings, so a
// compiled plan can be compared with a constant in a test and diffed between
// runs.
//
// Vertices are known by a string ID. Internally a vertex is its insertion
// index, which is what gives every listing its stable order and keeps the
// walker cheap (slices, not maps, on the hot path).
package dag

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Vertex is anything with a stable identity. IDs must be unique within a
// graph and non-empty.
type Vertex interface {
	ID() string
}

// Labeler is an optional ability: a vertex with a Label is shown by that
// label in renderings instead of its ID.
type Labeler interface {
	Label() string
}

// Clusterer is an optional ability: vertices that share a non-empty Cluster
// (e.g. "phase apply / node Node-A") are drawn inside one box.
type Clusterer interface {
	Cluster() string
}

// Graph is a directed graph of vertices identified by ID. An edge from -> to
// means "to depends on from": to may only run once from has finished.
//
// The zero value is an empty graph ready to use. A Graph is not safe for
// concurrent mutation, and must not be mutated while it is being walked.
type Graph struct {
	verts []Vertex
	index map[string]int
	// down[i] lists the vertices that depend on i, up[i] those i depends on;
	// both kept sorted by insertion index so every listing is stable.
	down  [][]int
	up    [][]int
	edges int
}

// Add inserts v. It fails when v is nil, its ID is empty, or a vertex with
// the same ID is already present.
func (g *Graph) Add(v Vertex) error {
	if v == nil {
		return errors.New("adding vertex: nil vertex")
	}
	id := v.ID()
	if id == "" {
		return fmt.Errorf("adding vertex %v: empty ID", v)
	}
	if _, ok := g.index[id]; ok {
		// Even the same vertex again is refused: for the compiler a repeated
		// ID means two steps collide, and comparing vertices with == could
		// panic on a non-comparable vertex type.
		return fmt.Errorf("adding vertex %q: ID already in the graph", id)
	}
	if g.index == nil {
		g.index = make(map[string]int)
	}
	g.index[id] = len(g.verts)
	g.verts = append(g.verts, v)
	g.down = append(g.down, nil)
	g.up = append(g.up, nil)
	return nil
}

// Connect adds the edge from -> to: to depends on from. Both vertices must
// already be in the graph. Connecting the same pair twice is a no-op, so
// callers can add "needs" edges without checking what is already there.
// A self-edge is accepted and reported by Cycles and Validate.
func (g *Graph) Connect(from, to string) error {
	f, ok := g.index[from]
	if !ok {
		return fmt.Errorf("connecting %q -> %q: no vertex %q", from, to, from)
	}
	t, ok := g.index[to]
	if !ok {
		return fmt.Errorf("connecting %q -> %q: no vertex %q", from, to, to)
	}
	var added bool
	if g.down[f], added = insertSorted(g.down[f], t); !added {
		return nil
	}
	g.up[t], _ = insertSorted(g.up[t], f)
	g.edges++
	return nil
}

// insertSorted puts x into the sorted slice s, reporting false if it was
// already there. Compilers mostly connect in insertion order, so the common
// case is an append.
func insertSorted(s []int, x int) ([]int, bool) {
	n := len(s)
	if n == 0 || s[n-1] < x {
		return append(s, x), true
	}
	i := sort.SearchInts(s, x)
	if s[i] == x {
		return s, false
	}
	s = append(s, 0)
	copy(s[i+1:], s[i:])
	s[i] = x
	return s, true
}

// Vertex returns the vertex with the given ID, or nil.
func (g *Graph) Vertex(id string) Vertex {
	if i, ok := g.index[id]; ok {
		return g.verts[i]
	}
	return nil
}

// Has reports whether a vertex with the given ID is in the graph.
func (g *Graph) Has(id string) bool {
	_, ok := g.index[id]
	return ok
}

// Vertices returns every vertex in insertion order. The slice is a copy.
func (g *Graph) Vertices() []Vertex {
	return append([]Vertex(nil), g.verts...)
}

// Up returns the vertices id depends on (its upstream), in insertion order.
// It returns nil for an unknown ID.
func (g *Graph) Up(id string) []Vertex {
	if i, ok := g.index[id]; ok {
		return g.pick(g.up[i])
	}
	return nil
}

// Down returns the vertices that depend on id (its downstream), in
// insertion order. It returns nil for an unknown ID.
func (g *Graph) Down(id string) []Vertex {
	if i, ok := g.index[id]; ok {
		return g.pick(g.down[i])
	}
	return nil
}

// Len is the number of vertices.
func (g *Graph) Len() int { return len(g.verts) }

// EdgeCount is the number of distinct edges.
func (g *Graph) EdgeCount() int { return g.edges }

// Roots returns the vertices with no upstream, in insertion order: the ones
// a walk starts with.
func (g *Graph) Roots() []Vertex {
	var out []Vertex
	for i, v := range g.verts {
		if len(g.up[i]) == 0 {
			out = append(out, v)
		}
	}
	return out
}

func (g *Graph) pick(idx []int) []Vertex {
	if len(idx) == 0 {
		return nil
	}
	out := make([]Vertex, len(idx))
	for k, i := range idx {
		out[k] = g.verts[i]
	}
	return out
}

// String is a stable text form for tests and debugging: each vertex ID in
// insertion order, followed by one "  -> ID" line per vertex that depends on
// it, so the arrows point the same way as in Dot and Mermaid.
func (g *Graph) String() string {
	var b strings.Builder
	for i, v := range g.verts {
		b.WriteString(v.ID())
		b.WriteByte('\n')
		for _, d := range g.down[i] {
			b.WriteString("  -> ")
			b.WriteString(g.verts[d].ID())
			b.WriteByte('\n')
		}
	}
	return b.String()
}
