package lbdrain

import (
	"context"
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/wait"
)

type enableStep struct {
	lb           string
	healthURL    step.Template
	healthStatus int
	healthFrom   string
	healthWait   time.Duration
	o            lb.EnableOptions
}

var (
	_ step.Action         = (*enableStep)(nil)
	_ step.TrafficChanger = (*enableStep)(nil)
)

// Traffic: an enable puts its node back in its load balancer.
func (s *enableStep) Traffic() step.Traffic { return step.Traffic{LB: s.lb} }

func buildEnable(a step.Args) step.Action {
	s := &enableStep{
		lb:           a.LB("lb", true),
		healthURL:    a.Checked("healthUrl", false, wait.CheckURLValue),
		healthStatus: a.Int("healthStatus", 200),
		healthFrom:   a.Enum("healthFrom", "control", "node"),
		healthWait:   a.Duration("healthTimeout", DefaultHealthWait),
		o: lb.EnableOptions{
			Weight:   a.Literal("weight", false),
			WaitUp:   a.Bool("waitUp", true),
			Interval: a.Duration("interval", DefaultInterval),
			Timeout:  a.Duration("timeout", DefaultUpTimeout),
			Become:   a.Bool("become", false),
		},
	}
	if s.o.Weight != "" {
		if err := haproxy.ValidWeight(s.o.Weight); err != nil {
			a.Errorf("weight", "%v", err)
		}
	}
	for k, d := range map[string]time.Duration{"interval": s.o.Interval, "timeout": s.o.Timeout, "healthTimeout": s.healthWait} {
		if d <= 0 {
			a.Errorf(k, "must be more than 0")
		}
	}
	return s
}

func (s *enableStep) probe(rc step.Context) (*wait.HTTPProbe, error) {
	if s.healthURL.IsZero() {
		return nil, nil
	}
	u, err := s.healthURL.Render(rc.Env())
	if err != nil {
		return nil, fmt.Errorf("healthUrl: %w", err)
	}
	return &wait.HTTPProbe{URL: u, Status: s.healthStatus}, nil
}

func (s *enableStep) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	d, t, err := resolve(rc, s.lb)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	p, err := s.probe(rc)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	if p != nil {
		// HAProxy marks a server UP at once on `ready` when it has no check
		// (and nginx never checks): the node's own health decides first.
		p.Dial = rc.Control().Dial
		if s.healthFrom == "node" {
			p.Dial = rc.Transport().Dial
		}
		what := fmt.Sprintf("health gate %s before enabling %s", p.URL, t.Node.Name)
		if _, _, err := wait.Poll(ctx, rc, what, s.o.Interval, s.healthWait, p.Check); err != nil {
			return step.Outcome{ExitCode: 1}, fmt.Errorf("not enabling %s in load balancer %s: %w", t.Node.Name, t.LB.Name, err)
		}
	}
	fmt.Fprintf(rc.Log(), "enabling %s (server %s) in load balancer %s (%s, %d instance(s))\n",
		t.Node.Name, t.Server, t.LB.Name, t.LB.Driver, len(t.LB.Instances))
	data, err := lb.Enable(ctx, rc, d, t, s.o)
	out := step.Outcome{Data: data}
	if err != nil {
		// No Settles: the drain's compensation stays armed and tries again.
		out.ExitCode = 1
		return out, fmt.Errorf("enabling %s in load balancer %s: %w", t.Node.Name, t.LB.Name, err)
	}
	out.Stdout = fmt.Sprintf("%s enabled in %s\n", t.Server, t.LB.Name)
	out.Settles = []string{lb.Key(t.LB.Name, t.Node.Name)}
	return out, nil
}

func (s *enableStep) Explain(rc step.Context) ([]string, error) {
	d, t, err := resolve(rc, s.lb)
	if err != nil {
		return nil, err
	}
	var lines []string
	p, err := s.probe(rc)
	if err != nil {
		return nil, err
	}
	if p != nil {
		lines = append(lines, fmt.Sprintf("health gate: wait until GET %s from %s answers %d, every %s, up to %s; else fail without enabling",
			p.URL, s.healthFrom, p.Status, s.o.Interval, s.healthWait))
	}
	lines = append(lines, fmt.Sprintf("enable %s (server %s) in load balancer %s (%s driver, %d instance(s))",
		t.Node.Name, t.Server, t.LB.Name, t.LB.Driver, len(t.LB.Instances)))
	more, err := d.ExplainEnable(rc, t, s.o)
	if err != nil {
		return nil, err
	}
	return append(lines, more...), nil
}
