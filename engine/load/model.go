// Package load turns plan and inventory files into runtime types: parse, check
// against the JSON Schemas, decode into the spec model, check what a schema
// cannot (references, cycles, expressions), and build every step's Action.
// Every problem it finds carries the file, line and column to edit.
package load

import (
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/gate"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/steps/step"
)

// Plan is a loaded, checked plan, ready to bind to an inventory.
type Plan struct {
	File        string
	Name        string
	Description string
	Params      []Param
	Phases      []*Phase
	// Rollbacks holds each rollback's steps in execution order.
	Rollbacks map[string][]*Step
	// RollbackOrder is the rollbacks' names in file order.
	RollbackOrder []string
	// RollbackExitCode is the exit code when a rollback fails (Axway: 75).
	RollbackExitCode int
	// origins are the steps expanded from templates and the parts of
	// imported plans, by path, to place problems found later in their file.
	origins map[string]*Origin
	// Files are the templates and imported plans the plan loaded, in the
	// order first read: what a run keeps a copy of.
	Files []SourceFile
	// ErrorBudget is the availability probe's budget (zero: none), and
	// BudgetExitCode the exit code when it is exceeded.
	ErrorBudget    probe.Budget
	BudgetExitCode int
	// Gates are the live gates (inactive when no threshold is set);
	// OnBreach is "stop" or "rollback"; GateExitCode the exit code when
	// one fires.
	Gates        gate.Spec
	OnBreach     string
	GateExitCode int
	GatesPos     spec.Pos
}

// Canary is a phase's canary: its first Nodes, then a pause of Pause with
// the gates watching and, with Approve, a wait (up to Timeout) for zdu
// approve.
type Canary struct {
	Nodes   spec.Amount
	Pause   time.Duration
	Approve bool
	Timeout time.Duration
	Pos     spec.Pos
}

// Param is a declared parameter.
type Param struct {
	Name        string
	Kind        expr.Kind
	Description string
	Required    bool
	Default     any // nil when there is none
	Secret      bool
	Env         string   // the environment variable giving its value, if any
	Values      []string // enum
	Pos         spec.Pos
}

// Phase is one phase of a plan.
type Phase struct {
	ID, Title   string
	Targets     []string
	Strategy    spec.Strategy
	When        *expr.Expr
	ExitCode    int
	MaxFailures spec.Amount
	// Canary, when set, runs the phase's first nodes as a canary.
	Canary *Canary
	// Steps are in file order; Order is the same steps in execution order
	// (needs resolved).
	Steps []*Step
	Order []*Step
	Pos   spec.Pos
	// TargetAt is where each of Targets names its group or node.
	TargetAt []spec.Pos
	// uses are the names the phase's when reads.
	uses []use
	// AllowEmpty: the phase may target no node (allowEmpty: true).
	AllowEmpty bool
	// Origin is set for a phase imported from another plan: where it is
	// written there.
	Origin *Origin
}

// Step is one built step.
type Step struct {
	ID, Type, Name string
	Pos            spec.Pos
	Action         step.Action
	When           *expr.Expr
	Timeout        time.Duration
	// TimeoutFrom, when set, renders the timeout for the node at run time
	// (`timeout: ${{ params.startup_timeout }}`); see StepTimeout.
	TimeoutFrom     *expr.Template
	Retries         Retries
	Needs           []string // ids in the same list; see NeedsSet
	NeedsSet        bool     // false: the previous step
	Register        string
	ContinueOnError bool
	// Idempotent: running the step again is harmless (the plan's word, or
	// its type's default), so a resumed run may rerun it when it was in
	// flight.
	Idempotent bool
	// Disrupts: the step stops or restarts a service on its node (the
	// plan's word, its built step's, or its type's default); DisruptsWhy
	// says who said so, for the availability lint's warning.
	Disrupts    bool
	DisruptsWhy string
	// Secret: what the step prints on stdout is a secret (a token it
	// fetched): masked from then on in every output, and its own output
	// reaches the node log only once masked.
	Secret bool
	// Origin is set for a step expanded from a template or imported from
	// another plan: where it is written.
	Origin *Origin
	// Rollback is set for rollback-on steps.
	Rollback *RollbackRule
	// LBs lists the load balancers the step names, for the inventory check.
	LBs []ref
	// Nodes lists the inventory nodes the step names (e.g. a socket's via).
	Nodes []ref
	// Expressions counts the step's interpolations and conditions: what
	// rendering it for one node evaluates.
	Expressions int
	// uses are the params, vars and results the step's expressions read.
	uses []use
	// checks are its templates whose values the step type vets.
	checks []checked
}

// Retries says how a failed step is tried again.
type Retries struct {
	Count   int
	Delay   time.Duration
	Backoff float64
}

// RollbackRule is a rollback-on rule, armed for a node when it reaches the
// step.
type RollbackRule struct {
	step.RollbackRule
	When *expr.Expr
}

// ref is a name used at a position, checked once the other file is known.
type ref struct {
	Name string
	Pos  spec.Pos
	Path string
}

// checked is a template whose inserted values a step type vets
// (step.Args.Checked), with where it is in the plan.
type checked struct {
	t    *expr.Template
	v    scalar
	path string
	src  *source
}

// use is a params/vars/results name an expression reads, at its place in
// the plan. Whether it has a value depends on the node, so it is checked
// when the plan is bound to an inventory (see checkUses).
type use struct {
	expr.Ref
	Pos  spec.Pos
	Path string
}

// StepTimeout is the step's timeout for a node's data (0: none).
func (s *Step) StepTimeout(env step.Env) (time.Duration, error) {
	if s.TimeoutFrom == nil {
		return s.Timeout, nil
	}
	txt, err := s.TimeoutFrom.Render(env)
	if err != nil {
		return 0, fmt.Errorf("timeout: %w", err)
	}
	d, err := time.ParseDuration(txt)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("timeout: %q is not a duration", txt)
	}
	return d, nil
}
