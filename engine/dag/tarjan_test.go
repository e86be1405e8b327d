package dag

import (
	"errors"
	"slices"
	"testing"
)

func TestCycles(t *testing.T) {
	tests := []struct {
		name  string
		ids   []string
		edges [][2]string
		want  [][]string
		err   string
	}{
		{
			name:  "acyclic",
			ids:   []string{"a", "b", "c"},
			edges: [][2]string{e("a", "b"), e("b", "c"), e("a", "c")},
		},
		{
			name:  "self edge",
			ids:   []string{"a", "b"},
			edges: [][2]string{e("a", "b"), e("b", "b")},
			want:  [][]string{{"b"}},
			err:   "cycle: b -> b",
		},
		{
			name: "rotated to the earliest-inserted vertex",
			ids:  []string{"a", "b", "c"},
			// The loop is closed starting from c; it must still print from a.
			edges: [][2]string{e("c", "a"), e("b", "c"), e("a", "b")},
			want:  [][]string{{"a", "b", "c"}},
			err:   "cycle: a -> b -> c -> a",
		},
		{
			name: "two cycles sorted by first vertex",
			ids:  []string{"x", "p", "q", "r", "s"},
			edges: [][2]string{
				e("s", "r"), e("r", "s"), // inserted later, found first by Connect order
				e("p", "q"), e("q", "p"),
				e("x", "p"), e("q", "r"),
			},
			want: [][]string{{"p", "q"}, {"r", "s"}},
			err:  "cycle: p -> q -> p\ncycle: r -> s -> r",
		},
		{
			name: "entangled loops: shortest cycle, rest named",
			ids:  []string{"a", "b", "c", "d"},
			edges: [][2]string{
				e("a", "b"), e("b", "c"), e("c", "d"), e("d", "a"), e("b", "a"),
			},
			want: [][]string{{"a", "b"}},
			err:  "cycle: a -> b -> a (entangled with c, d)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.ids, tt.edges...)
			var got [][]string
			for _, c := range g.Cycles() {
				got = append(got, ids(c))
			}
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("Cycles() = %v, want %v", got, tt.want)
			}
			err := g.Validate()
			if tt.err == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.err {
				t.Fatalf("Validate() = %v, want %q", err, tt.err)
			}
			var ce *CycleError
			if !errors.As(err, &ce) || len(ce.Cycles) != len(tt.want) {
				t.Errorf("Validate() error %T does not carry the cycles", err)
			}
		})
	}
}

func TestCyclesDeepChain(t *testing.T) {
	// A long chain closed into a loop: Tarjan's recursion must cope with
	// the depth of a 1,000-node plan.
	const n = 20000
	g := &Graph{}
	names := make([]string, n)
	for i := range n {
		names[i] = "v" + itoa(i)
		if err := g.Add(v{id: names[i]}); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if err := g.Connect(names[i-1], names[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := g.Validate(); err != nil {
		t.Fatalf("chain: %v", err)
	}
	if err := g.Connect(names[n-1], names[0]); err != nil {
		t.Fatal(err)
	}
	c := g.Cycles()
	if len(c) != 1 || len(c[0]) != n || c[0][0].ID() != "v0" {
		t.Fatalf("closed chain: got %d cycles, want one of %d vertices from v0", len(c), n)
	}
}
