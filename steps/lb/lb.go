// Package lb is the contract between the lb-drain / lb-enable step types and
// the load balancer drivers (haproxy, nginx, command). A driver registers
// itself at init() under the name inventories use in `driver:`; adding a
// fourth one needs a package that implements Driver and nothing else.
package lb

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

// Target is one node's server in one logical load balancer.
type Target struct {
	LB     step.LoadBalancer
	Node   step.Node
	Server string // the node's server name in the backend (LB.Server(Node.Name))
}

// NewTarget resolves node's server in lb.
func NewTarget(lb step.LoadBalancer, node step.Node) Target {
	return Target{LB: lb, Node: node, Server: lb.Server(node.Name)}
}

// Timeout actions of a drain.
const (
	OnTimeoutFail             = "fail"
	OnTimeoutShutdownSessions = "shutdown-sessions"
)

// DrainOptions are the plan's choices for a drain.
type DrainOptions struct {
	// Polls is how many consecutive polls must see no session and no queue.
	Polls int
	// Interval is the time between polls.
	Interval time.Duration
	// Timeout bounds the wait for sessions to end.
	Timeout time.Duration
	// OnTimeout is OnTimeoutFail or OnTimeoutShutdownSessions.
	OnTimeout string
	// DrainTime is the fixed wait of drivers that cannot see sessions (nginx,
	// command without a status command).
	DrainTime time.Duration
	// Become runs the driver's commands on the load balancer host through
	// sudo -n (nginx: the file edit, test and reload).
	Become bool
}

// EnableOptions are the plan's choices for an enable.
type EnableOptions struct {
	// Weight to restore: "" restores the server's initial (configured)
	// weight; else an HAProxy weight ("10", "100%").
	Weight string
	// WaitUp waits until the load balancer reports the server up.
	WaitUp bool
	// Interval and Timeout bound the wait for the server to be up.
	Interval, Timeout time.Duration
	// Become: see DrainOptions.Become.
	Become bool
}

// Driver drains and enables a server on every instance of a logical load
// balancer together. When one instance fails during a drain, the driver puts
// the server back on the instances it had already changed before returning.
type Driver interface {
	// Drain first checks, changing nothing, that every instance is reachable
	// with enough rights, that the server exists and that draining it leaves
	// at least LB.MinHealthy servers serving. Then it takes the server out of
	// new traffic and waits until it is idle (or the timeout action ran).
	// Data describes what was seen.
	Drain(ctx context.Context, rc step.Context, t Target, o DrainOptions) (data map[string]any, err error)
	// Enable puts the server back in traffic with its weight.
	Enable(ctx context.Context, rc step.Context, t Target, o EnableOptions) (data map[string]any, err error)
	// ExplainDrain and ExplainEnable list, without touching anything, the exact
	// socket lines, commands and waits Drain and Enable would perform.
	ExplainDrain(rc step.Context, t Target, o DrainOptions) ([]string, error)
	ExplainEnable(rc step.Context, t Target, o EnableOptions) ([]string, error)
}

var (
	mu      sync.RWMutex
	drivers = map[string]Driver{}
)

// Register adds a driver. It panics on programmer errors (empty or duplicate
// name, nil driver).
func Register(name string, d Driver) {
	if name == "" || d == nil {
		panic("lb: Register needs a name and a driver")
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := drivers[name]; dup {
		panic(fmt.Sprintf("lb: driver %q registered twice", name))
	}
	drivers[name] = d
}

// Lookup returns the driver for an inventory's `driver:` value.
func Lookup(name string) (Driver, error) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := drivers[name]
	if !ok {
		names := make([]string, 0, len(drivers))
		for n := range drivers {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("no load balancer driver %q (have %v)", name, names)
	}
	return d, nil
}

// Via returns the transport that reaches an instance (its `via` node, or the
// control node) and a description for messages.
func Via(rc step.Context, in step.LBInstance) (transport.Transport, string, error) {
	t, err := rc.TransportFor(in.Via)
	if err != nil {
		return nil, "", fmt.Errorf("load balancer instance %s: reaching node %q: %w", in.Name, in.Via, err)
	}
	return t, ViaName(in.Via), nil
}

// ViaName names where an instance is reached from.
func ViaName(via string) string {
	if via == "" {
		return "control node"
	}
	return via
}

// Key is the Undo/Settles key of a node drained from a load balancer.
func Key(lbName, node string) string { return "lb/" + lbName + "/" + node }
