package expr

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/zdu-dev/zdu/steps/step"
)

const (
	// MaxNodes bounds the size of one expression (expr AST nodes).
	MaxNodes = 2000
	// MemoryBudget bounds what one evaluation may allocate, in expr's units
	// (elements of ranges, arrays and maps built by the expression).
	MemoryBudget = 100_000
)

// Expr is a compiled expression. It is safe for concurrent use.
type Expr struct {
	src  string
	prog *vm.Program
	cond bool
	// metered: the expression calls functions that charge its budgets,
	// so each evaluation passes them a meter of its own.
	metered bool
	// org is where src starts in the caller's text (a template holds
	// several expressions), to place errors.
	org origin
	// at is the rune offset in src where the expression's text starts
	// (past leading space), for errors about its value.
	at int
	// refs and tests are what the expression reads and tests for; see Refs.
	refs  []Ref
	tests []Test
	// roots are the top-level names it reads (params, vars, results...).
	roots []string
}

var _ step.Expr = (*Expr)(nil)

// vms recycles expr VMs: a VM keeps its stack between runs, so evaluating
// thousands of nodes allocates little.
var vms = sync.Pool{New: func() any { return &vm.VM{MemoryBudget: MemoryBudget} }}

// CompileCond compiles a condition, which must be a boolean. When its type is
// only known at run time (e.g. vars.x), Bool checks it then.
func CompileCond(src string, sc Scope) (*Expr, error) {
	e, err := compile(src, sc, startOfText, wantBool)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// CompileValue compiles an expression of any type.
func CompileValue(src string, sc Scope) (*Expr, error) {
	e, err := compile(src, sc, startOfText, wantAny)
	if err != nil {
		return nil, err
	}
	return e, nil
}

type want int

const (
	wantAny want = iota
	wantBool
	wantInsertable // a template part: a scalar or a list, not a map
)

// baseConfig is what every expression's configuration shares: the
// builtins plans may call and the node limit. It is built once and only
// read; config copies it, so the builtin tables are not rebuilt for each of
// a plan's thousands of expressions.
var baseConfig = sync.OnceValue(func() *conf.Config {
	cfg := conf.CreateNew()
	expr.DisableAllBuiltins()(cfg)
	for _, b := range Builtins {
		expr.EnableBuiltin(b)(cfg)
	}
	expr.MaxNodes(MaxNodes)(cfg)
	for name := range cfg.Disabled {
		delete(cfg.Builtins, name)
	}
	cfg.Functions = functions()
	return cfg
})

// parseConfig is the configuration for parsing: which names are builtins,
// and the node limit. A copy with a cache of its own, so that expressions
// can be compiled concurrently.
func parseConfig() *conf.Config {
	cfg := *baseConfig()
	cfg.NtCache = nature.Cache{}
	return &cfg
}

// config is expr's configuration for an expression that names what named
// lists, in sc.
func config(sc Scope, named mentions) *conf.Config {
	cfg := parseConfig()
	expr.Env(sc.envType(named))(cfg)
	return cfg
}

// compile compiles src, which starts at org in the caller's text. It parses
// and checks the tree itself first, so scope problems get plan wording and
// the result type is known, then has expr type-check, optimise and compile
// that same tree: one parse, one check.
func compile(src string, sc Scope, org origin, w want) (*Expr, error) {
	start := runeOffset(src, len(src)-len(strings.TrimLeft(src, " \t\r\n")))
	if strings.TrimSpace(src) == "" {
		return nil, org.errorAt(src, start, "empty expression")
	}
	tree, err := parser.ParseWithConfig(src, parseConfig())
	if err != nil {
		return nil, org.fromExpr(src, err)
	}
	named, p := checkTree(tree.Node, sc)
	if p != nil {
		return nil, org.errorAt(src, p.at, "%s", p.msg)
	}
	refs, tests := collectRefs(tree.Node).resolve(src, org), whenTrue(tree.Node)
	metered := meterTree(&tree.Node)
	cfg := config(sc, named)
	typ, err := checker.Check(tree, cfg)
	if err != nil {
		return nil, org.fromExpr(src, err)
	}
	if msg := typeProblem(typ, w); msg != "" {
		return nil, org.errorAt(src, start, "%s", msg)
	}
	if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
		return nil, org.fromExpr(src, err)
	}
	prog, err := compiler.Compile(tree, cfg)
	if err != nil {
		return nil, org.fromExpr(src, err)
	}
	roots := rootsRead(tree.Node, sc)
	dropTree(tree.Node)
	return &Expr{src: src, prog: prog, cond: w == wantBool, metered: metered, org: org, at: start, refs: refs, tests: tests,
		roots: roots}, nil
}

// dropTree empties the root of a compiled tree. The program keeps its tree
// (expr's Program.Node, for tools; running it reads only the bytecode, the
// constants and the locations), and the tree with the types the checker
// left on it (each holding the environment's field tables) was over half of
// a loaded plan's memory. With the root emptied, the rest is garbage.
func dropTree(root any) {
	if v := reflect.ValueOf(root); v.Kind() == reflect.Pointer && !v.IsNil() {
		v.Elem().Set(reflect.Zero(v.Elem().Type()))
	}
}

// typeProblem says why a statically known result type does not fit; an
// unknown (interface) type passes and is checked at run time.
func typeProblem(t reflect.Type, w want) string {
	if t == nil || t.Kind() == reflect.Interface {
		return ""
	}
	switch w {
	case wantBool:
		if t.Kind() != reflect.Bool {
			return fmt.Sprintf("condition must be a boolean, got %s", typeName(t))
		}
	case wantInsertable:
		switch t.Kind() {
		case reflect.Map, reflect.Struct, reflect.Func, reflect.Chan, reflect.Pointer:
			return fmt.Sprintf("cannot insert a %s into text; pick a field or use join()", typeName(t))
		}
	}
	return ""
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Map:
		return "map"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Int16, reflect.Int8:
		if t.String() == "time.Duration" {
			return "duration"
		}
		return "int"
	}
	return t.String()
}

// Source is the expression as written.
func (e *Expr) Source() string { return e.src }

// ReadsOnly reports whether every top-level name the expression reads
// (params, vars, node, phase, results, failure, a step's own) passes known:
// then its value is known as soon as they are.
func (e *Expr) ReadsOnly(known func(root string) bool) bool {
	for _, r := range e.roots {
		if !known(r) {
			return false
		}
	}
	return true
}

// rootsRead lists the scope's top-level names that tree reads.
func rootsRead(tree ast.Node, sc Scope) []string {
	top := map[string]bool{}
	for _, n := range sc.topNames() {
		top[n] = true
	}
	v := &rootVisitor{top: top, seen: map[string]bool{}}
	ast.Walk(&tree, v)
	return v.roots
}

type rootVisitor struct {
	top, seen map[string]bool
	roots     []string
}

func (v *rootVisitor) Visit(n *ast.Node) {
	id, ok := (*n).(*ast.IdentifierNode)
	if !ok || !v.top[id.Value] || v.seen[id.Value] {
		return
	}
	v.seen[id.Value] = true
	v.roots = append(v.roots, id.Value)
}

// Refs lists the params, vars and results the expression reads, in the
// order they appear, positioned in its source text.
func (e *Expr) Refs() []Ref {
	if e == nil {
		return nil
	}
	return e.refs
}

// Tests lists the names a condition, when true, has found defined ("x" in
// vars) or not nil (vars.x != nil): a step's or phase's when that tests a
// name guards the references to it in that step or phase.
func (e *Expr) Tests() []Test {
	if e == nil {
		return nil
	}
	return e.tests
}

// Eval evaluates the expression against env, which must be an *Env (or one
// derived from it by With). Errors are *Error positioned in the source.
func (e *Expr) Eval(env step.Env) (any, error) {
	top, err := envOf(env)
	if err != nil {
		return nil, err
	}
	if e.metered {
		withMeter := make(map[string]any, len(top)+1)
		for k, v := range top {
			withMeter[k] = v
		}
		withMeter[meterName] = newMeter()
		top = withMeter
	}
	v := vms.Get().(*vm.VM)
	out, err := v.Run(e.prog, top)
	vms.Put(v)
	if err != nil {
		return nil, e.org.fromExpr(e.src, budgetWords(err))
	}
	if e.cond {
		if _, ok := out.(bool); !ok {
			return nil, e.errorf("condition must be a boolean, got %s", valueType(out))
		}
	}
	return out, nil
}

// Bool evaluates a boolean expression.
func (e *Expr) Bool(env step.Env) (bool, error) {
	out, err := e.Eval(env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, e.errorf("expression must be a boolean, got %s", valueType(out))
	}
	return b, nil
}

// errorf is an error about the expression's value, placed where its text
// starts.
func (e *Expr) errorf(format string, args ...any) *Error {
	return e.org.errorAt(e.src, e.at, format, args...)
}

func valueType(v any) string {
	if v == nil {
		return "nil"
	}
	return typeName(reflect.TypeOf(v))
}
