// Package step is the contract between the engine and the step types: a step type
// registers a Definition at init(), the engine builds an Action from each step's
// `with` block at load time and runs it with a Context at run time. Step packages
// import this package and transport, never the engine.
package step

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/zdu-dev/zdu/steps/transport"
)

// Definition describes one step type.
type Definition struct {
	// Type is the name plans use in `type:`, e.g. "ssh-exec".
	Type string
	// Summary is one line for docs and did-you-mean messages.
	Summary string
	// Schema is the JSON Schema (draft 2020-12) of the step's `with` block. The
	// plan schema embeds it, so editors complete it and `zdu validate` checks it.
	Schema json.RawMessage
	// Build turns a `with` block into an Action at load time. Problems are
	// reported through a.Errorf so they carry the line and column.
	Build func(a Args) Action
	// Idempotent says that running the step again is harmless (a wait, a
	// drain): a resumed run reruns such a step when it was in flight. A
	// plan may say otherwise for one step.
	Idempotent bool
	// Disrupts says that every step of this type stops or restarts a
	// service on its node (see Disrupter for a type whose steps differ,
	// e.g. by their command). A plan may say otherwise for one step.
	Disrupts bool
}

var (
	mu       sync.RWMutex
	registry = map[string]Definition{}
)

// Register adds a step type. It panics on programmer errors: an empty or
// duplicate type, a missing builder, or a schema that is not JSON.
func Register(d Definition) {
	if d.Type == "" || d.Build == nil {
		panic("step: Register needs a Type and a Build function")
	}
	if len(d.Schema) == 0 || !json.Valid(d.Schema) {
		panic(fmt.Sprintf("step: %s: schema is not valid JSON", d.Type))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[d.Type]; dup {
		panic(fmt.Sprintf("step: type %q registered twice", d.Type))
	}
	registry[d.Type] = d
}

// Lookup returns the definition of a step type.
func Lookup(typ string) (Definition, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := registry[typ]
	return d, ok
}

// Types returns every registered step type, sorted.
func Types() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Template is a string from the plan with `${{ expr }}` parts, compiled at load
// time. Render evaluates it for one node at run time.
type Template interface {
	Render(env Env) (string, error)
	// Source is the text as written in the plan.
	Source() string
	// IsZero reports whether the key was absent.
	IsZero() bool
}

// ValueCheck vets one value a template inserts, as it is inserted; raw says
// it was written `${{ raw x }}`. The error says what the value may not hold
// (where, and why), without repeating the value: it may be a secret.
type ValueCheck func(value string, raw bool) error

// Expr is a compiled expression (e.g. a poll condition), evaluated at run time.
type Expr interface {
	Eval(env Env) (any, error)
	Source() string
}

// Env is the data an expression sees for one node at one moment. It is opaque
// to step types: they pass it back to Template.Render and Expr.Eval, adding
// their own values through With.
type Env interface {
	// With returns an Env that also holds name=value (e.g. "stat" for a poll).
	With(name string, value any) Env
}

// Args gives a step type typed access to its `with` block at load time. Every
// accessor records a positioned error instead of failing, so one validate run
// reports every problem.
type Args interface {
	// Shell compiles a string whose interpolated values are shell-quoted
	// (`${{ x }}`), except in the raw form (`${{ raw x }}`).
	Shell(key string, required bool) Template
	// Text compiles a string whose interpolated values are inserted as they are.
	Text(key string, required bool) Template
	// Texts compiles a list of strings (a single string is a list of one).
	Texts(key string) []Template
	// Checked is Text whose every inserted value must pass check: at
	// validate time for a value the inventory and the params already give
	// (a problem at the expression), else when the template is rendered
	// (Render fails, naming the expression). For values that go where a
	// separator would change what is done: a runtime API command, a URL.
	Checked(key string, required bool, check ValueCheck) Template
	// CheckedTexts is Texts with Checked's check.
	CheckedTexts(key string, check ValueCheck) []Template
	// Expr compiles an expression in the given extra names (e.g. "stat").
	Expr(key string, extra ...string) Expr
	Duration(key string, def time.Duration) time.Duration
	Int(key string, def int) int
	Bool(key string, def bool) bool
	// Enum returns the key's value, which must be one of allowed (the first is
	// the default when the key is absent).
	Enum(key string, allowed ...string) string
	// LB returns the name of a load balancer from the inventory (a constant,
	// not a template), which the loader checks exists. Empty when absent.
	LB(key string, required bool) string
	// Node returns the name of an inventory node (a constant), which the
	// loader checks exists. Empty when absent.
	Node(key string) string
	// Literal returns a value that must be written out, not interpolated
	// (a rollback's name, a weight). Empty when absent.
	Literal(key string, required bool) string
	// Has reports whether the key is present.
	Has(key string) bool
	// Errorf records a problem at key's position (or the block's, if absent).
	Errorf(key string, format string, args ...any)
}

// Node is what a step knows about the node it runs on.
type Node struct {
	Name   string
	Host   string
	Port   int
	User   string
	Groups []string
	Vars   map[string]any
}

// LBInstance is one load balancer process of a logical load balancer.
type LBInstance struct {
	Name string
	// Via names the node whose transport reaches the instance; empty is the
	// control node.
	Via string
	// Config is what the driver read from its own keys of the instance (its
	// Decode's result). It is the driver's business alone: only the driver
	// type-asserts it.
	Config any
}

// LoadBalancer is one logical load balancer from the inventory. The fields
// are what every driver has; a driver's own keys are in Config.
type LoadBalancer struct {
	Name string
	// Driver is the name of the driver that talks to it (see package lb).
	Driver string
	// Backend is the pool the nodes' servers are in, as the load balancer
	// calls it.
	Backend   string
	Instances []LBInstance
	// Servers maps a node name to its server name in the backend (default: the
	// node's name).
	Servers map[string]string
	// MinHealthy is the fewest other servers that must keep serving while
	// one is drained: a count, or with MinHealthyPercent a percentage of the
	// backend's servers (see MinServing). 0: no check.
	MinHealthy        int
	MinHealthyPercent bool
	// Config is what the driver read from its own keys of the load balancer
	// (its Decode's result); only the driver type-asserts it.
	Config any
}

// MinServing is how many other servers must keep serving while one of the
// backend's total servers (the drained one included) is drained:
// MinHealthy itself, or MinHealthy percent of total rounded up (50% of 3
// servers is 2, 50% of 4 is 2, 10% of 4 is 1).
func (lb LoadBalancer) MinServing(total int) int {
	if !lb.MinHealthyPercent {
		return lb.MinHealthy
	}
	return (lb.MinHealthy*total + 99) / 100
}

// MinHealthyString is minHealthy as the inventory writes it: "2" or "50%".
func (lb LoadBalancer) MinHealthyString() string {
	if lb.MinHealthyPercent {
		return fmt.Sprintf("%d%%", lb.MinHealthy)
	}
	return fmt.Sprint(lb.MinHealthy)
}

// Server returns the backend server name of a node.
func (lb LoadBalancer) Server(node string) string {
	if s, ok := lb.Servers[node]; ok {
		return s
	}
	return node
}

// Context is what a running step can reach. It never exposes the engine.
type Context interface {
	Node() Node
	Env() Env
	// Transport reaches the node the step runs for.
	Transport() transport.Transport
	// Control reaches the control node (where zdu runs).
	Control() transport.Transport
	// TransportFor reaches another inventory node, e.g. the host of an LB socket.
	// An empty name is the control node.
	TransportFor(node string) (transport.Transport, error)
	LoadBalancer(name string) (LoadBalancer, error)
	// Log receives the step's output for the node log (already masked).
	Log() io.Writer
}

// Outcome is what a step reports. Stdout/Stderr/ExitCode/Data are what
// `register` makes available to later expressions.
type Outcome struct {
	ExitCode int
	Stdout   string
	Stderr   string
	Data     map[string]any
	// Undo, when set, is run by the engine if the node fails before a later
	// step settles the same key, e.g. re-enabling a drained server.
	Undo *Undo
	// Settles lists Undo keys this step has made unnecessary.
	Settles []string
}

// Undo is a compensation registered by a step that changed shared state.
type Undo struct {
	Key         string
	Description string
	Run         func(ctx context.Context, rc Context) error
	// PutsBack says that Run puts the node back in service (re-enabling it
	// in a load balancer). After a failed rollback the engine keeps such a
	// compensation from running: a node in an unknown state stays out.
	PutsBack bool
	// Lost, when set, tells whether what Run would undo still holds: it
	// returns where it no longer does (a load balancer restarted and put
	// the node back in traffic), nothing when it still holds. The engine
	// asks before each later step of the node (drift).
	Lost func(ctx context.Context, rc Context) ([]string, error)
	// Redo, when set, makes it hold again (drain the node again); when nil,
	// drift fails the node's step instead.
	Redo func(ctx context.Context, rc Context) error
}

// Compensator is the ability of a step type whose Outcome.Undo can be
// rebuilt for a node without running the step: a resumed run puts back
// what a crashed one changed, and checks it for drift, through it.
type Compensator interface {
	Compensation(rc Context) (*Undo, error)
}

// RollbackRule is what a step type with the RollbackRuler ability arms for
// its node (rollback-on).
type RollbackRule struct {
	// Rollback names the plan's rollback to run; Scope is "node" (the
	// failing node) or "changed" (every node that armed the rule, newest
	// first).
	Rollback, Scope string
	// ReenableIfHealthy, when set, is a URL: a node whose rollback failed
	// is put back in service only once it answers 200 (by default it stays
	// out).
	ReenableIfHealthy Template
}

// RollbackRuler is the ability of a step type that arms a rollback rule:
// the engine knows such a step by it, not by its type's name.
type RollbackRuler interface {
	RollbackRule() RollbackRule
}

// Action is a built step, ready to run for any node.
type Action interface {
	// Run performs the step. A nil error means it passed.
	Run(ctx context.Context, rc Context) (Outcome, error)
	// Explain says exactly what Run would do for this node, one line per
	// command, socket line or wait, for the dry run. It must not touch anything.
	Explain(rc Context) ([]string, error)
}

// ExitError is a step failure with an exit code (e.g. a command's exit status).
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("%s (exit code %d)", e.Msg, e.Code)
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// Kinds of progress a step reports (the journal's kinds of the same names).
const (
	ProgressPoll = "poll" // a wait looked once: Detail polls, seen, ok
	ProgressLB   = "lb"   // a load balancer instance's state for the node: Detail lb, instance, server, state, sessions, queue
)

// Progress is what a running step reports on its way, between its start
// and its end: each look of a wait, each change of a load balancer's state
// for the node. The engine journals it, so the live view, the text lines
// and the report see a wait's answers and a drain's sessions falling.
type Progress struct {
	// Kind is ProgressPoll or ProgressLB.
	Kind string
	// Subject tells apart the things one step reports on at once (the
	// instances of a load balancer); "" when there is one.
	Subject string
	// Detail holds the figures; values must be JSON-encodable.
	Detail map[string]any
	// Changed says that what was seen differs from the subject's report
	// before: it is always journaled. A report that only counts (one more
	// poll, the same answer) may be thinned out by the engine.
	Changed bool
}

// Reporter is the ability of a Context that records progress (the
// engine's). A Context without it (the dry run's) drops the reports.
type Reporter interface {
	Report(p Progress)
}

// Report hands p to rc when it records progress.
func Report(rc Context, p Progress) {
	if r, ok := rc.(Reporter); ok {
		r.Report(p)
	}
}
