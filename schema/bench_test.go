package schema

import (
	"fmt"
	"strings"
	"testing"
)

// inventoryYAML writes an inventory of n nodes spread over four groups, each
// with a few variables, the shape of a large real environment.
func inventoryYAML(n int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: zdu/v1\nkind: Inventory\ndefaults: {user: deploy, port: 22}\n")
	b.WriteString("ssh: {knownHosts: [~/.ssh/known_hosts], connectTimeout: 10s}\n")
	b.WriteString("groups:\n  web: {vars: {tier: front}}\n  api: {}\n  db:\n  haproxy: {}\n")
	b.WriteString("nodes:\n")
	groups := []string{"web", "api", "db", "haproxy"}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: node-%04d\n    host: 10.%d.%d.%d\n    port: 22\n    groups: [%s, all-nodes]\n    vars: {rack: r%d, weight: %d, canary: %t}\n",
			i, i/65536, (i/256)%256, i%256, groups[i%len(groups)], i%40, i%10, i%100 == 0)
	}
	b.WriteString("loadBalancers:\n  front:\n    driver: haproxy\n    backend: web\n    instances:\n      - {name: lb1, socket: /run/haproxy/admin.sock}\n")
	return []byte(b.String())
}

// BenchmarkValidateInventory2000 is the figure the plan-language issue asks
// for: decoding and validating an inventory of 2,000 nodes.
func BenchmarkValidateInventory2000(b *testing.B) {
	data := inventoryYAML(2000)
	_, inv := validators(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		doc, problems := Decode("inventory.yaml", data)
		if doc == nil {
			b.Fatal(problems)
		}
		if problems := inv.Validate("inventory.yaml", doc); len(problems) != 0 {
			b.Fatal(problems[0])
		}
	}
}

// BenchmarkValidateInventory2000Broken measures the slow path: every node
// has a problem to map back to a line.
func BenchmarkValidateInventory2000Broken(b *testing.B) {
	data := []byte(strings.ReplaceAll(string(inventoryYAML(2000)), "    port: 22\n", "    prot: 22\n"))
	_, inv := validators(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		doc, _ := Decode("inventory.yaml", data)
		if problems := inv.Validate("inventory.yaml", doc); len(problems) != 2000 {
			b.Fatalf("got %d problems, want 2000", len(problems))
		}
	}
}

func BenchmarkPlanSchema(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := PlanSchema(fakeSteps); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLargeInventoryIsValid(t *testing.T) {
	_, inv := validators(t)
	doc, problems := Decode("inventory.yaml", inventoryYAML(2000))
	if doc == nil {
		t.Fatal(problems)
	}
	if problems := inv.Validate("inventory.yaml", doc); len(problems) != 0 {
		t.Fatalf("generated inventory has problems: %v", problems[:min(3, len(problems))])
	}
}
