package expr

import (
	"sort"

	"github.com/expr-lang/expr/ast"
)

// Ref is a name an expression reads from one node's data: a param, a
// variable or a registered result (params.NAME, vars.NAME, results.NAME, or
// the same with a constant index, vars["NAME"]). Whether it has a value
// depends on the node, so the loader checks every Ref against the nodes the
// expression runs on once it knows the inventory.
type Ref struct {
	// Root is "params", "vars" or "results".
	Root string
	Name string
	// Line and Col place the name in the source text, as Error does.
	Line, Col int
	// Guarded: the expression copes with a missing value itself, by a
	// default (vars.x ?? "none") or by testing for it ("x" in vars,
	// vars.x != nil).
	Guarded bool
}

// Key is "root.name", the form Tests uses.
func (r Ref) Key() string { return r.Root + "." + r.Name }

// refRoots are the top-level names whose members depend on the node.
var refRoots = map[string]bool{"params": true, "vars": true, "results": true}

// refCollector finds the references of a parsed expression and the names it
// guards. It runs on the tree before expr's checker, which may rewrite it.
type refCollector struct {
	refs      []*ast.MemberNode
	defaulted map[*ast.MemberNode]bool
	tests     map[string]bool
}

func collectRefs(root ast.Node) *refCollector {
	c := &refCollector{defaulted: map[*ast.MemberNode]bool{}, tests: map[string]bool{}}
	ast.Walk(&root, c)
	return c
}

func (c *refCollector) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.MemberNode:
		if _, _, ok := refOf(n); ok {
			c.refs = append(c.refs, n)
		}
	case *ast.BinaryNode:
		c.binary(n)
	}
}

func (c *refCollector) binary(n *ast.BinaryNode) {
	switch n.Operator {
	case "??":
		if m := defaultedRef(n.Left); m != nil {
			c.defaulted[m] = true
		}
	case "in":
		// "x" in vars
		s, okS := n.Left.(*ast.StringNode)
		id, okID := n.Right.(*ast.IdentifierNode)
		if okS && okID && refRoots[id.Value] {
			c.tests[id.Value+"."+s.Value] = true
		}
	case "==", "!=":
		// vars.x == nil, nil != vars.x
		for _, pair := range [][2]ast.Node{{n.Left, n.Right}, {n.Right, n.Left}} {
			if _, isNil := pair[1].(*ast.NilNode); !isNil {
				continue
			}
			if m, ok := unchain(pair[0]).(*ast.MemberNode); ok {
				if root, name, ok := refOf(m); ok {
					c.tests[root+"."+name] = true
				}
			}
		}
	}
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

// resolve turns the collected nodes into Refs positioned in full (the
// expression starts at rune offset base of it).
func (c *refCollector) resolve(full string, base int) (refs []Ref, tests []string) {
	for _, m := range c.refs {
		root, name, _ := refOf(m)
		line, col := position(full, base+m.Property.Location().From)
		refs = append(refs, Ref{
			Root: root, Name: name, Line: line, Col: col,
			Guarded: c.defaulted[m] || c.tests[root+"."+name],
		})
	}
	for k := range c.tests {
		tests = append(tests, k)
	}
	sort.Strings(tests)
	return refs, tests
}
