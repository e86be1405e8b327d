package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
)

// How often the text lines repeat a figure that did not change: a wait's
// poll with the same answer, a drain's sessions, the probe's line.
const (
	PollLineEvery    = 10 * time.Second
	TrafficLineEvery = 30 * time.Second
)

// Lines is a journal.Sink writing each event as one readable line, for a
// pipe or a CI log:
//
//	07:16:58  node-1   drain    passed         2.0s
//
// time, node, step (or the phase, for a node's own events), state, and
// what is worth knowing. The run's id is said once, at its start. Polls,
// a load balancer's figures and the probe's live figures are written when
// they change, else every PollLineEvery (the probe's every
// TrafficLineEvery, or when requests failed).
type Lines struct {
	mu    sync.Mutex
	w     io.Writer
	loc   *time.Location
	width int // of the node column
	steps int // of the step column
	// starts holds when each attempt (or node in a phase) started, for
	// its duration; said holds the last line's figures and time, by what
	// they are about.
	starts map[string]time.Time
	said   map[string]said
	titles map[string]string
}

type said struct {
	what string
	at   time.Time
}

// NewLines writes lines to w with times in loc (nil: local time).
func NewLines(w io.Writer, loc *time.Location) *Lines {
	if loc == nil {
		loc = time.Local
	}
	return &Lines{w: w, loc: loc, width: 8, steps: 12, starts: map[string]time.Time{}, said: map[string]said{}, titles: map[string]string{}}
}

// Prime learns what a resumed run's earlier events say (its nodes and
// phases, what was under way) without writing them.
func (l *Lines) Prime(events []journal.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range events {
		l.describe(e)
	}
}

// Event writes e's line, if it has one now.
func (l *Lines) Event(e journal.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	state, detail, ok := l.describe(e)
	if !ok {
		return
	}
	node, step := orDash(e.Node), orDash(e.Step)
	switch e.Kind {
	case journal.KindNode, journal.KindPhase, journal.KindBatch, journal.KindCanary:
		step = l.title(e.Phase)
	case journal.KindRollback:
		if e.Step == "" {
			step = "rollback:" + e.Rollback
		}
	case journal.KindUndo, journal.KindDrift, journal.KindRule:
		step = "-"
	}
	line := fmt.Sprintf("%s  %-*s  %-*s  %-14s  %s", e.Time.In(l.loc).Format("15:04:05"), l.width, node, l.steps, step, state, detail)
	fmt.Fprintln(l.w, strings.TrimRight(line, " "))
}

// describe is an event's state column and detail; ok is false when it is
// not worth a line now.
func (l *Lines) describe(e journal.Event) (state, detail string, ok bool) {
	state = e.Kind + " " + e.State
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%d", e.Phase, e.Node, e.Step, e.Rollback, e.Attempt)
	switch e.Kind {
	case journal.KindRun:
		detail = l.runDetail(e)
	case journal.KindPhase:
		if e.State == journal.Started {
			l.titles[e.Phase], _ = e.Detail["title"].(string)
			detail = fmt.Sprintf("%s: %d at a time", e.Phase, asInt(e.Detail["limit"]))
		}
	case journal.KindNode:
		switch e.State {
		case journal.Started:
			l.starts["node\x00"+key] = e.Time
		case journal.Passed, journal.Failed, journal.Cancelled:
			detail = l.took("node\x00"+key, e.Time)
		}
	case journal.KindStep, journal.KindRollback:
		if e.Kind == journal.KindStep {
			state = e.State
		}
		switch e.State {
		case journal.Started:
			l.starts[key] = e.Time
			detail, _ = e.Detail["type"].(string)
			if e.Attempt > 1 {
				detail += fmt.Sprintf(", attempt %d", e.Attempt)
			}
		case journal.Retrying:
			d, _ := e.Detail["delay"].(string)
			detail = "after " + l.took(key, e.Time) + ", again in " + d
		case journal.Passed, journal.Failed, journal.Cancelled:
			detail = l.took(key, e.Time)
		}
	case journal.KindUndo:
		detail, _ = e.Detail["description"].(string)
	case journal.KindPoll:
		seen, _ := e.Detail["seen"].(string)
		state = fmt.Sprintf("poll %d", asInt(e.Detail["polls"]))
		detail = firstLine(seen)
		if e.Detail["ok"] == true {
			detail += " (ok)"
		}
		if !l.changed("poll\x00"+key, detail, e.Time, PollLineEvery) && e.Detail["ok"] != true {
			return "", "", false
		}
	case journal.KindLB:
		n := &node{}
		n.setLB(e.Detail)
		s := n.lbs[0]
		state = "lb " + s.state
		detail = lbLine(n.lbs)
		if !l.changed("lb\x00"+e.Node+"\x00"+s.lb+"\x00"+s.instance, detail, e.Time, PollLineEvery) {
			return "", "", false
		}
	case journal.KindTraffic:
		state = "probe"
		failed := asInt(e.Detail["failed"])
		detail = fmt.Sprintf("%.0f req/s, %d failed (%d of %d in all), p99 %s ms", asFloat(e.Detail["rps"]), failed,
			asInt(e.Detail["total_failed"]), asInt(e.Detail["total_requests"]), ms(asFloat(e.Detail["p99_ms"])))
		if failed == 0 && !l.changed("traffic", "", e.Time, TrafficLineEvery) {
			return "", "", false
		}
		l.said["traffic"] = said{at: e.Time}
	case journal.KindProbe:
		detail = probeLine(e.Detail)
	case journal.KindCanary:
		if e.State == journal.Waiting {
			t, _ := e.Detail["timeout"].(string)
			detail = "zdu approve (or zdu abort) " + e.Run + " within " + t
		}
	}
	if e.Error != "" {
		if detail != "" {
			detail += ": "
		}
		detail += firstLine(e.Error)
	}
	return state, detail, true
}

// runDetail is what the run's own lines say: the plan and its size at the
// start (and the run's id, said once), the status and time at the end.
func (l *Lines) runDetail(e journal.Event) string {
	switch e.State {
	case journal.Started:
		nodes := asList(e.Detail["nodes"])
		for _, n := range nodes {
			if s, ok := n.(string); ok {
				l.width = min(max(l.width, len(s)), 24)
			}
		}
		for _, p := range asList(e.Detail["phases"]) {
			pm, _ := p.(map[string]any)
			id, _ := pm["id"].(string)
			l.titles[id], _ = pm["title"].(string)
			l.steps = min(max(l.steps, len(l.titles[id])), 24)
			for _, s := range asList(pm["steps"]) {
				if s, ok := s.(string); ok {
					l.steps = min(max(l.steps, len(s)), 24)
				}
			}
		}
		l.starts["run"] = e.Time
		plan, _ := e.Detail["plan"].(string)
		return fmt.Sprintf("%s: %d node(s), %d phase(s); run %s", plan, len(nodes), len(asList(e.Detail["phases"])), e.Run)
	case journal.Resumed:
		l.starts["run"] = e.Time
		return "run " + e.Run
	case journal.Stopping, journal.Aborting:
		r, _ := e.Detail["reason"].(string)
		return r
	case journal.Passed, journal.Failed:
		s, _ := e.Detail["status"].(string)
		if e.ExitCode != nil {
			s += fmt.Sprintf(" (exit %d)", *e.ExitCode)
		}
		return s + " after " + l.took("run", e.Time)
	}
	return ""
}

// took is the time since what key names started, or "" when unknown.
func (l *Lines) took(key string, at time.Time) string {
	t, ok := l.starts[key]
	if !ok {
		return ""
	}
	delete(l.starts, key)
	switch d := at.Sub(t); {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	d := at.Sub(t)
	return d.Round(time.Second).String()
}

// changed reports whether what differs from the last line about key, or
// every has passed since it; and records it as said when so.
func (l *Lines) changed(key, what string, at time.Time, every time.Duration) bool {
	s, ok := l.said[key]
	if ok && s.what == what && at.Sub(s.at) < every {
		return false
	}
	l.said[key] = said{what: what, at: at}
	return true
}

func (l *Lines) title(phase string) string {
	if t := l.titles[phase]; t != "" {
		return t
	}
	return orDash(phase)
}

// probeLine is the probe's finding at the end, in a few figures.
func probeLine(d map[string]any) string {
	return fmt.Sprintf("%d requests, %d failed, longest failure window %s ms, p99 %s ms",
		asInt(d["requests"]), asInt(d["failed"]), ms(asFloat(d["longest_failure_ms"])), ms(asFloat(d["p99_ms"])))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// JSON is a journal.Sink writing each event as the journal writes it: one
// JSON object a line, the schema docs/cli.md describes.
type JSON struct {
	mu sync.Mutex
	w  io.Writer
}

// NewJSON writes events to w.
func NewJSON(w io.Writer) *JSON { return &JSON{w: w} }

// Event writes e.
func (j *JSON) Event(e journal.Event) {
	b, err := json.Marshal(e)
	if err != nil {
		return // the journal wrote it already: it encodes
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_, _ = j.w.Write(append(b, '\n'))
}
