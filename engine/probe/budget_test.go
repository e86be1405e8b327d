package probe

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func i64(n int64) *int64                 { return &n }
func f64(v float64) *float64             { return &v }
func dur(d time.Duration) *time.Duration { return &d }

func TestBudgetCheck(t *testing.T) {
	clean := Result{Requests: 1000}
	some := Result{Requests: 1000, Failed: 3, LongestFailureMS: 60}
	tests := []struct {
		name   string
		budget Budget
		r      Result
		want   string
	}{
		{"nothing checked", Budget{}, some, ""},
		{"zero failures met", Budget{MaxFailed: i64(0)}, clean, ""},
		{"zero failures exceeded", Budget{MaxFailed: i64(0)}, some, "3 failed requests, budget 0"},
		{"one failure", Budget{MaxFailed: i64(0)}, Result{Requests: 10, Failed: 1}, "1 failed request, budget 0"},
		{"at the limit is met", Budget{MaxFailed: i64(3)}, some, ""},
		{"percent met", Budget{MaxFailedPercent: f64(0.5)}, some, ""},
		{"percent exceeded", Budget{MaxFailedPercent: f64(0.1)}, some, "0.3% failed requests (3 of 1000), budget 0.1%"},
		{"percent of no request", Budget{MaxFailedPercent: f64(0)}, Result{}, ""},
		{"window met", Budget{MaxFailureWindow: dur(60 * time.Millisecond)}, some, ""},
		{"window exceeded", Budget{MaxFailureWindow: dur(50 * time.Millisecond)}, some, "longest failure window 60.0 ms, budget 50ms"},
		{"every breach", Budget{MaxFailed: i64(1), MaxFailedPercent: f64(0.1), MaxFailureWindow: dur(0)}, some,
			"3 failed requests, budget 1; 0.3% failed requests (3 of 1000), budget 0.1%; longest failure window 60.0 ms, budget 0s"},
	}
	for _, tc := range tests {
		if got := tc.budget.Check(tc.r); got != tc.want {
			t.Errorf("%s: Check = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseBudget(t *testing.T) {
	tests := []struct {
		in      string
		want    Budget
		wantErr string
	}{
		{in: "", want: Budget{}},
		{in: "maxFailed=0", want: Budget{MaxFailed: i64(0)}},
		{in: " maxFailed = 2 , maxFailedPercent=0.5, maxFailureWindow=1.5s ",
			want: Budget{MaxFailed: i64(2), MaxFailedPercent: f64(0.5), MaxFailureWindow: dur(1500 * time.Millisecond)}},
		{in: "maxFailedPercent=1%", want: Budget{MaxFailedPercent: f64(1)}},
		{in: "maxFailureWindow=0s", want: Budget{MaxFailureWindow: dur(0)}},
		{in: "maxFailed=-1", wantErr: `"maxFailed=-1": want a whole number`},
		{in: "maxFailed=1.5", wantErr: `"maxFailed=1.5"`},
		{in: "maxFailedPercent=101", wantErr: `"maxFailedPercent=101": want a percentage`},
		{in: "maxFailedPercent=NaN", wantErr: `"maxFailedPercent=NaN"`},
		{in: "maxFailureWindow=500", wantErr: `"maxFailureWindow=500": want a duration`},
		{in: "maxFailureWindow=-1s", wantErr: `"maxFailureWindow=-1s"`},
		{in: "maxFailed=0,maxFailed=1", wantErr: `"maxFailed=1": maxFailed is given twice`},
		{in: "maxfailed=0", wantErr: `unknown key "maxfailed"`},
		{in: "maxFailed", wantErr: `"maxFailed": want KEY=VALUE`},
		{in: "maxFailed=0,", wantErr: `item "": want KEY=VALUE`},
		{in: "=3", wantErr: `"=3": want KEY=VALUE`},
	}
	for _, tc := range tests {
		got, err := ParseBudget(tc.in)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseBudget(%q) = %+v, %v; want an error with %s", tc.in, got, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseBudget(%q): %v", tc.in, err)
		case tc.wantErr == "" && !reflect.DeepEqual(got, tc.want):
			t.Errorf("ParseBudget(%q) = %s, want %s", tc.in, show(got), show(tc.want))
		}
	}
}

func show(b Budget) string {
	j, _ := json.Marshal(b)
	return string(j)
}

func TestBudgetMerge(t *testing.T) {
	plan := Budget{MaxFailed: i64(0), MaxFailureWindow: dur(time.Second)}
	tests := []struct {
		name       string
		base, over Budget
		want       Budget
	}{
		{"nothing over", plan, Budget{}, plan},
		{"nothing under", Budget{}, plan, plan},
		{"a field each", plan, Budget{MaxFailedPercent: f64(1)},
			Budget{MaxFailed: i64(0), MaxFailedPercent: f64(1), MaxFailureWindow: dur(time.Second)}},
		{"the flag wins", plan, Budget{MaxFailed: i64(5), MaxFailureWindow: dur(0)},
			Budget{MaxFailed: i64(5), MaxFailureWindow: dur(0)}},
	}
	for _, tc := range tests {
		if got := tc.base.Merge(tc.over); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Merge = %s, want %s", tc.name, show(got), show(tc.want))
		}
	}
	over := Budget{MaxFailed: i64(5)}
	merged := plan.Merge(over)
	*over.MaxFailed = 7
	if *merged.MaxFailed != 5 || *plan.MaxFailed != 0 {
		t.Errorf("Merge shares its pointers: merged %d, plan %d", *merged.MaxFailed, *plan.MaxFailed)
	}
}

func TestBudgetIsZero(t *testing.T) {
	for _, b := range []Budget{{MaxFailed: i64(0)}, {MaxFailedPercent: f64(0)}, {MaxFailureWindow: dur(0)}} {
		if b.IsZero() {
			t.Errorf("%s.IsZero() = true", show(b))
		}
	}
	if !(Budget{}).IsZero() {
		t.Error("Budget{}.IsZero() = false")
	}
}

func TestBudgetJSON(t *testing.T) {
	tests := []struct {
		b    Budget
		json string
	}{
		{Budget{}, `{}`},
		{Budget{MaxFailed: i64(0), MaxFailedPercent: f64(0.5), MaxFailureWindow: dur(1500 * time.Millisecond)},
			`{"max_failed":0,"max_failed_percent":0.5,"max_failure_window":"1.5s"}`},
		{Budget{MaxFailureWindow: dur(1234567 * time.Nanosecond)}, `{"max_failure_window":"1.234567ms"}`},
	}
	for _, tc := range tests {
		j, err := json.Marshal(tc.b)
		if err != nil || string(j) != tc.json {
			t.Errorf("Marshal(%s) = %s, %v; want %s", show(tc.b), j, err, tc.json)
		}
		var back Budget
		if err := json.Unmarshal(j, &back); err != nil || !reflect.DeepEqual(back, tc.b) {
			t.Errorf("round trip of %s = %s, %v", tc.json, show(back), err)
		}
	}
	var b Budget
	if err := json.Unmarshal([]byte(`{"max_failure_window":250}`), &b); err != nil || *b.MaxFailureWindow != 250*time.Millisecond {
		t.Errorf("a number of milliseconds: %s, %v", show(b), err)
	}
	for _, in := range []string{`{"max_failure_window":"soon"}`, `{"max_failure_window":-1}`, `{"max_failure_window":true}`} {
		if err := json.Unmarshal([]byte(in), &b); err == nil || !strings.Contains(err.Error(), "max_failure_window") {
			t.Errorf("Unmarshal(%s) = %v, want an error naming max_failure_window", in, err)
		}
	}
	// Inside a Result, through its pointer.
	j, _ := json.Marshal(Result{Budget: &Budget{MaxFailureWindow: dur(time.Second)}})
	if !strings.Contains(string(j), `"budget":{"max_failure_window":"1s"}`) {
		t.Errorf("Result JSON %s, want the budget's window as a duration string", j)
	}
}
