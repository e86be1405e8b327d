package load

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/spec"
)

var paramKinds = map[string]expr.Kind{
	"string": expr.KindString, "int": expr.KindInt, "bool": expr.KindBool,
	"duration": expr.KindDuration, "list": expr.KindList, "enum": expr.KindString,
}

func (b *planBuilder) params() []Param {
	sp := b.sp
	b.kinds = make(map[string]expr.Kind, sp.Params.Len())
	out := make([]Param, 0, sp.Params.Len())
	for i, name := range sp.Params.Keys {
		sparam := sp.Params.Values[i]
		path := "params." + name.V
		typ := sparam.Type.V
		if typ == "" {
			typ = "string"
		}
		kind, ok := paramKinds[typ]
		if !ok {
			b.probs.At(sparam.Type.Pos, path+".type", "unknown param type %q%s", typ, suggest(typ, sortedKeys(paramKinds)))
			continue
		}
		p := Param{
			Name: name.V, Kind: kind, Description: sparam.Description.V, Required: sparam.Required.V,
			Secret: sparam.Secret.V, Env: sparam.Env.V, Values: sparam.EnumValues.Strings(), Pos: name.Pos,
		}
		if typ == "enum" && len(p.Values) == 0 {
			b.probs.At(sparam.Pos, path+".values", "an enum param needs its allowed values")
		}
		if typ != "enum" && sparam.EnumValues.Set {
			b.probs.At(sparam.EnumValues.Pos, path+".values", "values is only for type enum")
		}
		if sparam.Default.Node != nil {
			v, err := ParseParamNode(p, sparam.Default.Node)
			if err != nil {
				b.probs.At(spec.PosOf(sparam.Default.Node), path+".default", "%v", err)
			}
			p.Default = v
		}
		b.kinds[p.Name] = kind
		out = append(out, p)
	}
	return out
}

// ParseParamNode decodes a YAML value (a default, an inventory var) as p's type.
func ParseParamNode(p Param, n *yaml.Node) (any, error) {
	if n.Kind == yaml.SequenceNode {
		if p.Kind != expr.KindList {
			return nil, fmt.Errorf("%s is a %s, not a list", p.Name, kindWord(p))
		}
		var l []any
		if err := n.Decode(&l); err != nil {
			return nil, err
		}
		if at, nul := nulIn(l); nul {
			return nil, fmt.Errorf("%s holds a NUL byte%s", p.Name, at)
		}
		return l, nil
	}
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("%s must be a single value", p.Name)
	}
	return ParseParam(p, n.Value)
}

// ParseParam parses a textual value (from --set or YAML) as p's type. A
// secret param's value is never echoed in the error.
func ParseParam(p Param, s string) (any, error) {
	shown := fmt.Sprintf("%q", s)
	if p.Secret {
		shown = "the value given (not shown: the param is secret)"
	}
	if strings.ContainsRune(s, 0) {
		return nil, fmt.Errorf("%s contains a NUL byte", p.Name)
	}
	switch p.Kind {
	case expr.KindInt:
		i, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s must be an integer, not %s", p.Name, shown)
		}
		return i, nil
	case expr.KindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s must be true or false, not %s", p.Name, shown)
		}
		return b, nil
	case expr.KindDuration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s must be a duration such as 30s or 5m, not %s", p.Name, shown)
		}
		return d, nil
	case expr.KindList:
		if s == "" {
			return []any{}, nil
		}
		parts := strings.Split(s, ",")
		l := make([]any, len(parts))
		for i, x := range parts {
			l[i] = strings.TrimSpace(x)
		}
		return l, nil
	}
	if len(p.Values) > 0 {
		for _, v := range p.Values {
			if v == s {
				return s, nil
			}
		}
		if p.Secret {
			return nil, fmt.Errorf("%s must be one of %s, not %s", p.Name, strings.Join(p.Values, ", "), shown)
		}
		return nil, fmt.Errorf("%s must be one of %s, not %q%s", p.Name, strings.Join(p.Values, ", "), s, suggest(s, p.Values))
	}
	return s, nil
}

func kindWord(p Param) string {
	for w, k := range paramKinds {
		if k == p.Kind && w != "enum" {
			return w
		}
	}
	return "value"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
