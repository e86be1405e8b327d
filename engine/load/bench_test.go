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

// planOf builds a plan of n steps in one phase, shaped like the steps of
// real plans: each registers its result, reads the previous step's result
// in its when, and interpolates params and vars into its command; every
// tenth step has needs, every hundredth a timeout from a param.
func planOf(n int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: zdu/v1\nname: big\nparams:\n  dir: {type: string, default: /opt/app}\n  wait: {type: duration, default: 30s}\nphases:\n  - id: upgrade\n    targets: all\n    steps:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "      - id: s%d\n        type: ssh-exec\n        register: r%d\n", i, i)
		if i > 0 {
			fmt.Fprintf(&b, "        when: results.r%d.ok && node.name != \"\"\n", i-1)
		}
		if i%10 == 9 {
			fmt.Fprintf(&b, "        needs: [s%d, s%d]\n", i-1, i-9)
		}
		if i%100 == 99 {
			b.WriteString("        timeout: ${{ params.wait }}\n")
		}
		fmt.Fprintf(&b, "        with: {command: \"cd ${{ params.dir }} && ./step %d --instance ${{ vars.instance }}\"}\n", i)
	}
	return []byte(b.String())
}

// BenchmarkValidate is `zdu validate PLAN -i INVENTORY` on plans of 1,000,
// 10,000 and 100,000 steps and a one-node inventory (100,000 steps on more
// nodes would pass the bound on vertices): parse, schema check, decode,
// compile every expression, bind. The time per step must not grow with the
// plan (docs/performance.md).
func BenchmarkValidate(b *testing.B) {
	inv := inventoryOf(1)
	for _, n := range []int{1000, 10_000, 100_000} {
		plan := planOf(n)
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(plan)))
			b.ReportAllocs()
			for b.Loop() {
				p, probs := load.ParsePlan("plan.yaml", plan)
				if len(probs) > 0 {
					b.Fatal(probs[0])
				}
				in, probs := load.ParseInventory("inv.yaml", inv)
				if len(probs) > 0 {
					b.Fatal(probs[0])
				}
				if _, probs := load.Bind(p, in, load.BindOptions{}); len(probs) > 0 {
					b.Fatal(probs[0])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "µs/step")
		})
	}
}

// BenchmarkValidateFleet is `zdu validate PLAN -i INVENTORY` with an
// inventory of 100,000 nodes (inventoryOf's shape) and a plan of one
// step on every node in batches of 5%: parse and check the inventory,
// bind. The whole binary's CPU and peak RSS are measured by
// .bench/validate/fleet.sh (docs/performance.md).
func BenchmarkValidateFleet(b *testing.B) {
	const plan = "apiVersion: zdu/v1\nname: fleet\nphases:\n  - id: upgrade\n    targets: all\n    strategy: {batch: \"5%\"}\n    steps:\n      - id: s1\n        type: ssh-exec\n        with: {command: \"echo ${{ vars.instance }}\"}\n"
	inv := inventoryOf(100_000)
	b.SetBytes(int64(len(inv)))
	b.ReportAllocs()
	for b.Loop() {
		p, probs := load.ParsePlan("plan.yaml", []byte(plan))
		if len(probs) > 0 {
			b.Fatal(probs[0])
		}
		in, probs := load.ParseInventory("inv.yaml", inv)
		if len(probs) > 0 {
			b.Fatal(probs[0])
		}
		if _, probs := load.Bind(p, in, load.BindOptions{}); len(probs) > 0 {
			b.Fatal(probs[0])
		}
	}
}
