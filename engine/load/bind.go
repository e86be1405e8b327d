package load

import (
	"fmt"
	"strings"

	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/schema"
)

// Binding is a plan bound to an inventory and the command line: every node's
// params resolved, every group and load balancer reference checked.
type Binding struct {
	Plan *Plan
	Inv  *Inventory
	// Params holds each node's param values, by node name.
	Params map[string]map[string]any
	// Targets holds each phase's nodes, in inventory order.
	Targets [][]*Node
	// Secrets are the values of secret params, to mask in every output.
	Secrets []string
	// rollbackPhases indexes the phases whose rollback-on rules name each
	// rollback (see RollbackNodes).
	rollbackPhases map[string][]int
}

// BindOptions are the command line's part of a binding.
type BindOptions struct {
	// Sets are `--set name=value` arguments, as typed.
	Sets []string
	// RequireParams reports required params without a value (run and plan do;
	// validate does not, since the values come at run time).
	RequireParams bool
	// LookupEnv reads the environment variables params name (`env:`); nil
	// reads none.
	LookupEnv func(name string) (string, bool)
}

// Bind checks plan against inv and resolves params. Problems point into the
// plan, the inventory, or name the --set flag.
func Bind(p *Plan, inv *Inventory, opt BindOptions) (*Binding, []schema.Problem) {
	pp := &Problems{File: p.File}
	ip := &Problems{File: inv.File}
	fp := &Problems{File: "--set"}
	b := &Binding{Plan: p, Inv: inv, Params: map[string]map[string]any{}}
	sets := parseSets(p, opt.Sets, fp)
	fromEnv(p, opt.LookupEnv, sets, fp)
	for i, ph := range p.Phases {
		path := fmt.Sprintf("phases[%d].targets", i)
		nodes, resolved := selectNodes(inv, ph, path, pp)
		if len(nodes) == 0 && resolved && !ph.AllowEmpty {
			pp.At(ph.TargetAt[0], path, "phase %s targets no node: %s none of the nodes in %s; fix the targets or the inventory, or write allowEmpty: true if the phase may do nothing",
				ph.ID, targetList(ph.Targets), inv.File)
		}
		b.Targets = append(b.Targets, nodes)
		for _, st := range ph.Steps {
			checkNames(inv, st, pp)
		}
	}
	for _, name := range p.RollbackOrder {
		for _, st := range p.Rollbacks[name] {
			checkNames(inv, st, pp)
		}
	}
	if err := b.CheckSize(); err != nil {
		// Before the checks that cost as much as the graph: every use on
		// every node.
		i := b.GraphSize().Largest
		pp.At(p.Phases[i].Pos, fmt.Sprintf("phases[%d]", i), "%v", err)
		return nil, Sorted(append(append(pp.List, ip.List...), fp.List...))
	}
	targeted := map[string]bool{}
	for _, nodes := range b.Targets {
		for _, n := range nodes {
			targeted[n.Name] = true
		}
	}
	missing := map[string][]*Node{} // required param -> targeted nodes without a value
	for _, n := range inv.Nodes {
		vals := resolveParams(p, n, sets, ip)
		b.Params[n.Name] = vals
		// Only nodes the plan runs on need every required param.
		if !opt.RequireParams || !targeted[n.Name] {
			continue
		}
		for _, pr := range p.Params {
			if pr.Required && vals[pr.Name] == nil {
				missing[pr.Name] = append(missing[pr.Name], n)
			}
		}
	}
	reportMissing(p, inv, missing, len(targeted), pp)
	skip := map[string]bool{}
	for name := range missing {
		skip[name] = true
	}
	b.checkUses(pp, opt.RequireParams, skip)
	b.checkValues(pp)
	b.Secrets = secretValues(p, b.Params)
	all := append(append(relocate(p.File, p.origins, pp.List), ip.List...), fp.List...)
	if len(all) > 0 {
		return nil, Sorted(all)
	}
	return b, nil
}

func parseSets(p *Plan, sets []string, fp *Problems) map[string]any {
	out := map[string]any{}
	names := make([]string, len(p.Params))
	for i, pr := range p.Params {
		names[i] = pr.Name
	}
	for i, s := range sets {
		path := fmt.Sprintf("--set[%d]", i)
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			fp.At(spec.Pos{}, path, "%q must be name=value", s)
			continue
		}
		if k == "" {
			// The value may be a secret: not echoed.
			fp.At(spec.Pos{}, path, "a value with no name before '=': must be name=value")
			continue
		}
		prm, found := findParam(p, k)
		if !found {
			fp.At(spec.Pos{}, path, "the plan has no param %q%s", k, fp.suggest(k, func() []string { return names }))
			continue
		}
		val, err := ParseParam(prm, v)
		if err != nil {
			fp.At(spec.Pos{}, path, "%v", err)
			continue
		}
		out[k] = val
	}
	return out
}

// fromEnv gives each param that names an environment variable, and has no
// --set, the variable's value when it is set.
func fromEnv(p *Plan, lookup func(string) (string, bool), sets map[string]any, fp *Problems) {
	if lookup == nil {
		return
	}
	for _, pr := range p.Params {
		if _, given := sets[pr.Name]; given || pr.Env == "" {
			continue
		}
		v, ok := lookup(pr.Env)
		if !ok {
			continue
		}
		val, err := ParseParam(pr, v)
		if err != nil {
			fp.At(spec.Pos{}, "$"+pr.Env, "%v", err)
			continue
		}
		sets[pr.Name] = val
	}
}

func findParam(p *Plan, name string) (Param, bool) {
	for _, pr := range p.Params {
		if pr.Name == name {
			return pr, true
		}
	}
	return Param{}, false
}

// targetList writes a phase's targets for a message, with the verb:
// `its target "a" selects`, `its targets [a, !b] select`.
func targetList(targets []string) string {
	if len(targets) == 1 {
		return fmt.Sprintf("its target %q selects", targets[0])
	}
	return "its targets [" + strings.Join(targets, ", ") + "] select"
}

// selectNodes resolves a phase's targets: groups and "all", minus "!group".
// resolved is false when a name was not found (a problem already).
func selectNodes(inv *Inventory, ph *Phase, path string, pp *Problems) (sel []*Node, resolved bool) {
	resolved = true
	in, out := map[string]bool{}, map[string]bool{}
	for i, t := range ph.Targets {
		name, neg := strings.CutPrefix(t, "!")
		var nodes []*Node
		if name == "all" {
			nodes = inv.Nodes
		} else if g, ok := inv.Groups[name]; ok {
			nodes = g
		} else if n, ok := inv.ByName[name]; ok {
			nodes = []*Node{n}
		} else {
			pp.At(ph.TargetAt[i], path, "no group or node named %q in %s%s", name, inv.File, pp.suggest(name, func() []string {
				return append(append([]string{"all"}, sortedKeys(inv.Groups)...), nodeNames(inv)...)
			}))
			resolved = false
			continue
		}
		for _, n := range nodes {
			if neg {
				out[n.Name] = true
			} else {
				in[n.Name] = true
			}
		}
	}
	for _, n := range inv.Nodes {
		if in[n.Name] && !out[n.Name] {
			sel = append(sel, n)
		}
	}
	return sel, resolved
}

// checkNames checks the load balancers and nodes a step names.
func checkNames(inv *Inventory, st *Step, pp *Problems) {
	for _, r := range st.LBs {
		if _, ok := inv.LBs[r.Name]; !ok {
			pp.At(r.Pos, r.Path, "no load balancer named %q in %s%s", r.Name, inv.File, pp.suggest(r.Name, func() []string { return sortedKeys(inv.LBs) }))
		}
	}
	for _, r := range st.Nodes {
		if _, ok := inv.ByName[r.Name]; !ok {
			pp.At(r.Pos, r.Path, "no node named %q in %s%s", r.Name, inv.File, pp.suggest(r.Name, func() []string { return nodeNames(inv) }))
		}
	}
}

// resolveParams applies precedence: default < inventory/group/node vars <
// --set. A param with none of them has no value (it is absent, never an
// empty string); a var written with no value (null) counts as none.
func resolveParams(p *Plan, n *Node, sets map[string]any, ip *Problems) map[string]any {
	out := make(map[string]any, len(p.Params))
	for _, pr := range p.Params {
		if v, ok := sets[pr.Name]; ok {
			out[pr.Name] = v
			continue
		}
		if raw, ok := n.Vars[pr.Name]; ok && raw != nil {
			v, err := coerce(pr, raw)
			if err != nil {
				ip.At(n.VarPos[pr.Name], "vars."+pr.Name, "node %s: %v", n.Name, err)
				continue
			}
			out[pr.Name] = v
			continue
		}
		if pr.Default != nil {
			out[pr.Name] = pr.Default
		}
	}
	return out
}

// reportMissing reports every required param without a value in one
// problem, at the first one's declaration, saying how to give them.
func reportMissing(p *Plan, inv *Inventory, missing map[string][]*Node, targeted int, pp *Problems) {
	if len(missing) == 0 {
		return
	}
	var first *Param
	var names, parts []string
	for i, pr := range p.Params {
		nodes, ok := missing[pr.Name]
		if !ok {
			continue
		}
		if first == nil {
			first = &p.Params[i]
		}
		names = append(names, pr.Name)
		part := pr.Name
		if len(nodes) < targeted {
			part += " (no value on " + nodeList(nodes) + ")"
		}
		parts = append(parts, part)
	}
	word := "param"
	if len(names) > 1 {
		word = "params"
	}
	pp.At(first.Pos, "params", "missing required %s %s: give each with --set NAME=VALUE (--set %s=...), or as a var in %s",
		word, strings.Join(parts, ", "), names[0], inv.File)
}

func coerce(p Param, v any) (any, error) {
	switch x := v.(type) {
	case string:
		return ParseParam(p, x)
	case []any:
		if p.Kind != expr.KindList {
			return nil, fmt.Errorf("%s is not a list param", p.Name)
		}
		return x, nil
	case int:
		if p.Kind == expr.KindInt {
			return x, nil
		}
	case bool:
		if p.Kind == expr.KindBool {
			return x, nil
		}
	}
	return ParseParam(p, fmt.Sprint(v))
}

func secretValues(p *Plan, params map[string]map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, pr := range p.Params {
		if !pr.Secret {
			continue
		}
		for _, vals := range params {
			v, ok := vals[pr.Name]
			if !ok || v == nil {
				continue
			}
			for _, s := range secretStrings(v) {
				if s != "" && !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// secretStrings are the texts a secret value can show: itself, and each
// element of a list or value of a map (and theirs), as a template would
// render them.
func secretStrings(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, secretStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, secretStrings(e)...)
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}
