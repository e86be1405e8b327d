// Package run walks a compiled program: phases in order, each phase's nodes
// under its strategy's limit, each node's steps in order, with timeouts,
// retries, rollback-on rules and compensation. Every state change is a
// journal event, written and synced before the next action.
package run

import (
	"context"
	"errors"
	"fmt"
	"github.com/zdu-dev/zdu/engine/exitcode"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/expr"
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
	Logs *NodeLogs
	// StopGrace is how long a running step may go on after Stop before it is
	// cancelled. Zero means 30s.
	StopGrace time.Duration
	// Observers watch the run (the availability probe); see Observer.
	Observers []Observer

	stopping atomic.Bool
	stopOnce sync.Once
	stopCh   chan struct{} // closed by Stop; see stopC
	stepsCtx context.Context

	mu        sync.Mutex
	nodes     map[string]*nodeState
	rules     []*armedRule // in arming order
	tolerated []*failure   // failures a phase's budget allowed, in order
	jerr      error        // first journal error: the run cannot go on without its record
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
	failed  bool // failed in an earlier phase: later phases skip it
	env     *expr.Env
	results map[string]map[string]any
	undo    []undoEntry // newest last
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

// Run runs the program. ctx is the hard limit: when it ends, running steps
// are killed at once (a second SIGINT).
func (r *Runner) Run(ctx context.Context) Result {
	stepsCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.stepsCtx = stepsCtx
	done := make(chan struct{})
	defer close(done)
	go r.cancelAfterStop(cancel, done)
	r.mu.Lock()
	r.nodes = map[string]*nodeState{}
	r.mu.Unlock()
	p := r.Prog
	r.event(journal.Event{Kind: journal.KindRun, State: journal.Started, Detail: runDetail(p)})
	res := Result{Status: "SUCCESS", ExitCode: exitcode.OK}
	for _, ph := range p.Phases {
		if r.journalErr() != nil {
			break
		}
		if r.stopping.Load() || ctx.Err() != nil {
			res = Result{Status: "INTERRUPTED", ExitCode: exitcode.Interrupted, Err: errors.New("interrupted")}
			break
		}
		skip, err := r.phaseSkips(ph)
		if err != nil {
			res = Result{Status: "FATAL_ERROR", ExitCode: exitcode.Fatal, Err: err}
			break
		}
		if len(ph.Nodes) > 0 && len(skip) == len(ph.Nodes) {
			r.event(journal.Event{Kind: journal.KindPhase, State: journal.Skipped, Phase: ph.ID})
			for _, n := range ph.Nodes {
				r.event(journal.Event{Kind: journal.KindNode, State: journal.Skipped, Phase: ph.ID, Node: n.Name})
			}
			continue
		}
		if failed := r.runPhase(ph, skip); failed != nil {
			res = r.afterFailure(ph, failed)
			break
		}
	}
	if res.ExitCode == exitcode.OK {
		if t, ok := r.toleratedResult(); ok {
			res = t
		}
	}
	if err := r.compensateAll(ctx); err != nil && res.ExitCode == exitcode.OK {
		res = Result{Status: "FATAL_ERROR", ExitCode: exitcode.Fatal, Err: err}
	}
	res = r.finishObservers(ctx, res)
	if err := r.journalErr(); err != nil {
		res = Result{Status: "FATAL_ERROR", ExitCode: exitcode.Fatal, Err: fmt.Errorf("the run stopped because its journal cannot be written: %w", err)}
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

func runDetail(p *compile.Program) map[string]any {
	phases := make([]any, 0, len(p.Phases))
	seen := map[string]bool{}
	var nodes []any
	for _, ph := range p.Phases {
		phases = append(phases, map[string]any{"id": ph.ID, "title": ph.Title})
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
	return map[string]any{"plan": p.Binding.Plan.Name, "phases": phases, "nodes": nodes}
}

// phaseSkips evaluates a phase's `when` for each target node, as that node
// sees it: params may differ per node (group and node vars), and vars,
// node.* and results.* do. It returns the nodes the phase skips. A node that
// failed in an earlier phase is not evaluated (its results may be missing):
// runNode records it as blocked.
func (r *Runner) phaseSkips(ph *compile.Phase) (map[*load.Node]bool, error) {
	skip := map[*load.Node]bool{}
	if ph.When == nil {
		return skip, nil
	}
	for _, n := range ph.Nodes {
		st := r.state(n)
		if st.failed {
			continue
		}
		ok, err := ph.When.Bool(st.env.WithPhase(ph.ID))
		if err != nil {
			return nil, fmt.Errorf("phase %s: when, for node %s: %w", ph.ID, n.Name, err)
		}
		if !ok {
			skip[n] = true
		}
	}
	return skip, nil
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
	s.env = expr.NewEnv(b.Params[n.Name], n.Vars, expr.NodeData{
		Name: n.Name, Host: n.Host, Port: n.Port, User: n.User, Groups: n.Groups,
	}, "", nil)
	r.nodes[n.Name] = s
	return s
}

// event appends to the journal. The first failure to record stops the run as
// Stop does (no new work; running steps get StopGrace; compensation runs):
// a run that cannot be resumed or audited must not go on changing nodes.
func (r *Runner) event(e journal.Event) {
	if err := r.Journal.Append(e); err != nil {
		r.mu.Lock()
		first := r.jerr == nil
		if first {
			r.jerr = err
		}
		r.mu.Unlock()
		if first {
			r.Stop()
		}
	}
}

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

// failure is the root cause of a failed phase.
type failure struct {
	phase    *compile.Phase
	node     *load.Node
	step     *load.Step
	exitCode int
	err      error
	output   string
	// haltsPhase: a changed-scope rollback is due, so no new node may start.
	haltsPhase bool
	// interrupted: the operator stopped the run; there is no failing step.
	interrupted bool
	// pending is the changed-scope rule to run once the phase has stopped.
	pending *armedRule
	// rollbackFailed: a node-scope rollback ran and failed.
	rollbackFailed bool
}

func (f *failure) data() expr.FailureData {
	return expr.FailureData{
		Phase: f.phase.ID, Step: f.step.ID, Node: f.node.Name, ExitCode: f.exitCode,
		Message: strings.TrimSpace(f.output + "\n" + f.err.Error()),
	}
}
