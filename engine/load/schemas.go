package load

import (
	"sync"

	"github.com/zdu-dev/zdu/schema"
	"github.com/zdu-dev/zdu/steps/step"
)

var (
	planSchemaOnce sync.Once
	planSchemaJSON []byte
	planSchemaVal  *schema.Validator
	planSchemaErr  error
)

// PlanSchema is the plan schema with every registered step type's `with`.
func PlanSchema() ([]byte, error) {
	planSchemaOnce.Do(func() {
		var steps []schema.StepSchema
		for _, t := range step.Types() {
			d, _ := step.Lookup(t)
			steps = append(steps, schema.StepSchema{Type: t, Summary: d.Summary, Schema: d.Schema})
		}
		planSchemaJSON, planSchemaErr = schema.PlanSchema(steps)
		if planSchemaErr == nil {
			planSchemaVal, planSchemaErr = schema.Compile("plan.json", planSchemaJSON)
		}
	})
	return planSchemaJSON, planSchemaErr
}

func planValidator() (*schema.Validator, error) {
	_, err := PlanSchema()
	return planSchemaVal, err
}

var (
	invSchemaOnce sync.Once
	invSchemaVal  *schema.Validator
	invSchemaErr  error
)

func inventoryValidator() (*schema.Validator, error) {
	invSchemaOnce.Do(func() {
		invSchemaVal, invSchemaErr = schema.Compile("inventory.json", schema.InventorySchema())
	})
	return invSchemaVal, invSchemaErr
}
