package expr

import (
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// Guard says how an expression copes with a name that may be missing.
type Guard int

const (
	// Unguarded: the name must have a value wherever the expression runs.
	Unguarded Guard = iota
	// Present: the name is read only where a test found it defined ("x" in
	// vars); a value written as null still reads as nil.
	Present
	// NonNil: the name is read only where a test found it not nil
	// (vars.x != nil).
	NonNil
	// Default: a missing value is replaced (vars.x ?? "none").
	Default
)

// Covers reports whether g lets a name be missing (null says whether the
// node has it written as null rather than not at all).
func (g Guard) Covers(null bool) bool {
	switch g {
	case Default, NonNil:
		return true
	case Present:
		return !null
	}
	return false
}

// Ref is a name an expression reads from one node's data: a param, a
// variable, a registered result, or a node field that may be unset
// (params.NAME, vars.NAME, results.NAME, node.user, or the same with a
// constant index, vars["NAME"]). Whether it has a value depends on the node,
// so the loader checks every Ref against the nodes the expression runs on
// once it knows the inventory.
type Ref struct {
	// Root is "params", "vars", "results" or "node".
	Root string
	Name string
	// Line and Col place the name in the source text, as Error does.
	Line, Col int
	// Guard is how the expression itself copes with the name being missing.
	Guard Guard
}

// Key is "root.name", the form Test uses.
func (r Ref) Key() string { return r.Root + "." + r.Name }

// Test is a name that a condition, when true, has found defined or not nil.
type Test struct {
	Key   string // "vars.x"
	Guard Guard  // Present or NonNil
}

// refRoots are the top-level names whose members depend on the node.
var refRoots = map[string]bool{"params": true, "vars": true, "results": true, "node": true}

// guards is what is known to hold where a subexpression is evaluated.
type guards map[string]Guard

func (g guards) with(tests []Test) guards {
	if len(tests) == 0 {
		return g
	}
	out := make(guards, len(g)+len(tests))
	for k, v := range g {
		out[k] = v
	}
	for _, t := range tests {
		out[t.Key] = max(out[t.Key], t.Guard)
	}
	return out
}

// refCollector finds the references of a parsed expression and how each is
// guarded. It runs on the tree before expr's checker, which may rewrite it.
type refCollector struct {
	guard map[*ast.MemberNode]Guard
	order []*ast.MemberNode
}

func collectRefs(root ast.Node) *refCollector {
	c := &refCollector{guard: map[*ast.MemberNode]Guard{}}
	c.walk(root, guards{})
	return c
}

// walk follows the operators that decide whether a part is evaluated (&&,
// ||, ?:, ??, !) so a reference is guarded only by tests that hold where it
// is read; below any other node, every reference gets the guards known there.
func (c *refCollector) walk(n ast.Node, g guards) {
	switch n := n.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and":
			c.walk(n.Left, g)
			c.walk(n.Right, g.with(whenTrue(n.Left)))
			return
		case "||", "or":
			c.walk(n.Left, g)
			c.walk(n.Right, g.with(whenFalse(n.Left)))
			return
		case "??":
			if m := defaultedRef(n.Left); m != nil {
				c.walk(n.Left, g.with([]Test{{Key: keyOf(m), Guard: Default}}))
			} else {
				c.walk(n.Left, g)
			}
			c.walk(n.Right, g)
			return
		}
	case *ast.ConditionalNode:
		c.walk(n.Cond, g)
		c.walk(n.Exp1, g.with(whenTrue(n.Cond)))
		c.walk(n.Exp2, g.with(whenFalse(n.Cond)))
		return
	case *ast.UnaryNode:
		c.walk(n.Node, g)
		return
	}
	v := &refVisitor{c: c, g: g}
	ast.Walk(&n, v)
}

type refVisitor struct {
	c *refCollector
	g guards
}

func (v *refVisitor) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	if _, _, isRef := refOf(m); !isRef {
		return
	}
	if _, seen := v.c.guard[m]; !seen {
		v.c.order = append(v.c.order, m)
	}
	v.c.guard[m] = max(v.c.guard[m], v.g[keyOf(m)])
}

// whenTrue lists the names e, when true, has found defined or not nil:
// "x" in vars, vars.x != nil, and the tests of either side of an &&.
func whenTrue(e ast.Node) []Test {
	switch e := e.(type) {
	case *ast.BinaryNode:
		switch e.Operator {
		case "&&", "and":
			return append(whenTrue(e.Left), whenTrue(e.Right)...)
		case "in":
			s, okS := e.Left.(*ast.StringNode)
			id, okID := e.Right.(*ast.IdentifierNode)
			if okS && okID && refRoots[id.Value] {
				return []Test{{Key: id.Value + "." + s.Value, Guard: Present}}
			}
		case "!=":
			if k := nilComparison(e); k != "" {
				return []Test{{Key: k, Guard: NonNil}}
			}
		}
	case *ast.UnaryNode:
		if e.Operator == "!" || e.Operator == "not" {
			return whenFalse(e.Node)
		}
	}
	return nil
}

// whenFalse lists the names e, when false, has found defined or not nil:
// vars.x == nil, !("x" in vars) and either side of an ||.
func whenFalse(e ast.Node) []Test {
	switch e := e.(type) {
	case *ast.BinaryNode:
		switch e.Operator {
		case "||", "or":
			return append(whenFalse(e.Left), whenFalse(e.Right)...)
		case "==":
			if k := nilComparison(e); k != "" {
				return []Test{{Key: k, Guard: NonNil}}
			}
		}
	case *ast.UnaryNode:
		if e.Operator == "!" || e.Operator == "not" {
			return whenTrue(e.Node)
		}
	}
	return nil
}

// nilComparison returns the key of R in R == nil, R != nil, nil == R...
func nilComparison(e *ast.BinaryNode) string {
	for _, pair := range [][2]ast.Node{{e.Left, e.Right}, {e.Right, e.Left}} {
		if _, isNil := pair[1].(*ast.NilNode); !isNil {
			continue
		}
		if m, ok := unchain(pair[0]).(*ast.MemberNode); ok {
			if _, _, ok := refOf(m); ok {
				return keyOf(m)
			}
		}
	}
	return ""
}

// defaultedRef returns the reference a `??` default covers: the left side
// itself (vars.x ?? 1), or the base of an optional chain on it
// (results.r?.stdout ?? ""). A plain chain (vars.x.y ?? 1) fails on a
// missing vars.x before ?? is reached, so it covers nothing.
func defaultedRef(left ast.Node) *ast.MemberNode {
	n := unchain(left)
	for {
		m, ok := n.(*ast.MemberNode)
		if !ok {
			return nil
		}
		if _, _, isRef := refOf(m); isRef {
			return m
		}
		inner, ok := unchain(m.Node).(*ast.MemberNode)
		if !ok || !m.Optional {
			return nil
		}
		n = inner
	}
}

func unchain(n ast.Node) ast.Node {
	if ch, ok := n.(*ast.ChainNode); ok {
		return ch.Node
	}
	return n
}

// refOf reports whether m is root.NAME (or root["NAME"]) for a root whose
// members depend on the node.
func refOf(m *ast.MemberNode) (root, name string, ok bool) {
	id, okID := m.Node.(*ast.IdentifierNode)
	prop, okP := m.Property.(*ast.StringNode)
	if !okID || !okP || !refRoots[id.Value] {
		return "", "", false
	}
	return id.Value, prop.Value, true
}

func keyOf(m *ast.MemberNode) string {
	root, name, _ := refOf(m)
	return root + "." + name
}

// resolve turns the collected nodes into Refs positioned in the caller's
// text (the expression src starts at org of it), in source order.
func (c *refCollector) resolve(src string, org origin) []Ref {
	refs := make([]Ref, 0, len(c.order))
	var runes []rune
	if len(c.order) > 0 {
		runes = []rune(src)
	}
	for _, m := range c.order {
		root, name, _ := refOf(m)
		at := m.Property.Location().From
		if at < len(runes) && strings.ContainsRune("\"'`", runes[at]) {
			at++ // vars["name"]: the name, not its quote
		}
		line, col := org.place(src, at)
		refs = append(refs, Ref{Root: root, Name: name, Line: line, Col: col, Guard: c.guard[m]})
	}
	sort.SliceStable(refs, func(i, j int) bool {
		if refs[i].Line != refs[j].Line {
			return refs[i].Line < refs[j].Line
		}
		return refs[i].Col < refs[j].Col
	})
	return refs
}
