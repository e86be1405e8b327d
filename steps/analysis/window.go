package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Verdict is how an analysis ended.
type Verdict string

const (
	// Passed: Consecutive measurements in a row passed the threshold.
	Passed Verdict = "passed"
	// Failed: more than MaxFailures measurements broke the threshold.
	Failed Verdict = "failed"
	// Inconclusive: the window ended before either of the above.
	Inconclusive Verdict = "inconclusive"
	// Errored: a measurement can never succeed (a query Prometheus rejects,
	// a threshold that does not parse).
	Errored Verdict = "error"
	// Cancelled: the run was stopped.
	Cancelled Verdict = "cancelled"
)

// ExitCode is the step's exit code for a verdict, which rollback-on rules
// see as failure.exitCode.
func (v Verdict) ExitCode() int {
	switch v {
	case Passed:
		return 0
	case Failed:
		return 1
	case Inconclusive:
		return 2
	case Errored:
		return 3
	}
	return -1
}

// Window says how measurements become a verdict. The first measurement is
// taken at once, each next one Interval after the previous one ended. The
// analysis passes as soon as Consecutive measurements in a row pass; it
// fails as soon as more than MaxFailures measurements (in all, not in a row)
// break the threshold; it is inconclusive when Timeout (or ctx's deadline)
// comes first. A measurement without a value (no answer, an empty result)
// is neither: it breaks a run of passes and is taken again.
type Window struct {
	Interval, Timeout time.Duration
	Consecutive       int
	MaxFailures       int
	// Empty, when set, is the value of a measurement that found none
	// (ErrNoValue): e.g. 0 for an error rate whose series do not exist yet.
	Empty *float64
}

// Sample is one measurement: a value, or why there is none.
type Sample struct {
	Value float64
	// NoValue says why there is no value; the measurement is taken again.
	NoValue error
	// Detail says what was measured, beyond the value (e.g. the series).
	Detail string
}

// Measure takes one measurement. An error is one that measuring again
// cannot cure (a query Prometheus rejects): the analysis ends at once.
type Measure func(ctx context.Context) (Sample, error)

// Record is what an analysis saw and decided.
type Record struct {
	Verdict                         Verdict
	Measurements, Pass, Fail, Empty int
	// HasValue says Value is the last value measured.
	HasValue bool
	Value    float64
	// Seen describes the last measurement.
	Seen string
	// Err is nil when the analysis passed, else why not.
	Err error
}

// Run takes measurements until the window decides, logging one line per
// measurement to log, after a line naming what is measured.
func (w Window) Run(ctx context.Context, what string, th Threshold, log io.Writer, measure Measure) Record {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	var rec Record
	streak := 0
	fmt.Fprintf(log, "%s: pass when the value is %s\n", what, th)
	for {
		s, err := measure(wctx)
		if err != nil && wctx.Err() == nil {
			rec.Measurements++
			rec.Verdict, rec.Seen = Errored, err.Error()
			rec.Err = fmt.Errorf("%s: %w", what, err)
			fmt.Fprintf(log, "measurement %d: %v\n", rec.Measurements, err)
			return rec
		}
		// A measurement cut short by the end of the window found nothing
		// worth reporting; the one before it says more.
		if err == nil && (s.NoValue == nil || wctx.Err() == nil) {
			rec.Measurements++
			if s.NoValue != nil && w.Empty != nil && errors.Is(s.NoValue, ErrNoValue) {
				s = Sample{Value: *w.Empty, Detail: fmt.Sprintf("%v, taken as emptyValue", s.NoValue)}
			}
			switch {
			case s.NoValue != nil:
				rec.Empty++
				streak = 0
				rec.Seen = "no value: " + s.NoValue.Error()
			case th.Passes(s.Value):
				rec.Pass++
				streak++
				rec.Seen = fmt.Sprintf("%s %s: pass (%d of %d in a row)", FormatValue(s.Value), th, streak, w.Consecutive)
			default:
				rec.Fail++
				streak = 0
				rec.Seen = fmt.Sprintf("%s is not %s: fail (%d failing, %d tolerated)", FormatValue(s.Value), th, rec.Fail, w.MaxFailures)
			}
			if s.NoValue == nil {
				rec.HasValue, rec.Value = true, s.Value
			}
			if s.Detail != "" {
				rec.Seen += " [" + s.Detail + "]"
			}
			fmt.Fprintf(log, "measurement %d: %s\n", rec.Measurements, rec.Seen)
			if streak >= w.Consecutive {
				rec.Verdict = Passed
				return rec
			}
			if rec.Fail > w.MaxFailures {
				rec.Verdict = Failed
				last := FormatValue(s.Value)
				if s.Detail != "" {
					last += " [" + s.Detail + "]"
				}
				rec.Err = fmt.Errorf("%s: failed: %d measurement(s) broke the threshold %s, more than maxFailures %d; last value: %s",
					what, rec.Fail, th, w.MaxFailures, last)
				return rec
			}
		}
		t := time.NewTimer(w.Interval)
		select {
		case <-t.C:
		case <-wctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.Canceled) {
				rec.Verdict, rec.Err = Cancelled, fmt.Errorf("%s: %w", what, ctx.Err())
				return rec
			}
			rec.Verdict = Inconclusive
			last := rec.Seen
			if last == "" {
				last = "nothing yet"
			}
			rec.Err = fmt.Errorf("%s: no verdict: timed out after %s, before %d passing measurement(s) in a row (%d measured: %d passed, %d failed, %d without a value); last seen: %s",
				what, time.Since(start).Round(time.Millisecond), w.Consecutive, rec.Measurements, rec.Pass, rec.Fail, rec.Empty, last)
			return rec
		}
	}
}
