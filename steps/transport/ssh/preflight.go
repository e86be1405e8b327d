package ssh

import (
	"context"
	"fmt"
	"sync"

	"github.com/zdu-dev/zdu/steps/transport"
)

// preflightParallel bounds concurrent dials so a large inventory does not
// trip the operator's own MaxStartups-style limits (bastions, agents).
const preflightParallel = 32

// Preflight connects to every node in parallel before a run changes
// anything, and runs a no-op through the command wrapper on each, so a node
// whose account cannot run commands (a non-POSIX login shell, a ForceCommand)
// is reported now rather than in the middle of a rolling run. It returns the transports of the nodes it reached, keyed by
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
			out[i].t, out[i].err = dialAndProbe(ctx, cfgs[i])
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

func dialAndProbe(ctx context.Context, cfg Config) (*Transport, error) {
	t, err := Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res, err := t.Run(ctx, transport.Command{Script: "echo zdu-ok"})
	if err == nil && (res.ExitCode != 0 || string(res.Stdout) != "zdu-ok\n") {
		err = fmt.Errorf("%s: the account cannot run zdu's commands (needs a POSIX login shell): "+
			"exit %d, stdout %q, stderr %q", t.label, res.ExitCode, res.Stdout, res.Stderr)
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}
