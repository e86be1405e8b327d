package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const lockPlan = `apiVersion: zdu/v1
name: locks
params:
  dir: {type: string, required: true}
phases:
  - id: work
    targets: all
    strategy: parallel
    steps:
      - id: hold
        type: ssh-exec
        with: {command: "touch ${{ params.dir }}/started-${{ node.name }}; while [ ! -e ${{ params.dir }}/go ]; do sleep 0.05; done"}
`

// TestConcurrentRuns: while a run holds its nodes, a second run touching
// one of them is refused at once (exit 3), naming the first, having run
// nothing; a run on other nodes goes ahead meanwhile; once the first ends,
// its nodes are free again.
func TestConcurrentRuns(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte(lockPlan), 0o600)
	inv := func(name string, nodes ...string) string {
		p := filepath.Join(dir, name+".yaml")
		doc := "apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes:\n"
		for _, n := range nodes {
			doc += "  - {name: " + n + "}\n"
		}
		os.WriteFile(p, []byte(doc), 0o600)
		return p
	}
	runZdu := func(inventory, name string) (int, string) {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), []string{"run", plan, "-i", inventory, "--set", "dir=" + dir,
			"--state", state, "--run-dir", filepath.Join(dir, name), "--log-format", "json"}, &out, &errb)
		return code, out.String() + errb.String()
	}
	first := make(chan int, 1)
	go func() { code, _ := runZdu(inv("first", "a", "b"), "run-first"); first <- code }()
	waitFor(t, filepath.Join(dir, "started-a"), filepath.Join(dir, "started-b"))

	t0 := time.Now()
	code, out := runZdu(inv("second", "b", "c"), "run-second")
	if code != 3 || !strings.Contains(out, "b held by run ") || !strings.Contains(out, "-locks-") || !strings.Contains(out, "still running") {
		t.Errorf("overlapping run: exit %d, want 3 naming the first run:\n%s", code, out)
	}
	if took := time.Since(t0); took > 30*time.Second {
		t.Errorf("the overlapping run took %s to be refused: it must not wait for the lock", took)
	}
	for _, p := range []string{"started-c", "run-second"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("the refused run made %s", p)
		}
	}
	disjoint := make(chan int, 1)
	go func() { code, _ := runZdu(inv("third", "c", "d"), "run-third"); disjoint <- code }()
	waitFor(t, filepath.Join(dir, "started-c"), filepath.Join(dir, "started-d"))
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o600)
	for name, ch := range map[string]chan int{"first": first, "disjoint": disjoint} {
		select {
		case code := <-ch:
			if code != 0 {
				t.Errorf("the %s run: exit %d", name, code)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("the %s run did not end", name)
		}
	}
	if code, out := runZdu(inv("fourth", "a", "b", "c"), "run-fourth"); code != 0 {
		t.Errorf("after both ended, their nodes: exit %d\n%s", code, out)
	}
}

// waitFor waits until every path exists.
func waitFor(t *testing.T, paths ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, p := range paths {
		for {
			if _, err := os.Stat(p); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never appeared", p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
