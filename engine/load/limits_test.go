package load_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
)

const emptyInv = `apiVersion: zdu/v1
kind: Inventory
groups: {spare: {}}
nodes:
  - {name: n1, groups: [web]}
  - {name: n2, groups: [web]}
`

// TestEmptyTargets: a phase whose targets select no node is a problem at its
// targets, naming the phase and them, unless it says allowEmpty.
func TestEmptyTargets(t *testing.T) {
	tests := []struct {
		name, targets, extra, want string
	}{
		{"declared group without nodes", `spare`, "", `plan.yaml:5:14: phases[0].targets: phase p targets no node: its target "spare" selects none of the nodes in inv.yaml; fix the targets or the inventory, or write allowEmpty: true if the phase may do nothing`},
		{"everything removed", `[all, "!web"]`, "", `plan.yaml:5:15: phases[0].targets: phase p targets no node: its targets [all, !web] select none of the nodes in inv.yaml; fix the targets or the inventory, or write allowEmpty: true if the phase may do nothing`},
		{"allowed", `spare`, "\n    allowEmpty: true", ""},
		{"not empty", `web`, "", ""},
		{"an unknown group is its own problem", `nope`, "", `plan.yaml:5:14: phases[0].targets: no group or node named "nope" in inv.yaml`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := fmt.Sprintf("apiVersion: zdu/v1\nname: e\nphases:\n  - id: p\n    targets: %s%s\n    steps:\n      - {id: s, type: sleep, with: {duration: 1s}}\n", tt.targets, tt.extra)
			b, probs := bindText(t, plan, emptyInv, load.BindOptions{})
			switch {
			case tt.want == "" && len(probs) > 0:
				t.Fatalf("unexpected problems: %v", probs)
			case tt.want == "" && b == nil:
				t.Fatal("no binding")
			case tt.want != "" && (len(probs) != 1 || !strings.HasPrefix(probs[0], tt.want)):
				t.Fatalf("got %v\nwant %s", probs, tt.want)
			}
		})
	}
}

// TestPlanSize: a plan that would compile to more vertices or
// interpolations than zdu takes is a problem at its largest phase, found
// before the checks that cost as much as the graph.
func TestPlanSize(t *testing.T) {
	var inv strings.Builder
	inv.WriteString("apiVersion: zdu/v1\nkind: Inventory\nnodes:\n")
	for i := range 1000 {
		fmt.Fprintf(&inv, "  - {name: n%d}\n", i)
	}
	plan := func(steps, exprs int) string {
		var b strings.Builder
		b.WriteString("apiVersion: zdu/v1\nname: big\nphases:\n  - id: small\n    targets: n1\n    steps:\n      - {id: s, type: sleep, with: {duration: 1s}}\n  - id: big\n    targets: all\n    steps:\n")
		cmd := "echo" + strings.Repeat(" ${{ node.name }}", exprs)
		for i := range steps {
			fmt.Fprintf(&b, "      - {id: s%d, type: ssh-exec, with: {command: %q}}\n", i, cmd)
		}
		return b.String()
	}
	if _, probs := bindText(t, plan(240, 10), inv.String(), load.BindOptions{}); len(probs) > 0 {
		t.Fatalf("240 steps on 1,000 nodes: %v", probs)
	}
	_, probs := bindText(t, plan(260, 1), inv.String(), load.BindOptions{})
	want := "plan.yaml:8:5: phases[1]: the plan compiles to 261004 vertices with inv.yaml (the largest, phase big, is 260 steps on 1000 nodes), more than the 250000 zdu takes"
	if len(probs) != 1 || !strings.HasPrefix(probs[0], want) {
		t.Fatalf("vertices: got %v\nwant %s", probs, want)
	}
	_, probs = bindText(t, plan(100, 30), inv.String(), load.BindOptions{})
	want = "plan.yaml:8:5: phases[1]: the plan evaluates 3000000 interpolations and conditions to render every step on every node of inv.yaml (the largest, phase big, is 100 steps on 1000 nodes), more than the 2500000 zdu takes"
	if len(probs) != 1 || !strings.HasPrefix(probs[0], want) {
		t.Fatalf("interpolations: got %v\nwant %s", probs, want)
	}
}
