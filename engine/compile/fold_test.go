package compile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/enginetest"
)

const foldInventory = `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes:
  - {name: n1}
  - {name: n2}
`

// TestFold: folding draws each template use on a node as one vertex
// labelled with the template (a use inside a use folds into the outer
// one), keeps every other vertex and the order between them, and draws a
// use that a needs splits as one vertex per run of its steps, so the
// folded graph has no cycle. The graph that runs is left as it was.
func TestFold(t *testing.T) {
	file := filepath.Join("testdata", "fold", "plan.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	prog := enginetest.CompileAt(t, file, string(data), foldInventory)
	before := prog.Graph.String()
	g, err := compile.Fold(prog)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatalf("the folded graph: %v", err)
	}
	if prog.Graph.String() != before {
		t.Error("folding changed the program's graph")
	}
	enginetest.Golden(t, filepath.Join("testdata", "fold", "folded.mmd"), dag.Mermaid(g), *update)
	// Unfolded, the same plan draws every step.
	if n, m := prog.Graph.Len(), g.Len(); m >= n {
		t.Errorf("folded graph has %d vertices, the program's %d", m, n)
	}
}
