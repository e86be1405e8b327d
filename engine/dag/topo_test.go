package dag

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func itoa(i int) string { return strconv.Itoa(i) }

func TestTopoOrder(t *testing.T) {
	tests := []struct {
		name  string
		ids   []string
		edges [][2]string
		want  []string
	}{
		{name: "empty"},
		{
			name:  "insertion order breaks ties",
			ids:   []string{"b", "a", "c"},
			edges: nil,
			want:  []string{"b", "a", "c"},
		},
		{
			name: "dependency beats insertion order",
			ids:  []string{"d", "c", "b", "a"},
			// a first, then the earliest-inserted ready vertex each time.
			edges: [][2]string{e("a", "b"), e("a", "c"), e("b", "d"), e("c", "d")},
			want:  []string{"a", "c", "b", "d"},
		},
		{
			name:  "later-ready earlier vertex comes as soon as ready",
			ids:   []string{"x", "y", "z"},
			edges: [][2]string{e("z", "x")},
			want:  []string{"y", "z", "x"},
		},
		{
			name:  "cycle and its downstream left out",
			ids:   []string{"a", "b", "c", "d"},
			edges: [][2]string{e("b", "c"), e("c", "b"), e("c", "d")},
			want:  []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(build(t, tt.ids, tt.edges...).TopoOrder())
			if !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("TopoOrder() = %v, want %v", got, tt.want)
			}
		})
	}
}

// randomDAG returns n vertex names in a hidden topological order and
// random edges that respect it.
func randomDAG(r *rand.Rand, n int) ([]string, [][2]string) {
	names := make([]string, n)
	for i := range names {
		names[i] = "v" + itoa(i)
	}
	var edges [][2]string
	for to := 1; to < n; to++ {
		for k := r.IntN(4); k > 0; k-- {
			edges = append(edges, e(names[r.IntN(to)], names[to]))
		}
	}
	return names, edges
}

// TestTopoOrderShuffled is a property test: whatever order vertices and
// edges are inserted in, TopoOrder is a valid order over all vertices, the
// same inserts give the same order, and inserting in a topological order
// gives exactly that order back.
func TestTopoOrderShuffled(t *testing.T) {
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 7))
		names, edges := randomDAG(r, 1+r.IntN(60))

		inOrder := ids(build(t, names, edges...).TopoOrder())
		if !slices.Equal(inOrder, names) {
			t.Fatalf("seed %d: topologically inserted graph reordered:\n%v\nwant\n%v", seed, inOrder, names)
		}

		shuffled := slices.Clone(names)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		shEdges := slices.Clone(edges)
		r.Shuffle(len(shEdges), func(i, j int) { shEdges[i], shEdges[j] = shEdges[j], shEdges[i] })

		g := build(t, shuffled, shEdges...)
		got := ids(g.TopoOrder())
		if len(got) != len(names) {
			t.Fatalf("seed %d: TopoOrder has %d vertices, want %d", seed, len(got), len(names))
		}
		pos := map[string]int{}
		for i, id := range got {
			pos[id] = i
		}
		for _, ed := range edges {
			if pos[ed[0]] >= pos[ed[1]] {
				t.Fatalf("seed %d: %s placed after its dependent %s", seed, ed[0], ed[1])
			}
		}
		for range 3 {
			again := build(t, shuffled, shEdges...)
			if !slices.Equal(ids(again.TopoOrder()), got) || again.String() != g.String() {
				t.Fatalf("seed %d: same inserts gave a different order or graph", seed)
			}
		}
	}
}
