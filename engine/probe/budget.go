package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Budget is the error budget a probe's result is checked against. A nil
// field is not checked.
type Budget struct {
	MaxFailed        *int64   `json:"max_failed,omitempty"`
	MaxFailedPercent *float64 `json:"max_failed_percent,omitempty"`
	// MaxFailureWindow bounds the longest failure window. In JSON it is a Go
	// duration string ("500ms", "1.5s"), which round-trips exactly; a number
	// is also accepted and read as milliseconds.
	MaxFailureWindow *time.Duration `json:"max_failure_window,omitempty"`
}

// Check returns "" when r is within b, else a one-line reason naming each
// figure over its limit and the limit, e.g. "3 failed requests, budget 0".
func (b Budget) Check(r Result) string {
	var why []string
	if b.MaxFailed != nil && r.Failed > *b.MaxFailed {
		why = append(why, fmt.Sprintf("%d failed %s, budget %d", r.Failed, requests(r.Failed), *b.MaxFailed))
	}
	if b.MaxFailedPercent != nil {
		if pc := percent(r.Failed, r.Requests); pc > *b.MaxFailedPercent {
			why = append(why, fmt.Sprintf("%s%% failed requests (%d of %d), budget %s%%",
				fmtPercent(pc), r.Failed, r.Requests, fmtPercent(*b.MaxFailedPercent)))
		}
	}
	if b.MaxFailureWindow != nil && r.LongestFailureMS > ms(*b.MaxFailureWindow) {
		why = append(why, fmt.Sprintf("longest failure window %s ms, budget %s", fmtMS(r.LongestFailureMS), *b.MaxFailureWindow))
	}
	return strings.Join(why, "; ")
}

func requests(n int64) string {
	if n == 1 {
		return "request"
	}
	return "requests"
}

func fmtPercent(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// Merge returns b with every field that is set in over replacing b's: the
// command line's budget overrides the plan's.
func (b Budget) Merge(over Budget) Budget {
	if over.MaxFailed != nil {
		b.MaxFailed = ptr(*over.MaxFailed)
	}
	if over.MaxFailedPercent != nil {
		b.MaxFailedPercent = ptr(*over.MaxFailedPercent)
	}
	if over.MaxFailureWindow != nil {
		b.MaxFailureWindow = ptr(*over.MaxFailureWindow)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// IsZero reports whether no field is set.
func (b Budget) IsZero() bool {
	return b.MaxFailed == nil && b.MaxFailedPercent == nil && b.MaxFailureWindow == nil
}

// budgetJSON is Budget with the window as a duration string.
type budgetJSON struct {
	MaxFailed        *int64          `json:"max_failed,omitempty"`
	MaxFailedPercent *float64        `json:"max_failed_percent,omitempty"`
	MaxFailureWindow json.RawMessage `json:"max_failure_window,omitempty"`
}

// MarshalJSON writes MaxFailureWindow as a duration string.
func (b Budget) MarshalJSON() ([]byte, error) {
	j := budgetJSON{MaxFailed: b.MaxFailed, MaxFailedPercent: b.MaxFailedPercent}
	if b.MaxFailureWindow != nil {
		j.MaxFailureWindow, _ = json.Marshal(b.MaxFailureWindow.String())
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads MaxFailureWindow as a duration string or a number of
// milliseconds.
func (b *Budget) UnmarshalJSON(data []byte) error {
	var j budgetJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	out := Budget{MaxFailed: j.MaxFailed, MaxFailedPercent: j.MaxFailedPercent}
	if len(j.MaxFailureWindow) > 0 && !bytes.Equal(j.MaxFailureWindow, []byte("null")) {
		d, err := windowJSON(j.MaxFailureWindow)
		if err != nil {
			return err
		}
		out.MaxFailureWindow = &d
	}
	*b = out
	return nil
}

func windowJSON(raw json.RawMessage) (time.Duration, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("max_failure_window %q: want a duration >= 0 such as \"500ms\"", s)
		}
		return d, nil
	}
	var msec float64
	if err := json.Unmarshal(raw, &msec); err != nil || msec < 0 {
		return 0, fmt.Errorf("max_failure_window %s: want a duration string such as \"500ms\" or milliseconds >= 0", raw)
	}
	return time.Duration(msec * float64(time.Millisecond)), nil
}
