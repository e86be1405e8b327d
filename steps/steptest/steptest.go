// Package steptest holds test doubles for step types: Args built from a plain
// map (templates are literal text with no interpolation) and a Context around
// real transports. They let a step package test its own logic, against real
// servers, without the engine.
package steptest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/local"
)

// Args is a step.Args over a map. Errors are collected in Errs.
type Args struct {
	M    map[string]any
	Errs []string
}

var _ step.Args = (*Args)(nil)

// NewArgs returns Args for the given `with` values.
func NewArgs(m map[string]any) *Args { return &Args{M: m} }

// Build builds the registered step type typ from m and fails the test
// helper's caller through the returned error when the args are rejected.
func Build(typ string, m map[string]any) (step.Action, error) {
	d, ok := step.Lookup(typ)
	if !ok {
		return nil, fmt.Errorf("step type %q is not registered", typ)
	}
	a := NewArgs(m)
	act := d.Build(a)
	if len(a.Errs) > 0 {
		return nil, fmt.Errorf("building %s: %v", typ, a.Errs)
	}
	return act, nil
}

func (a *Args) Shell(key string, required bool) step.Template { return a.text(key, required) }
func (a *Args) Text(key string, required bool) step.Template  { return a.text(key, required) }

func (a *Args) text(key string, required bool) step.Template {
	v, ok := a.M[key]
	if !ok {
		if required {
			a.Errorf(key, "missing required key")
		}
		return Literal{Zero: true}
	}
	return Literal{S: fmt.Sprint(v)}
}

func (a *Args) Texts(key string) []step.Template {
	switch v := a.M[key].(type) {
	case nil:
		return nil
	case []string:
		out := make([]step.Template, len(v))
		for i, s := range v {
			out[i] = Literal{S: s}
		}
		return out
	case []any:
		out := make([]step.Template, len(v))
		for i, s := range v {
			out[i] = Literal{S: fmt.Sprint(s)}
		}
		return out
	default:
		return []step.Template{Literal{S: fmt.Sprint(v)}}
	}
}

// Checked is Text: a literal inserts no value, so there is none to check.
func (a *Args) Checked(key string, required bool, check step.ValueCheck) step.Template {
	return a.text(key, required)
}

// CheckedTexts is Texts, for the same reason.
func (a *Args) CheckedTexts(key string, check step.ValueCheck) []step.Template {
	return a.Texts(key)
}

// Expr returns an expression whose value is M[key] itself when it is a
// func(step.Env) (any, error), else the value as is.
func (a *Args) Expr(key string, extra ...string) step.Expr {
	v, ok := a.M[key]
	if !ok {
		return nil
	}
	if f, ok := v.(func(step.Env) (any, error)); ok {
		return FuncExpr{F: f, Src: key}
	}
	return FuncExpr{F: func(step.Env) (any, error) { return v, nil }, Src: fmt.Sprint(v)}
}

func (a *Args) Duration(key string, def time.Duration) time.Duration {
	switch v := a.M[key].(type) {
	case nil:
		return def
	case time.Duration:
		return v
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			a.Errorf(key, "%v", err)
		}
		return d
	default:
		a.Errorf(key, "not a duration: %v", v)
		return def
	}
}

func (a *Args) Int(key string, def int) int {
	if v, ok := a.M[key].(int); ok {
		return v
	}
	if _, ok := a.M[key]; ok {
		a.Errorf(key, "not an int")
	}
	return def
}

func (a *Args) Bool(key string, def bool) bool {
	if v, ok := a.M[key].(bool); ok {
		return v
	}
	if _, ok := a.M[key]; ok {
		a.Errorf(key, "not a bool")
	}
	return def
}

func (a *Args) Enum(key string, allowed ...string) string {
	v, ok := a.M[key]
	if !ok {
		return allowed[0]
	}
	for _, s := range allowed {
		if v == s {
			return s
		}
	}
	a.Errorf(key, "%v is not one of %v", v, allowed)
	return allowed[0]
}

func (a *Args) LB(key string, required bool) string {
	v, ok := a.M[key].(string)
	if !ok && required {
		a.Errorf(key, "missing required load balancer name")
	}
	return v
}

func (a *Args) Node(key string) string { v, _ := a.M[key].(string); return v }

func (a *Args) Literal(key string, required bool) string {
	v, ok := a.M[key]
	if !ok {
		if required {
			a.Errorf(key, "missing required key")
		}
		return ""
	}
	return fmt.Sprint(v)
}

func (a *Args) Has(key string) bool { _, ok := a.M[key]; return ok }

func (a *Args) Errorf(key, format string, args ...any) {
	a.Errs = append(a.Errs, key+": "+fmt.Sprintf(format, args...))
}

// Literal is a template without interpolation.
type Literal struct {
	S    string
	Zero bool
}

func (l Literal) Render(step.Env) (string, error) { return l.S, nil }
func (l Literal) Source() string                  { return l.S }
func (l Literal) IsZero() bool                    { return l.Zero }

// FuncExpr is an expression backed by a Go function.
type FuncExpr struct {
	F   func(step.Env) (any, error)
	Src string
}

func (f FuncExpr) Eval(env step.Env) (any, error) { return f.F(env) }
func (f FuncExpr) Source() string                 { return f.Src }

// Env is a plain map environment.
type Env map[string]any

func (e Env) With(name string, value any) step.Env {
	out := make(Env, len(e)+1)
	for k, v := range e {
		out[k] = v
	}
	out[name] = value
	return out
}

// Context is a step.Context for tests. Zero values fall back to the local
// transport for the node, the control node and every other node.
type Context struct {
	NodeInfo step.Node
	Vars     Env
	Tr       transport.Transport
	Others   map[string]transport.Transport
	LBs      map[string]step.LoadBalancer

	mu       sync.Mutex
	log      bytes.Buffer
	progress []step.Progress
	waits    []step.Waiting
}

var (
	_ step.Context      = (*Context)(nil)
	_ step.Reporter     = (*Context)(nil)
	_ step.WaitReporter = (*Context)(nil)
)

// Report records a step's progress (see Reported).
func (c *Context) Report(p step.Progress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.progress = append(c.progress, p)
}

// Reported returns the progress the step reported, in order.
func (c *Context) Reported() []step.Progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]step.Progress(nil), c.progress...)
}

// Waiting records what the step reports it waits for (the engine journals
// it).
func (c *Context) Waiting(w step.Waiting) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, w)
}

// Waits returns what the step reported waiting for, in order.
func (c *Context) Waits() []step.Waiting {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]step.Waiting(nil), c.waits...)
}

func (c *Context) Node() step.Node { return c.NodeInfo }
func (c *Context) Env() step.Env {
	if c.Vars == nil {
		return Env{}
	}
	return c.Vars
}
func (c *Context) Transport() transport.Transport {
	if c.Tr == nil {
		return local.New()
	}
	return c.Tr
}
func (c *Context) Control() transport.Transport { return local.New() }
func (c *Context) TransportFor(node string) (transport.Transport, error) {
	if node == "" {
		return local.New(), nil
	}
	if t, ok := c.Others[node]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("no transport for node %q", node)
}
func (c *Context) LoadBalancer(name string) (step.LoadBalancer, error) {
	lb, ok := c.LBs[name]
	if !ok {
		names := make([]string, 0, len(c.LBs))
		for n := range c.LBs {
			names = append(names, n)
		}
		sort.Strings(names)
		return step.LoadBalancer{}, fmt.Errorf("unknown load balancer %q (have %v)", name, names)
	}
	return lb, nil
}
func (c *Context) Log() io.Writer { return lockedWriter{c} }

// Logged returns everything the step wrote to its log.
func (c *Context) Logged() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

type lockedWriter struct{ c *Context }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.log.Write(p)
}

// Run runs act with a background context and a test timeout.
func Run(act step.Action, rc step.Context, timeout time.Duration) (step.Outcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return act.Run(ctx, rc)
}

// RunUntil runs act with a context whose deadline passes once cond holds, as
// if a timeout had fired at exactly that point: a test can time a wait out
// after it has looked (its log shows what it saw), however slow the machine.
// cond is checked every few milliseconds; after limit the deadline passes
// anyway.
func RunUntil(act step.Action, rc step.Context, cond func() bool, limit time.Duration) (step.Outcome, error) {
	ctx, stop := DeadlineWhen(cond, limit)
	defer stop()
	return act.Run(ctx, rc)
}

// DeadlineWhen returns a context whose deadline is an event: once cond holds
// (or limit has passed, or stop is called) Done is closed and Err is
// context.DeadlineExceeded, as for a deadline. It has no Deadline time.
func DeadlineWhen(cond func() bool, limit time.Duration) (ctx context.Context, stop func()) {
	c := &eventDeadline{Context: context.Background(), done: make(chan struct{})}
	quit := make(chan struct{})
	go func() {
		defer close(c.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		end := time.NewTimer(limit)
		defer end.Stop()
		for !cond() {
			select {
			case <-tick.C:
			case <-end.C:
				return
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	return c, func() { once.Do(func() { close(quit) }) }
}

type eventDeadline struct {
	context.Context // Background: no values, no time
	done            chan struct{}
}

func (c *eventDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *eventDeadline) Done() <-chan struct{}       { return c.done }
func (c *eventDeadline) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
