package run

import (
	"context"
	"fmt"
	"io"
	"sync"
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

// Dialer opens a node's transport; ctx bounds the dial and the handshake
// (an operator's interrupt ends it at once).
type Dialer func(ctx context.Context, n *load.Node) (transport.Transport, error)

// Pool holds one transport per node, opened on first use and reused by every
// step on that node.
type Pool struct {
	inv  *load.Inventory
	dial Dialer
	mu   sync.Mutex
	open map[string]*poolEntry
}

type poolEntry struct {
	once sync.Once
	t    transport.Transport
	err  error
}

// NewPool returns a pool over the inventory's nodes. Nodes with transport
// local use the local transport; others go through dial.
func NewPool(inv *load.Inventory, dial Dialer) *Pool {
	return &Pool{inv: inv, dial: dial, open: map[string]*poolEntry{}}
}

// Get returns the node's transport, opening it once, within ctx.
func (p *Pool) Get(ctx context.Context, name string) (transport.Transport, error) {
	n, ok := p.inv.ByName[name]
	if !ok {
		return nil, fmt.Errorf("no node named %q in the inventory", name)
	}
	p.mu.Lock()
	e, ok := p.open[name]
	if !ok {
		e = &poolEntry{}
		p.open[name] = e
	}
	p.mu.Unlock()
	e.once.Do(func() {
		if n.Transport == "local" {
			e.t = local.New()
			return
		}
		if p.dial == nil {
			e.err = fmt.Errorf("node %s: no %s transport available", name, n.Transport)
			return
		}
		e.t, e.err = p.dial(ctx, n)
	})
	return e.t, e.err
}

// TransportFor reaches a node by name, within ctx; "" is the control node
// (local).
func (p *Pool) TransportFor(ctx context.Context, node string) (transport.Transport, error) {
	if node == "" {
		return local.New(), nil
	}
	return p.Get(ctx, node)
}

// Put installs an already open transport (e.g. from a preflight).
func (p *Pool) Put(name string, t transport.Transport) {
	e := &poolEntry{t: t}
	e.once.Do(func() {})
	p.mu.Lock()
	p.open[name] = e
	p.mu.Unlock()
}

// Close closes every open transport.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for _, e := range p.open {
		if e.t != nil {
			if err := e.t.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
