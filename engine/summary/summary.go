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
	for _, e := range events {
		switch e.Kind {
		case journal.KindRun:
			s.Run = e.Run
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
		case journal.KindNode:
			if e.State == journal.Started {
				continue
			}
			row(e.Node).Phases[e.Phase] = Cell{State: e.State, Code: e.ExitCode}
		case journal.KindRollback:
			r := row(e.Node)
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
