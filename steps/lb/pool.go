package lb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
)

// ServerState is one server of a backend as one instance sees it.
type ServerState struct {
	Name string
	// Serving: the instance would send it new requests.
	Serving bool
	// State is what the load balancer says of it, for messages: "UP",
	// "DOWN", "MAINT", "DRAIN", "UP, weight 0"; nginx: "down".
	State string
	// Self marks the target's own server.
	Self bool
}

// PoolReader is an Instance that can list, changing nothing, every server
// of the target's backend with its state, the target's own included. Drain
// enforces minHealthy through it, and waits through it for a pool to
// recover (DrainOptions.MinHealthyWait). A driver whose instances are
// PoolReaders says so in Definition.ServerStates.
type PoolReader interface {
	Pool(ctx context.Context, rc step.Context) ([]ServerState, error)
}

// shortfall is one instance where draining the target now would leave too
// few other servers serving.
type shortfall struct {
	instance string
	need     int
	total    int      // servers of the backend, the target included
	serving  []string // the other servers that serve
	down     []string // the other servers that do not, with their state
}

// never reports whether no recovery can help: the backend has too few
// other servers, serving or not.
func (s shortfall) never() bool { return s.need > s.total-1 }

func (s shortfall) String() string {
	if s.never() {
		return fmt.Sprintf("on %s the backend has only %d other server(s) %v", s.instance, s.total-1, append(s.serving, s.down...))
	}
	msg := fmt.Sprintf("on %s only %d other server(s) would keep serving %v", s.instance, len(s.serving), s.serving)
	if len(s.down) > 0 {
		msg += "; not serving: " + strings.Join(s.down, ", ")
	}
	return msg
}

// needText says what minHealthy asks of a backend of total servers.
func needText(l step.LoadBalancer, total int) string {
	need := l.MinServing(total)
	if l.MinHealthyPercent {
		return fmt.Sprintf("minHealthy %s of %d server(s) needs %d other server(s) serving", l.MinHealthyString(), total, need)
	}
	return fmt.Sprintf("minHealthy %d needs %d other server(s) serving", l.MinHealthy, need)
}

// MinHealthyRule says, for the dry run, what a drain requires of the other
// servers of t's backend; "" when minHealthy is 0.
func MinHealthyRule(l step.LoadBalancer) string {
	switch {
	case l.MinHealthy == 0:
		return ""
	case l.MinHealthyPercent:
		return fmt.Sprintf("at least %s of the servers of %s (rounded up) are UP besides it", l.MinHealthyString(), l.Backend)
	}
	return fmt.Sprintf("at least %d other server(s) of %s are UP", l.MinHealthy, l.Backend)
}

// ExplainMinHealthyWait is the dry run's line for the wait before a
// refusal; "" when there is none.
func ExplainMinHealthyWait(l step.LoadBalancer, o DrainOptions) string {
	if l.MinHealthy == 0 || o.MinHealthyWait <= 0 {
		return ""
	}
	return fmt.Sprintf("if too few other servers serve (minHealthy): read their states again every %s, up to %s (minHealthyWait), until enough do; else refuse", o.Interval, o.MinHealthyWait)
}

// shortfalls reads every instance's pool and returns those where minHealthy
// does not hold.
func shortfalls(ctx context.Context, rc step.Context, t Target, ins []Instance) ([]shortfall, error) {
	var out []shortfall
	for _, in := range ins {
		pr, ok := in.(PoolReader)
		if !ok {
			return nil, fmt.Errorf("load balancer %s: the %s driver cannot report its servers' states, so minHealthy cannot be checked", t.LB.Name, t.LB.Driver)
		}
		pool, err := pr.Pool(ctx, rc)
		if err != nil {
			return nil, err
		}
		s := shortfall{instance: in.Name(), total: len(pool), need: t.LB.MinServing(len(pool))}
		for _, sv := range pool {
			switch {
			case sv.Self:
			case sv.Serving:
				s.serving = append(s.serving, sv.Name)
			default:
				s.down = append(s.down, fmt.Sprintf("%s (%s)", sv.Name, sv.State))
			}
		}
		if len(s.serving) < s.need {
			out = append(out, s)
		}
	}
	return out, nil
}

func describe(short []shortfall) string {
	parts := make([]string, len(short))
	for i, s := range short {
		parts[i] = s.String()
	}
	return strings.Join(parts, "; ")
}

// checkPool enforces t's minHealthy on every instance before a drain: when
// it does not hold and o.MinHealthyWait allows, it reads the pools again
// every o.Interval until it holds or the wait is over, saying what it waits
// for in the node log and to rc (the journal). It returns how long it
// waited, and an error naming the servers that do not serve when it
// refuses.
func checkPool(ctx context.Context, rc step.Context, t Target, ins []Instance, o DrainOptions) (time.Duration, error) {
	if t.LB.MinHealthy == 0 {
		return 0, nil
	}
	start := time.Now()
	deadline := start.Add(o.MinHealthyWait)
	ref := t.LB.Backend + "/" + t.Server
	last := "" // what the wait said it waits for; "" before it waits
	for {
		short, err := shortfalls(ctx, rc, t, ins)
		var waited time.Duration
		if last != "" {
			waited = time.Since(start)
		}
		if err != nil {
			return waited, err
		}
		if len(short) == 0 {
			if last != "" {
				fmt.Fprintf(rc.Log(), "load balancer %s has enough servers serving again after %s; draining %s\n", t.LB.Name, waited.Round(time.Millisecond), ref)
			}
			return waited, nil
		}
		why := fmt.Sprintf("%s: %s", needText(t.LB, short[0].total), describe(short))
		refuse := func(more string) error {
			return fmt.Errorf("refusing to drain %s from load balancer %s: %s%s", ref, t.LB.Name, why, more)
		}
		switch {
		case never(short):
			return waited, refuse(" (no wait can help)")
		case o.MinHealthyWait <= 0:
			return waited, refuse("")
		case !time.Now().Before(deadline):
			return waited, refuse(fmt.Sprintf("; still so after waiting %s (minHealthyWait %s)", waited.Round(time.Millisecond), o.MinHealthyWait))
		}
		if why != last {
			msg := fmt.Sprintf("waiting up to %s (minHealthyWait, until %s) before draining %s from load balancer %s: %s",
				o.MinHealthyWait, deadline.UTC().Format("15:04:05"), ref, t.LB.Name, why)
			fmt.Fprintln(rc.Log(), msg)
			step.ReportWaiting(rc, step.Waiting{For: "minHealthy", Message: msg, Until: deadline, Detail: poolDetail(t, short)})
			last = why
		}
		if err := Sleep(ctx, min(o.Interval, time.Until(deadline))); err != nil {
			return time.Since(start), fmt.Errorf("waiting for load balancer %s to have enough servers before draining %s (%s): %w", t.LB.Name, ref, why, err)
		}
	}
}

// never reports whether no recovery can help on some instance.
func never(short []shortfall) bool {
	for _, s := range short {
		if s.never() {
			return true
		}
	}
	return false
}

// poolDetail is the journal's record of a wait: by instance, the servers
// that serve and those that do not.
func poolDetail(t Target, short []shortfall) map[string]any {
	byInstance := map[string]any{}
	for _, s := range short {
		byInstance[s.instance] = map[string]any{"need": s.need, "serving": strs(s.serving), "notServing": strs(s.down)}
	}
	return map[string]any{"lb": t.LB.Name, "server": t.Server, "minHealthy": t.LB.MinHealthyString(), "instances": byInstance}
}

func strs(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}
