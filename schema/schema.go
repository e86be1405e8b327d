// Package schema holds the JSON Schemas (draft 2020-12) of zdu plans and
// inventories, composes the plan schema with the `with` schemas the step types
// contribute and the inventory schema with the keys the load balancer drivers
// contribute, and validates YAML documents against them. The validator works
// on JSON values and reports JSON pointers; this package maps every problem
// back to the line and column of the YAML the operator must edit, in words an
// operator reads at 3 a.m. It knows nothing of the engine, of any step type
// or of any driver: the caller passes their schemas in.
package schema

import (
	"embed"
)

//go:embed plan.json inventory.json
var files embed.FS

// URLs under which the schemas name themselves ($id); a plan can point an
// editor at them with `# yaml-language-server: $schema=...`.
const (
	PlanURL      = "https://zdu.dev/schema/plan.json"
	InventoryURL = "https://zdu.dev/schema/inventory.json"
)

func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("schema: embedded " + name + " is missing: " + err.Error())
	}
	return b
}

// baseInventorySchema returns the inventory schema without any load
// balancer driver's keys.
func baseInventorySchema() []byte {
	return mustRead("inventory.json")
}

// basePlanSchema returns the plan schema without any step type's `with`.
func basePlanSchema() []byte {
	return mustRead("plan.json")
}
