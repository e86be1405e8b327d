package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// A release build (.release/build.sh) stamps these with -ldflags -X: the
// version, and the VCS revision with its commit time and "true" when the
// tree had uncommitted changes. It builds with -buildvcs=false, so that a
// clone, a git worktree and an unpacked source tree give the same bytes.
// Without them, the module version and the VCS information go build
// stamped are shown.
var (
	version          string
	revision         string
	revisionTime     string
	revisionModified string
)

// buildVersion describes this binary: its version, the VCS revision it was
// built from (with "modified" when the tree had uncommitted changes) and
// the Go toolchain.
func buildVersion() string {
	v, rev, when, dirty := version, revision, revisionTime, revisionModified == "true"
	if bi, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok && v == "" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(unknown)"
	}
	out := "zdu " + v
	if rev != "" {
		out += " revision " + rev
		if when != "" {
			out += " " + when
		}
		if dirty && !strings.HasSuffix(v, "+dirty") {
			out += " (modified)"
		}
	} else {
		out += " (no VCS revision stamped: built outside a git checkout, or with -buildvcs=false)"
	}
	return fmt.Sprintf("%s %s %s/%s", out, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	args, err := parseInterleaved(fs, args)
	if err == nil && len(args) > 0 {
		err = badUsage("takes no arguments, got %q", args[0])
	}
	if err != nil {
		return report(stdout, stderr, "version", err)
	}
	fmt.Fprintln(stdout, buildVersion())
	return exitOK
}
