package schema

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestPlanSchemaGolden(t *testing.T) {
	got, err := PlanSchema(fakeSteps)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "plan.golden.json", got)
}

// checkGolden compares got with testdata/name, which -update rewrites.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the output differs from %s; run go test ./schema -update and review the diff", golden)
	}
}

func TestPlanSchemaIsDeterministic(t *testing.T) {
	first, err := PlanSchema(fakeSteps)
	if err != nil {
		t.Fatal(err)
	}
	reversed := make([]StepSchema, len(fakeSteps))
	for i, s := range fakeSteps {
		reversed[len(fakeSteps)-1-i] = s
	}
	for i := 0; i < 5; i++ {
		again, err := PlanSchema(reversed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatal("PlanSchema output depends on the order of the step types or on map iteration")
		}
	}
}

func TestPlanSchemaComposition(t *testing.T) {
	out, err := PlanSchema(fakeSteps)
	if err != nil {
		t.Fatal(err)
	}
	var root struct {
		Defs map[string]struct {
			Properties map[string]struct {
				Enum             []string `json:"enum"`
				EnumDescriptions []string `json:"enumDescriptions"`
				Pattern          string   `json:"pattern"`
			} `json:"properties"`
			AllOf []struct {
				If   json.RawMessage `json:"if"`
				Then struct {
					Required   []string `json:"required"`
					Properties struct {
						With struct {
							Ref string `json:"$ref"`
						} `json:"with"`
					} `json:"properties"`
				} `json:"then"`
			} `json:"allOf"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(out, &root); err != nil {
		t.Fatalf("PlanSchema is not JSON: %v", err)
	}
	step := root.Defs["step"]
	typ := step.Properties["type"]
	wantTypes := []string{"rollback-on", "sleep", "ssh-exec", "wait-http"}
	if strings.Join(typ.Enum, ",") != strings.Join(wantTypes, ",") {
		t.Errorf("type enum = %v, want %v", typ.Enum, wantTypes)
	}
	if len(typ.EnumDescriptions) != len(typ.Enum) || typ.EnumDescriptions[2] != "run a shell command on the node" {
		t.Errorf("enumDescriptions = %v, want the summaries in enum order", typ.EnumDescriptions)
	}
	if typ.Pattern != "" {
		t.Errorf("type keeps its pattern %q; with an enum it would only repeat the error", typ.Pattern)
	}
	if len(step.AllOf) != len(wantTypes) {
		t.Fatalf("got %d if/then rules, want %d", len(step.AllOf), len(wantTypes))
	}
	for i, rule := range step.AllOf {
		if !strings.Contains(string(rule.If), `"const":"`+wantTypes[i]+`"`) && !strings.Contains(string(rule.If), `"const": "`+wantTypes[i]+`"`) {
			t.Errorf("rule %d: if %s does not select %s", i, rule.If, wantTypes[i])
		}
		if got, want := rule.Then.Properties.With.Ref, "#/$defs/with-"+wantTypes[i]; got != want {
			t.Errorf("rule %d: with $ref = %q, want %q", i, got, want)
		}
		// Every fake type requires a key in `with`, so `with` itself is required.
		if strings.Join(rule.Then.Required, ",") != "with" {
			t.Errorf("rule %d: then.required = %v, want [with]", i, rule.Then.Required)
		}
		if _, ok := root.Defs["with-"+wantTypes[i]]; !ok {
			t.Errorf("$defs/with-%s is missing", wantTypes[i])
		}
	}
}

func TestPlanSchemaRejectsProgrammerErrors(t *testing.T) {
	ok := json.RawMessage(`{"type": "object"}`)
	cases := []struct {
		name  string
		steps []StepSchema
		frag  string
	}{
		{"duplicate", []StepSchema{{Type: "a", Schema: ok}, {Type: "a", Schema: ok}}, `"a" is given twice`},
		{"bad name", []StepSchema{{Type: "Not A Type", Schema: ok}}, "lower-case letters"},
		{"empty name", []StepSchema{{Type: "", Schema: ok}}, "lower-case letters"},
		{"not JSON", []StepSchema{{Type: "a", Schema: json.RawMessage(`{`)}}, "not JSON"},
		{"not an object", []StepSchema{{Type: "a", Schema: json.RawMessage(`[1]`)}}, "must be a JSON object"},
		{"not a schema", []StepSchema{{Type: "a", Schema: json.RawMessage(`{"type": 5}`)}}, "composing the plan schema"},
	}
	for _, tc := range cases {
		if _, err := PlanSchema(tc.steps); err == nil || !strings.Contains(err.Error(), tc.frag) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.frag)
		}
	}
}

func TestPlanSchemaEmptyStepSchemaAllowsAnyWith(t *testing.T) {
	out, err := PlanSchema([]StepSchema{{Type: "noop", Summary: "does nothing"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := Compile("plan.json", out)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := Decode("p.yaml", []byte("apiVersion: zdu/v1\nname: x\nphases: [{id: a, targets: all, steps: [{id: s, type: noop, with: {anything: 1}}]}]\n"))
	if ps := v.Validate("p.yaml", doc); len(ps) != 0 {
		t.Errorf("want no problems, got %v", ps)
	}
}

func TestSchemasDescribeEveryProperty(t *testing.T) {
	plan, err := PlanSchema(fakeSteps)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"plan": basePlanSchema(), "inventory": baseInventorySchema(), "composed inventory": inventorySchema(t), "composed plan": plan} {
		var root any
		if err := json.Unmarshal(data, &root); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		walkProperties(root, "", func(path string, prop map[string]any) {
			if _, ok := prop["description"]; !ok {
				if _, ref := prop["$ref"]; !ref {
					t.Errorf("%s: %s has no description (editors show it on hover)", name, path)
				}
			}
		})
	}
	if _, err := Compile("inventory.json", inventorySchema(t)); err != nil {
		t.Errorf("inventory schema does not compile: %v", err)
	}
}

// walkProperties calls fn for every schema under a "properties" keyword of
// zdu's own schemas (step schemas in $defs/with-* are the step types' affair).
func walkProperties(node any, path string, fn func(string, map[string]any)) {
	m, ok := node.(map[string]any)
	if !ok {
		if list, ok := node.([]any); ok {
			for _, x := range list {
				walkProperties(x, path, fn)
			}
		}
		return
	}
	for k, v := range m {
		if strings.HasPrefix(k, "with-") || k == "if" || k == "then" {
			continue
		}
		if k == "properties" {
			if props, ok := v.(map[string]any); ok {
				for name, p := range props {
					if pm, ok := p.(map[string]any); ok {
						fn(path+"/"+name, pm)
					}
				}
			}
		}
		walkProperties(v, path+"/"+k, fn)
	}
}
