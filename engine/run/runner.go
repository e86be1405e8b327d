// Package run walks a compiled program: phases in order, each phase's nodes
// under its strategy's limit, each node's steps in order, with timeouts,
// retries, rollback-on rules and compensation. Every state change is a
// journal event, written and synced before the next action.
package run

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
)

// Exit codes the runner decides; a failed phase exits with its own code.
const (
	ExitOK          = 0
	ExitFatal       = 80
	ExitInterrupted = 130
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

	stopping atomic.Bool
	stopOnce sync.Once
	stepsCtx context.Context
	cancel   context.CancelFunc

	mu    sync.Mutex
	nodes map[string]*nodeState
	rules []*armedRule // in arming order
	jerr  error        // first journal error: the run cannot go on without its record
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
func (r *Runner) Stop() {
	r.stopOnce.Do(func() {
		r.stopping.Store(true)
		grace := r.StopGrace
		if grace == 0 {
			grace = 30 * time.Second
		}
		time.AfterFunc(grace, func() {
			if r.cancel != nil {
				r.cancel()
			}
		})
	})
}

// Run runs the program. ctx is the hard limit: when it ends, running steps
// are killed at once (a second SIGINT).
func (r *Runner) Run(ctx context.Context) Result {
	r.stepsCtx, r.cancel = context.WithCancel(ctx)
	defer r.cancel()
	r.nodes = map[string]*nodeState{}
	p := r.Prog
	b := p.Binding
	r.event(journal.Event{Kind: journal.KindRun, State: journal.Started, Detail: runDetail(p)})
	res := Result{Status: "SUCCESS", ExitCode: ExitOK}
	for _, ph := range p.Phases {
		if r.jerr != nil {
			break
		}
		if r.stopping.Load() || ctx.Err() != nil {
			res = Result{Status: "INTERRUPTED", ExitCode: ExitInterrupted, Err: errors.New("interrupted")}
			break
		}
		ok, err := r.phaseWanted(ph)
		if err != nil {
			res = Result{Status: "FATAL_ERROR", ExitCode: ExitFatal, Err: err}
			break
		}
		if !ok {
			r.event(journal.Event{Kind: journal.KindPhase, State: journal.Skipped, Phase: ph.ID})
			for _, n := range ph.Nodes {
				r.event(journal.Event{Kind: journal.KindNode, State: journal.Skipped, Phase: ph.ID, Node: n.Name})
			}
			continue
		}
		if failed := r.runPhase(ph); failed != nil {
			res = r.afterFailure(ph, failed)
			break
		}
	}
	if err := r.compensateAll(ctx); err != nil && res.ExitCode == ExitOK {
		res = Result{Status: "FATAL_ERROR", ExitCode: ExitFatal, Err: err}
	}
	if r.jerr != nil {
		res = Result{Status: "FATAL_ERROR", ExitCode: ExitFatal, Err: r.jerr}
	}
	e := journal.Event{Kind: journal.KindRun, State: journal.Passed, ExitCode: journal.Code(res.ExitCode),
		Detail: map[string]any{"status": res.Status}}
	if res.ExitCode != ExitOK {
		e.State = journal.Failed
	}
	if res.Err != nil {
		e.Error = res.Err.Error()
	}
	r.event(e)
	_ = b
	return res
}

func runDetail(p *compile.Program) map[string]any {
	phases := make([]any, 0, len(p.Phases))
	seen := map[string]bool{}
	var nodes []any
	for _, ph := range p.Phases {
		phases = append(phases, map[string]any{"id": ph.ID, "title": ph.Title})
	}
	for _, n := range p.Binding.Inv.Nodes {
		for _, ph := range p.Phases {
			for _, t := range ph.Nodes {
				if t == n && !seen[n.Name] {
					seen[n.Name] = true
					nodes = append(nodes, n.Name)
				}
			}
		}
	}
	return map[string]any{"plan": p.Binding.Plan.Name, "phases": phases, "nodes": nodes}
}

// phaseWanted evaluates a phase's `when` against the params (as the first
// target node sees them: phase conditions should not depend on a node).
func (r *Runner) phaseWanted(ph *compile.Phase) (bool, error) {
	if ph.When == nil || len(ph.Nodes) == 0 {
		return len(ph.Nodes) > 0 || ph.When == nil, nil
	}
	env := r.state(ph.Nodes[0]).env.WithPhase(ph.ID)
	ok, err := ph.When.Bool(env)
	if err != nil {
		return false, fmt.Errorf("phase %s: when: %w", ph.ID, err)
	}
	return ok, nil
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

// event appends to the journal; the first failure to record stops the run.
func (r *Runner) event(e journal.Event) {
	if err := r.Journal.Append(e); err != nil {
		r.mu.Lock()
		if r.jerr == nil {
			r.jerr = err
		}
		r.mu.Unlock()
		r.stopping.Store(true)
	}
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
