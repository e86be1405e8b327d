package run

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
	"github.com/zdu-dev/zdu/steps/transport/local"
)

// stepContext is what a running step sees: its node, its data, transports.
// ctx is the step's attempt's context: opening a node's transport for it
// (a first use, a reconnect) ends with it.
type stepContext struct {
	r    *Runner
	node *load.Node
	env  *expr.Env
	log  io.Writer
	ctx  context.Context
	// base is what the progress the step reports is journaled as (its
	// phase, node, step, attempt, vertex); see Report.
	base     journal.Event
	progress progress
	// secret: the step's output is secret (known only once it ends), so
	// what its progress saw is not journaled, only how far it got.
	secret bool
	// attempt is the journal event of the step attempt running (its
	// start's fields), for what the step reports while it runs; nil when
	// the step is not journaled as such (a compensation's redo).
	attempt *journal.Event
}

var (
	_ step.Context      = (*stepContext)(nil)
	_ step.Reporter     = (*stepContext)(nil)
	_ step.WaitReporter = (*stepContext)(nil)
)

// Waiting journals that the step attempt waits (see step.WaitReporter):
// the live view shows it, and zdu resume says what a step in flight was
// waiting for.
func (c *stepContext) Waiting(w step.Waiting) {
	if c.attempt == nil {
		return
	}
	e := *c.attempt
	e.State, e.ExitCode, e.Error = journal.Waiting, nil, ""
	e.Detail = map[string]any{"for": w.For, "message": w.Message}
	if !w.Until.IsZero() {
		e.Detail["until"] = w.Until.UTC().Format(time.RFC3339Nano)
	}
	if w.Detail != nil {
		e.Detail["data"] = w.Detail
	}
	c.r.event(e)
}

func (c *stepContext) Node() step.Node {
	return step.Node{Name: c.node.Name, Host: c.node.Host, Port: c.node.Port, User: c.node.User,
		Groups: c.node.Groups, Vars: c.node.Vars}
}
func (c *stepContext) Env() step.Env { return c.env }
func (c *stepContext) Transport() transport.Transport {
	t, err := c.r.Transports.Get(c.context(), c.node.Name)
	if err != nil {
		return failing{err}
	}
	return t
}

// context is the step's context, for opening a transport on its behalf.
func (c *stepContext) context() context.Context {
	if c.ctx == nil {
		return c.r.stepsCtx
	}
	return c.ctx
}
func (c *stepContext) Control() transport.Transport { return local.New() }
func (c *stepContext) TransportFor(node string) (transport.Transport, error) {
	return c.r.Transports.TransportFor(c.context(), node)
}
func (c *stepContext) LoadBalancer(name string) (step.LoadBalancer, error) {
	lb, ok := c.r.Prog.Binding.Inv.LBs[name]
	if !ok {
		return step.LoadBalancer{}, fmt.Errorf("no load balancer named %q in the inventory", name)
	}
	return lb, nil
}
func (c *stepContext) Log() io.Writer { return c.log }
