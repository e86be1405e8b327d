package load

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/spec"
)

// A use's inputs: checked against the template's declarations, then filled
// in where the template writes ${{ inputs.NAME }}.

// inputValues checks a use's with against the template's inputs and
// returns each input's value node (a default where none is given; nil when
// an optional input has neither). It returns nil on a problem.
func (e *expander) inputValues(file string, use *yaml.Node, t *tmpl, chain []Site) map[string]*yaml.Node {
	values := map[string]*yaml.Node{}
	ok := true
	declared := func(name string) string {
		i := indexOf(t.inputs.Keys, name)
		if i < 0 {
			return fmt.Sprintf("%s:%d:%d", t.file, t.inputsPos.Line, t.inputsPos.Col)
		}
		return fmt.Sprintf("%s:%d:%d", t.file, t.inputs.Keys[i].Pos.Line, t.inputs.Keys[i].Pos.Col)
	}
	if with := mapValue(use, "with"); with != nil {
		if with.Kind != yaml.MappingNode {
			e.at(file, spec.PosOf(with), "with", "with must map input names to values")
			return nil
		}
		for i := 0; i+1 < len(with.Content); i += 2 {
			k, v := with.Content[i], with.Content[i+1]
			p, found := t.params[k.Value]
			if !found {
				names := sortedKeys(t.params)
				e.at(file, spec.PosOf(k), "with."+k.Value, "unknown input %q of template %s%s (its inputs: %s, declared at %s)",
					k.Value, t.file, suggest(k.Value, names), strings.Join(names, ", "), declared(k.Value))
				ok = false
				continue
			}
			if v.Kind == yaml.ScalarNode && strings.Contains(v.Value, "${{") {
				values[k.Value] = v // an expression: checked where the step uses it
				continue
			}
			if p.Secret {
				// A literal would be plan text, shown by zdu plan and kept
				// in every run's copy of the plan.
				e.at(file, spec.PosOf(v), "with."+k.Value, "input %s is secret (declared at %s): pass a secret param, ${{ params.NAME }}, not a value written in the plan", k.Value, declared(k.Value))
				ok = false
				continue
			}
			if _, err := ParseParamNode(p, v); err != nil {
				e.at(file, spec.PosOf(v), "with."+k.Value, "input %v (declared at %s as %s)", err, declared(k.Value), kindWord(p))
				ok = false
				continue
			}
			values[k.Value] = v
		}
	}
	for i, k := range t.inputs.Keys {
		if values[k.V] != nil {
			continue
		}
		if d := t.inputs.Values[i].Default.Node; d != nil {
			values[k.V] = d
			continue
		}
		if t.params[k.V].Required {
			e.at(file, chain[len(chain)-1].Pos, "with", "input %q is required by template %s (declared at %s)", k.V, t.file, declared(k.V))
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return values
}

func indexOf(keys []spec.Value[string], name string) int {
	for i, k := range keys {
		if k.V == name {
			return i
		}
	}
	return -1
}

// inputRE is an input inserted whole: ${{ inputs.NAME }}.
var inputRE = regexp.MustCompile(`\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// substitute fills in the inputs in a copy of a template step. A scalar
// that is one input whole takes the input's value as it is (a number, a
// list); inside a longer text an input is inserted as text.
func (e *expander) substitute(t *tmpl, n *yaml.Node, values map[string]*yaml.Node, chain []Site) {
	switch n.Kind {
	case yaml.MappingNode:
		// key: ${{ inputs.x }}, with x optional and given no value, is
		// left out: the key's own default applies.
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if m := inputRE.FindStringSubmatch(v.Value); v.Kind == yaml.ScalarNode && m != nil && m[0] == v.Value {
				if _, declared := t.params[m[1]]; declared && values[m[1]] == nil {
					continue
				}
			}
			e.substitute(t, v, values, chain)
			kept = append(kept, k, v)
		}
		n.Content = kept
		return
	case yaml.SequenceNode:
		for _, c := range n.Content {
			e.substitute(t, c, values, chain)
		}
		return
	case yaml.ScalarNode:
	default:
		return
	}
	if !strings.Contains(n.Value, "inputs.") {
		return
	}
	where := spec.PosOf(n)
	note := (&Origin{Chain: chain, Via: e.via}).note()
	bad := false
	check := func(name string) (*yaml.Node, bool) {
		if _, ok := t.params[name]; !ok {
			e.at(t.file, where, "", "unknown input %q%s (this template's inputs: %s)%s", name, suggest(name, sortedKeys(t.params)), strings.Join(sortedKeys(t.params), ", "), note)
			bad = true
			return nil, false
		}
		return values[name], true
	}
	if m := inputRE.FindStringSubmatch(n.Value); m != nil && m[0] == n.Value {
		v, ok := check(m[1])
		if !ok {
			return
		}
		line, col := n.Line, n.Column
		if v == nil {
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str"} // in a list: empty
		} else {
			*n = *deepCopy(v) // its own style: a quoted "200" stays a string
		}
		n.Line, n.Column = line, col
		return
	}
	out := inputRE.ReplaceAllStringFunc(n.Value, func(s string) string {
		v, ok := check(inputRE.FindStringSubmatch(s)[1])
		switch {
		case !ok || v == nil:
			return ""
		case v.Kind != yaml.ScalarNode:
			e.at(t.file, where, "", "input %q is a list: it can only be a whole value, not part of a text%s", inputRE.FindStringSubmatch(s)[1], note)
			bad = true
			return ""
		}
		return v.Value
	})
	if !bad && strings.Contains(out, "inputs.") && strings.Contains(out, "${{") {
		e.at(t.file, where, "", "an input is inserted whole, as ${{ inputs.NAME }}; it cannot be part of a larger expression%s", note)
	}
	n.Value, n.Tag = out, "!!str"
}

func deepCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, x := range n.Content {
			c.Content[i] = deepCopy(x)
		}
	}
	return &c
}
