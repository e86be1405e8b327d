package compile_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/enginetest"
	_ "github.com/zdu-dev/zdu/steps/all"
)

var update = flag.Bool("update", false, "rewrite the golden files under engine/testdata")

const graphPlan = `apiVersion: zdu/v1
name: graph
phases:
  - id: one
    strategy: serial
    targets: all
    steps:
      - {id: a, type: ssh-exec, with: {command: "true"}}
      - {id: b, type: ssh-exec, with: {command: "true"}}
  - id: two
    strategy: {batch: 2}
    targets: all
    steps:
      - {id: a, type: ssh-exec, with: {command: "true"}}
      - {id: c, type: ssh-exec, needs: [], with: {command: "true"}}
      - {id: d, type: ssh-exec, needs: [a, c], with: {command: "true"}}
  - id: three
    strategy: {parallel: 2}
    targets: all
    steps:
      - {id: a, type: ssh-exec, with: {command: "true"}}
`

const graphInventory = `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes:
  - {name: n1}
  - {name: n2}
  - {name: n3}
`

// TestGraphGolden: the same plan and inventory compile to the same DOT and
// Mermaid text, byte for byte, every time (serial, batch and parallel phases).
func TestGraphGolden(t *testing.T) {
	for _, tt := range []struct {
		file   string
		render func(*dag.Graph) string
	}{
		{"graph.golden.dot", dag.Dot},
		{"graph.golden.mmd", dag.Mermaid},
	} {
		t.Run(tt.file, func(t *testing.T) {
			got := tt.render(enginetest.Compile(t, graphPlan, graphInventory).Graph)
			for range 5 {
				if again := tt.render(enginetest.Compile(t, graphPlan, graphInventory).Graph); again != got {
					t.Fatalf("two compilations render differently:\n%s\n---\n%s", got, again)
				}
			}
			path := filepath.Join("..", "testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update creates it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (go test -update rewrites it):\n%s", tt.file, got)
			}
		})
	}
}
