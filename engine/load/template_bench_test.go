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
