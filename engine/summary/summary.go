// Package summary derives a run's summary from its journal events: the seed's
// NODE x phase table with a ROLLBACK column, and the same data as JSON. It
// reads nothing but events, so a summary can be rebuilt from journal.jsonl.
package summary

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
)

// Cell is one node's outcome in one column.
type Cell struct {
	State string `json:"state"` // passed, failed, skipped, blocked, cancelled, or "" (not run)
	Code  *int   `json:"exitCode,omitempty"`
	Times
}

// GateFinding is a gate that fired.
type GateFinding struct {
	At      time.Time      `json:"at"`
	Message string         `json:"message"`
	Breach  map[string]any `json:"breach,omitempty"`
}

// Canary is how a phase's canary pause ended.
type Canary struct {
	Phase string `json:"phase"`
	State string `json:"state"`
	By    string `json:"by,omitempty"` // who approved or aborted it
	Error string `json:"error,omitempty"`
}

// Times is when something started and ended, and how long it took (in
// milliseconds); what has not ended has no end.
type Times struct {
	Start      *time.Time `json:"start,omitempty"`
	End        *time.Time `json:"end,omitempty"`
	DurationMs *int64     `json:"durationMs,omitempty"`
}

func (t *Times) begin(at time.Time) {
	if t.Start == nil && !at.IsZero() {
		at = at.UTC()
		t.Start = &at
	}
}

func (t *Times) finish(at time.Time) {
	if at.IsZero() {
		return
	}
	at = at.UTC()
	t.End = &at
	if t.Start != nil {
		d := at.Sub(*t.Start).Milliseconds()
		t.DurationMs = &d
	}
}

// Step is one step (or rollback step) run on a node: its outcome, its
// attempts and its times.
type Step struct {
	Phase    string `json:"phase,omitempty"`
	Step     string `json:"step"`
	Rollback string `json:"rollback,omitempty"`
	State    string `json:"state"`
	Code     *int   `json:"exitCode,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	Times
}

// String renders the cell as the seed does: PASSED (0), FAILED (100), *.
func (c Cell) String() string {
	switch c.State {
	case "":
		return "*"
	case journal.Passed, journal.Failed:
		code := 0
		if c.Code != nil {
			code = *c.Code
		}
		return fmt.Sprintf("%s (%d)", upper(c.State), code)
	}
	return upper(c.State)
}

// Phase is a column.
type Phase struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Node is a row.
type Node struct {
	Name     string          `json:"name"`
	Phases   map[string]Cell `json:"phases"`
	Rollback Cell            `json:"rollback"`
	// Notes are compensations and other remarks, e.g. "re-enabled in lb gateway".
	Notes []string `json:"notes,omitempty"`
	// OutOfService lists what was not undone for the node at the end of the
	// run (a drain kept after its failed rollback): it is still out of
	// service.
	OutOfService []string `json:"outOfService,omitempty"`
	// Steps are the node's steps in the order they started.
	Steps []*Step `json:"steps,omitempty"`
}

// Summary is the whole run at a glance.
type Summary struct {
	Run      string         `json:"run"`
	Plan     string         `json:"plan"`
	Status   string         `json:"status"`
	ExitCode int            `json:"exitCode"`
	Error    string         `json:"error,omitempty"`
	Phases   []Phase        `json:"phases"`
	Nodes    []*Node        `json:"nodes"`
	Extra    map[string]any `json:"extra,omitempty"`
	// Probe is the availability probe's figures, when one ran.
	Probe *probe.Result `json:"probe,omitempty"`
	// Gate is the live gate that fired, when one did: which, when, on what
	// figures; Baseline the figures measured before the first node.
	Gate     *GateFinding   `json:"gate,omitempty"`
	Baseline map[string]any `json:"gateBaseline,omitempty"`
	// Canaries are the phases' canary pauses: how each ended, who decided.
	Canaries []Canary `json:"canaries,omitempty"`
	// Times: from the run's first start to its last end (a resumed run's
	// include the time it was dead).
	Times
}

// FromEvents replays events into a summary.
func FromEvents(events []journal.Event) *Summary {
	s := &Summary{Status: "RUNNING"}
	rows := map[string]*Node{}
	row := func(name string) *Node {
		if r, ok := rows[name]; ok {
			return r
		}
		r := &Node{Name: name, Phases: map[string]Cell{}}
		rows[name] = r
		s.Nodes = append(s.Nodes, r)
		return r
	}
	starts := map[string]time.Time{} // node\x00phase -> the node's start there
	open := map[string]*Step{}       // node\x00phase\x00rollback\x00step -> the step running
	for _, e := range events {
		switch e.Kind {
		case journal.KindRun:
			s.Run = e.Run
			s.begin(e.Time)
			if e.State == journal.Started {
				s.Plan, _ = e.Detail["plan"].(string)
				for _, p := range asList(e.Detail["phases"]) {
					m, _ := p.(map[string]any)
					id, _ := m["id"].(string)
					title, _ := m["title"].(string)
					s.Phases = append(s.Phases, Phase{ID: id, Title: title})
				}
				for _, n := range asList(e.Detail["nodes"]) {
					if name, ok := n.(string); ok {
						row(name)
					}
				}
				continue
			}
			if e.State != journal.Passed && e.State != journal.Failed {
				continue // stopping, resumed: not the run's end
			}
			s.Status, _ = e.Detail["status"].(string)
			if e.ExitCode != nil {
				s.ExitCode = *e.ExitCode
			}
			s.Error = e.Error
			s.finish(e.Time)
		case journal.KindNode:
			key := e.Node + "\x00" + e.Phase
			if e.State == journal.Started {
				if _, ok := starts[key]; !ok {
					starts[key] = e.Time
				}
				continue
			}
			c := Cell{State: e.State, Code: e.ExitCode}
			if at, ok := starts[key]; ok {
				c.begin(at)
				c.finish(e.Time)
			}
			row(e.Node).Phases[e.Phase] = c
		case journal.KindStep:
			stepTimes(row(e.Node), open, e)
		case journal.KindRollback:
			r := row(e.Node)
			stepTimes(r, open, e)
			switch e.State {
			case journal.Passed:
				if r.Rollback.State != journal.Failed {
					r.Rollback = Cell{State: journal.Passed, Code: journal.Code(0)}
				}
			case journal.Failed:
				r.Rollback = Cell{State: journal.Failed, Code: e.ExitCode}
			}
		case journal.KindProbe:
			s.Probe = probeResult(e.Detail)
		case journal.KindGate:
			if b, ok := e.Detail["baseline"].(map[string]any); ok {
				s.Baseline = b
			}
			if e.State == journal.Failed {
				br, _ := e.Detail["breach"].(map[string]any)
				s.Gate = &GateFinding{At: e.Time.UTC(), Message: e.Error, Breach: br}
			}
		case journal.KindCanary:
			switch e.State {
			case journal.Passed, journal.Failed, journal.Blocked, journal.Cancelled:
				c := Canary{Phase: e.Phase, State: e.State, Error: e.Error}
				c.By, _ = e.Detail["approvedBy"].(string)
				if c.By == "" {
					c.By, _ = e.Detail["abortedBy"].(string)
				}
				s.Canaries = append(s.Canaries, c)
			}
		case journal.KindUndo:
			desc, _ := e.Detail["description"].(string)
			switch e.State {
			case journal.Passed:
				row(e.Node).Notes = append(row(e.Node).Notes, desc+" (compensation)")
			case journal.Failed:
				row(e.Node).Notes = append(row(e.Node).Notes, fmt.Sprintf("FAILED to %s: %s", desc, e.Error))
			case journal.Kept:
				r := row(e.Node)
				r.Notes = append(r.Notes, fmt.Sprintf("STILL OUT OF SERVICE: did not %s, because its rollback failed", desc))
				r.OutOfService = append(r.OutOfService, desc)
			}
		}
	}
	return s
}

// stepTimes follows a step (or rollback step) of a node from its first
// start to its end; a retry is an attempt of the same step.
func stepTimes(r *Node, open map[string]*Step, e journal.Event) {
	if e.Step == "" {
		return
	}
	key := e.Node + "\x00" + e.Phase + "\x00" + e.Rollback + "\x00" + e.Step
	st := open[key]
	switch e.State {
	case journal.Started:
		if st == nil {
			st = &Step{Phase: e.Phase, Step: e.Step, Rollback: e.Rollback, State: journal.Started}
			st.begin(e.Time)
			open[key] = st
			r.Steps = append(r.Steps, st)
		}
		st.Attempts = max(st.Attempts, e.Attempt)
	case journal.Retrying, journal.Waiting:
	default:
		if st == nil {
			// Skipped or blocked: it never started.
			st = &Step{Phase: e.Phase, Step: e.Step, Rollback: e.Rollback}
			r.Steps = append(r.Steps, st)
		}
		st.State, st.Code = e.State, e.ExitCode
		st.finish(e.Time)
		delete(open, key)
	}
}

// probeResult reads the probe's figures back from an event's detail.
func probeResult(detail map[string]any) *probe.Result {
	b, err := json.Marshal(detail)
	if err != nil {
		return nil
	}
	var r probe.Result
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return &r
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// Outstanding is something a run left on a node and has not put back:
// a drain whose compensation has not run (the run is still going, or died),
// or was kept (its rollback failed).
type Outstanding struct {
	Node  string    `json:"node"`
	What  string    `json:"what"` // the compensation that would put it back
	Since time.Time `json:"since"`
	Kept  bool      `json:"kept,omitempty"`
}

// OutOfService lists, from a run's events, what its nodes are still out
// of: compensations armed and neither settled (the node's enable) nor run.
func OutOfService(events []journal.Event) []Outstanding {
	type key struct{ node, undo string }
	open := map[key]*Outstanding{}
	var order []key
	for _, e := range events {
		if e.Kind != journal.KindUndo {
			continue
		}
		k := key{e.Node, e.Step}
		switch e.State {
		case journal.Armed:
			desc, _ := e.Detail["description"].(string)
			if _, seen := open[k]; !seen {
				order = append(order, k)
			}
			open[k] = &Outstanding{Node: e.Node, What: desc, Since: e.Time}
		case journal.Settled, journal.Passed:
			delete(open, k)
		case journal.Kept:
			if o, ok := open[k]; ok {
				o.Kept = true
			}
		}
	}
	var out []Outstanding
	for _, k := range order {
		if o, ok := open[k]; ok {
			out = append(out, *o)
			delete(open, k)
		}
	}
	return out
}
