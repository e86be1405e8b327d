package schema

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzValidate feeds arbitrary bytes through Decode and Validate, as
// `zdu validate` does: no input may panic or hang, and every problem must
// carry a usable position.
func FuzzValidate(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	broken, _ := filepath.Glob(filepath.Join("testdata", "broken", "*.yaml"))
	for _, s := range append(seeds, broken...) {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nd: [*c, *c, *c]\n"))
	f.Add([]byte("a: &x {<<: *x}\n"))
	f.Add([]byte("? [a, b]\n: c\n"))
	plan, inv := validators(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			t.Skip("bounded document size")
		}
		doc, problems := Decode("f.yaml", data)
		if doc == nil && len(problems) == 0 {
			t.Fatal("Decode returned neither a document nor a problem")
		}
		if doc != nil {
			problems = append(problems, plan.Validate("f.yaml", doc)...)
			problems = append(problems, inv.Validate("f.yaml", doc)...)
		}
		for _, p := range problems {
			if p.File != "f.yaml" || p.Line < 1 || p.Col < 1 || p.Msg == "" {
				t.Fatalf("problem without a usable position or message: %#v", p)
			}
		}
	})
}
