package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/engine/compile"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/mask"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/engine/sandbox"
	"github.com/zdu-dev/zdu/engine/state"
	"github.com/zdu-dev/zdu/engine/view"
)

// defaultRehearseRate is the probe's rate in a rehearsal: enough traffic
// that a failure window of a few milliseconds is seen.
const defaultRehearseRate = 200

// sandboxStartTimeout bounds building the sandbox.
const sandboxStartTimeout = 2 * time.Minute

type rehearseFlags struct {
	inv   string
	nodes int
	sets  multi
	fails multi
	// startup is the sandbox services' start time after a stop.
	startup time.Duration
	run     runOptions
}

func cmdRehearse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rehearse", flag.ContinueOnError)
	var f rehearseFlags
	fs.StringVar(&f.inv, "i", "", "shape the sandbox like this inventory (its targeted nodes, groups and vars)")
	fs.StringVar(&f.inv, "inventory", "", "same as -i")
	fs.IntVar(&f.nodes, "nodes", 0, fmt.Sprintf("nodes in the plan's rolling groups, without -i (default %d)", sandbox.DefaultNodes))
	registerSets(fs, &f.sets, "param value")
	fs.DurationVar(&f.startup, "startup", sandbox.DefaultStartup, "how long a sandbox node's service takes to start again after a stop")
	fs.Var(&f.fails, "fail", "inject a failure: NODE:STEP or NODE:STEP:EXITCODE, e.g. node-2:apply (a stand-in's name or a built-in key); a new version failing its health check: NODE:health; a slow start: NODE:startup=40s; a node unreachable after N commands: NODE:ssh=after:N; a load balancer instance refusing commands: INSTANCE:refuse (haproxy, haproxy-2, nginx-1...); or a bad new version: NODE:version=errors:5% or NODE:version=latency:300ms (repeatable)")
	fs.StringVar(&f.run.runDir, "run-dir", "", "directory for this run's journal, logs and summary (default zdu-runs/TIME-PLAN)")
	fs.StringVar(&f.run.logFormat, "log-format", "auto", logFormatUsage)
	fs.DurationVar(&f.run.stopGrace, "stop-grace", 30*time.Second, "after SIGINT, how long running steps may go on before they are cancelled")
	fs.StringVar(&f.run.stateDir, "state", state.DefaultDir(), "state directory: the nodes' locks and the record of every run")
	fs.BoolVar(&f.run.report, "report", false, "at the end, write the run's HTML report (zdu report) to RUNDIR/"+rundir.ReportHTML)
	f.run.probe.register(fs, "", defaultRehearseRate)
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) != 1 {
		err = badUsage("expected one PLAN file, got %d arguments", len(pos))
	}
	if err == nil {
		err = oneOf("log-format", f.run.logFormat, view.Formats...)
	}
	if err != nil {
		return report(stdout, stderr, "rehearse", err)
	}
	cfg, plan, code := f.shape(ctx, pos[0], stdout, stderr)
	if code != exitOK {
		return code
	}
	if f.run.probeOpt, err = f.run.probe.resolve(ctx, plan); err != nil {
		return report(stdout, stderr, "rehearse", err)
	}
	return f.rehearse(ctx, pos[0], cfg, stdout, stderr)
}

// shape loads the plan (and the shaping inventory) and turns them and the
// flags into a sandbox configuration. Problems go to stdout, as validate's.
func (f *rehearseFlags) shape(ctx context.Context, planFile string, stdout, stderr io.Writer) (sandbox.Config, *load.Plan, int) {
	reh, rprobs := sandbox.FindRehearsal(planFile)
	if len(rprobs) > 0 {
		for _, p := range rprobs {
			fmt.Fprintln(stdout, p.String())
		}
		return sandbox.Config{}, nil, report(stdout, stderr, "rehearse", badUsage("%d problem(s) in the rehearsal file %s", len(rprobs), sandbox.RehearsalFile(planFile)))
	}
	for _, set := range f.sets {
		name, _, _ := strings.Cut(set, "=")
		if slices.Contains(sandbox.OwnVars(reh), strings.TrimSpace(name)) {
			return sandbox.Config{}, nil, report(stdout, stderr, "rehearse", badUsage(
				"--set %s: the sandbox sets %s itself (its own paths and ports on this machine); drop the flag", set, name))
		}
	}
	in, probs := loadAll(ctx, planFile, f.inv, load.BindOptions{Sets: f.sets})
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintln(stdout, p.String())
		}
		return sandbox.Config{}, nil, report(stdout, stderr, "rehearse", badUsage("%d problem(s) in the plan, inventory or flags", len(probs)))
	}
	cfg, err := sandbox.Shape(in.Plan, sandbox.ShapeOptions{Inventory: in.Inv, Nodes: f.nodes, Rehearsal: reh})
	if err != nil {
		return cfg, nil, report(stdout, stderr, "rehearse", badUsage("%v", err))
	}
	names := make([]string, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		names[i] = n.Name
	}
	instances := sandbox.LBInstanceNames(cfg)
	for _, s := range f.fails {
		fl, err := sandbox.ParseFailure(s, reh.FailureKeys()...)
		if err == nil && fl.Step == sandbox.RefuseFault && !slices.Contains(instances, fl.Node) {
			err = fmt.Errorf("--fail %s: the sandbox has no load balancer instance %q (it has %s)%s", s, fl.Node, strings.Join(instances, ", "), didYouMean(fl.Node, instances))
		} else if err == nil && fl.Step != sandbox.RefuseFault && !slices.Contains(names, fl.Node) {
			err = fmt.Errorf("--fail %s: the sandbox has no node %q (it has %s)%s", s, fl.Node, strings.Join(names, ", "), didYouMean(fl.Node, names))
		}
		if err != nil {
			return cfg, nil, report(stdout, stderr, "rehearse", badUsage("%v", err))
		}
		cfg.Fail = append(cfg.Fail, fl)
	}
	if f.startup < 0 {
		return cfg, nil, report(stdout, stderr, "rehearse", badUsage("--startup %s: must not be negative", f.startup))
	}
	cfg.Startup = f.startup
	if f.startup == 0 {
		cfg.Startup = -1 // at once
	}
	return cfg, in.Plan, exitOK
}

// rehearse starts the sandbox, runs the plan against it with the probe
// sending traffic through its HAProxy, records how each node ended, and
// tears the sandbox down.
func (f *rehearseFlags) rehearse(ctx context.Context, planFile string, cfg sandbox.Config, stdout, stderr io.Writer) int {
	if reaped, err := sandbox.ReapStale(); err != nil {
		fmt.Fprintf(stderr, "zdu rehearse: %v\n", err)
	} else if len(reaped) > 0 {
		fmt.Fprintf(stderr, "zdu rehearse: removed %d sandbox(es) left by killed rehearsals: %s\n", len(reaped), strings.Join(reaped, ", "))
	}
	fmt.Fprintf(stderr, "zdu rehearse: starting a sandbox of %d node(s) (%s) behind %s\n", len(cfg.Nodes), nodeList(cfg), lbWords(cfg))
	sctx, cancel := context.WithTimeout(ctx, sandboxStartTimeout)
	s, err := sandbox.Start(sctx, cfg)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "zdu rehearse: interrupted while starting the sandbox; nothing ran")
			return exitInterrupted
		}
		if errors.Is(err, sandbox.ErrNoHAProxy) {
			fmt.Fprintf(stderr, "zdu rehearse: %v\n", err)
			return exitFatal
		}
		return report(stdout, stderr, "rehearse", fmt.Errorf("starting the sandbox: %w", err))
	}
	defer func() {
		if err := s.Close(); err != nil {
			fmt.Fprintf(stderr, "zdu rehearse: tearing the sandbox down: %v\n", err)
		}
	}()
	if s.RunsAsWhy != "" {
		fmt.Fprintf(stderr, "zdu rehearse: warning: the nodes' commands run as %s: %s\n", s.RunsAs, s.RunsAsWhy)
	} else {
		fmt.Fprintf(stderr, "zdu rehearse: the nodes' commands run as %s\n", s.RunsAs)
	}
	prog, in, err := f.compile(ctx, planFile, s.Inventory, stdout)
	if err != nil {
		return report(stdout, stderr, "rehearse", err)
	}
	if err := checkCoverage(s, prog, planFile, stdout); err != nil {
		return report(stdout, stderr, "rehearse", err)
	}
	opt := f.run
	opt.report = false // written below, once rehearsal.json is there
	if s.URL == "" {
		fmt.Fprintln(stderr, "zdu rehearse: no node is behind the load balancer; running without the availability probe")
	} else {
		opt.probeOpt.URL = s.URL + "/"
	}
	code, dir := execute(ctx, job{prog: prog, src: sourceOf(in, f.sets)}, opt, stdout, stderr)
	ends := s.Observe(context.WithoutCancel(ctx))
	fired := map[sandbox.Failure]bool{}
	for _, fl := range cfg.Fail {
		if fired[fl] = s.Fired(fl); !fired[fl] {
			switch fl.Step {
			case "version":
				fmt.Fprintf(stderr, "zdu rehearse: warning: --fail %s:version=%s never fired: %s never ran the new version\n", fl.Node, fl.Fault, fl.Node)
			case sandbox.HealthFault:
				fmt.Fprintf(stderr, "zdu rehearse: warning: --fail %s:health never fired: %s never ran the new version\n", fl.Node, fl.Node)
			case "startup":
				fmt.Fprintf(stderr, "zdu rehearse: warning: --fail %s:%s never fired: %s's service was never started again after a stop\n", fl.Node, fl.Fault, fl.Node)
			case sandbox.RefuseFault:
				fmt.Fprintf(stderr, "zdu rehearse: warning: --fail %s:refuse never fired: the plan sent load balancer instance %s no command\n", fl.Node, fl.Node)
			case "ssh":
				fmt.Fprintf(stderr, "zdu rehearse: warning: --fail %s:%s never fired: %s was sent fewer commands\n", fl.Node, fl.Fault, fl.Node)
			default:
				fmt.Fprintf(stderr, "zdu rehearse: warning: --fail %s:%s never fired: no step on %s called that stand-in\n", fl.Node, fl.Step, fl.Node)
			}
		}
	}
	if dir != "" {
		if err := writeRehearsal(dir, s, cfg, fired, ends); err != nil {
			fmt.Fprintf(stderr, "zdu rehearse: %v\n", err)
		}
		if f.run.report {
			writeReport(dir, stdout, stderr)
		}
	}
	fmt.Fprintf(stdout, "sandbox nodes now run: %s\n", versionList(s, ends))
	return code
}

// checkCoverage refuses a plan whose dry run holds a command that nothing
// in the rehearsal covers: it would run for real. Nothing has run yet.
func checkCoverage(s *sandbox.Sandbox, prog *compile.Program, planFile string, stdout io.Writer) error {
	// The commands as they will be sent: a masked secret would no longer
	// match its stand-in (nor unwrap). What is printed is masked.
	masker := mask.New(prog.Binding.Secrets)
	dry, err := run.Explain(prog, mask.New(nil))
	if dry == nil {
		return badUsage("%v", err)
	}
	if err != nil {
		// What could not be explained is checked when it runs: the node
		// refuses a command nothing covers.
		fmt.Fprintf(stdout, "warning: part of the dry run could not be rendered, its commands are checked as they run: %s\n", masker.Mask(err.Error()))
	}
	un := s.Uncovered(dry)
	if len(un) == 0 {
		return nil
	}
	for _, u := range un {
		fmt.Fprintln(stdout, masker.Mask(strings.ReplaceAll(u.String(), s.Dir, "$SANDBOX")))
	}
	return badUsage("%d command(s) of the plan have no stand-in, so the rehearsal stops before its first step (nothing ran): add a stand-in for each to %s, or allow it there if it is harmless (see docs/rehearsing.md)",
		len(un), sandbox.RehearsalFile(planFile))
}

// compile binds the plan to the sandbox's generated inventory.
func (f *rehearseFlags) compile(ctx context.Context, planFile, inv string, stdout io.Writer) (*compile.Program, loaded, error) {
	in, probs := loadAll(ctx, planFile, inv, load.BindOptions{Sets: f.sets, RequireParams: true})
	if len(probs) > 0 {
		for _, p := range probs {
			// The generated inventory is gone after the rehearsal: name it.
			fmt.Fprintln(stdout, strings.ReplaceAll(p.String(), inv, "the sandbox's inventory"))
		}
		return nil, in, badUsage("%d problem(s) binding the plan to the sandbox: a required param it does not set needs --set; a var the plan reads needs -i INVENTORY (the sandbox copies its nodes' vars), a default or a test", len(probs))
	}
	prog, err := compile.Compile(in.Binding)
	if err != nil {
		return nil, in, badUsage("%v", err)
	}
	return prog, in, nil
}

// rehearsalNode is one node of rehearsal.json.
type rehearsalNode struct {
	Name     string   `json:"name"`
	Groups   []string `json:"groups"`
	Balanced bool     `json:"balanced"`
	// Version and State are what the node's service answered at the end
	// (State running, unhealthy or stopped; Version "" when stopped).
	Version string `json:"version"`
	State   string `json:"state"`
	// Served counts the requests the node's service answered through the
	// load balancer (the probe's), by the version it answered with: the
	// traffic moving across a rolling upgrade.
	Served map[string]int64 `json:"served,omitempty"`
}

// injectedFailure is one --fail of rehearsal.json, and whether it fired.
type injectedFailure struct {
	Node     string `json:"node"`
	Step     string `json:"step"`
	ExitCode int    `json:"exit_code,omitempty"`
	// Fault is a bad version's fault (errors:5%, latency:300ms).
	Fault string `json:"fault,omitempty"`
	Fired bool   `json:"fired"`
}

// writeRehearsal records the sandbox's shape and how each node ended in
// DIR/rehearsal.json, with a copy of the generated inventory.
func writeRehearsal(dir string, s *sandbox.Sandbox, cfg sandbox.Config, fired map[sandbox.Failure]bool, ends map[string]sandbox.Observation) error {
	out := struct {
		Nodes    []rehearsalNode   `json:"nodes"`
		Backend  string            `json:"backend"`
		Failures []injectedFailure `json:"injected_failures,omitempty"`
	}{Backend: cfg.Backend}
	for _, fl := range cfg.Fail {
		inj := injectedFailure{Node: fl.Node, Step: fl.Step, ExitCode: fl.ExitCode, Fault: fl.Fault, Fired: fired[fl]}
		if fl.Fault != "" {
			inj.ExitCode = 0
		}
		out.Failures = append(out.Failures, inj)
	}
	for _, n := range s.Nodes {
		e := ends[n.Spec.Name]
		out.Nodes = append(out.Nodes, rehearsalNode{Name: n.Spec.Name, Groups: n.Spec.Groups,
			Balanced: !n.Spec.Unbalanced, Version: e.Version, State: e.State, Served: n.Service.Backend.Balanced()})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding rehearsal.json: %w", err)
	}
	if err := rundir.WriteFile(filepath.Join(dir, "rehearsal.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("writing rehearsal.json: %w", err)
	}
	inv, err := os.ReadFile(s.Inventory)
	if err != nil {
		return fmt.Errorf("copying the sandbox inventory: %w", err)
	}
	return rundir.WriteFile(filepath.Join(dir, "sandbox-inventory.yaml"), inv)
}

// lbWords names the sandbox's load balancer: "HAProxy", "2 HAProxy
// instances", "nginx".
func lbWords(cfg sandbox.Config) string {
	name := "HAProxy"
	if cfg.LBDriver == sandbox.DriverNginx {
		name = "nginx"
	}
	if cfg.LBInstances > 1 {
		return fmt.Sprintf("%d %s instances", cfg.LBInstances, name)
	}
	return name
}

func nodeList(cfg sandbox.Config) string {
	parts := make([]string, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		parts[i] = n.Name
		if n.Unbalanced {
			parts[i] += " (not balanced)"
		}
	}
	return strings.Join(parts, ", ")
}

// versionList says what each node's service answered at the end: its
// version, and its state unless it runs and is healthy.
func versionList(s *sandbox.Sandbox, ends map[string]sandbox.Observation) string {
	parts := make([]string, 0, len(s.Nodes))
	for _, n := range s.Nodes {
		e := ends[n.Spec.Name]
		switch {
		case e.State == sandbox.StateRunning:
			parts = append(parts, n.Spec.Name+" "+e.Version)
		case e.Version != "":
			parts = append(parts, n.Spec.Name+" "+e.Version+" ("+e.State+")")
		default:
			parts = append(parts, n.Spec.Name+" "+e.State)
		}
	}
	return strings.Join(parts, ", ")
}
