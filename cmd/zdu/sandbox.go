package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zdu-dev/zdu/engine/probe"
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
