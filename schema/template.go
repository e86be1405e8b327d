package schema

import "fmt"

// TemplateSchema returns the schema of a template file (kind: Template),
// made from the composed plan schema so that a template's steps are checked
// exactly as a plan's: inputs are declared like params, steps are plan steps.
// Without steps, a step is only checked to be a mapping: zdu checks each
// step once its inputs are filled in (see OneStepSchema), since an input may
// stand where a number is expected.
func TemplateSchema(planSchema []byte, steps bool) ([]byte, error) {
	var plan map[string]any
	if err := decodeJSON(planSchema, &plan); err != nil {
		return nil, fmt.Errorf("reading the plan schema: %w", err)
	}
	props := plan["properties"].(map[string]any)
	root := map[string]any{
		"$schema":              plan["$schema"],
		"$id":                  "https://zdu.dev/schema/template.json",
		"title":                "zdu template",
		"description":          "Steps a plan uses as one step (uses: FILE, with: inputs). Inside, ${{ inputs.NAME }} is an input's value; ids become USE.ID in the plan.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"apiVersion", "kind", "name", "steps"},
		"properties": map[string]any{
			"apiVersion": props["apiVersion"],
			"kind": map[string]any{
				"description": "Kind of document: \"Template\".",
				"type":        "string",
				"const":       "Template",
			},
			"name":        props["name"],
			"description": props["description"],
			"inputs": map[string]any{
				"description":          "Values the plan gives with with:, declared like params (type, default, required, secret, description, values). Keys are identifiers without '-'.",
				"type":                 "object",
				"default":              map[string]any{},
				"propertyNames":        map[string]any{"$ref": "#/$defs/paramName"},
				"additionalProperties": map[string]any{"$ref": "#/$defs/param"},
			},
			"steps": map[string]any{
				"description": "The template's steps, in order; a step may use another template.",
				"type":        "array",
				"minItems":    1,
				"items":       map[string]any{"$ref": "#/$defs/step"},
			},
		},
		"$defs": plan["$defs"],
	}
	if !steps {
		root["properties"].(map[string]any)["steps"].(map[string]any)["items"] = map[string]any{"type": "object"}
	}
	out, err := encodeJSON(root)
	if err != nil {
		return nil, fmt.Errorf("writing the template schema: %w", err)
	}
	if _, err := Compile("template.json", out); err != nil {
		return nil, fmt.Errorf("composing the template schema: %w", err)
	}
	return out, nil
}

// OneStepSchema returns a schema for one plan step, from the composed plan schema.
func OneStepSchema(planSchema []byte) ([]byte, error) {
	var plan map[string]any
	if err := decodeJSON(planSchema, &plan); err != nil {
		return nil, fmt.Errorf("reading the plan schema: %w", err)
	}
	return encodeJSON(map[string]any{
		"$schema": plan["$schema"],
		"$id":     "https://zdu.dev/schema/step.json",
		"$ref":    "#/$defs/step",
		"$defs":   plan["$defs"],
	})
}
