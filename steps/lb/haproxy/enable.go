package haproxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
)

// CheckEnable requires the admin level before any instance changes.
func (i *instance) CheckEnable(ctx context.Context, rc step.Context) error {
	return i.c.RequireLevel(ctx, "admin")
}

// Enable restores the weight and the ready state on this instance, and
// records the weight it now has.
func (i *instance) Enable(ctx context.Context, rc step.Context, o lb.EnableOptions) (map[string]any, error) {
	if err := i.ready(ctx, o.Weight); err != nil {
		return nil, err
	}
	fmt.Fprintf(rc.Log(), "%s: %s is ready\n", i.c.Name, i.ref())
	if w, err := i.c.GetWeight(ctx, i.t.LB.Backend, i.t.Server); err == nil {
		return map[string]any{"weights": w.Current}, nil
	}
	// The server is back; a weight that cannot be read now is only not recorded.
	return nil, nil
}

// ready is the enable on one instance: the weight first (so the server comes
// back with it, never at 0 like the nova seed's `set weight 0` + `enable
// server`), then the ready state, then a check that the weight holds.
func (i *instance) ready(ctx context.Context, weight string) error {
	ref := i.ref()
	w, err := i.c.GetWeight(ctx, i.t.LB.Backend, i.t.Server)
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
	got, err := i.c.GetWeight(ctx, i.t.LB.Backend, i.t.Server)
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

var _ lb.UpWaiter = Driver{}

// WaitUp polls until every instance reports the server up with a weight.
func (Driver) WaitUp(ctx context.Context, rc step.Context, t lb.Target, ins []lb.Instance, o lb.EnableOptions) error {
	insts := own(ins)
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
		if err := lb.Sleep(wctx, o.Interval); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("waiting for %s/%s to be UP: timed out after %s%s", t.LB.Backend, t.Server, o.Timeout, seen)
		}
	}
}
