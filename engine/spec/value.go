// Package spec is the YAML model of plans and inventories: what the files say,
// with the line and column of every value, so that every later error can still
// point at the place to edit. Nothing executes these types; the loader turns
// them into runtime types.
package spec

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Pos is a 1-based position in a source file.
type Pos struct {
	Line, Col int
}

// PosOf returns the position of a YAML node (zero for nil).
func PosOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Col: n.Column}
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Value is a scalar from the file with its position. Set is false when the
// key was absent. Style is the scalar's YAML style (plain, quoted, block),
// which says where a position inside the value lies in the file.
type Value[T any] struct {
	V     T
	Pos   Pos
	Set   bool
	Style yaml.Style
}

// UnmarshalYAML records the node's position and decodes the value.
func (v *Value[T]) UnmarshalYAML(n *yaml.Node) error {
	v.Pos, v.Set, v.Style = PosOf(n), true, n.Style
	return n.Decode(&v.V)
}

// Values decodes a YAML scalar or a sequence of scalars into a list, each item
// with its position: `targets: Gateway` and `targets: [Gateway]` are the same.
type Values[T any] struct {
	Items []Value[T]
	Pos   Pos
	Set   bool
}

// UnmarshalYAML accepts one value or a sequence of values.
func (v *Values[T]) UnmarshalYAML(n *yaml.Node) error {
	v.Pos, v.Set = PosOf(n), true
	if n.Kind != yaml.SequenceNode {
		var one Value[T]
		if err := one.UnmarshalYAML(n); err != nil {
			return err
		}
		v.Items = []Value[T]{one}
		return nil
	}
	v.Items = make([]Value[T], 0, len(n.Content))
	for _, c := range n.Content {
		var one Value[T]
		if err := one.UnmarshalYAML(c); err != nil {
			return err
		}
		v.Items = append(v.Items, one)
	}
	return nil
}

// Strings returns the plain values.
func (v Values[T]) Strings() []T {
	out := make([]T, len(v.Items))
	for i, it := range v.Items {
		out[i] = it.V
	}
	return out
}

// Map is a YAML mapping kept in file order, each value with its key's position.
type Map[T any] struct {
	Keys   []Value[string]
	Values []T
	Pos    Pos
}

// UnmarshalYAML decodes a mapping, keeping key order and positions.
func (m *Map[T]) UnmarshalYAML(n *yaml.Node) error {
	m.Pos = PosOf(n)
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		var item T
		if err := val.Decode(&item); err != nil {
			return err
		}
		m.Keys = append(m.Keys, Value[string]{V: k.Value, Pos: PosOf(k), Set: true})
		m.Values = append(m.Values, item)
	}
	return nil
}

// Len is the number of entries.
func (m Map[T]) Len() int { return len(m.Keys) }

// Get returns the value for key.
func (m Map[T]) Get(key string) (T, bool) {
	for i, k := range m.Keys {
		if k.V == key {
			return m.Values[i], true
		}
	}
	var zero T
	return zero, false
}

// Vars is a mapping of variable names to plain values (decoded as YAML data),
// with the position of each key.
type Vars struct {
	Names  []Value[string]
	Values map[string]any
	Nodes  map[string]*yaml.Node
}

// UnmarshalYAML decodes a mapping of variables.
func (v *Vars) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: vars must be a mapping", n.Line)
	}
	v.Values = make(map[string]any, len(n.Content)/2)
	v.Nodes = make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		var x any
		if err := val.Decode(&x); err != nil {
			return err
		}
		v.Names = append(v.Names, Value[string]{V: k.Value, Pos: PosOf(k), Set: true})
		v.Values[k.Value] = x
		v.Nodes[k.Value] = val
	}
	return nil
}

// Raw keeps a value's YAML node as it is, for values whose meaning depends on
// something else (a param default on the param's type, a step's `with` on its
// step type).
type Raw struct {
	Node *yaml.Node
}

// UnmarshalYAML keeps the node.
func (r *Raw) UnmarshalYAML(n *yaml.Node) error {
	r.Node = n
	return nil
}
