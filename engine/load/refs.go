package load

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zdu-dev/zdu/engine/expr"
)

// checkUses resolves every params/vars/results name (and node.user) the
// plan's expressions read against the nodes each expression runs on: a
// phase's when and steps on the phase's targets, a rollback's steps on the
// targets of the phases whose rollback-on rules name it. A name some of those
// nodes lack is a problem at the reference, naming the nodes, unless the
// expression guards it (a ?? default, or a test such as "x" in vars in it or
// in the step's or phase's when); a var no node of the inventory defines is
// one even where nothing runs. params are checked only when their values are
// known (valuesKnown: zdu plan and run, not validate).
func (b *Binding) checkUses(pp *Problems, valuesKnown bool, missingRequired map[string]bool) {
	c := &useChecker{b: b, pp: pp, valuesKnown: valuesKnown, skipParams: missingRequired}
	c.index()
	for i, ph := range b.Plan.Phases {
		nodes := b.Targets[i]
		c.check(ph.uses, nodes, resultScope{phase: i, step: -1})
		for j, st := range ph.Order {
			c.check(st.uses, nodes, resultScope{phase: i, step: j})
		}
	}
	for _, name := range b.Plan.RollbackOrder {
		nodes := b.RollbackNodes(name)
		for j, st := range b.Plan.Rollbacks[name] {
			c.check(st.uses, nodes, resultScope{phase: -1, rollback: name, step: j})
		}
	}
}

// resultScope says which registered results a use can see: those of
// earlier phases on the same node and of the steps that run before it in
// its own list (phase, or rollback: every phase's, since a rollback runs
// after them).
type resultScope struct {
	phase    int // -1 for a rollback
	rollback string
	step     int // index in the list's execution order; -1 for a phase's when
}

type useChecker struct {
	b           *Binding
	pp          *Problems
	valuesKnown bool
	skipParams  map[string]bool
	// targets[i] is phase i's target set.
	targets []map[*Node]bool
	// regs maps a register name to the phases that register it.
	regs map[string][]int
	// defined is every var name some node defines (see definedAnywhere).
	defined map[string]bool
	// firstReg maps a list (a phase's steps in execution order, or a
	// rollback's) to where each register name is first registered in it.
	firstReg map[*Step]map[string]int
}

func (c *useChecker) index() {
	c.regs = map[string][]int{}
	c.firstReg = map[*Step]map[string]int{}
	for i, ph := range c.b.Plan.Phases {
		set := make(map[*Node]bool, len(c.b.Targets[i]))
		for _, n := range c.b.Targets[i] {
			set[n] = true
		}
		c.targets = append(c.targets, set)
		for _, st := range ph.Steps {
			if st.Register != "" {
				c.regs[st.Register] = append(c.regs[st.Register], i)
			}
		}
	}
}

// RollbackNodes are the nodes a rollback may run on: the targets of every
// phase with a rollback-on rule naming it, in inventory order.
func (b *Binding) RollbackNodes(name string) []*Node {
	if b.rollbackPhases == nil {
		// Indexed once: looking through every step for each rollback was
		// rollbacks x steps.
		b.rollbackPhases = map[string][]int{}
		for i, ph := range b.Plan.Phases {
			for _, st := range ph.Steps {
				if st.Rollback != nil {
					b.rollbackPhases[st.Rollback.Rollback] = append(b.rollbackPhases[st.Rollback.Rollback], i)
				}
			}
		}
	}
	set := map[*Node]bool{}
	for _, i := range b.rollbackPhases[name] {
		for _, n := range b.Targets[i] {
			set[n] = true
		}
	}
	var out []*Node
	for _, n := range b.Inv.Nodes {
		if set[n] {
			out = append(out, n)
		}
	}
	return out
}

func (c *useChecker) check(uses []use, nodes []*Node, rs resultScope) {
	for _, u := range uses {
		if u.Guard.Covers(true) {
			continue // a default, or read only where it is not nil
		}
		switch u.Root {
		case "vars":
			c.checkVar(u, nodes)
		case "params":
			if c.valuesKnown && !c.skipParams[u.Name] && len(nodes) > 0 {
				c.checkParam(u, nodes)
			}
		case "results":
			if u.Guard == expr.Unguarded && len(nodes) > 0 {
				c.checkResult(u, nodes, rs)
			}
		case "node":
			if u.Name == "user" && u.Guard == expr.Unguarded {
				c.checkUser(u, nodes)
			}
		}
	}
}

func (c *useChecker) checkVar(u use, nodes []*Node) {
	inv := c.b.Inv.File
	if len(nodes) == 0 {
		// Nothing runs it here, but a name no node has is still a typo.
		if u.Guard == expr.Unguarded && !c.definedAnywhere(u.Name) {
			c.pp.At(u.Pos, u.Path, "unknown var %q: no node in %s defines it%s", u.Name, inv, c.pp.suggest(u.Name, func() []string { return varNames(c.b.Inv.Nodes) }))
		}
		return
	}
	var lacking, null []*Node
	for _, n := range nodes {
		v, ok := n.Vars[u.Name]
		switch {
		case !ok:
			lacking = append(lacking, n)
		case v == nil:
			null = append(null, n)
		}
	}
	if len(null) > 0 {
		c.pp.At(u.Pos, u.Path, "var %q is null on %s in %s (written with no value); write %s: \"\" for an empty value, or test it with %s != nil",
			u.Name, nodeList(null), inv, u.Name, u.Key())
	}
	if u.Guard != expr.Unguarded {
		return // read only where a test found it defined
	}
	switch {
	case len(lacking) == 0:
	case len(lacking) == len(nodes) && !c.definedAnywhere(u.Name):
		c.pp.At(u.Pos, u.Path, "unknown var %q: no node in %s defines it%s", u.Name, inv, c.pp.suggest(u.Name, func() []string { return varNames(nodes) }))
	case len(lacking) == len(nodes):
		c.pp.At(u.Pos, u.Path, "var %q is not defined on any node this runs on (%s) in %s, only on nodes it does not run on%s",
			u.Name, nodeList(lacking), inv, c.howToGuard(u))
	default:
		c.pp.At(u.Pos, u.Path, "var %q is not defined on %s in %s (%d of the %d nodes this runs on define it)%s",
			u.Name, nodeList(lacking), inv, len(nodes)-len(lacking), len(nodes), c.howToGuard(u))
	}
}

func (c *useChecker) howToGuard(u use) string {
	return fmt.Sprintf(": define it there, give a default (%s ?? VALUE) or test for it (%q in %s)", u.Key(), u.Name, u.Root)
}

// checkUser: node.user is empty where the inventory sets no user (the SSH
// user then comes from ~/.ssh/config or the account running zdu).
func (c *useChecker) checkUser(u use, nodes []*Node) {
	var lacking []*Node
	for _, n := range nodes {
		if n.User == "" {
			lacking = append(lacking, n)
		}
	}
	if len(lacking) > 0 {
		c.pp.At(u.Pos, u.Path, "node.user is not set for %s in %s (SSH then takes the user from ~/.ssh/config or the account running zdu): set user in its defaults or on the node, or write node.user ?? NAME",
			nodeList(lacking), c.b.Inv.File)
	}
}

func (c *useChecker) checkParam(u use, nodes []*Node) {
	var lacking []*Node
	for _, n := range nodes {
		if c.b.Params[n.Name][u.Name] == nil {
			lacking = append(lacking, n)
		}
	}
	if len(lacking) == 0 {
		return
	}
	where := "on " + nodeList(lacking)
	if len(lacking) == len(nodes) {
		where = "on any node this runs on"
	}
	c.pp.At(u.Pos, u.Path, "param %q has no value %s: it is optional without a default; give it one (--set %s=VALUE, a var %s in %s, or a default in the plan), or write %s ?? VALUE",
		u.Name, where, u.Name, u.Name, c.b.Inv.File, u.Key())
}

func (c *useChecker) checkResult(u use, nodes []*Node, rs resultScope) {
	if c.registeredEarlierInList(u.Name, rs) {
		return
	}
	var lacking []*Node
	for _, n := range nodes {
		found := false
		for _, k := range c.regs[u.Name] {
			if (rs.phase < 0 || k < rs.phase) && c.targets[k][n] {
				found = true
				break
			}
		}
		if !found {
			lacking = append(lacking, n)
		}
	}
	if len(lacking) == 0 {
		return
	}
	var phases []string
	for _, k := range c.regs[u.Name] {
		phases = append(phases, c.b.Plan.Phases[k].ID)
	}
	c.pp.At(u.Pos, u.Path, "result %q is never registered on %s before this: the phase(s) registering it (%s) do not run there; target those nodes there, or test for it (%q in results)",
		u.Name, nodeList(lacking), strings.Join(phases, ", "), u.Name)
}

// registeredEarlierInList: an earlier step of the same phase or rollback
// registers name, on every node the list runs on.
func (c *useChecker) registeredEarlierInList(name string, rs resultScope) bool {
	var list []*Step
	if rs.phase >= 0 {
		list = c.b.Plan.Phases[rs.phase].Order
	} else {
		list = c.b.Plan.Rollbacks[rs.rollback]
	}
	if len(list) == 0 {
		return false
	}
	// Indexed once per list: scanning the list for every use was quadratic
	// in a plan whose steps each read the one before's result.
	first, ok := c.firstReg[list[0]]
	if !ok {
		first = map[string]int{}
		for j, st := range list {
			if _, seen := first[st.Register]; !seen && st.Register != "" {
				first[st.Register] = j
			}
		}
		c.firstReg[list[0]] = first
	}
	j, ok := first[name]
	return ok && j < rs.step
}

// maxListed is how many nodes a problem names before it gives a count.
const maxListed = 5

// nodeList names nodes for a message: "node a", "nodes a, b and c", or the
// first few and a count of the rest.
func nodeList(nodes []*Node) string {
	names := make([]string, 0, maxListed)
	for i, n := range nodes {
		if i == maxListed {
			break
		}
		names = append(names, n.Name)
	}
	switch {
	case len(nodes) == 1:
		return "node " + names[0]
	case len(nodes) > maxListed:
		return fmt.Sprintf("nodes %s and %d more", strings.Join(names, ", "), len(nodes)-maxListed)
	}
	return "nodes " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// definedAnywhere: some node of the inventory defines var name. The set of
// names is gathered once, not by looking at every node for every use.
func (c *useChecker) definedAnywhere(name string) bool {
	if c.defined == nil {
		c.defined = map[string]bool{}
		for _, n := range c.b.Inv.Nodes {
			for k := range n.Vars {
				c.defined[k] = true
			}
		}
	}
	return c.defined[name]
}

func varNames(nodes []*Node) []string {
	seen := map[string]bool{}
	for _, n := range nodes {
		for k := range n.Vars {
			seen[k] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
