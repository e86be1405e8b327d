package run

import (
	"context"
	"time"

	"github.com/zdu-dev/zdu/engine/gate"
)

// gatePoll is how often the gates read the probe's new intervals.
const gatePoll = 250 * time.Millisecond

// Gatekeeper is the probe judged by spec: the run's live gates.
func (o *ProbeObserver) Gatekeeper(spec gate.Spec) Gatekeeper {
	return &probeGates{o: o, judge: gate.NewJudge(spec), spec: spec}
}

type probeGates struct {
	o     *ProbeObserver
	spec  gate.Spec
	judge *gate.Judge
	next  int // the first interval not yet judged
}

// Baseline waits spec.Baseline while the probe measures the service as it
// is, before any node is touched, and takes its figures as the baseline.
func (g *probeGates) Baseline(ctx context.Context) (*gate.Figures, error) {
	if g.spec.Baseline <= 0 {
		return nil, nil
	}
	t := time.NewTimer(g.spec.Baseline)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// The intervals complete a little after their second: wait for the
	// baseline's whole seconds (bounded: a stopped probe has them all).
	want := int(g.spec.Baseline / time.Second)
	deadline := time.Now().Add(5 * time.Second)
	ivs := g.o.p.Intervals(0)
	for len(ivs) < want && time.Now().Before(deadline) {
		select {
		case <-time.After(gatePoll):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		ivs = g.o.p.Intervals(0)
	}
	// The last whole seconds before now: the probe began before the
	// baseline (it checks the URL first).
	if len(ivs) > want {
		ivs = ivs[len(ivs)-want:]
	}
	f := g.judge.SetBaseline(ivs)
	g.next = len(g.o.p.Intervals(0))
	return &f, nil
}

// Watch judges each interval as it completes, from the baseline's end on.
func (g *probeGates) Watch(ctx context.Context, breached func(*gate.Breach)) {
	t := time.NewTicker(gatePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ivs := g.o.p.Intervals(g.next)
		g.next += len(ivs)
		if b := g.judge.Observe(ivs...); b != nil {
			breached(b)
			return
		}
	}
}
