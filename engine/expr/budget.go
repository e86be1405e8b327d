package expr

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
)

// What one evaluation of an expression may build and do. expr's VM counts
// the elements of the lists, maps and ranges it builds itself
// (MemoryBudget); everything else that allocates — joining and splitting
// text, changing its case, formatting a value, `+` on strings — is a
// function of ours that charges ByteBudget for what it is about to build
// before building it, and every predicate (map, filter, all...) charges
// IterationBudget for the elements it is about to visit. A hostile
// expression (a nested split, a chain of concatenations doubling a string,
// predicates nested over long lists) stops with an error at its position
// instead of taking the process's memory or time.
const (
	// ByteBudget bounds the bytes one evaluation builds through builtins
	// and `+`, and the size of one rendered template.
	ByteBudget = 16 << 20
	// IterationBudget bounds the elements the predicates of one evaluation
	// visit, nested ones included.
	IterationBudget = 1_000_000
	// MaxPattern bounds the text of a `matches` pattern (a regular
	// expression compiles to many times its size).
	MaxPattern = 64 << 10
)

// meterName is the hidden top-level name under which an evaluation's meter
// is passed to the metered functions. It cannot be written in a plan: "·"
// is not a character of expr's names.
const meterName = "·meter"

// meter is what one evaluation has left.
type meter struct {
	bytes, steps int
}

func newMeter() *meter { return &meter{bytes: ByteBudget, steps: IterationBudget} }

// charge takes n bytes from the budget, or says why it cannot.
func (m *meter) charge(what string, n int) error {
	if n < 0 || n > m.bytes {
		return fmt.Errorf("%s would build %s, more than the %s an expression may build (its memory budget)",
			what, byteText(n), byteText(ByteBudget))
	}
	m.bytes -= n
	return nil
}

// iterate takes n iterations from the budget.
func (m *meter) iterate(what string, n int) error {
	if n > m.steps {
		return fmt.Errorf("%s would visit %d more elements, past the %d an expression may visit in all (its iteration budget)",
			what, n, IterationBudget)
	}
	m.steps -= n
	return nil
}

func byteText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// budgetWords rewords expr's own "memory budget exceeded" (too many list
// and map elements built) the way our budgets speak.
func budgetWords(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) && fe.Message == "memory budget exceeded" {
		fe.Message = fmt.Sprintf("the expression would build more than %d list and map elements (its memory budget)", MemoryBudget)
	}
	return err
}

// metered is a function of ours standing in for an expr builtin or
// operator; its first argument is the evaluation's meter.
type metered struct {
	name     string // as the plan writes it, for messages
	fn       func(m *meter, args []any) (any, error)
	validate func(args []reflect.Type) (reflect.Type, error)
}

// functions are the metered functions as expr declares them.
func functions() map[string]*builtin.Function {
	out := make(map[string]*builtin.Function, len(meteredFuncs))
	for name, f := range meteredFuncs {
		out[name] = &builtin.Function{
			Name: name,
			Func: func(args ...any) (any, error) {
				m, ok := args[0].(*meter)
				if !ok {
					return nil, fmt.Errorf("%s: the expression was evaluated without its budget", f.name)
				}
				return f.fn(m, args[1:])
			},
			Validate: func(args []reflect.Type) (reflect.Type, error) {
				if len(args) == 0 {
					return nil, fmt.Errorf("%s: missing budget", f.name)
				}
				return f.validate(args[1:])
			},
		}
	}
	return out
}

// meterTree rewrites a checked tree so that what allocates is metered:
// split, join, upper, lower and string become our functions, `+` becomes
// ·add, a non-constant `matches` ·matches, and the collection of every
// predicate goes through ·iter, each given the meter first. It reports
// whether anything was rewritten (else the expression needs no meter).
func meterTree(root *ast.Node) bool {
	r := &rewriter{}
	ast.Walk(root, r)
	return r.any
}

type rewriter struct{ any bool }

func (r *rewriter) Visit(n *ast.Node) {
	switch node := (*n).(type) {
	case *ast.BuiltinNode:
		if name, ok := rewritten[node.Name]; ok {
			r.call(n, name, node.Arguments...)
			return
		}
		if predicateNames[node.Name] && len(node.Arguments) > 0 {
			arg := &node.Arguments[0]
			r.call(arg, "·iter", *arg)
		}
	case *ast.BinaryNode:
		switch node.Operator {
		case "+":
			r.call(n, "·add", node.Left, node.Right)
		case "matches":
			if _, constant := node.Right.(*ast.StringNode); !constant {
				r.call(n, "·matches", node.Left, node.Right)
			}
		}
	}
}

// call replaces *n with a call of the metered function name on args, at
// *n's place (so a budget error points at the builtin or the operator).
func (r *rewriter) call(n *ast.Node, name string, args ...ast.Node) {
	r.any = true
	loc := (*n).Location()
	callee := &ast.IdentifierNode{Value: name}
	callee.SetLocation(loc)
	m := &ast.IdentifierNode{Value: meterName}
	m.SetLocation(loc)
	ast.Patch(n, &ast.CallNode{Callee: callee, Arguments: append([]ast.Node{m}, args...)})
}
