package haproxy

import (
	"fmt"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
)

// ExplainDrain lists the socket lines of a drain, instance by instance.
func (Driver) ExplainDrain(rc step.Context, t lb.Target, o lb.DrainOptions) ([]string, error) {
	ref := t.LB.Backend + "/" + t.Server
	var out []string
	for _, in := range t.LB.Instances {
		d := Describe(in)
		out = append(out,
			d+": show cli level (must answer admin)",
			d+": show stat (refuse unless "+ref+" exists)",
			d+": get weight "+ref+" (recorded)")
	}
	if rule := lb.MinHealthyRule(t.LB); rule != "" {
		for _, in := range t.LB.Instances {
			out = append(out, Describe(in)+": show stat (refuse unless "+rule+")")
		}
		if w := lb.ExplainMinHealthyWait(t.LB, o); w != "" {
			out = append(out, w)
		}
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
