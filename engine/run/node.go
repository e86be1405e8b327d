package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/steps/step"
)

// runStep runs one step with its timeout and retries, recording each attempt.
// kind is journal.KindStep, or KindRollback with the rollback's name; vertex
// is the graph vertex the step runs for.
//
// settle, when set, is called with the outcome before the step's end is
// journaled: what it records (compensations armed or settled by the step)
// is on disk before the end, so a crash between the two leaves the step in
// flight, never done with its compensations unrecorded.
func (r *Runner) runStep(phase string, n *load.Node, s *load.Step, env *expr.Env, kind, rollback, vertex string, settle func(step.Outcome)) (step.Outcome, error) {
	rc := &stepContext{r: r, node: n, env: env, log: r.Logs.Writer(n.Name)}
	base := journal.Event{Kind: kind, Phase: phase, Node: n.Name, Step: s.ID, Rollback: rollback, Vertex: vertex}
	delay := s.Retries.Delay
	var (
		out step.Outcome
		err error
	)
	for attempt := 1; ; attempt++ {
		e := base
		e.State, e.Attempt = journal.Started, attempt
		e.Detail = r.startDetail(s)
		r.event(e)
		out, err = r.attempt(s, rc)
		e.Detail = nil
		if err == nil {
			if settle != nil {
				settle(out)
			}
			e.State, e.ExitCode = journal.Passed, journal.Code(out.ExitCode)
			e.Detail = registered(s, out, nil)
			r.event(e)
			return out, nil
		}
		e.ExitCode, e.Error = journal.Code(out.ExitCode), err.Error()
		var ee *expr.Error // a value that cannot render never will: no retry
		if attempt > s.Retries.Count || r.stopping.Load() || r.stepsCtx.Err() != nil || errors.As(err, &ee) {
			e.State = journal.Failed
			if r.stepsCtx.Err() != nil {
				// Killed by Stop's grace running out or a second SIGINT:
				// the step did not fail on its own.
				e.State = journal.Cancelled
			}
			if settle != nil {
				settle(out)
			}
			e.Detail = registered(s, out, err)
			r.event(e)
			return out, err
		}
		e.State = journal.Retrying
		e.Detail = map[string]any{"delay": delay.String()}
		r.event(e)
		if !sleepCtx(r.stepsCtx, delay) {
			continue
		}
		delay = time.Duration(float64(delay) * s.Retries.Backoff)
	}
}

// attempt runs a step once under its timeout.
func (r *Runner) attempt(s *load.Step, rc *stepContext) (step.Outcome, error) {
	ctx := r.stepsCtx
	timeout, err := s.StepTimeout(rc.env)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	rc.ctx = ctx
	out, err := s.Action.Run(ctx, rc)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && r.stepsCtx.Err() == nil {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
		if out.ExitCode == 0 {
			out.ExitCode = -1
		}
	}
	return out, err
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// registered is the detail of a step's last event that keeps what the step
// registers: a resumed run gives it back to the node's later steps.
func registered(s *load.Step, out step.Outcome, err error) map[string]any {
	if s.Register == "" {
		return nil
	}
	return map[string]any{"register": s.Register, "result": expr.Result(out, err)}
}

// startDetail is what a step's start journals of it (its name and type):
// one map per step, shared by its events and never changed.
func (r *Runner) startDetail(s *load.Step) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.starts[s]
	if !ok {
		if r.starts == nil {
			r.starts = map[*load.Step]map[string]any{}
		}
		d = map[string]any{"name": s.Name, "type": s.Type}
		r.starts[s] = d
	}
	return d
}
