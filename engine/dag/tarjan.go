package dag

import (
	"slices"
	"strings"
)

// Cycles reports the cycles of the graph, one per strongly connected
// component that contains a cycle (found with Tarjan's algorithm).
//
// A tangle of several loops among the same vertices is one component; it is
// reported as the shortest cycle through its earliest-inserted vertex, and
// CycleError also names the rest of the tangle. Each cycle starts at its
// earliest-inserted vertex (the start is not repeated at the end), and the
// cycles are sorted by that vertex's insertion order, so the report is the
// same on every run.
func (g *Graph) Cycles() [][]Vertex {
	var out [][]Vertex
	for _, c := range g.cyclicComponents() {
		out = append(out, g.pick(g.shortestCycle(c)))
	}
	return out
}

// Validate returns a *CycleError if the graph has a cycle, nil otherwise.
func (g *Graph) Validate() error {
	comps := g.cyclicComponents()
	if len(comps) == 0 {
		return nil
	}
	e := &CycleError{}
	for _, c := range comps {
		cyc := g.shortestCycle(c)
		var rest []string
		for _, i := range c {
			if !slices.Contains(cyc, i) {
				rest = append(rest, g.verts[i].ID())
			}
		}
		e.Cycles = append(e.Cycles, g.ids(cyc))
		e.Entangled = append(e.Entangled, rest)
	}
	return e
}

// CycleError lists every cycle found by Validate, in the order of Cycles.
type CycleError struct {
	// Cycles holds the vertex IDs of each cycle, starting at its
	// earliest-inserted vertex.
	Cycles [][]string
	// Entangled holds, per cycle, the other vertices of the same strongly
	// connected component (nil when the cycle is the whole component). They
	// sit on further loops that show up once the reported one is broken.
	Entangled [][]string
}

// Error prints one line per cycle, e.g. "cycle: a -> b -> c -> a".
func (e *CycleError) Error() string {
	var b strings.Builder
	for k, c := range e.Cycles {
		if k > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("cycle: ")
		b.WriteString(strings.Join(c, " -> "))
		b.WriteString(" -> ")
		b.WriteString(c[0])
		if k < len(e.Entangled) && len(e.Entangled[k]) > 0 {
			b.WriteString(" (entangled with ")
			b.WriteString(strings.Join(e.Entangled[k], ", "))
			b.WriteByte(')')
		}
	}
	return b.String()
}

func (g *Graph) ids(idx []int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = g.verts[i].ID()
	}
	return out
}

// cyclicComponents returns the strongly connected components that contain a
// cycle (more than one vertex, or one vertex with a self-edge), each sorted
// by insertion index, the components sorted by their first vertex.
func (g *Graph) cyclicComponents() [][]int {
	t := tarjan{
		g:     g,
		index: make([]int, len(g.verts)),
		low:   make([]int, len(g.verts)),
		on:    make([]bool, len(g.verts)),
	}
	for i := range t.index {
		t.index[i] = -1
	}
	for i := range g.verts {
		if t.index[i] < 0 {
			t.visit(i)
		}
	}
	var out [][]int
	for _, c := range t.comps {
		slices.Sort(c)
		out = append(out, c)
	}
	// Components are disjoint, so their first vertices are distinct.
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}

// tarjan holds the state of one run of Tarjan's strongly connected
// components algorithm over vertex indices.
type tarjan struct {
	g     *Graph
	next  int
	index []int // discovery order, -1 if unvisited
	low   []int // lowest index reachable through the DFS subtree
	on    []bool
	stack []int
	comps [][]int
}

// visit recurses once per vertex along the DFS; Go stacks grow, so even a
// long chain of steps is fine.
func (t *tarjan) visit(v int) {
	t.index[v], t.low[v] = t.next, t.next
	t.next++
	t.stack = append(t.stack, v)
	t.on[v] = true
	for _, w := range t.g.down[v] {
		switch {
		case t.index[w] < 0:
			t.visit(w)
			t.low[v] = min(t.low[v], t.low[w])
		case t.on[w]:
			t.low[v] = min(t.low[v], t.index[w])
		}
	}
	if t.low[v] != t.index[v] {
		return
	}
	// Most components of a plan graph are single acyclic vertices; skip them
	// here rather than allocate a slice each only to drop it later.
	if top := len(t.stack) - 1; t.stack[top] == v && !slices.Contains(t.g.down[v], v) {
		t.stack = t.stack[:top]
		t.on[v] = false
		return
	}
	var comp []int
	for {
		n := len(t.stack) - 1
		w := t.stack[n]
		t.stack = t.stack[:n]
		t.on[w] = false
		comp = append(comp, w)
		if w == v {
			break
		}
	}
	t.comps = append(t.comps, comp)
}

// shortestCycle finds, by breadth-first search inside the component comp
// (sorted), the shortest cycle through its first vertex. Edges are followed
// in insertion order, so ties resolve the same way every time.
func (g *Graph) shortestCycle(comp []int) []int {
	start := comp[0]
	inComp := func(i int) bool { _, ok := slices.BinarySearch(comp, i); return ok }
	parent := map[int]int{start: -1}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range g.down[v] {
			if w == start {
				var path []int
				for x := v; x >= 0; x = parent[x] {
					path = append(path, x)
				}
				slices.Reverse(path)
				return path
			}
			if _, seen := parent[w]; seen || !inComp(w) {
				continue
			}
			parent[w] = v
			queue = append(queue, w)
		}
	}
	// Unreachable for a strongly connected component; keep the component
	// itself rather than panic in an error path.
	return comp
}
