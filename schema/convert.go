package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// maxValues bounds how many values one document may expand to. Aliases can
// multiply a small file into billions of values ("billion laughs"); a real
// inventory of thousands of nodes stays far below this.
const maxValues = 500_000

// converter turns a yaml.Node tree into the plain values the JSON Schema
// validator takes (map[string]any, []any, string, json.Number, bool, nil),
// recording where each value came from.
type converter struct {
	file      string
	pos       *Positions
	problems  []Problem
	left      int
	tooBig    bool
	expanding map[*yaml.Node]bool
}

func newConverter(file string) *converter {
	return &converter{
		file:      file,
		pos:       &Positions{entries: make(map[string]entry, 256)},
		left:      maxValues,
		expanding: map[*yaml.Node]bool{},
	}
}

// convert converts a document node (or a bare root node).
func (c *converter) convert(doc *yaml.Node) any {
	if doc != nil && doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			c.pos.entries[""] = entry{value: doc}
			return nil
		}
		doc = doc.Content[0]
	}
	return c.value(doc, nil, "", "")
}

func (c *converter) problem(n *yaml.Node, path, format string, args ...any) {
	line, col := nodePos(n)
	c.problems = append(c.problems, Problem{File: c.file, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// spend counts one value against maxValues and reports, once, a document
// that exceeds it.
func (c *converter) spend(n *yaml.Node, path string) bool {
	if c.left--; c.left >= 0 {
		return true
	}
	if !c.tooBig {
		c.tooBig = true
		c.problem(n, path, "the document expands to more than %d values (through aliases?); it is too large to check", maxValues)
	}
	return false
}

// value records the node at ptr and converts it.
func (c *converter) value(n, key *yaml.Node, ptr, path string) any {
	c.pos.entries[ptr] = entry{key: key, value: n, path: path}
	return c.content(n, ptr, path)
}

// content converts a node without recording it (aliases and merges record
// their own position and then convert what they point to).
func (c *converter) content(n *yaml.Node, ptr, path string) any {
	if n == nil {
		return nil
	}
	if !c.spend(n, path) {
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		target := n.Alias
		if target == nil {
			return nil
		}
		if c.expanding[target] {
			c.problem(n, path, "alias *%s refers to a value that contains it", n.Value)
			return nil
		}
		c.expanding[target] = true
		defer delete(c.expanding, target)
		return c.content(target, ptr, path)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.content(n.Content[0], ptr, path)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			out[i] = c.value(item, nil, ptr+"/"+strconv.Itoa(i), path+"["+strconv.Itoa(i)+"]")
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		c.mapping(n, ptr, path, out, map[string]*yaml.Node{})
		return out
	default:
		return c.scalar(n, path)
	}
}

// mapping fills out with n's pairs. Keys written in n win over merged ones
// (`<<: *base`), and an earlier merge source wins over a later one, as YAML
// merge keys define; a key written twice in n is a problem at the second.
func (c *converter) mapping(n *yaml.Node, ptr, path string, out map[string]any, seen map[string]*yaml.Node) {
	if !c.spend(n, path) {
		return
	}
	// A merge source that merges itself would recurse forever.
	if !c.expanding[n] {
		c.expanding[n] = true
		defer delete(c.expanding, n)
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, n.Content[i+1])
		}
	}
	// Merged values first, the last source first, so that what is written
	// later in this loop (earlier sources, then n's own keys) overrides them.
	for i := len(merges) - 1; i >= 0; i-- {
		for _, src := range c.mergeSources(merges[i], path) {
			c.mapping(src, ptr, path, out, map[string]*yaml.Node{})
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		name, ok := c.keyName(k, path)
		if !ok {
			continue
		}
		child := joinKey(path, name)
		if first, dup := seen[name]; dup {
			c.problem(k, child, "duplicate key %q (first set on line %d); remove one of them", name, first.Line)
			continue
		}
		seen[name] = k
		out[name] = c.value(v, k, ptr+"/"+escapeToken(name), child)
	}
}

// mergeSources resolves the value of a merge key to the mappings it merges.
func (c *converter) mergeSources(v *yaml.Node, path string) []*yaml.Node {
	deref := func(n *yaml.Node) *yaml.Node {
		for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 100; depth++ {
			n = n.Alias
		}
		return n
	}
	switch t := deref(v); {
	case t != nil && t.Kind == yaml.MappingNode:
		if c.expanding[t] {
			c.problem(v, path, "merge key << refers to a mapping that contains it")
			return nil
		}
		return []*yaml.Node{t}
	case t != nil && t.Kind == yaml.SequenceNode:
		var out []*yaml.Node
		for _, item := range t.Content {
			m := deref(item)
			if m == nil || m.Kind != yaml.MappingNode || c.expanding[m] {
				c.problem(item, path, "merge key << takes a mapping or a list of mappings")
				continue
			}
			out = append(out, m)
		}
		return out
	}
	c.problem(v, path, "merge key << takes a mapping or a list of mappings")
	return nil
}

// keyName returns a mapping key as a JSON object key. Scalars of any type
// become their text (`8080:` is the key "8080"); a mapping or list as a key
// has no JSON form and is a problem.
func (c *converter) keyName(k *yaml.Node, path string) (string, bool) {
	n := k
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 100; depth++ {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.ScalarNode {
		c.problem(k, path, "a key must be a plain value, not a mapping or a list")
		return "", false
	}
	return n.Value, true
}

// scalar converts a scalar honouring its tag, whether implicit (30 is an
// int, "30" a string) or explicit (!!str 30).
func (c *converter) scalar(n *yaml.Node, path string) any {
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			c.problem(n, path, "%q is not a boolean (use true or false)", n.Value)
			return n.Value
		}
		return b
	case "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			c.problem(n, path, "%q is not an integer", n.Value)
			return n.Value
		}
		switch v.(type) {
		case int, int64, uint64, uint, int32:
			return json.Number(fmt.Sprint(v))
		case float64:
			return floatValue(v.(float64), n.Value)
		}
		return json.Number(fmt.Sprint(v))
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			c.problem(n, path, "%q is not a number", n.Value)
			return n.Value
		}
		return floatValue(f, n.Value)
	default:
		// !!str, !!timestamp, !!binary and unknown local tags: JSON has no
		// such types, so the text as written is the value.
		return n.Value
	}
}

// floatValue returns a finite float as a JSON number. JSON has no infinity or
// NaN, and the validator cannot compare them, so those stay as their text.
func floatValue(f float64, text string) any {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return text
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}
