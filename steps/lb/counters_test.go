package lb

import (
	"reflect"
	"testing"
)

func TestDelta(t *testing.T) {
	tests := []struct {
		name          string
		before, after map[string]int64
		want          map[string]int64
	}{
		{"nothing after", map[string]int64{"econ": 1}, nil, nil},
		{"nothing before", nil, map[string]int64{"econ": 2}, map[string]int64{"econ": 2}},
		{"changed and unchanged", map[string]int64{"econ": 2, "eresp": 5}, map[string]int64{"econ": 7, "eresp": 5},
			map[string]int64{"econ": 5, "eresp": 0}},
		{"a key only before is dropped", map[string]int64{"econ": 2, "gone": 9}, map[string]int64{"econ": 2},
			map[string]int64{"econ": 0}},
		// A reload resets HAProxy's counters; the delta shows it rather than hiding it.
		{"a reset goes negative", map[string]int64{"econ": 10}, map[string]int64{"econ": 1}, map[string]int64{"econ": -9}},
	}
	for _, tc := range tests {
		if got := Delta(tc.before, tc.after); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Delta = %v, want %v", tc.name, got, tc.want)
		}
	}
}
