package view

import "time"

// Progress is how far a run is, as the view's header shows it.
type Progress struct {
	// NodesDone counts the nodes with nothing left to do: every phase that
	// targets them has ended for them. Nodes is every node some phase
	// targets.
	NodesDone, Nodes int
	// StepsDone counts the step vertices that ended (passed, failed,
	// skipped, blocked, cancelled); Steps is every step vertex.
	StepsDone, Steps int
	// ETA is the time the run still needs, from the durations seen so
	// far; Known is false until there is any to go by.
	ETA   time.Duration
	Known bool
}

// Progress tells how far the run is at now.
func (m *Model) Progress(now time.Time) Progress {
	var p Progress
	for _, n := range m.nodes {
		targeted, done := false, true
		for _, ph := range m.phases {
			if !ph.targets(n.name) {
				continue
			}
			targeted = true
			done = done && n.phases[ph.id]
		}
		if targeted {
			p.Nodes++
			if done {
				p.NodesDone++
			}
		}
	}
	for _, ph := range m.phases {
		p.Steps += len(ph.nodes) * ph.steps
	}
	p.StepsDone = min(len(m.steps), p.Steps)
	p.ETA, p.Known = m.eta(now)
	if m.ended != nil {
		p.ETA, p.Known = 0, true
	}
	return p
}

// targets reports whether the phase runs on the node.
func (ph *phase) targets(name string) bool { return ph.member[name] }

// eta adds up, phase by phase, the time its nodes still need: a node
// takes what the phase's nodes took on average so far, or, before any
// ended there, its steps times the average step seen in the run; one
// running already needs that less the time it has had (never less than
// nothing). A phase runs limit nodes at once.
func (m *Model) eta(now time.Time) (time.Duration, bool) {
	if m.stepCount == 0 {
		return 0, false
	}
	perStep := m.stepTime / time.Duration(m.stepCount)
	var total time.Duration
	for _, ph := range m.phases {
		if ph.ended {
			continue
		}
		per := time.Duration(ph.steps) * perStep
		if ph.ran > 0 {
			per = ph.took / time.Duration(ph.ran)
		}
		var left time.Duration
		pending := 0
		for _, name := range ph.nodes {
			if ph.done[name] {
				continue
			}
			pending++
			n := m.nodeOf[name]
			if n != nil && n.phase == ph && n.state != stateWaiting && !n.since.IsZero() {
				left += max(per-now.Sub(n.since), 0)
				continue
			}
			left += per
		}
		if pending == 0 {
			continue
		}
		at := max(min(ph.limit, pending), 1)
		total += left / time.Duration(at)
	}
	return total, true
}
