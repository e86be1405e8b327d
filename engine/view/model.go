// Package view is what an operator watches while a run goes on, built from
// the run's journal events alone: a live view on a terminal (a row per
// node with its phase, step, attempt, time and state; the run's progress
// and ETA; a drain's sessions and queue falling on each load balancer
// instance; a wait's polls; the probe's requests per second, failures and
// p99), readable text lines off a terminal, and the journal's own JSON.
//
// Model is the view as data: Apply feeds it events, Frame renders it for a
// time, a width and a height. It reads no clock and no terminal, so a
// recorded journal renders the same frame every time (the golden tests).
// Live runs it on a terminal through Bubble Tea; Lines and JSON are the
// journal.Sinks for everything else.
package view

import (
	"fmt"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
)

// Node states as the view shows them (besides the journal's own: passed,
// failed, skipped, blocked, cancelled, retrying).
const (
	stateWaiting     = "waiting"
	stateRunning     = "running"
	stateRollingBack = "rolling back"
	stateRolledBack  = "rolled back"
)

// Model is the view of one run, from its journal events. It is not safe
// for concurrent use (Live guards it).
type Model struct {
	run      string
	plan     string
	started  time.Time
	ended    *journal.Event // the run's end
	stopping string         // why the run is stopping, once it is
	phases   []*phase
	phaseOf  map[string]*phase
	current  *phase // the phase started last
	nodes    []*node
	nodeOf   map[string]*node
	traffic  *traffic
	// notice is what the operator must know now: a canary waiting for
	// them, a gate that fired. alarm: it is bad news.
	notice string
	alarm  bool
	// steps counts step vertices ended (by vertex), for the progress bar;
	// stepTime and stepCount are the durations of the steps that ran.
	steps     map[string]bool
	stepTime  time.Duration
	stepCount int
	last      time.Time // the latest event's time
}

// phase is one phase of the plan, with what the run did of it.
type phase struct {
	index  int
	id     string
	title  string
	nodes  []string
	member map[string]bool // nodes, as a set
	steps  int             // per node
	limit  int
	ended  bool
	state  string
	// done holds the nodes that ended in the phase; took sums the time
	// of those that ran, over ran of them.
	done map[string]bool
	took time.Duration
	ran  int
}

// node is one row: a node and what it does now.
type node struct {
	name  string
	phase *phase // the phase it is in, or was in last
	state string
	since time.Time     // when it started in its phase
	took  time.Duration // its time in the phase, once ended
	step  string
	kind  string // the step's type
	// attempt of the step; stepSince when it started.
	attempt   int
	stepSince time.Time
	retryIn   string
	err       string
	note      string // a compensation, a drift, a rollback under way
	poll      *poll
	lbs       []*lbState
	// phases holds the phases the node ended in (or that ended without it).
	phases map[string]bool
}

// poll is a wait's last look.
type poll struct {
	polls int
	seen  string
	what  string
	ok    bool
}

// lbState is a node's server on one load balancer instance.
type lbState struct {
	lb, instance, state string
	sessions, queue     int64 // -1: the driver cannot tell
}

// traffic is the probe's last live figures.
type traffic struct {
	at                         time.Time
	rps, p99                   float64
	failed, total, totalFailed int64
}

// NewModel returns an empty view; the run's start event fills it.
func NewModel() *Model {
	return &Model{phaseOf: map[string]*phase{}, nodeOf: map[string]*node{}, steps: map[string]bool{}}
}

// Apply feeds one journal event to the view. Events are applied in the
// journal's order; a resumed run's earlier events may come first.
func (m *Model) Apply(e journal.Event) {
	if e.Time.After(m.last) {
		m.last = e.Time
	}
	switch e.Kind {
	case journal.KindRun:
		m.applyRun(e)
	case journal.KindPhase:
		m.applyPhase(e)
	case journal.KindNode:
		m.applyNode(e)
	case journal.KindStep:
		m.applyStep(e)
	case journal.KindRollback:
		m.applyRollback(e)
	case journal.KindUndo:
		m.applyUndo(e)
	case journal.KindDrift:
		if n := m.node(e.Node); n != nil && e.State == journal.Detected {
			n.note = "drift: " + e.Error
		}
	case journal.KindCanary:
		m.applyCanary(e)
	case journal.KindGate:
		if e.State == journal.Failed {
			m.notice, m.alarm = "gate fired: "+firstLine(e.Error), true
		}
	case journal.KindPoll:
		if n := m.node(e.Node); n != nil {
			p := &poll{polls: asInt(e.Detail["polls"]), ok: e.Detail["ok"] == true}
			p.seen, _ = e.Detail["seen"].(string)
			p.what, _ = e.Detail["what"].(string)
			if p.what == "" && n.poll != nil {
				p.what = n.poll.what
			}
			n.poll = p
		}
	case journal.KindLB:
		if n := m.node(e.Node); n != nil {
			n.setLB(e.Detail)
		}
	case journal.KindTraffic:
		m.traffic = &traffic{at: e.Time, rps: asFloat(e.Detail["rps"]), p99: asFloat(e.Detail["p99_ms"]),
			failed: int64(asInt(e.Detail["failed"])), total: int64(asInt(e.Detail["total_requests"])),
			totalFailed: int64(asInt(e.Detail["total_failed"]))}
	}
}

func (m *Model) applyRun(e journal.Event) {
	switch e.State {
	case journal.Started:
		m.run, m.started = e.Run, e.Time
		m.plan, _ = e.Detail["plan"].(string)
		m.setPlan(e.Detail)
	case journal.Resumed:
		m.run, m.ended, m.stopping = e.Run, nil, ""
		if m.started.IsZero() {
			m.started = e.Time
		}
	case journal.Stopping, journal.Aborting:
		m.stopping, _ = e.Detail["reason"].(string)
		if e.State == journal.Aborting {
			m.stopping += ": aborting"
		}
	case journal.Passed, journal.Failed:
		ev := e
		m.ended = &ev
	}
}

// setPlan reads the phases and nodes from the run's start.
func (m *Model) setPlan(d map[string]any) {
	for _, v := range asList(d["nodes"]) {
		if name, ok := v.(string); ok {
			m.addNode(name)
		}
	}
	for i, v := range asList(d["phases"]) {
		pm, _ := v.(map[string]any)
		p := &phase{index: i, steps: len(asList(pm["steps"])), limit: asInt(pm["limit"]), done: map[string]bool{}, member: map[string]bool{}}
		p.id, _ = pm["id"].(string)
		p.title, _ = pm["title"].(string)
		if p.title == "" {
			p.title = p.id
		}
		for _, n := range asList(pm["nodes"]) {
			if name, ok := n.(string); ok {
				p.nodes = append(p.nodes, name)
				p.member[name] = true
				m.addNode(name)
			}
		}
		m.phases = append(m.phases, p)
		m.phaseOf[p.id] = p
	}
}

func (m *Model) addNode(name string) *node {
	if n, ok := m.nodeOf[name]; ok {
		return n
	}
	n := &node{name: name, state: stateWaiting, phases: map[string]bool{}}
	m.nodes = append(m.nodes, n)
	m.nodeOf[name] = n
	return n
}

// node returns the row of a node the run names; nil for none.
func (m *Model) node(name string) *node {
	if name == "" {
		return nil
	}
	return m.addNode(name)
}

// phase returns a phase by id, adding one the run's start did not list (a
// journal older than the phases' lists).
func (m *Model) phase(id string) *phase {
	if p, ok := m.phaseOf[id]; ok {
		return p
	}
	p := &phase{index: len(m.phases), id: id, title: id, done: map[string]bool{}, member: map[string]bool{}}
	m.phases = append(m.phases, p)
	m.phaseOf[id] = p
	return p
}

func (m *Model) applyPhase(e journal.Event) {
	p := m.phase(e.Phase)
	switch e.State {
	case journal.Started:
		if t, ok := e.Detail["title"].(string); ok && t != "" {
			p.title = t
		}
		if p.limit == 0 {
			p.limit = asInt(e.Detail["limit"])
		}
		m.current = p
	case journal.Passed, journal.Failed, journal.Blocked, journal.Cancelled, journal.Skipped:
		p.ended, p.state = true, e.State
		if m.current == nil {
			m.current = p
		}
		// Its nodes that never started are settled: nothing comes for
		// them in this phase.
		for _, name := range p.nodes {
			m.node(name).phases[p.id] = true
		}
	}
}

func (m *Model) applyNode(e journal.Event) {
	n, p := m.node(e.Node), m.phase(e.Phase)
	switch e.State {
	case journal.Started:
		n.phase, n.state, n.since = p, stateRunning, e.Time
		n.step, n.kind, n.attempt, n.err, n.note, n.retryIn = "", "", 0, "", "", ""
		n.poll, n.lbs = nil, nil
	case journal.Passed, journal.Failed, journal.Cancelled, journal.Skipped, journal.Blocked:
		if n.phase != p || n.since.IsZero() {
			n.phase, n.since = p, e.Time
		}
		if n.state != stateRolledBack || e.State != journal.Failed {
			n.state = e.State
		}
		n.took = e.Time.Sub(n.since)
		if e.Error != "" {
			n.err = e.Error
		}
		n.poll, n.retryIn = nil, ""
		n.phases[p.id] = true
		if !p.done[n.name] {
			p.done[n.name] = true
			if e.State == journal.Passed || e.State == journal.Failed {
				p.took += n.took
				p.ran++
			}
		}
	}
}

func (m *Model) applyStep(e journal.Event) {
	n := m.node(e.Node)
	if n == nil {
		return
	}
	switch e.State {
	case journal.Started:
		if n.phase == nil || n.phase.id != e.Phase {
			n.phase = m.phase(e.Phase)
		}
		n.step, n.attempt, n.stepSince, n.retryIn = e.Step, e.Attempt, e.Time, ""
		n.kind, _ = e.Detail["type"].(string)
		n.poll, n.lbs = nil, nil
		if n.state == stateWaiting || n.state == journal.Retrying {
			n.state = stateRunning
		}
	case journal.Retrying:
		n.state, n.err = journal.Retrying, e.Error
		n.retryIn, _ = e.Detail["delay"].(string)
		m.stepEnded(n, e)
	case journal.Passed, journal.Failed, journal.Cancelled, journal.Skipped, journal.Blocked:
		if e.State == journal.Blocked && (n.phase == nil || n.phase.id != e.Phase) &&
			(n.state == stateWaiting || n.state == journal.Passed || n.state == journal.Skipped) {
			// Kept from a phase it never entered by a failure before it.
			n.phase, n.state, n.step, n.kind, n.attempt, n.took, n.since = m.phase(e.Phase), journal.Blocked, "", "", 0, 0, time.Time{}
		}
		if e.Error != "" {
			n.err = e.Error
		}
		if e.Step != "" && n.step == "" && e.State != journal.Blocked {
			n.step = e.Step
		}
		if e.State != journal.Retrying && e.Vertex != "" {
			m.steps[e.Vertex] = true
		}
		m.stepEnded(n, e)
	}
}

// stepEnded counts an attempt's time for the ETA.
func (m *Model) stepEnded(n *node, e journal.Event) {
	if n.stepSince.IsZero() || e.Step != n.step || e.Attempt == 0 {
		return
	}
	m.stepTime += e.Time.Sub(n.stepSince)
	m.stepCount++
}

func (m *Model) applyRollback(e journal.Event) {
	n := m.node(e.Node)
	if n == nil {
		return
	}
	if e.Step == "" { // the rollback as a whole
		switch e.State {
		case journal.Started:
			n.state, n.note = stateRollingBack, "rollback "+e.Rollback
		case journal.Passed:
			n.state, n.note = stateRolledBack, "rolled back ("+e.Rollback+")"
		case journal.Failed:
			n.state, n.note = journal.Failed, "rollback "+e.Rollback+" failed"
		}
		return
	}
	if e.State == journal.Started {
		n.step, n.attempt, n.stepSince = "rollback:"+e.Step, e.Attempt, e.Time
		n.kind, _ = e.Detail["type"].(string)
		n.poll, n.lbs = nil, nil
	}
	if e.Error != "" {
		n.err = e.Error
	}
}

func (m *Model) applyUndo(e journal.Event) {
	n := m.node(e.Node)
	if n == nil {
		return
	}
	desc, _ := e.Detail["description"].(string)
	switch e.State {
	case journal.Started:
		n.note = "putting back: " + desc
	case journal.Passed:
		n.note = "put back: " + desc
	case journal.Failed:
		n.note = "FAILED to " + desc + ": " + e.Error
	case journal.Kept:
		n.note = "STILL OUT OF SERVICE: " + desc
	}
}

// applyCanary tells of a canary's pause: waiting for an operator, and how
// it ended.
func (m *Model) applyCanary(e journal.Event) {
	title := m.phase(e.Phase).title
	switch e.State {
	case journal.Started:
		m.notice, m.alarm = "canary of "+title+": watching before the other nodes", false
	case journal.Waiting:
		timeout, _ := e.Detail["timeout"].(string)
		m.notice, m.alarm = fmt.Sprintf("canary of %s waits for you: zdu approve %s (or zdu abort %s) within %s", title, m.run, m.run, timeout), true
	case journal.Passed, journal.Blocked, journal.Cancelled:
		m.notice, m.alarm = "", false
	case journal.Failed:
		m.notice, m.alarm = "canary of "+title+" failed: "+firstLine(e.Error), true
	}
}

// setLB records one instance's state for the node's server.
func (n *node) setLB(d map[string]any) {
	s := &lbState{sessions: -1, queue: -1}
	s.lb, _ = d["lb"].(string)
	s.instance, _ = d["instance"].(string)
	s.state, _ = d["state"].(string)
	if v, ok := d["sessions"]; ok {
		s.sessions = int64(asInt(v))
	}
	if v, ok := d["queue"]; ok {
		s.queue = int64(asInt(v))
	}
	for i, o := range n.lbs {
		if o.lb == s.lb && o.instance == s.instance {
			n.lbs[i] = s
			return
		}
	}
	n.lbs = append(n.lbs, s)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// asInt reads a JSON number (float64 once read back, int or int64 when the
// event comes straight from the engine).
func asInt(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int:
		return x
	case int64:
		return int(x)
	}
	return 0
}

func asFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return 0
}
