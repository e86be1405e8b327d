package lb

import (
	"context"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

// Counterer is a driver that can read a backend's own error and retry
// counters (used by the availability probe to show what the load balancer
// saw, including failures a retry hid from the client). It is optional: the
// caller finds it by type assertion on a Driver.
type Counterer interface {
	// Counters returns the backend's counters summed over every instance of
	// l. transportFor reaches an instance's via node ("" = the control node).
	Counters(ctx context.Context, transportFor func(node string) (transport.Transport, error), l step.LoadBalancer) (map[string]int64, error)
}

// Delta returns after-before for every key of after; a key missing from
// before counts from 0.
func Delta(before, after map[string]int64) map[string]int64 {
	if after == nil {
		return nil
	}
	out := make(map[string]int64, len(after))
	for k, v := range after {
		out[k] = v - before[k]
	}
	return out
}
