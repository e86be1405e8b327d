package load

import (
	"strconv"
	"strings"

	"github.com/zdu-dev/zdu/engine/spec"
	"gopkg.in/yaml.v3"
)

// An inventory of 100,000 nodes is a million YAML values. Checking each
// node against the JSON Schema means converting it to JSON values first
// (and indexing every value's position), then decoding it a second time
// into the model by reflection: most of the time and memory of loading
// such an inventory. So each node is first looked at here, in one pass
// over its YAML node that both checks it and decodes it. A node this
// recognises as plainly valid is decoded here and stands aside from the
// schema check (schema.Validator.ValidateExcept); any other node, the
// smallest doubt included (an alias, a merge key, an explicit tag, a
// value of another type, a key the schema does not know), goes the
// generic way, so every problem is still worded and placed by the schema.
// This only has to be sound: it must never take a node the schema
// refuses. TestNodeShapeAgreesWithSchema checks it against the schema on
// a corpus of bad nodes, and TestNodeShapePinned fails when the node's
// schema changes, so that this is changed with it.

// groupName matches the inventory schema's groupName pattern,
// ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ (a regexp costs more than the rest of a
// node's check; TestNamePatterns holds the two to the same answers).
func groupName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(wordByte(c) || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '-')) {
			return false
		}
	}
	return s != ""
}

// varName matches the pattern of vars' names, ^[A-Za-z_][A-Za-z0-9_]*$.
func varName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(wordByte(c) || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func wordByte(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' }

// nodeStandIn is what the schema is given in place of a node decoded
// here: a node it accepts.
var nodeStandIn = map[string]any{"name": "checked"}

// plainNode checks one item of an inventory's nodes list and decodes it.
// ok is false when the item is not plainly valid (see above); the item
// is then left to the schema and to spec's decoding.
func plainNode(y *yaml.Node) (n spec.Node, ok bool) {
	if y.Kind != yaml.MappingNode || !bare(y) || len(y.Content)%2 != 0 {
		return n, false
	}
	var seen uint16
	for i := 0; i < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		if !plainString(k) {
			return n, false
		}
		bit, valid := nodeKeys[k.Value]
		if !valid || seen&bit != 0 {
			return n, false // an unknown key or a key written twice
		}
		seen |= bit
		switch k.Value {
		case "name":
			ok = nonEmpty(v, &n.Name)
		case "host":
			ok = nonEmpty(v, &n.Host)
		case "user":
			ok = nonEmpty(v, &n.User)
		case "proxyJump":
			ok = nonEmpty(v, &n.ProxyJump)
		case "transport":
			ok = nonEmpty(v, &n.Transport) && (v.Value == "ssh" || v.Value == "local")
		case "port":
			ok = plainPort(v, &n.Port)
		case "groups":
			ok = plainGroups(v, &n.Groups)
		case "vars":
			ok = plainVars(v, &n.Vars)
		}
		if !ok {
			return n, false
		}
	}
	if seen&nodeKeys["name"] == 0 {
		return n, false // required
	}
	n.Pos = spec.PosOf(y)
	return n, true
}

// nodeKeys are the keys of the schema's node, each with its bit.
var nodeKeys = map[string]uint16{
	"name": 1, "host": 2, "port": 4, "user": 8, "transport": 16, "groups": 32, "vars": 64, "proxyJump": 128,
}

// bare: no explicit tag and no anchor. An anchored value may be what an
// alias elsewhere stands for, which the generic way must then see whole.
func bare(y *yaml.Node) bool {
	return y.Style&yaml.TaggedStyle == 0 && y.Anchor == ""
}

// plainString: a scalar that is a string as written (no explicit tag, not
// an alias, not a number or boolean or null by YAML's rules).
func plainString(y *yaml.Node) bool {
	return y.Kind == yaml.ScalarNode && bare(y) && y.ShortTag() == "!!str"
}

func nonEmpty(y *yaml.Node, into *spec.Value[string]) bool {
	if !plainString(y) || y.Value == "" {
		return false
	}
	*into = spec.Value[string]{V: y.Value, Pos: spec.PosOf(y), Set: true, Style: y.Style}
	return true
}

// plainPort: a decimal integer from 1 to 65535 written plainly.
func plainPort(y *yaml.Node, into *spec.Value[int]) bool {
	if y.Kind != yaml.ScalarNode || y.Style != 0 || y.Anchor != "" || y.ShortTag() != "!!int" || len(y.Value) > 5 ||
		y.Value == "" || y.Value[0] < '1' || y.Value[0] > '9' {
		return false
	}
	p, err := strconv.Atoi(y.Value)
	if err != nil || p > 65535 {
		return false
	}
	*into = spec.Value[int]{V: p, Pos: spec.PosOf(y), Set: true, Style: y.Style}
	return true
}

// plainGroups: one group name, or a list of distinct ones.
func plainGroups(y *yaml.Node, into *spec.Values[string]) bool {
	group := func(y *yaml.Node) (spec.Value[string], bool) {
		if !plainString(y) || !groupName(y.Value) {
			return spec.Value[string]{}, false
		}
		return spec.Value[string]{V: y.Value, Pos: spec.PosOf(y), Set: true, Style: y.Style}, true
	}
	*into = spec.Values[string]{Pos: spec.PosOf(y), Set: true}
	if y.Kind == yaml.ScalarNode {
		g, ok := group(y)
		into.Items = []spec.Value[string]{g}
		return ok
	}
	if y.Kind != yaml.SequenceNode || !bare(y) {
		return false
	}
	into.Items = make([]spec.Value[string], 0, len(y.Content))
	for _, c := range y.Content {
		g, ok := group(c)
		if !ok {
			return false
		}
		for _, prev := range into.Items {
			if prev.V == g.V {
				return false // uniqueItems
			}
		}
		into.Items = append(into.Items, g)
	}
	return true
}

// plainVars: empty, or a mapping of variable names to plain data.
func plainVars(y *yaml.Node, into *spec.Vars) bool {
	if !bare(y) {
		return false
	}
	if y.Kind == yaml.ScalarNode && y.ShortTag() == "!!null" {
		return true // as spec decodes it: no vars
	}
	if y.Kind != yaml.MappingNode || len(y.Content)%2 != 0 {
		return false
	}
	v := spec.Vars{Values: make(map[string]any, len(y.Content)/2)}
	v.Names = make([]spec.Value[string], 0, len(y.Content)/2)
	for i := 0; i < len(y.Content); i += 2 {
		k, val := y.Content[i], y.Content[i+1]
		if !plainString(k) || !varName(k.Value) || !plainData(val, 0) {
			return false
		}
		if _, dup := v.Values[k.Value]; dup {
			return false
		}
		x, ok := dataValue(val)
		if !ok {
			return false
		}
		v.Names = append(v.Names, spec.Value[string]{V: k.Value, Pos: spec.PosOf(k), Set: true})
		v.Values[k.Value] = x
	}
	// Vars.Nodes places a problem with a value (a NUL byte, which
	// plainData turns away) and is not needed here.
	*into = v
	return true
}

// plainData: a value the schema's conversion takes as it is: no alias, no
// merge key, no explicit tag, no key written twice, no key that is not a
// scalar, no NUL byte, and scalars only of YAML's core types.
func plainData(y *yaml.Node, depth int) bool {
	if !bare(y) || depth > 64 {
		return false
	}
	switch y.Kind {
	case yaml.ScalarNode:
		switch y.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool", "!!null":
			return !strings.ContainsRune(y.Value, 0)
		}
		return false
	case yaml.SequenceNode:
		for _, c := range y.Content {
			if !plainData(c, depth+1) {
				return false
			}
		}
		return true
	case yaml.MappingNode:
		if len(y.Content)%2 != 0 || len(y.Content) > 64 {
			return false // a large mapping: the generic way finds repeated keys
		}
		for i := 0; i < len(y.Content); i += 2 {
			k := y.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" || !plainData(k, depth+1) || !plainData(y.Content[i+1], depth+1) {
				return false
			}
			for j := 0; j < i; j += 2 {
				if y.Content[j].Value == k.Value {
					return false
				}
			}
		}
		return true
	}
	return false
}

// dataValue decodes a var's value as spec.Vars does (yaml.v3 into an
// interface), the common scalars without a decoder of their own.
func dataValue(y *yaml.Node) (any, bool) {
	if y.Kind == yaml.ScalarNode {
		switch y.ShortTag() {
		case "!!str":
			return y.Value, true
		case "!!null":
			return nil, true
		case "!!bool":
			switch y.Value {
			case "true":
				return true, true
			case "false":
				return false, true
			}
		case "!!int":
			if i, err := strconv.Atoi(y.Value); err == nil && strconv.Itoa(i) == y.Value {
				return i, true
			}
		}
	}
	var x any
	if err := y.Decode(&x); err != nil {
		return nil, false
	}
	return x, true
}
