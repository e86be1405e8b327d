// Package run walks a compiled program's graph: each (phase, node, step)
// vertex runs one step with its timeout and retries, each barrier decides
// whether its phase may go on (failure budget, rollback-on rules), and the
// walk itself keeps every phase within its strategy's limit. Failures run
// rollback-on rules and compensation. Every state change is a journal event
// naming the vertex it belongs to, on disk before the action it announces.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/dag"
	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/gate"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
)

// Runner runs one program once.
type Runner struct {
	Prog    *compile.Program
	Journal *journal.Journal
	// Transports reaches nodes; Close it after the run.
	Transports *Pool
	// Logs gives each node's log writer (already masking secrets).
	Logs Logs
	// StopGrace is how long a running step may go on after Stop before it is
	// cancelled. Zero means 30s.
	StopGrace time.Duration
	// Observers watch the run (the availability probe); see Observer.
	Observers []Observer
	// Prior, for a resumed run, is what the run's journal says it left:
	// its done vertices are not run again, its nodes' results, rules and
	// compensations are restored.
	Prior *Replay
	// Secrets learns values that become secret at run time (the output of
	// a step marked secret); nil ignores them.
	Secrets interface{ Add(values ...string) }
	// Gates judges the run while it goes on (the probe with the plan's
	// gates); nil: no gate is watched.
	Gates Gatekeeper
	// Control gives an operator's decisions at a canary's pause (zdu
	// approve, zdu abort); nil: a canary that needs one fails.
	Control Control
	// JournalFailed, when set, is told of the first failed journal write at
	// once, before the run reacts to it (the CLI says so on stderr first).
	JournalFailed func(error)

	stopping atomic.Bool
	breach   atomic.Pointer[gate.Breach] // the gate that fired
	aborted  atomic.Pointer[AbortError]  // the canary an operator aborted
	breachCh chan struct{}               // closed when a gate fires; see breachC
	stopOnce sync.Once
	stopCh   chan struct{} // closed by Stop; see stopC
	stepsCtx context.Context

	mu        sync.Mutex
	nodes     map[string]*nodeState
	phases    []*phaseState
	rules     []*armedRule // in arming order
	tolerated []*failure   // failures a phase's budget allowed, in order
	result    *Result      // set by the first phase that ends the run
	jerr      error        // first journal error: the run cannot go on without its record
	stopWhy   string       // a StopFor before Run began, journaled once it has
	begun     bool         // the run's start is journaled
	// unended, in a resumed run, are by phase index the last step vertices
	// of nodes whose steps all passed in an earlier process that died
	// before it journaled the node's end (see endEarlierNodes).
	unended map[int][]*compile.StepVertex
	starts  map[*load.Step]map[string]any // see startDetail
}

// Logs gives each node's log.
type Logs interface {
	Writer(node string) io.Writer
}

// Result is how a run ended.
type Result struct {
	Status   string
	ExitCode int
	Err      error
}

// nodeState is what the runner keeps per node across phases.
type nodeState struct {
	node    *load.Node
	failed  bool // failed in an earlier phase: later phases block it
	env     *expr.Env
	results map[string]map[string]any
	undo    []undoEntry // newest last
	// keptOut: the node's rollback failed, so it stays out of service.
	keptOut bool
	// in is the phase the node is in (its steps there), nil between phases.
	in *nodePhase
	// rolledBack: a rollback ran (or began) on the node.
	rolledBack bool
}

// nodePhase is one node's passage through one phase.
type nodePhase struct {
	phase   int // the phase's index
	env     *expr.Env
	skipped bool // the phase's when is false here
	ended   bool // the node's end is journaled
}

// StopFor is Stop with the reason journaled (a signal, a closed output);
// before Run has begun, it is journaled just after the run's start.
func (r *Runner) StopFor(why string) {
	r.mu.Lock()
	begun := r.begun
	if !begun {
		r.stopWhy = why
	}
	r.mu.Unlock()
	if begun {
		r.event(journal.Event{Kind: journal.KindRun, State: journal.Stopping, Detail: map[string]any{"reason": why}})
	}
	r.Stop()
}

// Abort journals that the run's context is about to be cancelled (a second
// signal); the caller cancels it.
func (r *Runner) Abort(why string) {
	r.event(journal.Event{Kind: journal.KindRun, State: journal.Aborting, Detail: map[string]any{"reason": why}})
}

// Stop asks the run to stop gracefully: no new node or step starts, running
// steps get StopGrace to finish, then are cancelled; compensation then runs.
// It may be called from any goroutine, before or during Run, more than once.
func (r *Runner) Stop() {
	r.stopOnce.Do(func() {
		r.stopping.Store(true)
		close(r.stopC())
	})
}

// stopC is closed once Stop has been called.
func (r *Runner) stopC() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopCh == nil {
		r.stopCh = make(chan struct{})
	}
	return r.stopCh
}

// cancelAfterStop cancels the steps' context StopGrace after Stop, unless the
// run ends first.
func (r *Runner) cancelAfterStop(cancel context.CancelFunc, done <-chan struct{}) {
	select {
	case <-r.stopC():
	case <-done:
		return
	}
	grace := r.StopGrace
	if grace == 0 {
		grace = 30 * time.Second
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-t.C:
		cancel()
	case <-done:
	}
}

// Run walks the program's graph. ctx is the hard limit: when it ends,
// running steps are killed at once and nothing new starts (a second SIGINT);
// compensation still runs.
func (r *Runner) Run(ctx context.Context) Result {
	stepsCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.stepsCtx = stepsCtx
	done := make(chan struct{})
	defer close(done)
	go r.cancelAfterStop(cancel, done)
	r.mu.Lock()
	r.nodes = map[string]*nodeState{}
	r.phases = make([]*phaseState, len(r.Prog.Phases))
	for i, ph := range r.Prog.Phases {
		r.phases[i] = &phaseState{ph: ph}
	}
	r.mu.Unlock()
	if r.Prior == nil {
		r.event(journal.Event{Kind: journal.KindRun, State: journal.Started, Detail: runDetail(r.Prog)})
	} else {
		r.event(journal.Event{Kind: journal.KindRun, State: journal.Resumed, Detail: r.resumeDetail()})
	}
	r.mu.Lock()
	why := r.stopWhy
	r.begun = true
	r.mu.Unlock()
	if why != "" {
		r.event(journal.Event{Kind: journal.KindRun, State: journal.Stopping, Detail: map[string]any{"reason": why}})
	}
	stopWatching := r.watch()
	walk := dag.WalkOptions{Stop: r.holdBack, OnBlocked: r.blocked}
	var res Result
	stopGates := func() {}
	err := r.restore(ctx)
	if err == nil {
		stopGates, err = r.startGates(stepsCtx)
	}
	if err != nil {
		res = Result{Status: "FATAL_ERROR", ExitCode: exitcode.Fatal, Err: err}
	} else {
		if r.Prior != nil {
			walk.Done = func(v dag.Vertex) bool { return r.Prior.Done[v.ID()] }
		}
		w := walk.Walk(ctx, r.Prog.Graph, r.vertex)
		stopGates()
		res = r.outcome(ctx, w)
	}
	if err := r.compensateAll(ctx); err != nil && res.ExitCode == exitcode.OK {
		res = Result{Status: "FATAL_ERROR", ExitCode: exitcode.Fatal, Err: err}
	}
	stopWatching()
	res = r.finishObservers(ctx, res)
	if err := r.journalErr(); err != nil {
		res = Result{Status: "FATAL_ERROR", ExitCode: exitcode.Fatal, Err: fmt.Errorf("the run stopped: journal write failed: %w", err)}
	}
	e := journal.Event{Kind: journal.KindRun, State: journal.Passed, ExitCode: journal.Code(res.ExitCode),
		Detail: map[string]any{"status": res.Status}}
	if res.ExitCode != exitcode.OK {
		e.State = journal.Failed
	}
	if res.Err != nil {
		e.Error = res.Err.Error()
	}
	r.event(e)
	return res
}

// outcome is the run's result once the walk is over: the phase that ended
// it, else an interruption, else the failures a budget tolerated.
func (r *Runner) outcome(ctx context.Context, w *dag.Result) Result {
	r.mu.Lock()
	res := r.result
	r.mu.Unlock()
	switch {
	case res != nil:
		return *res
	case w.Err != nil:
		return Result{Status: "FATAL_ERROR", ExitCode: exitcode.Fatal, Err: w.Err}
	case w.Cancelled || ctx.Err() != nil || r.stopping.Load():
		return Result{Status: "INTERRUPTED", ExitCode: exitcode.Interrupted, Err: errors.New("interrupted")}
	}
	// Nothing ended the run, so every phase must have passed its last
	// barrier; anything else is a bug, never a success.
	for _, ph := range r.Prog.Phases {
		if s := w.Status(ph.Done.ID()); s != dag.Passed {
			return Result{Status: "FATAL_ERROR", ExitCode: exitcode.Fatal,
				Err: fmt.Errorf("internal: phase %s ended %s without a result", ph.ID, s)}
		}
	}
	if t, ok := r.toleratedResult(); ok {
		return t
	}
	return Result{Status: "SUCCESS", ExitCode: exitcode.OK}
}

// end records the first result that ends the run; later ones are effects.
func (r *Runner) end(res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.result == nil {
		r.result = &res
	}
}

func (r *Runner) ended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.result != nil
}

func runDetail(p *compile.Program) map[string]any {
	phases := make([]any, 0, len(p.Phases))
	seen := map[string]bool{}
	var nodes []any
	for _, ph := range p.Phases {
		// What the live view needs from the start for its progress and ETA:
		// each phase's nodes, the steps each runs, and how many at once.
		names := make([]any, len(ph.Nodes))
		for i, n := range ph.Nodes {
			names[i] = n.Name
		}
		steps := make([]any, len(ph.Order))
		for i, s := range ph.Order {
			steps[i] = s.ID
		}
		phases = append(phases, map[string]any{"id": ph.ID, "title": ph.Title,
			"nodes": names, "steps": steps, "limit": ph.Limit})
	}
	// Rows in inventory order, for every node some phase targets. A set, not
	// a scan per node: 5,000 nodes made the scan quadratic.
	targeted := map[*load.Node]bool{}
	for _, ph := range p.Phases {
		for _, t := range ph.Nodes {
			targeted[t] = true
		}
	}
	for _, n := range p.Binding.Inv.Nodes {
		if targeted[n] && !seen[n.Name] {
			seen[n.Name] = true
			nodes = append(nodes, n.Name)
		}
	}
	return map[string]any{"plan": p.Binding.Plan.Name, "phases": phases, "nodes": nodes, "vertices": p.Graph.Len()}
}

// state returns a node's state, creating it on first use.
func (r *Runner) state(n *load.Node) *nodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.nodes[n.Name]; ok {
		return s
	}
	b := r.Prog.Binding
	s := &nodeState{node: n, results: map[string]map[string]any{}}
	if r.Prior != nil {
		for name, res := range r.Prior.Results[n.Name] {
			s.results[name] = res
		}
	}
	s.env = expr.NewEnv(b.Params[n.Name], n.Vars, expr.NodeData{
		Name: n.Name, Host: n.Host, Port: n.Port, User: n.User, Groups: n.Groups,
	}, "", s.results)
	r.nodes[n.Name] = s
	return s
}

// event appends to the journal. The first failure to record stops the run as
// Stop does (no new work; running steps get StopGrace; compensation runs):
// a run that cannot be resumed or audited must not go on changing nodes.
// After it, no step starts (see runStep). It reports whether e was recorded.
func (r *Runner) event(e journal.Event) bool {
	err := r.Journal.Append(e)
	if err == nil {
		return true
	}
	r.mu.Lock()
	first := r.jerr == nil
	if first {
		r.jerr = err
	}
	r.mu.Unlock()
	if first {
		if r.JournalFailed != nil {
			r.JournalFailed(err)
		}
		r.Stop()
	}
	return false
}

// JournalError is a step not started because the journal cannot be written.
type JournalError struct{ Err error }

func (e *JournalError) Error() string { return "journal write failed: " + e.Err.Error() }
func (e *JournalError) Unwrap() error { return e.Err }

func (r *Runner) journalErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jerr
}

// phaseStatus is the run status when ph fails, as the seed names it:
// the title upper-cased, dashes as underscores, then _FAILED.
func phaseStatus(ph *compile.Phase) string {
	return strings.ReplaceAll(strings.ToUpper(ph.Title), "-", "_") + "_FAILED"
}

// failure is the root cause of a failed node.
type failure struct {
	phase    *compile.Phase
	node     *load.Node
	step     *load.Step
	vertex   string
	exitCode int
	err      error
	output   string
	// haltsPhase: a changed-scope rollback is due, so no new node may start.
	haltsPhase bool
	// interrupted: the operator stopped the run; there is no failing step.
	interrupted bool
	// pending is the changed-scope rule to run once the phase has stopped.
	pending *armedRule
	// rollbackFailed is the rule whose node-scope rollback ran and failed.
	rollbackFailed *armedRule
}

func (f *failure) data() expr.FailureData {
	return expr.FailureData{
		Phase: f.phase.ID, Step: f.step.ID, Node: f.node.Name, ExitCode: f.exitCode,
		Message: strings.TrimSpace(f.output + "\n" + f.err.Error()),
	}
}
