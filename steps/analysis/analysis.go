// Package analysis holds the analysis step types, which judge a new version
// by a measurement instead of by a status code: analysis-http reads a number
// from a JSON document at a URL (by a JSON path), analysis-prometheus from a
// Prometheus instant query. Each compares the number with a threshold
// (`pass: "< 0.01"`), measuring again over a window until it has a verdict:
// passed, failed (exit code 1), no verdict (2) or a measurement that can
// never succeed (3). The verdict and the figures are registered for `when`
// and rollback-on rules.
package analysis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
)

// durationSchema is the JSON Schema of a Go duration string.
const durationSchema = `"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"`

// Defaults of the window.
const (
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 5 * time.Minute
)

const judgeProps = `
    "pass": {"type": "string", "pattern": "^\\s*(<=|>=|==|!=|<|>)", "patternErrorMessage": "must be an operator (<, <=, >, >=, ==, !=) and a number, quoted, e.g. \"< 0.01\"", "description": "When a measured value passes: an operator (<, <=, >, >=, ==, !=) and a number, e.g. \"< 0.01\" (quote it: > and ! start other things in YAML). The number may be interpolated: \"<= ${{ params.max_error_rate }}\"."},
    "consecutive": {"type": "integer", "minimum": 1, "default": 1, "description": "The step passes once this many measurements in a row have passed."},
    "maxFailures": {"type": "integer", "minimum": 0, "default": 0, "description": "Failing measurements tolerated, in all (not in a row): the step fails at the next one. 0: the first failing measurement fails the step."},
    "emptyValue": {"type": "number", "description": "The value of a measurement that finds none (an empty result, a JSON path to nothing or null, NaN), e.g. 0 for an error rate with no errors counted yet. Without it such a measurement has no value: it is taken again, and counts neither way."},
    "interval": {` + durationSchema + `, "default": "10s", "description": "Time between two measurements."},
    "timeout": {` + durationSchema + `, "default": "5m", "description": "The window: without a verdict by then, the step fails (exit code 2). The step's own timeout, if sooner, ends it the same way."},`

// judge is what both step types share about judging: the threshold and
// the window.
type judge struct {
	pass      step.Template
	threshold *Threshold // parsed at load time when pass is written out
	window    Window
}

func readJudge(a step.Args) judge {
	j := judge{pass: a.Text("pass", true), window: Window{
		Interval: a.Duration("interval", DefaultInterval), Timeout: a.Duration("timeout", DefaultTimeout),
		Consecutive: a.Int("consecutive", 1), MaxFailures: a.Int("maxFailures", 0),
	}}
	if src := j.pass.Source(); !j.pass.IsZero() && !strings.Contains(src, "${{") {
		if th, err := ParseThreshold(src); err != nil {
			a.Errorf("pass", "%v", err)
		} else {
			j.threshold = &th
		}
	}
	if a.Has("emptyValue") {
		s := a.Literal("emptyValue", false)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			a.Errorf("emptyValue", "%q is not a finite number", s)
		} else {
			j.window.Empty = &f
		}
	}
	w := j.window
	bad := false
	for _, c := range []struct {
		key, msg string
		wrong    bool
	}{
		{"interval", "must be more than 0", w.Interval <= 0},
		{"timeout", "must be more than 0", w.Timeout <= 0},
		{"consecutive", "must be at least 1", w.Consecutive < 1},
		{"maxFailures", "must be 0 or more", w.MaxFailures < 0},
	} {
		if c.wrong {
			a.Errorf(c.key, "%s", c.msg)
			bad = true
		}
	}
	// The first test keeps the product in the second from overflowing.
	if k := int64(w.Consecutive - 1); !bad && (k > int64(w.Timeout/w.Interval) || time.Duration(k)*w.Interval >= w.Timeout) {
		a.Errorf("consecutive", "%d passing measurements %s apart do not fit in the timeout %s: the step could never pass",
			w.Consecutive, w.Interval, w.Timeout)
	}
	return j
}

// thresholdFor renders the threshold for one node.
func (j judge) thresholdFor(rc step.Context) (Threshold, error) {
	if j.threshold != nil {
		return *j.threshold, nil
	}
	s, err := j.pass.Render(rc.Env())
	if err != nil {
		return Threshold{}, fmt.Errorf("pass: %w", err)
	}
	th, err := ParseThreshold(s)
	if err != nil {
		return Threshold{}, fmt.Errorf("pass: %w", err)
	}
	return th, nil
}

// describe is the dry run's account of the window.
func (j judge) describe(th Threshold) string {
	w := j.window
	s := fmt.Sprintf("pass when the value is %s", th)
	if w.Consecutive > 1 {
		s += fmt.Sprintf(" in %d measurements in a row, %s apart", w.Consecutive, w.Interval)
	}
	if w.MaxFailures == 0 {
		s += "; fail at the first value that is not"
	} else {
		s += fmt.Sprintf("; fail when more than %d values are not", w.MaxFailures)
	}
	if w.Empty != nil {
		s += fmt.Sprintf("; no value counts as %s", FormatValue(*w.Empty))
	}
	return s + fmt.Sprintf("; measure again every %s for up to %s (or the step's timeout, if sooner)", w.Interval, w.Timeout)
}

// run judges measure and turns the record into the step's outcome. data
// holds the step type's own fields (url, query ...).
func (j judge) run(ctx context.Context, rc step.Context, what string, th Threshold, data map[string]any, measure Measure) (step.Outcome, error) {
	rec := j.window.Run(ctx, what, th, rc.Log(), measure)
	return outcome(rec, th, data), rec.Err
}

// outcome is the registered form of a record: see docs/step-types.md.
func outcome(rec Record, th Threshold, data map[string]any) step.Outcome {
	if data == nil {
		data = map[string]any{}
	}
	data["verdict"] = string(rec.Verdict)
	data["threshold"] = th.String()
	data["measurements"] = rec.Measurements
	data["passed"] = rec.Pass
	data["failed"] = rec.Fail
	data["noValue"] = rec.Empty
	data["seen"] = rec.Seen
	out := step.Outcome{ExitCode: rec.Verdict.ExitCode(), Data: data}
	if rec.HasValue {
		out.Stdout = FormatValue(rec.Value)
		// JSON has no infinities: the journal keeps .data.value a number,
		// and .stdout says +Inf.
		if !math.IsInf(rec.Value, 0) {
			data["value"] = rec.Value
		}
	}
	return out
}

// failBefore is the outcome of a step that could not start measuring (a
// value that does not render, a bad URL).
func failBefore(err error) (step.Outcome, error) {
	return step.Outcome{ExitCode: Errored.ExitCode(), Data: map[string]any{"verdict": string(Errored)}}, err
}
