// Package sleep is the sleep step type: wait a fixed time. Prefer a wait-*
// step that polls for the real condition; sleep is for the rare fixed delay.
package sleep

import (
	"context"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
)

func init() {
	step.Register(step.Definition{
		Idempotent: true,
		Type:       "sleep", Summary: "wait a fixed time (prefer a wait-* step that polls)",
		Schema: []byte(`{
  "type": "object", "additionalProperties": false, "required": ["duration"],
  "properties": {"duration": {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", "description": "How long to wait, e.g. 5s."}}
}`),
		Build: func(a step.Args) step.Action {
			if !a.Has("duration") {
				a.Errorf("duration", "missing required key \"duration\"")
			}
			return sleepStep{d: a.Duration("duration", 0)}
		},
	})
}

type sleepStep struct{ d time.Duration }

var _ step.Action = sleepStep{}

func (s sleepStep) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	t := time.NewTimer(s.d)
	defer t.Stop()
	select {
	case <-t.C:
		return step.Outcome{}, nil
	case <-ctx.Done():
		return step.Outcome{ExitCode: -1}, ctx.Err()
	}
}

func (s sleepStep) Explain(step.Context) ([]string, error) {
	return []string{"sleep " + s.d.String()}, nil
}
