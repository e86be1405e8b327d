package load_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
)

// FuzzLoad feeds arbitrary bytes to the plan and inventory loaders and the
// binder: no input may panic or hang, and a loader either returns a result
// or at least one positioned problem.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/broken/*.yaml")
	more, _ := filepath.Glob("../../plans/*.yaml")
	for _, s := range append(seeds, more...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: zdu/v1\nname: x\nphases: [{id: a, targets: all, steps: [{id: s, type: sleep, with: {duration: 1s}}]}]\n"))
	// Imports of a plan with overrides, of a phase, of a plan that imports.
	f.Add([]byte("apiVersion: zdu/v1\nname: x\nimport:\n  plan: testdata/imports/base.yaml\n  params: {service: s, replicas: 3}\n  phases:\n    roll: {targets: g, replace: [{id: upgrade, type: sleep, with: {duration: 1s}}], after: {drain: [{id: n, type: sleep, with: {duration: 1s}}]}}\n"))
	f.Add([]byte("apiVersion: zdu/v1\nname: x\nphases:\n  - {import: testdata/imports/base.yaml, phase: roll, id: r2, targets: g, params: {service: s}}\n"))
	f.Add([]byte("apiVersion: zdu/v1\nname: x\nimport: {plan: testdata/imports/mid.yaml, phases: {post: {strategy: parallel}}}\n"))
	inv := []byte("apiVersion: zdu/v1\nkind: Inventory\nnodes: [{name: a, groups: [g]}]\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		p, probs := load.ParsePlan("fuzz.yaml", data)
		if (p == nil) == (len(probs) == 0) {
			t.Fatalf("plan loader returned plan=%v with %d problems", p != nil, len(probs))
		}
		for _, pr := range probs {
			// A problem may be in a file the plan imports or uses.
			if pr.File == "" {
				t.Fatalf("problem without the file name: %v", pr)
			}
		}
		i, iprobs := load.ParseInventory("fuzz-inv.yaml", data)
		if (i == nil) == (len(iprobs) == 0) {
			t.Fatalf("inventory loader returned inventory=%v with %d problems", i != nil, len(iprobs))
		}
		if p != nil {
			good, _ := load.ParseInventory("inv.yaml", inv)
			load.Bind(p, good, load.BindOptions{RequireParams: true})
		}
	})
}
