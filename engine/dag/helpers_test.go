package dag

import "testing"

// v is the test vertex: an ID, optionally a label and a cluster.
type v struct{ id, label, cluster string }

func (x v) ID() string { return x.id }

// lv is a vertex with the optional abilities.
type lv struct{ v }

func (x lv) Label() string   { return x.label }
func (x lv) Cluster() string { return x.cluster }

// build makes a graph from vertex IDs and "from>to" edges, failing the test
// on any error.
func build(t testing.TB, ids []string, edges ...[2]string) *Graph {
	t.Helper()
	g := &Graph{}
	for _, id := range ids {
		if err := g.Add(v{id: id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range edges {
		if err := g.Connect(e[0], e[1]); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func ids(vs []Vertex) []string {
	out := make([]string, len(vs))
	for i, x := range vs {
		out[i] = x.ID()
	}
	return out
}

func e(from, to string) [2]string { return [2]string{from, to} }
