package analysis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/steptest"
)

// script is a Measure that plays samples in order, repeating the last; a
// nil Sample pointer in the list stands for a permanent error.
type script struct {
	samples []*Sample
	n       atomic.Int64
}

func (s *script) measure(ctx context.Context) (Sample, error) {
	i := int(s.n.Add(1)) - 1
	if i >= len(s.samples) {
		i = len(s.samples) - 1
	}
	if s.samples[i] == nil {
		return Sample{}, errors.New("the query was rejected by Prometheus (bad_data): parse error")
	}
	return *s.samples[i], nil
}

func val(v float64) *Sample { return &Sample{Value: v} }

var (
	empty   = &Sample{NoValue: fmt.Errorf("empty result: %w", ErrNoValue)}
	refused = &Sample{NoValue: errors.New("no answer: connection refused")}
	fatal   = (*Sample)(nil)
)

func TestWindow(t *testing.T) {
	zero := 0.0
	tests := []struct {
		name    string
		w       Window
		samples []*Sample
		stopAt  int // the window ends (a deadline) once this many measurements were taken; 0: never
		verdict Verdict
		counts  [4]int // measurements, passed, failed, without a value
		value   string // the last value, as text; "" none
		errHas  string
	}{
		{name: "one passing measurement", w: Window{Consecutive: 1}, samples: []*Sample{val(0.001)},
			verdict: Passed, counts: [4]int{1, 1, 0, 0}, value: "0.001"},
		{name: "the first failure fails", w: Window{Consecutive: 3}, samples: []*Sample{val(0.001), val(0.5)},
			verdict: Failed, counts: [4]int{2, 1, 1, 0}, value: "0.5",
			errHas: "failed: 1 measurement(s) broke the threshold < 0.01, more than maxFailures 0; last value: 0.5"},
		{name: "failures within maxFailures, then enough passes in a row", w: Window{Consecutive: 2, MaxFailures: 2},
			samples: []*Sample{val(0.5), val(0.001), val(0.5), val(0.002), val(0.003)},
			verdict: Passed, counts: [4]int{5, 3, 2, 0}, value: "0.003"},
		{name: "one failure more than maxFailures", w: Window{Consecutive: 5, MaxFailures: 2},
			samples: []*Sample{val(0.5), val(0.001), val(0.02), val(0.001), val(1)},
			verdict: Failed, counts: [4]int{5, 2, 3, 0}, value: "1", errHas: "3 measurement(s) broke the threshold"},
		{name: "a measurement without a value breaks the run of passes", w: Window{Consecutive: 3},
			samples: []*Sample{val(0), val(0), refused, val(0), val(0), val(0)},
			verdict: Passed, counts: [4]int{6, 5, 0, 1}, value: "0"},
		{name: "emptyValue stands in for an empty result", w: Window{Consecutive: 2, Empty: &zero},
			samples: []*Sample{empty, val(0.001)},
			verdict: Passed, counts: [4]int{2, 2, 0, 0}, value: "0.001"},
		{name: "emptyValue does not stand in for no answer", w: Window{Consecutive: 1, Empty: &zero},
			samples: []*Sample{refused, refused, val(0.001)},
			verdict: Passed, counts: [4]int{3, 1, 0, 2}, value: "0.001"},
		{name: "a permanent error ends it at once", w: Window{Consecutive: 1},
			samples: []*Sample{refused, fatal},
			verdict: Errored, counts: [4]int{2, 0, 0, 1}, errHas: "the query was rejected by Prometheus (bad_data): parse error"},
		{name: "never a value: no verdict when the window ends", w: Window{Consecutive: 1}, stopAt: 3,
			samples: []*Sample{empty},
			verdict: Inconclusive, errHas: "no verdict: timed out after",
		},
		{name: "too few passes in a row: no verdict", w: Window{Consecutive: 10, MaxFailures: 100}, stopAt: 4,
			samples: []*Sample{val(0.001), val(0.5)},
			verdict: Inconclusive, errHas: "before 10 passing measurement(s) in a row",
		},
	}
	th, err := ParseThreshold("< 0.01")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{samples: tc.samples}
			w := tc.w
			w.Interval, w.Timeout = time.Millisecond, time.Hour
			ctx := context.Background()
			if tc.stopAt > 0 {
				var stop func()
				ctx, stop = steptest.DeadlineWhen(func() bool { return s.n.Load() >= int64(tc.stopAt) }, time.Minute)
				defer stop()
			}
			var log bytes.Buffer
			rec := w.Run(ctx, "check", th, &log, s.measure)
			if rec.Verdict != tc.verdict {
				t.Fatalf("verdict %s, want %s (%v)\n%s", rec.Verdict, tc.verdict, rec.Err, log.String())
			}
			if (rec.Err == nil) != (tc.verdict == Passed) {
				t.Errorf("err = %v for verdict %s", rec.Err, rec.Verdict)
			}
			if tc.errHas != "" && (rec.Err == nil || !strings.Contains(rec.Err.Error(), tc.errHas)) {
				t.Errorf("err = %v, want it to contain %q", rec.Err, tc.errHas)
			}
			if rec.Err != nil && !strings.HasPrefix(rec.Err.Error(), "check: ") {
				t.Errorf("err = %v, want it to start with the label", rec.Err)
			}
			if tc.stopAt > 0 {
				// The deadline is an event, so the count is at least stopAt;
				// no measurement passed the threshold's way.
				if rec.Measurements < tc.stopAt-1 {
					t.Errorf("%d measurements before the window ended, want at least %d", rec.Measurements, tc.stopAt-1)
				}
				return
			}
			got := [4]int{rec.Measurements, rec.Pass, rec.Fail, rec.Empty}
			if got != tc.counts {
				t.Errorf("counts (measurements, passed, failed, no value) = %v, want %v\n%s", got, tc.counts, log.String())
			}
			value := ""
			if rec.HasValue {
				value = FormatValue(rec.Value)
			}
			if value != tc.value {
				t.Errorf("value %q, want %q", value, tc.value)
			}
			if lines := strings.Count(log.String(), "\n"); lines != 1+rec.Measurements {
				t.Errorf("%d log lines for %d measurements:\n%s", lines, rec.Measurements, log.String())
			}
		})
	}
}

func TestWindowCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &script{samples: []*Sample{refused}}
	w := Window{Interval: time.Millisecond, Timeout: time.Hour, Consecutive: 1}
	go func() {
		for s.n.Load() < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	rec := w.Run(ctx, "check", Threshold{Op: "<", Number: 1}, &bytes.Buffer{}, s.measure)
	if rec.Verdict != Cancelled || !errors.Is(rec.Err, context.Canceled) || rec.Verdict.ExitCode() != -1 {
		t.Fatalf("verdict %s, err %v", rec.Verdict, rec.Err)
	}
}

func TestVerdictExitCodes(t *testing.T) {
	for v, want := range map[Verdict]int{Passed: 0, Failed: 1, Inconclusive: 2, Errored: 3, Cancelled: -1} {
		if got := v.ExitCode(); got != want {
			t.Errorf("%s: exit code %d, want %d", v, got, want)
		}
	}
}
