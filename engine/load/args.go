package load

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/steps/step"
)

// args gives a step type its `with` block. Each accessor compiles what it
// reads and records problems at the exact position of the value.
type args struct {
	with  *yaml.Node // mapping, or nil when absent
	pos   spec.Pos   // the step's position, for problems about absent keys
	path  string     // e.g. phases[1].steps[0].with
	scope expr.Scope
	src   *source
	probs *Problems
	lbs   []ref
	nodes []ref
	// uses are what the compiled expressions read.
	uses []use
	// checks are the templates whose values a step type vets.
	checks []checked
	// exprs counts the expressions compiled: the interpolations the step
	// evaluates on each node.
	exprs int
}

var _ step.Args = (*args)(nil)

func (a *args) lookup(key string) (k, v *yaml.Node) {
	if a.with == nil || a.with.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(a.with.Content); i += 2 {
		if a.with.Content[i].Value == key {
			return a.with.Content[i], a.with.Content[i+1]
		}
	}
	return nil, nil
}

func (a *args) at(key string) string { return a.path + "." + key }

func (a *args) Errorf(key, format string, args ...any) {
	pos := a.pos
	if k, v := a.lookup(key); v != nil {
		pos = spec.PosOf(v)
		_ = k
	} else if a.with != nil {
		pos = spec.PosOf(a.with)
	}
	a.probs.At(pos, a.at(key), format, args...)
}

func (a *args) Has(key string) bool { _, v := a.lookup(key); return v != nil }

func (a *args) scalar(key string, required bool) (*yaml.Node, *yaml.Node, bool) {
	k, v := a.lookup(key)
	if v == nil {
		if required {
			a.Errorf(key, "missing required key %q", key)
		}
		return nil, nil, false
	}
	if v.Kind != yaml.ScalarNode {
		a.Errorf(key, "must be a single value, not a %s", kindName(v))
		return nil, nil, false
	}
	return k, v, true
}

func (a *args) Shell(key string, required bool) step.Template {
	return a.tmpl(key, required, expr.Shell)
}
func (a *args) Text(key string, required bool) step.Template { return a.tmpl(key, required, expr.Text) }

func (a *args) tmpl(key string, required bool, mode expr.Mode) step.Template {
	_, v, ok := a.scalar(key, required)
	if !ok {
		return expr.Zero()
	}
	return a.compile(v, a.at(key), mode)
}

func (a *args) compile(v *yaml.Node, path string, mode expr.Mode) step.Template {
	t, err := expr.CompileTemplate(v.Value, mode, a.scope)
	if err != nil {
		a.src.problem(a.probs, a.scope, scalarOf(v), path, err)
		return expr.Constant(v.Value)
	}
	a.uses = append(a.uses, a.src.uses(scalarOf(v), path, t.Refs())...)
	a.exprs += t.Expressions()
	return t
}

func (a *args) Texts(key string) []step.Template { return a.texts(key, nil) }

func (a *args) texts(key string, check step.ValueCheck) []step.Template {
	_, v := a.lookup(key)
	if v == nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode {
		return []step.Template{a.vet(a.compile(v, a.at(key), expr.Text), v, a.at(key), check)}
	}
	if v.Kind != yaml.SequenceNode {
		a.Errorf(key, "must be a string or a list of strings")
		return nil
	}
	out := make([]step.Template, 0, len(v.Content))
	for i, item := range v.Content {
		path := fmt.Sprintf("%s[%d]", a.at(key), i)
		out = append(out, a.vet(a.compile(item, path, expr.Text), item, path, check))
	}
	return out
}

func (a *args) Checked(key string, required bool, check step.ValueCheck) step.Template {
	_, v, ok := a.scalar(key, required)
	if !ok {
		return expr.Zero()
	}
	return a.vet(a.compile(v, a.at(key), expr.Text), v, a.at(key), check)
}

func (a *args) CheckedTexts(key string, check step.ValueCheck) []step.Template {
	return a.texts(key, check)
}

// vet gives a compiled template its value check, and keeps it for the
// check at bind time of the values already known then (see checkValues).
func (a *args) vet(t step.Template, v *yaml.Node, path string, check step.ValueCheck) step.Template {
	et, ok := t.(*expr.Template)
	if check == nil || !ok {
		return t
	}
	et.WithCheck(check)
	if !et.IsConstant() {
		a.checks = append(a.checks, checked{t: et, v: scalarOf(v), path: path, src: a.src})
	}
	return et
}

func (a *args) Expr(key string, extra ...string) step.Expr {
	_, v, ok := a.scalar(key, false)
	if !ok {
		return nil
	}
	sc := a.scope
	sc.Extra = append(append([]string(nil), sc.Extra...), extra...)
	e, err := expr.CompileValue(v.Value, sc)
	if err != nil {
		a.src.problem(a.probs, sc, scalarOf(v), a.at(key), err)
		return nil
	}
	a.uses = append(a.uses, a.src.uses(scalarOf(v), a.at(key), e.Refs())...)
	a.exprs++
	return e
}

func (a *args) Duration(key string, def time.Duration) time.Duration {
	_, v, ok := a.scalar(key, false)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil || d < 0 {
		a.Errorf(key, "%q is not a duration (use Go syntax: 500ms, 30s, 5m)", v.Value)
		return def
	}
	return d
}

func (a *args) Int(key string, def int) int {
	_, v, ok := a.scalar(key, false)
	if !ok {
		return def
	}
	i, err := strconv.Atoi(v.Value)
	if err != nil {
		a.Errorf(key, "%q is not an integer", v.Value)
		return def
	}
	return i
}

func (a *args) Bool(key string, def bool) bool {
	_, v, ok := a.scalar(key, false)
	if !ok {
		return def
	}
	var b bool
	if err := v.Decode(&b); err != nil {
		a.Errorf(key, "%q is not true or false", v.Value)
		return def
	}
	return b
}

func (a *args) Enum(key string, allowed ...string) string {
	_, v, ok := a.scalar(key, false)
	if !ok {
		return allowed[0]
	}
	for _, s := range allowed {
		if v.Value == s {
			return s
		}
	}
	a.Errorf(key, "%q is not one of %s%s", v.Value, strings.Join(allowed, ", "), suggest(v.Value, allowed))
	return allowed[0]
}

func (a *args) LB(key string, required bool) string {
	name := a.literal(key, required, "a load balancer name")
	if name != "" {
		_, v := a.lookup(key)
		a.lbs = append(a.lbs, ref{Name: name, Pos: a.src.name(scalarOf(v)), Path: a.at(key)})
	}
	return name
}

func (a *args) Node(key string) string {
	name := a.literal(key, false, "a node name")
	if name != "" {
		_, v := a.lookup(key)
		a.nodes = append(a.nodes, ref{Name: name, Pos: a.src.name(scalarOf(v)), Path: a.at(key)})
	}
	return name
}

func (a *args) Literal(key string, required bool) string {
	return a.literal(key, required, "this value")
}

// literal reads a value that names something and so must be written out:
// an interpolation there is refused rather than taken as text.
func (a *args) literal(key string, required bool, what string) string {
	_, v, ok := a.scalar(key, required)
	if !ok {
		return ""
	}
	if strings.Contains(v.Value, "${{") {
		a.Errorf(key, "%s must be written out, not interpolated", what)
		return ""
	}
	return v.Value
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}
