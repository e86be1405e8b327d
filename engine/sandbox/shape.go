package sandbox

import (
	"fmt"
	"strings"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/schema"
)

// DefaultNodes is how many nodes a rehearsal gives the plan's rolling groups.
const DefaultNodes = 3

// ShapeOptions say how to shape a sandbox for a plan.
type ShapeOptions struct {
	// Inventory, when set, lends its topology: the nodes the plan targets,
	// with their names, groups and variables, and its load balancer's
	// backend name and minHealthy.
	Inventory *load.Inventory
	// Nodes is the number of nodes in the rolling groups when there is no
	// inventory (0: DefaultNodes).
	Nodes int
	// Rehearsal is the plan's rehearsal file (nil: the one beside the
	// plan, or DefaultRehearsal).
	Rehearsal *Rehearsal
}

// OwnVars are the variables the sandbox sets itself on every node: an
// inventory's values for them point at production and are dropped, and
// rehearse refuses them in --set (the sandbox's commands would act on this
// machine's real paths and ports). They are the sandbox's paths, the
// rehearsal file's service.port and its vars.
func OwnVars(r *Rehearsal) []string {
	own := []string{"old_install_dir", "new_install_dir", "sandbox_root"}
	if r == nil {
		return own
	}
	if r.PortVar != "" {
		own = append(own, r.PortVar)
	}
	for k := range r.Vars {
		own = append(own, k)
	}
	return own
}

// Shape returns the sandbox configuration for plan.
//
// Without an inventory, the groups that phases using the load balancer
// target (all targeted groups, if no phase uses one) are the rolling groups:
// Nodes nodes, node-1 to node-N, each in every rolling group and behind
// HAProxy. Every other targeted group gets one node of its own, named after
// it and outside HAProxy (e.g. nova's controller for post-maintenance).
//
// With an inventory, the sandbox has the inventory's nodes that the plan
// targets; those in the load balancer (its servers map, or else the nodes of
// the phases that use it) are behind HAProxy.
func Shape(p *load.Plan, opt ShapeOptions) (Config, error) {
	lbs := p.LoadBalancers()
	if len(lbs) > 1 {
		return Config{}, fmt.Errorf("%s names %d load balancers (%s); a rehearsal sandbox has one load balancer in front of one backend",
			p.File, len(lbs), strings.Join(lbs, ", "))
	}
	r := opt.Rehearsal
	if r == nil {
		var probs []schema.Problem
		if r, probs = FindRehearsal(p.File); len(probs) > 0 {
			return Config{}, fmt.Errorf("%s", probs[0].String())
		}
	}
	cfg := Config{MinHealthy: 1, Rehearsal: r, LBDriver: r.LBDriver, LBInstances: r.LBInstances}
	if len(lbs) == 1 {
		cfg.LoadBalancer, cfg.Backend = lbs[0], lbs[0]
	}
	if opt.Inventory != nil {
		if opt.Nodes != 0 {
			return Config{}, fmt.Errorf("--nodes and an inventory both shape the sandbox; give one")
		}
		return shapeFromInventory(p, opt.Inventory, cfg)
	}
	n := opt.Nodes
	if n == 0 {
		n = DefaultNodes
	}
	if n < 1 || n > 50 {
		return Config{}, fmt.Errorf("--nodes %d: a sandbox has 1 to 50 nodes", n)
	}
	rolling, other := planGroups(p, len(lbs) == 1)
	for i := 1; i <= n; i++ {
		cfg.Nodes = append(cfg.Nodes, NodeSpec{Name: fmt.Sprintf("node-%d", i), Groups: rolling})
	}
	for _, g := range other {
		cfg.Nodes = append(cfg.Nodes, NodeSpec{Name: g, Groups: []string{g}, Unbalanced: true})
	}
	return cfg, nil
}

func shapeFromInventory(p *load.Plan, inv *load.Inventory, cfg Config) (Config, error) {
	b, probs := load.Bind(p, inv, load.BindOptions{})
	if len(probs) > 0 {
		return Config{}, fmt.Errorf("%s does not fit %s: %s", inv.File, p.File, probs[0].String())
	}
	targeted, balanced := map[string]bool{}, map[string]bool{}
	for i, ph := range p.Phases {
		for _, n := range b.Targets[i] {
			targeted[n.Name] = true
			if cfg.LoadBalancer == "" || usesLB(ph.Steps) {
				balanced[n.Name] = true
			}
		}
	}
	if l, ok := inv.LBs[cfg.LoadBalancer]; ok {
		if l.Driver != DriverHAProxy && l.Driver != DriverNginx {
			return Config{}, fmt.Errorf("%s: load balancer %s uses the %s driver; a rehearsal sandbox runs haproxy or nginx for real, and has no stand-in for %s", inv.File, l.Name, l.Driver, l.Driver)
		}
		if len(l.Instances) > MaxLBInstances {
			return Config{}, fmt.Errorf("%s: load balancer %s has %d instances; a rehearsal sandbox runs at most %d", inv.File, l.Name, len(l.Instances), MaxLBInstances)
		}
		cfg.LBDriver, cfg.LBInstances = l.Driver, len(l.Instances)
		cfg.Backend = l.Backend
		if l.MinHealthy > 0 {
			cfg.MinHealthy, cfg.MinHealthyPercent = l.MinHealthy, l.MinHealthyPercent
		}
		if len(l.Servers) > 0 {
			balanced = map[string]bool{}
			for name := range l.Servers {
				balanced[name] = true
			}
		}
	}
	for _, n := range inv.Nodes {
		if !targeted[n.Name] {
			continue // e.g. the load balancer's own host: the sandbox has its HAProxy
		}
		vars := map[string]any{}
		for k, v := range n.Vars {
			vars[k] = v
		}
		for _, k := range OwnVars(cfg.Rehearsal) {
			delete(vars, k)
		}
		cfg.Nodes = append(cfg.Nodes, NodeSpec{Name: n.Name, Groups: n.Groups, Vars: vars, Unbalanced: !balanced[n.Name]})
	}
	if len(cfg.Nodes) == 0 {
		return Config{}, fmt.Errorf("%s: the plan targets none of its nodes", inv.File)
	}
	return cfg, nil
}

func usesLB(steps []*load.Step) bool {
	for _, st := range steps {
		if len(st.LBs) > 0 {
			return true
		}
	}
	return false
}

// planGroups splits the targeted groups into rolling ones (targeted by a
// phase that uses the load balancer, or every one when hasLB is false) and
// the others, each in plan order. "all" is not a group; a generated node is
// in every rolling group anyway. A name only ever excluded ("!canary") is
// another group.
func planGroups(p *load.Plan, hasLB bool) (rolling, other []string) {
	isRolling, seen := map[string]bool{}, map[string]bool{}
	var order, excluded []string
	for _, ph := range p.Phases {
		roll := !hasLB || usesLB(ph.Steps)
		for _, t := range ph.Targets {
			if x, ok := strings.CutPrefix(t, "!"); ok {
				excluded = append(excluded, x)
				continue
			}
			if t == "all" {
				continue
			}
			if !seen[t] {
				seen[t] = true
				order = append(order, t)
			}
			if roll {
				isRolling[t] = true
			}
		}
	}
	// An excluded group must exist for the plan to bind: it gets a node of
	// its own, which the exclusion then leaves out.
	for _, x := range excluded {
		if !seen[x] {
			seen[x] = true
			order = append(order, x)
		}
	}
	for _, g := range order {
		if isRolling[g] {
			rolling = append(rolling, g)
		} else {
			other = append(other, g)
		}
	}
	return rolling, other
}
