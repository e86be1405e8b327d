package load_test

import (
	"context"
	"os"
	"reflect"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/schema"
	"github.com/zdu-dev/zdu/steps/step"
)

// lbStep is a step type that names a load balancer, to test the check.
type lbStep struct{}

func (lbStep) Run(context.Context, step.Context) (step.Outcome, error) { return step.Outcome{}, nil }
func (lbStep) Explain(step.Context) ([]string, error)                  { return nil, nil }

func init() {
	step.Register(step.Definition{
		Type: "test-lb", Summary: "test: names a load balancer",
		Schema: []byte(`{"type":"object","properties":{"lb":{"type":"string"}},"additionalProperties":false}`),
		Build: func(a step.Args) step.Action {
			a.LB("lb", true)
			return lbStep{}
		},
	})
}

func parse(t *testing.T, planFile, invFile string) (*load.Plan, *load.Inventory) {
	t.Helper()
	pd, _ := os.ReadFile(planFile)
	p, probs := load.ParsePlan(planFile, pd)
	if len(probs) > 0 {
		t.Fatalf("plan: %v", probs)
	}
	id, _ := os.ReadFile(invFile)
	inv, probs := load.ParseInventory(invFile, id)
	if len(probs) > 0 {
		t.Fatalf("inventory: %v", probs)
	}
	return p, inv
}

func TestBrokenInventory(t *testing.T) {
	f := "testdata/bind/inventory.yaml"
	data, _ := os.ReadFile(f)
	_, probs := load.ParseInventory(f, data)
	checkProblems(t, f, probs, [][]string{
		{"", "7", "11", `nodes[1].name: node "Node-A" is already defined at line 4`},
		{"", "14", "9", `loadBalancers.gateway.instances[0]: an haproxy instance needs exactly one of socket or address`},
		{"", "15", "14", `loadBalancers.gateway.instances[0].via: no node named "lb-host"`},
	})
}

func TestBindProblems(t *testing.T) {
	p, inv := parse(t, "testdata/bind/plan.yaml", "testdata/bind/good-inventory.yaml")
	_, probs := load.Bind(p, inv, load.BindOptions{
		Sets:          []string{"cass_prot=1", "cass_port=many", "novalue"},
		RequireParams: true,
	})
	checkProblems(t, "testdata/bind/plan.yaml", filterFile(probs, "testdata/bind/plan.yaml"), [][]string{
		{"", "8", "15", `phases[0].targets: no group or node named "Gatway" in testdata/bind/good-inventory.yaml (did you mean "Gateway"?)`},
		{"", "12", "20", `phases[0].steps[0].with.lb: no load balancer named "gateway-lb" in testdata/bind/good-inventory.yaml (did you mean "gateway"?)`},
	})
	flags := filterFile(probs, "--set")
	want := []string{
		`--set: --set[0]: the plan has no param "cass_prot" (did you mean "cass_port"?)`,
		`--set: --set[1]: cass_port must be an integer, not "many"`,
		`--set: --set[2]: "novalue" must be name=value`,
	}
	if got := strs(flags); !reflect.DeepEqual(got, want) {
		t.Errorf("flag problems:\n got %q\nwant %q", got, want)
	}
}

// TestParamPrecedence: default < inventory/group/node vars < --set.
func TestParamPrecedence(t *testing.T) {
	p, inv := parse(t, "testdata/bind/good-plan.yaml", "testdata/bind/good-inventory.yaml")
	b, probs := load.Bind(p, inv, load.BindOptions{Sets: []string{"old_dir=/opt/My Axway"}, RequireParams: true})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if got := b.Params["Node-A"]["cass_port"]; got != 9999 {
		t.Errorf("Node-A cass_port = %v, want the node var 9999", got)
	}
	if got := b.Params["Node-B"]["cass_port"]; got != 9160 {
		t.Errorf("Node-B cass_port = %v, want the default 9160", got)
	}
	if got := b.Params["Node-B"]["old_dir"]; got != "/opt/My Axway" {
		t.Errorf("--set must win over node vars, got %v", got)
	}
	if len(b.Targets[0]) != 1 || b.Targets[0][0].Name != "Node-A" {
		t.Errorf("targets [all, !Node-B] = %v, want only Node-A", b.Targets[0])
	}
	_, probs = load.Bind(p, inv, load.BindOptions{RequireParams: true})
	if len(probs) != 1 || probs[0].Line != 4 {
		t.Fatalf("without --set, Node-A lacks old_dir: want one problem at line 4, got %v", probs)
	}
}

func filterFile(ps []schemaProblem, file string) []schemaProblem {
	var out []schemaProblem
	for _, p := range ps {
		if p.File == file {
			out = append(out, p)
		}
	}
	return out
}

func strs(ps []schemaProblem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

type schemaProblem = schema.Problem
