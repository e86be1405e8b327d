package load

import (
	"fmt"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/schema"
)

// Templates (kind: Template) are expanded at load time: a step written
// `uses: FILE` with `with:` inputs is replaced, in the plan's YAML, by the
// template's steps with every ${{ inputs.NAME }} filled in and each id
// prefixed with the use's id ("restart" + "stop" = "restart.stop"). What
// comes out is an ordinary plan: the builder, compile, graph and run do not
// know templates existed, except that each expanded step keeps its Origin
// so that problems and the dry run can point into the template.

// MaxTemplateSize bounds a template file, like a plan.
const MaxTemplateSize = 4 << 20

// Bounds on what templates expand to: a template that uses another twice,
// nested, doubles at each level.
const (
	maxTemplateDepth = 16
	maxExpandedSteps = 10000
)

// Site is where a template is used: the file and place of the `uses` step,
// and its id.
type Site struct {
	File string
	Pos  spec.Pos
	ID   string
	// Uses is the template as the use names it (lib/lb-drain.yaml).
	Uses string
}

// Origin says where an expanded step was written: the template file and
// the step's place in it, and the chain of uses that brought it into the
// plan, outermost first.
//
// A step, phase or param that came from an imported plan has an Origin too:
// the imported file and place, no Chain, and in Via the imports that
// brought it (outermost first); a template used in an imported phase has
// both.
type Origin struct {
	File  string
	Pos   spec.Pos
	Chain []Site
	Via   []Site
	src   *source
	path  string // its path in File, for problems
	// own: written in the plan itself, but placed where its path in the
	// plan differs (a step added to an imported phase).
	own bool
}

func (o *Origin) String() string { return fmt.Sprintf("%s:%d", o.File, o.Pos.Line) }

// note is appended to a problem inside a template or an imported plan:
// where it is used, and imported.
func (o *Origin) note() string {
	var b strings.Builder
	for i := range o.Chain {
		s := o.Chain[len(o.Chain)-1-i]
		sep := ", used at "
		if i == 0 {
			sep = "; used at "
		}
		fmt.Fprintf(&b, "%s%s:%d:%d (%s)", sep, s.File, s.Pos.Line, s.Pos.Col, s.ID)
	}
	b.WriteString(viaNote(o.Via))
	return b.String()
}

// viaNote says through which imports something came, innermost first.
func viaNote(via []Site) string {
	var b strings.Builder
	for i := range via {
		s := via[len(via)-1-i]
		fmt.Fprintf(&b, "; imported at %s:%d:%d (%s)", s.File, s.Pos.Line, s.Pos.Col, s.Uses)
	}
	return b.String()
}

// tmpl is a loaded template file.
type tmpl struct {
	file   string
	dir    string
	src    *source
	inputs spec.Map[spec.Param]
	// params are the inputs as typed params, by name.
	params    map[string]Param
	inputsPos spec.Pos
	steps     *yaml.Node
	ok        bool
	readErr   error
}

type expander struct {
	res *resolver
	// from says which file wrote a step the plan imported (nil: the plan).
	from    func(*yaml.Node) *nodeFrom
	probs   []schema.Problem
	origins map[string]*Origin
	cache   map[string]*tmpl
	count   int
	drop    bool
	// via are the imports that brought the use being expanded.
	via []Site
}

// expandUses replaces every use in the plan document's phases and
// rollbacks by the template's steps, and returns the origin of each
// expanded step by its path (phases[0].steps[3], rollbacks.NAME[1]).
// With drop, uses are only removed (the plan has other problems).
func expandUses(file string, doc *yaml.Node, res *resolver, from func(*yaml.Node) *nodeFrom, drop bool) (map[string]*Origin, []schema.Problem) {
	if from == nil {
		from = func(*yaml.Node) *nodeFrom { return nil }
	}
	e := &expander{res: res, from: from, origins: map[string]*Origin{}, cache: map[string]*tmpl{}, drop: drop}
	root := doc
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, nil
	}
	dir := filepath.Dir(file)
	if phases := mapValue(root, "phases"); phases != nil && phases.Kind == yaml.SequenceNode {
		for i, ph := range phases.Content {
			if list := mapValue(ph, "steps"); list != nil && list.Kind == yaml.SequenceNode {
				e.expandTop(fmt.Sprintf("phases[%d].steps", i), file, dir, list)
			}
		}
	}
	if rbs := mapValue(root, "rollbacks"); rbs != nil && rbs.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(rbs.Content); i += 2 {
			if list := rbs.Content[i+1]; list.Kind == yaml.SequenceNode {
				e.expandTop("rollbacks."+rbs.Content[i].Value, file, dir, list)
			}
		}
	}
	return e.origins, e.probs
}

func (e *expander) expandTop(path, file, dir string, list *yaml.Node) {
	var out []*yaml.Node
	for _, st := range list.Content {
		if mapValue(st, "uses") == nil {
			out = append(out, st)
			continue
		}
		if e.drop {
			continue
		}
		useFile, useDir, via := file, dir, []Site(nil)
		if f := e.from(st); f != nil {
			useFile, useDir, via = f.file, filepath.Dir(f.file), f.via
		}
		e.via = via
		for _, x := range e.expand(useFile, useDir, st, nil, nil) {
			x.origin.Via = via
			e.origins[fmt.Sprintf("%s[%d]", path, len(out))] = x.origin
			out = append(out, x.node)
		}
	}
	list.Content = out
}

type expanded struct {
	node   *yaml.Node
	origin *Origin
}

// expand returns the steps a use stands for. chain is the uses it is
// inside (outermost first), seen the template files along it.
func (e *expander) expand(file, dir string, use *yaml.Node, chain []Site, seen []string) []expanded {
	usesNode := mapValue(use, "uses")
	idNode := mapValue(use, "id")
	site := Site{File: file, Pos: spec.PosOf(use), ID: ""}
	if idNode != nil {
		site.ID = idNode.Value
	}
	for i := 0; i+1 < len(use.Content); i += 2 {
		switch k := use.Content[i]; k.Value {
		case "id", "uses", "with":
		default:
			e.at(file, spec.PosOf(k), "", "a step that uses a template takes only id, uses and with, not %s", k.Value)
		}
	}
	site.Uses = usesNode.Value
	if site.ID == "" || usesNode.Kind != yaml.ScalarNode || usesNode.Value == "" {
		if site.ID == "" {
			e.at(file, site.Pos, "", "a step that uses a template needs an id (its steps' ids start with it)")
		}
		return nil
	}
	if len(chain) >= maxTemplateDepth {
		e.at(file, spec.PosOf(usesNode), "", "templates nest more than %d deep", maxTemplateDepth)
		return nil
	}
	path, ok := e.res.find(dir, usesNode.Value)
	if !ok {
		e.at(file, spec.PosOf(usesNode), "", "template %q not found beside %s%s", usesNode.Value, file, e.res.lookedIn())
		return nil
	}
	abs, _ := filepath.Abs(path)
	for i, s := range seen {
		if s == abs {
			// Template seen[k] is written in chain[k+1].File, the last in file.
			var names []string
			for k := i; k < len(seen); k++ {
				if k+1 < len(chain) {
					names = append(names, chain[k+1].File)
				} else {
					names = append(names, file)
				}
			}
			names = append(names, path)
			e.at(file, spec.PosOf(usesNode), "", "templates use each other in a cycle: %s%s", strings.Join(names, " -> "), (&Origin{Chain: chain, Via: e.via}).note())
			return nil
		}
	}
	t := e.load(path)
	if t.readErr != nil {
		e.at(file, spec.PosOf(usesNode), "", "cannot read template %s: %v", path, unwrapPathErr(t.readErr))
		return nil
	}
	if !t.ok {
		return nil
	}
	chain = append(append([]Site(nil), chain...), site)
	seen = append(append([]string(nil), seen...), abs)
	values := e.inputValues(file, use, t, chain)
	if values == nil {
		return nil
	}
	var out []expanded
	for k, st := range t.steps.Content {
		c := deepCopy(st)
		e.substitute(t, c, values, chain)
		if mapValue(c, "uses") != nil {
			for _, x := range e.expand(t.file, t.dir, c, chain, seen) {
				e.prefix(x.node, site.ID)
				out = append(out, x)
			}
			continue
		}
		e.count++
		if e.count > maxExpandedSteps {
			e.at(file, spec.PosOf(usesNode), "", "templates expand to more than %d steps", maxExpandedSteps)
			return nil
		}
		if !e.checkStep(t, c, chain) {
			continue
		}
		e.prefix(c, site.ID)
		out = append(out, expanded{node: c, origin: &Origin{File: t.file, Pos: spec.PosOf(st), Chain: chain, src: t.src, path: fmt.Sprintf("steps[%d]", k)}})
	}
	return out
}

// prefix names a template's step after its use, and its needs (which name
// steps of the same template) too.
func (e *expander) prefix(st *yaml.Node, id string) {
	if n := mapValue(st, "id"); n != nil {
		n.Value = id + "." + n.Value
	}
	if needs := mapValue(st, "needs"); needs != nil && needs.Kind == yaml.SequenceNode {
		for _, n := range needs.Content {
			n.Value = id + "." + n.Value
		}
	}
}

func (e *expander) at(file string, pos spec.Pos, path, format string, args ...any) {
	e.probs = append(e.probs, schema.Problem{File: file, Line: pos.Line, Col: pos.Col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// load reads, checks and caches a template file. Its problems are reported once.
func (e *expander) load(path string) *tmpl {
	if t, ok := e.cache[path]; ok {
		return t
	}
	t := &tmpl{file: path, dir: filepath.Dir(path), params: map[string]Param{}}
	e.cache[path] = t
	data, err := e.res.read(path, MaxTemplateSize)
	if err != nil {
		t.readErr = err
		return t
	}
	t.src = newSource(data)
	doc, ps := schema.Decode(path, data)
	if len(ps) > 0 {
		e.probs = append(e.probs, ps...)
		return t
	}
	v, err := templateValidator()
	if err != nil {
		e.at(path, spec.Pos{Line: 1, Col: 1}, "", "internal: template schema: %v", err)
		return t
	}
	if ps := v.Validate(path, doc); len(ps) > 0 {
		e.probs = append(e.probs, ps...)
		return t
	}
	root := doc
	if root.Kind == yaml.DocumentNode {
		root = root.Content[0]
	}
	if in := mapValue(root, "inputs"); in != nil {
		t.inputsPos = spec.PosOf(in)
		if err := in.Decode(&t.inputs); err != nil {
			e.at(path, t.inputsPos, "inputs", "%v", err)
			return t
		}
	}
	pb := &planBuilder{sp: &spec.Plan{Params: t.inputs}, probs: &Problems{File: path}}
	for _, p := range pb.params() {
		t.params[p.Name] = p
	}
	for i, in := range t.inputs.Values {
		name := t.inputs.Keys[i].V
		if in.Env.Set {
			pb.probs.At(in.Env.Pos, "inputs."+name+".env", "env is for a plan's params: an input's value comes from the use's with")
		}
		if in.Secret.V && in.Default.Node != nil {
			pb.probs.At(spec.PosOf(in.Default.Node), "inputs."+name+".default", "a secret input takes no default: its value comes from a secret param")
		}
	}
	e.probs = append(e.probs, pb.probs.List...)
	t.steps = mapValue(root, "steps")
	t.ok = len(pb.probs.List) == 0 && t.steps != nil
	return t
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// relocate moves the problems found in expanded steps into their template
// file, noting where the template is used.
func relocate(file string, origins map[string]*Origin, ps []schema.Problem) []schema.Problem {
	if len(origins) == 0 {
		return ps
	}
	for i, p := range ps {
		if p.File != file {
			continue
		}
		if o, rest := originOf(origins, p.Path); o != nil {
			ps[i].File, ps[i].Path = o.File, o.path+rest
			ps[i].Msg += o.note()
		}
	}
	return ps
}

// originOf finds the expanded step a problem's path is in, and the rest
// of the path inside the step (".with.lb").
func originOf(origins map[string]*Origin, path string) (*Origin, string) {
	for step := path; ; {
		if o, ok := origins[step]; ok {
			return o, path[len(step):]
		}
		i := strings.LastIndexAny(step, ".[")
		if i <= 0 {
			return nil, ""
		}
		step = step[:i]
	}
}

// checkStep checks one template step, its inputs filled in, against the
// plan's step schema; its problems are in the template, noting the use.
func (e *expander) checkStep(t *tmpl, st *yaml.Node, chain []Site) bool {
	v, err := templateStepValidator()
	if err != nil {
		e.at(t.file, spec.PosOf(st), "", "internal: step schema: %v", err)
		return false
	}
	ps := v.Validate(t.file, st)
	note := (&Origin{Chain: chain, Via: e.via}).note()
	for i := range ps {
		ps[i].Msg += note
	}
	e.probs = append(e.probs, ps...)
	return len(ps) == 0
}
