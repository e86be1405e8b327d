package expr

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm/runtime"
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

// errBudget is an evaluation over one of its budgets.
var errBudget = errors.New("over budget")

// budgetError says what went over which budget; the VM places it at the
// call (or the +) that asked.
type budgetError struct{ msg string }

func (e *budgetError) Error() string { return e.msg }
func (e *budgetError) Unwrap() error { return errBudget }

// charge takes n bytes from the budget, or says why it cannot.
func (m *meter) charge(what string, n int) error {
	if n < 0 || n > m.bytes {
		return &budgetError{fmt.Sprintf("%s would build %s, more than the %s an expression may build (its memory budget)",
			what, byteText(n), byteText(ByteBudget))}
	}
	m.bytes -= n
	return nil
}

// iterate takes n iterations from the budget.
func (m *meter) iterate(what string, n int) error {
	if n > m.steps {
		return &budgetError{fmt.Sprintf("%s would visit %d more elements, past the %d an expression may visit in all (its iteration budget)",
			what, n, IterationBudget)}
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

// wordSize is what a list element or a string header costs: a list of a
// million empty strings is not free.
const wordSize = 16

// metered is a function of ours standing in for an expr builtin or
// operator; its first argument is the evaluation's meter.
type metered struct {
	name     string // as the plan writes it, for messages
	fn       func(m *meter, args []any) (any, error)
	validate func(args []reflect.Type) (reflect.Type, error)
}

var (
	anyType    = reflect.TypeOf((*any)(nil)).Elem()
	stringType = reflect.TypeOf("")
	intType    = reflect.TypeOf(0)
	floatType  = reflect.TypeOf(0.0)
	durType    = reflect.TypeOf(time.Duration(0))
	stringsTyp = reflect.TypeOf([]string(nil))
	listType   = reflect.TypeOf([]any(nil))
	boolType   = reflect.TypeOf(true)
)

// meteredFuncs are the functions the rewrite calls, by their hidden names.
var meteredFuncs = map[string]metered{
	"·split":   {"split", meterSplit, validateSplit},
	"·join":    {"join", meterJoin, validateJoin},
	"·upper":   {"upper", func(m *meter, a []any) (any, error) { return meterCase(m, "upper", a, strings.ToUpper) }, validateStrings("upper", 1, 1, stringType)},
	"·lower":   {"lower", func(m *meter, a []any) (any, error) { return meterCase(m, "lower", a, strings.ToLower) }, validateStrings("lower", 1, 1, stringType)},
	"·string":  {"string", meterString, validateString},
	"·add":     {"+", meterAdd, validateAdd},
	"·iter":    {"a predicate", meterIter, validateIter},
	"·matches": {"matches", meterMatches, validateStrings("matches", 2, 2, boolType)},
}

// rewritten are the builtins whose calls the rewrite replaces.
var rewritten = map[string]string{
	"split": "·split", "join": "·join", "upper": "·upper", "lower": "·lower", "string": "·string",
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

func str(v any, fn string, i int) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: argument %d must be a string, not %s", fn, i+1, valueType(v))
	}
	return s, nil
}

func meterSplit(m *meter, a []any) (any, error) {
	if len(a) < 2 || len(a) > 3 {
		return nil, fmt.Errorf("split takes 2 or 3 arguments, not %d", len(a))
	}
	s, err := str(a[0], "split", 0)
	if err != nil {
		return nil, err
	}
	sep, err := str(a[1], "split", 1)
	if err != nil {
		return nil, err
	}
	limit := -1
	if len(a) == 3 {
		limit = runtime.ToInt(a[2])
	}
	n := 1
	if sep == "" {
		n = utf8.RuneCountInString(s)
	} else {
		n += strings.Count(s, sep)
	}
	if limit >= 0 && n > limit {
		n = limit
	}
	// The pieces share s; what is new is one header per piece.
	if err := m.charge("split", n*wordSize); err != nil {
		return nil, err
	}
	return strings.SplitN(s, sep, limit), nil
}

func meterJoin(m *meter, a []any) (any, error) {
	if len(a) < 1 || len(a) > 2 {
		return nil, fmt.Errorf("join takes 1 or 2 arguments, not %d", len(a))
	}
	glue := ""
	if len(a) == 2 {
		var err error
		if glue, err = str(a[1], "join", 1); err != nil {
			return nil, err
		}
	}
	var parts []string
	switch l := a[0].(type) {
	case []string:
		parts = l
	case []any:
		parts = make([]string, len(l))
		for i, el := range l {
			s, ok := el.(string)
			if !ok {
				return nil, fmt.Errorf("join: element %d is %s, not a string", i, valueType(el))
			}
			parts[i] = s
		}
	default:
		return nil, fmt.Errorf("join: argument 1 must be a list of strings, not %s", valueType(a[0]))
	}
	size := 0
	for _, p := range parts {
		size += len(p)
		if size > ByteBudget {
			break
		}
	}
	if len(parts) > 1 {
		size += min(len(parts)-1, ByteBudget) * len(glue)
	}
	if err := m.charge("join", size); err != nil {
		return nil, err
	}
	return strings.Join(parts, glue), nil
}

// meterCase changes a string's case. A character's other case takes at most
// three bytes for every two it had.
func meterCase(m *meter, name string, a []any, change func(string) string) (any, error) {
	s, err := str(a[0], name, 0)
	if err != nil {
		return nil, err
	}
	if err := m.charge(name, len(s)+len(s)/2); err != nil {
		return nil, err
	}
	return change(s), nil
}

func meterString(m *meter, a []any) (any, error) {
	if s, ok := a[0].(string); ok {
		return s, nil
	}
	// Bound the formatted size from the value before formatting it.
	if err := m.charge("string", formattedSize(a[0], ByteBudget+1)); err != nil {
		return nil, err
	}
	return fmt.Sprintf("%v", a[0]), nil
}

// formattedSize is an upper bound of the length of fmt's %v of v, or more
// than limit (it stops counting there).
func formattedSize(v any, limit int) int {
	switch x := v.(type) {
	case nil:
		return 5
	case string:
		return len(x)
	case bool, int, int64, float64, time.Duration:
		return 32
	case []string:
		n := 2
		for _, s := range x {
			if n += len(s) + 1; n > limit {
				return n
			}
		}
		return n
	case []any:
		n := 2
		for _, el := range x {
			if n += formattedSize(el, limit-n) + 1; n > limit {
				return n
			}
		}
		return n
	case map[string]any:
		n := 5
		for k, el := range x {
			if n += len(k) + formattedSize(el, limit-n) + 2; n > limit {
				return n
			}
		}
		return n
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		n := 2
		for i := range rv.Len() {
			if n += formattedSize(rv.Index(i).Interface(), limit-n) + 1; n > limit {
				return n
			}
		}
		return n
	case reflect.Map:
		n := 5
		for it := rv.MapRange(); it.Next(); {
			if n += formattedSize(it.Key().Interface(), limit-n) + formattedSize(it.Value().Interface(), limit-n) + 2; n > limit {
				return n
			}
		}
		return n
	}
	return 64
}

func meterAdd(m *meter, a []any) (any, error) {
	if x, ok := a[0].(string); ok {
		if y, ok := a[1].(string); ok {
			if err := m.charge("+", len(x)+len(y)); err != nil {
				return nil, err
			}
			return x + y, nil
		}
	}
	return runtime.Add(a[0], a[1]), nil
}

func meterIter(m *meter, a []any) (any, error) {
	n := 0
	switch l := a[0].(type) {
	case []any:
		n = len(l)
	case []string:
		n = len(l)
	case []int:
		n = len(l)
	default:
		rv := reflect.ValueOf(a[0])
		if k := rv.Kind(); k == reflect.Slice || k == reflect.Array || k == reflect.Map || k == reflect.String {
			n = rv.Len()
		}
	}
	if err := m.iterate("a predicate (map, filter, all...)", n); err != nil {
		return nil, err
	}
	return a[0], nil
}

func meterMatches(m *meter, a []any) (any, error) {
	if a[0] == nil || a[1] == nil {
		return false, nil // as expr's matches
	}
	s, err := str(a[0], "matches", 0)
	if err != nil {
		return nil, err
	}
	pattern, err := str(a[1], "matches", 1)
	if err != nil {
		return nil, err
	}
	if len(pattern) > MaxPattern {
		return nil, &budgetError{fmt.Sprintf("matches: the pattern is %s, more than the %s a pattern may be", byteText(len(pattern)), byteText(MaxPattern))}
	}
	// A compiled pattern takes tens of bytes for each byte of it.
	if err := m.charge("matches", 64*len(pattern)); err != nil {
		return nil, err
	}
	return regexp.MatchString(pattern, s)
}

// The validators give the checker the types expr's own builtins and
// operators would, so rewriting changes no type check.

func validateSplit(args []reflect.Type) (reflect.Type, error) {
	if len(args) < 2 || len(args) > 3 {
		return nil, fmt.Errorf("split takes 2 or 3 arguments, not %d", len(args))
	}
	for i, t := range args[:2] {
		if !fits(t, stringType) {
			return nil, fmt.Errorf("split: argument %d must be a string, not %s", i+1, typeName(t))
		}
	}
	if len(args) == 3 && !isNumber(args[2]) && args[2] != anyType {
		return nil, fmt.Errorf("split: argument 3 must be an integer, not %s", typeName(args[2]))
	}
	return stringsTyp, nil
}

func validateJoin(args []reflect.Type) (reflect.Type, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("join takes 1 or 2 arguments, not %d", len(args))
	}
	if t := args[0]; t != anyType && t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
		return nil, fmt.Errorf("join: argument 1 must be a list of strings, not %s", typeName(t))
	}
	if len(args) == 2 && !fits(args[1], stringType) {
		return nil, fmt.Errorf("join: argument 2 must be a string, not %s", typeName(args[1]))
	}
	return stringType, nil
}

func validateStrings(name string, minArgs, maxArgs int, out reflect.Type) func([]reflect.Type) (reflect.Type, error) {
	return func(args []reflect.Type) (reflect.Type, error) {
		if len(args) < minArgs || len(args) > maxArgs {
			return nil, fmt.Errorf("%s takes %d argument(s), not %d", name, maxArgs, len(args))
		}
		for i, t := range args {
			if !fits(t, stringType) {
				return nil, fmt.Errorf("%s: argument %d must be a string, not %s", name, i+1, typeName(t))
			}
		}
		return out, nil
	}
}

func validateString(args []reflect.Type) (reflect.Type, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("string takes 1 argument, not %d", len(args))
	}
	return stringType, nil
}

// validateAdd types `+` as expr's checker does: numbers (durations among
// them) promote, two strings or two durations stay what they are, anything
// unknown is known at run time, anything else is a mismatch.
func validateAdd(args []reflect.Type) (reflect.Type, error) {
	l, r := args[0], args[1]
	switch {
	case l == anyType || r == anyType:
		return anyType, nil
	case l == durType && r == durType:
		return durType, nil
	case isNumber(l) && isNumber(r):
		if isInteger(l) && isInteger(r) {
			return intType, nil
		}
		return floatType, nil
	case l.Kind() == reflect.String && r.Kind() == reflect.String:
		return stringType, nil
	}
	return nil, fmt.Errorf("invalid operation: + (mismatched types %s and %s)", typeName(l), typeName(r))
}

func validateIter(args []reflect.Type) (reflect.Type, error) { return args[0], nil }

func fits(t, want reflect.Type) bool { return t == anyType || t.Kind() == want.Kind() }

func isInteger(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func isNumber(t reflect.Type) bool {
	return isInteger(t) || t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64
}
