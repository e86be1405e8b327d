package expr

import (
	"time"

	"github.com/expr-lang/expr/types"
)

// Kind is the type of a plan param as expressions see it.
type Kind int

// Param kinds. An enum param is a KindString.
const (
	KindAny Kind = iota
	KindString
	KindInt
	KindBool
	KindDuration
	KindList
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInt:
		return "int"
	case KindBool:
		return "bool"
	case KindDuration:
		return "duration"
	case KindList:
		return "list"
	}
	return "any"
}

// Scope is what an expression may name at one place in a plan. It is used at
// compile time only.
//
// The top-level names params, vars, node, phase and results always exist;
// failure exists only when Failure is set, and Extra adds the names a step
// provides at run time (e.g. "stat", "response"), typed as any.
type Scope struct {
	// Params are the plan's params and their kinds.
	Params map[string]Kind
	// Vars are the variable names the inventory defines; nil allows any
	// vars.<name> (a var may be defined for some nodes only).
	Vars map[string]bool
	// Results are the register names visible here (registered by an earlier
	// step on the same node); nil means none.
	Results map[string]bool
	// Failure makes failure.* visible (rollback-on conditions).
	Failure bool
	// Extra are further top-level names a step adds at run time.
	Extra []string
	// NoSuggestions leaves the did-you-mean out of errors: the loader's
	// budget for them is spent (a plan with thousands of mistakes).
	NoSuggestions bool
}

// Fields of the fixed top-level objects, as Env fills them.
var (
	nodeFields = map[string]types.Type{
		"name":   types.String,
		"host":   types.String,
		"port":   types.Int,
		"user":   types.String,
		"groups": types.Array(types.String),
	}
	phaseFields = map[string]types.Type{
		"id": types.String,
	}
	failureFields = map[string]types.Type{
		"phase":    types.String,
		"step":     types.String,
		"node":     types.String,
		"exitCode": types.Int,
		"message":  types.String,
	}
	resultFields = map[string]types.Type{
		"ok":       types.Bool,
		"skipped":  types.Bool,
		"exitCode": types.Int,
		"stdout":   types.String,
		"stderr":   types.String,
		"data":     types.Map{types.Extra: types.Any},
	}
)

func kindType(k Kind) types.Type {
	switch k {
	case KindString:
		return types.String
	case KindInt:
		return types.Int
	case KindBool:
		return types.Bool
	case KindDuration:
		return types.TypeOf(time.Duration(0))
	case KindList:
		return types.Array(types.Any)
	}
	return types.Any
}

// envType is the compile-time shape of the Env for a scope: expr's checker
// then knows the type of every param and field. Only the params and results
// the expression names are typed (the scope checker has already refused the
// names the scope lacks): the shape is then the size of the expression, not
// of the plan, and compiling every expression of a plan stays linear in it.
func (sc Scope) envType(named mentions) types.Map {
	params := types.Map{}
	for name := range named.params {
		if k, ok := sc.Params[name]; ok {
			params[name] = kindType(k)
		}
	}
	vars := types.Map{types.Extra: types.Any}
	if sc.Vars != nil {
		vars = types.Map{}
		for name := range named.vars {
			if sc.Vars[name] {
				vars[name] = types.Any
			}
		}
	}
	result := types.Map(resultFields)
	results := types.Map{}
	for name := range named.results {
		if sc.Results[name] {
			results[name] = result
		}
	}
	env := types.Map{
		"params":  params,
		"vars":    vars,
		"node":    types.Map(nodeFields),
		"phase":   types.Map(phaseFields),
		"results": results,
	}
	if sc.Failure {
		env["failure"] = types.Map(failureFields)
	}
	for _, name := range sc.Extra {
		env[name] = types.Any
	}
	env[meterName] = types.Any
	return env
}

// mentions are the params, vars and results an expression names with a
// constant key (params.x, vars["x"]).
type mentions struct {
	params, vars, results map[string]bool
}

func (m *mentions) add(root, name string) {
	var set *map[string]bool
	switch root {
	case "params":
		set = &m.params
	case "vars":
		set = &m.vars
	case "results":
		set = &m.results
	default:
		return
	}
	if *set == nil {
		*set = map[string]bool{}
	}
	(*set)[name] = true
}

// topNames lists the top-level names of a scope, for did-you-mean.
func (sc Scope) topNames() []string {
	names := []string{"params", "vars", "node", "phase", "results"}
	if sc.Failure {
		names = append(names, "failure")
	}
	return append(names, sc.Extra...)
}
