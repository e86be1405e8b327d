package dag

import (
	"context"
	"testing"
)

// The engine's budget is microseconds per step, so these report the
// walker's own cost per vertex (fn does nothing) and its allocations.

func chainGraph(b *testing.B, n int) *Graph {
	g := &Graph{}
	prev := ""
	for i := range n {
		id := "step" + itoa(i)
		if err := g.Add(v{id: id}); err != nil {
			b.Fatal(err)
		}
		if prev != "" {
			if err := g.Connect(prev, id); err != nil {
				b.Fatal(err)
			}
		}
		prev = id
	}
	return g
}

// wideGraph is one root fanning out to n-2 independent vertices that all
// join into one sink: every middle vertex is ready at once.
func wideGraph(b *testing.B, n int) *Graph {
	g := &Graph{}
	for _, id := range []string{"root", "sink"} {
		if err := g.Add(v{id: id}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n - 2 {
		id := "node" + itoa(i)
		if err := g.Add(v{id: id}); err != nil {
			b.Fatal(err)
		}
		if err := g.Connect("root", id); err != nil {
			b.Fatal(err)
		}
		if err := g.Connect(id, "sink"); err != nil {
			b.Fatal(err)
		}
	}
	return g
}

func benchWalk(b *testing.B, g *Graph) {
	ctx := context.Background()
	noop := func(context.Context, Vertex) Status { return Passed }
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if res := Walk(ctx, g, noop); !res.OK() {
			b.Fatal("walk failed")
		}
	}
	per := float64(b.N * g.Len())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/vertex")
}

func BenchmarkWalkChain10k(b *testing.B) { benchWalk(b, chainGraph(b, 10_000)) }
func BenchmarkWalkWide10k(b *testing.B)  { benchWalk(b, wideGraph(b, 10_000)) }

func BenchmarkBuildChain10k(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		chainGraph(b, 10_000)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10_000), "ns/vertex")
}
