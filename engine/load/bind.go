package load

import (
	"fmt"
	"strings"
	"time"

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
}

// BindOptions are the command line's part of a binding.
type BindOptions struct {
	// Sets are `--set name=value` arguments, as typed.
	Sets []string
	// RequireParams reports required params without a value (run and plan do;
	// validate does not, since the values come at run time).
	RequireParams bool
}

// Bind checks plan against inv and resolves params. Problems point into the
// plan, the inventory, or name the --set flag.
func Bind(p *Plan, inv *Inventory, opt BindOptions) (*Binding, []schema.Problem) {
	pp := &Problems{File: p.File}
	ip := &Problems{File: inv.File}
	fp := &Problems{File: "--set"}
	b := &Binding{Plan: p, Inv: inv, Params: map[string]map[string]any{}}
	sets := parseSets(p, opt.Sets, fp)
	for i, ph := range p.Phases {
		b.Targets = append(b.Targets, selectNodes(inv, ph, fmt.Sprintf("phases[%d].targets", i), pp))
		for j, st := range ph.Steps {
			checkLBs(inv, st, pp)
			_ = j
		}
	}
	for _, steps := range p.Rollbacks {
		for _, st := range steps {
			checkLBs(inv, st, pp)
		}
	}
	targeted := map[string]bool{}
	for _, nodes := range b.Targets {
		for _, n := range nodes {
			targeted[n.Name] = true
		}
	}
	for _, n := range inv.Nodes {
		// Only nodes the plan runs on need every required param.
		b.Params[n.Name] = resolveParams(p, n, sets, pp, ip, opt.RequireParams && targeted[n.Name])
	}
	b.Secrets = secretValues(p, b.Params)
	all := append(append(pp.List, ip.List...), fp.List...)
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
		if !ok || k == "" {
			fp.At(spec.Pos{}, path, "%q must be name=value", s)
			continue
		}
		prm, found := findParam(p, k)
		if !found {
			fp.At(spec.Pos{}, path, "the plan has no param %q%s", k, suggest(k, names))
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

func findParam(p *Plan, name string) (Param, bool) {
	for _, pr := range p.Params {
		if pr.Name == name {
			return pr, true
		}
	}
	return Param{}, false
}

// selectNodes resolves a phase's targets: groups and "all", minus "!group".
func selectNodes(inv *Inventory, ph *Phase, path string, pp *Problems) []*Node {
	in, out := map[string]bool{}, map[string]bool{}
	groups := make([]string, 0, len(inv.Groups)+1)
	groups = append(groups, "all")
	groups = append(groups, sortedKeys(inv.Groups)...)
	for _, t := range ph.Targets {
		name, neg := strings.CutPrefix(t, "!")
		var nodes []*Node
		if name == "all" {
			nodes = inv.Nodes
		} else if g, ok := inv.Groups[name]; ok {
			nodes = g
		} else if n, ok := inv.ByName[name]; ok {
			nodes = []*Node{n}
		} else {
			pp.At(ph.TargetsPos, path, "no group or node named %q in %s%s", name, inv.File, suggest(name, groups))
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
	var sel []*Node
	for _, n := range inv.Nodes {
		if in[n.Name] && !out[n.Name] {
			sel = append(sel, n)
		}
	}
	return sel
}

func checkLBs(inv *Inventory, st *Step, pp *Problems) {
	for _, r := range st.LBs {
		if _, ok := inv.LBs[r.Name]; !ok {
			pp.At(r.Pos, r.Path, "no load balancer named %q in %s%s", r.Name, inv.File, suggest(r.Name, sortedKeys(inv.LBs)))
		}
	}
}

// resolveParams applies precedence: default < inventory/group/node vars < --set.
func resolveParams(p *Plan, n *Node, sets map[string]any, pp, ip *Problems, require bool) map[string]any {
	out := make(map[string]any, len(p.Params))
	for _, pr := range p.Params {
		if v, ok := sets[pr.Name]; ok {
			out[pr.Name] = v
			continue
		}
		if raw, ok := n.Vars[pr.Name]; ok {
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
			continue
		}
		if require && pr.Required {
			pp.At(pr.Pos, "params."+pr.Name, "param %q is required: give it with --set %s=VALUE or as a var of node %s", pr.Name, pr.Name, n.Name)
			continue
		}
		out[pr.Name] = zeroOf(pr.Kind)
	}
	return out
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
	case nil:
		return zeroOf(p.Kind), nil
	}
	return ParseParam(p, fmt.Sprint(v))
}

func zeroOf(k expr.Kind) any {
	switch k {
	case expr.KindInt:
		return 0
	case expr.KindBool:
		return false
	case expr.KindDuration:
		return time.Duration(0)
	case expr.KindList:
		return []any{}
	}
	return ""
}

func secretValues(p *Plan, params map[string]map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, pr := range p.Params {
		if !pr.Secret {
			continue
		}
		for _, vals := range params {
			s := fmt.Sprint(vals[pr.Name])
			if s != "" && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}
