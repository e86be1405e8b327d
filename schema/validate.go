package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"
)

// Validator checks YAML documents against one compiled JSON Schema.
type Validator struct {
	name   string
	schema *jsonschema.Schema
	// docs holds the schema as plain JSON, by base URL (the document's and
	// every $id inside it), so an error's keyword location can be looked up
	// for the words a good message needs: allowed keys, enum values, titles.
	docs map[string]any
	root any
}

// Compile compiles a draft 2020-12 schema. name identifies it in errors and,
// when the schema has no $id, serves as its URL.
func Compile(name string, schemaJSON []byte) (*Validator, error) {
	var raw any
	if err := decodeJSON(schemaJSON, &raw); err != nil {
		return nil, fmt.Errorf("schema %s is not JSON: %w", name, err)
	}
	base := name
	if !strings.Contains(base, "://") {
		base = "https://zdu.dev/schema/" + strings.TrimPrefix(base, "/")
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	// Schemas are embedded or composed in memory; nothing is fetched.
	c.LoadURL = func(u string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("schema %s refers to %s, which zdu does not fetch", name, u)
	}
	if err := c.AddResource(base, bytes.NewReader(schemaJSON)); err != nil {
		return nil, fmt.Errorf("loading schema %s: %w", name, err)
	}
	s, err := c.Compile(base)
	if err != nil {
		return nil, fmt.Errorf("compiling schema %s: %w", name, err)
	}
	v := &Validator{name: name, schema: s, docs: map[string]any{}, root: raw}
	v.docs[stripFragment(base)] = raw
	v.collectIDs(raw, base)
	return v, nil
}

// Validate checks a document (as returned by Decode) and returns every
// problem, sorted by line and column. A nil document is an empty file.
func (v *Validator) Validate(file string, doc *yaml.Node) []Problem {
	return v.ValidateExcept(file, doc, nil)
}

// ValidateExcept is Validate for a document some of whose values the
// caller has already checked against this schema's rules in code of its
// own (the many nodes of an inventory: converting each to JSON values and
// back costs more than the rest of loading). checked maps each such YAML
// node to a stand-in value the schema accepts in its place; it is neither
// converted nor indexed, so no problem can be reported inside it. The
// caller must check exactly what the schema would: a value it is unsure of
// is left out of checked, and gets the schema's own words.
func (v *Validator) ValidateExcept(file string, doc *yaml.Node, checked map[*yaml.Node]any) []Problem {
	if doc == nil || (doc.Kind == yaml.DocumentNode && len(doc.Content) == 0) {
		return []Problem{{File: file, Line: 1, Col: 1, Msg: "the document is empty"}}
	}
	c := newConverter(file)
	c.checked = checked
	value := c.convert(doc)
	problems := c.problems
	if c.tooBig {
		return SortProblems(problems)
	}
	if err := v.schema.Validate(value); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			problems = append(problems, Problem{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot check the document against %s: %v", v.name, err)})
		} else {
			m := &mapper{v: v, file: file, pos: c.pos, value: value}
			problems = append(problems, m.report(m.collect(ve))...)
		}
	}
	return SortProblems(problems)
}

// collectIDs records every subschema with its own $id under its absolute URL.
func (v *Validator) collectIDs(node any, base string) {
	switch n := node.(type) {
	case map[string]any:
		if id, ok := n["$id"].(string); ok {
			if b, err := url.Parse(base); err == nil {
				if u, err := b.Parse(id); err == nil {
					base = u.String()
					v.docs[stripFragment(base)] = n
				}
			}
		}
		for k, child := range n {
			if k == "enum" || k == "const" || k == "default" || k == "examples" {
				continue
			}
			v.collectIDs(child, base)
		}
	case []any:
		for _, child := range n {
			v.collectIDs(child, base)
		}
	}
}

func stripFragment(u string) string {
	if i := strings.IndexByte(u, '#'); i >= 0 {
		return u[:i]
	}
	return u
}

// lookup returns the schema object at an absolute keyword location with its
// last drop tokens removed (1 turns ".../properties/x/type" into the schema
// holding `type`), or nil when it cannot be found.
func (v *Validator) lookup(location string, drop int) map[string]any {
	base, frag, _ := strings.Cut(location, "#")
	node, ok := v.docs[base]
	if !ok {
		node = v.root
	}
	toks := splitPointer(frag)
	if drop > len(toks) {
		return nil
	}
	for _, t := range toks[:len(toks)-drop] {
		switch n := node.(type) {
		case map[string]any:
			node = n[t]
		case []any:
			i := 0
			if _, err := fmt.Sscan(t, &i); err != nil || i < 0 || i >= len(n) {
				return nil
			}
			node = n[i]
		default:
			return nil
		}
	}
	m, _ := node.(map[string]any)
	return m
}
