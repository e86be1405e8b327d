package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func nodes(names ...string) []Node {
	out := make([]Node, len(names))
	for i, n := range names {
		out[i] = Node{Name: n, Endpoint: "root@" + n + ":22"}
	}
	return out
}

// TestLocks: a second run touching a held node is refused naming the
// holder; on disjoint nodes both hold; once released, the nodes are free.
func TestLocks(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.Lock(NewRun("run-a", "p", "dir-a", nodes("n1", "n2")), nodes("n1", "n2"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Lock(NewRun("run-b", "p", "dir-b", nodes("n2", "n3")), nodes("n2", "n3"))
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.ID != "run-a" || !held.Alive || strings.Join(held.Nodes, ",") != "n2" {
		t.Fatalf("got %v, want n2 held by the running run-a", err)
	}
	for _, want := range []string{"n2 held by run run-a (pid", "still running"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	c, err := d.Lock(NewRun("run-c", "p", "dir-c", nodes("n3")), nodes("n3"))
	if err != nil {
		t.Fatalf("disjoint nodes: %v", err)
	}
	if err := a.Release("SUCCESS", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lock(NewRun("run-b", "p", "dir-b", nodes("n2")), nodes("n2")); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if r, _ := d.Run("run-a"); r.Ended == nil || r.Status != "SUCCESS" || *r.ExitCode != 0 {
		t.Errorf("run-a's record: %+v", r)
	}
	c.Release("SUCCESS", 0)
}

// TestStaleLock: a run whose process died without finishing keeps its
// nodes: a new run is refused (saying so, and what to do) until the run is
// resumed, which takes its locks over, or unlocked, which records who. A
// lock left by a run that did finish is no obstacle.
func TestStaleLock(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := NewRun("run-a", "p", "dir-a", nodes("n1"))
	a, err := d.Lock(run, nodes("n1"))
	if err != nil {
		t.Fatal(err)
	}
	a.(*Held).alive.Close() // the process died: no Release
	_, err = d.Lock(NewRun("run-b", "p", "dir-b", nodes("n1")), nodes("n1"))
	var held *HeldError
	if !errors.As(err, &held) || held.Alive {
		t.Fatalf("got %v, want n1 held by a dead, unfinished run", err)
	}
	for _, want := range []string{"stopped without finishing", "zdu resume run-a", "zdu unlock run-a"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	d.Resumed(&run)
	resumed, err := d.Lock(run, nodes("n1"))
	if err != nil {
		t.Fatalf("resuming run-a: %v", err)
	}
	if _, err := d.Unlock("run-a"); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("unlocking a running run: %v", err)
	}
	// Resumed a second time while the first resumption runs: refused as
	// held by a running run.
	_, err = d.Lock(run, nodes("n1"))
	if !errors.As(err, &held) || !held.Alive || held.Holder.ID != "run-a" {
		t.Fatalf("resuming a running run: got %v, want held by the running run-a", err)
	}
	resumed.(*Held).alive.Close() // dies again
	released, err := d.Unlock("run-a")
	if err != nil || strings.Join(released, ",") != "n1" {
		t.Fatalf("unlock: %v %v", released, err)
	}
	r, _ := d.Run("run-a")
	if r.Unlocked == nil || r.Unlocked.User == "" || len(r.Resumed) != 1 {
		t.Errorf("run-a's record does not say who unlocked and resumed it: %+v", r)
	}
	if _, err := d.Lock(NewRun("run-b", "p", "dir-b", nodes("n1")), nodes("n1")); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	// A lock file a finished run left behind (a crash between its end and
	// the lock's removal) does not hold anything.
	done := NewRun("run-done", "p", "d", nodes("n9"))
	now := time.Now()
	done.Ended = &now
	d.saveRun(done)
	writeJSON(d.lockPath(nodes("n9")[0].key()), lockFile{Run: "run-done", Node: "n9"})
	if _, err := d.Lock(NewRun("run-c", "p", "dir-c", nodes("n9")), nodes("n9")); err != nil {
		t.Fatalf("a finished run's leftover lock: %v", err)
	}
}

// TestStateFilesArePrivate: the state directory and its files are the
// owner's only.
func TestStateFilesArePrivate(t *testing.T) {
	root := filepath.Join(t.TempDir(), "state")
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	h, err := d.Lock(NewRun("r", "p", "x", nodes("n1")), nodes("n1"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release("SUCCESS", 0)
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v", p, fi.Mode().Perm())
		}
		return nil
	})
}
