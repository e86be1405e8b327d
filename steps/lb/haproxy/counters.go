package haproxy

import (
	"context"
	"fmt"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

var _ lb.Counterer = Driver{}

// counterColumns are the `show stat` columns of a backend's own row that
// Counters sums: 5xx answers, response and connection errors, retries,
// redispatches and denied requests. A retry or a redispatch that hid a
// failure from the client still shows in wretr and wredis.
var counterColumns = []string{"hrsp_5xx", "eresp", "econ", "wretr", "wredis", "dreq"}

// Counters reads the BACKEND row of l.Backend on every instance of l and
// sums hrsp_5xx, eresp, econ, wretr, wredis and dreq over them; a column
// this HAProxy version does not have is left out.
func (Driver) Counters(ctx context.Context, transportFor func(node string) (transport.Transport, error), l step.LoadBalancer) (map[string]int64, error) {
	if len(l.Instances) == 0 {
		return nil, fmt.Errorf("load balancer %s has no instances", l.Name)
	}
	sum := map[string]int64{}
	for _, in := range l.Instances {
		row, err := backendRow(ctx, transportFor, in, l.Backend)
		if err != nil {
			return nil, fmt.Errorf("reading the counters of backend %s of load balancer %s: %w", l.Backend, l.Name, err)
		}
		for _, col := range counterColumns {
			if _, ok := row[col]; ok {
				sum[col] += row.Int(col)
			}
		}
	}
	return sum, nil
}

// backendRow reads backend's own row (svname BACKEND) on one instance.
func backendRow(ctx context.Context, transportFor func(node string) (transport.Transport, error), in step.LBInstance, backend string) (StatRow, error) {
	tr, err := transportFor(in.Via)
	if err != nil {
		return nil, fmt.Errorf("instance %s: reaching %s: %w", in.Name, lb.ViaName(in.Via), err)
	}
	network, addr := Endpoint(in)
	c := NewClient(Describe(in), network, addr, tr.Dial)
	st, err := c.Stat(ctx)
	if err != nil {
		return nil, err
	}
	row, ok := st.Find(backend, "BACKEND")
	if !ok {
		return nil, fmt.Errorf("%s has no backend %q (backends: %v)", c.Name, backend, st.backends())
	}
	return row, nil
}

// backends lists the proxies that have a BACKEND row.
func (s *Stats) backends() []string {
	var out []string
	for _, r := range s.Rows {
		if r.Server() == "BACKEND" {
			out = append(out, r.Proxy())
		}
	}
	return out
}
