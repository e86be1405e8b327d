package run

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

// ProbeOptions shape a run's availability probe.
type ProbeOptions struct {
	probe.Config
	// Budget is the error budget (the plan's, overridden by the flag); zero
	// checks nothing. ExitCode is the run's exit code when it is exceeded.
	Budget   probe.Budget
	ExitCode int
}

// ProbeObserver is the availability probe as a run Observer: it sends
// traffic for the whole run and, at the end, reports its figures with the
// load balancers' own counters over the same time.
type ProbeObserver struct {
	p     *probe.Probe
	opt   ProbeOptions
	pool  *Pool
	count []*lbCount
}

// transports reaches the load balancers' hosts within ctx.
func (o *ProbeObserver) transports(ctx context.Context) func(node string) (transport.Transport, error) {
	return func(node string) (transport.Transport, error) { return o.pool.TransportFor(ctx, node) }
}

type lbCount struct {
	lb     step.LoadBalancer
	c      lb.Counterer
	before map[string]int64
	err    error
}

// counterTimeout bounds reading one load balancer's counters.
const counterTimeout = 10 * time.Second

// StartProbe reads the counters of every load balancer of the inventory
// whose driver has them, checks that the probe's URL answers, then starts the
// probe. ctx bounds the counter reads; the
// probe itself runs until Finish or Stop, through a graceful stop too (the
// first SIGINT ends ctx).
func StartProbe(ctx context.Context, prog *compile.Program, pool *Pool, opt ProbeOptions) (*ProbeObserver, error) {
	o := &ProbeObserver{opt: opt, pool: pool}
	// Every load balancer of the inventory, not only those the plan's
	// steps name: a plan that forgot its drain is the one whose downtime
	// the counters must show.
	for _, n := range slices.Sorted(maps.Keys(prog.Binding.Inv.LBs)) {
		l, ok := prog.Binding.Inv.LBs[n]
		if !ok {
			continue
		}
		d, err := lb.Lookup(l.Driver)
		if err != nil {
			continue
		}
		if c, ok := d.(lb.Counterer); ok {
			lc := &lbCount{lb: l, c: c}
			cctx, cancel := context.WithTimeout(ctx, counterTimeout)
			lc.before, lc.err = c.Counters(cctx, o.transports(cctx), l)
			cancel()
			o.count = append(o.count, lc)
		}
	}
	// A probe that cannot reach its URL now would only fail the run at the end.
	if err := probe.Ping(ctx, opt.Config); err != nil {
		return nil, fmt.Errorf("availability probe (--probe): %w", err)
	}
	p, err := probe.Start(context.WithoutCancel(ctx), opt.Config)
	if err != nil {
		return nil, err
	}
	o.p = p
	return o, nil
}

var _ Watcher = (*ProbeObserver)(nil)

// LiveEvery is how often the probe's completed intervals are looked for.
const LiveEvery = time.Second

// Watch journals each of the probe's per-second intervals as it
// completes (a traffic event): requests per second, failures and latency,
// with the totals so far.
func (o *ProbeObserver) Watch(stop <-chan struct{}, emit func(kind string, detail map[string]any)) {
	t := time.NewTicker(LiveEvery)
	defer t.Stop()
	next, total, failed := 0, int64(0), int64(0)
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for _, iv := range o.p.Intervals(next) {
			next++
			total += iv.Requests
			failed += iv.Failed
			d := detailOf(iv)
			d["rps"] = float64(iv.Requests) / probe.SeriesStep.Seconds()
			d["total_requests"], d["total_failed"] = total, failed
			emit(journal.KindTraffic, d)
		}
	}
}

// Stop ends the probe without a finding (a run that never started).
func (o *ProbeObserver) Stop() { o.p.Stop() }

// Finish stops the probe and reports its figures.
func (o *ProbeObserver) Finish(ctx context.Context) Finding {
	res := o.p.Stop()
	for _, lc := range o.count {
		res.LB = append(res.LB, lc.finish(ctx, o))
	}
	if !o.opt.Budget.IsZero() {
		b := o.opt.Budget
		res.Budget = &b
		res.Breach = b.Check(res)
	}
	f := Finding{Kind: journal.KindProbe, Detail: detailOf(res)}
	if res.Breach != "" {
		f.Err = fmt.Errorf("availability error budget exceeded: %s", res.Breach)
		f.Status, f.ExitCode = "ERROR_BUDGET_EXCEEDED", o.opt.ExitCode
	}
	return f
}

func (lc *lbCount) finish(ctx context.Context, o *ProbeObserver) probe.LBCounters {
	out := probe.LBCounters{LB: lc.lb.Name, Driver: lc.lb.Driver, Backend: lc.lb.Backend}
	if lc.err != nil {
		out.Error = "before the run: " + lc.err.Error()
		return out
	}
	// The run's context may be over (an abort); the counters are still worth reading.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), counterTimeout)
	defer cancel()
	after, err := lc.c.Counters(cctx, o.transports(cctx), lc.lb)
	if err != nil {
		out.Error = "after the run: " + err.Error()
		return out
	}
	out.Counters = lb.Delta(lc.before, after)
	return out
}

// detailOf turns a value (the probe's figures, a gate's baseline or
// breach) into a journal event's detail: a JSON object.
func detailOf(r any) map[string]any {
	b, err := json.Marshal(r)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return map[string]any{"error": err.Error()}
	}
	return m
}

// seriesEvery is how often RecordSeries writes the intervals completed.
const seriesEvery = time.Second

// RecordSeries writes the probe's intervals (probe.Interval, one JSON
// object a line) to w as they complete, every second while the run goes
// on, so that a run that dies keeps those written. The returned function
// stops it, writes the intervals completed by then (all of them once
// Finish or Stop has stopped the probe) and returns the first write
// error.
func (o *ProbeObserver) RecordSeries(w io.Writer) (stop func() error) {
	var (
		mu      sync.Mutex
		written int
		werr    error
	)
	flush := func() {
		mu.Lock()
		defer mu.Unlock()
		ivs := o.p.Intervals(written)
		if werr != nil || len(ivs) == 0 {
			return
		}
		var b []byte
		for _, iv := range ivs {
			line, err := json.Marshal(iv)
			if err != nil {
				werr = err
				return
			}
			b = append(append(b, line...), '\n')
		}
		if _, err := w.Write(b); err != nil {
			werr = fmt.Errorf("writing the probe's intervals: %w", err)
			return
		}
		written += len(ivs)
	}
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(seriesEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				flush()
			}
		}
	}()
	var once sync.Once
	return func() error {
		once.Do(func() {
			close(done)
			<-ended
			flush()
		})
		mu.Lock()
		defer mu.Unlock()
		return werr
	}
}
