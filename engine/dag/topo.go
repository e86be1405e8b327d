package dag

// TopoOrder returns the vertices in a topological order (every vertex after
// all of its upstream), computed with Kahn's algorithm. Among the vertices
// ready at the same time the earliest-inserted comes first, so the order is
// deterministic, and a graph whose insertion order is already topological
// (as the compiler produces) comes back exactly in insertion order.
//
// Vertices on a cycle, and everything downstream of one, are left out: call
// Validate first.
func (g *Graph) TopoOrder() []Vertex {
	n := len(g.verts)
	pending := make([]int, n)
	var ready minHeap
	for i := range n {
		pending[i] = len(g.up[i])
		if pending[i] == 0 {
			ready.push(i)
		}
	}
	out := make([]Vertex, 0, n)
	for len(ready) > 0 {
		v := ready.pop()
		out = append(out, g.verts[v])
		for _, w := range g.down[v] {
			if pending[w]--; pending[w] == 0 {
				ready.push(w)
			}
		}
	}
	return out
}

// minHeap is a binary min-heap of vertex indices; a hand-rolled one avoids
// container/heap's interface boxing on a path that touches every vertex.
type minHeap []int

func (h *minHeap) push(x int) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p] <= s[i] {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *minHeap) pop() int {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l] < s[m] {
			m = l
		}
		if r < len(s) && s[r] < s[m] {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
