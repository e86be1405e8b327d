package dag

import (
	"slices"
	"strings"
	"testing"
)

func TestGraphString(t *testing.T) {
	tests := []struct {
		name  string
		ids   []string
		edges [][2]string
		want  string
	}{
		{name: "empty", want: ""},
		{name: "lonely", ids: []string{"a", "b"}, want: "a\nb\n"},
		{
			name: "diamond, edges connected out of order",
			ids:  []string{"a", "b", "c", "d"},
			// Connect order must not matter: listings follow insertion order.
			edges: [][2]string{e("c", "d"), e("a", "c"), e("b", "d"), e("a", "b")},
			want: strings.TrimLeft(`
a
  -> b
  -> c
b
  -> d
c
  -> d
d
`, "\n"),
		},
		{
			name:  "duplicate edges count once",
			ids:   []string{"x", "y"},
			edges: [][2]string{e("x", "y"), e("x", "y")},
			want:  "x\n  -> y\ny\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.ids, tt.edges...)
			if got := g.String(); got != tt.want {
				t.Errorf("String():\n%s\nwant:\n%s", got, tt.want)
			}
			if again := build(t, tt.ids, tt.edges...).String(); again != g.String() {
				t.Errorf("same inserts gave a different graph:\n%s\nvs\n%s", again, g.String())
			}
		})
	}
}

func TestGraphQueries(t *testing.T) {
	g := build(t, []string{"a", "b", "c", "d", "e"},
		e("c", "d"), e("a", "d"), e("b", "d"), e("a", "b"), e("a", "b"))
	checks := []struct {
		name string
		got  []string
		want []string
	}{
		{"Vertices", ids(g.Vertices()), []string{"a", "b", "c", "d", "e"}},
		{"Roots", ids(g.Roots()), []string{"a", "c", "e"}},
		{"Up(d)", ids(g.Up("d")), []string{"a", "b", "c"}},
		{"Down(a)", ids(g.Down("a")), []string{"b", "d"}},
		{"Down(d)", ids(g.Down("d")), []string{}},
		{"Up(missing)", ids(g.Up("zz")), []string{}},
	}
	for _, c := range checks {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if g.Len() != 5 || g.EdgeCount() != 4 {
		t.Errorf("Len, EdgeCount = %d, %d; want 5, 4", g.Len(), g.EdgeCount())
	}
	if g.Vertex("c").ID() != "c" || g.Vertex("zz") != nil || !g.Has("e") || g.Has("zz") {
		t.Error("Vertex/Has disagree with the inserted vertices")
	}
	// Vertices is a copy: changing it must not change the graph.
	vs := g.Vertices()
	vs[0] = v{id: "changed"}
	if g.Vertices()[0].ID() != "a" {
		t.Error("Vertices() exposed the graph's own slice")
	}
}

// sv is a vertex type that == cannot compare.
type sv struct {
	id string
	//lint:ignore U1000 the slice is what makes sv not comparable
	tags []string
}

func (x sv) ID() string { return x.id }

func TestGraphErrors(t *testing.T) {
	a := v{id: "a"}
	g := &Graph{}
	if err := g.Add(a); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want string // substring; "" means no error
	}{
		{"same vertex again", g.Add(a), `"a": ID already in the graph`},
		{"other vertex same ID", g.Add(lv{v{id: "a", label: "x"}}), `"a": ID already in the graph`},
		{"non-comparable vertex same ID", g.Add(sv{id: "a"}), `"a": ID already in the graph`},
		{"empty ID", g.Add(v{}), "empty ID"},
		{"nil", g.Add(nil), "nil vertex"},
		{"unknown from", g.Connect("nope", "a"), `no vertex "nope"`},
		{"unknown to", g.Connect("a", "nope"), `no vertex "nope"`},
	}
	for _, tt := range tests {
		switch {
		case tt.want == "" && tt.err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, tt.err)
		case tt.want != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, tt.err, tt.want)
		}
	}
	if g.Len() != 1 || g.EdgeCount() != 0 {
		t.Errorf("failed calls changed the graph: Len %d, EdgeCount %d", g.Len(), g.EdgeCount())
	}
}
