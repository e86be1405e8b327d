package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// StepSchema is what a step type contributes to the plan schema.
type StepSchema struct {
	// Type is the name plans write in `type:`, e.g. ssh-exec.
	Type string
	// Summary is one line for editor hover docs.
	Summary string
	// Schema is the JSON Schema of the step's `with` block.
	Schema json.RawMessage
}

var stepTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// PlanSchema returns the plan schema composed with the step types: `type`
// becomes an enum of the registered types (their summaries as descriptions),
// and each type's `with` is checked against its own schema, kept under
// $defs/with-TYPE. The output is pretty-printed with sorted keys, so the same
// step types always give the same bytes.
func PlanSchema(steps []StepSchema) ([]byte, error) {
	var root map[string]any
	if err := decodeJSON(basePlanSchema(), &root); err != nil {
		return nil, fmt.Errorf("reading the embedded plan schema: %w", err)
	}
	list, err := stepList(steps)
	if err != nil {
		return nil, err
	}
	defs := root["$defs"].(map[string]any)
	step := defs["step"].(map[string]any)
	typ := step["properties"].(map[string]any)["type"].(map[string]any)
	delete(typ, "pattern")
	delete(typ, "patternErrorMessage")

	var (
		names, summaries []string
		rules            []any
		doc              strings.Builder
	)
	doc.WriteString(typ["description"].(string) + "\n\nStep types:")
	for _, s := range list {
		with, err := stepWithSchema(s)
		if err != nil {
			return nil, err
		}
		names = append(names, s.Type)
		summaries = append(summaries, s.Summary)
		fmt.Fprintf(&doc, "\n- %s: %s", s.Type, s.Summary)
		ref := "with-" + s.Type
		defs[ref] = with
		then := map[string]any{"properties": map[string]any{"with": map[string]any{"$ref": "#/$defs/" + ref}}}
		if req, _ := with["required"].([]any); len(req) > 0 {
			then["required"] = []any{"with"}
		}
		rules = append(rules, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": s.Type}}, "required": []any{"type"}},
			"then": then,
		})
	}
	typ["enum"] = names
	typ["enumDescriptions"] = summaries
	typ["description"] = doc.String()
	step["allOf"] = rules

	out, err := encodeJSON(root)
	if err != nil {
		return nil, fmt.Errorf("writing the plan schema: %w", err)
	}
	if _, err := Compile("plan.json", out); err != nil {
		return nil, fmt.Errorf("composing the plan schema: %w", err)
	}
	return out, nil
}

// stepList sorts the step types, adds rollback-on when it is missing and
// rejects programmer errors: empty, badly named or duplicate types.
func stepList(steps []StepSchema) ([]StepSchema, error) {
	list := append([]StepSchema(nil), steps...)
	sort.Slice(list, func(i, j int) bool { return list[i].Type < list[j].Type })
	seen := map[string]bool{}
	for _, s := range list {
		if !stepTypeRE.MatchString(s.Type) {
			return nil, fmt.Errorf("step type %q: a type is lower-case letters, digits and '-', starting with a letter", s.Type)
		}
		if seen[s.Type] {
			return nil, fmt.Errorf("step type %q is given twice", s.Type)
		}
		seen[s.Type] = true
	}
	return list, nil
}

// stepWithSchema decodes a step type's `with` schema. An empty schema allows
// any mapping. A `$schema` without `$id` is dropped: inside the plan schema
// the step's schema is a subschema, not a document of its own.
func stepWithSchema(s StepSchema) (map[string]any, error) {
	if len(bytes.TrimSpace(s.Schema)) == 0 {
		return map[string]any{"type": "object", "description": s.Summary}, nil
	}
	var v any
	if err := decodeJSON(s.Schema, &v); err != nil {
		return nil, fmt.Errorf("step type %s: its with schema is not JSON: %w", s.Type, err)
	}
	switch v := v.(type) {
	case bool:
		if !v {
			return map[string]any{"not": map[string]any{}, "description": s.Summary}, nil
		}
		return map[string]any{"description": s.Summary}, nil
	case map[string]any:
		if _, ok := v["$id"]; !ok {
			delete(v, "$schema")
		}
		if _, ok := v["description"]; !ok && s.Summary != "" {
			v["description"] = s.Summary
		}
		return v, nil
	}
	return nil, fmt.Errorf("step type %s: its with schema must be a JSON object", s.Type)
}

// decodeJSON decodes keeping numbers exact.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// encodeJSON pretty-prints v with sorted keys and without HTML escaping, so
// descriptions such as results.<name> stay readable.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
