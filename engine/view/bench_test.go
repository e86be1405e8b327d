package view

import (
	"testing"
	"time"
)

// BenchmarkFrame5000 draws the view of a 5,000-node run half done (the
// cost of each redraw, four a second): go test -bench Frame ./engine/view
func BenchmarkFrame5000(b *testing.B) {
	m := NewModel()
	for _, e := range manyNodes(5000) {
		m.Apply(e)
	}
	now := time.Date(2026, 12, 2, 9, 1, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		m.Frame(now, 120, 40, Style{Color: true})
	}
}
