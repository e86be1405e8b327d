package load

import (
	"sync"

	"github.com/zdu-dev/zdu/schema"
	"github.com/zdu-dev/zdu/steps/lb"
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
	invSchemaJSON []byte
	invSchemaVal  *schema.Validator
	invSchemaErr  error
)

// InventorySchema is the inventory schema with every registered load
// balancer driver's keys.
func InventorySchema() ([]byte, error) {
	invSchemaOnce.Do(func() {
		var drivers []schema.DriverSchema
		for _, n := range lb.Names() {
			d, _ := lb.Find(n)
			drivers = append(drivers, schema.DriverSchema{Name: n, Summary: d.Summary, Schema: d.Schema, InstanceSchema: d.InstanceSchema})
		}
		invSchemaJSON, invSchemaErr = schema.InventorySchema(drivers)
		if invSchemaErr == nil {
			invSchemaVal, invSchemaErr = schema.Compile("inventory.json", invSchemaJSON)
		}
	})
	return invSchemaJSON, invSchemaErr
}

func inventoryValidator() (*schema.Validator, error) {
	_, err := InventorySchema()
	return invSchemaVal, err
}

var (
	tmplSchemaOnce sync.Once
	tmplSchemaJSON []byte
	tmplSchemaVal  *schema.Validator
	tmplStepVal    *schema.Validator
	tmplSchemaErr  error
)

// TemplateSchema is the schema of a template file, for editors: the plan
// schema's steps and params, as steps and inputs.
func TemplateSchema() ([]byte, error) {
	tmplSchemaOnce.Do(func() {
		var plan, shape, step []byte
		if plan, tmplSchemaErr = PlanSchema(); tmplSchemaErr != nil {
			return
		}
		if tmplSchemaJSON, tmplSchemaErr = schema.TemplateSchema(plan, true); tmplSchemaErr != nil {
			return
		}
		// zdu checks a template's shape, then each step with its inputs filled in.
		if shape, tmplSchemaErr = schema.TemplateSchema(plan, false); tmplSchemaErr != nil {
			return
		}
		if tmplSchemaVal, tmplSchemaErr = schema.Compile("template.json", shape); tmplSchemaErr != nil {
			return
		}
		if step, tmplSchemaErr = schema.OneStepSchema(plan); tmplSchemaErr != nil {
			return
		}
		tmplStepVal, tmplSchemaErr = schema.Compile("step.json", step)
	})
	return tmplSchemaJSON, tmplSchemaErr
}

func templateValidator() (*schema.Validator, error) {
	_, err := TemplateSchema()
	return tmplSchemaVal, err
}

func templateStepValidator() (*schema.Validator, error) {
	_, err := TemplateSchema()
	return tmplStepVal, err
}
