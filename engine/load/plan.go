package load

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/schema"
	"github.com/zdu-dev/zdu/steps/step"
)

// ParsePlan loads a plan from its bytes. On problems it returns them all.
// Templates it uses are found beside it (see ParsePlanWith for a library).
func ParsePlan(file string, data []byte) (*Plan, []schema.Problem) {
	return ParsePlanWith(file, data, ParseOptions{})
}

// ParsePlanWith is ParsePlan with a template library.
func ParsePlanWith(file string, data []byte, opts ParseOptions) (*Plan, []schema.Problem) {
	probs := &Problems{File: file}
	doc, ps := schema.Decode(file, data)
	if len(ps) > 0 {
		return nil, Sorted(ps)
	}
	v, err := planValidator()
	if err != nil {
		probs.At(spec.Pos{Line: 1, Col: 1}, "", "internal: plan schema: %v", err)
		return nil, probs.List
	}
	schemaProbs := v.Validate(file, doc)
	res := &resolver{opts: opts}
	// Imports are merged first (the plan that comes out may use
	// templates). A plan that imports and has problems of shape says
	// them with what its imports name, and goes no further.
	var im *importer
	if hasImports(doc) {
		im = resolveImports(file, data, doc, res)
		if len(schemaProbs) > 0 || len(im.probs) > 0 {
			im.annotateSchema(schemaProbs)
			return nil, importProblems(schemaProbs, im.probs)
		}
	}
	// Templates are expanded in a plan of the right shape only; otherwise
	// their uses are left out, and the rest checked as before.
	var from func(*yaml.Node) *nodeFrom
	if im != nil {
		from = func(n *yaml.Node) *nodeFrom { return im.from[n] }
	}
	origins, tprobs := expandUses(file, doc, res, from, len(schemaProbs) > 0)
	if len(tprobs) > 0 {
		return nil, Sorted(append(schemaProbs, tprobs...))
	}
	if im != nil {
		im.origins(doc, origins)
	}
	sp, err := spec.DecodePlan(file, doc)
	if err != nil {
		if len(schemaProbs) > 0 {
			// The schema already said what is wrong with the shape.
			return nil, Sorted(schemaProbs)
		}
		probs.At(spec.Pos{Line: 1, Col: 1}, "", "%v", err)
		return nil, probs.List
	}
	src := newSource(data)
	b := &planBuilder{sp: sp, probs: probs, src: src, planSrc: src, origins: origins}
	p := b.build()
	if all := merge(schemaProbs, relocate(file, origins, probs.List)); len(all) > 0 {
		return nil, all
	}
	p.origins = origins
	p.Files = res.loaded
	return p, nil
}

// importProblems are the schema's problems and the imports', one per
// place: where both found one, the import's says more.
func importProblems(schemaProbs, importProbs []schema.Problem) []schema.Problem {
	at := map[string]bool{}
	for _, p := range importProbs {
		at[fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)] = true
	}
	out := append([]schema.Problem(nil), importProbs...)
	for _, p := range schemaProbs {
		if !at[fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)] {
			out = append(out, p)
		}
	}
	return Sorted(out)
}

// merge reports the schema's problems and, so that one validate run shows
// every mistake, the semantic ones on lines the schema did not flag (a line
// the schema refused may not have decoded into what the checks expect).
func merge(schemaProbs, semantic []schema.Problem) []schema.Problem {
	lines := map[int]bool{}
	for _, p := range schemaProbs {
		lines[p.Line] = true
	}
	out := append([]schema.Problem(nil), schemaProbs...)
	for _, p := range semantic {
		if !lines[p.Line] {
			out = append(out, p)
		}
	}
	return Sorted(out)
}

type planBuilder struct {
	sp    *spec.Plan
	probs *Problems
	src   *source
	kinds map[string]expr.Kind
	// registered is every register name seen so far, in plan order.
	registered map[string]bool
	// phaseTests are the names the current phase's when tests for.
	phaseTests []expr.Test
	// origins are the steps expanded from templates, and the parts of
	// imported plans, by path.
	origins map[string]*Origin
	// planSrc is the plan's own text (src is the text of the part being
	// built: a template's, an imported plan's).
	planSrc *source
}

func (b *planBuilder) build() *Plan {
	sp := b.sp
	p := &Plan{
		File: sp.File, Name: sp.Name.V, Description: sp.Description.V,
		Rollbacks: map[string][]*Step{}, RollbackExitCode: exitcode.Failed,
	}
	if sp.RollbackExitCode.Set {
		p.RollbackExitCode = sp.RollbackExitCode.V
		b.checkExitCode(sp.RollbackExitCode, "rollbackExitCode")
	}
	b.errorBudget(p)
	b.gates(p)
	p.Params = b.params()
	b.registered = map[string]bool{}
	seen := map[string]spec.Pos{}
	for i, sph := range sp.Phases {
		path := fmt.Sprintf("phases[%d]", i)
		if prev, dup := seen[sph.ID.V]; dup {
			b.probs.At(sph.ID.Pos, path+".id", "phase id %q is already used at line %d", sph.ID.V, prev.Line)
		}
		seen[sph.ID.V] = sph.ID.Pos
		ph := b.phase(path, sph)
		if o := b.origins[path]; o != nil && !o.own {
			ph.Origin = o
		}
		p.Phases = append(p.Phases, ph)
	}
	// Rollbacks see every result the plan registers: they run after a failure,
	// and a missing result is a run-time error for the step that reads it.
	for i, name := range sp.Rollbacks.Keys {
		_, order := b.steps(fmt.Sprintf("rollbacks.%s", name.V), sp.Rollbacks.Values[i], false)
		p.Rollbacks[name.V] = order
		p.RollbackOrder = append(p.RollbackOrder, name.V)
	}
	b.checkRollbackRefs(p)
	b.checkBudgetCode(p)
	return p
}

// scope is what an expression here may name. Results is the builder's own
// set, not a copy: expressions are compiled as the step is built, before it
// adds its own register name, and copying the set for every step made a
// plan's load quadratic in its steps.
func (b *planBuilder) scope(failure bool) expr.Scope {
	return expr.Scope{Params: b.kinds, Results: b.registered, Failure: failure, NoSuggestions: !b.probs.canSuggest()}
}

func (b *planBuilder) phase(path string, sph spec.Phase) *Phase {
	ph := &Phase{
		ID: sph.ID.V, Title: sph.Title.V, Targets: sph.Targets.Strings(), Strategy: sph.Strategy,
		ExitCode: exitcode.Failed, MaxFailures: sph.MaxFailures, Pos: sph.Pos, AllowEmpty: sph.AllowEmpty.V,
	}
	src := b.src
	defer func() { b.src = src }()
	b.src = b.srcAt(path + ".targets")
	for _, t := range sph.Targets.Items {
		// Where the name itself is: past a quote and a "!".
		col := 1
		if strings.HasPrefix(t.V, "!") {
			col = 2
		}
		ph.TargetAt = append(ph.TargetAt, b.src.inner(scalarOfValue(t), 1, col))
	}
	if ph.Title == "" {
		ph.Title = strings.ToUpper(strings.ReplaceAll(ph.ID, "_", "-"))
	}
	if !ph.Strategy.Set {
		ph.Strategy.Kind = spec.Serial
	}
	if ph.Strategy.Size.Set && ph.Strategy.Size.N == 0 {
		b.probs.At(ph.Strategy.Size.Pos, path+".strategy", "a %s size must be at least 1", ph.Strategy.Kind)
	}
	if ph.Strategy.Size.Percent && ph.Strategy.Size.N > 100 {
		b.probs.At(ph.Strategy.Size.Pos, path+".strategy", "a share of the nodes must be at most 100%%")
	}
	if sph.ExitCode.Set {
		ph.ExitCode = sph.ExitCode.V
		b.checkExitCode(sph.ExitCode, path+".exitCode")
	}
	if c := sph.Canary; c != nil {
		ph.Canary = &Canary{Nodes: c.Nodes, Pause: b.duration(c.Pause, path+".canary.pause"), Approve: c.Approve.V,
			Timeout: b.duration(c.Timeout, path+".canary.timeout"), Pos: c.Pos}
		if !c.Nodes.Set || c.Nodes.N == 0 {
			b.probs.At(c.Pos, path+".canary.nodes", "a canary needs at least one node (nodes: 1, or a share such as 10%%)")
		}
		if ph.Canary.Pause == 0 && !ph.Canary.Approve {
			b.probs.At(c.Pos, path+".canary", "a canary needs a pause (pause: 30s) or an approval (approve: true), or both")
		}
		if ph.Canary.Timeout == 0 {
			ph.Canary.Timeout = time.Hour
		}
	}
	b.src = b.srcAt(path + ".when")
	ph.When, ph.uses = b.cond(sph.When, path+".when", false)
	b.src = src
	b.phaseTests = ph.When.Tests()
	ph.Steps, ph.Order = b.steps(path+".steps", sph.Steps, true)
	b.phaseTests = nil
	return ph
}

func (b *planBuilder) checkExitCode(v spec.Value[int], path string) {
	switch {
	case v.V < 1 || v.V > 125:
		b.probs.At(v.Pos, path, "exit code %d is outside 1-125", v.V)
	default:
		if why, ok := exitcode.Reserved(v.V); ok {
			b.probs.At(v.Pos, path, "exit code %d is reserved (zdu's own for %s)", v.V, why)
		}
	}
}

// cond compiles a boolean expression and says what it reads, recording a
// problem at its position.
func (b *planBuilder) cond(v spec.Value[string], path string, failure bool) (*expr.Expr, []use) {
	if !v.Set {
		return nil, nil
	}
	sc := b.scope(failure)
	e, err := expr.CompileCond(v.V, sc)
	if err != nil {
		b.src.problem(b.probs, sc, scalarOfValue(v), path, err)
		return nil, nil
	}
	return e, b.src.uses(scalarOfValue(v), path, e.Refs())
}

func (b *planBuilder) duration(v spec.Value[string], path string) time.Duration {
	if !v.Set {
		return 0
	}
	d, err := time.ParseDuration(v.V)
	if err != nil || d < 0 {
		b.probs.At(v.Pos, path, "%q is not a duration (use Go syntax: 500ms, 30s, 5m)", v.V)
		return 0
	}
	return d
}

// steps builds one list of steps (a phase's or a rollback's) and checks ids,
// needs and their cycles.
// steps builds one list of steps (a phase's or a rollback's) and returns
// it in file order and in execution order: file order, except where needs
// require a step to come later. The steps are built in execution order, so
// an expression sees the results registered by the steps that run before it.
func (b *planBuilder) steps(path string, list []spec.Step, inPhase bool) (file, order []*Step) {
	ids := map[string]int{}
	for i, ss := range list {
		if prev, dup := ids[ss.ID.V]; dup {
			b.probs.At(ss.ID.Pos, fmt.Sprintf("%s[%d].id", path, i), "step id %q is already used at line %d", ss.ID.V, list[prev].ID.Pos.Line)
			continue
		}
		ids[ss.ID.V] = i
	}
	file = make([]*Step, len(list))
	order = make([]*Step, 0, len(list))
	for _, i := range b.order(path, list, ids) {
		file[i] = b.fromOrigin(fmt.Sprintf("%s[%d]", path, i), list[i], inPhase)
		order = append(order, file[i])
	}
	return file, order
}

// fromOrigin builds a step; one expanded from a template is read against
// the template's text, where its positions are.
func (b *planBuilder) fromOrigin(path string, ss spec.Step, inPhase bool) *Step {
	o := b.origins[path]
	if o == nil {
		return b.step(path, ss, inPhase)
	}
	src := b.src
	b.src = o.src
	st := b.step(path, ss, inPhase)
	b.src = src
	if !o.own {
		st.Origin = o
	}
	return st
}

// srcAt is the text a part of the plan is written in: the plan's, or an
// imported plan's.
func (b *planBuilder) srcAt(path string) *source {
	if o, _ := originOf(b.origins, path); o != nil && o.src != nil {
		return o.src
	}
	return b.planSrc
}

func (b *planBuilder) step(path string, ss spec.Step, inPhase bool) *Step {
	st := &Step{
		ID: ss.ID.V, Type: ss.Type.V, Name: ss.Name.V, Pos: ss.Pos,
		NeedsSet: ss.Needs.Set, Needs: ss.Needs.Strings(), ContinueOnError: ss.ContinueOnError.V,
	}
	if st.Name == "" {
		st.Name = st.ID
	}
	var uses []use
	if ss.When.Set {
		st.Expressions++
	}
	if strings.Contains(ss.Timeout.V, "${{") {
		// A duration param: resolved per node when the step runs.
		sc := b.scope(false)
		t, err := expr.CompileTemplate(ss.Timeout.V, expr.Text, sc)
		if err != nil {
			b.src.problem(b.probs, sc, scalarOfValue(ss.Timeout), path+".timeout", err)
		} else {
			uses = b.src.uses(scalarOfValue(ss.Timeout), path+".timeout", t.Refs())
			st.Expressions += t.Expressions()
		}
		st.TimeoutFrom = t
	} else {
		st.Timeout = b.duration(ss.Timeout, path+".timeout")
	}
	st.Retries = Retries{Count: ss.Retries.Count.V, Delay: time.Second, Backoff: 1}
	if ss.Retries.Delay.Set {
		st.Retries.Delay = b.duration(ss.Retries.Delay, path+".retries.delay")
	}
	if ss.Retries.Backoff.Set {
		st.Retries.Backoff = ss.Retries.Backoff.V
		if st.Retries.Backoff < 1 {
			b.probs.At(ss.Retries.Backoff.Pos, path+".retries.backoff", "backoff must be at least 1")
		}
	}
	def, ok := step.Lookup(st.Type)
	st.Secret = ss.Secret.V
	st.Idempotent = def.Idempotent
	if ss.Idempotent.Set {
		st.Idempotent = ss.Idempotent.V
	}
	if !ok {
		b.probs.At(ss.Type.Pos, path+".type", "unknown step type %q%s", st.Type, suggest(st.Type, step.Types()))
		return st
	}
	a := &args{with: ss.With.Node, pos: ss.Pos, path: path + ".with", scope: b.scope(false), src: b.src, probs: b.probs}
	st.Action = def.Build(a)
	st.LBs, st.Nodes, st.checks = a.lbs, a.nodes, a.checks
	st.Disrupts, st.DisruptsWhy = disrupts(def, st.Action, ss.Disrupts)
	st.Expressions += a.exprs
	uses = append(uses, a.uses...)
	// A step type that arms rollback rules is known by its ability, not its
	// name; its `when` looks at the failure, other steps' at the node.
	rule, isRule := st.Action.(step.RollbackRuler)
	if isRule && !inPhase {
		b.probs.At(ss.Type.Pos, path+".type", "%s arms a rollback rule: it belongs in a phase, not in a rollback", st.Type)
	}
	when, whenUses := b.cond(ss.When, path+".when", isRule)
	st.uses = guard(append(uses, whenUses...), b.phaseTests, when.Tests())
	if isRule {
		st.Rollback = &RollbackRule{RollbackRule: rule.RollbackRule(), When: when}
	} else {
		st.When = when
	}
	if ss.Register.Set {
		st.Register = ss.Register.V
		b.registered[st.Register] = true
	}
	return st
}

// guard strengthens the uses of names that a condition tests for (a step's
// or its phase's when: '"x" in vars', 'vars.x != nil'): the step runs only
// where the test holds.
func guard(uses []use, tests ...[]expr.Test) []use {
	for _, list := range tests {
		for _, t := range list {
			for i := range uses {
				if uses[i].Key() == t.Key {
					uses[i].Guard = max(uses[i].Guard, t.Guard)
				}
			}
		}
	}
	return uses
}

// order resolves `needs` within one list, the only place the needs graph
// is built, and returns the list's indices in execution order: a step
// without needs follows the one before it in the file; `needs: [a, b]`
// makes it follow a and b instead (`needs: []`, nothing). A cycle (through
// needs or the implicit order) is a problem, and the file order is kept.
func (b *planBuilder) order(path string, list []spec.Step, ids map[string]int) []int {
	g := new(dag.Graph)
	for _, ss := range list {
		g.Add(vertex(ss.ID.V)) // a repeated id is refused here and reported above
	}
	prev := -1
	for i, ss := range list {
		if ids[ss.ID.V] != i {
			continue // a repeated id, reported above
		}
		if !ss.Needs.Set {
			if prev >= 0 {
				g.Connect(list[prev].ID.V, ss.ID.V)
			}
			prev = i
			continue
		}
		prev = i
		for _, n := range ss.Needs.Items {
			switch _, ok := ids[n.V]; {
			case !ok:
				b.probs.At(n.Pos, fmt.Sprintf("%s[%d].needs", path, i), "needs %q, which is not a step here%s", n.V, b.probs.suggest(n.V, func() []string { return sortedKeys(ids) }))
			case n.V == ss.ID.V:
				b.probs.At(n.Pos, fmt.Sprintf("%s[%d].needs", path, i), "step %q needs itself", n.V)
			default:
				g.Connect(n.V, ss.ID.V)
			}
		}
	}
	fileOrder := make([]int, len(list))
	for i := range list {
		fileOrder[i] = i
	}
	if cycles := g.Cycles(); len(cycles) > 0 {
		for _, cyc := range cycles {
			names := make([]string, len(cyc))
			for i, v := range cyc {
				names[i] = v.ID()
			}
			// At the step that starts it: a step's path places it in the
			// file that wrote the step (a template, an imported plan).
			b.probs.At(list[ids[names[0]]].ID.Pos, fmt.Sprintf("%s[%d]", path, ids[names[0]]), "needs form a cycle: %s -> %s", strings.Join(names, " -> "), names[0])
		}
		return fileOrder
	}
	topo := g.TopoOrder()
	if len(topo) != len(list) {
		return fileOrder // repeated ids, already reported
	}
	out := make([]int, len(topo))
	for k, v := range topo {
		out[k] = ids[v.ID()]
	}
	return out
}

// checkRollbackRefs makes sure every rollback-on rule names a rollback.
func (b *planBuilder) checkRollbackRefs(p *Plan) {
	for i, sph := range b.sp.Phases {
		for j, ss := range sph.Steps {
			st := p.Phases[i].Steps[j]
			if st.Rollback == nil || st.Rollback.Rollback == "" {
				continue // no rule, or a name already reported as not written out
			}
			if _, ok := p.Rollbacks[st.Rollback.Rollback]; !ok {
				pos := ss.Pos
				if k := withValue(ss.With.Node, "rollback"); k != nil {
					pos = spec.PosOf(k)
				}
				b.probs.At(pos, fmt.Sprintf("phases[%d].steps[%d].with.rollback", i, j),
					"no rollback named %q in rollbacks%s", st.Rollback.Rollback, b.probs.suggest(st.Rollback.Rollback, func() []string { return p.RollbackOrder }))
			}
		}
	}
}

func withValue(with *yaml.Node, key string) *yaml.Node {
	if with == nil || with.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(with.Content); i += 2 {
		if with.Content[i].Value == key {
			return with.Content[i+1]
		}
	}
	return nil
}

type vertex string

func (v vertex) ID() string { return string(v) }

func suggest(name string, candidates []string) string {
	if s := schema.Suggest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}
