package load

import (
	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/steps/lb"
)

// fields gives a load balancer driver its own keys of one inventory mapping
// (a load balancer or an instance). Problems are recorded at the value's
// position; a value of the wrong shape (a list where a string belongs) goes
// to shape instead, since the schema has already said what is wrong with it
// in its own words.
type fields struct {
	keys  map[string]*yaml.Node
	pos   spec.Pos // the mapping's, for problems about absent keys
	path  string   // e.g. loadBalancers.web.instances[0]
	probs *Problems
	shape *Problems
}

var _ lb.Fields = (*fields)(nil)

// newFields reads mapping n's keys the way the YAML decoder does: merge keys
// (<<) merged, aliases followed.
func newFields(n *yaml.Node, pos spec.Pos, path string, probs, shape *Problems) *fields {
	return &fields{keys: mapping(n), pos: pos, path: path, probs: probs, shape: shape}
}

// mapping returns a mapping node's values by key; nil when n is no mapping.
func mapping(n *yaml.Node) map[string]*yaml.Node {
	var m map[string]yaml.Node
	if n == nil || n.Decode(&m) != nil {
		return nil
	}
	out := make(map[string]*yaml.Node, len(m))
	for k, v := range m {
		v := v
		node := &v
		for depth := 0; node.Kind == yaml.AliasNode && node.Alias != nil && depth < 100; depth++ {
			node = node.Alias
		}
		out[k] = node
	}
	return out
}

func (f *fields) Has(key string) bool { return f.keys[key] != nil }

func (f *fields) at(key string) string {
	if key == "" {
		return f.path
	}
	return f.path + "." + key
}

func (f *fields) Errorf(key, format string, args ...any) {
	pos := f.pos
	if v := f.keys[key]; v != nil {
		pos = spec.PosOf(v)
	}
	f.probs.At(pos, f.at(key), format, args...)
}

func (f *fields) String(key string) string {
	v := f.keys[key]
	if v == nil || !f.scalar(v, f.at(key)) {
		return ""
	}
	return v.Value
}

func (f *fields) StringMap(key string) map[string]string {
	v := f.keys[key]
	if v == nil {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		f.shape.At(spec.PosOf(v), f.at(key), "must be a mapping, not a %s", kindName(v))
		return nil
	}
	out := map[string]string{}
	for k, item := range mapping(v) {
		if f.scalar(item, f.at(key)+"."+k) {
			out[k] = item.Value
		}
	}
	return out
}

// scalar reports whether v is a single value, recording a shape problem
// when it is not.
func (f *fields) scalar(v *yaml.Node, path string) bool {
	if v.Kind == yaml.ScalarNode {
		return true
	}
	f.shape.At(spec.PosOf(v), path, "must be a single value, not a %s", kindName(v))
	return false
}
