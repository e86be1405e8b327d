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
// expected state. Without it a drain waits drainTime, and minHealthy cannot
// be checked.
package command

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

func init() { lb.Register("command", Driver{}) }

// Driver is the command load balancer driver.
type Driver struct{}

var _ lb.Driver = Driver{}

// CleanupTimeout bounds re-enabling after a failed drain.
const CleanupTimeout = 30 * time.Second

type place struct {
	name string // instance name, or the load balancer's when it has none
	via  string
	tr   transport.Transport
}

func places(rc step.Context, t lb.Target, resolve bool) ([]place, error) {
	ins := t.LB.Instances
	if len(ins) == 0 {
		ins = []step.LBInstance{{Name: t.LB.Name}}
	}
	var out []place
	for _, in := range ins {
		p := place{name: in.Name, via: in.Via}
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

func command(t lb.Target, p place, which, expect string, become bool) (transport.Command, error) {
	script := t.LB.Commands[which]
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
func run(ctx context.Context, rc step.Context, t lb.Target, p place, which, expect string, become bool) (bool, error) {
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
func waitStatus(ctx context.Context, rc step.Context, t lb.Target, ps []place, expect string, interval, timeout time.Duration, become bool) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		pending := ""
		for _, p := range ps {
			ok, err := run(wctx, rc, t, p, "status", expect, become)
			if err != nil && wctx.Err() == nil {
				return err
			}
			if !ok {
				pending += " " + p.name
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

// Drain runs disable everywhere, then waits for status (or drainTime). A
// failure re-enables the places already disabled.
func (Driver) Drain(ctx context.Context, rc step.Context, t lb.Target, o lb.DrainOptions) (map[string]any, error) {
	ps, err := places(rc, t, true)
	if err != nil {
		return nil, err
	}
	for n, p := range ps {
		if _, err := run(ctx, rc, t, p, "disable", "", o.Become); err != nil {
			return nil, reenable(ctx, rc, t, ps[:n], o.Become, err)
		}
	}
	if t.LB.Commands["status"] != "" {
		if err := waitStatus(ctx, rc, t, ps, "drained", o.Interval, o.Timeout, o.Become); err != nil {
			return nil, reenable(ctx, rc, t, ps, o.Become, err)
		}
		return map[string]any{"status": "drained"}, nil
	}
	fmt.Fprintf(rc.Log(), "waiting %s (drainTime): no status command to ask\n", o.DrainTime)
	tm := time.NewTimer(o.DrainTime)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
		return nil, reenable(ctx, rc, t, ps, o.Become, ctx.Err())
	}
	return map[string]any{"drainTime": o.DrainTime.String()}, nil
}

func reenable(ctx context.Context, rc step.Context, t lb.Target, ps []place, become bool, cause error) error {
	if len(ps) == 0 {
		return cause
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	var errs []error
	for _, p := range ps {
		if _, err := run(cctx, rc, t, p, "enable", "", become); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w; re-enabling also failed: %w", cause, errors.Join(errs...))
	}
	return fmt.Errorf("%w (re-enabled on %d instance(s))", cause, len(ps))
}

// Enable runs enable everywhere (going on past a failure), then with WaitUp
// and a status command waits until it says enabled.
func (Driver) Enable(ctx context.Context, rc step.Context, t lb.Target, o lb.EnableOptions) (map[string]any, error) {
	ps, err := places(rc, t, true)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, p := range ps {
		if _, err := run(ctx, rc, t, p, "enable", "", o.Become); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if o.WaitUp && t.LB.Commands["status"] != "" {
		if err := waitStatus(ctx, rc, t, ps, "enabled", o.Interval, o.Timeout, o.Become); err != nil {
			return nil, err
		}
	}
	return map[string]any{}, nil
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
	if t.LB.Commands["status"] == "" {
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
	if err != nil || !o.WaitUp || t.LB.Commands["status"] == "" {
		return out, err
	}
	st, err := explain(rc, t, "status", "enabled", o.Become)
	if err != nil {
		return nil, err
	}
	out = append(out, st...)
	return append(out, fmt.Sprintf("repeat status every %s until it exits 0 everywhere, up to %s", o.Interval, o.Timeout)), nil
}
