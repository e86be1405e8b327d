package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// maxAliased bounds how many values aliases and merge keys may add to a
// document. They can multiply a small file into billions of values ("billion
// laughs"); plans reuse a few blocks this way, far below the bound. Values
// written out in the file are not counted: the file's size bounds them.
const maxAliased = 100_000

// converter turns a yaml.Node tree into the plain values the JSON Schema
// validator takes (map[string]any, []any, string, json.Number, bool, nil),
// recording where each value came from.
type converter struct {
	file      string
	pos       *Positions
	problems  []Problem
	left      int
	tooBig    bool
	aliased   int // > 0 while converting what an alias or merge key points to
	expanding map[*yaml.Node]bool
	// checked holds values the caller checked itself, with their stand-ins
	// (see Validator.ValidateExcept).
	checked map[*yaml.Node]any
}

func newConverter(file string) *converter {
	return &converter{
		file:      file,
		pos:       &Positions{entries: make(map[string]entry, 256)},
		left:      maxAliased,
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
	return c.value(doc, nil, "")
}

func (c *converter) problem(n *yaml.Node, ptr, format string, args ...any) {
	line, col := nodePos(n)
	c.problems = append(c.problems, Problem{File: c.file, Line: line, Col: col, Path: c.pos.Path(ptr), Msg: fmt.Sprintf(format, args...)})
}

// spend counts one value reached through an alias against maxAliased and
// reports, once, a document that exceeds it.
func (c *converter) spend(n *yaml.Node, ptr string) bool {
	if c.aliased == 0 {
		return true
	}
	if c.left--; c.left >= 0 {
		return true
	}
	if !c.tooBig {
		c.tooBig = true
		c.problem(n, ptr, "aliases and merge keys expand the document by more than %d values; it is too large to check", maxAliased)
	}
	return false
}

// value records the node at ptr and converts it.
func (c *converter) value(n, key *yaml.Node, ptr string) any {
	if stand, ok := c.checked[n]; ok {
		return stand
	}
	c.pos.entries[ptr] = entry{key: key, value: n}
	return c.content(n, ptr)
}

// content converts a node without recording it (aliases and merges record
// their own position and then convert what they point to).
func (c *converter) content(n *yaml.Node, ptr string) any {
	if n == nil {
		return nil
	}
	if !c.spend(n, ptr) {
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		target := n.Alias
		if target == nil {
			return nil
		}
		if c.expanding[target] {
			c.problem(n, ptr, "alias *%s refers to a value that contains it", n.Value)
			return nil
		}
		c.expanding[target] = true
		c.aliased++
		defer func() { delete(c.expanding, target); c.aliased-- }()
		return c.content(target, ptr)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.content(n.Content[0], ptr)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			if stand, ok := c.checked[item]; ok {
				out[i] = stand // no pointer built for what is not indexed
				continue
			}
			out[i] = c.value(item, nil, ptr+"/"+strconv.Itoa(i))
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		c.mapping(n, ptr, out)
		return out
	default:
		return c.scalar(n, ptr)
	}
}

// mapping fills out with n's pairs. Keys written in n win over merged ones
// (`<<: *base`), and an earlier merge source wins over a later one, as YAML
// merge keys define; a key written twice in n is a problem at the second.
func (c *converter) mapping(n *yaml.Node, ptr string, out map[string]any) {
	if !c.spend(n, ptr) {
		return
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
		for _, src := range c.mergeSources(merges[i], ptr) {
			c.expanding[src] = true
			c.aliased++
			c.mapping(src, ptr, out)
			c.aliased--
			delete(c.expanding, src)
		}
	}
	var seen map[string]*yaml.Node // only for large mappings; small ones scan
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		name, ok := c.keyName(k, ptr)
		if !ok {
			continue
		}
		first := c.earlierKey(n, i, name, &seen)
		if first != nil {
			c.problem(k, ptr+"/"+escapeToken(name), "duplicate key %q (first set on line %d); remove one of them", name, first.Line)
			continue
		}
		out[name] = c.value(v, k, ptr+"/"+escapeToken(name))
	}
}

// earlierKey returns the key node before position i of mapping n that has
// the same name, or nil. Small mappings (nearly all of them) are scanned;
// large ones get a map, built once.
func (c *converter) earlierKey(n *yaml.Node, i int, name string, seen *map[string]*yaml.Node) *yaml.Node {
	const scan = 16
	if len(n.Content) <= 2*scan {
		for j := 0; j < i; j += 2 {
			if k := n.Content[j]; k.Kind == yaml.ScalarNode && k.Value == name && k.ShortTag() != "!!merge" {
				return k
			}
		}
		return nil
	}
	if *seen == nil {
		*seen = make(map[string]*yaml.Node, len(n.Content)/2)
	}
	if first, ok := (*seen)[name]; ok {
		return first
	}
	(*seen)[name] = n.Content[i]
	return nil
}

// mergeSources resolves the value of a merge key to the mappings it merges.
func (c *converter) mergeSources(v *yaml.Node, ptr string) []*yaml.Node {
	deref := func(n *yaml.Node) *yaml.Node {
		for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 100; depth++ {
			n = n.Alias
		}
		return n
	}
	switch t := deref(v); {
	case t != nil && t.Kind == yaml.MappingNode:
		if c.expanding[t] {
			c.problem(v, ptr, "merge key << refers to a mapping that contains it")
			return nil
		}
		return []*yaml.Node{t}
	case t != nil && t.Kind == yaml.SequenceNode:
		var out []*yaml.Node
		for _, item := range t.Content {
			m := deref(item)
			if m == nil || m.Kind != yaml.MappingNode || c.expanding[m] {
				c.problem(item, ptr, "merge key << takes a mapping or a list of mappings")
				continue
			}
			out = append(out, m)
		}
		return out
	}
	c.problem(v, ptr, "merge key << takes a mapping or a list of mappings")
	return nil
}

// keyName returns a mapping key as a JSON object key. Scalars of any type
// become their text (`8080:` is the key "8080"); a mapping or list as a key
// has no JSON form and is a problem.
func (c *converter) keyName(k *yaml.Node, ptr string) (string, bool) {
	n := k
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 100; depth++ {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.ScalarNode {
		c.problem(k, ptr, "a key must be a plain value, not a mapping or a list")
		return "", false
	}
	return n.Value, true
}

// scalar converts a scalar honouring its tag, whether implicit (30 is an
// int, "30" a string) or explicit (!!str 30).
func (c *converter) scalar(n *yaml.Node, ptr string) any {
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			c.problem(n, ptr, "%q is not a boolean (use true or false)", n.Value)
			return n.Value
		}
		return b
	case "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			c.problem(n, ptr, "%q is not an integer", n.Value)
			return n.Value
		}
		switch v := v.(type) {
		case int, int64, uint64, uint, int32:
			return json.Number(fmt.Sprint(v))
		case float64:
			return floatValue(v, n.Value)
		}
		return json.Number(fmt.Sprint(v))
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			c.problem(n, ptr, "%q is not a number", n.Value)
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
