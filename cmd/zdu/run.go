package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/mask"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/engine/state"
	"github.com/zdu-dev/zdu/engine/view"
)

type runOptions struct {
	runDir    string
	logFormat string
	stopGrace time.Duration
	stateDir  string
	// report writes report.html into the run directory at the end.
	report bool
	probe  probeFlags
	// conns bounds the run's SSH connections (--max-dials, --max-connections).
	conns connFlags
	// probeOpt is the probe to run (URL empty: none), set by probeFlags.resolve.
	probeOpt run.ProbeOptions
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newPlanFlags("run")
	var opt runOptions
	f.fs.StringVar(&opt.runDir, "run-dir", "", "directory for this run's journal, logs and summary (default zdu-runs/TIME-PLAN)")
	f.fs.StringVar(&opt.logFormat, "log-format", "auto", logFormatUsage)
	f.fs.DurationVar(&opt.stopGrace, "stop-grace", 30*time.Second, "after SIGINT, how long running steps may go on before they are cancelled")
	f.fs.StringVar(&opt.stateDir, "state", state.DefaultDir(), stateUsage)
	f.fs.BoolVar(&opt.report, "report", false, "at the end, write the run's HTML report (zdu report) to RUNDIR/"+rundir.ReportHTML)
	opt.probe.register(f.fs, "probe", defaultProbeRate)
	opt.conns.register(f.fs)
	prog, in, err := f.compileFrom(ctx, args, stdout)
	if err == nil {
		err = opt.conns.check()
	}
	if err == nil {
		err = oneOf("log-format", opt.logFormat, view.Formats...)
	}
	if err == nil {
		opt.stateDir = inventoryState(f.fs, opt.stateDir, prog.Binding.Inv.State)
	}
	if err == nil {
		opt.probeOpt, err = opt.probe.resolve(ctx, prog.Binding.Plan)
	}
	if err != nil {
		return report(stdout, stderr, "run", err)
	}
	if opt.probeOpt.URL == "" && !prog.Binding.Plan.ErrorBudget.IsZero() {
		fmt.Fprintln(stderr, "zdu run: note: the plan's errorBudget is not checked without --probe URL")
	}
	code, _ := execute(ctx, job{prog: prog, src: sourceOf(in, f.sets)}, opt, stdout, stderr)
	return code
}

// job is what execute runs: a new run of prog, or, with resume set, one
// that goes on.
type job struct {
	prog   *compile.Program
	src    source
	resume *resumption
}

// source is what a new run is started with, for its record: the plan and
// inventory, what the plan loaded (templates, imports) and from which
// library.
type source struct {
	planFile, invFile string
	plan, inv         []byte
	sets              []string
	loaded            []rundir.LoadedFile
	library           []string
}

func sourceOf(in loaded, sets []string) source {
	src := source{planFile: in.PlanFile, invFile: in.InvFile, plan: in.PlanData, inv: in.InvData, sets: sets, library: in.Library}
	for _, f := range in.Files {
		src.loaded = append(src.loaded, rundir.LoadedFile{Path: f.Path, Data: f.Data})
	}
	return src
}

// resumption is a run going on: its id and directory, and what its journal
// says it left.
type resumption struct {
	id, dir string
	prior   *run.Replay
	events  []journal.Event // the journal as the run left it
}

// execute runs a job with a run directory, logs and signals. It returns the
// exit code and the run directory ("" when none was made).
func execute(ctx context.Context, j job, opt runOptions, stdout, stderr io.Writer) (int, string) {
	prog := j.prog
	// A closed stdout or stderr stops the run as a signal does; the
	// journal and the logs go on being written.
	broken := make(chan string, 2)
	stdout = &outputGuard{w: stdout, name: "stdout", broken: broken}
	// The log sink, the signal handler and the runner all write to stderr.
	stderr = &lockedWriter{w: &outputGuard{w: stderr, name: "stderr", broken: broken}}
	// Signals are caught from the start: one that comes before the run
	// stays in sigs and stops the run as soon as it starts.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, interruptSignals...)
	defer signal.Stop(sigs)
	id, dir := rundir.NewID(prog.Binding.Plan.Name), opt.runDir
	if j.resume != nil {
		id, dir = j.resume.id, j.resume.dir
	} else if dir == "" {
		dir = filepath.Join(rundir.DefaultParent, id)
	}
	// Lock the nodes first: a run already on them refuses this one at once.
	backend, held, code := lockNodes(prog, opt.stateDir, id, dir, j.resume != nil, stdout, stderr)
	if held == nil {
		return code, ""
	}
	defer backend.Close()
	res := run.Result{Status: "NOT_STARTED", ExitCode: exitFatal}
	defer func() {
		if err := held.Release(res.Status, res.ExitCode); err != nil {
			fmt.Fprintf(stderr, "zdu run: releasing the nodes' locks: %v\n", err)
		}
	}()
	// A shared state (etcd) also gets the run's journal, event by event,
	// after the local journal; trouble with it stops the run gracefully.
	watch := newStateWatch()
	var shared state.JournalSink
	if rec, ok := recorder(backend); ok {
		var prior []journal.Event
		if j.resume != nil {
			prior = j.resume.events
		}
		var err error
		if shared, err = rec.Journal(id, prior, watch.problem); err != nil {
			return report(stdout, stderr, "run", fmt.Errorf("nothing was changed: %w", err)), ""
		}
		defer closeSink(shared, 10*time.Second, stderr)
	}
	// One masker for every output: the console's (from dispatch), the run
	// directory's, and the values that become secret as the run goes.
	masker := mask.FromContext(ctx)
	if masker == nil {
		masker = mask.New(nil)
	}
	masker.Add(prog.Binding.Secrets...)
	masker.Add(probeSecrets(opt.probeOpt.URL)...)
	out := newRunOutput(opt.logFormat, masker, stdout, stderr)
	rdo := rundir.Options{ID: id, Mask: masker, Sinks: []journal.Sink{out.sink}}
	if shared != nil {
		rdo.Sinks = append(rdo.Sinks, shared)
	}
	if faultSinks != nil {
		rdo.Sinks = append(rdo.Sinks, faultSinks()...)
	}
	// The run directory comes first, so that a run refused at preflight
	// still leaves the record of why.
	var rd *rundir.Dir
	var err error
	if j.resume != nil {
		var earlier []journal.Event
		rd, earlier, err = rundir.Open(dir, rdo)
		out.prime(earlier)
		if err == nil {
			err = rd.MarkResumed(time.Now())
		}
	} else {
		rd, err = rundir.Create(dir, rdo)
		if err == nil {
			err = rd.WriteRecord(j.src.record(id, prog, opt.stateDir), j.src.plan, j.src.inv, j.src.loaded...)
		}
		if rec, ok := recorder(backend); ok && err == nil {
			if err = storeFiles(rec, id, dir); err != nil {
				rd.Close()
				return report(stdout, stderr, "run", fmt.Errorf("nothing was changed: %w", err)), dir
			}
		}
	}
	if err != nil {
		if rd != nil {
			rd.Close()
		}
		return report(stdout, stderr, "run", badUsage("--run-dir %s: %v", dir, err)), ""
	}
	defer rd.Close()
	// Reach every node first: an unreachable one stops the run before
	// anything is changed.
	var refused atomic.Int64
	pool := run.NewPool(prog.Binding.Inv, run.SSHDialerWith(prog.Binding.Inv, func(error) { refused.Add(1) }))
	limits := opt.conns.limits(prog)
	pool.Limit(limits)
	defer pool.Close()
	defer reportConnections(stderr, pool, &refused)
	err = preflight(ctx, prog, pool, limits.MaxDials)
	var obs *run.ProbeObserver
	if err == nil && opt.probeOpt.URL != "" {
		obs, err = run.StartProbe(ctx, prog, pool, opt.probeOpt)
		if obs != nil {
			defer obs.Stop()
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "zdu run: interrupted before the run started; nothing was changed")
		res = run.Result{Status: "INTERRUPTED", ExitCode: exitInterrupted}
		notStarted(rd, prog, res, errors.New("interrupted before the run started; nothing was changed"), stderr)
		return exitInterrupted, dir
	}
	if err != nil {
		fmt.Fprintf(stderr, "zdu run: preflight failed, nothing was changed:\n%v\n", err)
		res = run.Result{Status: "PREFLIGHT_FAILED", ExitCode: exitFatal}
		notStarted(rd, prog, res, fmt.Errorf("preflight failed, nothing was changed: %w", err), stderr)
		fmt.Fprintf(stdout, "run directory: %s\n", dir)
		return exitFatal, dir
	}

	// From here on, messages go above the live view (when it is on).
	msgs := out.start(stderr)
	r := &run.Runner{Prog: prog, Journal: rd.Journal, Transports: pool, Logs: rd.Logs, StopGrace: opt.stopGrace}
	if j.resume != nil {
		r.Prior = j.resume.prior
	}
	r.Secrets = masker
	r.JournalFailed = func(err error) {
		// First, before anything the stop prints: the journal is the run's
		// record, and the reason nothing more will start.
		fmt.Fprintf(msgs, "zdu: journal write failed: %v: no further step will start; nodes out of service are being put back\n", err)
	}
	stopSeries := func() {}
	if obs != nil {
		r.Observers = append(r.Observers, obs)
		stopSeries = recordSeries(obs, dir, msgs)
		defer stopSeries()
	}
	r.Control = rundir.NewControl(dir)
	if plan := prog.Binding.Plan; plan.Gates.Active() {
		if obs != nil {
			r.Gates = obs.Gatekeeper(plan.Gates)
		} else {
			fmt.Fprintln(msgs, "zdu run: warning: the plan's gates are not watched without an availability probe (--probe URL)")
		}
	}
	hard, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go watchPipes(done, broken, map[string]io.Writer{"stdout": stdout, "stderr": stderr})
	go interrupts(r, sigs, broken, done, cancel, opt.stopGrace, msgs)
	watch.watchLease(held, done)
	go watch.stopOn(r.StopFor, msgs, done)
	res = r.Run(hard)
	out.stop()
	stopSeries()
	if err := rd.Finish(res.Status, res.ExitCode, time.Now()); err != nil {
		fmt.Fprintf(stderr, "zdu run: recording the run's end in %s: %v\n", rundir.RecordFile, err)
	}
	if err := rd.Logs.Err(); err != nil {
		fmt.Fprintf(stderr, "zdu run: a node log is incomplete: %v (the journal has every event)\n", err)
	}
	if err := rd.WriteSummary(stdout); err != nil {
		fmt.Fprintf(stderr, "zdu run: writing the summary: %v\n", err)
		if res.ExitCode == 0 {
			return exitFatal, dir
		}
	}
	fmt.Fprintf(stdout, "run directory: %s\n", dir)
	if opt.report {
		writeReport(dir, stdout, stderr)
	}
	return res.ExitCode, dir
}

// lockNodes locks the nodes the program targets in the state directory for
// run id (a resumed run takes its own locks over). When another run holds
// any, it says which (exit code Held) and returns nil.
func lockNodes(prog *compile.Program, stateDir, id, dir string, resumed bool, stdout, stderr io.Writer) (state.Backend, state.Hold, int) {
	st, err := openBackend(stateDir)
	if err != nil {
		return nil, nil, report(stdout, stderr, "run", badUsage("--state: %v", err))
	}
	nodes := targetNodes(prog)
	rec := state.NewRun(id, prog.Binding.Plan.Name, dir, nodes)
	if resumed {
		if prev, err := st.Run(id); err == nil {
			prev.Nodes = rec.Nodes
			rec = prev
		}
		st.Resumed(&rec)
	}
	held, err := st.Lock(rec, nodes)
	var he *state.HeldError
	if errors.As(err, &he) {
		st.Close()
		fmt.Fprintf(stderr, "zdu run: refused, nothing was changed: %v\n", err)
		return nil, nil, exitcode.Held
	}
	if err != nil {
		st.Close()
		return nil, nil, report(stdout, stderr, "run", fmt.Errorf("locking the nodes in %s: %w", st, err))
	}
	return st, held, exitOK
}

// targetNodes are the nodes some phase targets, as the state directory
// knows them: where each really is, so two inventories naming one machine
// differently still collide.
func targetNodes(prog *compile.Program) []state.Node {
	seen := map[string]bool{}
	var out []state.Node
	for _, ph := range prog.Phases {
		for _, n := range ph.Nodes {
			if seen[n.Name] {
				continue
			}
			seen[n.Name] = true
			endpoint := "local:" + n.Name
			if n.Transport != "local" {
				endpoint = net.JoinHostPort(n.Host, strconv.Itoa(n.Port))
			}
			out = append(out, state.Node{Name: n.Name, Endpoint: endpoint})
		}
	}
	return out
}
