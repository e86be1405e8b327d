package load_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
)

// BenchmarkParseNova loads the shipped nova-api plan, written on the
// template library (6 uses, 3 template files), and the same plan with every
// step written out: the difference is what expanding templates costs.
func BenchmarkParseNova(b *testing.B) {
	for _, tc := range []struct{ name, file string }{
		{"library", filepath.Join("..", "..", "plans", "nova-api.yaml")},
		{"written-out", filepath.Join("..", "..", "cmd", "zdu", "testdata", "library", "nova-api.written.yaml")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			data, err := os.ReadFile(tc.file)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, probs := load.ParsePlan(tc.file, data); len(probs) > 0 {
					b.Fatal(probs)
				}
			}
		})
	}
}

// BenchmarkParseImport loads the product plan that imports the generic
// rolling plan (cmd/zdu/testdata/import/shop.yaml) and the same plan
// written out (shop.written.yaml; both use the same templates): the
// difference is what resolving the import costs.
func BenchmarkParseImport(b *testing.B) {
	dir := filepath.Join("..", "..", "cmd", "zdu", "testdata", "import")
	opts := load.ParseOptions{Library: []string{filepath.Join("..", "..", "plans")}}
	for _, tc := range []struct{ name, file string }{
		{"import", filepath.Join(dir, "shop.yaml")},
		{"written-out", filepath.Join(dir, "shop.written.yaml")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			data, err := os.ReadFile(tc.file)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, probs := load.ParsePlanWith(tc.file, data, opts); len(probs) > 0 {
					b.Fatal(probs)
				}
			}
		})
	}
}
