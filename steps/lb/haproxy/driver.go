package haproxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
)

func init() { lb.Register("haproxy", Driver{}) }

// Driver is the haproxy load balancer driver.
type Driver struct{}

var _ lb.Driver = Driver{}

// CleanupTimeout bounds putting a server back after a failed drain; it runs
// on a context of its own because the step's may already be over.
const CleanupTimeout = 30 * time.Second

// Describe names an instance's socket for messages and the dry run, without
// touching it.
func Describe(in step.LBInstance) string {
	network, addr := Endpoint(in)
	return fmt.Sprintf("haproxy %s (%s:%s via %s)", in.Name, network, addr, lb.ViaName(in.Via))
}

// Endpoint returns the network and address of an instance's runtime API.
func Endpoint(in step.LBInstance) (network, addr string) {
	if in.Address != "" {
		return "tcp", in.Address
	}
	return "unix", in.Socket
}

// ForInstance returns a client for one inventory instance, reached through
// its via node's transport (or from the control node).
func ForInstance(rc step.Context, in step.LBInstance) (*Client, error) {
	tr, _, err := lb.Via(rc, in)
	if err != nil {
		return nil, err
	}
	network, addr := Endpoint(in)
	return NewClient(Describe(in), network, addr, tr.Dial), nil
}

type inst struct {
	in step.LBInstance
	c  *Client
}

func clients(rc step.Context, l step.LoadBalancer) ([]inst, error) {
	if len(l.Instances) == 0 {
		return nil, fmt.Errorf("load balancer %s has no instances", l.Name)
	}
	out := make([]inst, 0, len(l.Instances))
	for _, in := range l.Instances {
		c, err := ForInstance(rc, in)
		if err != nil {
			return nil, err
		}
		out = append(out, inst{in, c})
	}
	return out, nil
}

func (t inst) ref(tg lb.Target) string { return tg.LB.Backend + "/" + tg.Server }

// preflight checks every instance before anything changes: admin level, the
// server exists, and enough other servers keep serving.
func preflight(ctx context.Context, insts []inst, t lb.Target) (map[string]any, error) {
	weights := map[string]any{}
	for _, i := range insts {
		if err := i.c.RequireLevel(ctx, "admin"); err != nil {
			return nil, err
		}
		st, err := i.c.Stat(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := st.Server(i.c.Name, t.LB.Backend, t.Server); err != nil {
			return nil, err
		}
		var serving []string
		for _, r := range st.Servers(t.LB.Backend) {
			if r.Server() != t.Server && r.Serving() {
				serving = append(serving, r.Server())
			}
		}
		if len(serving) < t.LB.MinHealthy {
			return nil, fmt.Errorf("refusing to drain %s/%s: on %s only %d other server(s) would keep serving %v, the load balancer's minHealthy is %d",
				t.LB.Backend, t.Server, i.c.Name, len(serving), serving, t.LB.MinHealthy)
		}
		w, err := i.c.GetWeight(ctx, t.LB.Backend, t.Server)
		if err != nil {
			return nil, err
		}
		weights[i.in.Name] = w.Current
	}
	return weights, nil
}

// Drain sets the server to drain on every instance, then waits until no
// instance shows a session or a queued request for it.
func (Driver) Drain(ctx context.Context, rc step.Context, t lb.Target, o lb.DrainOptions) (map[string]any, error) {
	insts, err := clients(rc, t.LB)
	if err != nil {
		return nil, err
	}
	weights, err := preflight(ctx, insts, t)
	if err != nil {
		return nil, err
	}
	data := map[string]any{"weights": weights}
	log := rc.Log()
	for n, i := range insts {
		line := "set server " + i.ref(t) + " state drain"
		fmt.Fprintf(log, "%s: %s\n", i.c.Name, line)
		if err := i.c.Exec(ctx, line); err != nil {
			return data, reenable(ctx, rc, insts[:n], t, fmt.Errorf("draining %s: %w", i.ref(t), err))
		}
	}
	idle, last, err := waitIdle(ctx, insts, t, o, log)
	data["polls"] = idle.polls
	if err == nil {
		return data, nil
	}
	if ctx.Err() != nil || !errors.Is(err, errTimeout) || o.OnTimeout != lb.OnTimeoutShutdownSessions {
		return data, reenable(ctx, rc, insts, t, fmt.Errorf("draining %s: %w%s", insts[0].ref(t), err, last))
	}
	// The plan chose to cut the remaining sessions and go on.
	for _, i := range insts {
		line := "shutdown sessions server " + i.ref(t)
		fmt.Fprintf(log, "%s: drain timed out%s: %s\n", i.c.Name, last, line)
		if err := i.c.Exec(ctx, line); err != nil {
			return data, reenable(ctx, rc, insts, t, fmt.Errorf("cutting sessions of %s: %w", i.ref(t), err))
		}
	}
	data["shutdownSessions"] = true
	// The sessions are gone once the streams notice; one clean poll confirms.
	o.Polls, o.Timeout = 1, 10*time.Second
	if _, last, err := waitIdle(ctx, insts, t, o, log); err != nil {
		return data, reenable(ctx, rc, insts, t, fmt.Errorf("after shutdown sessions of %s: %w%s", insts[0].ref(t), err, last))
	}
	return data, nil
}

var errTimeout = errors.New("timed out")

type idleResult struct{ polls int }

// waitIdle polls `show stat` on every instance until scur and qcur are 0 on
// all of them for o.Polls consecutive polls. On failure it also returns what
// the last poll saw.
func waitIdle(ctx context.Context, insts []inst, t lb.Target, o lb.DrainOptions, log interface{ Write([]byte) (int, error) }) (idleResult, string, error) {
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var res idleResult
	clean, last, seen := 0, "", ""
	for {
		res.polls++
		busy := ""
		for _, i := range insts {
			r, err := i.c.ServerStat(wctx, t.LB.Backend, t.Server)
			if err != nil {
				if wctx.Err() != nil && ctx.Err() == nil {
					return res, last, fmt.Errorf("%w after %s: sessions still open", errTimeout, o.Timeout)
				}
				return res, last, err
			}
			if s, q := r.Int("scur"), r.Int("qcur"); s != 0 || q != 0 {
				busy += fmt.Sprintf("; %s: scur=%d qcur=%d", i.c.Name, s, q)
			}
		}
		if busy != seen {
			fmt.Fprintf(log, "drain %s/%s: %s\n", t.LB.Backend, t.Server, orIdle(busy))
			seen = busy
		}
		if busy == "" {
			clean++
			if clean >= o.Polls {
				return res, "", nil
			}
		} else {
			clean, last = 0, busy
		}
		if err := sleep(wctx, o.Interval); err != nil {
			if ctx.Err() != nil {
				return res, last, ctx.Err()
			}
			return res, last, fmt.Errorf("%w after %s: sessions still open", errTimeout, o.Timeout)
		}
	}
}

func orIdle(busy string) string {
	if busy == "" {
		return "no session and no queue on any instance"
	}
	return busy[2:]
}

// reenable puts the server back on insts after a failed drain, on a context
// of its own, and returns cause with the outcome of that.
func reenable(ctx context.Context, rc step.Context, insts []inst, t lb.Target, cause error) error {
	if len(insts) == 0 {
		return cause
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	var errs []error
	for _, i := range insts {
		if err := ready(cctx, i, t, ""); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w; putting it back also failed: %w", cause, errors.Join(errs...))
	}
	fmt.Fprintf(rc.Log(), "drain of %s/%s failed; set it ready again on %d instance(s)\n", t.LB.Backend, t.Server, len(insts))
	return fmt.Errorf("%w (set ready again on every instance)", cause)
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
