// Package expr is the expression and interpolation layer of plans: `when`
// conditions, value expressions and `${{ ... }}` templates in step arguments.
//
// Everything is compiled once, when the plan is loaded, against a typed Scope
// that says which params, vars and registered results exist at that point of
// the plan; an unknown name, a misspelt field or a condition that is not a
// boolean is a load error (*Error) with a line and column relative to the
// source text. At run time the compiled programs are evaluated many times
// against an Env, which holds plain data only (maps, slices, strings,
// numbers, bools): nothing an expression can reach calls back into the runner.
//
// Expressions see params.<name>, vars.<name>, node.{name,host,port,user,groups},
// phase.id, results.<register>.{ok,exitCode,stdout,stderr,data}, and in
// rollback-on conditions failure.{phase,step,node,exitCode,message}, plus the
// names a step adds at run time (Scope.Extra).
//
// Templates: `${{ expr }}` inserts a value, `${{ raw expr }}` inserts it
// without shell quoting, and `$${{` is a literal `${{`. In Shell mode a
// string becomes one single-quoted POSIX word (a NUL byte is an error), a
// list one word per element, numbers, bools and durations plain words. In
// Text mode values are inserted as they are and lists joined with ",".
//
// The language is expr (github.com/expr-lang/expr) restricted to Builtins,
// without `let`, with a node limit (MaxNodes), a VM memory budget
// (MemoryBudget) and a bound on nested predicates (MaxPredicateDepth), so no
// expression can allocate or loop without bound.
package expr
