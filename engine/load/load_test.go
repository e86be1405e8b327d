package load_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/schema"
	_ "github.com/zdu-dev/zdu/steps/all"
)

var wantRE = regexp.MustCompile(`(?m)^# want: (\d+):(\d+) (.*)$`)

// TestBrokenPlans loads every plan in testdata/broken and checks that it
// reports exactly the problems its `# want: LINE:COL path: message` lines
// name, each at that line and column.
func TestBrokenPlans(t *testing.T) {
	files, _ := filepath.Glob("testdata/broken/*.yaml")
	if len(files) < 10 {
		t.Fatalf("expected the table of broken plans, found %d files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			wants := wantRE.FindAllStringSubmatch(string(data), -1)
			if len(wants) == 0 {
				t.Fatal("no # want: lines")
			}
			p, probs := load.ParsePlan(f, data)
			if p != nil {
				t.Fatal("a broken plan loaded")
			}
			checkProblems(t, f, probs, wants)
		})
	}
}

func checkProblems(t *testing.T, file string, probs []schema.Problem, wants [][]string) {
	t.Helper()
	got := make([]string, len(probs))
	for i, p := range probs {
		got[i] = p.String()
	}
	for _, w := range wants {
		prefix := fmt.Sprintf("%s:%s:%s: ", file, w[1], w[2])
		found := false
		for _, g := range got {
			if strings.HasPrefix(g, prefix) && strings.Contains(g, w[3]) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing %s%s\ngot:\n  %s", prefix, w[3], strings.Join(got, "\n  "))
		}
	}
	if len(got) != len(wants) {
		t.Errorf("got %d problems, want %d:\n  %s", len(got), len(wants), strings.Join(got, "\n  "))
	}
}

func TestShippedPlansValidate(t *testing.T) {
	for _, name := range []string{"axway-7.7", "nova-api", "keycloak"} {
		t.Run(name, func(t *testing.T) {
			plan := filepath.Join("..", "..", "plans", name+".yaml")
			inv := filepath.Join("..", "..", "plans", name+".inventory.yaml")
			if _, err := os.Stat(plan); err != nil {
				t.Skipf("%s not shipped yet", plan)
			}
			b := mustBind(t, plan, inv, nil)
			if len(b.Plan.Phases) == 0 || len(b.Inv.Nodes) == 0 {
				t.Fatal("empty plan or inventory")
			}
		})
	}
}

func mustBind(t *testing.T, planFile, invFile string, sets []string) *load.Binding {
	t.Helper()
	pd, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	id, err := os.ReadFile(invFile)
	if err != nil {
		t.Fatal(err)
	}
	p, probs := load.ParsePlan(planFile, pd)
	if len(probs) > 0 {
		t.Fatalf("plan: %v", probs)
	}
	inv, probs := load.ParseInventory(invFile, id)
	if len(probs) > 0 {
		t.Fatalf("inventory: %v", probs)
	}
	b, probs := load.Bind(p, inv, load.BindOptions{Sets: sets})
	if len(probs) > 0 {
		t.Fatalf("bind: %v", probs)
	}
	return b
}
