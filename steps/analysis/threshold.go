package analysis

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Threshold is a parsed `pass` condition: the value passes when
// `value Op Number` holds.
type Threshold struct {
	Op     string // one of <, <=, >, >=, ==, !=
	Number float64
}

// ops is in the order the parser tries them: two-character operators
// before their one-character prefixes.
var ops = []string{"<=", ">=", "==", "!=", "<", ">"}

// ParseThreshold reads "OP NUMBER", e.g. "< 0.01" or ">=99.5". The number is
// finite (no NaN or Inf); white space around both parts is allowed.
func ParseThreshold(s string) (Threshold, error) {
	t := strings.TrimSpace(s)
	for _, op := range ops {
		if !strings.HasPrefix(t, op) {
			continue
		}
		num := strings.TrimSpace(t[len(op):])
		if num == "" {
			return Threshold{}, fmt.Errorf("%q: a number must follow %s", s, op)
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return Threshold{}, fmt.Errorf("%q: %q is not a finite number", s, num)
		}
		return Threshold{Op: op, Number: f}, nil
	}
	return Threshold{}, fmt.Errorf("%q must start with one of %s, then a number (e.g. \"< 0.01\")", s, strings.Join(ops, " "))
}

// Passes reports whether v passes. NaN passes no comparison but !=; the
// callers never pass NaN (it is no value), so that corner is only for
// completeness. ±Inf compares as usual (+Inf is above every threshold).
func (t Threshold) Passes(v float64) bool {
	switch t.Op {
	case "<":
		return v < t.Number
	case "<=":
		return v <= t.Number
	case ">":
		return v > t.Number
	case ">=":
		return v >= t.Number
	case "==":
		return v == t.Number
	case "!=":
		return v != t.Number
	}
	panic("analysis: threshold with unknown operator " + t.Op)
}

func (t Threshold) String() string { return t.Op + " " + FormatValue(t.Number) }

// FormatValue writes a value the way Prometheus does: the shortest text that
// reads back as the same number, and +Inf, -Inf, NaN.
func FormatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
