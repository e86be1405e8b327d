// Package lbdrain holds the lb-drain and lb-enable step types: take the
// node's server out of a logical load balancer (every instance together) and
// put it back, through the driver the inventory names (haproxy, nginx,
// command; see package lb). A drain registers a compensation that re-enables
// the node if anything fails before the matching lb-enable settles it, so zdu
// never leaves a node drained.
package lbdrain

import (
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"

	// The built-in drivers.
	_ "github.com/zdu-dev/zdu/steps/lb/command"
	_ "github.com/zdu-dev/zdu/steps/lb/haproxy"
	_ "github.com/zdu-dev/zdu/steps/lb/nginx"
)

const durationSchema = `"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"`

const drainSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["lb"],
  "properties": {
    "lb": {"type": "string", "description": "Logical load balancer (a key of the inventory's loadBalancers). Every instance is drained together; the node's server name comes from its servers map (default: the node name)."},
    "become": {"type": "boolean", "default": false, "description": "nginx and command drivers: run the upstream file edit, test and reload (or the commands) on the load balancer host through non-interactive sudo (sudo -n)."},
    "polls": {"type": "integer", "minimum": 1, "default": 3, "description": "haproxy: how many consecutive show stat polls must see no session (scur) and no queue (qcur) on every instance."},
    "interval": {` + durationSchema + `, "default": "1s", "description": "haproxy: time between two polls; command: between two status checks."},
    "timeout": {` + durationSchema + `, "description": "Longest wait for the sessions to end. Default: the step's timeout less a reserve for onTimeout (a fifth, at most 30s), or 5m without one."},
    "onTimeout": {"enum": ["fail", "shutdown-sessions"], "default": "fail", "description": "haproxy, when sessions remain at the timeout: fail (the server is set ready again on every instance and the step fails) or shutdown-sessions (cut them with shutdown sessions server, then go on)."},
    "drainTime": {` + durationSchema + `, "default": "10s", "description": "nginx, and command without a status command: how long to wait after taking the server out, since open requests cannot be seen. Make it longer than the slowest request."},
    "minHealthyWait": {` + durationSchema + `, "default": "0s", "description": "When the load balancer's minHealthy would be broken by this drain (too few other servers serving: one is down, drained or in maintenance), wait up to this long for the pool to recover, reading the servers' states again every interval, before refusing. The wait is logged and journaled, naming the servers that do not serve. 0: refuse at once."},
    "onDrift": {"enum": ["stop", "redrain"], "default": "stop", "description": "What to do when, before a later step of the node, the load balancer no longer holds the node out (restarted or reloaded without the drain): stop (that step fails, nothing more is done to the node while it takes traffic) or redrain (drain it again, waiting for its sessions, then go on)."}
  }
}`

const enableSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["lb"],
  "properties": {
    "lb": {"type": "string", "description": "Logical load balancer (a key of the inventory's loadBalancers). Every instance is enabled together."},
    "become": {"type": "boolean", "default": false, "description": "nginx and command drivers: run the upstream file edit, test and reload (or the commands) on the load balancer host through non-interactive sudo (sudo -n)."},
    "healthUrl": {"type": "string", "description": "Health gate: this URL must answer healthStatus before anything is enabled; if it does not within healthTimeout, the step fails and the server stays out. Interpolated, e.g. http://${{ raw node.host }}:8080/healthz."},
    "healthStatus": {"type": "integer", "minimum": 100, "maximum": 599, "default": 200, "description": "The status the health gate waits for."},
    "healthFrom": {"enum": ["control", "node"], "default": "control", "description": "Where the health gate requests from: the control node, or the node itself through its transport."},
    "healthTimeout": {` + durationSchema + `, "default": "1m", "description": "Longest wait for the health gate."},
    "weight": {"type": "string", "pattern": "^[0-9]+%?$", "default": "100%", "description": "haproxy: the weight to restore, a number (0-256) or a percentage of the server's configured weight. The default restores the configured weight, whatever was set at run time (e.g. the nova procedure's set weight 0)."},
    "waitUp": {"type": "boolean", "default": true, "description": "haproxy: wait until every instance reports the server UP (or no check) with a weight; command: until the status command says enabled."},
    "interval": {` + durationSchema + `, "default": "1s", "description": "Time between two polls of the health gate and of the load balancer."},
    "timeout": {` + durationSchema + `, "default": "2m", "description": "Longest wait for the server to be reported UP."}
  }
}`

// Defaults.
const (
	DefaultPolls        = 3
	DefaultInterval     = time.Second
	DefaultDrainTimeout = 5 * time.Minute
	DefaultDrainTime    = 10 * time.Second
	DefaultUpTimeout    = 2 * time.Minute
	DefaultHealthWait   = time.Minute
)

func init() {
	step.Register(step.Definition{
		Idempotent: true,
		Type:       "lb-drain", Summary: "take the node out of a load balancer and wait until its sessions have ended",
		Schema: []byte(drainSchema), Build: buildDrain,
	})
	step.Register(step.Definition{
		Idempotent: true,
		Type:       "lb-enable", Summary: "put the node back in a load balancer, weight restored, after an optional health gate",
		Schema: []byte(enableSchema), Build: buildEnable,
	})
}

// resolve finds the node's load balancer, its driver and its server.
func resolve(rc step.Context, name string) (lb.Driver, lb.Target, error) {
	l, err := rc.LoadBalancer(name)
	if err != nil {
		return nil, lb.Target{}, err
	}
	d, err := lb.Lookup(l.Driver)
	if err != nil {
		return nil, lb.Target{}, fmt.Errorf("load balancer %s: %w", name, err)
	}
	t := lb.NewTarget(l, rc.Node())
	if err := lb.CheckTarget(t); err != nil {
		return nil, lb.Target{}, err
	}
	return d, t, nil
}
