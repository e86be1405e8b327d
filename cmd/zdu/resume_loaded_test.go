package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/rundir"
)

// A plan that imports base.yaml, whose first step uses the template
// echo.yaml: each step appends a line to DIR/ran.
var loadedFiles = map[string]string{
	"plan.yaml": `apiVersion: zdu/v1
name: resume-loaded
import: {plan: base.yaml}
`,
	"base.yaml": `apiVersion: zdu/v1
name: base
params:
  dir: {type: string, required: true}
phases:
  - id: work
    targets: all
    strategy: serial
    steps:
      - {id: one, uses: echo.yaml, with: {word: one}}
      - {id: two, type: ssh-exec, with: {command: "echo two ${{ node.name }} >> ${{ params.dir }}/ran"}}
`,
	"echo.yaml": `apiVersion: zdu/v1
kind: Template
name: echo
inputs:
  word: {type: string, required: true}
steps:
  - {id: say, type: ssh-exec, with: {command: "echo ${{ inputs.word }} ${{ node.name }} >> ${{ params.dir }}/ran"}}
`,
}

// newLoadedCrash starts a run of the plan above and has it killed after
// its first step, then edits the template and the imported plan.
func newLoadedCrash(t *testing.T) *crashRun {
	t.Helper()
	c := &crashRun{dir: t.TempDir()}
	for name, text := range loadedFiles {
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.plan, c.inv = filepath.Join(c.dir, "plan.yaml"), filepath.Join(c.dir, "inventory.yaml")
	c.state, c.runDir = filepath.Join(c.dir, "state"), filepath.Join(c.dir, "run")
	os.WriteFile(c.inv, []byte("apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes: [{name: a}, {name: b}]\n"), 0o600)
	code, killed, out := c.zdu(t, []string{"ZDU_FAULT_KILL_AFTER=1"}, "run", c.plan, "-i", c.inv, "--set", "dir="+c.dir, "--run-dir", c.runDir)
	if !killed {
		t.Fatalf("the run was not killed: exit %d\n%s", code, out)
	}
	if got := c.ran(t); got != "one a" {
		t.Fatalf("the first process ran %q", got)
	}
	edit := func(name, old, new string) {
		p := filepath.Join(c.dir, name)
		b, _ := os.ReadFile(p)
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s lacks %q", name, old)
		}
		os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o600)
	}
	edit("echo.yaml", "echo ${{ inputs.word }}", "echo EDITED-${{ inputs.word }}")
	edit("base.yaml", "echo two", "echo EDITED-two")
	return c
}

// TestResumeLoadsCopies: a run keeps a copy of every template and imported
// plan its plan loaded (under loaded/, 0600, with digests in run.json);
// resumed after they were edited, it runs them as they were when it
// started, saying which changed; with --accept-changes, as they are now.
func TestResumeLoadsCopies(t *testing.T) {
	c := newLoadedCrash(t)
	raw, err := os.ReadFile(filepath.Join(c.runDir, rundir.RecordFile))
	if err != nil {
		t.Fatal(err)
	}
	var rec rundir.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range rec.Loaded {
		names = append(names, filepath.Base(l.Path))
		st, err := os.Lstat(filepath.Join(c.runDir, l.Copy))
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 || !strings.HasPrefix(l.Digest, "sha256:") || !filepath.IsAbs(l.Path) {
			t.Errorf("copy of %s: %+v %v", l.Path, st, err)
		}
	}
	if got := strings.Join(names, ","); got != "base.yaml,echo.yaml" {
		t.Errorf("run.json's loaded files: %s\n%s", got, raw)
	}
	if st, err := os.Stat(filepath.Join(c.runDir, rundir.LoadedDir)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("loaded/: %v %v", st, err)
	}

	code, _, out := c.zdu(t, nil, "resume", c.runDir)
	if code != 0 {
		t.Fatalf("resume: exit %d:\n%s", code, out)
	}
	if got, want := c.ran(t), "one a\ntwo a\none b\ntwo b"; got != want {
		t.Errorf("the resumed run did not run the files as they were:\n%s\nwant:\n%s", got, want)
	}
	for _, f := range []string{"base.yaml", "echo.yaml"} {
		if !strings.Contains(out, "changed or gone since the run started: ") || !strings.Contains(out, filepath.Join(c.dir, f)) {
			t.Errorf("resume does not say %s changed:\n%s", f, out)
		}
	}

	// A copy altered in the run directory is refused.
	c2 := newLoadedCrash(t)
	var rec2 rundir.Record
	raw, _ = os.ReadFile(filepath.Join(c2.runDir, rundir.RecordFile))
	json.Unmarshal(raw, &rec2)
	os.WriteFile(filepath.Join(c2.runDir, rec2.Loaded[1].Copy), []byte(loadedFiles["echo.yaml"]+"# altered\n"), 0o600)
	if code, _, out := c2.zdu(t, nil, "resume", c2.runDir); code == 0 || !strings.Contains(out, "does not match run.json") {
		t.Errorf("resume with an altered copy: exit %d:\n%s", code, out)
	}
	os.WriteFile(filepath.Join(c2.runDir, rec2.Loaded[1].Copy), []byte(loadedFiles["echo.yaml"]), 0o600)
	// --accept-changes: the files as they are now.
	if code, _, out := c2.zdu(t, nil, "resume", c2.runDir, "--accept-changes"); code != 0 {
		t.Fatalf("resume --accept-changes: exit %d:\n%s", code, out)
	}
	if got, want := c2.ran(t), "one a\nEDITED-two a\nEDITED-one b\nEDITED-two b"; got != want {
		t.Errorf("resume --accept-changes ran:\n%s\nwant:\n%s", got, want)
	}
}
