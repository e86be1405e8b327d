package load_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/load"
)

// TestShippedLibrary loads every template of plans/lib through a plan that
// uses it with its required inputs only, and checks each is documented.
func TestShippedLibrary(t *testing.T) {
	lib := filepath.Join("..", "..", "plans", "lib")
	files, err := filepath.Glob(filepath.Join(lib, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates in %s: %v", lib, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var tpl struct {
				Kind        string `yaml:"kind"`
				Description string `yaml:"description"`
				Inputs      map[string]struct {
					Type        string `yaml:"type"`
					Required    bool   `yaml:"required"`
					Description string `yaml:"description"`
				} `yaml:"inputs"`
			}
			if err := yaml.Unmarshal(data, &tpl); err != nil {
				t.Fatal(err)
			}
			if tpl.Kind == "Plan" {
				// A generic plan for product plans to import (rolling.yaml):
				// it loads on its own, its templates beside it.
				if _, probs := load.ParsePlan(f, data); len(probs) > 0 || tpl.Description == "" {
					t.Errorf("a shipped plan must load and have a description: %v", probs)
				}
				return
			}
			if tpl.Kind != "Template" || tpl.Description == "" || !strings.HasPrefix(string(data), "# yaml-language-server") {
				t.Errorf("want kind: Template, a description and the schema comment")
			}
			var with []string
			for in, d := range tpl.Inputs {
				if d.Description == "" {
					t.Errorf("input %s has no description", in)
				}
				if !d.Required {
					continue
				}
				v := "x"
				switch d.Type {
				case "int":
					v = "1"
				case "duration":
					v = "1s"
				}
				if in == "url" {
					v = "http://${{ raw node.host }}:8080/health"
				}
				with = append(with, fmt.Sprintf("%s: %q", in, v))
			}
			sort.Strings(with)
			plan := fmt.Sprintf(`apiVersion: zdu/v1
name: lib-test
phases:
  - id: p
    targets: all
    steps:
      - id: u
        uses: lib/%s
        with: {%s}
`, name, strings.Join(with, ", "))
			// The plan is written beside plans/lib, as a product's plan is.
			p, probs := load.ParsePlan(filepath.Join("..", "..", "plans", "lib-test.yaml"), []byte(plan))
			if len(probs) > 0 {
				t.Fatalf("%s:\n%v", plan, probs)
			}
			for _, st := range p.Phases[0].Steps {
				if !strings.HasPrefix(st.ID, "u.") || st.Origin == nil {
					t.Errorf("step %s: want an id u.* and an origin", st.ID)
				}
			}
		})
	}
}
