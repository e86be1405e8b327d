package probe

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestResultLine(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Requests: 6012, P50MS: 1.23, P99MS: 4.81, MaxMS: 9.1},
			"requests 6012, failed 0 (0.00%), longest failure window 0 ms, latency p50 1.2 ms, p99 4.8 ms, max 9.1 ms"},
		{Result{Requests: 6000, Failed: 12, LongestFailureMS: 1234.5, P50MS: 0.084, P99MS: 250, MaxMS: 2000,
			Failures: map[string]int64{"connection refused": 3, "503": 9}},
			"requests 6000, failed 12 (0.20%: 503 ×9, connection refused ×3), longest failure window 1234 ms, latency p50 0.08 ms, p99 250 ms, max 2000 ms"},
		{Result{Failures: map[string]int64{"timeout": 1, "eof": 1}, Requests: 2, Failed: 2},
			"requests 2, failed 2 (100.00%: eof ×1, timeout ×1), longest failure window 0 ms, latency p50 0 ms, p99 0 ms, max 0 ms"},
		{Result{}, "requests 0, failed 0 (0.00%), longest failure window 0 ms, latency p50 0 ms, p99 0 ms, max 0 ms"},
	}
	for _, tc := range tests {
		if got := tc.r.Line(); got != tc.want {
			t.Errorf("Line =\n%s\nwant\n%s", got, tc.want)
		}
	}
}

func TestResultJSONNames(t *testing.T) {
	r := Result{URL: "http://127.0.0.1/", RateRPS: 50, Requests: 1, Breach: "x",
		LB: []LBCounters{{LB: "web", Driver: "haproxy", Backend: "app", Counters: map[string]int64{"econ": 1}}}}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"url":`, `"rate_rps":50`, `"duration_ms":`, `"requests":1`, `"failed":0`,
		`"longest_failure_ms":`, `"p50_ms":`, `"p99_ms":`, `"max_ms":`, `"breach":"x"`,
		`"lb":[{"lb":"web","driver":"haproxy","backend":"app","counters":{"econ":1}}]`} {
		if !strings.Contains(string(j), want) {
			t.Errorf("JSON %s lacks %s", j, want)
		}
	}
	for _, absent := range []string{`"failures"`, `"budget"`, `"error"`} {
		if strings.Contains(string(j), absent) {
			t.Errorf("JSON %s has the empty %s", j, absent)
		}
	}
}
