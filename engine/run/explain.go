package run

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/gate"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/mask"
	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

// DryPlan is what `zdu plan` shows: every phase, node and step in execution
// order, with the exact commands, socket lines and waits, secrets masked.
type DryPlan struct {
	Plan string `json:"plan"`
	// Gates are the plan's live gates, as text (none: empty).
	Gates     string        `json:"gates,omitempty"`
	Phases    []DryPhase    `json:"phases"`
	Rollbacks []DryRollback `json:"rollbacks,omitempty"`
}

// DryPhase is one phase of a dry run.
type DryPhase struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Strategy string `json:"strategy"`
	ExitCode int    `json:"exitCode"`
	When     string `json:"when,omitempty"`
	// Origin is FILE:LINE of the plan a phase was imported from.
	Origin string    `json:"origin,omitempty"`
	Nodes  []DryNode `json:"nodes"`
}

// DryNode is one node's steps in a phase.
type DryNode struct {
	Name  string `json:"name"`
	Batch int    `json:"batch"`
	// Skipped says why the node sits the phase out (its when is false there).
	Skipped string    `json:"skipped,omitempty"`
	Steps   []DryStep `json:"steps"`
}

// DryStep is one step: its type, condition, and what it would do.
type DryStep struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	When    string `json:"when,omitempty"`
	Timeout string `json:"timeout,omitempty"`
	Retries int    `json:"retries,omitempty"`
	// Origin is FILE:LINE of the template a step was expanded from.
	Origin string `json:"origin,omitempty"`
	// Skipped says why the step does not run on this node (its when is
	// false); Actions is then empty.
	Skipped string   `json:"skipped,omitempty"`
	Actions []string `json:"actions"`
}

// whenFalse is why a dry-run step or node is skipped.
const whenFalse = "its when is false on this node"

// DryRollback is a rollback's steps as they would run on Node, the first
// node a rule for it may arm on (none: no rollback-on rule names it, so it
// never runs and no steps are shown).
type DryRollback struct {
	Name  string    `json:"name"`
	Node  string    `json:"node,omitempty"`
	Steps []DryStep `json:"steps"`
}

// Explain builds the dry run from the program's graph: each (phase, node,
// step) vertex in the graph's order, grouped by phase and node. Conditions
// are decided per node as the run decides them, except those that read
// registered results: those values only exist at run time, so their steps
// are shown with placeholders (<stdout-of-NAME>).
func Explain(p *compile.Program, mask *mask.Masker) (*DryPlan, error) {
	b := p.Binding
	out := &DryPlan{Plan: b.Plan.Name, Gates: gatesText(b.Plan)}
	registered := registeredNames(b.Plan)
	for _, ph := range p.Phases {
		dp := DryPhase{ID: ph.ID, Title: ph.Title, Strategy: strategyText(ph), ExitCode: ph.ExitCode, Nodes: []DryNode{}}
		if ph.When != nil {
			dp.When = ph.When.Source()
		}
		if ph.Origin != nil {
			dp.Origin = ph.Origin.String()
		}
		out.Phases = append(out.Phases, dp)
	}
	var (
		errs []error
		dn   *DryNode
		env  *expr.Env
	)
	for _, vx := range p.Graph.Vertices() {
		v, ok := vx.(*compile.StepVertex)
		if !ok {
			continue // barriers do nothing to explain
		}
		n, where := v.Node, fmt.Sprintf("phase %s, node %s", v.Phase.ID, v.Node.Name)
		if v.First {
			dp := &out.Phases[v.Phase.Index]
			dp.Nodes = append(dp.Nodes, DryNode{Name: n.Name, Batch: v.Batch, Steps: []DryStep{}})
			dn = &dp.Nodes[len(dp.Nodes)-1]
			env = dryEnv(b, n, v.Phase.ID, registered)
			if run, err := dryDecide(v.Phase.When, env); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: when: %w", at(b, v.Phase.Pos), where, err))
			} else if !run {
				dn.Skipped = whenFalse
			}
		}
		if dn.Skipped != "" {
			continue
		}
		ds, err := explainStep(b, n, v.Step, env, mask)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s, step %s: %w", at(b, v.Step.Pos), where, v.Step.ID, err))
		}
		dn.Steps = append(dn.Steps, ds)
	}
	for _, name := range b.Plan.RollbackOrder {
		dr := DryRollback{Name: name, Steps: []DryStep{}}
		if n, phase := rollbackExample(p, name); n != nil {
			dr.Node = n.Name
			env := dryEnv(b, n, phase, registered).WithFailure(expr.FailureData{Phase: phase, Node: n.Name, Message: "<failure>"})
			for _, s := range b.Plan.Rollbacks[name] {
				ds, err := explainStep(b, n, s, env, mask)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: rollback %s, node %s, step %s: %w", at(b, s.Pos), name, n.Name, s.ID, err))
				}
				dr.Steps = append(dr.Steps, ds)
			}
		}
		out.Rollbacks = append(out.Rollbacks, dr)
	}
	return out, errors.Join(errs...)
}

// at names the plan file and the place of a phase or step in it, so that a
// problem found while explaining (a value that fails for one node, an
// expression over its budget) points at what to edit.
func at(b *load.Binding, pos spec.Pos) string {
	return fmt.Sprintf("%s:%d:%d", b.Plan.File, pos.Line, pos.Col)
}

// registeredNames are the register names of every step, in phases and in
// rollbacks: the dry run shows each as a placeholder.
func registeredNames(p *load.Plan) map[string]bool {
	out := map[string]bool{}
	add := func(steps []*load.Step) {
		for _, s := range steps {
			if s.Register != "" {
				out[s.Register] = true
			}
		}
	}
	for _, ph := range p.Phases {
		add(ph.Steps)
	}
	for _, steps := range p.Rollbacks {
		add(steps)
	}
	return out
}

// rollbackExample is the node and phase a rollback is shown for: the first
// target of the first phase whose rollback-on rule names it.
func rollbackExample(p *compile.Program, name string) (*load.Node, string) {
	for _, ph := range p.Phases {
		for _, s := range ph.Steps {
			if s.Rollback != nil && s.Rollback.Rollback == name && len(ph.Nodes) > 0 {
				return ph.Nodes[0], ph.ID
			}
		}
	}
	return nil, ""
}

// dryDecide evaluates a condition for the dry run: true when there is none,
// or when it reads registered results, whose values only the run has.
func dryDecide(when *expr.Expr, env *expr.Env) (bool, error) {
	if when == nil {
		return true, nil
	}
	for _, r := range when.Refs() {
		if r.Root == "results" {
			return true, nil
		}
	}
	return when.Bool(env)
}

func explainStep(b *load.Binding, n *load.Node, s *load.Step, env *expr.Env, mask *mask.Masker) (DryStep, error) {
	ds := DryStep{ID: s.ID, Type: s.Type, Retries: s.Retries.Count, Actions: []string{}}
	if s.Origin != nil {
		ds.Origin = s.Origin.String()
	}
	if s.When != nil {
		ds.When = s.When.Source()
	}
	if s.Rollback != nil && s.Rollback.When != nil {
		ds.When = s.Rollback.When.Source()
	}
	if run, err := dryDecide(s.When, env); err != nil {
		return ds, fmt.Errorf("when: %w", err)
	} else if !run {
		ds.Skipped = whenFalse
		return ds, nil
	}
	d, err := s.StepTimeout(env)
	if err != nil {
		return ds, err
	}
	if d > 0 {
		ds.Timeout = d.String()
	}
	lines, err := s.Action.Explain(&dryContext{b: b, node: n, env: env})
	for _, l := range lines {
		ds.Actions = append(ds.Actions, mask.Mask(l))
	}
	return ds, err
}

func dryEnv(b *load.Binding, n *load.Node, phase string, registered map[string]bool) *expr.Env {
	res := map[string]map[string]any{}
	for name := range registered {
		res[name] = map[string]any{"ok": true, "exitCode": 0, "stdout": "<stdout-of-" + name + ">",
			"stderr": "", "data": map[string]any{}}
	}
	return expr.NewEnv(b.Params[n.Name], n.Vars, expr.NodeData{
		Name: n.Name, Host: n.Host, Port: n.Port, User: n.User, Groups: n.Groups,
	}, phase, res)
}

func strategyText(ph *compile.Phase) string {
	s := string(ph.Strategy.Kind)
	if ph.Strategy.Size.Set {
		s += fmt.Sprintf(" %d", ph.Strategy.Size.N)
		if ph.Strategy.Size.Percent {
			s += "%"
		}
	}
	s = fmt.Sprintf("%s (%d at once, %d batches)", s, ph.Limit, len(ph.Batches))
	if ph.Pause != nil {
		s += "; " + ph.Pause.Label()
	}
	return s
}

// dryContext lets a step describe itself; it reaches nothing.
type dryContext struct {
	b    *load.Binding
	node *load.Node
	env  *expr.Env
}

var errDry = errors.New("dry run: nothing is contacted")

func (c *dryContext) Node() step.Node {
	return step.Node{Name: c.node.Name, Host: c.node.Host, Port: c.node.Port, User: c.node.User,
		Groups: c.node.Groups, Vars: c.node.Vars}
}
func (c *dryContext) Env() step.Env                  { return c.env }
func (c *dryContext) Transport() transport.Transport { return failing{errDry} }
func (c *dryContext) Control() transport.Transport   { return failing{errDry} }
func (c *dryContext) TransportFor(string) (transport.Transport, error) {
	return failing{errDry}, nil
}
func (c *dryContext) LoadBalancer(name string) (step.LoadBalancer, error) {
	lb, ok := c.b.Inv.LBs[name]
	if !ok {
		return step.LoadBalancer{}, fmt.Errorf("no load balancer named %q in the inventory", name)
	}
	return lb, nil
}
func (c *dryContext) Log() io.Writer { return io.Discard }

// gatesText says what the plan's gates watch (empty: none).
func gatesText(p *load.Plan) string {
	g := p.Gates
	if !g.Active() {
		return ""
	}
	var parts []string
	if g.MaxErrorPercent > 0 {
		parts = append(parts, fmt.Sprintf("at most %g%% failed", g.MaxErrorPercent))
	}
	if g.MaxP99 > 0 {
		parts = append(parts, fmt.Sprintf("p99 at most %s", g.MaxP99))
	}
	if g.MaxP99Increase > 0 {
		parts = append(parts, fmt.Sprintf("p99 at most %s over the baseline (measured %s before the first node)", g.MaxP99Increase, g.Baseline))
	}
	window := cmp.Or(g.Window, gate.DefaultWindow)
	return fmt.Sprintf("%s over %s of probe traffic; on a breach: %s, exit %d (with --probe; always in rehearse)",
		strings.Join(parts, ", "), window, map[string]string{"stop": "stop", "rollback": "stop and roll back every node changed so far"}[p.OnBreach], p.GateExitCode)
}
