// Package enginetest runs plans through the real engine for tests: load a plan
// and an inventory from strings, run them into a temporary run directory, and
// hand back what an operator would read afterwards (the summary table, the
// per-node logs, the journal). Every run it makes is also checked for the
// journal's invariants, so each engine test checks them too.
package enginetest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/mask"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/engine/summary"
)

// Compile loads, binds and compiles a plan and an inventory given as YAML
// text, failing the test on any problem.
func Compile(tb testing.TB, plan, inv string, sets ...string) *compile.Program {
	tb.Helper()
	return CompileAt(tb, "plan.yaml", plan, inv, sets...)
}

// CompileAt is Compile for a plan read from planFile: the templates it uses
// are found beside it.
func CompileAt(tb testing.TB, planFile, plan, inv string, sets ...string) *compile.Program {
	tb.Helper()
	p, probs := load.ParsePlan(planFile, []byte(plan))
	if len(probs) > 0 {
		tb.Fatalf("plan problems: %v", probs)
	}
	in, probs := load.ParseInventory("inventory.yaml", []byte(inv))
	if len(probs) > 0 {
		tb.Fatalf("inventory problems: %v", probs)
	}
	b, probs := load.Bind(p, in, load.BindOptions{Sets: sets, RequireParams: true})
	if len(probs) > 0 {
		tb.Fatalf("binding problems: %v", probs)
	}
	prog, err := compile.Compile(b)
	if err != nil {
		tb.Fatalf("compiling: %v", err)
	}
	return prog
}

// Options change how Execute runs a program.
type Options struct {
	// Dir is the run directory; default a new t.TempDir().
	Dir string
	// StopGrace is the runner's StopGrace (default 5s).
	StopGrace time.Duration
	// Before, when set, is called with the runner just before Run.
	Before func(r *run.Runner)
	// Start, when set, is called in its own goroutine with the runner once
	// the run has begun (e.g. to call Stop when a marker file appears).
	Start func(r *run.Runner)
	// Ctx is the run's hard context (default context.Background()).
	Ctx context.Context
	// NoCheck skips the journal invariants (tests that break the journal).
	NoCheck bool
	// Dial reaches nodes whose transport is not local (e.g. run.SSHDialer
	// for a sandbox's nodes); nil: local nodes only.
	Dial run.Dialer
	// Resume goes on with the run in Dir (its journal replayed) instead of
	// starting a new one.
	Resume bool
}

// Run is a finished run, as an operator would find it.
type Run struct {
	Dir    string
	Prog   *compile.Program
	Result run.Result
	// Events is journal.jsonl read back from disk.
	Events []journal.Event
	// Live is the summary built from the events as the journal handed them
	// to its sinks; Summary is rebuilt from journal.jsonl. They must agree.
	Live, Summary *summary.Summary
	// Table is Summary.Table().
	Table string
	// Logs holds each node's log, by node name.
	Logs map[string]string
}

// collector is a journal.Sink keeping every event in memory.
type collector struct {
	mu     sync.Mutex
	events []journal.Event
}

func (c *collector) Event(e journal.Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

// Execute runs prog (with the local transport, or opt.Dial) into a run
// directory set up as `zdu run` sets it up, and reads it back.
func Execute(tb testing.TB, prog *compile.Program, opt Options) *Run {
	tb.Helper()
	dir := opt.Dir
	if dir == "" {
		dir = tb.TempDir()
	}
	if opt.Ctx == nil {
		opt.Ctx = context.Background()
	}
	if opt.StopGrace == 0 {
		opt.StopGrace = 5 * time.Second
	}
	live := &collector{}
	rdo := rundir.Options{ID: "test-run", Mask: mask.New(prog.Binding.Secrets), Sinks: []journal.Sink{live}}
	var rd *rundir.Dir
	var prior *run.Replay
	var err error
	if opt.Resume {
		var events []journal.Event
		if rd, events, err = rundir.Open(dir, rdo); err != nil {
			tb.Fatal(err)
		}
		if prior, err = run.ReplayJournal(prog, events); err != nil {
			tb.Fatal(err)
		}
		live.events = append(live.events, events...)
	} else if rd, err = rundir.Create(dir, rdo); err != nil {
		tb.Fatal(err)
	}
	pool := run.NewPool(prog.Binding.Inv, opt.Dial)
	r := &run.Runner{Prog: prog, Journal: rd.Journal, Transports: pool, Logs: rd.Logs, StopGrace: opt.StopGrace, Prior: prior}
	var wg sync.WaitGroup
	if opt.Start != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opt.Start(r)
		}()
	}
	if opt.Before != nil {
		opt.Before(r)
	}
	res := r.Run(opt.Ctx)
	wg.Wait()
	_ = rd.Close()
	_ = pool.Close()

	out := &Run{Dir: dir, Prog: prog, Result: res, Logs: map[string]string{}}
	out.Events = ReadJournal(tb, filepath.Join(dir, rundir.JournalFile))
	live.mu.Lock()
	out.Live = summary.FromEvents(live.events)
	live.mu.Unlock()
	out.Summary = summary.FromEvents(out.Events)
	out.Table = out.Summary.Table()
	for _, n := range prog.Binding.Inv.Nodes {
		b, err := os.ReadFile(filepath.Join(dir, rundir.NodesDir, rundir.LogName(n.Name)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // a node the run never reached
		} else if err != nil {
			tb.Fatal(err)
		}
		out.Logs[n.Name] = string(b)
	}
	if !opt.NoCheck {
		CheckJournal(tb, out)
	}
	return out
}

// ReadJournal reads a journal.jsonl file.
func ReadJournal(tb testing.TB, path string) []journal.Event {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	events, err := journal.Read(f)
	if err != nil {
		tb.Fatalf("reading %s: %v", path, err)
	}
	return events
}
