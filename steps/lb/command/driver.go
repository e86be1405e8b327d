// Package command is the load balancer driver for the operator's own
// commands, for load balancers zdu has no driver for (the Axway seed's
// placeholder made real). The inventory gives shell commands:
//
//	commands:
//	  disable: f5ctl pool "$ZDU_BACKEND" member "$ZDU_SERVER" disable
//	  enable:  f5ctl pool "$ZDU_BACKEND" member "$ZDU_SERVER" enable
//	  status:  f5ctl pool "$ZDU_BACKEND" member "$ZDU_SERVER" is "$ZDU_EXPECT"
//
// They run on each instance's via node (or once on the control node when the
// load balancer lists no instances) with the target in environment variables,
// never spliced into the text: ZDU_LB, ZDU_BACKEND, ZDU_SERVER, ZDU_NODE,
// ZDU_NODE_HOST, ZDU_INSTANCE, and for status ZDU_EXPECT (drained or
// enabled). status is optional; it must exit 0 when the server is in the
// expected state. Without it a drain waits drainTime. The commands cannot
// report the other servers' states, so minHealthy cannot be enforced (the
// driver does not declare ServerStates, and the loader refuses it).
package command

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

func init() {
	lb.Register(lb.Definition{
		Name:    "command",
		Summary: "operator-supplied drain/enable/status commands",
		Schema:  []byte(schema),
		Decode:  decode,
		Driver:  Driver{},
		// The names reach the commands only in environment variables.
		CheckBackend: lb.CheckWord,
		CheckServer:  lb.CheckWord,
	})
}

// schema is the load balancer's own key: its commands.
const schema = `{
  "properties": {
    "commands": {
      "description": "Shell commands by action: disable and enable (required), status (optional). The target is in environment variables: ZDU_LB, ZDU_BACKEND, ZDU_SERVER, ZDU_NODE, ZDU_NODE_HOST, ZDU_INSTANCE, and for status ZDU_EXPECT.",
      "type": "object",
      "properties": {
        "disable": {"description": "Takes the server out of new traffic on one instance.", "type": "string", "minLength": 1},
        "enable": {"description": "Puts the server back in traffic on one instance.", "type": "string", "minLength": 1},
        "status": {"description": "Exits 0 when the server is in the state ZDU_EXPECT says (drained or enabled). Without it a drain waits drainTime.", "type": "string", "minLength": 1}
      },
      "additionalProperties": {"type": "string", "minLength": 1}
    }
  }
}`

// Config is the command driver's own inventory keys (the
// step.LoadBalancer.Config): the shell commands by action.
type Config struct {
	Commands map[string]string
}

func decode(l lb.Fields, ins []lb.Fields) (any, []any) {
	c := Config{Commands: l.StringMap("commands")}
	for _, name := range []string{"enable", "disable"} {
		if c.Commands[name] == "" {
			l.Errorf("commands", "the command driver needs commands.%s", name)
		}
	}
	return c, nil
}

// Driver is the command load balancer driver.
type Driver struct{}

var (
	_ lb.Driver   = Driver{}
	_ lb.UpWaiter = Driver{}
)

func commandsOf(l step.LoadBalancer) map[string]string {
	c, _ := l.Config.(Config)
	return c.Commands
}

// place is where the commands run: an instance, or the load balancer itself
// when it has none.
type place struct {
	name string // instance name, or the load balancer's when it has none
	via  string
	tr   transport.Transport
	t    lb.Target
}

var _ lb.Instance = (*place)(nil)

func places(rc step.Context, t lb.Target, resolve bool) ([]*place, error) {
	ins := t.LB.Instances
	if len(ins) == 0 {
		ins = []step.LBInstance{{Name: t.LB.Name}}
	}
	var out []*place
	for _, in := range ins {
		p := &place{name: in.Name, via: in.Via, t: t}
		if resolve {
			tr, _, err := lb.Via(rc, in)
			if err != nil {
				return nil, err
			}
			p.tr = tr
		}
		out = append(out, p)
	}
	return out, nil
}

// Open resolves the transport of every place.
func (Driver) Open(rc step.Context, t lb.Target) ([]lb.Instance, error) {
	ps, err := places(rc, t, true)
	if err != nil {
		return nil, err
	}
	out := make([]lb.Instance, len(ps))
	for n, p := range ps {
		out[n] = p
	}
	return out, nil
}

func own(ins []lb.Instance) []*place {
	out := make([]*place, len(ins))
	for n, in := range ins {
		out[n] = in.(*place)
	}
	return out
}

func command(t lb.Target, p *place, which, expect string, become bool) (transport.Command, error) {
	script := commandsOf(t.LB)[which]
	if script == "" {
		return transport.Command{}, fmt.Errorf("load balancer %s has no %s command", t.LB.Name, which)
	}
	env := map[string]string{
		"ZDU_LB": t.LB.Name, "ZDU_BACKEND": t.LB.Backend, "ZDU_SERVER": t.Server,
		"ZDU_NODE": t.Node.Name, "ZDU_NODE_HOST": t.Node.Host, "ZDU_INSTANCE": p.name,
	}
	if expect != "" {
		env["ZDU_EXPECT"] = expect
	}
	return transport.Command{Script: script, Env: env, Become: become}, nil
}

// run runs one of the commands; a non-zero exit is an error for enable and
// disable, and "not yet" for status (ok=false).
func run(ctx context.Context, rc step.Context, t lb.Target, p *place, which, expect string, become bool) (bool, error) {
	c, err := command(t, p, which, expect, become)
	if err != nil {
		return false, err
	}
	log := rc.Log()
	fmt.Fprintf(log, "%s on %s: %s\n", which, lb.ViaName(p.via), transport.Script(c))
	c.Stdout, c.Stderr = log, log
	res, err := p.tr.Run(ctx, c)
	if err != nil {
		return false, fmt.Errorf("%s command for %s on %s: %w", which, p.name, lb.ViaName(p.via), err)
	}
	if res.ExitCode != 0 {
		if which == "status" {
			return false, nil
		}
		msg := strings.TrimSpace(string(res.Stderr))
		if msg != "" {
			msg = ": " + msg
		}
		return false, fmt.Errorf("%s command for %s on %s exited %d%s", which, p.name, lb.ViaName(p.via), res.ExitCode, msg)
	}
	return true, nil
}

// waitStatus polls the status command on every place until it says expect.
func waitStatus(ctx context.Context, rc step.Context, t lb.Target, ps []*place, expect string, interval, timeout time.Duration, become bool) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	said := map[string]bool{} // places reported as done waiting
	for {
		pending := ""
		for _, p := range ps {
			ok, err := run(wctx, rc, t, p, "status", expect, become)
			if err != nil && wctx.Err() == nil {
				return err
			}
			if !ok {
				pending += " " + p.name
			} else if expect == "drained" && !said[p.name] {
				said[p.name] = true
				lb.Report(rc, t, p.name, lb.StateIdle, -1, -1, true)
			}
		}
		if pending == "" {
			return nil
		}
		tm := time.NewTimer(interval)
		select {
		case <-tm.C:
		case <-wctx.Done():
			tm.Stop()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("status of %s not %s after %s on:%s", t.Server, expect, timeout, pending)
		}
	}
}

func (p *place) Name() string { return p.name }

var _ lb.DrainChecker = (*place)(nil)

// Drained asks the status command whether the server is still drained
// here; without a status command it cannot tell, and says so by holding.
func (p *place) Drained(ctx context.Context, rc step.Context) (bool, error) {
	if commandsOf(p.t.LB)["status"] == "" {
		return true, nil
	}
	return run(ctx, rc, p.t, p, "status", "drained", false)
}

// CheckDrain has nothing to check: the commands cannot tell.
func (p *place) CheckDrain(ctx context.Context, rc step.Context) (map[string]any, error) {
	return nil, nil
}

// Drain runs disable.
func (p *place) Drain(ctx context.Context, rc step.Context, o lb.DrainOptions) error {
	_, err := run(ctx, rc, p.t, p, "disable", "", o.Become)
	return err
}

// Enable runs enable.
func (p *place) Enable(ctx context.Context, rc step.Context, o lb.EnableOptions) (map[string]any, error) {
	_, err := run(ctx, rc, p.t, p, "enable", "", o.Become)
	return nil, err
}

// WaitIdle waits for status to say drained everywhere, or drainTime
// without a status command.
func (Driver) WaitIdle(ctx context.Context, rc step.Context, t lb.Target, ins []lb.Instance, o lb.DrainOptions) (map[string]any, error) {
	if commandsOf(t.LB)["status"] != "" {
		if err := waitStatus(ctx, rc, t, own(ins), "drained", o.Interval, o.Timeout, o.Become); err != nil {
			return nil, err
		}
		return map[string]any{"status": "drained"}, nil
	}
	fmt.Fprintf(rc.Log(), "waiting %s (drainTime): no status command to ask\n", o.DrainTime)
	if err := lb.Sleep(ctx, o.DrainTime); err != nil {
		return nil, err
	}
	return map[string]any{"drainTime": o.DrainTime.String()}, nil
}

// WaitUp waits for status to say enabled everywhere, when there is one.
func (Driver) WaitUp(ctx context.Context, rc step.Context, t lb.Target, ins []lb.Instance, o lb.EnableOptions) error {
	if commandsOf(t.LB)["status"] == "" {
		return nil
	}
	return waitStatus(ctx, rc, t, own(ins), "enabled", o.Interval, o.Timeout, o.Become)
}

func explain(rc step.Context, t lb.Target, which, expect string, become bool) ([]string, error) {
	ps, _ := places(rc, t, false)
	var out []string
	for _, p := range ps {
		c, err := command(t, p, which, expect, become)
		if err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s on %s: %s", which, lb.ViaName(p.via), transport.Script(c)))
	}
	return out, nil
}

// ExplainDrain lists the exact commands of a drain.
func (Driver) ExplainDrain(rc step.Context, t lb.Target, o lb.DrainOptions) ([]string, error) {
	out, err := explain(rc, t, "disable", "", o.Become)
	if err != nil {
		return nil, err
	}
	if commandsOf(t.LB)["status"] == "" {
		return append(out, fmt.Sprintf("wait %s (drainTime; no status command)", o.DrainTime)), nil
	}
	st, err := explain(rc, t, "status", "drained", o.Become)
	if err != nil {
		return nil, err
	}
	out = append(out, st...)
	return append(out, fmt.Sprintf("repeat status every %s until it exits 0 everywhere, up to %s; else enable again and fail", o.Interval, o.Timeout)), nil
}

// ExplainEnable lists the exact commands of an enable.
func (Driver) ExplainEnable(rc step.Context, t lb.Target, o lb.EnableOptions) ([]string, error) {
	out, err := explain(rc, t, "enable", "", o.Become)
	if err != nil || !o.WaitUp || commandsOf(t.LB)["status"] == "" {
		return out, err
	}
	st, err := explain(rc, t, "status", "enabled", o.Become)
	if err != nil {
		return nil, err
	}
	out = append(out, st...)
	return append(out, fmt.Sprintf("repeat status every %s until it exits 0 everywhere, up to %s", o.Interval, o.Timeout)), nil
}
