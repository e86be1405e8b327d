package enginetest

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"
)

// Marker commands let a test measure what really ran, and when: each node's
// command appends "start NODE" and "end NODE" lines to one shared file.
// Appends of a short line with O_APPEND are atomic, so the file's line order
// is the order in which the writes happened.

// Lines returns the lines of path; a missing file has none.
func Lines(tb testing.TB, path string) []string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// MaxOverlap is the largest number of "start X" lines not yet matched by
// their "end X" at any point of lines: how many nodes were between their two
// markers at once. Lines of other shapes are ignored.
func MaxOverlap(lines []string) int {
	cur, peak := 0, 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "start "):
			cur++
			peak = max(peak, cur)
		case strings.HasPrefix(l, "end "):
			cur--
		}
	}
	return peak
}

// WaitFile polls until path exists, failing the test after d.
func WaitFile(tb testing.TB, path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Errorf("%s did not appear within %s", path, d)
	return false
}
