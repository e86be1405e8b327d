package haproxy

import (
	"context"
	"fmt"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
)

func init() {
	lb.Register(lb.Definition{
		Name:           "haproxy",
		Summary:        "HAProxy runtime API over its admin socket",
		InstanceSchema: []byte(instanceSchema),
		Decode:         decode,
		Driver:         Driver{},
		ServerStates:   true,
	})
}

// instanceSchema is an instance's own keys: where its runtime API listens.
const instanceSchema = `{
  "properties": {
    "socket": {
      "description": "HAProxy admin socket path (unix socket).",
      "type": "string",
      "minLength": 1
    },
    "address": {
      "description": "HAProxy runtime API address (host:port), instead of a socket.",
      "type": "string",
      "pattern": "^[^\\s]+:[0-9]+$",
      "patternErrorMessage": "must be host:port"
    }
  }
}`

// Config is an haproxy instance's own inventory keys (its
// step.LBInstance.Config): its runtime API's unix socket path or TCP
// address, exactly one of them.
type Config struct {
	Socket, Address string
}

func decode(l lb.Fields, ins []lb.Fields) (any, []any) {
	if len(ins) == 0 {
		l.Errorf("instances", "a haproxy load balancer needs at least one instance")
	}
	out := make([]any, len(ins))
	for n, f := range ins {
		c := Config{Socket: f.String("socket"), Address: f.String("address")}
		if (c.Socket == "") == (c.Address == "") {
			f.Errorf("", "an haproxy instance needs exactly one of socket or address")
		}
		out[n] = c
	}
	return nil, out
}

// Driver is the haproxy load balancer driver.
type Driver struct{}

var _ lb.Driver = Driver{}

// Describe names an instance's socket for messages and the dry run, without
// touching it.
func Describe(in step.LBInstance) string {
	network, addr := Endpoint(in)
	return fmt.Sprintf("haproxy %s (%s:%s via %s)", in.Name, network, addr, lb.ViaName(in.Via))
}

// Endpoint returns the network and address of an instance's runtime API.
func Endpoint(in step.LBInstance) (network, addr string) {
	c, _ := in.Config.(Config)
	if c.Address != "" {
		return "tcp", c.Address
	}
	return "unix", c.Socket
}

// ForInstance returns a client for one inventory instance, reached through
// its via node's transport (or from the control node).
func ForInstance(rc step.Context, in step.LBInstance) (*Client, error) {
	if _, ok := in.Config.(Config); !ok {
		return nil, fmt.Errorf("load balancer instance %s has no haproxy socket or address", in.Name)
	}
	tr, _, err := lb.Via(rc, in)
	if err != nil {
		return nil, err
	}
	network, addr := Endpoint(in)
	return NewClient(Describe(in), network, addr, tr.Dial), nil
}

// instance is one HAProxy of the load balancer, for one target's server.
type instance struct {
	in step.LBInstance
	c  *Client
	t  lb.Target
}

var (
	_ lb.Instance      = (*instance)(nil)
	_ lb.EnableChecker = (*instance)(nil)
	_ lb.DrainChecker  = (*instance)(nil)
	_ lb.PoolReader    = (*instance)(nil)
)

// Open returns a runtime API client per instance.
func (Driver) Open(rc step.Context, t lb.Target) ([]lb.Instance, error) {
	if len(t.LB.Instances) == 0 {
		return nil, fmt.Errorf("load balancer %s has no instances", t.LB.Name)
	}
	out := make([]lb.Instance, 0, len(t.LB.Instances))
	for _, in := range t.LB.Instances {
		c, err := ForInstance(rc, in)
		if err != nil {
			return nil, err
		}
		out = append(out, &instance{in: in, c: c, t: t})
	}
	return out, nil
}

// own returns the driver's instances behind the lb.Instance values Open made.
func own(ins []lb.Instance) []*instance {
	out := make([]*instance, len(ins))
	for n, in := range ins {
		out[n] = in.(*instance)
	}
	return out
}

func (i *instance) Name() string { return i.in.Name }

func (i *instance) ref() string { return i.t.LB.Backend + "/" + i.t.Server }

// CheckDrain checks, before anything changes: admin level, the server
// exists. It records the weight.
func (i *instance) CheckDrain(ctx context.Context, rc step.Context) (map[string]any, error) {
	t := i.t
	if err := i.c.RequireLevel(ctx, "admin"); err != nil {
		return nil, err
	}
	if _, err := i.c.ServerStat(ctx, t.LB.Backend, t.Server); err != nil {
		return nil, err
	}
	w, err := i.c.GetWeight(ctx, t.LB.Backend, t.Server)
	if err != nil {
		return nil, err
	}
	return map[string]any{"weights": w.Current}, nil
}

// Pool reads `show stat`: every server of the backend, serving when UP (or
// not checked) with a weight, not in drain or maintenance.
func (i *instance) Pool(ctx context.Context, rc step.Context) ([]lb.ServerState, error) {
	st, err := i.c.Stat(ctx)
	if err != nil {
		return nil, err
	}
	rows := st.Servers(i.t.LB.Backend)
	out := make([]lb.ServerState, len(rows))
	for n, r := range rows {
		state := r.Status()
		if r["weight"] != "" && r.Int("weight") == 0 {
			state += ", weight 0"
		}
		out[n] = lb.ServerState{Name: r.Server(), Serving: r.Serving(), State: state, Self: r.Server() == i.t.Server}
	}
	return out, nil
}

// Drained reports whether the server's admin state still holds it out
// (drain or maintenance): an HAProxy restarted without a state file, or
// another operator's `set server ... state ready`, has put it back.
func (i *instance) Drained(ctx context.Context, rc step.Context) (bool, error) {
	admin, _, err := i.c.ServerState(ctx, i.t.LB.Backend, i.t.Server)
	if err != nil {
		return false, err
	}
	return admin.Drained(), nil
}

// Drain sets the server to drain on this instance.
func (i *instance) Drain(ctx context.Context, rc step.Context, o lb.DrainOptions) error {
	line := "set server " + i.ref() + " state drain"
	fmt.Fprintf(rc.Log(), "%s: %s\n", i.c.Name, line)
	if err := i.c.Exec(ctx, line); err != nil {
		return fmt.Errorf("draining %s: %w", i.ref(), err)
	}
	return nil
}
