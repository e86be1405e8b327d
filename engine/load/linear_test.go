package load_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/schema"
)

// bytesToValidate is how many bytes loading, checking and binding plan
// allocates (runtime.MemStats.TotalAlloc counts every allocation, whatever
// the collector does, so it does not depend on the machine's speed).
func bytesToValidate(t *testing.T, plan, inv []byte) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, probs := load.ParsePlan("plan.yaml", plan)
	if len(probs) > 0 {
		t.Fatal(probs[0])
	}
	in, probs := load.ParseInventory("inv.yaml", inv)
	if len(probs) > 0 {
		t.Fatal(probs[0])
	}
	if _, probs := load.Bind(p, in, load.BindOptions{}); len(probs) > 0 {
		t.Fatal(probs[0])
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestValidateLinear: four times the steps cost about four times the
// memory. Each step of planOf reads the result the step before registers;
// the loader once copied the set of registered results for every step and
// typed every one of them into every expression's environment, so a plan of
// 1,000 such steps took 37 s and 1 GB, 5,000 took 8 minutes and 21 GB.
func TestValidateLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("loads plans of 500 and 2,000 steps")
	}
	inv := inventoryOf(10)
	bytesToValidate(t, planOf(10), inv) // schemas compiled, builtins set up
	small := bytesToValidate(t, planOf(500), inv)
	large := bytesToValidate(t, planOf(2000), inv)
	ratio := float64(large) / float64(small)
	t.Logf("500 steps: %d KB, 2,000 steps: %d KB (x%.2f)", small>>10, large>>10, ratio)
	if ratio > 5.5 {
		t.Errorf("4x the steps allocate %.1fx the memory (%d KB against %d KB): loading is not linear in the plan", ratio, large>>10, small>>10)
	}
}

// TestLongLinePositions: a plan written on one line (JSON-style flow YAML)
// with a non-ASCII name early on still places a problem at its character
// column, and loads in linear time (positions are found from the line's
// character index, not by counting from the line's start every time).
func TestLongLinePositions(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{apiVersion: zdu/v1, name: big, description: "größe ✓", phases: [{id: p, targets: all, steps: [`)
	for i := range 3000 {
		fmt.Fprintf(&b, `{id: s%d, type: ssh-exec, with: {command: "echo ${{ node.name }} ${{ vars.instance }}"}}, `, i)
	}
	b.WriteString(`{id: last, type: ssh-exec, with: {command: "echo ${{ vars.nope }}"}}]}]}`)
	line := b.String()
	p, probs := load.ParsePlan("plan.yaml", []byte(line+"\n"))
	if len(probs) > 0 {
		t.Fatal(probs[0])
	}
	in, probs := load.ParseInventory("inv.yaml", inventoryOf(2))
	if len(probs) > 0 {
		t.Fatal(probs[0])
	}
	_, probs = load.Bind(p, in, load.BindOptions{})
	if len(probs) != 1 {
		t.Fatalf("want one problem, got %v", probs)
	}
	want := utf8.RuneCountInString(line[:strings.LastIndex(line, "nope")]) + 1
	if probs[0].Line != 1 || probs[0].Col != want || !strings.Contains(probs[0].Msg, `unknown var "nope"`) {
		t.Errorf("got %v, want 1:%d: unknown var \"nope\"", probs[0], want)
	}
}

// brokenPlanOf is a plan of n steps whose needs all name steps that do not
// exist: n problems, each with a did-you-mean among n step ids.
func brokenPlanOf(n int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: zdu/v1\nname: broken\nphases:\n  - id: p\n    targets: all\n    steps:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - {id: s%d, type: sleep, needs: [x%d], with: {duration: 1s}}\n", i, i)
	}
	return []byte(b.String())
}

// TestManyProblemsLinear: a plan with thousands of mistakes among thousands
// of names is reported in linear time. Each did-you-mean compares the name
// with every candidate; past a budget problems come without one (a
// generated plan of 20,000 broken steps took over 12 minutes before).
func TestManyProblemsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("loads plans of 1,000 and 4,000 broken steps")
	}
	alloc := func(plan []byte) (uint64, []schema.Problem) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, probs := load.ParsePlan("plan.yaml", plan)
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, probs
	}
	alloc(brokenPlanOf(10))
	small, probs := alloc(brokenPlanOf(1000))
	if len(probs) != 1000 || !strings.Contains(probs[0].Msg, `(did you mean "s0"?)`) {
		t.Fatalf("want 1,000 problems, the first with a suggestion; got %d: %v", len(probs), probs[0])
	}
	large, probs := alloc(brokenPlanOf(4000))
	if len(probs) != 4000 {
		t.Fatalf("want 4,000 problems, got %d", len(probs))
	}
	ratio := float64(large) / float64(small)
	t.Logf("1,000 problems: %d KB, 4,000: %d KB (x%.2f)", small>>10, large>>10, ratio)
	if ratio > 5.5 {
		t.Errorf("4x the problems allocate %.1fx the memory: reporting them is not linear", ratio)
	}
}
