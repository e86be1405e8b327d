package run

import (
	"sync"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/journal"
)

// runPhase runs a phase's batches, at most ph.Limit nodes at once, and returns
// the first failure once more nodes failed than the budget allows (nil when
// the phase passed). After that, no new node starts; running nodes finish.
func (r *Runner) runPhase(ph *compile.Phase) *failure {
	r.event(journal.Event{Kind: journal.KindPhase, State: journal.Started, Phase: ph.ID,
		Detail: map[string]any{"title": ph.Title, "limit": ph.Limit, "budget": ph.Budget}})
	var (
		mu       sync.Mutex
		failures []*failure
		halted   bool // over budget, a changed-scope rollback pending, or stopping
	)
	stop := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return halted || r.stopping.Load()
	}
	sem := make(chan struct{}, ph.Limit)
	for _, batch := range ph.Batches {
		var wg sync.WaitGroup
		for _, n := range batch {
			sem <- struct{}{}
			if stop() {
				<-sem
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				f := r.runNode(ph, n)
				if f == nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				failures = append(failures, f)
				if len(failures) > ph.Budget || f.haltsPhase {
					halted = true
				}
			}()
		}
		wg.Wait()
		if stop() {
			break
		}
	}
	state := journal.Passed
	var root *failure
	if len(failures) > ph.Budget || (len(failures) > 0 && halted) || r.stopping.Load() {
		state = journal.Failed
		if len(failures) > 0 {
			root = failures[0]
		} else {
			root = &failure{phase: ph, interrupted: true}
		}
	}
	e := journal.Event{Kind: journal.KindPhase, State: state, Phase: ph.ID,
		Detail: map[string]any{"failedNodes": len(failures)}}
	if root != nil {
		e.ExitCode = journal.Code(ph.ExitCode)
	}
	r.event(e)
	return root
}
