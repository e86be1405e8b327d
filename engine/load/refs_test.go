package load_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
)

// bindText loads and binds a plan and an inventory given as text.
func bindText(t *testing.T, plan, inv string, opt load.BindOptions) (*load.Binding, []string) {
	t.Helper()
	p, probs := load.ParsePlan("plan.yaml", []byte(plan))
	if len(probs) > 0 {
		t.Fatalf("plan: %v", probs)
	}
	i, probs := load.ParseInventory("inv.yaml", []byte(inv))
	if len(probs) > 0 {
		t.Fatalf("inventory: %v", probs)
	}
	b, probs := load.Bind(p, i, opt)
	return b, strs(probs)
}

const threeNodes = `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes:
  - {name: a, groups: [web], vars: {x: "1", flag: true}}
  - {name: b, groups: [web], vars: {x: "2"}}
  - {name: c, groups: [web]}
`

func stepPlan(when, command string) string {
	s := "apiVersion: zdu/v1\nname: p\nparams:\n  opt: {type: string}\n  req1: {type: string, required: true}\n  req2: {type: int, required: true}\n" +
		"phases:\n  - id: one\n    targets: web\n    steps:\n      - id: s\n        type: ssh-exec\n"
	if when != "" {
		s += "        when: '" + when + "'\n"
	}
	return s + "        with: {command: \"" + command + "\"}\n"
}

// TestGuards: a reference some nodes cannot resolve is an error unless the
// expression, or the step's when, copes with the missing value.
func TestGuards(t *testing.T) {
	sets := []string{"req1=r", "req2=2"}
	for _, tc := range []struct {
		name, when, command string
		want                string // a fragment of the one problem, or "" for none
	}{
		{"partial", "", "echo ${{ vars.x }}", `var "x" is not defined on node c in inv.yaml (2 of the 3 nodes`},
		{"undefined", "", "echo ${{ vars.y }}", `unknown var "y": no node in inv.yaml defines it`},
		{"default", "", "echo ${{ vars.x ?? 0 }}", ""},
		{"test in the expression", "", `echo ${{ \"x\" in vars ? vars.x : 0 }}`, ""},
		{"test in when", `"x" in vars`, "echo ${{ vars.x }}", ""},
		{"nil test in when", "vars.x != nil", "echo ${{ vars.x }}", ""},
		{"when tests another name", `"flag" in vars`, "echo ${{ vars.x }}", `var "x" is not defined on node c`},
		{"unguarded when", "vars.flag", "true", `var "flag" is not defined on nodes b and c`},
		{"optional param without value", "", "echo ${{ params.opt }}", `param "opt" has no value on any node this runs on`},
		{"optional param with a default", "", `echo ${{ params.opt ?? \"none\" }}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := bindText(t, stepPlan(tc.when, tc.command), threeNodes, load.BindOptions{Sets: sets, RequireParams: true})
			if tc.want == "" {
				if len(probs) > 0 {
					t.Fatalf("want no problem, got %q", probs)
				}
				return
			}
			if len(probs) != 1 || !strings.Contains(probs[0], tc.want) {
				t.Fatalf("want one problem containing %q, got %q", tc.want, probs)
			}
		})
	}
}

// TestParamValuesAtValidate: without RequireParams (zdu validate) a param's
// value is not demanded, so neither missing required params nor optional
// params without a value are problems.
func TestParamValuesAtValidate(t *testing.T) {
	_, probs := bindText(t, stepPlan("", "echo ${{ params.opt }} ${{ params.req1 }}"), threeNodes, load.BindOptions{})
	if len(probs) > 0 {
		t.Fatalf("validate: %q", probs)
	}
}

// TestMissingRequiredParamsOnce: every missing required param is named in
// one problem, however many nodes lack it, with how to give it.
func TestMissingRequiredParamsOnce(t *testing.T) {
	_, probs := bindText(t, stepPlan("", "echo ${{ params.req1 }} ${{ params.req2 }}"), threeNodes, load.BindOptions{RequireParams: true})
	want := `plan.yaml:5:3: params: missing required params req1, req2: give each with --set NAME=VALUE (--set req1=...), or as a var in inv.yaml`
	if len(probs) != 1 || probs[0] != want {
		t.Fatalf("got %q\nwant [%q]", probs, want)
	}
	// A node var gives the param on that node: the others are named.
	inv := strings.Replace(threeNodes, `vars: {x: "1", flag: true}`, `vars: {x: "1", flag: true, req1: from-a}`, 1)
	_, probs = bindText(t, stepPlan("", "echo ${{ params.req1 }}"), inv, load.BindOptions{Sets: []string{"req2=1"}, RequireParams: true})
	if len(probs) != 1 || !strings.Contains(probs[0], "missing required param req1 (no value on nodes b and c)") {
		t.Fatalf("got %q", probs)
	}
}

// TestNullVarIsNoValue: a param var written with no value falls back to the
// param's default, never to an empty string.
func TestNullVarIsNoValue(t *testing.T) {
	plan := "apiVersion: zdu/v1\nname: p\nparams:\n  port: {type: int, default: 9160}\n  dir: {type: string}\n" +
		"phases:\n  - id: one\n    targets: all\n    steps:\n      - {id: s, type: ssh-exec, with: {command: \"echo ${{ params.port }}\"}}\n"
	inv := "apiVersion: zdu/v1\nkind: Inventory\nnodes:\n  - {name: a, vars: {port: ~, dir: ~}}\n"
	b, probs := bindText(t, plan, inv, load.BindOptions{RequireParams: true})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if got := b.Params["a"]["port"]; got != 9160 {
		t.Errorf("port = %#v, want the default 9160", got)
	}
	if got, ok := b.Params["a"]["dir"]; ok {
		t.Errorf("dir = %#v, want no value at all", got)
	}
}

// TestRollbackRefsUseArmingNodes: a rollback's references are checked on
// the nodes whose phases arm it, not on the whole inventory.
func TestRollbackRefsUseArmingNodes(t *testing.T) {
	plan := `apiVersion: zdu/v1
name: p
phases:
  - id: one
    targets: [a, b]
    steps:
      - {id: arm, type: rollback-on, with: {rollback: undo}}
      - {id: s, type: ssh-exec, with: {command: "true"}}
rollbacks:
  undo:
    - {id: u, type: ssh-exec, with: {command: "echo ${{ vars.x }}"}}
`
	b, probs := bindText(t, plan, threeNodes, load.BindOptions{RequireParams: true})
	if len(probs) > 0 {
		t.Fatalf("c lacks x but never runs undo: %q", probs)
	}
	if got := b.RollbackNodes("undo"); len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
		t.Errorf("RollbackNodes = %v, want a, b", got)
	}
	_, probs = bindText(t, strings.Replace(plan, "targets: [a, b]", "targets: web", 1), threeNodes, load.BindOptions{RequireParams: true})
	if len(probs) != 1 || !strings.Contains(probs[0], `plan.yaml:11:62: rollbacks.undo[0].with.command: var "x" is not defined on node c`) {
		t.Fatalf("got %q", probs)
	}
}

// TestNodeListIsBounded: a problem names a handful of nodes, then a count.
func TestNodeListIsBounded(t *testing.T) {
	var inv strings.Builder
	inv.WriteString("apiVersion: zdu/v1\nkind: Inventory\nnodes:\n  - {name: n0, vars: {x: 1}}\n")
	for i := 1; i <= 12; i++ {
		inv.WriteString("  - {name: n" + string(rune('a'+i)) + "}\n")
	}
	plan := "apiVersion: zdu/v1\nname: p\nphases:\n  - id: one\n    targets: all\n    steps:\n      - {id: s, type: ssh-exec, with: {command: \"echo ${{ vars.x }}\"}}\n"
	_, probs := bindText(t, plan, inv.String(), load.BindOptions{})
	if len(probs) != 1 || !strings.Contains(probs[0], "not defined on nodes nb, nc, nd, ne, nf and 7 more in inv.yaml (1 of the 13 nodes") {
		t.Fatalf("got %q", probs)
	}
}

// TestReferencePositions: a problem about a reference points at the name in
// the file whatever the scalar's YAML style: quoted with escapes, multi-line
// flow, folded, plain over several lines, literal with deeper indentation,
// with an indentation indicator.
func TestReferencePositions(t *testing.T) {
	const file = "testdata/positions/plan.yaml"
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, probs := load.ParsePlan(file, text)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	inv, probs := load.ParseInventory("inv.yaml", []byte("apiVersion: zdu/v1\nkind: Inventory\nnodes:\n  - {name: a}\n"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	_, probs = load.Bind(p, inv, load.BindOptions{})
	lines := strings.Split(string(text), "\n")
	nameRE := regexp.MustCompile(`"([^"]+)"`)
	seen := map[string]bool{}
	for _, pr := range probs {
		name := nameRE.FindStringSubmatch(pr.Msg)[1]
		seen[name] = true
		line := lines[pr.Line-1]
		if col := []rune(line); pr.Col-1 > len(col) || !strings.HasPrefix(string(col[pr.Col-1:]), name) {
			t.Errorf("%s:%d:%d does not point at %q: %q", file, pr.Line, pr.Col, name, line)
		}
	}
	for i := 1; i <= 13; i++ {
		if name := fmt.Sprintf("nope%d", i); !seen[name] {
			t.Errorf("no problem about %s: %v", name, strs(probs))
		}
	}
	if !seen["gateway-lb"] {
		t.Errorf("no problem about the load balancer: %v", strs(probs))
	}
}
