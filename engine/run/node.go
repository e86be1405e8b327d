package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/steps/step"
)

// runNode runs a phase's steps on one node. On failure it applies the node's
// rollback rules and compensation, and returns the failure.
func (r *Runner) runNode(ph *compile.Phase, n *load.Node) *failure {
	st := r.state(n)
	if st.failed {
		r.event(journal.Event{Kind: journal.KindNode, State: journal.Blocked, Phase: ph.ID, Node: n.Name,
			Error: "the node failed in an earlier phase"})
		return nil
	}
	r.event(journal.Event{Kind: journal.KindNode, State: journal.Started, Phase: ph.ID, Node: n.Name})
	env := st.env.WithPhase(ph.ID)
	var f *failure
	stopped := false // a step was not started because the run is stopping
	for _, s := range ph.Order {
		if f == nil && r.stopping.Load() {
			stopped = true
		}
		if f != nil || stopped {
			r.event(journal.Event{Kind: journal.KindStep, State: journal.Blocked, Phase: ph.ID, Node: n.Name, Step: s.ID})
			continue
		}
		if s.Rollback != nil {
			r.arm(ph, n, s)
			continue
		}
		if s.When != nil {
			ok, err := s.When.Bool(env)
			if err != nil {
				f = r.stepFailed(ph, n, s, step.Outcome{ExitCode: -1}, fmt.Errorf("when: %w", err))
				continue
			}
			if !ok {
				r.event(journal.Event{Kind: journal.KindStep, State: journal.Skipped, Phase: ph.ID, Node: n.Name, Step: s.ID})
				if s.Register != "" {
					res := expr.SkippedResult()
					st.results[s.Register] = res
					env = env.WithResult(s.Register, res)
					st.env = st.env.WithResult(s.Register, res)
				}
				continue
			}
		}
		out, err := r.runStep(ph.ID, n, s, env, journal.KindStep, "")
		if s.Register != "" {
			res := expr.Result(out, err)
			st.results[s.Register] = res
			env = env.WithResult(s.Register, res)
			st.env = st.env.WithResult(s.Register, res)
		}
		r.track(st, out, err == nil)
		if err != nil && !s.ContinueOnError {
			f = r.stepFailed(ph, n, s, out, err)
		}
	}
	if f == nil && stopped {
		f = &failure{phase: ph, node: n, interrupted: true, err: errors.New("interrupted")}
	}
	if f == nil {
		r.event(journal.Event{Kind: journal.KindNode, State: journal.Passed, Phase: ph.ID, Node: n.Name, ExitCode: journal.Code(0)})
		return nil
	}
	st.failed = true
	ev := journal.Event{Kind: journal.KindNode, State: journal.Failed, Phase: ph.ID, Node: n.Name, ExitCode: journal.Code(f.exitCode)}
	if f.err != nil {
		ev.Error = f.err.Error()
	}
	if f.interrupted {
		ev.State = journal.Cancelled
	}
	r.event(ev)
	if !f.interrupted {
		r.onFailure(f)
	}
	if !f.haltsPhase {
		// Nothing else is coming for this node: put it back in service now.
		r.compensate(context.Background(), st)
	}
	return f
}

func (r *Runner) stepFailed(ph *compile.Phase, n *load.Node, s *load.Step, out step.Outcome, err error) *failure {
	f := &failure{phase: ph, node: n, step: s, exitCode: out.ExitCode, err: err, output: out.Stderr}
	if f.exitCode == 0 {
		f.exitCode = 1
	}
	if r.stepsCtx.Err() != nil || (errors.Is(err, context.Canceled) && r.stopping.Load()) {
		f.interrupted = true
	}
	return f
}

// runStep runs one step with its timeout and retries, recording each attempt.
// kind is journal.KindStep, or KindRollback with the rollback's name.
func (r *Runner) runStep(phase string, n *load.Node, s *load.Step, env *expr.Env, kind, rollback string) (step.Outcome, error) {
	rc := &stepContext{r: r, node: n, env: env, log: r.Logs.Writer(n.Name)}
	base := journal.Event{Kind: kind, Phase: phase, Node: n.Name, Step: s.ID, Rollback: rollback}
	delay := s.Retries.Delay
	var (
		out step.Outcome
		err error
	)
	for attempt := 1; ; attempt++ {
		e := base
		e.State, e.Attempt = journal.Started, attempt
		e.Detail = map[string]any{"name": s.Name, "type": s.Type}
		r.event(e)
		out, err = r.attempt(s, rc)
		e.Detail = nil
		if err == nil {
			e.State, e.ExitCode = journal.Passed, journal.Code(out.ExitCode)
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
