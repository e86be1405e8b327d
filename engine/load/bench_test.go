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
