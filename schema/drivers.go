package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// DriverSchema is what a load balancer driver contributes to the inventory
// schema.
type DriverSchema struct {
	// Name is what inventories write in `driver:`, e.g. haproxy.
	Name string
	// Summary is one line for editor hover docs.
	Summary string
	// Schema holds the driver's own keys on a load balancer: an object
	// schema whose properties, required keys and other keywords join the
	// keys every load balancer has. Empty: none.
	Schema json.RawMessage
	// InstanceSchema is the same for each of the load balancer's instances.
	InstanceSchema json.RawMessage
}

var driverNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// InventorySchema returns the inventory schema composed with the load
// balancer drivers: `driver` becomes an enum of their names (their summaries
// as descriptions), and a load balancer is checked against the keys every
// load balancer has plus its driver's own, kept under $defs/lb-NAME, each of
// its instances under $defs/lbInstance-NAME. A load balancer whose driver is
// missing or unknown is checked against every driver's keys
// ($defs/lb-any), so a misspelt key still gets its did-you-mean. The output
// is pretty-printed with sorted keys: the same drivers give the same bytes.
func InventorySchema(drivers []DriverSchema) ([]byte, error) {
	var root map[string]any
	if err := decodeJSON(baseInventorySchema(), &root); err != nil {
		return nil, fmt.Errorf("reading the embedded inventory schema: %w", err)
	}
	list, err := driverList(drivers)
	if err != nil {
		return nil, err
	}
	defs := root["$defs"].(map[string]any)
	base := defs["loadBalancer"].(map[string]any)
	baseInstance := defs["lbInstance"].(map[string]any)
	delete(defs, "lbInstance")

	var (
		names, summaries []string
		rules            []any
		doc              strings.Builder
		anyLB, anyIn     = owners{}, owners{}
	)
	driver := copyJSON(base["properties"].(map[string]any)["driver"]).(map[string]any)
	doc.WriteString(driver["description"].(string) + "\n\nDrivers:")
	for _, d := range list {
		lbKeys, inKeys, err := d.fragments()
		if err != nil {
			return nil, err
		}
		what := fmt.Sprintf("with the %s driver (%s)", d.Name, d.Summary)
		if err := addDriver(defs, base, baseInstance, d.Name, what, lbKeys, inKeys); err != nil {
			return nil, err
		}
		anyLB.add(lbKeys, d.Name)
		anyIn.add(inKeys, d.Name)
		names = append(names, d.Name)
		summaries = append(summaries, d.Summary)
		fmt.Fprintf(&doc, "\n- %s: %s", d.Name, d.Summary)
		rules = append(rules, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"driver": map[string]any{"const": d.Name}}, "required": []any{"driver"}},
			"then": map[string]any{"$ref": "#/$defs/lb-" + d.Name},
		})
	}
	what := "whose driver is missing or unknown: only the names of the drivers' keys are checked"
	if err := addDriver(defs, base, baseInstance, "any", what, anyLB.fragment(), anyIn.fragment()); err != nil {
		return nil, err
	}
	if len(names) > 0 {
		driver["enum"] = names
		driver["enumDescriptions"] = summaries
		driver["description"] = doc.String()
		rules = append(rules, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"driver": map[string]any{"enum": names}}, "required": []any{"driver"}},
			"else": map[string]any{"$ref": "#/$defs/lb-any"},
		})
	} else {
		rules = append(rules, map[string]any{"$ref": "#/$defs/lb-any"})
	}
	defs["loadBalancer"] = map[string]any{
		"description": base["description"],
		"type":        "object",
		"required":    []any{"driver"},
		"properties":  map[string]any{"driver": driver},
		"allOf":       rules,
	}

	out, err := encodeJSON(root)
	if err != nil {
		return nil, fmt.Errorf("writing the inventory schema: %w", err)
	}
	if _, err := Compile("inventory.json", out); err != nil {
		return nil, fmt.Errorf("composing the inventory schema: %w", err)
	}
	return out, nil
}

// driverList sorts the drivers and rejects programmer errors: empty, badly
// named or duplicate names.
func driverList(drivers []DriverSchema) ([]DriverSchema, error) {
	list := append([]DriverSchema(nil), drivers...)
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	seen := map[string]bool{}
	for _, d := range list {
		if !driverNameRE.MatchString(d.Name) || d.Name == "any" {
			return nil, fmt.Errorf("load balancer driver %q: a name is lower-case letters, digits and '-', starting with a letter (and not \"any\")", d.Name)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("load balancer driver %q is given twice", d.Name)
		}
		seen[d.Name] = true
	}
	return list, nil
}

// fragments decodes a driver's two schema fragments (nil when empty).
func (d DriverSchema) fragments() (lbKeys, inKeys map[string]any, err error) {
	for _, f := range []struct {
		raw  json.RawMessage
		into *map[string]any
	}{{d.Schema, &lbKeys}, {d.InstanceSchema, &inKeys}} {
		if len(strings.TrimSpace(string(f.raw))) == 0 {
			continue
		}
		if err := decodeJSON(f.raw, f.into); err != nil {
			return nil, nil, fmt.Errorf("load balancer driver %s: its schema is not a JSON object: %w", d.Name, err)
		}
	}
	return lbKeys, inKeys, nil
}

// addDriver adds $defs/lb-NAME and $defs/lbInstance-NAME: the generic keys
// with the driver's.
func addDriver(defs, base, baseInstance map[string]any, name, what string, lbKeys, inKeys map[string]any) error {
	lbDef, err := withKeys(base, lbKeys, name)
	if err != nil {
		return err
	}
	inDef, err := withKeys(baseInstance, inKeys, name)
	if err != nil {
		return err
	}
	instances := lbDef["properties"].(map[string]any)["instances"].(map[string]any)
	instances["items"] = map[string]any{"$ref": "#/$defs/lbInstance-" + name}
	lbDef["description"] = "A load balancer " + what + "."
	inDef["description"] = "An instance of a load balancer " + what + "."
	defs["lb-"+name], defs["lbInstance-"+name] = lbDef, inDef
	return nil
}

// withKeys returns a copy of a generic object schema with a driver's
// fragment added: its properties (a generic key cannot be redeclared), its
// required keys, and any other keyword but those naming the schema itself.
func withKeys(generic, fragment map[string]any, driver string) (map[string]any, error) {
	out := copyJSON(generic).(map[string]any)
	props := out["properties"].(map[string]any)
	for k, v := range fragment {
		switch k {
		case "properties":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("load balancer driver %s: properties must be an object", driver)
			}
			for name, p := range m {
				if _, dup := props[name]; dup {
					return nil, fmt.Errorf("load balancer driver %s: %q is a key every load balancer has; a driver cannot declare it", driver, name)
				}
				props[name] = p
			}
		case "required":
			req, _ := out["required"].([]any)
			more, _ := v.([]any)
			out["required"] = append(req, more...)
		case "$schema", "$id", "type", "title", "description":
		default:
			out[k] = v
		}
	}
	return out, nil
}

// owners gathers which drivers declare each key, for the schema that
// checks a load balancer whose driver is unknown: there only the keys'
// names matter, so that a misspelt one gets its did-you-mean.
type owners map[string][]string

func (o owners) add(fragment map[string]any, driver string) {
	props, _ := fragment["properties"].(map[string]any)
	for name := range props {
		o[name] = append(o[name], driver)
	}
}

func (o owners) fragment() map[string]any {
	props := map[string]any{}
	for name, drivers := range o {
		props[name] = map[string]any{"description": "A key of the " + strings.Join(drivers, ", ") + " driver, checked once driver names it."}
	}
	return map[string]any{"properties": props}
}

// copyJSON deep-copies a decoded JSON value.
func copyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = copyJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyJSON(e)
		}
		return out
	}
	return v
}
