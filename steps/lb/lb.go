// Package lb is the contract between the lb-drain / lb-enable step types and
// the load balancer drivers. A driver package registers a Definition at
// init() under the name inventories use in `driver:`: its inventory keys
// (a JSON Schema fragment and a Decode that reads them), and a Driver that
// acts on one instance at a time. This package runs a drain or an enable
// over every instance of a logical load balancer (see Drain and Enable), so
// what must happen when one instance fails is written once, here. Adding a
// driver is one new package and one import line (in steps/lbdrain).
package lb

import (
	"context"
	"fmt"
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
	// TimeoutFromStep: the plan gave no Timeout, so the wait for sessions
	// gets the step's time left (its context's deadline) less a reserve,
	// measured when that wait starts (after any wait for minHealthy);
	// Timeout is what it gets when the step has no deadline. See Budget.
	TimeoutFromStep bool
	// OnTimeout is OnTimeoutFail or OnTimeoutShutdownSessions.
	OnTimeout string
	// DrainTime is the fixed wait of drivers that cannot see sessions (nginx,
	// command without a status command).
	DrainTime time.Duration
	// Become runs the driver's commands on the load balancer host through
	// sudo -n (nginx: the file edit, test and reload).
	Become bool
	// MinHealthyWait is how long a drain that minHealthy refuses waits for
	// the pool to recover (the other servers' states read again every
	// Interval) before it gives up; 0 refuses at once.
	MinHealthyWait time.Duration
}

// Budget is the wait for sessions when the plan gave none: the time left
// before ctx's deadline less a reserve for the timeout action and the
// put-back on failure (a fifth, at most 30s); fallback without a deadline.
func Budget(ctx context.Context, fallback time.Duration) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return fallback
	}
	left := time.Until(dl)
	reserve := min(left/5, 30*time.Second)
	if left-reserve <= 0 {
		return time.Millisecond
	}
	return left - reserve
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

// Sleep waits d, or until ctx ends (then it returns ctx's error): the fixed
// waits of drivers that cannot see sessions, and the pause between polls.
func Sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
