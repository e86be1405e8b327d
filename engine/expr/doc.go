// Package expr is the expression and interpolation layer of plans: `when`
// conditions, value expressions and `${{ ... }}` templates in step arguments.
//
// Everything is compiled once, when the plan is loaded, against a typed Scope
// that says which params, vars and registered results exist at that point of
// the plan; an unknown name, a misspelt field or a condition that is not a
// boolean is a load error with a line and column relative to the source text.
// At run time the compiled programs are evaluated many times against an Env,
// which holds plain data only (maps, slices, strings, numbers, bools): nothing
// an expression can reach calls back into the runner.
//
// The language is expr (github.com/expr-lang/expr) restricted to the builtins
// plans need (see Builtins), without `let`, with a node limit (MaxNodes), a VM
// memory budget (MemoryBudget) and a bound on nested predicates, so no
// expression can allocate or loop without bound.
package expr
