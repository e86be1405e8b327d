// Package wait holds the wait step types, which poll for a real condition
// instead of sleeping a fixed time: wait-process (a process is running or gone
// on the node), wait-port (a TCP port accepts or refuses) and wait-http (a URL
// answers with a status and body), each with an interval and a timeout. They
// replace the seed's fixed STARTUP_TIME / SHUTDOWN_TIME sleeps, which become
// upper bounds instead of costs. Its probes and Poll are exported for other
// step types' health gates (lb-enable).
package wait

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
)

// Defaults shared by the wait step types.
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 5 * time.Minute
)

// durationSchema is the JSON Schema of a Go duration string.
const durationSchema = `"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"`

// ErrTimeout marks a wait that ran out of time (its own timeout or the step's).
var ErrTimeout = errors.New("timed out")

// Check looks once. ok says whether the condition holds; seen describes what
// was observed (for the log and the timeout message); err is a failure that
// polling again cannot cure (a bad regex, a command that cannot run).
type Check func(ctx context.Context) (ok bool, seen string, err error)

// Poll runs check every interval until it holds, for at most timeout (and no
// longer than ctx allows). Each look is reported to rc (a poll event in the
// journal: the count and what was seen) and each change of what it sees is
// written to rc's log. It returns the number of attempts and the last
// observation. A timeout, whether its own or ctx's deadline, is an
// ErrTimeout error that says what was last seen; a cancelled ctx is
// returned as is.
func Poll(ctx context.Context, rc step.Context, what string, interval, timeout time.Duration, check Check) (int, string, error) {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	log := rc.Log()
	attempts, seen, logged := 0, "", ""
	for {
		attempts++
		ok, s, err := check(pctx)
		if err != nil && pctx.Err() == nil {
			return attempts, s, fmt.Errorf("%s: %w", what, err)
		}
		// A look cut short by the deadline saw nothing worth reporting; the
		// one before it says more.
		if err == nil && (ok || pctx.Err() == nil) {
			changed := attempts == 1 || s != seen || ok
			seen = s
			d := map[string]any{"polls": attempts, "seen": s, "ok": ok}
			if attempts == 1 {
				d["what"] = what // the same on every look: said once
			}
			step.Report(rc, step.Progress{Kind: step.ProgressPoll, Changed: changed, Detail: d})
			if log != nil && s != logged {
				fmt.Fprintf(log, "%s: %s\n", what, s)
				logged = s
			}
			if ok {
				return attempts, seen, nil
			}
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-pctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.Canceled) {
				return attempts, seen, fmt.Errorf("%s: %w", what, ctx.Err())
			}
			return attempts, seen, fmt.Errorf("%s: %w after %s and %d attempt(s); last seen: %s",
				what, ErrTimeout, time.Since(start).Round(time.Millisecond), attempts, orNothing(seen))
		}
	}
}

func orNothing(s string) string {
	if s == "" {
		return "nothing yet"
	}
	return s
}

// timing reads the interval and timeout every wait step has.
type timing struct {
	interval, timeout time.Duration
}

func readTiming(a step.Args) timing {
	t := timing{interval: a.Duration("interval", DefaultInterval), timeout: a.Duration("timeout", DefaultTimeout)}
	if t.interval <= 0 {
		a.Errorf("interval", "must be more than 0")
	}
	if t.timeout <= 0 {
		a.Errorf("timeout", "must be more than 0")
	}
	return t
}

func (t timing) String() string {
	return fmt.Sprintf("check every %s, up to %s (or the step's timeout, if sooner)", t.interval, t.timeout)
}

const timingProps = `
    "interval": {` + durationSchema + `, "default": "1s", "description": "Time between two checks."},
    "timeout": {` + durationSchema + `, "default": "5m", "description": "Give up (the step fails) after this long. The step's own timeout, if sooner, also ends the wait with the same clear message."}`
