package run

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	rc := &stepContext{r: r, node: n, env: env, log: r.Logs.Writer(n.Name), secret: s.Secret}
	var held *cappedBuffer // a secret step's output, until its value is known
	if s.Secret {
		held = &cappedBuffer{max: maxHeldLog}
		rc.log = held
	}
	base := journal.Event{Kind: kind, Phase: phase, Node: n.Name, Step: s.ID, Rollback: rollback, Vertex: vertex}
	delay := s.Retries.Delay
	var (
		out step.Outcome
		err error
	)
	for attempt := 1; ; attempt++ {
		e := base
		e.State, e.Attempt = journal.Started, attempt
		rc.attempt = &journal.Event{Kind: e.Kind, Phase: e.Phase, Node: e.Node, Step: e.Step, Rollback: e.Rollback, Vertex: e.Vertex, Attempt: attempt}
		e.Detail = r.startDetail(s)
		// A forward step whose start is not on record does not run: a run
		// that cannot be resumed or audited changes nothing more. Rollback
		// and compensation still run, to put the node back.
		if ok := r.event(e); kind == journal.KindStep && (!ok || r.journalErr() != nil) {
			return step.Outcome{ExitCode: -1}, &JournalError{Err: r.journalErr()}
		}
		rc.base = e
		out, err = r.attempt(s, rc)
		if held != nil {
			r.learnSecret(out)
			_, _ = r.Logs.Writer(n.Name).Write(held.take())
		}
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

// learnSecret makes a secret step's stdout secret: the whole of it and each
// of its lines (a token printed with a trailing newline, a key file).
func (r *Runner) learnSecret(out step.Outcome) {
	if r.Secrets == nil {
		return
	}
	if v := strings.TrimSpace(out.Stdout); v != "" {
		r.Secrets.Add(v, out.Stdout)
	}
}

// maxHeldLog bounds the output of a secret step held back from its node
// log: past it the rest is dropped, and the log says so.
const maxHeldLog = 1 << 20

// cappedBuffer holds a secret step's output until its value is known.
type cappedBuffer struct {
	mu      sync.Mutex
	buf     []byte
	max     int
	dropped int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - len(b.buf)
	if room < len(p) {
		if room > 0 {
			b.buf = append(b.buf, p[:room]...)
		}
		b.dropped += len(p) - max(room, 0)
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// take empties the buffer; its text ends with a newline.
func (b *cappedBuffer) take() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.buf
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	if b.dropped > 0 {
		out = append(out, fmt.Sprintf("[zdu: %d more bytes of this secret step's output not logged]\n", b.dropped)...)
	}
	b.buf, b.dropped = nil, 0
	return out
}
