package probe

import (
	"testing"
	"time"
)

// The open loop's rules, checked on the timetable with made-up times: no
// clock is read, so a loaded machine changes nothing here. What the sender
// achieves on a real clock is a figure (BenchmarkProbeRate), not a test.

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// onTime sends n requests each exactly when due and returns their due times
// from the start.
func onTime(tt *timetable, n int) []time.Duration {
	var out []time.Duration
	for range n {
		d := tt.due()
		out = append(out, d.Sub(epoch))
		tt.sent(d)
	}
	return out
}

func TestTimetableOnTime(t *testing.T) {
	tests := []struct {
		rate float64
		n    int
		last time.Duration // due time of request n-1
	}{
		{200, 201, time.Second},
		{3, 4, time.Second}, // an interval with no exact nanosecond value does not drift
		{1000, 3601, 3600 * time.Millisecond},
		{0.5, 3, 4 * time.Second},
	}
	for _, tc := range tests {
		tt := newTimetable(epoch, tc.rate)
		dues := onTime(&tt, tc.n)
		if dues[0] != 0 || dues[tc.n-1] != tc.last {
			t.Errorf("rate %v: first due %s, request %d due %s; want 0 and %s", tc.rate, dues[0], tc.n-1, dues[tc.n-1], tc.last)
		}
		for i := 1; i < len(dues); i++ {
			if dues[i] <= dues[i-1] {
				t.Fatalf("rate %v: request %d due at %s, not after request %d at %s", tc.rate, i, dues[i], i-1, dues[i-1])
			}
		}
	}
}

// burst is what the sender does when it wakes up `late` after the request
// that was due: it sends back to back while requests are due. It returns
// how many went out at once and when the next one is due, from the wake-up.
func burst(tt *timetable, late time.Duration) (int, time.Duration) {
	now := tt.due().Add(late)
	n := 0
	for !tt.due().After(now) {
		tt.sent(now)
		n++
		if n > 1e6 {
			panic("the timetable never leaves the burst")
		}
	}
	return n, tt.due().Sub(now)
}

// A late sender catches up at most maxLag's worth of requests at once; later
// than that it starts a new schedule from now rather than burst.
func TestTimetableCatchUpIsBounded(t *testing.T) {
	for _, rate := range []float64{1, 50, 100, 200, 1000, 5000} {
		interval := time.Duration(float64(time.Second) / rate)
		tt0 := newTimetable(epoch, rate)
		maxLag := tt0.maxLag
		if want := max(maxCatchUp*interval, minCatchUp); maxLag != want {
			t.Errorf("rate %v: maxLag %s, want %s", rate, maxLag, want)
		}
		maxBurst := int(maxLag/interval) + 1
		for late := time.Duration(0); late <= 2*maxLag+3*interval; late += max(interval/7, time.Microsecond*97) {
			tt := newTimetable(epoch, rate)
			onTime(&tt, 10)
			n, next := burst(&tt, late)
			if n > maxBurst {
				t.Fatalf("rate %v, %s late: %d requests at once, want at most %d", rate, late, n, maxBurst)
			}
			if late > maxLag && (n != 1 || next != interval) {
				t.Fatalf("rate %v, %s late (more than %s): %d at once, next due in %s; want 1 and a new schedule (next in %s)",
					rate, late, maxLag, n, next, interval)
			}
			if late <= maxLag && n != int(late/interval)+1 {
				t.Fatalf("rate %v, %s late: %d at once, want the %d overdue ones", rate, late, n, int(late/interval)+1)
			}
			if next <= 0 || next > interval {
				t.Fatalf("rate %v, %s late: next due in %s, want within one interval (%s)", rate, late, next, interval)
			}
		}
	}
}

// After a new schedule starts, requests are due at the rate again, from
// the moment it started.
func TestTimetableNewScheduleKeepsTheRate(t *testing.T) {
	tt := newTimetable(epoch, 100)
	onTime(&tt, 5)
	wake := tt.due().Add(time.Second)
	tt.sent(wake)
	for i := 1; i <= 100; i++ {
		want := wake.Add(time.Duration(i) * 10 * time.Millisecond)
		if got := tt.due(); !got.Equal(want) {
			t.Fatalf("request %d after the new schedule due at %s, want %s", i, got.Sub(wake), want.Sub(wake))
		}
		tt.sent(tt.due())
	}
}
