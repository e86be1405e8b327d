package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
	_ "github.com/zdu-dev/zdu/steps/all"
)

// shapePlan loads a plan from a file, failing the test on any problem.
func shapePlan(t *testing.T, path string) *load.Plan {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, probs := load.ParsePlan(path, data)
	if len(probs) > 0 {
		t.Fatalf("%s: %v", path, probs)
	}
	return p
}

// shapeInventory loads an inventory from a file ("" for none).
func shapeInventory(t *testing.T, path string) *load.Inventory {
	t.Helper()
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inv, probs := load.ParseInventory(path, data)
	if len(probs) > 0 {
		t.Fatalf("%s: %v", path, probs)
	}
	return inv
}

// writeTemp writes text to name in dir and returns its path.
func writeTemp(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// generated returns node-1..node-n, each in groups and behind HAProxy.
func generated(n int, groups ...string) []NodeSpec {
	out := make([]NodeSpec, n)
	for i := range out {
		out[i] = NodeSpec{Name: fmt.Sprintf("node-%d", i+1), Groups: groups}
	}
	return out
}

func shipped(name string) string { return filepath.Join("..", "..", "plans", name) }

// Plans written for these tests, in the plan language of plans/.
const (
	// twoLBs drains in one load balancer and enables in another.
	twoLBsPlan = `apiVersion: zdu/v1
name: two-lbs
phases:
  - id: roll
    targets: web
    steps:
      - {id: drain, type: lb-drain, with: {lb: front}}
      - {id: enable, type: lb-enable, with: {lb: back}}
`
	// twoLBsInRollback names the second load balancer only in a rollback.
	twoLBsInRollbackPlan = `apiVersion: zdu/v1
name: two-lbs-rollback
phases:
  - id: roll
    targets: web
    steps:
      - {id: undo, type: rollback-on, with: {rollback: back_out, scope: node}}
      - {id: drain, type: lb-drain, with: {lb: front}}
      - {id: enable, type: lb-enable, with: {lb: front}}
rollbacks:
  back_out:
    - {id: enable, type: lb-enable, with: {lb: other}}
`
	// noLB never touches a load balancer: every targeted group rolls.
	noLBPlan = `apiVersion: zdu/v1
name: no-lb
phases:
  - id: app
    targets: [web, api]
    steps:
      - {id: work, type: ssh-exec, with: {command: "true"}}
  - id: db
    targets: db
    steps:
      - {id: work, type: ssh-exec, with: {command: "true"}}
  - id: again
    targets: web
    steps:
      - {id: work, type: ssh-exec, with: {command: "true"}}
`
	// allBut rolls "all but the controller" behind the load balancer, then
	// runs maintenance on the controller.
	allButPlan = `apiVersion: zdu/v1
name: all-but
phases:
  - id: roll
    targets: [all, "!controller"]
    steps:
      - {id: drain, type: lb-drain, with: {lb: web}}
      - {id: enable, type: lb-enable, with: {lb: web}}
  - id: maintenance
    targets: controller
    steps:
      - {id: work, type: ssh-exec, with: {command: "true"}}
`
	// onlyExcluded names canary only to leave it out: the sandbox still
	// needs a canary group for the plan to bind.
	onlyExcludedPlan = `apiVersion: zdu/v1
name: only-excluded
phases:
  - id: roll
    targets: [all, "!canary"]
    steps:
      - {id: drain, type: lb-drain, with: {lb: web}}
      - {id: enable, type: lb-enable, with: {lb: web}}
`
	// mixed targets web both with and without the load balancer, and all
	// without it: web rolls, cron does not, "all" is no group.
	mixedPlan = `apiVersion: zdu/v1
name: mixed
phases:
  - id: prepare
    targets: [cron, web, all]
    steps:
      - {id: work, type: ssh-exec, with: {command: "true"}}
  - id: roll
    targets: [web, "!cron"]
    steps:
      - {id: drain, type: lb-drain, with: {lb: web}}
      - {id: enable, type: lb-enable, with: {lb: web}}
`
	// balancedByPhase has a load balancer without a servers map: the nodes
	// of the phase that uses it are behind HAProxy, the others are not.
	balancedByPhasePlan = `apiVersion: zdu/v1
name: balanced-by-phase
phases:
  - id: migrate
    targets: db
    steps:
      - {id: work, type: ssh-exec, with: {command: "true"}}
  - id: roll
    targets: web
    steps:
      - {id: drain, type: lb-drain, with: {lb: front}}
      - {id: enable, type: lb-enable, with: {lb: front}}
`
	balancedByPhaseInventory = `apiVersion: zdu/v1
kind: Inventory
vars: {gateway_port: 8080, api_port: 8774, cass_host: db.example, region: eu}
nodes:
  - {name: w1, host: 192.0.2.1, groups: [web], vars: {old_install_dir: /opt/old, weight: 10}}
  - {name: w2, host: 192.0.2.2, groups: [web]}
  - {name: d1, host: 192.0.2.3, groups: [db]}
  - {name: spare, host: 192.0.2.4, groups: [spare]}
loadBalancers:
  front:
    driver: haproxy
    backend: www
    minHealthy: 2
    instances: [{name: h, socket: /run/haproxy.sock}]
`
)

// TestShape checks the configuration Shape derives from a plan, with and
// without an inventory. It starts nothing.
func TestShape(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		plan string // path
		inv  string // path, "" for none
		n    int
		reh  *Rehearsal // nil: the default
		want Config
	}{
		{
			name: "nova without inventory: default node count behind HAProxy, controller outside",
			plan: shipped("nova-api.yaml"),
			want: Config{
				Nodes:        append(generated(DefaultNodes, "nova-api"), NodeSpec{Name: "controller", Groups: []string{"controller"}, Unbalanced: true}),
				Backend:      "nova-api",
				LoadBalancer: "nova-api",
				MinHealthy:   1,
			},
		},
		{
			name: "nova with --nodes 5",
			plan: shipped("nova-api.yaml"),
			n:    5,
			want: Config{
				Nodes:        append(generated(5, "nova-api"), NodeSpec{Name: "controller", Groups: []string{"controller"}, Unbalanced: true}),
				Backend:      "nova-api",
				LoadBalancer: "nova-api",
				MinHealthy:   1,
			},
		},
		{
			name: "nova with the smallest sandbox",
			plan: shipped("nova-api.yaml"),
			n:    1,
			want: Config{
				Nodes:        append(generated(1, "nova-api"), NodeSpec{Name: "controller", Groups: []string{"controller"}, Unbalanced: true}),
				Backend:      "nova-api",
				LoadBalancer: "nova-api",
				MinHealthy:   1,
			},
		},
		{
			name: "nova with the largest sandbox",
			plan: shipped("nova-api.yaml"),
			n:    50,
			want: Config{
				Nodes:        append(generated(50, "nova-api"), NodeSpec{Name: "controller", Groups: []string{"controller"}, Unbalanced: true}),
				Backend:      "nova-api",
				LoadBalancer: "nova-api",
				MinHealthy:   1,
			},
		},
		{
			name: "axway with its inventory: the targeted nodes, their groups and own vars, all in the servers map",
			plan: shipped("axway-7.7.yaml"),
			inv:  shipped("axway-7.7.inventory.yaml"),
			want: Config{
				Nodes: []NodeSpec{
					{Name: "Node-A", Groups: []string{"Gateway", "AdminNodeManager"}, Vars: map[string]any{"instance": "gw-a", "group": "Gateway"}},
					{Name: "Node-B", Groups: []string{"Gateway", "NodeManager"}, Vars: map[string]any{"instance": "gw-b", "group": "Gateway"}},
					{Name: "Node-C", Groups: []string{"GatewayManager", "AdminNodeManager"}, Vars: map[string]any{"instance": "apimgr", "group": "GatewayManager"}},
				},
				Backend:      "apigateway",
				LoadBalancer: "gateway",
				MinHealthy:   1,
				LBDriver:     "haproxy",
				LBInstances:  1,
			},
		},
		{
			name: "no load balancer: every targeted group rolls, each generated node in all of them",
			plan: writeTemp(t, dir, "no-lb.yaml", noLBPlan),
			want: Config{Nodes: generated(DefaultNodes, "web", "api", "db"), MinHealthy: 1},
		},
		{
			name: "all and !x are not groups",
			plan: writeTemp(t, dir, "all-but.yaml", allButPlan),
			n:    2,
			want: Config{
				Nodes:        append(generated(2), NodeSpec{Name: "controller", Groups: []string{"controller"}, Unbalanced: true}),
				Backend:      "web",
				LoadBalancer: "web",
				MinHealthy:   1,
			},
		},
		{
			name: "a group only ever excluded gets a node of its own, so the exclusion binds",
			plan: writeTemp(t, dir, "only-excluded.yaml", onlyExcludedPlan),
			n:    2,
			want: Config{
				Nodes:        append(generated(2), NodeSpec{Name: "canary", Groups: []string{"canary"}, Unbalanced: true}),
				Backend:      "web",
				LoadBalancer: "web",
				MinHealthy:   1,
			},
		},
		{
			name: "a group targeted with and without the load balancer rolls; all is skipped among groups",
			plan: writeTemp(t, dir, "mixed.yaml", mixedPlan),
			n:    2,
			want: Config{
				Nodes:        append(generated(2, "web"), NodeSpec{Name: "cron", Groups: []string{"cron"}, Unbalanced: true}),
				Backend:      "web",
				LoadBalancer: "web",
				MinHealthy:   1,
			},
		},
		{
			name: "inventory without a servers map: the phase using the load balancer decides; the vars the sandbox sets (the rehearsal file's port and vars) dropped; untargeted node left out",
			plan: writeTemp(t, dir, "balanced-by-phase.yaml", balancedByPhasePlan),
			inv:  writeTemp(t, dir, "balanced-by-phase.inventory.yaml", balancedByPhaseInventory),
			reh:  &Rehearsal{PortVar: "api_port", Vars: map[string]any{"cass_host": "127.0.0.1"}},
			want: Config{
				Nodes: []NodeSpec{
					{Name: "w1", Groups: []string{"web"}, Vars: map[string]any{"gateway_port": 8080, "region": "eu", "weight": 10}},
					{Name: "w2", Groups: []string{"web"}, Vars: map[string]any{"gateway_port": 8080, "region": "eu"}},
					{Name: "d1", Groups: []string{"db"}, Vars: map[string]any{"gateway_port": 8080, "region": "eu"}, Unbalanced: true},
				},
				Backend:      "www",
				LoadBalancer: "front",
				MinHealthy:   2,
				LBDriver:     "haproxy",
				LBInstances:  1,
			},
		},
		{
			name: "a percentage minHealthy is copied as a percentage",
			plan: writeTemp(t, dir, "balanced-by-phase.yaml", balancedByPhasePlan),
			inv:  writeTemp(t, dir, "percent.inventory.yaml", strings.Replace(balancedByPhaseInventory, "minHealthy: 2", "minHealthy: 50%", 1)),
			reh:  &Rehearsal{PortVar: "gateway_port", Vars: map[string]any{"cass_host": "x", "api_port": 1}},
			want: Config{
				Nodes: []NodeSpec{
					{Name: "w1", Groups: []string{"web"}, Vars: map[string]any{"region": "eu", "weight": 10}},
					{Name: "w2", Groups: []string{"web"}, Vars: map[string]any{"region": "eu"}},
					{Name: "d1", Groups: []string{"db"}, Vars: map[string]any{"region": "eu"}, Unbalanced: true},
				},
				Backend:           "www",
				LoadBalancer:      "front",
				MinHealthy:        50,
				MinHealthyPercent: true,
				LBDriver:          "haproxy",
				LBInstances:       1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := shapePlan(t, tt.plan)
			got, err := Shape(p, ShapeOptions{Inventory: shapeInventory(t, tt.inv), Nodes: tt.n, Rehearsal: tt.reh})
			if err != nil {
				t.Fatal(err)
			}
			if tt.reh != nil && got.Rehearsal != tt.reh || got.Rehearsal == nil {
				t.Errorf("Shape's rehearsal = %+v, want the one given, or the plan's", got.Rehearsal)
			}
			got.Rehearsal = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Shape:\n got %s\nwant %s", describe(got), describe(tt.want))
			}
		})
	}
}

// TestShapeErrors checks that Shape refuses what a sandbox cannot be, with
// an error naming the flag or the file to change.
func TestShapeErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		plan string
		inv  string
		n    int
		want []string // substrings of the error
	}{
		{
			name: "negative node count",
			plan: shipped("nova-api.yaml"),
			n:    -1,
			want: []string{"--nodes -1", "1 to 50"},
		},
		{
			name: "one node too many",
			plan: shipped("nova-api.yaml"),
			n:    51,
			want: []string{"--nodes 51", "1 to 50"},
		},
		{
			name: "node count together with an inventory",
			plan: shipped("axway-7.7.yaml"),
			inv:  shipped("axway-7.7.inventory.yaml"),
			n:    3,
			want: []string{"--nodes and an inventory"},
		},
		{
			name: "two load balancers in the steps",
			plan: writeTemp(t, dir, "two-lbs.yaml", twoLBsPlan),
			want: []string{"two-lbs.yaml names 2 load balancers (back, front)", "one load balancer"},
		},
		{
			name: "a second load balancer in a rollback",
			plan: writeTemp(t, dir, "two-lbs-rollback.yaml", twoLBsInRollbackPlan),
			want: []string{"names 2 load balancers (front, other)"},
		},
		{
			name: "two load balancers win over an inventory",
			plan: writeTemp(t, dir, "two-lbs-inv.yaml", twoLBsPlan),
			inv:  shipped("axway-7.7.inventory.yaml"),
			want: []string{"names 2 load balancers"},
		},
		{
			name: "an inventory that does not fit the plan",
			plan: shipped("axway-7.7.yaml"),
			inv:  shipped("nova-api.inventory.yaml"),
			want: []string{"nova-api.inventory.yaml does not fit", "axway-7.7.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := shapePlan(t, tt.plan)
			cfg, err := Shape(p, ShapeOptions{Inventory: shapeInventory(t, tt.inv), Nodes: tt.n})
			if err == nil {
				t.Fatalf("no error; shaped %s", describe(cfg))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(cfg.Nodes) != 0 {
				t.Errorf("an error came with %d nodes", len(cfg.Nodes))
			}
		})
	}
}

// describe prints a Config's shaping fields, one node a line, for diffs
// (fmt prints maps with sorted keys).
func describe(c Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{LoadBalancer: %q, Backend: %q, MinHealthy: %d, MinHealthyPercent: %t", c.LoadBalancer, c.Backend, c.MinHealthy, c.MinHealthyPercent)
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "\n  %s groups=%q vars=%v unbalanced=%t", n.Name, n.Groups, n.Vars, n.Unbalanced)
	}
	return b.String() + "}"
}
