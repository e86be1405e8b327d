package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/engine/safefile"
	"github.com/zdu-dev/zdu/engine/state"
	"github.com/zdu-dev/zdu/engine/state/etcdstate"
	"github.com/zdu-dev/zdu/engine/view"
)

func cmdResume(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	var opt runOptions
	var sets multi
	var acceptChanges, rerun bool
	registerSets(fs, &sets, "a secret param's value again (secrets are not recorded):")
	fs.BoolVar(&acceptChanges, "accept-changes", false, "go on with the plan and inventory as they are now, although they changed since the run started")
	fs.BoolVar(&rerun, "rerun-in-flight", false, "run again the steps that were running when the run stopped, even those not idempotent")
	fs.StringVar(&opt.logFormat, "log-format", "auto", logFormatUsage)
	fs.DurationVar(&opt.stopGrace, "stop-grace", 30*time.Second, "after SIGINT, how long running steps may go on before they are cancelled")
	fs.StringVar(&opt.stateDir, "state", state.DefaultDir(), stateUsage)
	fs.StringVar(&opt.runDir, "run-dir", "", "for a RUNID recorded in etcd: the directory on this host the run goes on in (default zdu-runs/RUNID; its record is copied there)")
	opt.probe.register(fs, "probe", defaultProbeRate)
	opt.conns.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one RUNDIR or RUNID, got %d arguments", len(pos))
	}
	if err == nil {
		err = oneOf("log-format", opt.logFormat, view.Formats...)
	}
	if err == nil {
		err = opt.conns.check()
	}
	if err != nil {
		return report(stdout, stderr, "resume", err)
	}
	dir, err := findResumable(pos[0], opt.stateDir, opt.runDir)
	if err != nil {
		return report(stdout, stderr, "resume", badUsage("%v", err))
	}
	prog, err := recompile(ctx, dir, sets, acceptChanges, stdout, stderr)
	if err != nil {
		return report(stdout, stderr, "resume", err)
	}
	opt.stateDir = inventoryState(fs, opt.stateDir, prog.Binding.Inv.State)
	events, err := readEvents(dir)
	if err != nil {
		return report(stdout, stderr, "resume", err)
	}
	prior, err := run.ReplayJournal(prog, events)
	if prior != nil && prior.Ended != nil && prior.Ended.State == journal.Passed {
		fmt.Fprintf(stdout, "zdu resume: %v\n", err)
		return exitOK
	}
	if err != nil {
		return report(stdout, stderr, "resume", err)
	}
	if err := decideInFlight(prior, rerun, os.Stdin, stderr); err != nil {
		return report(stdout, stderr, "resume", err)
	}
	if opt.probeOpt, err = opt.probe.resolve(ctx, prog.Binding.Plan); err != nil {
		return report(stdout, stderr, "resume", err)
	}
	describeResume(stderr, prior)
	code, _ := execute(ctx, job{prog: prog, resume: &resumption{id: events[0].Run, dir: dir, prior: prior, events: events}}, opt, stdout, stderr)
	return code
}

// findRun takes a run directory, or a run id from the state directory.
func findRun(arg, stateDir string) (string, error) {
	if _, err := os.Stat(filepath.Join(arg, rundir.JournalFile)); err == nil {
		return arg, nil
	}
	st, err := openBackend(stateDir)
	if err != nil {
		return "", err
	}
	defer st.Close()
	rec, err := st.Run(arg)
	if err != nil {
		return "", fmt.Errorf("%s is neither a run directory nor a run in %s: %w", arg, stateDir, err)
	}
	if _, err := os.Stat(filepath.Join(rec.RunDir, rundir.JournalFile)); err != nil && etcdstate.IsURL(stateDir) {
		return "", fmt.Errorf("run %s ran on %s in %s, which is not on this host: zdu status, history, report and resume read it from etcd", arg, rec.Host, rec.RunDir)
	}
	return rec.RunDir, nil
}

// findResumable is findRun, but a RUNID recorded in etcd is resumed from
// etcd's record, copied into runDir (default zdu-runs/RUNID) on this host:
// the host that ran it may be gone. A RUNDIR is resumed from its own
// journal (this host's, authoritative), etcd's copy brought up to date.
func findResumable(arg, stateSpec, runDir string) (string, error) {
	if _, err := os.Stat(filepath.Join(arg, rundir.JournalFile)); err == nil || !etcdstate.IsURL(stateSpec) {
		if runDir != "" {
			return "", fmt.Errorf("--run-dir is for a RUNID recorded in etcd")
		}
		return findRun(arg, stateSpec)
	}
	b, err := openBackend(stateSpec)
	if err != nil {
		return "", fmt.Errorf("--state: %w", err)
	}
	defer b.Close()
	if _, err := b.Run(arg); err != nil {
		return "", fmt.Errorf("%s is neither a run directory nor a run in %s: %w", arg, b, err)
	}
	if runDir == "" {
		runDir = filepath.Join(rundir.DefaultParent, arg)
	}
	rec, _ := recorder(b)
	if err := copyFromBackend(rec, arg, runDir); err != nil {
		return "", err
	}
	return runDir, nil
}

func readEvents(dir string) ([]journal.Event, error) {
	f, err := os.Open(filepath.Join(dir, rundir.JournalFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	events, err := journal.Read(f)
	if err == nil && len(events) == 0 {
		err = fmt.Errorf("%s: the journal is empty", dir)
	}
	return events, err
}

// recompile loads the plan and inventory a run was started with (the
// copies in its directory), with its params (the secret ones given again),
// and compiles them. Where the originals changed since, it refuses unless
// told to go on with them as they are now. The templates and imported
// plans are the run's copies too (a note names those changed since), or,
// with acceptChanges, the files as they are now.
func recompile(ctx context.Context, dir string, secrets []string, acceptChanges bool, stdout, stderr io.Writer) (*compile.Program, error) {
	rec, _, _, err := rundir.ReadRecord(dir)
	if err != nil {
		return nil, err
	}
	planFile, invFile := filepath.Join(dir, rundir.PlanCopy), filepath.Join(dir, rundir.InventoryCopy)
	var changed []string
	for _, f := range []struct {
		rec  rundir.File
		copy *string
	}{{rec.Plan, &planFile}, {rec.Inventory, &invFile}} {
		now, err := readInput(f.rec.Path)
		if err != nil || rundir.FileDigest(now) == f.rec.Digest {
			continue // gone or unchanged: the copy is the run's
		}
		changed = append(changed, fmt.Sprintf("%s (%s when the run started, %s now)", f.rec.Path, f.rec.Digest, rundir.FileDigest(now)))
		*f.copy = f.rec.Path
	}
	if len(changed) > 0 && !acceptChanges {
		return nil, badUsage("changed since the run started: %s; resume with --accept-changes to go on with them as they are now (steps already done are not run again)",
			strings.Join(changed, "; "))
	}
	sets, err := resumeSets(rec, secrets)
	if err != nil {
		return nil, err
	}
	popts, err := pinnedFiles(dir, rec, acceptChanges, stderr)
	if err != nil {
		return nil, err
	}
	in, probs := loadAllWith(ctx, planFile, invFile, load.BindOptions{Sets: sets, RequireParams: true}, popts)
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintln(stdout, p.String())
		}
		return nil, badUsage("%d problem(s) in the run's plan, inventory or params", len(probs))
	}
	prog, err := compile.Compile(in.Binding)
	if err != nil {
		return nil, badUsage("%v", err)
	}
	return prog, nil
}

// pinnedFiles says where a resumed run finds its plan's templates and
// imports: beside the plan it started from, then in the library it looked
// in; read from the run's copies unless acceptChanges (a run from before
// zdu kept copies reads the files as they are now).
func pinnedFiles(dir string, rec rundir.Record, acceptChanges bool, stderr io.Writer) (load.ParseOptions, error) {
	lib := rec.Library
	if lib == nil {
		lib = library()
	}
	popts := load.ParseOptions{Library: append([]string{filepath.Dir(rec.Plan.Path)}, lib...)}
	if len(rec.Loaded) == 0 || acceptChanges {
		return popts, nil
	}
	files, err := rundir.ReadLoaded(dir, rec)
	if err != nil {
		return popts, err
	}
	popts.Files = files
	var changed []string
	for _, l := range rec.Loaded {
		if now, err := safefile.Read(l.Path, load.MaxTemplateSize); err != nil || rundir.FileDigest(now) != l.Digest {
			changed = append(changed, l.Path)
		}
	}
	if len(changed) > 0 {
		fmt.Fprintf(stderr, "zdu resume: note: changed or gone since the run started: %s; the run goes on with them as they were (its copies in %s); --accept-changes goes on with them as they are now\n",
			strings.Join(changed, ", "), filepath.Join(dir, rundir.LoadedDir))
	}
	return popts, nil
}

// resumeSets are the run's --set flags, with the secret ones given again
// and checked against the run's digests.
func resumeSets(rec rundir.Record, given []string) ([]string, error) {
	sets := append([]string(nil), rec.Sets...)
	got := map[string]string{}
	for _, s := range given {
		name, value, ok := strings.Cut(s, "=")
		if _, secret := rec.Secrets[name]; !ok || !secret {
			return nil, badUsage("--set %s: zdu resume takes again only the run's secret params (%s); the others are as the run recorded them",
				name, strings.Join(secretNames(rec), ", "))
		}
		got[name] = value
	}
	for _, name := range secretNames(rec) {
		value, ok := got[name]
		if env := rec.Secrets[name].Env; !ok && env != "" {
			if value, ok = os.LookupEnv(env); !ok {
				return nil, badUsage("the secret param %s is not recorded: set $%s again, or give it with --set %s=VALUE", name, env, name)
			}
		}
		switch {
		case !ok:
			return nil, badUsage("the secret param %s is not recorded: give it again with --set %s=VALUE", name, name)
		case !rec.Secrets[name].Matches(value):
			return nil, badUsage("--set %s: not the value the run started with", name)
		}
		sets = append(sets, name+"="+value)
	}
	return sets, nil
}

func secretNames(rec rundir.Record) []string {
	var out []string
	for name := range rec.Secrets {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// decideInFlight: a step that was running when the run stopped is run again
// only when it is idempotent, or when the operator says so (--rerun-in-flight,
// or yes at the prompt when zdu asks on a terminal).
func decideInFlight(prior *run.Replay, rerun bool, stdin *os.File, stderr io.Writer) error {
	var ask []run.InFlight
	for _, f := range prior.InFlight {
		if !f.Vertex.Step.Idempotent && !rerun {
			ask = append(ask, f)
		}
	}
	if len(ask) == 0 {
		return nil
	}
	var lines []string
	for _, f := range ask {
		lines = append(lines, fmt.Sprintf("  %s: step %s (%s) on node %s, started %s",
			f.Vertex.ID(), f.Vertex.Step.ID, f.Vertex.Step.Type, f.Vertex.Node.Name, f.Since.Format(time.RFC3339)))
	}
	what := "these steps were running when the run stopped, and are not idempotent: check what they did on their nodes\n" + strings.Join(lines, "\n")
	if _, err := unix.IoctlGetTermios(int(stdin.Fd()), unix.TCGETS); err != nil {
		// Not a terminal: nobody to ask.
		return badUsage("%s\nthen resume with --rerun-in-flight to run them again", what)
	}
	fmt.Fprintf(stderr, "zdu resume: %s\nRun them again? [y/N] ", what)
	if f, ok := stderr.(interface{ Flush() error }); ok {
		_ = f.Flush() // the prompt has no line end to flush it
	}
	answer, _ := bufio.NewReader(stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return errors.New("not resumed: the steps in flight were not confirmed")
	}
	return nil
}

// describeResume says what the run left and what happens to it.
func describeResume(w io.Writer, prior *run.Replay) {
	fmt.Fprintf(w, "zdu resume: %d step(s) done before are not run again", len(prior.Done))
	if n := len(prior.InFlight); n > 0 {
		fmt.Fprintf(w, "; %d step(s) in flight are run again", n)
	}
	fmt.Fprintln(w)
	for _, f := range prior.InFlight {
		if f.Waiting != "" {
			fmt.Fprintf(w, "zdu resume: %s was waiting when the run stopped: %s\n", f.Vertex.ID(), f.Waiting)
		}
	}
	for node, undos := range prior.Undos {
		for _, u := range undos {
			fmt.Fprintf(w, "zdu resume: %s: left %s by the run (since %s); checked before its next step\n",
				node, strings.TrimPrefix(u.Key, "lb/"), u.Since.Format(time.RFC3339))
		}
	}
}
