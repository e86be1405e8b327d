package lbdrain

import (
	"context"
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
)

type drainStep struct {
	lb         string
	o          lb.DrainOptions
	hasTimeout bool
	onDrift    string // OnDriftStop or OnDriftRedrain
}

// What a drain does when the load balancer no longer holds its node out
// (drift: it was restarted or reloaded) before a later step of the node.
const (
	OnDriftStop    = "stop"    // the node's next step fails: it is not changed while in traffic
	OnDriftRedrain = "redrain" // the node is drained again (sessions waited for), then its steps go on
)

var (
	_ step.Action         = (*drainStep)(nil)
	_ step.Compensator    = (*drainStep)(nil)
	_ step.TrafficChanger = (*drainStep)(nil)
)

// Traffic: a drain takes its node out of its load balancer.
func (s *drainStep) Traffic() step.Traffic { return step.Traffic{LB: s.lb, Out: true} }

func buildDrain(a step.Args) step.Action {
	s := &drainStep{
		lb: a.LB("lb", true),
		o: lb.DrainOptions{
			Polls:     a.Int("polls", DefaultPolls),
			Interval:  a.Duration("interval", DefaultInterval),
			Timeout:   a.Duration("timeout", DefaultDrainTimeout),
			OnTimeout: a.Enum("onTimeout", lb.OnTimeoutFail, lb.OnTimeoutShutdownSessions),
			DrainTime: a.Duration("drainTime", DefaultDrainTime),
			Become:    a.Bool("become", false),
			// The plan's policy, not the inventory's: how long a rollout
			// may wait for a flapping neighbour before it fails.
			MinHealthyWait:  a.Duration("minHealthyWait", 0),
			TimeoutFromStep: !a.Has("timeout"),
		},
		hasTimeout: a.Has("timeout"),
		onDrift:    a.Enum("onDrift", OnDriftStop, OnDriftRedrain),
	}
	if s.o.Polls < 1 {
		a.Errorf("polls", "must be at least 1")
	}
	for k, d := range map[string]time.Duration{"interval": s.o.Interval, "timeout": s.o.Timeout} {
		if d <= 0 {
			a.Errorf(k, "must be more than 0")
		}
	}
	for k, d := range map[string]time.Duration{"drainTime": s.o.DrainTime, "minHealthyWait": s.o.MinHealthyWait} {
		if d < 0 {
			a.Errorf(k, "must not be negative")
		}
	}
	return s
}

func (s *drainStep) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	d, t, err := resolve(rc, s.lb)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	fmt.Fprintf(rc.Log(), "draining %s (server %s) from load balancer %s (%s, %d instance(s))\n",
		t.Node.Name, t.Server, t.LB.Name, t.LB.Driver, len(t.LB.Instances))
	data, err := lb.Drain(ctx, rc, d, t, s.o)
	out := step.Outcome{Data: data}
	if err != nil {
		out.ExitCode = 1
		return out, fmt.Errorf("draining %s from load balancer %s: %w", t.Node.Name, t.LB.Name, err)
	}
	out.Stdout = fmt.Sprintf("%s drained from %s\n", t.Server, t.LB.Name)
	out.Undo = s.undo(d, t)
	return out, nil
}

// undo is the drain's compensation: put the node back (and tell whether it
// is still out, and drain it again, for drift).
func (s *drainStep) undo(d lb.Driver, t lb.Target) *step.Undo {
	u := &step.Undo{
		Key:         lb.Key(t.LB.Name, t.Node.Name),
		PutsBack:    true,
		Description: fmt.Sprintf("re-enable %s (server %s) in load balancer %s", t.Node.Name, t.Server, t.LB.Name),
		// The compensation restores the load balancer's state (ready, weight)
		// without waiting for the node to be healthy: its failure may be why
		// the compensation runs, and the load balancer's checks guard it.
		Run: func(ctx context.Context, rc step.Context) error {
			_, err := lb.Enable(ctx, rc, d, t, lb.EnableOptions{Become: s.o.Become})
			return err
		},
		Lost: func(ctx context.Context, rc step.Context) ([]string, error) {
			return lb.Lost(ctx, rc, d, t)
		},
	}
	if s.onDrift == OnDriftRedrain {
		u.Redo = func(ctx context.Context, rc step.Context) error {
			_, err := lb.Drain(ctx, rc, d, t, s.o)
			return err
		}
	}
	return u
}

// Compensation rebuilds the drain's compensation for rc's node, for a
// resumed run.
func (s *drainStep) Compensation(rc step.Context) (*step.Undo, error) {
	d, t, err := resolve(rc, s.lb)
	if err != nil {
		return nil, err
	}
	return s.undo(d, t), nil
}

func (s *drainStep) Explain(rc step.Context) ([]string, error) {
	d, t, err := resolve(rc, s.lb)
	if err != nil {
		return nil, err
	}
	lines := []string{fmt.Sprintf("drain %s (server %s) from load balancer %s (%s driver, %d instance(s))",
		t.Node.Name, t.Server, t.LB.Name, t.LB.Driver, len(t.LB.Instances))}
	more, err := d.ExplainDrain(rc, t, s.o)
	if err != nil {
		return nil, err
	}
	lines = append(lines, more...)
	if !s.hasTimeout {
		lines = append(lines, fmt.Sprintf("(drain timeout: the step's timeout less a reserve, or %s without one)", DefaultDrainTimeout))
	}
	return append(lines, "on a later failure of the node: re-enable it in "+t.LB.Name), nil
}
