package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/run"
)

// preflight opens the transport of every node the plan touches (targets and
// load balancer hosts), all at once, and reports every failure together.
func preflight(ctx context.Context, prog *compile.Program, pool *run.Pool) error {
	names := map[string]bool{}
	for _, ph := range prog.Phases {
		for _, n := range ph.Nodes {
			names[n.Name] = true
		}
	}
	for _, lb := range prog.Binding.Inv.LBs {
		for _, in := range lb.Instances {
			if in.Via != "" {
				names[in.Via] = true
			}
		}
	}
	// Each node writes its own slot, so the report lists failures in
	// inventory order whatever order the dials finish in.
	nodes := prog.Binding.Inv.Nodes
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if !names[n.Name] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := pool.Get(ctx, n.Name); err != nil {
				errs[i] = fmt.Errorf("  %s (%s:%d): %w", n.Name, n.Host, n.Port, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
