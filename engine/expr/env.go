package expr

import (
	"fmt"

	"github.com/zdu-dev/zdu/steps/step"
)

// NodeData is the node an Env describes (node.* in expressions).
type NodeData struct {
	Name   string
	Host   string
	Port   int
	User   string
	Groups []string
}

// FailureData is what failed (failure.* in a rollback-on condition).
type FailureData struct {
	Phase    string
	Step     string
	Node     string
	ExitCode int
	Message  string
}

// Env is the data expressions see for one node at one moment. It is
// immutable: With, WithFailure and WithResult return a copy that shares
// everything but the top-level map, so deriving one per step is cheap.
//
// Values must be plain data of the kinds the Scope declared: a KindInt param
// an int, KindBool a bool, KindDuration a time.Duration, KindList a []any or
// []string, KindString a string. A missing key reads as nil.
type Env struct {
	top map[string]any
}

var _ step.Env = (*Env)(nil)

// NewEnv builds the Env of one node. results maps a register name to what
// Result returned for that step; any map may be nil.
func NewEnv(params, vars map[string]any, node NodeData, phase string, results map[string]map[string]any) *Env {
	res := make(map[string]any, len(results))
	for name, r := range results {
		res[name] = r
	}
	groups := node.Groups
	if groups == nil {
		groups = []string{}
	}
	var user any = node.User
	if node.User == "" {
		user = nil // not set in the inventory: never an empty string
	}
	return &Env{top: map[string]any{
		"params": orEmpty(params),
		"vars":   orEmpty(vars),
		"node": map[string]any{
			"name":   node.Name,
			"host":   node.Host,
			"port":   node.Port,
			"user":   user,
			"groups": groups,
		},
		"phase":   map[string]any{"id": phase},
		"results": res,
	}}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// With returns an Env that also holds the top-level name (a Scope.Extra name).
func (e *Env) With(name string, value any) step.Env { return e.with(name, value) }

func (e *Env) with(name string, value any) *Env {
	top := make(map[string]any, len(e.top)+1)
	for k, v := range e.top {
		top[k] = v
	}
	top[name] = value
	return &Env{top: top}
}

// WithPhase returns an Env for another phase of the same node.
func (e *Env) WithPhase(id string) *Env {
	return e.with("phase", map[string]any{"id": id})
}

// WithFailure returns an Env in which failure.* describes f.
func (e *Env) WithFailure(f FailureData) *Env {
	return e.with("failure", map[string]any{
		"phase":    f.Phase,
		"step":     f.Step,
		"node":     f.Node,
		"exitCode": f.ExitCode,
		"message":  f.Message,
	})
}

// WithResult returns an Env in which results.<name> is r (see Result).
func (e *Env) WithResult(name string, r map[string]any) *Env {
	old, _ := e.top["results"].(map[string]any)
	res := make(map[string]any, len(old)+1)
	for k, v := range old {
		res[k] = v
	}
	res[name] = r
	return e.with("results", res)
}

// Result is the registered form of a step's outcome: results.<name>.ok,
// .exitCode, .stdout, .stderr and .data (and .skipped, false).
func Result(o step.Outcome, err error) map[string]any {
	data := o.Data
	if data == nil {
		data = map[string]any{}
	}
	return map[string]any{
		"ok":       err == nil,
		"skipped":  false,
		"exitCode": o.ExitCode,
		"stdout":   o.Stdout,
		"stderr":   o.Stderr,
		"data":     data,
	}
}

// SkippedResult is what a step registers when its when was false: ok and
// skipped say so, and every other field has no value, so reading one is an
// error rather than an empty string.
func SkippedResult() map[string]any {
	return map[string]any{"ok": false, "skipped": true}
}

// envOf unwraps the step.Env a step passed back to us.
func envOf(env step.Env) (map[string]any, error) {
	e, ok := env.(*Env)
	if !ok || e == nil {
		return nil, fmt.Errorf("expression environment is %T, not *expr.Env", env)
	}
	return e.top, nil
}
