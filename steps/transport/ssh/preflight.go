package ssh

import (
	"context"
	"fmt"
	"sync"
)

// preflightParallel bounds concurrent dials so a large inventory does not
// trip the operator's own MaxStartups-style limits (bastions, agents).
const preflightParallel = 32

// Preflight connects to every node in parallel before a run changes
// anything. It returns the transports of the nodes it reached, keyed by
// Config.Name (Host when Name is empty), and one error per node it could not
// reach or log in to, in the order of cfgs, so the operator fixes them all in
// one go. The caller owns (and closes) the transports.
func Preflight(ctx context.Context, cfgs []Config) (map[string]*Transport, []error) {
	type outcome struct {
		t   *Transport
		err error
	}
	out := make([]outcome, len(cfgs))
	seen := map[string]int{}
	for i, c := range cfgs {
		name := nodeName(c)
		if j, dup := seen[name]; dup {
			out[i].err = fmt.Errorf("node %q is listed twice (entries %d and %d)", name, j+1, i+1)
			continue
		}
		seen[name] = i
	}
	sem := make(chan struct{}, preflightParallel)
	var wg sync.WaitGroup
	for i := range cfgs {
		if out[i].err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i].t, out[i].err = Dial(ctx, cfgs[i])
		}()
	}
	wg.Wait()
	got := map[string]*Transport{}
	var errs []error
	for i, o := range out {
		if o.err != nil {
			errs = append(errs, o.err)
			continue
		}
		got[nodeName(cfgs[i])] = o.t
	}
	return got, errs
}
