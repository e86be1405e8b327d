package load_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/engine/load"
)

// inventoryOf builds an inventory of n nodes in two groups with vars.
func inventoryOf(n int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: zdu/v1\nkind: Inventory\ndefaults: {user: deploy}\nvars: {gateway_port: 8080}\nnodes:\n")
	for i := 0; i < n; i++ {
		g := "Gateway"
		if i%10 == 0 {
			g = "GatewayManager"
		}
		fmt.Fprintf(&b, "  - name: node-%04d\n    host: 10.%d.%d.%d\n    groups: [%s]\n    vars: {instance: gw-%d, group: %s}\n",
			i, i/65536, (i/256)%256, i%256, g, i, g)
	}
	b.WriteString("loadBalancers:\n  gateway:\n    driver: haproxy\n    backend: apigateway\n    instances: [{name: lb, socket: /run/haproxy.sock}]\n")
	return []byte(b.String())
}

// BenchmarkLoadValidate2000 loads and validates a plan and a 2,000-node
// inventory and binds them: what `zdu validate PLAN -i INV` does.
func BenchmarkLoadValidate2000(b *testing.B) {
	plan, err := os.ReadFile("testdata/bench-plan.yaml")
	if err != nil {
		b.Fatal(err)
	}
	inv := inventoryOf(2000)
	b.SetBytes(int64(len(plan) + len(inv)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, probs := load.ParsePlan("plan.yaml", plan)
		if len(probs) > 0 {
			b.Fatal(probs)
		}
		in, probs := load.ParseInventory("inv.yaml", inv)
		if len(probs) > 0 {
			b.Fatal(probs)
		}
		bd, probs := load.Bind(p, in, load.BindOptions{Sets: []string{"old_dir=/opt/old", "new_dir=/opt/new"}, RequireParams: true})
		if len(probs) > 0 || len(bd.Targets[0]) != 2000 {
			b.Fatal(probs)
		}
	}
}

// BenchmarkBindChecked2000 binds a plan whose 20 steps each insert node
// and var values into a runtime API command or a URL to a 2,000-node
// inventory: every value is checked on every node (40,000 templates, 80,000
// values), the cost the value checks add to `zdu validate`.
func BenchmarkBindChecked2000(b *testing.B) {
	var plan strings.Builder
	plan.WriteString("apiVersion: zdu/v1\nname: bench\nphases:\n  - id: roll\n    targets: all\n    steps:\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&plan, "      - {id: api%d, type: haproxy-socket, with: {lb: gateway, commands: \"set server apigateway/${{ node.name }} state ${{ vars.group }}\"}}\n", i)
		fmt.Fprintf(&plan, "      - {id: url%d, type: wait-http, with: {url: \"http://${{ node.host }}:${{ vars.gateway_port }}/health\"}}\n", i)
	}
	p, probs := load.ParsePlan("plan.yaml", []byte(plan.String()))
	if len(probs) > 0 {
		b.Fatal(probs)
	}
	in, probs := load.ParseInventory("inv.yaml", inventoryOf(2000))
	if len(probs) > 0 {
		b.Fatal(probs)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, probs := load.Bind(p, in, load.BindOptions{RequireParams: true}); len(probs) > 0 {
			b.Fatal(probs)
		}
	}
}
