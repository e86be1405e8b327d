package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/mask"
)

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// More nodes than log files may be open (a 20,000-node run): the files
// open stay within the bound while every node writes in turn, line after
// line, and each log ends up whole, in order, its file appended to each
// time it was opened again.
func TestNodeLogsBoundOpenFiles(t *testing.T) {
	defer func(n int) { maxOpenLogs = n }(maxOpenLogs)
	maxOpenLogs = 8
	dir := filepath.Join(t.TempDir(), NodesDir)
	m := mask.New([]string{"s3cret"})
	logs, err := NewNodeLogs(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	before := openFiles(t)
	const nodes, lines = 40, 5
	peak := 0
	for l := range lines {
		for n := range nodes {
			fmt.Fprintf(logs.Writer(fmt.Sprintf("node-%02d", n)), "line %d s3cret\n", l)
			peak = max(peak, openFiles(t)-before)
		}
	}
	if peak > maxOpenLogs {
		t.Errorf("%d node log files open at once, bound %d", peak, maxOpenLogs)
	}
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := logs.Err(); err != nil {
		t.Fatal(err)
	}
	if after := openFiles(t); after > before {
		t.Errorf("%d files still open after Close", after-before)
	}
	for n := range nodes {
		got, err := os.ReadFile(filepath.Join(dir, LogName(fmt.Sprintf("node-%02d", n))))
		var want strings.Builder
		for l := range lines {
			fmt.Fprintf(&want, "line %d %s\n", l, m.Mask("s3cret"))
		}
		if err != nil || string(got) != want.String() {
			t.Errorf("node-%02d's log: %q (%v), want %q", n, got, err, want.String())
		}
	}
}
