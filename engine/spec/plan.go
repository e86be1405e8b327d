package spec

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Plan is a plan file as written.
type Plan struct {
	File        string        `yaml:"-"`
	APIVersion  Value[string] `yaml:"apiVersion"`
	Kind        Value[string] `yaml:"kind"`
	Name        Value[string] `yaml:"name"`
	Description Value[string] `yaml:"description"`
	Params      Map[Param]    `yaml:"params"`
	Phases      []Phase       `yaml:"phases"`
	Rollbacks   Map[[]Step]   `yaml:"rollbacks"`
	// RollbackExitCode is zdu's exit code when a rollback fails (Axway: 75).
	RollbackExitCode Value[int] `yaml:"rollbackExitCode"`
	// ErrorBudget bounds what the availability probe may see fail.
	ErrorBudget *ErrorBudget `yaml:"errorBudget"`
	// Gates judge the probe's figures while the run goes on.
	Gates *Gates `yaml:"gates"`
}

// Gates are the live gates as written.
type Gates struct {
	Window          Value[string]  `yaml:"window"`
	MinRequests     Value[int64]   `yaml:"minRequests"`
	MaxErrorPercent Value[float64] `yaml:"maxErrorPercent"`
	MaxP99          Value[string]  `yaml:"maxP99"`
	MaxP99Increase  Value[string]  `yaml:"maxP99Increase"`
	Baseline        Value[string]  `yaml:"baseline"`
	OnBreach        Value[string]  `yaml:"onBreach"`
	ExitCode        Value[int]     `yaml:"exitCode"`
	Pos             Pos            `yaml:"-"`
}

// UnmarshalYAML keeps the gates' position.
func (g *Gates) UnmarshalYAML(n *yaml.Node) error {
	type plain Gates
	if err := n.Decode((*plain)(g)); err != nil {
		return err
	}
	g.Pos = PosOf(n)
	return nil
}

// Canary is a phase's canary as written: its first nodes, then a pause.
type Canary struct {
	Nodes   Amount        `yaml:"nodes"`
	Pause   Value[string] `yaml:"pause"`
	Approve Value[bool]   `yaml:"approve"`
	Timeout Value[string] `yaml:"timeout"`
	Pos     Pos           `yaml:"-"`
}

// UnmarshalYAML keeps the canary's position.
func (c *Canary) UnmarshalYAML(n *yaml.Node) error {
	type plain Canary
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.Pos = PosOf(n)
	return nil
}

// ErrorBudget is the availability probe's error budget as written.
type ErrorBudget struct {
	MaxFailed        Value[int64]   `yaml:"maxFailed"`
	MaxFailedPercent Value[float64] `yaml:"maxFailedPercent"`
	MaxFailureWindow Value[string]  `yaml:"maxFailureWindow"`
	ExitCode         Value[int]     `yaml:"exitCode"`
}

// Param is one declared parameter.
type Param struct {
	Type        Value[string]  `yaml:"type"`
	Description Value[string]  `yaml:"description"`
	Required    Value[bool]    `yaml:"required"`
	Default     Raw            `yaml:"default"`
	Secret      Value[bool]    `yaml:"secret"`
	Env         Value[string]  `yaml:"env"`
	EnumValues  Values[string] `yaml:"values"`
	Pos         Pos            `yaml:"-"`
}

// UnmarshalYAML keeps the param's position.
func (p *Param) UnmarshalYAML(n *yaml.Node) error {
	type plain Param
	if err := n.Decode((*plain)(p)); err != nil {
		return err
	}
	p.Pos = PosOf(n)
	return nil
}

// Phase is one phase as written.
type Phase struct {
	ID          Value[string]  `yaml:"id"`
	Title       Value[string]  `yaml:"title"`
	Targets     Values[string] `yaml:"targets"`
	Strategy    Strategy       `yaml:"strategy"`
	When        Value[string]  `yaml:"when"`
	ExitCode    Value[int]     `yaml:"exitCode"`
	MaxFailures Amount         `yaml:"maxFailures"`
	Canary      *Canary        `yaml:"canary"`
	// AllowEmpty lets the phase target no node of the inventory.
	AllowEmpty Value[bool] `yaml:"allowEmpty"`
	Steps      []Step      `yaml:"steps"`
	Pos        Pos         `yaml:"-"`
}

// UnmarshalYAML keeps the phase's position.
func (p *Phase) UnmarshalYAML(n *yaml.Node) error {
	type plain Phase
	if err := n.Decode((*plain)(p)); err != nil {
		return err
	}
	p.Pos = PosOf(n)
	return nil
}

// Step is one step as written. With stays a YAML node: its shape belongs to
// the step type, which reads it through step.Args.
type Step struct {
	ID              Value[string]  `yaml:"id"`
	Type            Value[string]  `yaml:"type"`
	Name            Value[string]  `yaml:"name"`
	With            Raw            `yaml:"with"`
	When            Value[string]  `yaml:"when"`
	Timeout         Value[string]  `yaml:"timeout"`
	Retries         Retries        `yaml:"retries"`
	Needs           Values[string] `yaml:"needs"`
	Register        Value[string]  `yaml:"register"`
	ContinueOnError Value[bool]    `yaml:"continueOnError"`
	Idempotent      Value[bool]    `yaml:"idempotent"`
	Disrupts        Value[bool]    `yaml:"disrupts"`
	Secret          Value[bool]    `yaml:"secret"`
	Pos             Pos            `yaml:"-"`
}

// UnmarshalYAML keeps the step's position.
func (s *Step) UnmarshalYAML(n *yaml.Node) error {
	type plain Step
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.Pos = PosOf(n)
	return nil
}

// Retries is `retries: 3` or `retries: {count: 3, delay: 2s, backoff: 2}`.
type Retries struct {
	Count   Value[int]     `yaml:"count"`
	Delay   Value[string]  `yaml:"delay"`
	Backoff Value[float64] `yaml:"backoff"`
	Pos     Pos            `yaml:"-"`
}

// UnmarshalYAML accepts the short and the long form.
func (r *Retries) UnmarshalYAML(n *yaml.Node) error {
	r.Pos = PosOf(n)
	if n.Kind == yaml.ScalarNode {
		return r.Count.UnmarshalYAML(n)
	}
	type plain Retries
	return n.Decode((*plain)(r))
}

// StrategyKind says how many nodes of a phase run at once.
type StrategyKind string

const (
	Serial   StrategyKind = "serial"
	Batch    StrategyKind = "batch"
	Parallel StrategyKind = "parallel"
)

// Strategy is `serial`, `parallel`, `{batch: N|"N%"}` or `{parallel: N}`.
type Strategy struct {
	Kind StrategyKind
	// Size is the batch size or parallel limit; 0 for serial and unlimited parallel.
	Size Amount
	Pos  Pos
	Set  bool
}

// UnmarshalYAML accepts the forms above.
func (s *Strategy) UnmarshalYAML(n *yaml.Node) error {
	s.Pos, s.Set = PosOf(n), true
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Value {
		case string(Serial), string(Parallel):
			s.Kind = StrategyKind(n.Value)
			return nil
		}
		return fmt.Errorf("line %d: strategy must be serial, parallel, {batch: N} or {parallel: N}", n.Line)
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return fmt.Errorf("line %d: strategy takes exactly one of batch or parallel", n.Line)
		}
		k := n.Content[0].Value
		if k != string(Batch) && k != string(Parallel) {
			return fmt.Errorf("line %d: unknown strategy %q", n.Line, k)
		}
		s.Kind = StrategyKind(k)
		return s.Size.UnmarshalYAML(n.Content[1])
	}
	return fmt.Errorf("line %d: strategy must be a word or a mapping", n.Line)
}

// Amount is a count (`2`) or a share of the nodes (`"50%"`).
type Amount struct {
	N       int
	Percent bool
	Pos     Pos
	Set     bool
}

// UnmarshalYAML accepts an integer or an "N%" string.
func (a *Amount) UnmarshalYAML(n *yaml.Node) error {
	a.Pos, a.Set = PosOf(n), true
	v, pct := strings.CutSuffix(n.Value, "%")
	i, err := strconv.Atoi(strings.TrimSpace(v))
	if n.Kind != yaml.ScalarNode || err != nil || i < 0 {
		return fmt.Errorf("line %d: %q is not a count or a percentage", n.Line, n.Value)
	}
	a.N, a.Percent = i, pct
	return nil
}

// Of resolves the amount against a number of nodes: a percentage rounds up,
// and any non-zero share is at least one node.
func (a Amount) Of(total int) int {
	if !a.Percent {
		return a.N
	}
	n := (a.N*total + 99) / 100
	if n == 0 && a.N > 0 {
		n = 1
	}
	return n
}
