package wait

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/zdu-dev/zdu/steps/step"
)

// checkSchema compiles a step type's schema as draft 2020-12, and checks it
// closes the `with` block and documents every key (editors show it).
func checkSchema(t *testing.T, typ string) *jsonschema.Schema {
	t.Helper()
	d, ok := step.Lookup(typ)
	if !ok {
		t.Fatalf("%s is not registered", typ)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(typ+".json", strings.NewReader(string(d.Schema))); err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	s, err := c.Compile(typ + ".json")
	if err != nil {
		t.Fatalf("%s: schema does not compile: %v", typ, err)
	}
	var raw struct {
		AdditionalProperties *bool                     `json:"additionalProperties"`
		Properties           map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(d.Schema, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.AdditionalProperties == nil || *raw.AdditionalProperties {
		t.Errorf("%s: additionalProperties must be false", typ)
	}
	for k, p := range raw.Properties {
		if desc, _ := p["description"].(string); desc == "" {
			t.Errorf("%s: property %q has no description", typ, k)
		}
	}
	if d.Summary == "" {
		t.Errorf("%s: no summary", typ)
	}
	return s
}

func TestSchemas(t *testing.T) {
	tests := []struct {
		typ  string
		with string
		ok   bool
	}{
		{"wait-process", `{"name": "java"}`, true},
		{"wait-process", `{"pattern": "/opt/x", "state": "stopped", "timeout": "30s"}`, true},
		{"wait-process", `{"pidFile": "/run/x.pid", "interval": "500ms"}`, true},
		{"wait-process", `{"name": "java", "pattern": "java"}`, false},
		{"wait-process", `{}`, false},
		{"wait-process", `{"name": "java", "state": "gone"}`, false},
		{"wait-process", `{"name": "java", "timeout": "soon"}`, false},
		{"wait-process", `{"name": "java", "bogus": 1}`, false},
		{"wait-port", `{"port": 8080}`, true},
		{"wait-port", `{"port": "${{ vars.port }}", "from": "node", "state": "closed"}`, true},
		{"wait-port", `{"host": "x"}`, false},
		{"wait-http", `{"url": "http://x/", "status": 204, "body": "ok"}`, true},
		{"wait-http", `{"url": "http://x/", "status": 42}`, false},
		{"wait-http", `{"url": "http://x/", "from": "elsewhere"}`, false},
	}
	schemas := map[string]*jsonschema.Schema{}
	for _, tc := range tests {
		s, ok := schemas[tc.typ]
		if !ok {
			s = checkSchema(t, tc.typ)
			schemas[tc.typ] = s
		}
		var v any
		if err := json.Unmarshal([]byte(tc.with), &v); err != nil {
			t.Fatal(err)
		}
		err := s.Validate(v)
		if (err == nil) != tc.ok {
			t.Errorf("%s with %s: valid=%v, want %v (%v)", tc.typ, tc.with, err == nil, tc.ok, err)
		}
	}
}
