// Package poll holds the wait step types: wait-process, wait-port and
// wait-http. Each polls a condition at an interval until it holds or the
// step's time runs out, replacing the fixed STARTUP_TIME / SHUTDOWN_TIME
// sleeps of the Axway scripts: the bound is an upper limit, not a cost.
package poll

import (
	"context"
	"fmt"
	"io"
	"time"
)

// DefaultTimeout bounds a wait whose step has no timeout of its own.
const DefaultTimeout = 5 * time.Minute

// until calls check every interval until it reports done, the timeout passes
// or ctx ends. The last check's detail explains a timeout.
func until(ctx context.Context, log io.Writer, what string, interval, timeout time.Duration,
	check func(ctx context.Context) (done bool, detail string, err error)) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	polls := 0
	var last string
	for {
		polls++
		done, detail, err := check(ctx)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if done {
			fmt.Fprintf(log, "%s: after %s (%d polls)\n", what, time.Since(start).Round(time.Millisecond), polls)
			return nil
		}
		if detail != "" && ctx.Err() == nil {
			last = detail
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("%s: not after %s (%d polls)", what, time.Since(start).Round(time.Millisecond), polls)
			if last != "" {
				msg += ", last: " + last
			}
			fmt.Fprintln(log, msg)
			return fmt.Errorf("%s: %w", msg, ctx.Err())
		case <-tick.C:
		}
	}
}

const commonProps = `
    "interval": {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", "default": "500ms", "description": "Time between polls."},
    "timeout": {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", "description": "Longest wait (default: the step's timeout, else 5m)."}`
