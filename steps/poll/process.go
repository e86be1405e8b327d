package poll

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

func init() {
	step.Register(step.Definition{
		Type: "wait-process", Summary: "wait until a process is running, or gone, on the node",
		Schema: []byte(`{
  "type": "object", "additionalProperties": false,
  "oneOf": [{"required": ["name"]}, {"required": ["pattern"]}, {"required": ["pidfile"]}],
  "properties": {
    "name": {"type": "string", "description": "Exact process name (pgrep -x)."},
    "pattern": {"type": "string", "description": "Pattern matched against the full command line (pgrep -f)."},
    "pidfile": {"type": "string", "description": "File holding the pid to watch."},
    "state": {"enum": ["running", "stopped"], "default": "running", "description": "Wait until it runs, or until no such process is left."},` + commonProps + `
  }
}`),
		Build: buildProcess,
	})
}

type waitProcess struct {
	name, pattern, pidfile step.Template
	running                bool
	interval, timeout      time.Duration
}

var _ step.Action = (*waitProcess)(nil)

func buildProcess(a step.Args) step.Action {
	w := &waitProcess{
		name: a.Text("name", false), pattern: a.Text("pattern", false), pidfile: a.Text("pidfile", false),
		running:  a.Enum("state", "running", "stopped") == "running",
		interval: a.Duration("interval", 500*time.Millisecond), timeout: a.Duration("timeout", 0),
	}
	n := 0
	for _, t := range []step.Template{w.name, w.pattern, w.pidfile} {
		if !t.IsZero() {
			n++
		}
	}
	if n != 1 {
		a.Errorf("name", "give exactly one of name, pattern or pidfile")
	}
	return w
}

// probe is the shell test for the process: exit 0 when one exists. The
// pattern is bracketed on its first character so pgrep -f does not find the
// shell that runs it.
func (w *waitProcess) probe(env step.Env) (string, string, error) {
	switch {
	case !w.name.IsZero():
		s, err := w.name.Render(env)
		return "pgrep -x -- " + transport.Quote(s) + " >/dev/null", "process " + s, err
	case !w.pattern.IsZero():
		s, err := w.pattern.Render(env)
		if err != nil || s == "" {
			return "", "", fmt.Errorf("pattern: empty or %v", err)
		}
		p := "[" + s[:1] + "]" + s[1:]
		if strings.ContainsAny(s[:1], `\^$.|?*+()[]{}`) {
			p = s
		}
		return "pgrep -f -- " + transport.Quote(p) + " >/dev/null", "process matching " + s, nil
	default:
		s, err := w.pidfile.Render(env)
		q := transport.Quote(s)
		return "test -s " + q + " && kill -0 \"$(cat " + q + ")\" 2>/dev/null", "process of pid file " + s, err
	}
}

func (w *waitProcess) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	script, what, err := w.probe(rc.Env())
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	state := "running"
	if !w.running {
		state = "gone"
	}
	err = until(ctx, rc.Log(), fmt.Sprintf("%s %s on %s", what, state, rc.Node().Name), w.interval, w.timeout,
		func(ctx context.Context) (bool, string, error) {
			res, err := rc.Transport().Run(ctx, transport.Command{Script: script})
			if err != nil {
				return false, "", err
			}
			return (res.ExitCode == 0) == w.running, "", nil
		})
	if err != nil {
		return step.Outcome{ExitCode: 1}, err
	}
	return step.Outcome{}, nil
}

func (w *waitProcess) Explain(rc step.Context) ([]string, error) {
	script, what, err := w.probe(rc.Env())
	if err != nil {
		return nil, err
	}
	state := "running"
	if !w.running {
		state = "gone"
	}
	return []string{fmt.Sprintf("wait until %s is %s on %s: poll `%s` every %s (timeout %s)",
		what, state, rc.Node().Name, script, w.interval, orDefault(w.timeout))}, nil
}

func orDefault(d time.Duration) string {
	if d <= 0 {
		return "the step's, else " + DefaultTimeout.String()
	}
	return d.String()
}
