package haproxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
)

// WaitIdle waits until no instance shows a session or a queued request for
// the server. At the timeout it fails, or with onTimeout shutdown-sessions
// cuts the remaining sessions and goes on.
func (Driver) WaitIdle(ctx context.Context, rc step.Context, t lb.Target, ins []lb.Instance, o lb.DrainOptions) (map[string]any, error) {
	insts := own(ins)
	log := rc.Log()
	ref := t.LB.Backend + "/" + t.Server
	idle, last, err := waitIdle(ctx, rc, insts, t, o)
	data := map[string]any{"polls": idle.polls}
	if err == nil {
		return data, nil
	}
	if ctx.Err() != nil || !errors.Is(err, errTimeout) || o.OnTimeout != lb.OnTimeoutShutdownSessions {
		return data, fmt.Errorf("draining %s: %w%s", ref, err, last)
	}
	// The plan chose to cut the remaining sessions and go on.
	for _, i := range insts {
		line := "shutdown sessions server " + ref
		fmt.Fprintf(log, "%s: drain timed out%s: %s\n", i.c.Name, last, line)
		if err := i.c.Exec(ctx, line); err != nil {
			return data, fmt.Errorf("cutting sessions of %s: %w", ref, err)
		}
	}
	data["shutdownSessions"] = true
	// The sessions are gone once the streams notice; one clean poll confirms.
	o.Polls, o.Timeout = 1, 10*time.Second
	if _, last, err := waitIdle(ctx, rc, insts, t, o); err != nil {
		return data, fmt.Errorf("after shutdown sessions of %s: %w%s", ref, err, last)
	}
	return data, nil
}

var errTimeout = errors.New("timed out")

type idleResult struct{ polls int }

// waitIdle polls `show stat` on every instance until scur and qcur are 0 on
// all of them for o.Polls consecutive polls, reporting each instance's
// figures to rc (journaled when they change, else once a second). On failure it also returns what
// the last poll saw.
func waitIdle(ctx context.Context, rc step.Context, insts []*instance, t lb.Target, o lb.DrainOptions) (idleResult, string, error) {
	log := rc.Log()
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var res idleResult
	clean, last, seen := 0, "", ""
	reported := map[string][2]int64{} // instance -> sessions, queue last reported
	for {
		res.polls++
		busy := ""
		for _, i := range insts {
			r, err := i.c.ServerStat(wctx, t.LB.Backend, t.Server)
			if err != nil {
				// The deadline may cut a dial or a read before the context
				// notices it has passed (its timer fires a moment later).
				if dl, _ := wctx.Deadline(); (wctx.Err() != nil || !time.Now().Before(dl)) && ctx.Err() == nil {
					return res, last, fmt.Errorf("%w after %s: sessions still open", errTimeout, o.Timeout)
				}
				return res, last, err
			}
			s, q := r.Int("scur"), r.Int("qcur")
			if s != 0 || q != 0 {
				busy += fmt.Sprintf("; %s: scur=%d qcur=%d", i.c.Name, s, q)
			}
			state := lb.StateDrain
			if s == 0 && q == 0 {
				state = lb.StateIdle
			}
			before, seen := reported[i.in.Name]
			reported[i.in.Name] = [2]int64{s, q}
			lb.Report(rc, t, i.in.Name, state, s, q, !seen || before != [2]int64{s, q})
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
		if err := lb.Sleep(wctx, o.Interval); err != nil {
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
