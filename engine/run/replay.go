package run

import (
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
)

// Replay is what a run's journal says it left behind, for a run that goes
// on in another process (zdu resume): which step vertices are done, which
// were in flight when it stopped, and the node state that later steps rely
// on (registered results, armed rollback rules, compensations not settled).
type Replay struct {
	// Done holds the step vertices that passed or were skipped and were not
	// undone since by a rollback of their node.
	Done map[string]bool
	// InFlight are the steps that had started and never ended: the process
	// died in them.
	InFlight []InFlight
	// Results are the results registered on each node, by node and name.
	Results map[string]map[string]map[string]any
	// Rules are the rollback-on rules armed by done vertices, in arming order.
	Rules []ReplayedRule
	// Undos are each node's compensations armed and neither settled nor
	// run nor kept, oldest first.
	Undos map[string][]ReplayedUndo
	// Kept are the nodes left out of service by a failed rollback.
	Kept map[string]bool
	// NodeEnded holds "PHASE/NODE" for each node whose end in a phase is
	// journaled (and not undone since by a rollback of the node).
	NodeEnded map[string]bool
	// Ended is the run's last end (passed or failed), when it has one.
	Ended *journal.Event
	// LastSeq is the last event's sequence number.
	LastSeq int
}

// InFlight is a step that was running when its run stopped.
type InFlight struct {
	Vertex *compile.StepVertex
	Since  time.Time
	// Waiting is what the step said it was waiting for, last, in the
	// attempt that was running (see journal.Waiting); "" if nothing.
	Waiting string
}

// ReplayedRule is a rollback-on rule a done vertex armed.
type ReplayedRule struct {
	Vertex *compile.StepVertex
}

// ReplayedUndo is a compensation a step armed on a node: the step can
// rebuild it (step.Compensator).
type ReplayedUndo struct {
	Key   string
	Node  string
	Step  *load.Step
	Since time.Time
}

// ReplayJournal reads a run's events against its program. Events naming
// vertices the program does not have (a changed plan) are left aside.
func ReplayJournal(prog *compile.Program, events []journal.Event) (*Replay, error) {
	steps := map[string]*compile.StepVertex{}
	for _, v := range prog.Graph.Vertices() {
		if sv, ok := v.(*compile.StepVertex); ok {
			steps[sv.ID()] = sv
		}
	}
	rp := &Replay{Done: map[string]bool{}, Results: map[string]map[string]map[string]any{},
		Undos: map[string][]ReplayedUndo{}, Kept: map[string]bool{}, NodeEnded: map[string]bool{}}
	phaseIndex := map[string]int{}
	for _, ph := range prog.Phases {
		phaseIndex[ph.ID] = ph.Index
	}
	nodeEnds := map[string][2]string{}        // "PHASE/NODE" -> phase, node
	last := map[string]string{}               // vertex -> its last terminal state
	started := map[string]time.Time{}         // vertex -> an attempt started, not ended
	waiting := map[string]string{}            // vertex -> what its attempt running waits for
	armedPhase := map[string]map[string]int{} // node -> rollback -> arming phase index
	rolledBack := map[string]int{}            // node -> first phase its rollbacks undid
	var rules []ReplayedRule
	canaryPassed := map[string]bool{}
	for _, e := range events {
		rp.LastSeq = e.Seq
		sv := steps[e.Vertex]
		switch e.Kind {
		case journal.KindRun:
			switch e.State {
			case journal.Passed, journal.Failed:
				ev := e
				rp.Ended = &ev
			case journal.Resumed:
				rp.Ended = nil
			}
		case journal.KindStep:
			if sv == nil || e.Step != sv.Step.ID {
				continue
			}
			switch e.State {
			case journal.Started:
				started[e.Vertex] = e.Time
				delete(waiting, e.Vertex)
			case journal.Waiting:
				waiting[e.Vertex], _ = e.Detail["message"].(string)
			case journal.Passed, journal.Failed, journal.Skipped, journal.Blocked, journal.Cancelled:
				last[e.Vertex] = e.State
				delete(started, e.Vertex)
				if r, ok := e.Detail["result"].(map[string]any); ok {
					if rp.Results[e.Node] == nil {
						rp.Results[e.Node] = map[string]map[string]any{}
					}
					rp.Results[e.Node][sv.Step.Register] = r
				}
			}
		case journal.KindNode:
			switch e.State {
			case journal.Passed, journal.Failed, journal.Cancelled, journal.Skipped, journal.Blocked:
				nodeEnds[e.Phase+"/"+e.Node] = [2]string{e.Phase, e.Node}
			}
		case journal.KindCanary:
			// A canary's pause that passed (watched, approved) is not
			// waited again; one that did not end is.
			if e.State == journal.Passed && e.Vertex != "" {
				canaryPassed[e.Vertex] = true
			}
		case journal.KindRule:
			if e.State == journal.Armed && sv != nil && sv.Step.Rollback != nil {
				rules = append(rules, ReplayedRule{Vertex: sv})
				if armedPhase[e.Node] == nil {
					armedPhase[e.Node] = map[string]int{}
				}
				armedPhase[e.Node][sv.Step.Rollback.Rollback] = sv.Phase.Index
			}
		case journal.KindRollback:
			if e.Step != "" || e.State != journal.Started {
				continue
			}
			// The node went back to before its rule was armed: everything
			// it did from that phase on is to be done again.
			if p, ok := armedPhase[e.Node][e.Rollback]; ok {
				if prev, seen := rolledBack[e.Node]; !seen || p < prev {
					rolledBack[e.Node] = p
				}
			}
		case journal.KindUndo:
			switch e.State {
			case journal.Armed:
				if s := armingStep(prog, sv, e); s != nil {
					rp.Undos[e.Node] = append(rp.Undos[e.Node], ReplayedUndo{Key: e.Step, Node: e.Node, Step: s, Since: e.Time})
				}
			case journal.Settled, journal.Passed, journal.Failed:
				rp.Undos[e.Node] = without(rp.Undos[e.Node], e.Step)
			case journal.Kept:
				rp.Undos[e.Node] = without(rp.Undos[e.Node], e.Step)
				rp.Kept[e.Node] = true
			}
		}
	}
	undone := func(sv *compile.StepVertex) bool {
		p, ok := rolledBack[sv.Node.Name]
		return ok && sv.Phase.Index >= p
	}
	for id := range canaryPassed {
		rp.Done[id] = true
	}
	for id, state := range last {
		if sv := steps[id]; (state == journal.Passed || state == journal.Skipped) && !undone(sv) {
			rp.Done[id] = true
		}
	}
	for k, pn := range nodeEnds {
		if p, ok := rolledBack[pn[1]]; ok && phaseIndex[pn[0]] >= p {
			continue
		}
		rp.NodeEnded[k] = true
	}
	for id, since := range started {
		rp.InFlight = append(rp.InFlight, InFlight{Vertex: steps[id], Since: since, Waiting: waiting[id]})
	}
	for _, r := range rules {
		if rp.Done[r.Vertex.ID()] {
			rp.Rules = append(rp.Rules, r)
		}
	}
	if rp.Ended != nil && rp.Ended.State == journal.Passed {
		return rp, fmt.Errorf("the run passed (seq %d): there is nothing to resume", rp.Ended.Seq)
	}
	return rp, nil
}

func without(us []ReplayedUndo, key string) []ReplayedUndo {
	out := us[:0]
	for _, u := range us {
		if u.Key != key {
			out = append(out, u)
		}
	}
	return out
}

// armingStep finds the plan step that armed a compensation: a step of a
// rollback (named by the event), or the step of the vertex it ran in.
func armingStep(prog *compile.Program, sv *compile.StepVertex, e journal.Event) *load.Step {
	id, _ := e.Detail["step"].(string)
	if e.Rollback != "" {
		for _, s := range prog.Binding.Plan.Rollbacks[e.Rollback] {
			if s.ID == id {
				return s
			}
		}
		return nil
	}
	if sv != nil {
		return sv.Step
	}
	return nil
}
