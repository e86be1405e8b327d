package expr

import (
	"fmt"
	"sort"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/types"
)

// Builtins are the only functions plans may call. Everything else in expr
// (date/now, env access, repeat, JSON, reduce...) is disabled: plans need
// string, list and number helpers, nothing that reads the clock or the
// process, and nothing that multiplies memory.
var Builtins = []string{
	"len", "upper", "lower", "trim", "trimPrefix", "trimSuffix", "split", "join",
	"int", "string", "abs", "max", "min", "first", "last",
	"any", "all", "none", "one", "filter", "map", "count",
}

// predicateNames are the builtins that run a closure per element; nesting them
// multiplies the work, so their depth is bounded.
var predicateNames = map[string]bool{
	"any": true, "all": true, "none": true, "one": true,
	"filter": true, "map": true, "count": true,
}

// MaxPredicateDepth bounds how deeply predicates (map, filter, all...) nest:
// each level multiplies the iterations by the length of a list.
const MaxPredicateDepth = 3

var builtinSet = func() map[string]bool {
	m := make(map[string]bool, len(Builtins))
	for _, b := range Builtins {
		m[b] = true
	}
	return m
}()

// checker walks a parsed expression and reports the first name that the
// scope does not define, with a did-you-mean suggestion. It runs before
// expr's own type checker so the operator gets plan-level wording.
type scopeChecker struct {
	sc     Scope
	nodes  []ast.Node
	callee map[ast.Node]bool
	named  mentions
}

func (c *scopeChecker) Visit(n *ast.Node) {
	c.nodes = append(c.nodes, *n)
	if call, ok := (*n).(*ast.CallNode); ok {
		c.callee[call.Callee] = true
	}
}

// problem is a check failure at a rune offset of the expression.
type problem struct {
	at  int
	msg string
}

// checkTree checks a parsed expression against the scope and says which
// params, vars and results it names.
func checkTree(root ast.Node, sc Scope) (mentions, *problem) {
	c := &scopeChecker{sc: sc, callee: map[ast.Node]bool{}}
	ast.Walk(&root, c)
	// ast.Walk is post-order; report the leftmost problem first, as a reader
	// scans the line.
	var first *problem
	for _, n := range c.nodes {
		if p := c.check(n); p != nil && (first == nil || p.at < first.at) {
			first = p
		}
	}
	if first != nil {
		return c.named, first
	}
	return c.named, checkDepth(c.nodes)
}

func (c *scopeChecker) check(n ast.Node) *problem {
	at := n.Location().From
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if c.callee[n] {
			if _, known := builtin.Index[n.Value]; known {
				return &problem{at, fmt.Sprintf("function %q is not available in plans", n.Value)}
			}
			return &problem{at, "unknown function " + c.quoteSuggest(n.Value, Builtins)}
		}
		return c.checkName(n.Value, at)
	case *ast.BuiltinNode:
		if !builtinSet[n.Name] {
			return &problem{at, "function " + c.quoteSuggest(n.Name, Builtins) + " is not available in plans"}
		}
	case *ast.VariableDeclaratorNode:
		return &problem{at, "let is not available in plans"}
	case *ast.BinaryNode:
		// A constant pattern is compiled with the plan.
		if s, ok := n.Right.(*ast.StringNode); ok && n.Operator == "matches" && len(s.Value) > MaxPattern {
			return &problem{at, fmt.Sprintf("the pattern is %s, more than the %s a pattern may be", byteText(len(s.Value)), byteText(MaxPattern))}
		}
	case *ast.MemberNode:
		return c.checkMember(n)
	}
	return nil
}

func (c *scopeChecker) checkName(name string, at int) *problem {
	for _, t := range c.sc.topNames() {
		if t == name {
			return nil
		}
	}
	if name == "failure" {
		return &problem{at, `failure is only visible in a rollback-on condition`}
	}
	return &problem{at, "unknown name " + c.quoteSuggest(name, c.sc.topNames())}
}

// checkMember checks <top>.<field> where the field set is known.
func (c *scopeChecker) checkMember(m *ast.MemberNode) *problem {
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return nil // computed key: checked at run time
	}
	at := m.Property.Location().From
	name := prop.Value
	if id, ok := m.Node.(*ast.IdentifierNode); ok {
		c.named.add(id.Value, name)
	}
	if inner, ok := m.Node.(*ast.MemberNode); ok {
		// results.<name>.<field>
		if id, ok := inner.Node.(*ast.IdentifierNode); ok && id.Value == "results" {
			return c.fieldProblem("a registered result", name, at, resultFields)
		}
		return nil
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	switch id.Value {
	case "params":
		if _, ok := c.sc.Params[name]; !ok {
			return &problem{at, "unknown param " + quoteSuggestKeys(c, name, c.sc.Params)}
		}
	case "vars":
		if c.sc.Vars != nil && !c.sc.Vars[name] {
			return &problem{at, "unknown var " + quoteSuggestKeys(c, name, c.sc.Vars)}
		}
	case "results":
		if !c.sc.Results[name] {
			msg := fmt.Sprintf("unknown result %q: no earlier step registers it", name)
			if s := suggestKeys(c, name, c.sc.Results); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return &problem{at, msg}
		}
	case "node":
		return c.fieldProblem("node", name, at, nodeFields)
	case "phase":
		return c.fieldProblem("phase", name, at, phaseFields)
	case "failure":
		return c.fieldProblem("failure", name, at, failureFields)
	}
	return nil
}

func (c *scopeChecker) fieldProblem(obj, name string, at int, fields map[string]types.Type) *problem {
	if _, ok := fields[name]; ok {
		return nil
	}
	return &problem{at, fmt.Sprintf("%s has no field %s", obj, quoteSuggestKeys(c, name, fields))}
}

// checkDepth bounds the nesting of predicates. Each predicate's depth is 1 +
// the deepest predicate inside it; memoised, so this is one subtree walk per
// predicate at load time.
func checkDepth(nodes []ast.Node) *problem {
	depth := map[*ast.BuiltinNode]int{}
	var of func(b *ast.BuiltinNode) int
	of = func(b *ast.BuiltinNode) int {
		if d, ok := depth[b]; ok {
			return d
		}
		inner := &predicateCollector{}
		for i := range b.Arguments {
			ast.Walk(&b.Arguments[i], inner)
		}
		d := 0
		for _, p := range inner.found {
			d = max(d, of(p))
		}
		depth[b] = d + 1
		return d + 1
	}
	for _, n := range nodes {
		if b, ok := n.(*ast.BuiltinNode); ok && predicateNames[b.Name] {
			if of(b) > MaxPredicateDepth {
				return &problem{b.Location().From, fmt.Sprintf("%s: predicates (map, filter, all...) nest more than %d deep", b.Name, MaxPredicateDepth)}
			}
		}
	}
	return nil
}

type predicateCollector struct{ found []*ast.BuiltinNode }

func (p *predicateCollector) Visit(n *ast.Node) {
	if b, ok := (*n).(*ast.BuiltinNode); ok && predicateNames[b.Name] {
		p.found = append(p.found, b)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// maxSuggestCandidates bounds the names one did-you-mean compares with:
// a plan registering thousands of results gets no suggestion for a
// misspelt one, rather than a check quadratic in its size.
const maxSuggestCandidates = 1000

// quoteSuggest renders `"name"` or `"name" (did you mean "x"?)`.
func (c *scopeChecker) quoteSuggest(name string, candidates []string) string {
	if c.sc.NoSuggestions || len(candidates) > maxSuggestCandidates {
		return fmt.Sprintf("%q", name)
	}
	if s := suggest(name, candidates); s != "" {
		return fmt.Sprintf("%q (did you mean %q?)", name, s)
	}
	return fmt.Sprintf("%q", name)
}

// quoteSuggestKeys is quoteSuggest with a map's keys as the candidates.
func quoteSuggestKeys[V any](c *scopeChecker, name string, m map[string]V) string {
	if s := suggestKeys(c, name, m); s != "" {
		return fmt.Sprintf("%q (did you mean %q?)", name, s)
	}
	return fmt.Sprintf("%q", name)
}

// suggestKeys is suggest with a map's keys as the candidates, within the
// bounds quoteSuggest keeps.
func suggestKeys[V any](c *scopeChecker, name string, m map[string]V) string {
	if c.sc.NoSuggestions || len(m) > maxSuggestCandidates {
		return ""
	}
	return suggest(name, keys(m))
}

// suggest returns the candidate closest to name by edit distance, if it is
// close enough to be a plausible typo.
func suggest(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := distance(name, c)
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(2, len([]rune(name))/3) || bestD >= len([]rune(name)) {
		return ""
	}
	return best
}

// distance is the Levenshtein distance between two strings, by runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
