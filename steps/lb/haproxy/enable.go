package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
)

// Enable restores the weight and the ready state on every instance, then
// (with o.WaitUp) waits until every instance reports the server up. It goes
// on with the other instances when one fails, so as many as possible serve.
func (Driver) Enable(ctx context.Context, rc step.Context, t lb.Target, o lb.EnableOptions) (map[string]any, error) {
	insts, err := clients(rc, t.LB)
	if err != nil {
		return nil, err
	}
	for _, i := range insts {
		if err := i.c.RequireLevel(ctx, "admin"); err != nil {
			return nil, err
		}
	}
	var errs []error
	weights := map[string]any{}
	for _, i := range insts {
		if err := ready(ctx, i, t, o.Weight); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(rc.Log(), "%s: %s is ready\n", i.c.Name, i.ref(t))
		if w, err := i.c.GetWeight(ctx, t.LB.Backend, t.Server); err == nil {
			weights[i.in.Name] = w.Current
		}
	}
	data := map[string]any{"weights": weights}
	if len(errs) > 0 {
		return data, fmt.Errorf("enabling %s/%s: %w", t.LB.Backend, t.Server, errors.Join(errs...))
	}
	if !o.WaitUp {
		return data, nil
	}
	return data, waitUp(ctx, rc, insts, t, o)
}

// ready is the enable on one instance: the weight first (so the server comes
// back with it, never at 0 like the nova seed's `set weight 0` + `enable
// server`), then the ready state, then a check that the weight holds.
func ready(ctx context.Context, i inst, t lb.Target, weight string) error {
	ref := i.ref(t)
	w, err := i.c.GetWeight(ctx, t.LB.Backend, t.Server)
	if err != nil {
		return err
	}
	if weight == "" {
		weight = DefaultWeight
	}
	want, err := wantWeight(weight, w.Initial)
	if err != nil {
		return fmt.Errorf("%s: %w", i.c.Name, err)
	}
	for _, line := range []string{
		"set weight " + ref + " " + weight,
		"set server " + ref + " state ready",
	} {
		if err := i.c.Exec(ctx, line); err != nil {
			return err
		}
	}
	got, err := i.c.GetWeight(ctx, t.LB.Backend, t.Server)
	if err != nil {
		return err
	}
	if got.Current != want {
		return fmt.Errorf("%s: %s has weight %d after `set weight %s %d`", i.c.Name, ref, got.Current, ref, want)
	}
	return nil
}

// DefaultWeight is what enable restores unless the plan says otherwise: the
// weight the server was configured with, whatever happened to it at run time.
const DefaultWeight = "100%"

// wantWeight turns the plan's weight ("N", or "N%" of the initial one) into
// the weight `get weight` must show afterwards.
func wantWeight(weight string, initial int) (int, error) {
	if p, ok := strings.CutSuffix(weight, "%"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("weight %q is not a percentage", weight)
		}
		return initial * n / 100, nil
	}
	n, err := strconv.Atoi(weight)
	if err != nil || n < 0 || n > 256 {
		return 0, fmt.Errorf("weight %q is not a number from 0 to 256 or a percentage", weight)
	}
	return n, nil
}

// ValidWeight reports a problem with a plan's weight, or nil.
func ValidWeight(weight string) error {
	_, err := wantWeight(weight, 100)
	return err
}

// waitUp polls until every instance reports the server up with a weight.
func waitUp(ctx context.Context, rc step.Context, insts []inst, t lb.Target, o lb.EnableOptions) error {
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	seen := ""
	for {
		down := ""
		for _, i := range insts {
			r, err := i.c.ServerStat(wctx, t.LB.Backend, t.Server)
			if err != nil {
				if wctx.Err() != nil && ctx.Err() == nil {
					return fmt.Errorf("waiting for %s/%s to be UP: timed out after %s%s", t.LB.Backend, t.Server, o.Timeout, seen)
				}
				return err
			}
			if !r.Serving() {
				down += fmt.Sprintf("; %s: status %q weight %s check %q", i.c.Name, r.Status(), r["weight"], r["check_status"])
			}
		}
		if down == "" {
			fmt.Fprintf(rc.Log(), "%s/%s is UP on every instance\n", t.LB.Backend, t.Server)
			return nil
		}
		if down != seen {
			fmt.Fprintf(rc.Log(), "waiting for %s/%s to be UP: %s\n", t.LB.Backend, t.Server, down[2:])
			seen = down
		}
		if err := sleep(wctx, o.Interval); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("waiting for %s/%s to be UP: timed out after %s%s", t.LB.Backend, t.Server, o.Timeout, seen)
		}
	}
}

// ExplainDrain lists the socket lines of a drain, instance by instance.
func (Driver) ExplainDrain(rc step.Context, t lb.Target, o lb.DrainOptions) ([]string, error) {
	ref := t.LB.Backend + "/" + t.Server
	var out []string
	for _, in := range t.LB.Instances {
		d := Describe(in)
		out = append(out,
			d+": show cli level (must answer admin)",
			fmt.Sprintf("%s: show stat (refuse unless %s exists and at least %d other server(s) of %s are UP)", d, ref, t.LB.MinHealthy, t.LB.Backend),
			d+": get weight "+ref+" (recorded)")
	}
	for _, in := range t.LB.Instances {
		out = append(out, Describe(in)+": set server "+ref+" state drain")
	}
	out = append(out, fmt.Sprintf("wait until %s has scur=0 and qcur=0 on every instance for %d consecutive polls: show stat every %s, up to %s",
		ref, o.Polls, o.Interval, o.Timeout))
	if o.OnTimeout == lb.OnTimeoutShutdownSessions {
		out = append(out, "on timeout: shutdown sessions server "+ref+" on every instance, then go on")
	} else {
		out = append(out, "on timeout: set weight and state ready again on every instance, and fail")
	}
	return out, nil
}

// ExplainEnable lists the socket lines of an enable, instance by instance.
func (Driver) ExplainEnable(rc step.Context, t lb.Target, o lb.EnableOptions) ([]string, error) {
	ref := t.LB.Backend + "/" + t.Server
	w := DefaultWeight
	if o.Weight != "" {
		w = o.Weight
		if err := ValidWeight(w); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, in := range t.LB.Instances {
		d := Describe(in)
		out = append(out,
			d+": show cli level (must answer admin)",
			d+": get weight "+ref+" (initial weight)",
			d+": set weight "+ref+" "+w,
			d+": set server "+ref+" state ready",
			d+": get weight "+ref+" (must show the weight just set)")
	}
	if o.WaitUp {
		out = append(out, fmt.Sprintf("wait until %s is UP with a weight on every instance: show stat every %s, up to %s", ref, o.Interval, o.Timeout))
	}
	return out, nil
}
