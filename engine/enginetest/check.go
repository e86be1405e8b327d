package enginetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/journal"
)

// CheckJournal checks what a resumed run and the summary rely on: sequence
// numbers strictly increasing from 1; the run started first and ended last;
// every started phase, node, step attempt, rollback and compensation ended
// exactly once, after it started; a step's progress (poll, lb) comes
// while its attempt runs; every vertex of the program's graph has
// its terminal event (see CheckVertices); the run's end carries the
// result's exit code; and the summary rebuilt from journal.jsonl equals the
// one built live from the same events.
//
// A journal may hold several processes' events (a run, then its
// resumptions, each from a run resumed event): the process before a
// resumption may have died (its open starts and missing end are its crash)
// or ended (failed, cancelled).
func CheckJournal(tb testing.TB, r *Run) {
	tb.Helper()
	ev := r.Events
	if len(ev) < 2 {
		tb.Fatalf("journal has %d events, want at least a run start and end", len(ev))
	}
	for i, e := range ev {
		if e.Seq != i+1 {
			tb.Errorf("journal event %d has seq %d, want %d", i, e.Seq, i+1)
		}
	}
	first, last := ev[0], ev[len(ev)-1]
	if first.Kind != journal.KindRun || first.State != journal.Started {
		tb.Errorf("first event is %s %s, want run started", first.Kind, first.State)
	}
	if last.Kind != journal.KindRun || (last.State != journal.Passed && last.State != journal.Failed) {
		tb.Errorf("last event is %s %s, want run passed or failed", last.Kind, last.State)
	}
	if last.ExitCode == nil || *last.ExitCode != r.Result.ExitCode {
		tb.Errorf("run end exit code %v, want %d", last.ExitCode, r.Result.ExitCode)
	}
	open := map[string]int{} // key -> seq of its start
	for i, e := range ev[1 : len(ev)-1] {
		if e.Kind == journal.KindRun {
			switch e.State {
			case journal.Stopping, journal.Aborting:
			case journal.Resumed:
				open = map[string]int{} // what the last process left open died with it
			case journal.Passed, journal.Failed:
				if !resumedAfter(ev[i+2:]) {
					tb.Errorf("seq %d: run %s in the middle of the journal, and no resumption after it", e.Seq, e.State)
				}
			default:
				tb.Errorf("seq %d: run %s in the middle of the journal", e.Seq, e.State)
			}
			continue
		}
		if journal.IsProgress(e) {
			// A step's progress comes between its attempt's start and end.
			if e.Attempt > 0 {
				at := e
				at.Kind = journal.KindStep
				if e.Rollback != "" {
					at.Kind = journal.KindRollback
				}
				if _, ok := open[key(at)]; !ok {
					tb.Errorf("seq %d: %s progress outside its attempt %s", e.Seq, e.Kind, key(at))
				}
			}
			continue
		}
		if e.Kind == journal.KindRule || e.Kind == journal.KindProbe || e.Kind == journal.KindGate ||
			(e.Kind == journal.KindCanary && e.State == journal.Waiting) ||
			(e.Kind == journal.KindUndo && (e.State == journal.Armed || e.State == journal.Settled || e.State == journal.Kept)) {
			continue // one-off events: no start to pair with
		}
		k := key(e)
		switch e.State {
		case journal.Started:
			if s, ok := open[k]; ok {
				tb.Errorf("seq %d: %s started again (first at seq %d)", e.Seq, k, s)
			}
			open[k] = e.Seq
		case journal.Passed, journal.Failed, journal.Retrying, journal.Cancelled:
			if _, ok := open[k]; !ok && !endWithoutStart(e) {
				tb.Errorf("seq %d: %s %s without a start", e.Seq, k, e.State)
			}
			delete(open, k)
		case journal.Skipped, journal.Blocked:
			// Decided without running (a when, an earlier failure): there
			// may be no start, but one that was open is closed.
			delete(open, k)
		case journal.Waiting:
			// Reported by a running attempt: between its start and end.
			if _, ok := open[k]; !ok {
				tb.Errorf("seq %d: %s waiting outside its attempt", e.Seq, k)
			}
		}
	}
	for k, s := range open {
		tb.Errorf("%s started at seq %d never ended", k, s)
	}
	if r.Prog != nil {
		CheckVertices(tb, r.Prog.Graph, ev)
	}
	live, _ := json.Marshal(r.Live)
	disk, _ := json.Marshal(r.Summary)
	if string(live) != string(disk) {
		tb.Errorf("summary rebuilt from journal.jsonl differs from the live one:\nlive: %s\ndisk: %s", live, disk)
	}
	if r.Summary.ExitCode != r.Result.ExitCode || r.Summary.Status != r.Result.Status {
		tb.Errorf("summary says %s (%d), the runner returned %s (%d)",
			r.Summary.Status, r.Summary.ExitCode, r.Result.Status, r.Result.ExitCode)
	}
}

func key(e journal.Event) string {
	return fmt.Sprintf("%s[phase=%s node=%s step=%s rollback=%s attempt=%d]",
		e.Kind, e.Phase, e.Node, e.Step, e.Rollback, e.Attempt)
}

// endWithoutStart: outcomes decided without running anything have no start
// event: a batch's barrier (it only decides), a phase that never began (an
// earlier one failed, or the run stopped before it), a rollback whose steps
// cannot be ordered.
func endWithoutStart(e journal.Event) bool {
	switch e.Kind {
	case journal.KindBatch:
		return true
	case journal.KindPhase:
		return e.State == journal.Blocked || e.State == journal.Cancelled
	case journal.KindRollback:
		return e.Step == "" && e.State == journal.Failed
	case journal.KindStep:
		// Failed before any attempt: its when, or a drift found before it.
		return e.State == journal.Failed && e.Attempt == 0
	case journal.KindDrift:
		return true // one-off checks, no start
	case journal.KindNode:
		// A resumed run ends a node whose steps all passed in the process
		// before, which died before it journaled the node's end.
		return e.State == journal.Passed && e.Detail["earlier"] == true
	}
	return false
}

func resumedAfter(events []journal.Event) bool {
	for _, e := range events {
		if e.Kind == journal.KindRun && e.State == journal.Resumed {
			return true
		}
	}
	return false
}

// terminal are the states that end a vertex.
var terminal = map[string]bool{journal.Passed: true, journal.Failed: true, journal.Skipped: true,
	journal.Blocked: true, journal.Cancelled: true}

// VertexEnds returns each vertex's terminal events, by vertex id: the step
// event of a (phase, node, step) vertex, the batch event of a batch's
// barrier, the phase event of a phase's last barrier.
func VertexEnds(events []journal.Event) map[string][]journal.Event {
	out := map[string][]journal.Event{}
	for _, e := range events {
		if e.Vertex == "" || !terminal[e.State] {
			continue
		}
		switch e.Kind {
		case journal.KindStep, journal.KindBatch, journal.KindPhase, journal.KindCanary:
			out[e.Vertex] = append(out[e.Vertex], e)
		}
	}
	return out
}

// CheckVertices checks that every vertex of g has exactly one terminal
// event in each process that decided it (a run, each of its resumptions),
// that one that passed or was skipped is not decided again by a later
// process, and that no event names a vertex g does not have.
func CheckVertices(tb testing.TB, g *dag.Graph, events []journal.Event) {
	tb.Helper()
	segment, doneIn, nodeOf := 0, map[string]int{}, map[string]string{}
	perSegment := map[[2]any]int{}
	ends := map[string]int{}
	for _, e := range events {
		if e.Kind == journal.KindRun && e.State == journal.Resumed {
			segment++
			continue
		}
		if e.Kind == journal.KindRollback && e.Step == "" && e.State == journal.Started {
			// A rollback undoes what its node did: a resumption redoes it.
			for v, n := range nodeOf {
				if n == e.Node {
					delete(doneIn, v)
				}
			}
			continue
		}
		if e.Vertex == "" || !terminal[e.State] ||
			(e.Kind != journal.KindStep && e.Kind != journal.KindBatch && e.Kind != journal.KindPhase && e.Kind != journal.KindCanary) {
			continue
		}
		if s, done := doneIn[e.Vertex]; done && s < segment {
			tb.Errorf("seq %d: vertex %s decided again (%s) after it was done in process %d", e.Seq, e.Vertex, e.State, s+1)
		}
		if e.Kind == journal.KindStep && (e.State == journal.Passed || e.State == journal.Skipped) {
			doneIn[e.Vertex], nodeOf[e.Vertex] = segment, e.Node
		}
		perSegment[[2]any{e.Vertex, segment}]++
		ends[e.Vertex]++
	}
	for k, n := range perSegment {
		if n > 1 {
			tb.Errorf("vertex %s has %d terminal events in process %d, want 1", k[0], n, k[1].(int)+1)
		}
	}
	for _, v := range g.Vertices() {
		if ends[v.ID()] == 0 {
			tb.Errorf("vertex %s has no terminal event", v.ID())
		}
	}
	for _, e := range events {
		if e.Vertex != "" && !g.Has(e.Vertex) {
			tb.Errorf("seq %d: %s %s names vertex %q, which the graph does not have", e.Seq, e.Kind, e.State, e.Vertex)
		}
	}
}
