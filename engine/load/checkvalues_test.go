package load_test

import (
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
)

const socketInv = `apiVersion: zdu/v1
nodes:
  - {name: web-1, vars: {srv: "web-2; set server app/web-3 state maint"}}
  - {name: web-2, vars: {srv: ok}}
  - {name: web-3, vars: {srv: "a b"}}
loadBalancers:
  app:
    driver: haproxy
    backend: app
    instances: [{name: h, socket: /run/h.sock}]
`

// A value the inventory or the params give is checked where a runtime API
// command interpolates it, on every node the step runs on: a problem at
// the expression, naming the nodes; a value only known at run time is left
// to the step.
func TestRuntimeAPIValuesCheckedAtBind(t *testing.T) {
	plan := `apiVersion: zdu/v1
name: p
params:
  weight: {type: string, default: "10;shutdown sessions server app/web-2"}
phases:
  - id: one
    targets: all
    steps:
      - id: reg
        type: ssh-exec
        register: r
        with: {command: "true"}
      - id: sock
        type: haproxy-socket
        with:
          lb: app
          commands:
            - set server app/${{ vars.srv }} state drain
            - "set weight app/${{ node.name }} ${{ params.weight }}"
            - set server app/${{ results.r.stdout }} state ready
            - show servers state ${{ raw "app web" }}
`
	p, probs := load.ParsePlan("plan.yaml", []byte(plan))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	inv, probs := load.ParseInventory("inv.yaml", []byte(socketInv))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	_, probs = load.Bind(p, inv, load.BindOptions{})
	checkProblems(t, "plan.yaml", probs, [][]string{
		{"", "18", "34", `phases[0].steps[1].with.commands[0]: ${{ vars.srv }}: ';' (U+003B) at byte 5 would end the runtime API command; ` + haproxyRule + ` (on node web-1)`},
		{"", "18", "34", `phases[0].steps[1].with.commands[0]: ${{ vars.srv }}: ' ' (U+0020) at byte 1 would split the value into two arguments; ` + haproxyRule + ` (on node web-3)`},
		{"", "19", "52", `phases[0].steps[1].with.commands[1]: ${{ params.weight }}: ';' (U+003B) at byte 2 would end the runtime API command; ` + haproxyRule + ` (on nodes web-1, web-2 and web-3)`},
	})
	// --set gives a good value: that problem is gone.
	_, probs = load.Bind(p, inv, load.BindOptions{Sets: []string{"weight=10"}})
	if len(probs) != 2 {
		t.Errorf("with --set weight=10: %v, want only the two vars.srv problems", probs)
	}
	for _, pr := range probs {
		if strings.Contains(pr.String(), "params.weight") {
			t.Errorf("--set weight=10 still refused: %v", pr)
		}
	}
}

const haproxyRule = `a value inserted into a runtime API command must not hold ';', a line break, a NUL, '\', another control or an invisible formatting character, white space (except in ${{ raw }}) or '<<'`
