package compile

import (
	"fmt"

	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/load"
)

// StepVertex is one step on one node in one phase: the unit the runner
// runs. The node's steps in the phase form a chain; the node holds one of
// the phase's slots from its first step to its last.
type StepVertex struct {
	Phase *Phase
	Node  *load.Node
	Step  *load.Step
	// Batch is the node's batch in the phase, from 1.
	Batch int
	// First and Last mark the node's first and last step in the phase.
	First, Last bool

	id string // ID, computed once by Compile
}

var (
	_ dag.Slotted   = (*StepVertex)(nil)
	_ dag.Labeler   = (*StepVertex)(nil)
	_ dag.Clusterer = (*StepVertex)(nil)
)

// ID is PHASE/NODE/STEP (see StepVertexID).
func (v *StepVertex) ID() string {
	if v.id != "" {
		return v.id
	}
	return StepVertexID(v.Phase.ID, v.Node.Name, v.Step.ID)
}

// Label is the step and its type, as the graph shows it, and the template
// it comes from.
func (v *StepVertex) Label() string {
	if o := v.Step.Origin; o != nil {
		return fmt.Sprintf("%s (%s) from %s", v.Step.ID, v.Step.Type, o)
	}
	return fmt.Sprintf("%s (%s)", v.Step.ID, v.Step.Type)
}

// Cluster groups a node's steps in a phase.
func (v *StepVertex) Cluster() string { return v.Phase.ID + " / " + v.Node.Name }

// Slot: the node holds one of the phase's Limit slots while its steps run.
func (v *StepVertex) Slot() (pool string, limit int, holder string) {
	return v.Phase.ID, v.Phase.Limit, v.Node.Name
}

// Barrier ends a batch of a phase: it runs once every node of the batch is
// done, whether they passed or not, and decides whether what comes after it
// may start (the phase's failure budget). The last batch's barrier ends the
// phase.
type Barrier struct {
	Phase *Phase
	Batch int
	Last  bool

	id string // ID, computed once by Compile
}

var (
	_ dag.Barrier = (*Barrier)(nil)
	_ dag.Labeler = (*Barrier)(nil)
)

// ID is PHASE/batch-N, or PHASE/done for the phase's last barrier.
func (b *Barrier) ID() string {
	if b.id != "" {
		return b.id
	}
	if b.Last {
		return b.Phase.ID + "/done"
	}
	return fmt.Sprintf("%s/batch-%d", b.Phase.ID, b.Batch)
}

// Barrier: it runs after its upstream whatever their outcome.
func (b *Barrier) Barrier() bool { return true }

// Label says what the barrier waits for and what the phase allows.
func (b *Barrier) Label() string {
	ph := b.Phase
	if !b.Last {
		return fmt.Sprintf("%s: batch %d of %d done", ph.ID, b.Batch, len(ph.Batches))
	}
	s := fmt.Sprintf("phase %s done (%s: at most %d at once", ph.ID, ph.Strategy.Kind, ph.Limit)
	if ph.Budget > 0 {
		s += fmt.Sprintf(", up to %d failed node(s)", ph.Budget)
	}
	return s + ")"
}

// Pause is a phase's canary pause: after the canary batch, the rest of the
// phase waits here — for the pause, with the gates watching, and for an
// approval when the plan asks for one.
type Pause struct {
	Phase *Phase

	id string // ID, computed once by Compile
}

var _ dag.Labeler = (*Pause)(nil)

// ID is PHASE/canary.
func (p *Pause) ID() string {
	if p.id != "" {
		return p.id
	}
	return p.Phase.ID + "/canary"
}

// Label says what the pause waits for.
func (p *Pause) Label() string {
	c := p.Phase.Canary
	s := fmt.Sprintf("%s: canary of %d node(s)", p.Phase.ID, p.Phase.CanaryNodes)
	if c.Pause > 0 {
		s += fmt.Sprintf(", watched for %s", c.Pause)
	}
	if c.Approve {
		s += ", then approved (zdu approve)"
	}
	return s
}
