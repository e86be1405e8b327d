package run_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zdu-dev/zdu/engine/enginetest"
)

// resumePlan: phase one registers each node's version; phase two applies
// it, failing on a node until FIX exists; everything it runs is appended
// to DIR/ran.
const resumePlan = `apiVersion: zdu/v1
name: resume
params:
  dir: {type: string, required: true}
  bad: {type: string, default: n2}
phases:
  - id: one
    targets: all
    steps:
      - {id: read, type: ssh-exec, register: version, with: {command: "echo one ${{ node.name }} >> ${{ params.dir }}/ran; echo 7.7-${{ node.name }}"}}
  - id: two
    targets: all
    exitCode: 72
    steps:
      - id: apply
        type: ssh-exec
        with: {command: "echo two ${{ node.name }} ${{ trim(results.version.stdout) }} >> ${{ params.dir }}/ran; test ${{ node.name }} != ${{ params.bad }} || test -e ${{ params.dir }}/FIX"}
      - {id: after, type: ssh-exec, with: {command: "echo after ${{ node.name }} >> ${{ params.dir }}/ran"}}
`

// TestResumeFailedRun: a run that failed on n2 is resumed once n2 is
// fixed: nothing done before runs again, phase two gets the results phase
// one registered (restored from the journal), the failed step and what it
// blocked run, and one journal holds both processes and passes the checks.
func TestResumeFailedRun(t *testing.T) {
	dir := t.TempDir()
	prog := enginetest.Compile(t, resumePlan, inventory(3), "dir="+dir)
	runDir := t.TempDir()
	first := enginetest.Execute(t, prog, enginetest.Options{Dir: runDir})
	if first.Result.ExitCode != 72 {
		t.Fatalf("first run: exit %d, want 72: %v", first.Result.ExitCode, first.Result.Err)
	}
	os.WriteFile(filepath.Join(dir, "FIX"), nil, 0o600)
	resumed := enginetest.Execute(t, prog, enginetest.Options{Dir: runDir, Resume: true})
	if resumed.Result.ExitCode != 0 {
		t.Fatalf("resumed run: exit %d: %v\n%s", resumed.Result.ExitCode, resumed.Result.Err, resumed.Table)
	}
	want := []string{
		"one n1", "one n2", "one n3", // the first run
		"two n1 7.7-n1", "after n1", "two n2 7.7-n2",
		"two n2 7.7-n2", "after n2", "two n3 7.7-n3", "after n3", // the resumption
	}
	if got := enginetest.Lines(t, filepath.Join(dir, "ran")); !slices.Equal(got, want) {
		t.Errorf("ran:\n got %q\nwant %q", got, want)
	}
	if resumed.Summary.Status != "SUCCESS" {
		t.Errorf("summary:\n%s", resumed.Table)
	}
}

// TestResumeRolledBackNode: a node whose rollback ran is, when the run is
// resumed, done again from the phase that armed the rule: what it did there
// was undone.
func TestResumeRolledBackNode(t *testing.T) {
	const plan = `apiVersion: zdu/v1
name: resume-rollback
params:
  dir: {type: string, required: true}
phases:
  - id: prepare
    targets: all
    steps:
      - {id: prep, type: ssh-exec, with: {command: "echo prep ${{ node.name }} >> ${{ params.dir }}/ran"}}
  - id: apply
    targets: all
    exitCode: 73
    steps:
      - {id: arm, type: rollback-on, with: {rollback: restore}}
      - {id: change, type: ssh-exec, with: {command: "echo change ${{ node.name }} >> ${{ params.dir }}/ran"}}
      - {id: check, type: ssh-exec, with: {command: "test -e ${{ params.dir }}/FIX"}}
rollbacks:
  restore:
    - {id: undo, type: ssh-exec, with: {command: "echo undo ${{ node.name }} >> ${{ params.dir }}/ran"}}
`
	dir := t.TempDir()
	prog := enginetest.Compile(t, plan, inventory(1), "dir="+dir)
	runDir := t.TempDir()
	if r := enginetest.Execute(t, prog, enginetest.Options{Dir: runDir}); r.Result.ExitCode != 73 {
		t.Fatalf("first run: exit %d", r.Result.ExitCode)
	}
	os.WriteFile(filepath.Join(dir, "FIX"), nil, 0o600)
	r := enginetest.Execute(t, prog, enginetest.Options{Dir: runDir, Resume: true})
	if r.Result.ExitCode != 0 {
		t.Fatalf("resumed: exit %d: %v", r.Result.ExitCode, r.Result.Err)
	}
	want := []string{"prep n1", "change n1", "undo n1", "change n1"}
	if got := enginetest.Lines(t, filepath.Join(dir, "ran")); !slices.Equal(got, want) {
		t.Errorf("ran:\n got %q\nwant %q (prepare stays done; apply is done again)", got, want)
	}
}
