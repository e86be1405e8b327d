package run_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
)

// TestPhaseWhen: a phase's `when` is evaluated for each node, with that
// node's vars and results; a phase false for every node is skipped whole.
func TestPhaseWhen(t *testing.T) {
	dir := t.TempDir()
	plan := `apiVersion: zdu/v1
name: phasewhen
params:
  dir: {type: string, required: true}
phases:
  - id: probe
    targets: all
    steps:
      - id: probe
        type: ssh-exec
        register: probe
        with: {command: "${{ raw node.name == 'n3' ? 'echo no' : 'echo yes' }}"}
  - id: by_var
    targets: all
    when: vars.role == "anm"
    steps:
      - {id: mark, type: ssh-exec, with: {command: "echo by_var ${{ node.name }} >> ${{ params.dir }}/ran"}}
  - id: by_result
    targets: all
    when: trim(results.probe.stdout) == "yes"
    steps:
      - {id: mark, type: ssh-exec, with: {command: "echo by_result ${{ node.name }} >> ${{ params.dir }}/ran"}}
  - id: never
    targets: all
    when: vars.role == "nobody"
    steps:
      - {id: mark, type: ssh-exec, with: {command: "echo never ${{ node.name }} >> ${{ params.dir }}/ran"}}
`
	inv := `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes:
  - {name: n1, vars: {role: gw}}
  - {name: n2, vars: {role: anm}}
  - {name: n3, vars: {role: anm}}
`
	prog := enginetest.Compile(t, plan, inv, "dir="+dir)
	r := enginetest.Execute(t, prog, enginetest.Options{})
	if r.Result.ExitCode != 0 {
		t.Fatalf("exit %d: %v", r.Result.ExitCode, r.Result.Err)
	}
	want := []string{"by_var n2", "by_var n3", "by_result n1", "by_result n2"}
	if got := enginetest.Lines(t, filepath.Join(dir, "ran")); !slices.Equal(got, want) {
		t.Errorf("ran %q, want %q", got, want)
	}
	wantCells := map[string][]string{ // by_var, by_result, never
		"n1": {"SKIPPED", "PASSED (0)", "SKIPPED"},
		"n2": {"PASSED (0)", "PASSED (0)", "SKIPPED"},
		"n3": {"PASSED (0)", "SKIPPED", "SKIPPED"},
	}
	for _, row := range r.Summary.Nodes {
		got := []string{row.Phases["by_var"].String(), row.Phases["by_result"].String(), row.Phases["never"].String()}
		if !slices.Equal(got, wantCells[row.Name]) {
			t.Errorf("%s: %q, want %q\n%s", row.Name, got, wantCells[row.Name], r.Table)
		}
	}
	phases := map[string]string{}
	for _, e := range r.Events {
		if e.Kind == journal.KindPhase && e.State != journal.Started {
			phases[e.Phase] = e.State
		}
	}
	if phases["never"] != journal.Skipped || phases["by_var"] != journal.Passed {
		t.Errorf("phase states %v: want never skipped, by_var passed", phases)
	}
}
