package probe

import (
	"math"
	"testing"
	"time"
	"unsafe"
)

const msec = time.Millisecond

// good and bad are samples sent at ms milliseconds that took lat ms.
func good(at, lat int) sample {
	return sample{at: time.Duration(at) * msec, lat: uint32(lat * 1000), sent: true, ok: true}
}
func bad(at, lat int) sample {
	return sample{at: time.Duration(at) * msec, lat: uint32(lat * 1000), sent: true}
}
func saturated(at int) sample { return sample{at: time.Duration(at) * msec} }

func TestLongestFailure(t *testing.T) {
	tests := []struct {
		name    string
		samples []sample
		want    time.Duration
	}{
		{"no request", nil, 0},
		{"all ok", []sample{good(0, 1), good(10, 1), good(20, 1)}, 0},
		{"one failure is one interval", []sample{good(0, 1), bad(10, 1), good(20, 1)}, 10 * msec},
		{"a run ends at the next success", []sample{good(0, 1), bad(10, 1), bad(20, 500), bad(30, 1), good(40, 1)}, 30 * msec},
		{"the longest of two runs", []sample{bad(0, 1), good(10, 1), bad(20, 1), bad(30, 1), bad(40, 1), good(50, 1), bad(60, 1), good(70, 1)}, 30 * msec},
		{"a run to the end ends with its last request", []sample{good(0, 1), bad(10, 1), bad(20, 5)}, 15 * msec},
		{"a run to the end ends with its slowest request, not its last", []sample{good(0, 1), bad(10, 900), bad(20, 5)}, 900 * msec},
		{"an earlier window's slow failure does not stretch the last", []sample{bad(0, 900), good(10, 1), bad(20, 1)}, 10 * msec},
		{"a success ends a window however slow its failures", []sample{bad(0, 900), good(10, 1)}, 10 * msec},
		{"a saturated request does not shorten the window", []sample{good(0, 1), bad(10, 50), saturated(20)}, 50 * msec},
		{"a saturated request ends when it was due", []sample{good(0, 1), bad(10, 1), saturated(20)}, 10 * msec},
		{"all failed", []sample{bad(0, 2), bad(10, 2), bad(20, 2)}, 22 * msec},
		{"a late success does not end the window early", []sample{bad(0, 1), good(10, 100), good(20, 1)}, 10 * msec},
	}
	for _, tc := range tests {
		if got := longestFailure(tc.samples); got != tc.want {
			t.Errorf("%s: longest failure %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	hundred := make([]uint32, 100)
	for i := range hundred {
		hundred[i] = uint32(i + 1)
	}
	tests := []struct {
		sorted []uint32
		p      float64
		want   uint32
	}{
		{nil, 50, 0},
		{[]uint32{7}, 50, 7},
		{[]uint32{7}, 99, 7},
		{[]uint32{1, 2}, 50, 1},
		{[]uint32{1, 2, 3}, 50, 2},
		{hundred, 50, 50},
		{hundred, 99, 99},
		{hundred, 100, 100},
		{hundred, 0.1, 1},
	}
	for _, tc := range tests {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("p%v of %d values = %d, want %d", tc.p, len(tc.sorted), got, tc.want)
		}
	}
}

func TestStoreKeepsSendOrderAcrossChunks(t *testing.T) {
	var st store
	n := 2*chunkSize + 10
	for i := 0; i < n; i++ {
		st.next().at = time.Duration(i)
	}
	i := 0
	st.each(func(s sample) {
		if s.at != time.Duration(i) {
			t.Fatalf("sample %d has at %d", i, s.at)
		}
		i++
	})
	if i != n || len(st.chunks) != 3 {
		t.Errorf("each saw %d samples in %d chunks, want %d in 3", i, len(st.chunks), n)
	}
}

func TestMicros(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want uint32
	}{
		{-time.Second, 0}, {0, 0}, {1500 * time.Nanosecond, 1}, {2 * msec, 2000},
		{100 * time.Hour, math.MaxUint32},
	}
	for _, tc := range tests {
		if got := micros(tc.d); got != tc.want {
			t.Errorf("micros(%s) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

// An hour at 1000 requests per second must stay far below 200 MB.
func TestSampleSize(t *testing.T) {
	if size := unsafe.Sizeof(sample{}); size > 16 {
		t.Errorf("a sample takes %d bytes, want at most 16 (3.6 million of them an hour at 1000 rps)", size)
	}
}
