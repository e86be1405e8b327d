package analysis

import (
	"math"
	"strings"
	"testing"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		in      string
		op      string
		num     float64
		wantErr string
	}{
		{in: "< 0.01", op: "<", num: 0.01},
		{in: "<=5", op: "<=", num: 5},
		{in: "  >  -3e2 ", op: ">", num: -300},
		{in: ">= 99.5", op: ">=", num: 99.5},
		{in: "== 1", op: "==", num: 1},
		{in: "!= 0", op: "!=", num: 0},
		{in: "0.01", wantErr: "must start with one of"},
		{in: "=< 1", wantErr: "must start with one of"},
		{in: "<", wantErr: "a number must follow <"},
		{in: "< abc", wantErr: `"abc" is not a finite number`},
		{in: "< NaN", wantErr: "not a finite number"},
		{in: "> +Inf", wantErr: "not a finite number"},
		{in: "< 1e400", wantErr: "not a finite number"},
		{in: "<< 1", wantErr: `"< 1" is not a finite number`},
		{in: "", wantErr: "must start with one of"},
	}
	for _, tc := range tests {
		th, err := ParseThreshold(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseThreshold(%q) = %v, %v; want an error containing %q", tc.in, th, err, tc.wantErr)
			}
			continue
		}
		if err != nil || th.Op != tc.op || th.Number != tc.num {
			t.Errorf("ParseThreshold(%q) = %+v, %v; want %s %v", tc.in, th, err, tc.op, tc.num)
		}
	}
}

func TestThresholdPasses(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		th   string
		v    float64
		want bool
	}{
		{"< 0.01", 0.0099, true}, {"< 0.01", 0.01, false}, {"< 0.01", 0.5, false},
		{"<= 0.01", 0.01, true}, {"<= 0.01", 0.0101, false},
		{"> 99", 99.1, true}, {"> 99", 99, false},
		{">= 99", 99, true}, {">= 99", 98.99, false},
		{"== 1", 1, true}, {"== 1", 1.0000001, false},
		{"!= 0", 0, false}, {"!= 0", -1, true},
		{"< 0.3", inf, false}, {"> 0.3", inf, true}, {"> -5", math.Inf(-1), false},
		{"< 1", math.Copysign(0, -1), true},
	}
	for _, tc := range tests {
		th, err := ParseThreshold(tc.th)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Passes(tc.v); got != tc.want {
			t.Errorf("%v %s = %v, want %v", tc.v, tc.th, got, tc.want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{0.01: "0.01", 5: "5", 1e21: "1e+21", math.Inf(1): "+Inf", math.Inf(-1): "-Inf", -2.5: "-2.5"} {
		if got := FormatValue(v); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", v, got, want)
		}
	}
}
