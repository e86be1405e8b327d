package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/safefile"
	"github.com/zdu-dev/zdu/engine/sandbox"
)

// defaultSandboxDir is where zdu sandbox keeps a persistent sandbox.
const defaultSandboxDir = "zdu-sandbox"

// sandboxProbeFile, in the sandbox's directory, holds the probe's figures
// once the sandbox's server has stopped.
const sandboxProbeFile = "probe.json"

// sandboxLogFile, in the sandbox's directory, is its server's output.
const sandboxLogFile = "sandbox.log"

// sandboxActions are zdu sandbox's actions and the flags each takes
// (serve is up's detached server: not for operators).
var sandboxActions = map[string][]string{
	"up":      {"dir", "i", "inventory", "nodes", "set", "startup", "fail", "rate"},
	"serve":   {"dir", "i", "inventory", "nodes", "set", "startup", "fail", "rate"},
	"status":  {"dir", "format"},
	"down":    {"dir", "format"},
	"hold":    {"dir"},
	"release": {"dir"},
}

type sandboxFlags struct {
	rehearseFlags
	dir    string
	rate   float64
	format string
	fs     *flag.FlagSet
}

func cmdSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	f := sandboxFlags{fs: fs}
	fs.StringVar(&f.dir, "dir", defaultSandboxDir, "the sandbox's directory")
	fs.StringVar(&f.inv, "i", "", "up: shape the sandbox like this inventory (its targeted nodes, groups and vars)")
	fs.StringVar(&f.inv, "inventory", "", "same as -i")
	fs.IntVar(&f.nodes, "nodes", 0, fmt.Sprintf("up: nodes in the plan's rolling groups, without -i (default %d)", sandbox.DefaultNodes))
	fs.Var(&f.sets, "set", "up: param value name=value (repeatable), for shaping the sandbox")
	fs.DurationVar(&f.startup, "startup", sandbox.DefaultStartup, "up: how long a sandbox node's service takes to start again after a stop")
	fs.Var(&f.fails, "fail", "up: inject a failure: NODE:STEP or NODE:STEP:EXITCODE, e.g. node-2:apply, NODE:health, NODE:version=errors:5% (repeatable)")
	fs.Float64Var(&f.rate, "rate", defaultRehearseRate, "up: availability probe through HAProxy from up to down, requests per second (0: none)")
	fs.StringVar(&f.format, "format", "text", "status, down: output format: text or json")
	pos, err := parseInterleaved(fs, args)
	if err == nil {
		err = f.check(pos)
	}
	if err != nil {
		return report(stdout, stderr, "sandbox", err)
	}
	if abs, err := filepath.Abs(f.dir); err == nil {
		f.dir = abs
	}
	switch pos[0] {
	case "up":
		return f.up(ctx, pos[1], stdout, stderr)
	case "serve":
		return f.serve(ctx, pos[1], stderr)
	case "status":
		return f.status(ctx, stdout, stderr)
	case "down":
		return f.down(ctx, stdout, stderr)
	default: // hold, release
		return f.hold(pos[0], pos[1:], stdout, stderr)
	}
}

// check: one action, its arguments, and only its flags.
func (f *sandboxFlags) check(pos []string) error {
	if len(pos) == 0 {
		return badUsage("expected an action: up PLAN, status, hold NODE:STEP, release NODE:STEP or down")
	}
	allowed, ok := sandboxActions[pos[0]]
	if !ok {
		return badUsage("unknown action %q%s: want up, status, hold, release or down", pos[0],
			didYouMean(pos[0], []string{"up", "status", "hold", "release", "down"}))
	}
	var wrong []string
	f.fs.Visit(func(fl *flag.Flag) {
		if !slices.Contains(allowed, fl.Name) {
			wrong = append(wrong, "--"+fl.Name)
		}
	})
	switch {
	case len(wrong) > 0:
		return badUsage("%s: not a flag of zdu sandbox %s", strings.Join(wrong, ", "), pos[0])
	case (pos[0] == "up" || pos[0] == "serve") && len(pos) != 2:
		return badUsage("sandbox up: expected one PLAN file, got %d arguments", len(pos)-1)
	case (pos[0] == "hold" || pos[0] == "release") && len(pos) < 2:
		return badUsage("sandbox %s: expected NODE:STEP ...", pos[0])
	case (pos[0] == "status" || pos[0] == "down") && len(pos) != 1:
		return badUsage("sandbox %s takes no arguments (the sandbox is --dir's), got %q", pos[0], pos[1:])
	case math.IsNaN(f.rate) || f.rate < 0 || f.rate > probe.MaxRate:
		return badUsage("--rate %v: want 0 (no probe) to %v requests per second", f.rate, probe.MaxRate)
	}
	return oneOf("format", f.format, "text", "json")
}

// up checks the plan and the flags, then starts the sandbox's server as a
// process of its own (zdu sandbox serve, in a session of its own so that
// the terminal's end does not end it) and waits until it is up.
func (f *sandboxFlags) up(ctx context.Context, plan string, stdout, stderr io.Writer) int {
	if _, _, code := f.shape(ctx, plan, stdout, stderr); code != exitOK {
		return code
	}
	if err := f.claimDir(stderr); err != nil {
		return report(stdout, stderr, "sandbox", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return report(stdout, stderr, "sandbox", err)
	}
	logPath := filepath.Join(f.dir, sandboxLogFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return report(stdout, stderr, "sandbox", err)
	}
	cmd := exec.Command(exe, f.serveArgs(plan)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		os.RemoveAll(f.dir)
		return report(stdout, stderr, "sandbox", fmt.Errorf("starting the sandbox's server: %w", err))
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(sandboxStartTimeout + 10*time.Second)
	for {
		if m, err := sandbox.ReadManifest(f.dir); err == nil {
			f.printUp(stdout, m)
			return exitOK
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			fmt.Fprintf(stderr, "zdu sandbox: the sandbox did not start:\n%s", log)
			os.RemoveAll(f.dir)
			if c := cmd.ProcessState.ExitCode(); c > 0 {
				return c
			}
			return exitFatal
		case <-ctx.Done():
			fmt.Fprintln(stderr, "zdu sandbox: interrupted while the sandbox started; tearing it down")
			f.stopServer(cmd.Process.Pid, exited)
			return exitInterrupted
		case <-deadline:
			fmt.Fprintf(stderr, "zdu sandbox: the sandbox did not start within %v; see %s\n", sandboxStartTimeout, logPath)
			f.stopServer(cmd.Process.Pid, exited)
			return exitFatal
		case <-tick.C:
		}
	}
}

// stopServer ends a server that is starting (TERM, then KILL) and removes
// what it left.
func (f *sandboxFlags) stopServer(pid int, exited <-chan struct{}) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-exited
	}
	_ = sandbox.Reap(f.dir)
}

// claimDir makes the sandbox's directory: a new one, or one a dead
// sandbox left (removed first, and said so). A running sandbox or a
// directory that is not a sandbox's is refused.
func (f *sandboxFlags) claimDir(stderr io.Writer) error {
	ents, err := os.ReadDir(f.dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return badUsage("--dir %s: %v", f.dir, err)
	case sandbox.Owned(f.dir):
		m, _ := sandbox.ReadManifest(f.dir)
		return badUsage("a sandbox is already up in %s (pid %d): zdu sandbox down --dir %s first, or give another --dir", f.dir, m.PID, f.dir)
	case isSandboxDir(f.dir):
		if err := sandbox.Reap(f.dir); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "zdu sandbox: removed the sandbox left in %s by a server that died\n", f.dir)
	case len(ents) > 0:
		return badUsage("--dir %s exists and is not a sandbox's: give a new directory", f.dir)
	}
	return os.MkdirAll(f.dir, 0o700)
}

func isSandboxDir(dir string) bool {
	for _, name := range []string{sandbox.ManifestFile, "owner"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// serveArgs are up's flags, passed on to the server.
func (f *sandboxFlags) serveArgs(plan string) []string {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	args := []string{"sandbox", "serve", abs(plan), "--dir", f.dir, "--rate", strconv.FormatFloat(f.rate, 'g', -1, 64),
		"--startup", f.startup.String()}
	if f.inv != "" {
		args = append(args, "-i", abs(f.inv))
	}
	if f.nodes != 0 {
		args = append(args, "--nodes", strconv.Itoa(f.nodes))
	}
	for _, s := range f.sets {
		args = append(args, "--set", s)
	}
	for _, s := range f.fails {
		args = append(args, "--fail", s)
	}
	return args
}

func (f *sandboxFlags) printUp(w io.Writer, m sandbox.Manifest) {
	fmt.Fprintf(w, "sandbox up in %s (server pid %d): %s\n", m.Dir, m.PID, strings.Join(m.NodeNames(), ", "))
	if m.URL != "" {
		if m.Socket != "" {
			fmt.Fprintf(w, "  HAProxy (backend %s): %s/ ; admin socket %s\n", m.Backend, m.URL, m.Socket)
		} else {
			fmt.Fprintf(w, "  load balancer (backend %s): %s/\n", m.Backend, m.URL)
		}
	}
	if m.ProbeRate > 0 && m.URL != "" {
		fmt.Fprintf(w, "  availability probe: %g requests/s through the load balancer until zdu sandbox down\n", m.ProbeRate)
	}
	fmt.Fprintf(w, "  run a plan on it:  zdu run %s -i %s\n", m.Plan, m.Inventory)
	fmt.Fprintf(w, "  look at it:        zdu sandbox status --dir %s\n", m.Dir)
	fmt.Fprintf(w, "  tear it down:      zdu sandbox down --dir %s\n", m.Dir)
}

// serve is the sandbox's server: it builds the sandbox in --dir, probes it,
// writes the manifest, and keeps it up until SIGTERM or SIGINT (zdu sandbox
// down), then writes the probe's figures and tears the sandbox down.
func (f *sandboxFlags) serve(ctx context.Context, plan string, stderr io.Writer) int {
	cfg, _, code := f.shape(ctx, plan, stderr, stderr)
	if code != exitOK {
		return code
	}
	cfg.Dir = f.dir
	sctx, cancel := context.WithTimeout(ctx, sandboxStartTimeout)
	s, err := sandbox.Start(sctx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "zdu sandbox: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFatal
	}
	defer func() {
		if err := s.Close(); err != nil {
			fmt.Fprintf(stderr, "zdu sandbox: tearing the sandbox down: %v\n", err)
		}
	}()
	var p *probe.Probe
	if s.URL != "" && f.rate > 0 {
		if p, err = probe.Start(context.WithoutCancel(ctx), probe.Config{URL: s.URL + "/", Rate: f.rate}); err != nil {
			fmt.Fprintf(stderr, "zdu sandbox: %v\n", err)
			return exitFatal
		}
	}
	if err := sandbox.WriteManifest(s.Manifest(plan, f.rate)); err != nil {
		fmt.Fprintf(stderr, "zdu sandbox: %v\n", err)
		return exitFatal
	}
	fmt.Fprintf(stderr, "zdu sandbox: up (pid %d)\n", os.Getpid())
	<-ctx.Done()
	fmt.Fprintln(stderr, "zdu sandbox: going down")
	if p != nil {
		res := p.Stop()
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(filepath.Join(f.dir, sandboxProbeFile), append(b, '\n'), 0o600); err != nil {
			fmt.Fprintf(stderr, "zdu sandbox: %v\n", err)
		}
	}
	return exitOK
}

// sandboxReport is what status and down print as JSON.
type sandboxReport struct {
	Dir       string               `json:"dir"`
	PID       int                  `json:"pid"`
	Running   bool                 `json:"running"`
	URL       string               `json:"url,omitempty"`
	Inventory string               `json:"inventory"`
	Nodes     []sandbox.NodeStatus `json:"nodes"`
	Probe     *probe.Result        `json:"probe,omitempty"`
	Started   time.Time            `json:"started"`
	manifest  sandbox.Manifest
}

// running reads the manifest of the sandbox running in --dir.
func (f *sandboxFlags) running() (sandbox.Manifest, error) {
	m, err := sandbox.ReadManifest(f.dir)
	switch {
	case err != nil && !isSandboxDir(f.dir):
		return m, badUsage("no sandbox in %s (zdu sandbox up PLAN --dir %s makes one)", f.dir, f.dir)
	case err != nil || !sandbox.Owned(f.dir):
		return m, fmt.Errorf("the sandbox in %s is not running (its server died): zdu sandbox down --dir %s removes what it left", f.dir, f.dir)
	}
	return m, nil
}

func (f *sandboxFlags) status(ctx context.Context, stdout, stderr io.Writer) int {
	m, err := f.running()
	if err != nil {
		if errors.As(err, new(usageError)) {
			return report(stdout, stderr, "sandbox", err)
		}
		fmt.Fprintf(stderr, "zdu sandbox: %v\n", err)
		return exitcode.Failed
	}
	rep := sandboxReport{Dir: m.Dir, PID: m.PID, Running: true, URL: m.URL, Inventory: m.Inventory,
		Nodes: m.Observe(ctx), Started: m.Started, manifest: m}
	return f.print(stdout, rep, "up since "+m.Started.Format(time.RFC3339))
}

func (f *sandboxFlags) down(ctx context.Context, stdout, stderr io.Writer) int {
	m, err := f.running()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return report(stdout, stderr, "sandbox", err)
		}
		if err := sandbox.Reap(f.dir); err != nil {
			return report(stdout, stderr, "sandbox", err)
		}
		fmt.Fprintf(stdout, "sandbox %s: its server had died; removed what it left (no probe figures)\n", f.dir)
		return exitOK
	}
	rep := sandboxReport{Dir: m.Dir, PID: m.PID, URL: m.URL, Inventory: m.Inventory,
		Nodes: m.Observe(ctx), Started: m.Started, manifest: m}
	_ = syscall.Kill(m.PID, syscall.SIGTERM)
	gone := false
	for range 1200 { // a minute, for in-flight requests to end
		if !sandbox.Owned(f.dir) {
			gone = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !gone {
		_ = syscall.Kill(m.PID, syscall.SIGKILL)
		fmt.Fprintf(stderr, "zdu sandbox: the server (pid %d) did not stop within a minute; killed it\n", m.PID)
		for sandbox.Owned(f.dir) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if b, err := safefile.Read(filepath.Join(f.dir, sandboxProbeFile), 1<<20); err == nil {
		var res probe.Result
		if json.Unmarshal(b, &res) == nil {
			rep.Probe = &res
		}
	}
	if err := sandbox.Reap(f.dir); err != nil {
		fmt.Fprintf(stderr, "zdu sandbox: removing %s: %v\n", f.dir, err)
	}
	return f.print(stdout, rep, fmt.Sprintf("down after %s", time.Since(m.Started).Round(time.Second)))
}

func (f *sandboxFlags) print(w io.Writer, rep sandboxReport, when string) int {
	if f.format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return exitOK
	}
	fmt.Fprintf(w, "sandbox %s (pid %d), %s\n", rep.Dir, rep.PID, when)
	if rep.URL != "" {
		fmt.Fprintf(w, "load balancer frontend %s/, inventory %s\n", rep.URL, rep.Inventory)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSERVICE\tHAPROXY\tHOLDS")
	for _, n := range rep.Nodes {
		svc := "down"
		if n.Up {
			svc = n.Version
		}
		lb := "-"
		switch {
		case n.LBError != "":
			lb = "? " + n.LBError
		case n.LB != "":
			lb = fmt.Sprintf("%s (weight %d)", n.LB, n.Weight)
		}
		holds := make([]string, 0, len(n.Held))
		for _, h := range n.Held {
			if slices.Contains(n.Waiting, h) {
				h += " (waiting)"
			}
			holds = append(holds, h)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, svc, lb, strings.Join(holds, ", "))
	}
	tw.Flush()
	if rep.Probe != nil {
		fmt.Fprintf(w, "Availability probe (%s, %g requests/s), from up to down:\n    %s\n", rep.Probe.URL, rep.Probe.RateRPS, rep.Probe.Line())
	}
	return exitOK
}

// hold sets (or, for release, lifts) holds: NODE:STEP, the stand-in for
// STEP on NODE waits in its middle when called until released.
func (f *sandboxFlags) hold(action string, specs []string, stdout, stderr io.Writer) int {
	m, err := f.running()
	if err != nil {
		return report(stdout, stderr, "sandbox", badUsage("%v", err))
	}
	var done bytes.Buffer
	for _, spec := range specs {
		name, key, ok := strings.Cut(spec, ":")
		if !ok || name == "" || key == "" {
			return report(stdout, stderr, "sandbox", badUsage("%s %q: want NODE:STEP, e.g. node-1:restart", action, spec))
		}
		n, ok := m.Node(name)
		if !ok {
			return report(stdout, stderr, "sandbox", badUsage("%s %s: the sandbox has no node %q (it has %s)%s",
				action, spec, name, strings.Join(m.NodeNames(), ", "), didYouMean(name, m.NodeNames())))
		}
		l := sandbox.NewLayout(n.Root)
		if action == "hold" {
			err = sandbox.Hold(l, key)
		} else {
			err = sandbox.Release(l, key)
		}
		if err != nil {
			return report(stdout, stderr, "sandbox", badUsage("%s %s: %v", action, spec, err))
		}
		if action == "hold" {
			fmt.Fprintf(&done, "held %s on %s: its stand-in waits in its middle when called, until zdu sandbox release %s\n", key, name, spec)
		} else {
			fmt.Fprintf(&done, "released %s on %s\n", key, name)
		}
	}
	_, _ = stdout.Write(done.Bytes())
	return exitOK
}
