package step

import "testing"

// minHealthy's arithmetic: a count as is; a percentage of the backend's
// servers (the drained one included), rounded up.
func TestMinServing(t *testing.T) {
	tests := []struct {
		n       int
		percent bool
		total   int
		want    int
		text    string
	}{
		{n: 0, total: 5, want: 0, text: "0"},
		{n: 2, total: 5, want: 2, text: "2"},
		{n: 2, total: 1, want: 2, text: "2"}, // a count does not shrink with the pool
		{n: 50, percent: true, total: 4, want: 2, text: "50%"},
		{n: 50, percent: true, total: 3, want: 2, text: "50%"}, // 1.5 rounds up
		{n: 60, percent: true, total: 3, want: 2, text: "60%"}, // 1.8
		{n: 10, percent: true, total: 4, want: 1, text: "10%"}, // 0.4
		{n: 1, percent: true, total: 100, want: 1, text: "1%"},
		{n: 1, percent: true, total: 101, want: 2, text: "1%"}, // 1.01
		{n: 0, percent: true, total: 8, want: 0, text: "0%"},
		{n: 99, percent: true, total: 2, want: 2, text: "99%"}, // 1.98: more than the one other server
		{n: 50, percent: true, total: 0, want: 0, text: "50%"},
	}
	for _, tc := range tests {
		lb := LoadBalancer{MinHealthy: tc.n, MinHealthyPercent: tc.percent}
		if got := lb.MinServing(tc.total); got != tc.want {
			t.Errorf("minHealthy %s of %d servers: MinServing = %d, want %d", lb.MinHealthyString(), tc.total, got, tc.want)
		}
		if got := lb.MinHealthyString(); got != tc.text {
			t.Errorf("MinHealthyString = %q, want %q", got, tc.text)
		}
	}
}
