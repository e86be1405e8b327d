package lb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
)

// PutBackTimeout bounds putting the server back after a failed drain. It
// runs on a context of its own, because the step's may be what ended.
const PutBackTimeout = 30 * time.Second

// Drain takes t's server out of new traffic on every instance of its load
// balancer and waits until it is idle. It first checks every instance,
// changing nothing, and that minHealthy holds on each (waiting, when the
// plan allows, for the pool to recover); then drains them one by one; when
// one fails, or the wait does, it puts the server back on the instances
// already changed before returning. data is what the instances and the
// waits reported.
func Drain(ctx context.Context, rc step.Context, d Driver, t Target, o DrainOptions) (data map[string]any, err error) {
	ins, err := d.Open(rc, t)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		seen, err := in.CheckDrain(ctx, rc)
		if err != nil {
			return nil, err
		}
		data = record(data, in.Name(), seen)
	}
	waited, err := checkPool(ctx, rc, t, ins, o)
	if waited > 0 {
		data = set(data, "minHealthyWaited", waited.Round(time.Millisecond).String())
	}
	if err != nil {
		return data, err
	}
	if o.TimeoutFromStep {
		o.Timeout = Budget(ctx, o.Timeout)
	}
	for n, in := range ins {
		if err := in.Drain(ctx, rc, o); err != nil {
			return data, putBack(ctx, rc, t, ins[:n], o.Become, err)
		}
		Report(rc, t, in.Name(), StateDrain, -1, -1, true)
	}
	seen, err := d.WaitIdle(ctx, rc, t, ins, o)
	for k, v := range seen {
		data = set(data, k, v)
	}
	if err != nil {
		return data, putBack(ctx, rc, t, ins, o.Become, err)
	}
	if data == nil {
		data = map[string]any{}
	}
	return data, nil
}

// putBack enables the server again on ins after a failed drain, and
// returns cause with the outcome of that.
func putBack(ctx context.Context, rc step.Context, t Target, ins []Instance, become bool, cause error) error {
	if len(ins) == 0 {
		return cause
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), PutBackTimeout)
	defer cancel()
	var errs []error
	for _, in := range ins {
		if _, err := in.Enable(cctx, rc, EnableOptions{Become: become}); err != nil {
			errs = append(errs, err)
			continue
		}
		Report(rc, t, in.Name(), StateReady, -1, -1, true)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w; putting it back also failed: %w", cause, errors.Join(errs...))
	}
	fmt.Fprintf(rc.Log(), "drain of %s from %s failed; put it back on %d instance(s)\n", t.Server, t.LB.Name, len(ins))
	return fmt.Errorf("%w (put back on %d instance(s))", cause, len(ins))
}

// Lost returns the instances of t's load balancer where its server, which
// a drain took out of new traffic, is no longer out (an instance restarted
// or reloaded without the drain). Instances that cannot tell are assumed
// to hold it.
func Lost(ctx context.Context, rc step.Context, d Driver, t Target) ([]string, error) {
	ins, err := d.Open(rc, t)
	if err != nil {
		return nil, err
	}
	var lost []string
	for _, in := range ins {
		c, ok := in.(DrainChecker)
		if !ok {
			continue
		}
		drained, err := c.Drained(ctx, rc)
		if err != nil {
			return nil, fmt.Errorf("is %s still drained on %s: %w", t.Server, in.Name(), err)
		}
		if !drained {
			lost = append(lost, in.Name())
		}
	}
	return lost, nil
}

// Enable puts t's server back in traffic on every instance of its load
// balancer. Instances that can check first are all checked before anything
// changes; then each is enabled, going on past one that fails so that as
// many as possible serve; then, with o.WaitUp, it waits until the server
// is up everywhere (for drivers that can see it).
func Enable(ctx context.Context, rc step.Context, d Driver, t Target, o EnableOptions) (data map[string]any, err error) {
	ins, err := d.Open(rc, t)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		if c, ok := in.(EnableChecker); ok {
			if err := c.CheckEnable(ctx, rc); err != nil {
				return nil, err
			}
		}
	}
	var errs []error
	for _, in := range ins {
		seen, err := in.Enable(ctx, rc, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		Report(rc, t, in.Name(), StateReady, -1, -1, true)
		data = record(data, in.Name(), seen)
	}
	if len(errs) > 0 {
		return data, errors.Join(errs...)
	}
	if data == nil {
		data = map[string]any{}
	}
	if w, ok := d.(UpWaiter); ok && o.WaitUp {
		return data, w.WaitUp(ctx, rc, t, ins, o)
	}
	return data, nil
}

// record files what one instance saw under each key, by instance name:
// {"weights": {"lb1": 10, "lb2": 10}}.
func record(data map[string]any, instance string, seen map[string]any) map[string]any {
	for k, v := range seen {
		byInstance, _ := data[k].(map[string]any)
		if byInstance == nil {
			byInstance = map[string]any{}
			data = set(data, k, byInstance)
		}
		byInstance[instance] = v
	}
	return data
}

func set(data map[string]any, k string, v any) map[string]any {
	if data == nil {
		data = map[string]any{}
	}
	data[k] = v
	return data
}
