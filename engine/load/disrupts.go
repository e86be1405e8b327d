package load

import (
	"fmt"

	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/steps/step"
)

// disrupts decides whether a step stops or restarts a service on its node,
// and why: the plan's `disrupts:` has the last word, then what the built
// step says of itself (step.Disrupter: ssh-exec looks at its command), then
// its type's default.
func disrupts(def step.Definition, act step.Action, plan spec.Value[bool]) (bool, string) {
	if plan.Set {
		return plan.V, fmt.Sprintf("the plan says disrupts: %v", plan.V)
	}
	if d, ok := act.(step.Disrupter); ok {
		if yes, why := d.Disrupts(); yes {
			return true, why
		}
		return false, ""
	}
	if def.Disrupts {
		return true, "every " + def.Type + " step does"
	}
	return false, ""
}
