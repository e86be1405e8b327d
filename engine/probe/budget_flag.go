package probe

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Keys of the --probe-budget flag form.
const (
	keyMaxFailed        = "maxFailed"
	keyMaxFailedPercent = "maxFailedPercent"
	keyMaxFailureWindow = "maxFailureWindow"
)

// ParseBudget reads the --probe-budget flag form: comma-separated
// maxFailed=N, maxFailedPercent=P and maxFailureWindow=DURATION (a Go
// duration such as 500ms), each at most once, e.g.
// "maxFailed=0,maxFailureWindow=1s". An empty string is the zero Budget.
// Errors name the bad item.
func ParseBudget(s string) (Budget, error) {
	var b Budget
	if strings.TrimSpace(s) == "" {
		return b, nil
	}
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		key, val, ok := strings.Cut(item, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return Budget{}, fmt.Errorf("probe budget item %q: want KEY=VALUE with KEY one of %s, %s, %s",
				item, keyMaxFailed, keyMaxFailedPercent, keyMaxFailureWindow)
		}
		if seen[key] {
			return Budget{}, fmt.Errorf("probe budget item %q: %s is given twice", item, key)
		}
		seen[key] = true
		if err := b.set(key, val); err != nil {
			return Budget{}, fmt.Errorf("probe budget item %q: %w", item, err)
		}
	}
	return b, nil
}

func (b *Budget) set(key, val string) error {
	switch key {
	case keyMaxFailed:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 {
			return errors.New("want a whole number of requests >= 0")
		}
		b.MaxFailed = &n
	case keyMaxFailedPercent:
		p, err := strconv.ParseFloat(strings.TrimSuffix(val, "%"), 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return errors.New("want a percentage between 0 and 100")
		}
		b.MaxFailedPercent = &p
	case keyMaxFailureWindow:
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return errors.New("want a duration >= 0 such as 500ms or 2s")
		}
		b.MaxFailureWindow = &d
	default:
		return fmt.Errorf("unknown key %q, want %s, %s or %s", key, keyMaxFailed, keyMaxFailedPercent, keyMaxFailureWindow)
	}
	return nil
}
