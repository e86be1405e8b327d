package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/safefile"
	"github.com/zdu-dev/zdu/engine/sandbox"
)

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
