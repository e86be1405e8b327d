package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/sandbox"
)

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
