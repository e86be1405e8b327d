// Package rollbackon is the rollback-on step type. It does nothing when the
// walker reaches it except arm a rule for its node: from then on, when a later
// step on that node fails and the step's `when` (which sees `failure`) holds,
// the engine runs the named rollback for that node, or for every node that
// armed the rule, newest first.
package rollbackon

import (
	"context"
	"fmt"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/wait"
)

func init() {
	step.Register(step.Definition{
		Idempotent: true,
		Type:       "rollback-on", Summary: "arm a rollback rule for the node: on a later failure matching when, run a rollback",
		Schema: []byte(`{
  "type": "object", "additionalProperties": false, "required": ["rollback"],
  "properties": {
    "rollback": {"type": "string", "minLength": 1, "description": "Name of the rollback (a key of the plan's rollbacks) to run."},
    "scope": {"enum": ["node", "changed"], "default": "node", "description": "node: the failing node only; changed: every node that armed this rule, newest first."},
    "reenableIfHealthy": {"type": "string", "description": "When the rollback fails, the node stays out of its load balancers; with this URL (interpolated) it is put back only once the URL answers 200 from the control node (polled up to 1m)."}
  }
}`),
		Build: func(a step.Args) step.Action {
			return &rule{step.RollbackRule{Rollback: a.Literal("rollback", true), Scope: a.Enum("scope", "node", "changed"),
				ReenableIfHealthy: a.Checked("reenableIfHealthy", false, wait.CheckURLValue)}}
		},
	})
}

type rule struct{ spec step.RollbackRule }

var (
	_ step.Action        = (*rule)(nil)
	_ step.RollbackRuler = (*rule)(nil)
)

// RollbackRule tells the engine what this rule runs.
func (r *rule) RollbackRule() step.RollbackRule { return r.spec }

// Run arms the rule; the engine records that, there is nothing to do here.
func (r *rule) Run(context.Context, step.Context) (step.Outcome, error) { return step.Outcome{}, nil }

func (r *rule) Explain(step.Context) ([]string, error) {
	line := fmt.Sprintf("arm rollback %q (scope %s) for later failures", r.spec.Rollback, r.spec.Scope)
	if r.spec.ReenableIfHealthy.IsZero() {
		return []string{line, "if the rollback fails, the node stays out of its load balancers"}, nil
	}
	return []string{line, "if the rollback fails, the node is put back only once " + r.spec.ReenableIfHealthy.Source() + " answers 200"}, nil
}
