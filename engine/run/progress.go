package run

import (
	"sync"
	"time"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/steps/step"
)

// progressEvery is how often, at most, a progress report that only counts
// (one more poll with the same answer) is journaled for one subject: a
// wait polling every 100ms for ten minutes must not write 6,000 lines. A
// report that says something new is always journaled.
const progressEvery = time.Second

// progressKinds maps a step's kind of progress to the journal's.
var progressKinds = map[string]string{
	step.ProgressPoll: journal.KindPoll,
	step.ProgressLB:   journal.KindLB,
}

// progress thins out a step context's progress reports.
type progress struct {
	mu   sync.Mutex
	last map[string]time.Time // kind and subject -> last journaled
}

// due reports whether a report on key is to be journaled now.
func (p *progress) due(key string, changed bool, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, seen := p.last[key]; seen && !changed && now.Sub(t) < progressEvery {
		return false
	}
	if p.last == nil {
		p.last = map[string]time.Time{}
	}
	p.last[key] = now
	return true
}

// Report journals a step's progress as an event of its kind, state
// progress, naming what the context runs for (its phase, node, step,
// attempt and vertex; a compensation's key in step).
func (c *stepContext) Report(p step.Progress) {
	kind, ok := progressKinds[p.Kind]
	if !ok || !c.progress.due(kind+"\x00"+p.Subject, p.Changed, time.Now()) {
		return
	}
	e := c.base
	if e.Node == "" {
		e.Node = c.node.Name
	}
	d := p.Detail
	if c.secret {
		// Its output becomes a secret only at its end: what it saw must
		// not reach the journal before the masker knows it.
		d = map[string]any{}
		for k, v := range p.Detail {
			if _, text := v.(string); !text {
				d[k] = v
			}
		}
	}
	e.Kind, e.State, e.Detail = kind, journal.Progress, d
	e.ExitCode, e.Error = nil, ""
	c.r.event(e)
}
